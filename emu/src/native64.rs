//! Running a blob's `aarch64` or `riscv64gc` code section (Cranelift output for 64-bit hosts)
//! in the emulator, under the native ABI, through the runtime's own glue.
//!
//! The counterpart of [`crate::native::run_blob`] for [`Isa64`] cores, with the same memory
//! layout (see [`crate::native`]): every region is host memory from a `FixedArena` mapped
//! into Unicorn at its fixed test address, the code section at [`CODE_ADDR`] read+execute
//! only, the [`NativeFrame`] at [`crate::native::FRAME_ADDR`], a painted machine stack below
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

use std::cell::Cell;
use std::rc::Rc;

use femtoc_isa::{scratch_len, FunctionInfo, SlotScratch};
use femtoc_runtime::abi::{NativeContext, RoutineTable};
use femtoc_runtime::blob::{Blob, RegionKind as BlobRegionKind};
use femtoc_runtime::engine::Features;
use femtoc_runtime::install::{install, DeviceProfile, InstallError, RunPlan};
use femtoc_runtime::layout::{self, ArenaError, ArenaSpec, FixedArena};
use femtoc_runtime::native::{routines, run_native, NativeCaller, NativeFrame};
use femtoc_runtime::{
    Access, Helpers, MemRegion, RegionKind, Regions, RunArgs, RunError, RunErrorKind,
};

use crate::machine64::{Call64Result, Isa64, Machine64, Machine64Config, TrapValue};
use crate::native::{
    frame_address, kind, page_round, push, AlignedBlob, Guard, EMULATOR_STOPPED, STACK_PAINT,
};
use crate::{EmuError, EmuRunError, EmuStats, NativeInput, NativeRun, Perms};

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

