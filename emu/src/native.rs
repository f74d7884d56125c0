//! Running a blob's code section under the native ABI, through the runtime's own glue.
//!
//! [`run_blob`] installs a blob with `femtoc_runtime::install::install` for the device a
//! [`Core`] models, lays the container's memory out at the fixed test addresses
//! (`femtoc_runtime::layout`), and runs it with `femtoc_runtime::native::run_native`: the
//! same frame preparation, stop-record decoding and routines a device uses. Only the call
//! into the code differs: it goes through the emulator ([`EmuCaller`]).
//!
//! # Shared memory
//!
//! Every region lives in a `FixedArena` on the host *and* is mapped into Unicorn at the same
//! address with [`Machine::map_host`], so the runtime's routines and the host's helpers,
//! running on the host during a trap, see exactly the bytes the emulated code sees:
//!
//! | what | address | emulated permissions |
//! |---|---|---|
//! | code section | [`CODE_ADDR`] (Cortex-M Code region) | read, execute |
//! | eBPF stack | `layout::STACK_BASE` | read, write |
//! | context | `layout::CONTEXT_BASE` | read (and write if the input says so) |
//! | data region i | `layout::data_addr(i)` | read (and write unless `.rodata`) |
//! | [`NativeFrame`](femtoc_runtime::native::NativeFrame) | [`FRAME_ADDR`] (arena host slot 0) | read, write |
//! | machine stack | just below `layout::DATA_BASE` | read, write |
//!
//! Mappings are page-granular, so the emulated code may touch the tail of a region's last
//! page without an emulator fault; the region table, not the mapping, is the sandbox.
//!
//! # Routines as traps
//!
//! The routine table holds trap addresses. Each trap reads its arguments as the core's C ABI
//! passes them (see [`arg_words`]), checks that the context pointer is the run's frame and
//! that the code left `NativeContext::host` alone, calls the runtime's routine function on
//! the host, writes the result to r0(:r1) / a0(:a1), and charges a fixed cycle cost, an
//! estimate of what the routine costs on the device beyond the call itself:
//!
//! | routine | cycles | why |
//! |---|---|---|
//! | `helper_call` | [`cost::HELPER_CALL`] | read the id, search the helper table, indirect call (the helper's own work is not counted) |
//! | `access_check` | [`cost::ACCESS_CHECK_BASE`] + [`cost::ACCESS_CHECK_PER_REGION`] per region | a compare-and-branch scan of the region table |
//! | `udiv64`, `umod64` | [`cost::DIV64`] | a shift-subtract 64-bit division in software |
//! | `sdiv64`, `smod64` | [`cost::DIV64`] + [`cost::SIGNED_EXTRA`] | the same with sign fix-ups |
//! | `atomic64` | [`cost::ATOMIC64`] | mask interrupts, two loads, the operation, two stores, unmask |
//! | `fill_window` | [`cost::FILL_WINDOW`] (+ [`cost::ACCESS_CHECK_PER_REGION`] per region for a data region's search) | find the entry, test it, compute and store eight words |
//!
//! A routine called with another context pointer, after the code overwrote `host`, or (for
//! `atomic64`) on an address outside every writable region or not 8-aligned, or (for
//! `fill_window`) with a window outside the caller's part of the machine stack, stops the run
//! with an emulator error: the host must never act on an address the code was not allowed
//! to hand it.

use femtoc_runtime::abi::{window, NativeContext, RoutineTable};
use femtoc_runtime::engine::{Engine, Features};
use femtoc_runtime::install::{ExecMode, InstallError};
use femtoc_runtime::layout::{self, ArenaError};
use femtoc_runtime::native::routines;
use femtoc_runtime::{Helpers, RunError, RunOutcome};

use crate::harness::{self, page_round, Caller, Emulated, Failure, Guard, STACK_PAINT};
use crate::{CallResult, Core, EmuError, Machine, MachineConfig, Perms, TrapContext};

