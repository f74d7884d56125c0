//! Engines `thumbv7m` and `thumbv7em`: compile with the Thumb-2 backend
//! and run the code in the Unicorn Cortex-M3/M4 model (silicon checks on)
//! through the runtime's own glue (`femtoc_runtime::native::run_native`).
//!
//! This is a private stand-in until the emulator native harness lands:
//! the regions at their fixed addresses are copied into the emulator
//! before the call and the writable ones copied back after it; the
//! routine table points at traps that call `femtoc_runtime::native::routines`
//! on the host copy of the context (helpers see the host memory, which is
//! not synchronised mid-run: the harness's helpers do not touch memory).

use std::mem::offset_of;

use femtoc_compiler::thumb2::{self, CompiledCode};
use femtoc_emu::{Core, Machine, Perms, TrapContext, TrapError};
use femtoc_runtime::abi::{self, NativeContext, RoutineTable, CONTEXT_SIZE};
use femtoc_runtime::engine::Engine as EngineId;
use femtoc_runtime::helpers::testing::{ConformanceHelpers, Recording};
use femtoc_runtime::native::{routines, run_native, NativeCaller, NativeFrame, NativeProgram};
use femtoc_runtime::{RunArgs, RunError, RunErrorKind};

use crate::engine::{Case, Engine, EngineError, Observation, STACK_SIZE};
use crate::memory::TestMemory;

type TrapFn = Box<dyn FnMut(&mut TrapContext<'_>) -> Result<(), TrapError>>;

const CODE_BASE: u32 = 0x0800_0000;
const FRAME_BASE: u32 = 0x5000_0000;
const PAGE: u32 = 0x1000;

/// Executed instructions and estimated cycles of the last run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Native instructions executed.
    pub insns: u64,
    /// Estimated cycles.
    pub cycles: u64,
}

/// A Thumb-2 engine.
#[derive(Debug)]
pub struct Thumb2 {
    engine: EngineId,
    /// Code to run instead of compiling (a blob's code section).
    pub code: Option<CompiledCode>,
    /// Counts of the last run.
    pub stats: Stats,
}

impl Thumb2 {
    /// The engine for `thumbv7m` or `thumbv7em`.
    pub fn new(engine: EngineId) -> Self {
        Thumb2 { engine, code: None, stats: Stats::default() }
    }
}

impl Engine for Thumb2 {
    fn name(&self) -> &'static str {
        self.engine.name()
    }

    fn execute(&mut self, case: &Case<'_>) -> Result<Observation, EngineError> {
        let code = match &self.code {
            Some(c) => c.clone(),
            None => thumb2::compile(case.program, self.engine)
                .map_err(|e| EngineError::Native(e.to_string()))?,
        };
        let mut memory = TestMemory::new(&case.program.program, case.context, STACK_SIZE)?;
        let (r1, r2) = memory.entry_args();
        let mut helpers = Recording::new(ConformanceHelpers);
        let core = if self.engine == EngineId::Thumbv7m { Core::CortexM3 } else { Core::CortexM4 };
        let mut caller =
            EmuCaller { core, failure: None, code: &code.code, entry: code.entry, stats: None };
        let outcome = {
            let regions = memory.regions()?;
            let args = RunArgs { r1, r2, budget: case.budget };
            let program = NativeProgram {
                stack_usage: case.program.stack_usage,
                min_ctx_len: case.program.min_ctx_len,
            };
            let mut frame = Box::<NativeFrame>::default();
            run_native(
                program,
                &regions,
                args,
                &mut helpers,
                RoutineTable::default(),
                &mut frame,
                &mut caller,
            )
        };
        self.stats = caller.stats.unwrap_or_default();
        if let Some(why) = caller.failure {
            return Err(EngineError::Native(why));
        }
        Ok(Observation {
            result: outcome.map(|o| o.r0),
            budget_used: outcome.ok().map(|o| o.budget_used),
            regions: memory.snapshot(),
            helper_calls: helpers.calls,
        })
    }
}

struct EmuCaller<'c> {
    core: Core,
    failure: Option<String>,
    code: &'c [u8],
    entry: u32,
    stats: Option<Stats>,
}

fn te(e: impl core::fmt::Display) -> TrapError {
    e.to_string().into()
}

const EMU_FAILED: RunError =
    RunError { pc: 0, kind: RunErrorKind::InvalidProgram("the emulated native code failed") };

fn pages(len: u64) -> u32 {
    (len.max(1).div_ceil(u64::from(PAGE)) * u64::from(PAGE)) as u32
}

