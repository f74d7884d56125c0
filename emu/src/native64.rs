//! Running a blob's `aarch64` or `riscv64gc` code section (Cranelift output for 64-bit hosts)
//! in the emulator, under the native ABI, through the runtime's own glue.
//!
//! The counterpart of [`crate::native::run_blob`] for [`Isa64`] cores, with the same memory
//! layout (see [`crate::native`]): every region is host memory from a `FixedArena` mapped
//! into Unicorn at its fixed test address, the code section at [`CODE_ADDR`] read+execute
//! only, the [`NativeFrame`](femtoc_runtime::native::NativeFrame) at [`crate::native::FRAME_ADDR`], a painted machine stack below
//! `layout::DATA_BASE`.
//!
//! The routine table holds trap addresses; each trap reads its arguments from x0..x4 /
//! a0..a4 (AAPCS64 / LP64D: every argument of these signatures is in a register), checks
//! the context pointer and `NativeContext::host` like the Thumb path, runs the runtime's
//! routine on the host and returns its value in x0 / a0. The 64-bit cores divide and
//! perform atomics themselves, so normally only `helper_call` is reached; the others are
//! served anyway, as the ABI offers them to every engine.
//!
//! Only instructions are counted: application cores have no cycle model here, so
//! [`EmuStats::cycles`] stays 0.

use femtoc_runtime::abi::RoutineTable;
use femtoc_runtime::engine::Features;
use femtoc_runtime::install::InstallError;
use femtoc_runtime::layout::{self, ArenaError};
use femtoc_runtime::native::routines;
use femtoc_runtime::Helpers;

use crate::harness::{self, page_round, Emulated, Failure, Guard, STACK_PAINT};
use crate::machine64::{Call64Result, Isa64, Machine64, Machine64Config, TrapValue};
use crate::{EmuError, EmuStats, NativeInput, NativeRun, Perms};

/// Where the code section is loaded.
pub const CODE_ADDR: u64 = crate::native::CODE_ADDR as u64;
/// Top of the machine stack (exclusive).
const MACHINE_STACK_TOP: u64 = layout::DATA_BASE;

/// Why [`run_blob64`] produced no run result (a stop of the program itself is
/// [`NativeRun::outcome`]).
#[derive(Debug, thiserror::Error)]
pub enum Emu64RunError {
    /// The device refused the blob.
    #[error("install refused the blob on {isa}: {source}")]
    Install {
        /// The core.
        isa: Isa64,
        /// Why.
        source: InstallError,
    },
    /// The input cannot be laid out.
    #[error("cannot lay out the container's memory: {0}")]
    Layout(#[from] ArenaError),
    /// The emulator could not be set up.
    #[error("setting up the {isa} emulator failed: {source}")]
    Setup {
        /// The core.
        isa: Isa64,
        /// Why.
        source: EmuError,
    },
    /// The emulator stopped the code: a fault of the code itself, an instruction the core
    /// lacks, the instruction limit, or an ABI violation seen by a routine.
    #[error("the emulator stopped the {isa} code: {source}")]
    Emulator {
        /// The core.
        isa: Isa64,
        /// What happened.
        source: EmuError,
    },
    /// The code used more machine stack than its code section declares.
    #[error(
        "the {isa} code used {used} bytes of machine stack, its code section declares {declared}"
    )]
    MachineStack {
        /// The core.
        isa: Isa64,
        /// Bytes used.
        used: u32,
        /// Bytes declared in the blob.
        declared: u32,
    },
}

impl Emu64RunError {
    /// The error for `failure` of a run on `isa`.
    fn on(isa: Isa64, failure: Failure) -> Self {
        match failure {
            Failure::Install(source) => Emu64RunError::Install { isa, source },
            Failure::Layout(e) => Emu64RunError::Layout(e),
            Failure::Setup(source) => Emu64RunError::Setup { isa, source },
            Failure::Emulator(source) => Emu64RunError::Emulator { isa, source },
            Failure::MachineStack { used, declared } => {
                Emu64RunError::MachineStack { isa, used, declared }
            }
        }
    }
}

/// What a 64-bit host offers: hardware division and unaligned access everywhere (Linux
/// guarantees the latter on RV64), compressed instructions and atomics on RV64GC.
pub fn device_features64(isa: Isa64) -> Features {
    let base = Features::HW_DIVIDE | Features::UNALIGNED_ACCESS;
    match isa {
        Isa64::Aarch64 => base,
        Isa64::Riscv64gc => base | Features::COMPRESSED | Features::ATOMIC_EXT,
    }
}

/// Installs `blob` on a device with `isa` and runs it once with `input`: natively in the
/// emulator if install picks the core's code section, else by interpreting the bytecode on
/// the host (same layout, same helpers). Data regions start from the blob's images.
pub fn run_blob64(
    isa: Isa64,
    blob: &[u8],
    input: &NativeInput<'_>,
    helpers: &mut dyn Helpers,
) -> Result<NativeRun, Emu64RunError> {
    harness::run(isa.engine(), device_features64(isa), blob, input, helpers, |code, stack| {
        native_machine(isa, input, code, stack)
    })
    .map_err(|failure| Emu64RunError::on(isa, failure))
}