/// Where the code section is loaded: the Cortex-M Code region, executable on every core.
pub const CODE_ADDR: u32 = 0x0800_0000;
/// Where the [`NativeFrame`](femtoc_runtime::native::NativeFrame) lives: host slot 0 of the fixed layout (data access only, which
/// the Cortex-M memory map allows there).
pub const FRAME_ADDR: u64 = layout::host_addr(0);
/// Top of the machine stack (exclusive); the stack grows down from here.
const MACHINE_STACK_TOP: u32 = layout::DATA_BASE as u32;

/// Cycle costs charged for the runtime routines (see the module documentation).
pub mod cost {
    /// `helper_call`, excluding the helper itself.
    pub const HELPER_CALL: u64 = 30;
    /// `access_check`, fixed part.
    pub const ACCESS_CHECK_BASE: u64 = 10;
    /// `access_check`, per region in the table.
    pub const ACCESS_CHECK_PER_REGION: u64 = 5;
    /// `udiv64` and `umod64`.
    pub const DIV64: u64 = 120;
    /// Extra for the signed forms.
    pub const SIGNED_EXTRA: u64 = 10;
    /// `atomic64`.
    pub const ATOMIC64: u64 = 14;
    /// `fill_window`, fixed part.
    pub const FILL_WINDOW: u64 = 40;
}

/// What a run gets besides the blob and the helpers.
#[derive(Clone, Debug)]
pub struct NativeInput<'a> {
    /// Context bytes, copied to `layout::CONTEXT_BASE` (`None`: no context, r1 = r2 = 0;
    /// an empty slice is a context of length 0, so r1 = `CONTEXT_BASE`, as in every harness).
    pub context: Option<&'a [u8]>,
    /// Whether the container may write its context.
    pub context_writable: bool,
    /// Budget events allowed (`None`: unlimited).
    pub budget: Option<u64>,
    /// eBPF stack bytes the device gives a container.
    pub stack_size: u32,
    /// Features the device offers (`None`: [`device_features`] of the core).
    pub features: Option<Features>,
    /// Emulated instructions allowed before the run fails.
    pub max_insns: u64,
}

impl Default for NativeInput<'_> {
    fn default() -> Self {
        NativeInput {
            context: None,
            context_writable: true,
            budget: None,
            stack_size: 512,
            features: None,
            max_insns: 10_000_000,
        }
    }
}

/// What the emulator measured in a native run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmuStats {
    /// Emulated instructions of the code (routines run on the host and are not counted).
    pub insns: u64,
    /// Estimated cycles, routine costs included.
    pub cycles: u64,
    /// Routine calls.
    pub trap_calls: u64,
    /// Deepest machine-stack use in bytes.
    pub machine_stack_used: u32,
}

/// The result of [`run_blob`]: what the engine-independent comparison looks at, plus
/// the emulator's measurements.
#[derive(Clone, Debug)]
pub struct NativeRun {
    /// How install decided to run the blob.
    pub mode: ExecMode,
    /// r0 and budget used, or the stop with its eBPF pc.
    pub outcome: Result<RunOutcome, RunError>,
    /// Emulator measurements; `None` when the bytecode was interpreted on the host or the
    /// runtime refused the run before calling the code.
    pub stats: Option<EmuStats>,
    /// The context the native code left (its stop record, `budget_left` included); `None`
    /// when interpreted.
    pub final_ctx: Option<NativeContext>,
    /// Final eBPF stack contents.
    pub stack: Vec<u8>,
    /// Final context contents (empty without a context).
    pub context: Vec<u8>,
    /// Final contents of each data region, by index.
    pub data: Vec<Vec<u8>>,
}