/// The frame as the emulated code sees it: the host frame with its table
/// pointers moved to `FRAME_BASE`.
fn frame_bytes(frame: &NativeFrame, traps: &RoutineTable) -> Vec<u8> {
    let mut f = *frame;
    let base = u64::from(FRAME_BASE);
    f.ctx.regions = base + offset_of!(NativeFrame, regions) as u64;
    f.ctx.data_bases = base + offset_of!(NativeFrame, data_bases) as u64;
    f.ctx.routines = base + offset_of!(NativeFrame, routines) as u64;
    f.routines = *traps;
    // SAFETY: NativeFrame is repr(C) plain data of u32/u64 fields.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            (&f as *const NativeFrame).cast::<u8>(),
            core::mem::size_of::<NativeFrame>(),
        )
    };
    bytes.to_vec()
}

/// Copies the stop-record fields the routines write from `src` to `dst`.
fn copy_record(dst: &mut NativeContext, src: &NativeContext) {
    dst.r0 = src.r0;
    dst.fault_addr = src.fault_addr;
    dst.fault_size = src.fault_size;
    dst.fault_write = src.fault_write;
    dst.helper_code = src.helper_code;
}

fn read_ctx(t: &TrapContext<'_>) -> Result<NativeContext, TrapError> {
    let mut buf = [0u8; CONTEXT_SIZE as usize];
    t.read(u64::from(FRAME_BASE), &mut buf).map_err(|e| te(e))?;
    // SAFETY: NativeContext is repr(C) plain data; any bytes are a value.
    Ok(unsafe { core::ptr::read_unaligned(buf.as_ptr().cast::<NativeContext>()) })
}

fn write_ctx(t: &mut TrapContext<'_>, ctx: &NativeContext) -> Result<(), TrapError> {
    // SAFETY: as above.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            (ctx as *const NativeContext).cast::<u8>(),
            CONTEXT_SIZE as usize,
        )
    };
    t.write(u64::from(FRAME_BASE), bytes).map_err(|e| te(e))
}

fn stack_word(t: &TrapContext<'_>, i: u32) -> Result<u32, TrapError> {
    let sp = t.reg(13).map_err(|e| te(e))?;
    t.read_u32(u64::from(sp + 4 * i)).map_err(|e| te(e))
}

fn arg64(t: &TrapContext<'_>, lo: u8) -> Result<u64, TrapError> {
    let l = t.reg(lo).map_err(|e| te(e))?;
    let h = t.reg(lo + 1).map_err(|e| te(e))?;
    Ok(u64::from(l) | u64::from(h) << 32)
}

impl NativeCaller for EmuCaller<'_> {
    fn call(&mut self, ctx: *mut NativeContext) -> Result<u32, RunError> {
        self.run(ctx).map_err(|e| {
            self.failure = Some(e);
            EMU_FAILED
        })
    }
}

