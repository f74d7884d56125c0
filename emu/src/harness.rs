//! The ISA-independent part of running a blob under the native ABI in the emulator.
//!
//! [`crate::run_blob`] (Thumb-2, RV32) and [`crate::run_blob64`] (AArch64, RV64GC) install a
//! blob, lay its memory out at the fixed test addresses and run it the same way; only the
//! emulated machine differs. [`run`] does the shared part, and an [`Emulated`] machine does
//! what depends on the ISA: mapping host memory, serving the routines as traps, calling
//! the entry and reporting what it measured.

use std::cell::Cell;
use std::rc::Rc;

use femtoc_isa::{scratch_len, FunctionInfo, SlotScratch};
use femtoc_runtime::abi::{NativeContext, RoutineTable};
use femtoc_runtime::blob::{Blob, RegionKind as BlobRegionKind};
use femtoc_runtime::engine::{Engine, Features};
use femtoc_runtime::install::{install, DeviceProfile, InstallError, RunPlan};
use femtoc_runtime::layout::{self, ArenaError, ArenaSpec, FixedArena};
use femtoc_runtime::native::{run_native, NativeCaller, NativeFrame};
use femtoc_runtime::{
    Access, Helpers, MemRegion, RegionKind, Regions, RunArgs, RunError, RunErrorKind,
};

use crate::native::{EMULATOR_STOPPED, FRAME_ADDR};
use crate::{EmuError, EmuStats, NativeInput, NativeRun, Perms};

/// Byte the machine stack is filled with before a run, to measure how deep the code went.
pub(crate) const STACK_PAINT: u8 = 0xa5;
/// Page size of the mappings.
const PAGE: u32 = 0x1000;

/// Why [`run`] produced no run result; each ISA family's error type adds the core.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The device refused the blob.
    Install(InstallError),
    /// The input cannot be laid out.
    Layout(ArenaError),
    /// The emulator could not be set up.
    Setup(EmuError),
    /// The emulator stopped the code.
    Emulator(EmuError),
    /// The code used more machine stack than its code section declares.
    MachineStack {
        /// Bytes used.
        used: u32,
        /// Bytes declared in the blob.
        declared: u32,
    },
}

impl From<ArenaError> for Failure {
    fn from(e: ArenaError) -> Self {
        Failure::Layout(e)
    }
}

/// What differs between the emulated machines a blob's code section runs on.
pub trait Emulated {
    /// What one call of the code measured.
    type Call: Copy;

    /// Maps `size` bytes of host memory at `host` into the machine at `addr`.
    ///
    /// # Safety
    /// `host` must be valid for reads and writes of `size` bytes until the machine is
    /// dropped, and page aligned.
    unsafe fn map_host(
        &mut self,
        addr: u64,
        size: u32,
        perms: Perms,
        host: *mut u8,
    ) -> Result<(), EmuError>;

    /// Installs one trap per routine and returns the table the code receives.
    fn install_routines(&mut self, guard: &Guard) -> Result<RoutineTable, EmuError>;

    /// Calls the code at `entry` (an offset into the code section) with the frame address.
    fn call_entry(&mut self, entry: u32, frame: u32) -> Result<Self::Call, EmuError>;

    /// The call's status word (a `uint32_t`: the low half of the return register).
    fn status(call: &Self::Call) -> u32;

    /// The measurements of a call that used `machine_stack_used` bytes of machine stack.
    fn stats(call: &Self::Call, machine_stack_used: u32) -> EmuStats;

    /// The machine stack's current contents, lowest address first.
    fn machine_stack(&self) -> Result<Vec<u8>, EmuError>;
}