/// Why [`run_blob`] produced no run result. A stop of the program itself (fault, budget,
/// helper) is not an error here: it is [`NativeRun::outcome`].
#[derive(Debug, thiserror::Error)]
pub enum EmuRunError {
    /// The device refused the blob.
    #[error("install refused the blob on {core}: {source}")]
    Install {
        /// The core.
        core: Core,
        /// Why.
        source: InstallError,
    },
    /// The input cannot be laid out (a region larger than its slot, the address taken).
    #[error("cannot lay out the container's memory: {0}")]
    Layout(#[from] ArenaError),
    /// The emulator could not be set up.
    #[error("setting up the {core} emulator failed: {source}")]
    Setup {
        /// The core.
        core: Core,
        /// Why.
        source: EmuError,
    },
    /// The emulator stopped the code: a fault of the code itself, an instruction the
    /// silicon would refuse, the instruction limit, or an ABI violation seen by a routine.
    #[error("the emulator stopped the {core} code: {source}")]
    Emulator {
        /// The core.
        core: Core,
        /// What happened.
        source: EmuError,
    },
    /// The code used more machine stack than its code section declares.
    #[error(
        "the {core} code used {used} bytes of machine stack, its code section declares {declared}"
    )]
    MachineStack {
        /// The core.
        core: Core,
        /// Bytes used.
        used: u32,
        /// Bytes declared in the blob.
        declared: u32,
    },
}

impl EmuRunError {
    /// The error for `failure` of a run on `core`.
    fn on(core: Core, failure: Failure) -> Self {
        match failure {
            Failure::Install(source) => EmuRunError::Install { core, source },
            Failure::Layout(e) => EmuRunError::Layout(e),
            Failure::Setup(source) => EmuRunError::Setup { core, source },
            Failure::Emulator(source) => EmuRunError::Emulator { core, source },
            Failure::MachineStack { used, declared } => {
                EmuRunError::MachineStack { core, used, declared }
            }
        }
    }
}

/// The femtoc engine whose code `core` runs.
pub fn engine_of(core: Core) -> Engine {
    match core {
        Core::CortexM3 => Engine::Thumbv7m,
        Core::CortexM4 => Engine::Thumbv7em,
        Core::Rv32imc => Engine::Riscv32imc,
        Core::Rv32imac => Engine::Riscv32imac,
    }
}

/// The features a device with `core` offers: hardware division everywhere; unaligned
/// LDR/STR on Arm (CCR.UNALIGN_TRP clear); DSP on the Cortex-M4; the C extension on RV32,
/// and the A extension on RV32IMAC. Misaligned RV32 accesses trap, so not
/// `UNALIGNED_ACCESS` there.
pub fn device_features(core: Core) -> Features {
    match core {
        Core::CortexM3 => Features::HW_DIVIDE | Features::UNALIGNED_ACCESS,
        Core::CortexM4 => Features::HW_DIVIDE | Features::UNALIGNED_ACCESS | Features::DSP,
        Core::Rv32imc => Features::HW_DIVIDE | Features::COMPRESSED,
        Core::Rv32imac => Features::HW_DIVIDE | Features::COMPRESSED | Features::ATOMIC_EXT,
    }
}

/// Where one 32-bit word of a call's arguments is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgWord {
    /// In general register `n` (r0..r3 on Arm, x10..x17 on RISC-V).
    Reg(u8),
    /// On the stack at `sp + offset`.
    Stack(u32),
}

/// Where the words of each argument go, for arguments of `sizes` bytes (4 or 8), under the
/// core's C ABI. AAPCS: a 64-bit value takes an even register pair (skipping an odd
/// register), or 8-aligned stack once the registers cannot hold it, after which every
/// argument goes to the stack. RISC-V ILP32: a 64-bit value takes the next two registers
/// with no alignment; if only a7 is left, its high word goes to the stack; past a7,
/// 64-bit values are 8-aligned on the stack. Low word first.
pub fn arg_words(core: Core, sizes: &[u32]) -> Vec<Vec<ArgWord>> {
    let regs: u8 = if core.is_arm() { 4 } else { 8 };
    let first: u8 = if core.is_arm() { 0 } else { 10 };
    let mut next = 0u8;
    let mut stack = 0u32;
    let mut out = Vec::with_capacity(sizes.len());
    for &size in sizes {
        let wide = size > 4;
        let mut words = Vec::with_capacity(2);
        if wide && core.is_arm() && next % 2 == 1 {
            next += 1;
        }
        let needed = if wide { 2 } else { 1 };
        if next + needed <= regs {
            for i in 0..needed {
                words.push(ArgWord::Reg(first + next + i));
            }
            next += needed;
        } else if wide && !core.is_arm() && next + 1 == regs {
            words.push(ArgWord::Reg(first + next));
            words.push(ArgWord::Stack(stack));
            next = regs;
            stack += 4;
        } else {
            next = regs;
            if wide {
                stack = stack.next_multiple_of(8);
            }
            for _ in 0..needed {
                words.push(ArgWord::Stack(stack));
                stack += 4;
            }
        }
        out.push(words);
    }
    out
}

