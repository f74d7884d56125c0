//! The allocation-free verifier core over caller scratch, verifying
//! `PROGRAM` as a device would before interpreting it.
#![no_std]
#![no_main]

use femtoc_footprint::{black_box, entry, PROGRAM, PROGRAM_HELPERS};
use femtoc_isa::{verify_in, FunctionInfo, SlotScratch, VerifierConfig};

entry!(main);

/// Scratch entries on the (native) stack: enough for a 64-slot program.
const SLOTS: usize = 64;

fn main() -> u32 {
    let mut scratch = [SlotScratch::EMPTY; SLOTS];
    let mut functions = [FunctionInfo::default(); 8];
    let cfg = VerifierConfig {
        helpers: black_box(&PROGRAM_HELPERS[..]),
        stack_size: black_box(512),
        max_call_depth: black_box(8),
        data_sizes: black_box(&[][..]),
    };
    match verify_in(black_box(&PROGRAM[..]), &cfg, &mut scratch, &mut functions) {
        Ok(summary) => summary.stack_usage ^ black_box(&functions)[0].frame_size,
        Err(e) => e.pc as u32,
    }
}