/// Installs `blob` on a device with `engine` (offering `features` unless the input says
/// otherwise) and runs it once with `input`: natively on the machine `new_machine` builds
/// from the code section and its declared machine stack, if install picks that code, else
/// by interpreting the bytecode on the host (same layout, same helpers).
pub(crate) fn run<M: Emulated>(
    engine: Engine,
    features: Features,
    blob: &[u8],
    input: &NativeInput<'_>,
    helpers: &mut dyn Helpers,
    new_machine: impl FnOnce(&[u8], u32) -> Result<M, EmuError>,
) -> Result<NativeRun, Failure> {
    let aligned = femtoc_runtime::AlignedBytes::copy_of(blob);
    let bytes = aligned.bytes();
    let provided: Vec<u32> = Blob::parse(bytes)
        .map(|b| b.helpers().filter(|&id| helpers.provides(id)).collect())
        .unwrap_or_default();
    let device = DeviceProfile {
        engine,
        features: input.features.unwrap_or(features),
        helpers: &provided,
        stack_size: input.stack_size,
        public_key: None,
    };
    let slots = (bytes.len() / 8).min(femtoc_isa::MAX_INSNS);
    let mut scratch = vec![SlotScratch::EMPTY; scratch_len(slots)];
    let mut functions = vec![FunctionInfo::default(); slots + 1];
    let installed =
        install(bytes, &device, &mut scratch, &mut functions).map_err(Failure::Install)?;

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
            push(&mut regions, region, false)?;
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
            push(&mut regions, mem, true)?;
            maps.push((addr, region.size as usize, if writable { Perms::RW } else { Perms::R }));
        }

        match installed.plan {
            RunPlan::Interpret(verified) => {
                (femtoc_runtime::interp::run(&verified, &regions, args, helpers), None, None)
            }
            RunPlan::Native { code, program } => {
                let frame_slice = slices.host.into_iter().next().unwrap_or_default();
                let mut machine =
                    new_machine(code.code, code.machine_stack).map_err(Failure::Setup)?;
                for &(addr, len, perms) in maps.iter().filter(|m| m.1 > 0) {
                    // SAFETY: the arena maps these page-rounded ranges at these addresses
                    // until it is dropped, after the machine (dropped at the end of this arm).
                    unsafe {
                        machine.map_host(addr, page_round(len), perms, addr as usize as *mut u8)
                    }
                    .map_err(Failure::Setup)?;
                }
                let frame_addr = frame_address(frame_slice).map_err(Failure::Setup)?;
                // SAFETY: as above, for the frame's slot.
                unsafe {
                    machine.map_host(
                        frame_addr.into(),
                        page_round(core::mem::size_of::<NativeFrame>()),
                        Perms::RW,
                        frame_addr as usize as *mut u8,
                    )
                }
                .map_err(Failure::Setup)?;
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
                let table = machine.install_routines(&guard).map_err(Failure::Setup)?;
                let frame_ptr = frame_addr as usize as *mut NativeFrame;
                // SAFETY: the slot is at least a NativeFrame long (the arena spec), page
                // aligned, exclusively ours (its slice was consumed above), and every bit
                // pattern of a NativeFrame's integers is valid.
                let frame = unsafe {
                    frame_ptr.write(NativeFrame::default());
                    &mut *frame_ptr
                };
                let mut caller = Caller {
                    machine: &mut machine,
                    entry: code.entry,
                    frame: frame_addr,
                    host: guard.host.clone(),
                    result: None,
                    error: None,
                };
                let outcome =
                    run_native(program, &regions, args, helpers, table, frame, &mut caller);
                let (result, error) = (caller.result, caller.error);
                if let Some(source) = error {
                    return Err(Failure::Emulator(source));
                }
                let stats = match result {
                    Some(r) => {
                        let used = machine_stack_used(&machine).map_err(Failure::Setup)?;
                        if used > code.machine_stack {
                            return Err(Failure::MachineStack {
                                used,
                                declared: code.machine_stack,
                            });
                        }
                        Some(M::stats(&r, used))
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

/// Bytes below the stack top that no longer hold the paint.
fn machine_stack_used<M: Emulated>(machine: &M) -> Result<u32, EmuError> {
    let stack = machine.machine_stack()?;
    let untouched = stack.iter().take_while(|&&b| b == STACK_PAINT).count();
    Ok((stack.len() - untouched) as u32)
}

/// Calls the code's entry in the emulator. An emulator error is kept here (the runtime only
/// sees an `InvalidProgram` stop) so that the run can report it as what it is.
pub struct Caller<'m, M: Emulated> {
    machine: &'m mut M,
    entry: u32,
    frame: u32,
    host: Rc<Cell<u64>>,
    /// The emulator's measurements of the call, once it returned.
    pub result: Option<M::Call>,
    /// Why the emulator stopped the call, if it did.
    pub error: Option<EmuError>,
}

impl<M: Emulated> NativeCaller for Caller<'_, M> {
    fn call(&mut self, ctx: *mut NativeContext) -> Result<u32, RunError> {
        let stopped = RunError {
            pc: 0,
            kind: RunErrorKind::InvalidProgram(EMULATOR_STOPPED),
            budget_used: 0,
        };
        if ctx as usize as u64 != u64::from(self.frame) {
            self.error = Some(EmuError::Map {
                addr: ctx as usize as u64,
                size: core::mem::size_of::<NativeFrame>() as u64,
                reason: format!("the context is not the frame mapped at {:#x}", self.frame),
            });
            return Err(stopped);
        }
        let frame = self.frame as usize as *const NativeContext;
        // SAFETY: `ctx` is that frame (checked above), which `run_native` just prepared in
        // host memory mapped for the whole run.
        self.host.set(unsafe { core::ptr::addr_of!((*frame).host).read_volatile() });
        match self.machine.call_entry(self.entry, self.frame) {
            Ok(result) => {
                self.result = Some(result);
                Ok(M::status(&result))
            }
            Err(e) => {
                self.error = Some(e);
                Err(stopped)
            }
        }
    }
}

/// What every routine trap checks before acting on the code's arguments.
#[derive(Clone)]
pub struct Guard {
    pub(crate) frame: u32,
    /// `NativeContext::host` as the runtime set it, recorded when the call starts.
    pub(crate) host: Rc<Cell<u64>>,
    /// Writable regions as (start, len): where `atomic64` may act.
    pub(crate) writable: Rc<Vec<(u64, u64)>>,
    pub(crate) regions: u64,
}

impl Guard {
    pub(crate) fn context(&self, addr: u64) -> Result<*mut NativeContext, crate::TrapError> {
        if addr != u64::from(self.frame) {
            return Err(format!(
                "ABI violation: routine called with context {addr:#x}, not the run's {:#x}",
                self.frame
            )
            .into());
        }
        let ctx = self.frame as usize as *mut NativeContext;
        // SAFETY: the frame is host memory mapped for the whole run (FixedArena slot), and
        // `NativeContext` is plain integers.
        let host = unsafe { core::ptr::addr_of!((*ctx).host).read_volatile() };
        if host != self.host.get() {
            return Err("ABI violation: the code overwrote NativeContext::host".into());
        }
        Ok(ctx)
    }

    pub(crate) fn atomic_target(&self, addr: u64) -> Result<(), crate::TrapError> {
        let inside = self
            .writable
            .iter()
            .any(|&(start, len)| addr >= start && len >= 8 && addr - start <= len - 8);
        if inside && addr.is_multiple_of(8) {
            Ok(())
        } else {
            Err(format!(
                "ABI violation: atomic64 on {addr:#x}, which is not 8 aligned bytes of a writable region"
            )
            .into())
        }
    }
}

/// `len` rounded up to whole pages, at least one.
pub(crate) fn page_round(len: usize) -> u32 {
    (len as u32).next_multiple_of(PAGE).max(PAGE)
}

fn kind(writable: bool) -> RegionKind {
    if writable {
        RegionKind::Data
    } else {
        RegionKind::Rodata
    }
}

fn push<'a>(regions: &mut Regions<'a>, region: MemRegion<'a>, data: bool) -> Result<(), Failure> {
    let result = if data { regions.push_data(region) } else { regions.push(region) };
    // The blob's region count was checked by install and the arena holds at most the stack,
    // the context and those: the table cannot overflow; report it as a layout error anyway.
    result.map_err(|e| {
        Failure::Layout(ArenaError::Map {
            addr: region.start(),
            len: region.len() as usize,
            source: std::io::Error::other(e.to_string()),
        })
    })
}

/// The frame slot's address, checked to be where the layout puts it and below 2^32.
fn frame_address(slot: &mut [u8]) -> Result<u32, EmuError> {
    let addr = slot.as_mut_ptr() as usize as u64;
    let size = core::mem::size_of::<NativeFrame>();
    if addr != FRAME_ADDR || slot.len() < size {
        return Err(EmuError::Map {
            addr,
            size: size as u64,
            reason: format!("the frame slot is not {size} bytes at {FRAME_ADDR:#x}"),
        });
    }
    u32::try_from(addr).map_err(|_| EmuError::Map {
        addr,
        size: size as u64,
        reason: "the frame must lie below 2^32 for 32-bit code".into(),
    })
}