/// Reads the arguments of a trapped call, each as a `u64`.
fn read_args(t: &TrapContext<'_>, sizes: &[u32]) -> Result<Vec<u64>, EmuError> {
    let sp = t.reg(t.core().sp_reg())?;
    let word = |w: ArgWord| match w {
        ArgWord::Reg(n) => t.reg(n),
        ArgWord::Stack(off) => t.read_u32(u64::from(sp) + u64::from(off)),
    };
    arg_words(t.core(), sizes)
        .into_iter()
        .map(|words| {
            let mut value = 0u64;
            for (i, w) in words.into_iter().enumerate() {
                value |= u64::from(word(w)?) << (32 * i);
            }
            Ok(value)
        })
        .collect()
}

fn div_trap(
    machine: &mut Machine,
    addr: u32,
    f: extern "C" fn(u64, u64) -> u64,
    cycles: u64,
) -> Result<u64, EmuError> {
    machine
        .add_trap(addr, move |t| {
            let a = read_args(t, &[8, 8])?;
            let (x, y) = (a.first().copied().unwrap_or(0), a.get(1).copied().unwrap_or(0));
            t.set_ret64(f(x, y))?;
            t.add_cycles(cycles);
            Ok(())
        })
        .map(u64::from)
}

/// Installs one trap per routine and returns the table the code receives.
fn install_routines(machine: &mut Machine, guard: &Guard) -> Result<RoutineTable, EmuError> {
    let base = machine.trap_page().0;
    let slot = |i: u32| base + 0x10 * (i + 1);

    let g = guard.clone();
    let helper_call = machine.add_trap(slot(0), move |t| {
        let ctx = g.context(u64::from(t.arg(0)?))?;
        // SAFETY: `ctx` is the run's frame with the runtime's own `host` pointer (checked),
        // and `run_native` keeps that HostState alive while the code runs.
        let status = unsafe { routines::helper_call(ctx) };
        t.set_ret(status)?;
        t.add_cycles(cost::HELPER_CALL);
        Ok(())
    })?;

    let g = guard.clone();
    let access_check = machine.add_trap(slot(1), move |t| {
        let a = read_args(t, &[4, 4, 8])?;
        let arg = |i: usize| a.get(i).copied().unwrap_or(0);
        let ctx = g.context(arg(0))?;
        // SAFETY: as for helper_call; the check itself only reads the region table.
        let verdict = unsafe { routines::access_check(ctx, arg(1) as u32, arg(2)) };
        t.set_ret(verdict)?;
        t.add_cycles(cost::ACCESS_CHECK_BASE + cost::ACCESS_CHECK_PER_REGION * g.regions);
        Ok(())
    })?;

    let udiv64 = div_trap(machine, slot(2), routines::udiv64, cost::DIV64)?;
    let sdiv64 = div_trap(machine, slot(3), routines::sdiv64, cost::DIV64 + cost::SIGNED_EXTRA)?;
    let umod64 = div_trap(machine, slot(4), routines::umod64, cost::DIV64)?;
    let smod64 = div_trap(machine, slot(5), routines::smod64, cost::DIV64 + cost::SIGNED_EXTRA)?;

    let g = guard.clone();
    let atomic64 = machine.add_trap(slot(6), move |t| {
        let a = read_args(t, &[4, 4, 8, 8, 8])?;
        let arg = |i: usize| a.get(i).copied().unwrap_or(0);
        let ctx = g.context(arg(0))?;
        g.atomic_target(arg(2))?;
        // SAFETY: the address is 8-aligned and inside a writable region of this run, all of
        // which are host memory mapped for the whole run.
        let old = unsafe { routines::atomic64(ctx, arg(1) as u32, arg(2), arg(3), arg(4)) };
        t.set_ret64(old)?;
        t.add_cycles(cost::ATOMIC64);
        Ok(())
    })?;

    let g = guard.clone();
    let fill_window = machine.add_trap(slot(7), move |t| {
        let a = read_args(t, &[4, 4, 4])?;
        let arg = |i: usize| a.get(i).copied().unwrap_or(0);
        let ctx = g.context(arg(0))?;
        let (window, desc) = (arg(1), arg(2) as u32);
        let sp = u64::from(t.reg(t.core().sp_reg())?);
        let bytes = 4 * window::WORDS as u64;
        if window < sp || window + bytes > u64::from(MACHINE_STACK_TOP) || window % 4 != 0 {
            return Err(format!(
                "ABI violation: fill_window into {window:#x}, not aligned words of the caller's frame (sp {sp:#x})"
            )
            .into());
        }
        // SAFETY: `ctx` is the run's frame (checked), whose tables `prepare` filled.
        let region = unsafe { routines::window_region(&*ctx, desc) };
        let words = window::words(region, desc);
        let mut out = [0u8; 4 * window::WORDS];
        for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        t.write(window, &out)?;
        t.set_ret(arg(0) as u32)?;
        let search = if desc & window::DATA != 0 { g.regions } else { 0 };
        t.add_cycles(cost::FILL_WINDOW + cost::ACCESS_CHECK_PER_REGION * search);
        Ok(())
    })?;

    Ok(RoutineTable {
        fill_window: fill_window.into(),
        helper_call: helper_call.into(),
        access_check: access_check.into(),
        udiv64,
        sdiv64,
        umod64,
        smod64,
        atomic64: atomic64.into(),
    })
}

