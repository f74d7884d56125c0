//! Running compiled code: the device side of the native ABI
//! ([`crate::abi`]).
//!
//! A run lays out a [`NativeFrame`] (the context, the region table, the
//! data-region bases and the routine table, all in one `#[repr(C)]` block
//! the code reaches through the context pointer), calls the entry through a
//! [`NativeCaller`], and turns the returned status and stop record into the
//! same [`RunOutcome`] / [`RunError`] the interpreter gives.
//!
//! The routines the code calls ([`routines`]) are ordinary Rust functions
//! with the C ABI; on a device their addresses go into the routine table
//! ([`RoutineTable::device`]), and an emulator or host harness may serve
//! them another way and call the same functions.

pub mod routines;

use crate::abi::{
    status, NativeContext, NativeRegion, RoutineTable, NATIVE_ABI_VERSION, REGION_READ,
    REGION_WRITE,
};
use crate::error::{RunError, RunErrorKind, RunOutcome};
use crate::helpers::Helpers;
use crate::interp::RunArgs;
use crate::region::{Access, Regions, MAX_DATA_REGIONS, MAX_REGIONS};

/// What compiled code needs from the runtime besides its memory: the
/// host's state behind `NativeContext::host`, read by the routines.
pub struct HostState<'r, 'a, 'h> {
    /// The container's regions (the one bounds check).
    pub regions: &'r Regions<'a>,
    /// The host's helpers.
    pub helpers: &'h mut dyn Helpers,
}

/// Everything a run of compiled code reads through its context pointer,
/// in one block so that a harness can place it at a fixed address.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeFrame {
    /// The context the entry receives (first, so its address is the frame's).
    pub ctx: NativeContext,
    /// Routine addresses.
    pub routines: RoutineTable,
    /// The region table.
    pub regions: [NativeRegion; MAX_REGIONS],
    /// Data-region base addresses.
    pub data_bases: [u64; MAX_DATA_REGIONS],
}

/// Calls the entry of compiled code; implemented by the device (a direct
/// call), the host executor and the emulator harness.
pub trait NativeCaller {
    /// Calls the entry with the context at address `ctx` and returns its
    /// status. The frame behind `ctx` must stay where it is until this returns.
    fn call(&mut self, ctx: *mut NativeContext) -> Result<u32, RunError>;
}

impl NativeFrame {
    /// Fills the frame for one run over `regions` and points the context's
    /// tables at the frame's own fields (so the frame must not move until
    /// the run ends). `host` becomes `NativeContext::host`.
    // Inlined into the run: its call would cost a fifth of it.
    #[inline(always)]
    pub fn prepare(
        &mut self,
        regions: &Regions<'_>,
        args: RunArgs,
        routines: RoutineTable,
        host: *mut HostState<'_, '_, '_>,
    ) {
        let table = regions.as_slice();
        for (slot, region) in self.regions.iter_mut().zip(table) {
            let mut flags = REGION_READ;
            if region.access() == Access::ReadWrite {
                flags |= REGION_WRITE;
            }
            *slot = NativeRegion { start: region.start(), len: region.len(), flags, reserved: 0 };
        }
        for (slot, base) in self.data_bases.iter_mut().zip(regions.data_bases()) {
            *slot = *base;
        }
        self.routines = routines;
        let stack = regions.stack();
        self.ctx = NativeContext {
            abi_version: u32::from(NATIVE_ABI_VERSION),
            region_count: table.len() as u32,
            regions: self.regions.as_ptr() as usize as u64,
            data_bases: self.data_bases.as_ptr() as usize as u64,
            routines: &self.routines as *const RoutineTable as usize as u64,
            stack_top: stack.end(),
            r1: args.r1,
            r2: args.r2,
            budget_left: args.budget.unwrap_or(u64::MAX),
            host: host as usize as u64,
            ..NativeContext::default()
        };
    }

    /// The run's result from the status the code returned and the stop
    /// record it left (see the table in [`crate::abi`]).
    pub fn finish(&self, status: u32, args: RunArgs) -> Result<RunOutcome, RunError> {
        let ctx = &self.ctx;
        let budget_used = args.budget.unwrap_or(u64::MAX).wrapping_sub(ctx.budget_left);
        let stop = |kind| Err(RunError { pc: ctx.exit_pc, kind, budget_used });
        match status {
            status::EXIT | status::HELPER_STOP => {
                Ok(RunOutcome { r0: ctx.r0, budget_used, insns_executed: 0 })
            }
            status::MEMORY_FAULT => stop(RunErrorKind::MemoryFault {
                addr: ctx.fault_addr,
                size: ctx.fault_size,
                write: ctx.fault_write != 0,
            }),
            status::BUDGET => stop(RunErrorKind::BudgetExhausted),
            status::HELPER_FAILED => {
                stop(RunErrorKind::HelperFailed { id: ctx.helper_id, code: ctx.helper_code })
            }
            _ => stop(RunErrorKind::InvalidProgram("native code returned an unknown status")),
        }
    }
}

/// Facts about the compiled program a run needs (from the blob).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NativeProgram {
    /// eBPF stack bytes the call tree uses (zeroed before each run).
    pub stack_usage: u32,
    /// Minimum context length the code relies on.
    pub min_ctx_len: u32,
}

/// Runs compiled code: the common part of every native engine. Refuses a
/// context shorter than the program's minimum, zeroes the used stack,
/// prepares `frame`, calls through `caller`, and reports like the
/// interpreter (except `insns_executed`, which native code does not count).
pub fn run_native(
    program: NativeProgram,
    regions: &Regions<'_>,
    args: RunArgs,
    helpers: &mut dyn Helpers,
    routines: RoutineTable,
    frame: &mut NativeFrame,
    caller: &mut dyn NativeCaller,
) -> Result<RunOutcome, RunError> {
    run_native_with(program, regions, args, helpers, routines, frame, caller)
}

/// [`run_native`] for a caller type known at compile time, so that a host
/// that calls the code directly pays no dynamic dispatch per run. (Folding
/// the two into one generic function cost the host path about 40
/// instructions per run under callgrind: LLVM inlined it differently.)
#[inline]
pub fn run_native_with<C: NativeCaller + ?Sized>(
    program: NativeProgram,
    regions: &Regions<'_>,
    args: RunArgs,
    helpers: &mut dyn Helpers,
    routines: RoutineTable,
    frame: &mut NativeFrame,
    caller: &mut C,
) -> Result<RunOutcome, RunError> {
    if args.r2 < u64::from(program.min_ctx_len) {
        return Err(RunError {
            pc: 0,
            kind: RunErrorKind::ContextTooShort { needed: program.min_ctx_len, got: args.r2 },
            budget_used: 0,
        });
    }
    crate::interp::zero_stack(regions, program.stack_usage);
    let mut host = HostState { regions, helpers };
    frame.prepare(regions, args, routines, &mut host);
    let status = caller.call(&mut frame.ctx)?;
    frame.finish(status, args)
}
