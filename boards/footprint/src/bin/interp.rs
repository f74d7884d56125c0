//! The interpreter, the region table and its bounds check, and helper
//! dispatch through a two-entry `HelperTable`, running `PROGRAM`.
#![no_std]
#![no_main]

use femtoc_footprint::{black_box, entry, PROGRAM};
use femtoc_isa::{FunctionInfo, VerifiedRef};
use femtoc_runtime::helpers::fail;
use femtoc_runtime::{
    run, HelperResult, HelperTable, MemRegion, MemoryAccess, RegionKind, Regions, RunArgs,
};

entry!(main);

/// The verifier's facts for `PROGRAM`: one function, no stack.
static FUNCTIONS: [FunctionInfo; 1] = [FunctionInfo {
    start: 0,
    end: PROGRAM.len() as u32,
    frame_size: 0,
    frame_tracked: true,
    max_entry_depth: 0,
}];

/// Helper 1: a clock reading.
fn now(ticks: &mut u32, _: [u64; 5], _: &mut MemoryAccess<'_, '_>) -> HelperResult {
    *ticks = ticks.wrapping_add(1);
    HelperResult::Return(u64::from(*ticks))
}

/// Helper 2: stores r2 at r1, through the container's bounds check.
fn store(_: &mut u32, args: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
    match mem.write_u32(args[0], args[1] as u32) {
        Ok(()) => HelperResult::Return(0),
        Err(_) => HelperResult::Fail(fail::BAD_POINTER),
    }
}

fn main() -> u32 {
    let mut stack = [0u8; 512];
    let mut ctx = [0u8; 16];
    let mut regions = Regions::new(black_box(&mut stack[..]));
    let ctx = black_box(&mut ctx[..]);
    let (r1, r2) = (ctx.as_ptr() as u64, ctx.len() as u64);
    if regions.push(MemRegion::read_write(RegionKind::Context, ctx)).is_err() {
        return 1;
    }
    let mut helpers = HelperTable::<u32, 2>::new(black_box(0));
    if helpers.register(black_box(1), now).is_err()
        || helpers.register(black_box(2), store).is_err()
    {
        return 2;
    }
    let prog = VerifiedRef {
        code: black_box(&PROGRAM[..]),
        functions: black_box(&FUNCTIONS[..]),
        stack_usage: black_box(0),
        min_ctx_len: black_box(4),
    };
    let args = black_box(RunArgs { r1, r2, budget: Some(1000) });
    match run(&prog, black_box(&regions), args, black_box(&mut helpers)) {
        Ok(outcome) => outcome.r0 as u32,
        Err(e) => e.pc,
    }
}