/// Calls the code's entry in the emulator. An emulator error is kept here (the runtime only
/// sees an `InvalidProgram` stop) so that [`run_blob`] can report it as what it is.
pub type EmuCaller<'m> = Caller<'m, Machine>;

/// The stop `EmuCaller` reports to the runtime when the emulator, not the program, ended
/// the run.
pub const EMULATOR_STOPPED: &str = "emulator stopped the native code (see EmuRunError)";

impl Emulated for Machine {
    type Call = CallResult;

    unsafe fn map_host(
        &mut self,
        addr: u64,
        size: u32,
        perms: Perms,
        host: *mut u8,
    ) -> Result<(), EmuError> {
        // SAFETY: the caller's guarantee, passed on.
        unsafe { Machine::map_host(self, addr as u32, size, perms, host) }
    }

    fn install_routines(&mut self, guard: &Guard) -> Result<RoutineTable, EmuError> {
        install_routines(self, guard)
    }

    fn call_entry(&mut self, entry: u32, frame: u32) -> Result<CallResult, EmuError> {
        self.call(CODE_ADDR + entry, &[frame])
    }

    fn status(call: &CallResult) -> u32 {
        // The status is a uint32_t: r0 / a0 alone.
        call.ret as u32
    }

    fn stats(call: &CallResult, machine_stack_used: u32) -> EmuStats {
        EmuStats {
            insns: call.insns,
            cycles: call.cycles,
            trap_calls: call.trap_calls,
            machine_stack_used,
        }
    }

    fn machine_stack(&self) -> Result<Vec<u8>, EmuError> {
        let config = self.config();
        self.read_vec(config.stack_base, config.stack_size as usize)
    }
}