impl Emulated for Machine64 {
    type Call = Call64Result;

    unsafe fn map_host(
        &mut self,
        addr: u64,
        size: u32,
        perms: Perms,
        host: *mut u8,
    ) -> Result<(), EmuError> {
        // SAFETY: the caller's guarantee, passed on.
        unsafe { Machine64::map_host(self, addr, size.into(), perms, host) }
    }

    fn install_routines(&mut self, guard: &Guard) -> Result<RoutineTable, EmuError> {
        install_routines(self, guard)
    }

    fn call_entry(&mut self, entry: u32, frame: u32) -> Result<Call64Result, EmuError> {
        self.call(CODE_ADDR + u64::from(entry), &[frame.into()])
    }

    fn status(call: &Call64Result) -> u32 {
        // The status is a uint32_t: the low half of x0 / a0.
        call.ret as u32
    }

    fn stats(call: &Call64Result, machine_stack_used: u32) -> EmuStats {
        EmuStats { insns: call.insns, cycles: 0, trap_calls: call.trap_calls, machine_stack_used }
    }

    fn machine_stack(&self) -> Result<Vec<u8>, EmuError> {
        let config = self.config();
        self.read_vec(config.stack_base, config.stack_size as usize)
    }
}

/// A machine for `isa` with the code at [`CODE_ADDR`] (read and execute only) and a painted
/// machine stack of the declared size rounded up to pages, ending at `layout::DATA_BASE`.
fn native_machine(
    isa: Isa64,
    input: &NativeInput<'_>,
    code: &[u8],
    machine_stack: u32,
) -> Result<Machine64, EmuError> {
    let stack_size = u64::from(page_round(machine_stack as usize));
    let config = Machine64Config {
        stack_base: MACHINE_STACK_TOP - stack_size,
        stack_size,
        max_insns: input.max_insns,
        ..Machine64Config::default()
    };
    let mut machine = Machine64::new(isa, config)?;
    machine.map(CODE_ADDR, page_round(code.len()).into(), Perms::RX, code)?;
    machine.write(config.stack_base, &vec![STACK_PAINT; stack_size as usize])?;
    Ok(machine)
}

fn div_trap(
    machine: &mut Machine64,
    slot: u64,
    f: extern "C" fn(u64, u64) -> u64,
) -> Result<u64, EmuError> {
    let addr = machine.trap_slot(slot);
    machine.add_trap(addr, move |a| Ok(TrapValue::U64(f(a[0], a[1]))))
}

/// Installs one trap per routine and returns the table the code receives. 32-bit
/// arguments are taken from the low half of their register (LP64 sign-extends them).
fn install_routines(machine: &mut Machine64, guard: &Guard) -> Result<RoutineTable, EmuError> {
    let g = guard.clone();
    let helper_call = machine.add_trap(machine.trap_slot(0), move |a| {
        let ctx = g.context(a[0])?;
        // SAFETY: `ctx` is the run's frame with the runtime's own `host` pointer (checked),
        // and `run_native` keeps that HostState alive while the code runs.
        Ok(TrapValue::U32(unsafe { routines::helper_call(ctx) }))
    })?;

    let g = guard.clone();
    let access_check = machine.add_trap(machine.trap_slot(1), move |a| {
        let ctx = g.context(a[0])?;
        // SAFETY: as for helper_call; the check itself only reads the region table.
        let verdict = unsafe { routines::access_check(ctx, a[1] as u32, a[2]) };
        Ok(TrapValue::U32(verdict))
    })?;

    let udiv64 = div_trap(machine, 2, routines::udiv64)?;
    let sdiv64 = div_trap(machine, 3, routines::sdiv64)?;
    let umod64 = div_trap(machine, 4, routines::umod64)?;
    let smod64 = div_trap(machine, 5, routines::smod64)?;

    let g = guard.clone();
    let atomic64 = machine.add_trap(machine.trap_slot(6), move |a| {
        let ctx = g.context(a[0])?;
        g.atomic_target(a[2])?;
        // SAFETY: the address is 8-aligned and inside a writable region of this run, all of
        // which are host memory mapped for the whole run.
        let old = unsafe { routines::atomic64(ctx, a[1] as u32, a[2], a[3], a[4]) };
        Ok(TrapValue::U64(old))
    })?;

    // 64-bit code compares against the region table itself; the window
    // routine belongs to 32-bit targets, so a call here is an ABI violation.
    let fill_window = machine.add_trap(machine.trap_slot(7), |_| {
        Err("ABI violation: fill_window is a routine for 32-bit targets".into())
    })?;

    Ok(RoutineTable {
        helper_call,
        access_check,
        udiv64,
        sdiv64,
        umod64,
        smod64,
        atomic64,
        fill_window,
    })
}