/// The shared region-table helpers only fail with a layout error.
fn push_error(e: EmuRunError) -> Emu64RunError {
    match e {
        EmuRunError::Layout(a) => Emu64RunError::Layout(a),
        other => Emu64RunError::Layout(ArenaError::Map {
            addr: 0,
            len: 0,
            source: std::io::Error::other(other.to_string()),
        }),
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
    let aligned = AlignedBlob::new(blob);
    let bytes = aligned.bytes();
    let provided: Vec<u32> = Blob::parse(bytes)
        .map(|b| b.helpers().filter(|&id| helpers.provides(id)).collect())
        .unwrap_or_default();
    let device = DeviceProfile {
        engine: isa.engine(),
        features: input.features.unwrap_or(device_features64(isa)),
        helpers: &provided,
        stack_size: input.stack_size,
        public_key: None,
    };
    let slots = (bytes.len() / 8).min(femtoc_isa::MAX_INSNS);
    let mut scratch = vec![SlotScratch::EMPTY; scratch_len(slots)];
    let mut functions = vec![FunctionInfo::default(); slots + 1];
    let installed = install(bytes, &device, &mut scratch, &mut functions)
        .map_err(|source| Emu64RunError::Install { isa, source })?;

    let has_context = input.context.is_some();
    let context = input.context.unwrap_or(&[]);
    let data: Vec<_> = installed.blob.data_regions().collect();
    let native = matches!(installed.plan, RunPlan::Native { .. });
    let spec = ArenaSpec {
        stack: input.stack_size as usize,
        context: context.len(),
        data: data.iter().map(|d| d.size as usize).collect(),
        host: if native { vec![core::mem::size_of::<NativeFrame>()] } else { vec![] },
    };
    let mut arena = FixedArena::new(&spec)?;
    let args = RunArgs {
        r1: if has_context { layout::CONTEXT_BASE } else { 0 },
        r2: context.len() as u64,
        budget: input.budget,
    };
    let setup = |source| Emu64RunError::Setup { isa, source };

    let (outcome, stats, final_ctx) = {
        let slices = arena.slices();
        slices.context.copy_from_slice(context);
        let mut regions = Regions::new(slices.stack);
        let mut maps = vec![(layout::STACK_BASE, input.stack_size as usize, Perms::RW)];
        if has_context {
            let region = if input.context_writable {
                MemRegion::read_write(RegionKind::Context, slices.context)
            } else {
                MemRegion::read_only(RegionKind::Context, slices.context)
            };
            push(&mut regions, region, false).map_err(push_error)?;
            let perms = if input.context_writable { Perms::RW } else { Perms::R };
            if !context.is_empty() {
                maps.push((layout::CONTEXT_BASE, context.len(), perms));
            }
        }
        for (i, (region, slice)) in data.iter().zip(slices.data).enumerate() {
            let addr = layout::data_addr(i);
            if let Some(image) = slice.get_mut(..region.image.len()) {
                image.copy_from_slice(region.image);
            }
            let writable = region.kind != BlobRegionKind::ReadOnly;
            let mem = if slice.is_empty() {
                // SAFETY: a zero-length region at its fixed address: nothing can be accessed.
                unsafe {
                    MemRegion::from_raw_parts(
                        addr as usize as *mut u8,
                        0,
                        Access::Read,
                        kind(writable),
                    )
                }
            } else if writable {
                MemRegion::read_write(kind(writable), slice)
            } else {
                MemRegion::read_only(kind(writable), slice)
            };
            push(&mut regions, mem, true).map_err(push_error)?;
            maps.push((addr, region.size as usize, if writable { Perms::RW } else { Perms::R }));
        }

        match installed.plan {
            RunPlan::Interpret(verified) => {
                (femtoc_runtime::interp::run(&verified, &regions, args, helpers), None, None)
            }
            RunPlan::Native { code, program } => {
                let frame_slice = slices.host.into_iter().next().unwrap_or_default();
                let mut machine =
                    native_machine(isa, input, code.code, code.machine_stack).map_err(setup)?;
                for &(addr, len, perms) in maps.iter().filter(|m| m.1 > 0) {
                    // SAFETY: the arena maps these page-rounded ranges at these addresses
                    // until it is dropped, after the machine (dropped at the end of this arm).
                    unsafe {
                        machine.map_host(
                            addr,
                            page_round(len).into(),
                            perms,
                            addr as usize as *mut u8,
                        )
                    }
                    .map_err(setup)?;
                }
                let frame_addr = frame_address(frame_slice).map_err(setup)?;
                // SAFETY: as above, for the frame's slot.
                unsafe {
                    machine.map_host(
                        frame_addr.into(),
                        page_round(core::mem::size_of::<NativeFrame>()).into(),
                        Perms::RW,
                        frame_addr as usize as *mut u8,
                    )
                }
                .map_err(setup)?;
                let guard = Guard {
                    frame: frame_addr,
                    host: Rc::new(Cell::new(0)),
                    writable: Rc::new(
                        regions
                            .as_slice()
                            .iter()
                            .filter(|r| r.access() == Access::ReadWrite)
                            .map(|r| (r.start(), r.len()))
                            .collect(),
                    ),
                    regions: regions.as_slice().len() as u64,
                };
                let table = install_routines(&mut machine, &guard).map_err(setup)?;
                let frame_ptr = frame_addr as usize as *mut NativeFrame;
                // SAFETY: the slot is at least a NativeFrame long (the arena spec), page
                // aligned, exclusively ours (its slice was consumed above), and every bit
                // pattern of a NativeFrame's integers is valid.
                let frame = unsafe {
                    frame_ptr.write(NativeFrame::default());
                    &mut *frame_ptr
                };
                let mut caller = Caller64 {
                    machine: &mut machine,
                    entry: CODE_ADDR + u64::from(code.entry),
                    frame: frame_addr.into(),
                    host: guard.host.clone(),
                    result: None,
                    error: None,
                };
                let outcome =
                    run_native(program, &regions, args, helpers, table, frame, &mut caller);
                let (result, error) = (caller.result, caller.error);
                if let Some(source) = error {
                    return Err(Emu64RunError::Emulator { isa, source });
                }
                let stats = match result {
                    Some(r) => {
                        let used = machine_stack_used(&machine).map_err(setup)?;
                        if used > code.machine_stack {
                            return Err(Emu64RunError::MachineStack {
                                isa,
                                used,
                                declared: code.machine_stack,
                            });
                        }
                        Some(EmuStats {
                            insns: r.insns,
                            cycles: 0,
                            trap_calls: r.trap_calls,
                            machine_stack_used: used,
                        })
                    }
                    None => None,
                };
                (outcome, stats, Some(frame.ctx))
            }
        }
    };

    let slices = arena.slices();
    Ok(NativeRun {
        mode: installed.mode(),
        outcome,
        stats,
        final_ctx,
        stack: slices.stack.to_vec(),
        context: slices.context.to_vec(),
        data: slices.data.iter().map(|d| d.to_vec()).collect(),
    })
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

/// Bytes below the stack top that no longer hold the paint.
fn machine_stack_used(machine: &Machine64) -> Result<u32, EmuError> {
    let config = machine.config();
    let stack = machine.read_vec(config.stack_base, config.stack_size as usize)?;
    let untouched = stack.iter().take_while(|&&b| b == STACK_PAINT).count();
    Ok((stack.len() - untouched) as u32)
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
        let verdict = unsafe { routines::access_check(ctx, a[1], a[2] as u32, a[3] as u32) };
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

    Ok(RoutineTable { helper_call, access_check, udiv64, sdiv64, umod64, smod64, atomic64 })
}

/// Calls the code's entry in the emulator, keeping an emulator error for [`run_blob64`].
struct Caller64<'m> {
    machine: &'m mut Machine64,
    entry: u64,
    frame: u64,
    host: Rc<Cell<u64>>,
    result: Option<Call64Result>,
    error: Option<EmuError>,
}

impl NativeCaller for Caller64<'_> {
    fn call(&mut self, ctx: *mut NativeContext) -> Result<u32, RunError> {
        let stopped = RunError {
            pc: 0,
            kind: RunErrorKind::InvalidProgram(EMULATOR_STOPPED),
            budget_used: 0,
        };
        if ctx as usize as u64 != self.frame {
            self.error = Some(EmuError::Map {
                addr: ctx as usize as u64,
                size: core::mem::size_of::<NativeFrame>() as u64,
                reason: format!("the context is not the frame mapped at {:#x}", self.frame),
            });
            return Err(stopped);
        }
        // SAFETY: `ctx` is the frame (checked above), which `run_native` just prepared in
        // host memory mapped for the whole run.
        self.host.set(unsafe { core::ptr::addr_of!((*ctx).host).read_volatile() });
        match self.machine.call(self.entry, &[self.frame]) {
            Ok(result) => {
                self.result = Some(result);
                // The status is a uint32_t: the low half of x0 / a0.
                Ok(result.ret as u32)
            }
            Err(e) => {
                self.error = Some(e);
                Err(stopped)
            }
        }
    }
}