/// Installs `blob` on a device with `core` and runs it once with `input`: natively in the
/// emulator if install picks the core's code section, else by interpreting the bytecode on
/// the host (same layout, same helpers). Data regions start from the blob's images.
pub fn run_blob(
    core: Core,
    blob: &[u8],
    input: &NativeInput<'_>,
    helpers: &mut dyn Helpers,
) -> Result<NativeRun, EmuRunError> {
    harness::run(engine_of(core), device_features(core), blob, input, helpers, |code, stack| {
        native_machine(core, input, code, stack)
    })
    .map_err(|failure| EmuRunError::on(core, failure))
}

/// A machine for `core` with the code at [`CODE_ADDR`] and a painted machine stack of the
/// declared size rounded up to pages, ending at [`MACHINE_STACK_TOP`].
fn native_machine(
    core: Core,
    input: &NativeInput<'_>,
    code: &[u8],
    machine_stack: u32,
) -> Result<Machine, EmuError> {
    let stack_size = page_round(machine_stack as usize);
    let config = MachineConfig {
        stack_base: MACHINE_STACK_TOP - stack_size,
        stack_size,
        max_insns: input.max_insns,
        ..MachineConfig::default()
    };
    let mut machine = Machine::with_config(core, config)?;
    machine.map(CODE_ADDR, page_round(code.len()), Perms::RX, code)?;
    machine.write(config.stack_base, &vec![STACK_PAINT; stack_size as usize])?;
    Ok(machine)
}

#[cfg(test)]
mod tests {
    use super::*;

    use ArgWord::{Reg, Stack};

    #[test]
    fn access_check_arguments_follow_each_abi() {
        let arm = arg_words(Core::CortexM3, &[4, 4, 8]);
        assert_eq!(arm, vec![vec![Reg(0)], vec![Reg(1)], vec![Reg(2), Reg(3)]]);
        let rv = arg_words(Core::Rv32imc, &[4, 4, 8]);
        assert_eq!(rv, vec![vec![Reg(10)], vec![Reg(11)], vec![Reg(12), Reg(13)]]);
    }

    #[test]
    fn atomic64_arguments_follow_each_abi() {
        let arm = arg_words(Core::CortexM4, &[4, 4, 8, 8, 8]);
        assert_eq!(
            arm,
            vec![
                vec![Reg(0)],
                vec![Reg(1)],
                vec![Reg(2), Reg(3)],
                vec![Stack(0), Stack(4)],
                vec![Stack(8), Stack(12)]
            ]
        );
        let rv = arg_words(Core::Rv32imac, &[4, 4, 8, 8, 8]);
        assert_eq!(
            rv,
            vec![
                vec![Reg(10)],
                vec![Reg(11)],
                vec![Reg(12), Reg(13)],
                vec![Reg(14), Reg(15)],
                vec![Reg(16), Reg(17)]
            ]
        );
    }

    #[test]
    fn arm_stacks_everything_after_a_pair_that_does_not_fit() {
        // r0, then r1 is skipped for the pair r2:r3; the next pair and the word after it
        // go to the stack (8-aligned), never back to a register.
        let arm = arg_words(Core::CortexM3, &[4, 8, 8, 4]);
        assert_eq!(
            arm,
            vec![vec![Reg(0)], vec![Reg(2), Reg(3)], vec![Stack(0), Stack(4)], vec![Stack(8)]]
        );
        let arm = arg_words(Core::CortexM3, &[4, 4, 4, 8]);
        assert_eq!(arm, vec![vec![Reg(0)], vec![Reg(1)], vec![Reg(2)], vec![Stack(0), Stack(4)]]);
    }

    #[test]
    fn rv32_splits_a_pair_across_a7_and_the_stack() {
        let rv = arg_words(Core::Rv32imc, &[4, 4, 4, 4, 4, 4, 4, 8, 8]);
        assert_eq!(rv.get(7), Some(&vec![Reg(17), Stack(0)]));
        assert_eq!(rv.get(8), Some(&vec![Stack(8), Stack(12)]));
    }
}
