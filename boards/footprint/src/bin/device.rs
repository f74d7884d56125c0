//! DESIGN's footprint row (b) without the native glue: a device that
//! parses a blob, verifies the bytecode and interprets it. Code the parts
//! share (bounds checks, division, decoding) is counted once, so this is
//! less than the sum of `blob`, `verifier` and `interp`.
#![no_std]
#![no_main]

use femtoc_footprint::{black_box, entry, PROGRAM, PROGRAM_HELPERS};
use femtoc_isa::{verify_in, FunctionInfo, SlotScratch, VerifiedRef, VerifierConfig};
use femtoc_runtime::blob::Blob;
use femtoc_runtime::helpers::fail;
use femtoc_runtime::{
    run, HelperResult, HelperTable, MemRegion, MemoryAccess, RegionKind, Regions, RunArgs,
};

entry!(main);

/// Stand-in for a blob in flash; `black_box` hides its content.
static BLOB: [u8; 64] = [0; 64];

/// Scratch entries on the (native) stack: enough for a 64-slot program.
const SLOTS: usize = 64;

fn now(ticks: &mut u32, _: [u64; 5], _: &mut MemoryAccess<'_, '_>) -> HelperResult {
    *ticks = ticks.wrapping_add(1);
    HelperResult::Return(u64::from(*ticks))
}

fn store(_: &mut u32, args: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
    match mem.write_u32(args[0], args[1] as u32) {
        Ok(()) => HelperResult::Return(0),
        Err(_) => HelperResult::Fail(fail::BAD_POINTER),
    }
}

fn main() -> u32 {
    // Install: parse the blob, verify the bytecode. The bytecode comes from
    // a static rather than the blob because turning the blob's bytes into
    // aligned slots is the native glue's job, which does not exist yet.
    if let Err(e) = Blob::parse(black_box(&BLOB[..])) {
        black_box(e);
        return 1;
    }
    let code = black_box(&PROGRAM[..]);
    let mut scratch = [SlotScratch::EMPTY; SLOTS];
    let mut functions = [FunctionInfo::default(); 8];
    let cfg = VerifierConfig {
        helpers: black_box(&PROGRAM_HELPERS[..]),
        stack_size: black_box(512),
        max_call_depth: black_box(8),
        data_sizes: black_box(&[][..]),
    };
    let summary = match verify_in(code, &cfg, &mut scratch, &mut functions) {
        Ok(summary) => summary,
        Err(e) => return e.pc as u32,
    };
    let prog = VerifiedRef {
        code,
        functions: functions.get(..summary.functions).unwrap_or(&[]),
        stack_usage: summary.stack_usage,
        min_ctx_len: summary.min_ctx_len,
    };

    // Run.
    let mut stack = [0u8; 512];
    let mut ctx = [0u8; 16];
    let mut regions = Regions::new(black_box(&mut stack[..]));
    let ctx = black_box(&mut ctx[..]);
    let (r1, r2) = (ctx.as_ptr() as u64, ctx.len() as u64);
    if regions.push(MemRegion::read_write(RegionKind::Context, ctx)).is_err() {
        return 2;
    }
    let mut helpers = HelperTable::<u32, 2>::new(black_box(0));
    if helpers.register(1, now).is_err() || helpers.register(2, store).is_err() {
        return 3;
    }
    let args = black_box(RunArgs { r1, r2, budget: Some(1000) });
    match run(&prog, black_box(&regions), args, black_box(&mut helpers)) {
        Ok(outcome) => outcome.r0 as u32,
        Err(e) => e.pc,
    }
}