impl EmuCaller<'_> {
    fn run(&mut self, ctx: *mut NativeContext) -> Result<u32, String> {
        let emu_failed = |e: femtoc_emu::EmuError| e.to_string();
        // SAFETY: run_native passes the context of a NativeFrame, its first field.
        let frame = unsafe { &mut *ctx.cast::<NativeFrame>() };
        let mut m = Machine::new(self.core).map_err(emu_failed)?;
        m.map(CODE_BASE, pages(self.code.len() as u64), Perms::RX, self.code)
            .map_err(emu_failed)?;
        let count = frame.ctx.region_count as usize;
        let regions: Vec<_> = frame.regions.iter().take(count).copied().collect();
        for r in regions.iter().filter(|r| r.len > 0) {
            // SAFETY: the region table describes live memory of the run
            // (the fixed arena), `len` bytes at `start`.
            let bytes = unsafe {
                core::slice::from_raw_parts(r.start as usize as *const u8, r.len as usize)
            };
            m.map(r.start as u32, pages(r.len), Perms::RW, bytes).map_err(emu_failed)?;
        }
        let (trap_base, _) = m.trap_page();
        let host = ctx as usize;
        let mut add = |slot: u32, f: TrapFn| m.add_trap(trap_base + 16 * slot, f).map(u64::from);
        let helper = add(
            1,
            Box::new(move |t| {
                let emu = read_ctx(t)?;
                let host = host as *mut NativeContext;
                // SAFETY: the host context outlives the call (run_native holds it).
                let status = unsafe {
                    (*host).helper_id = emu.helper_id;
                    (*host).helper_args = emu.helper_args;
                    let s = routines::helper_call(host);
                    let mut emu = emu;
                    copy_record(&mut emu, &*host);
                    write_ctx(t, &emu)?;
                    s
                };
                t.set_ret(status).map_err(|e| te(e))
            }),
        )
        .map_err(emu_failed)?;
        let check = add(
            2,
            Box::new(move |t| {
                let addr = arg64(t, 2)?;
                let size = stack_word(t, 0)?;
                let write = stack_word(t, 1)?;
                let host = host as *mut NativeContext;
                // SAFETY: as for the helper trap.
                let r = unsafe { routines::access_check(host, addr, size, write) };
                let mut emu = read_ctx(t)?;
                // SAFETY: as above.
                copy_record(&mut emu, unsafe { &*host });
                write_ctx(t, &emu)?;
                t.set_ret(r).map_err(|e| te(e))
            }),
        )
        .map_err(emu_failed)?;
        let mut div = |slot, f: extern "C" fn(u64, u64) -> u64| {
            add(
                slot,
                Box::new(move |t| {
                    let (a, b) = (arg64(t, 0)?, arg64(t, 2)?);
                    t.set_ret64(f(a, b)).map_err(|e| te(e))
                }),
            )
        };
        let udiv = div(3, routines::udiv64).map_err(emu_failed)?;
        let sdiv = div(4, routines::sdiv64).map_err(emu_failed)?;
        let umod = div(5, routines::umod64).map_err(emu_failed)?;
        let smod = div(6, routines::smod64).map_err(emu_failed)?;
        let atomic = m
            .add_trap(
                trap_base + 16 * 7,
                Box::new(move |t: &mut TrapContext<'_>| {
                    let op = t.reg(1).map_err(|e| te(e))?;
                    let addr = arg64(t, 2)?;
                    let value = u64::from(stack_word(t, 0)?) | u64::from(stack_word(t, 1)?) << 32;
                    let expected =
                        u64::from(stack_word(t, 2)?) | u64::from(stack_word(t, 3)?) << 32;
                    let mut buf = [0u8; 8];
                    t.read(addr, &mut buf).map_err(|e| te(e))?;
                    let old = u64::from_le_bytes(buf);
                    let new = match op {
                        abi::atomic_op::ADD => Some(old.wrapping_add(value)),
                        abi::atomic_op::OR => Some(old | value),
                        abi::atomic_op::AND => Some(old & value),
                        abi::atomic_op::XOR => Some(old ^ value),
                        abi::atomic_op::XCHG => Some(value),
                        abi::atomic_op::CMPXCHG => (old == expected).then_some(value),
                        _ => None,
                    };
                    if let Some(n) = new {
                        t.write(addr, &n.to_le_bytes()).map_err(|e| te(e))?;
                    }
                    t.set_ret64(old).map_err(|e| te(e))
                }),
            )
            .map(u64::from)
            .map_err(emu_failed)?;
        let traps = RoutineTable {
            helper_call: helper,
            access_check: check,
            udiv64: udiv,
            sdiv64: sdiv,
            umod64: umod,
            smod64: smod,
            atomic64: atomic,
        };
        let bytes = frame_bytes(frame, &traps);
        m.map(FRAME_BASE, pages(bytes.len() as u64), Perms::RW, &bytes).map_err(emu_failed)?;
        let result = m.call((CODE_BASE + self.entry) | 1, &[FRAME_BASE]).map_err(emu_failed)?;
        self.stats = Some(Stats { insns: result.insns, cycles: result.cycles });
        // Back to the host: writable regions and the context.
        for r in regions.iter().filter(|r| r.len > 0 && r.flags & abi::REGION_WRITE != 0) {
            let bytes = m.read_vec(r.start as u32, r.len as usize).map_err(emu_failed)?;
            // SAFETY: as when mapping: live, writable arena memory.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    r.start as usize as *mut u8,
                    bytes.len(),
                )
            };
        }
        let ctx_bytes = m.read_vec(FRAME_BASE, CONTEXT_SIZE as usize).map_err(emu_failed)?;
        // SAFETY: plain data, see read_ctx.
        let emu: NativeContext = unsafe { core::ptr::read_unaligned(ctx_bytes.as_ptr().cast()) };
        let host = emu.host;
        frame.ctx = NativeContext { host: frame.ctx.host, ..emu };
        let _ = host;
        Ok(result.ret as u32)
    }
}
