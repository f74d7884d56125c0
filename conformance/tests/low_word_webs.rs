//! Registers reused for unrelated values: the Thumb-2 backend keeps each
//! *web* of a register (`femtoc_compiler::analysis::webs`) as a low word
//! or a pair on its own. These programs give one register a wide web and
//! a narrow one, and a narrow result computed from a wide operand; every
//! native engine must agree with the interpreter.
#![cfg(feature = "emu")]

use femtoc_compiler::analysis::webs::low_word_webs;
use femtoc_compiler::analysis::{low_word_registers, RangeConfig};
use femtoc_conformance::engine::{run_on_every_engine, Case};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_isa::Reg;

/// Runs `src` on every engine for each context; returns the results.
fn agree(name: &str, src: &str, contexts: &[[u8; 16]]) -> Vec<u64> {
    let program = femtoc_isa::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut results = Vec::new();
    for context in contexts {
        let case = Case { program: &verified, context: Some(context), budget: Some(10_000) };
        let reference = run_on_every_engine(&case)
            .unwrap_or_else(|e| panic!("{name}: context {context:?}: {e}"));
        results.push(reference.result.as_ref().map_or(u64::MAX, |r0| *r0));
    }
    results
}

fn contexts() -> Vec<[u8; 16]> {
    // All ones: the two words' sum carries into the upper half.
    let mut out = vec![[0xff; 16]];
    for seed in [0u8, 1, 7, 0x80, 0xff] {
        let mut c = [0u8; 16];
        for (i, b) in c.iter_mut().enumerate() {
            *b = seed.wrapping_mul(31).wrapping_add(i as u8 * 17);
        }
        out.push(c);
    }
    out
}

/// r1 walks the context two bytes at a time (a pointer: wide, since one
/// byte loads cannot bound it below 2^32 - 2), then counts to 5 (narrow),
/// then points at the context again. r3 is a 64-bit load,
/// then its upper word (narrow result of a wide operand), then a divisor's
/// quotient.
const REUSE: &str = "
        mov %r8, %r1
        mov %r0, 0
        mov %r4, 0
    walk:
        ldxb %r2, [%r1+0]
        add %r0, %r2
        add %r1, 2
        add %r4, 1
        jlt %r4, 8, walk
        lddw %r1, 0x700000000
        add %r0, %r1
        mov %r1, 0
    count:
        add %r0, %r1
        add %r1, 1
        jlt %r1, 5, count
        mov %r1, %r8
        ldxdw %r3, [%r1+8]
        rsh %r3, 32
        jeq %r3, 5, skip
        add %r0, %r3
    skip:
        ldxdw %r5, [%r1+0]
        div %r5, 7
        mov %r6, %r5
        rsh %r6, 33
        add %r0, %r6
        mov %r7, %r5
        arsh %r7, 40
        add %r0, %r7
        ldxw %r5, [%r1+0]
        ldxw %r9, [%r1+4]
        add %r5, %r9
        mov %r6, %r5
        div %r5, 4
        add %r0, %r5
        mod %r6, 1000
        add %r0, %r6
        exit";

#[test]
fn one_register_with_a_wide_and_a_narrow_web_agrees_everywhere() {
    let results = agree("reuse", REUSE, &contexts());
    assert!(results.iter().all(|&r| r != u64::MAX), "no run faults: {results:?}");
}

#[test]
fn the_webs_split_what_the_register_analysis_cannot() {
    let program = femtoc_isa::assemble(REUSE).expect("assembles");
    let verified = verify_for_harness(&program).expect("verifies");
    let cfg = RangeConfig::device32(0);
    let whole = low_word_registers(&verified, &cfg, 0);
    assert_eq!(whole & Reg::R1.bit(), 0, "r1 as a whole needs its upper half");
    let webs = low_word_webs(&verified, &cfg, 0);
    // pc 12: `add %r0, %r1` in the counting loop; pc 5: `add %r1, 2` on
    // the pointer.
    assert!(webs.before(12, Reg::R1), "the counter is a low word");
    assert!(!webs.before(5, Reg::R1), "the pointer is a pair");
    // pc 17: `rsh %r3, 32` reads a wide value and writes a narrow one.
    assert!(!webs.before(17, Reg::R3) && webs.def(17, Reg::R3));
}

#[test]
fn a_value_passed_on_unchanged_into_a_wide_web_has_a_zero_upper_half() {
    // r9's location first holds a wide value (upper word 5); then a byte
    // (a low-word web, whose upper half is never stored); `le64` passes
    // it unchanged into a web that keeps its upper half (it meets a wide
    // value at the join).
    let src = "
        lddw %r9, 0x500000000
        stxdw [%r10-16], %r9
        ldxb %r9, [%r1+0]
        stxw [%r10-4], %r9
        ldxb %r2, [%r1+1]
        jgt %r2, 200, wide
        le64 %r9
        ja join
    wide:
        lddw %r9, 0x700000001
    join:
        stxdw [%r10-8], %r9
        ldxdw %r0, [%r10-8]
        exit";
    let results = agree("le64", src, &contexts());
    assert!(results.iter().any(|&r| r < 256), "{results:?}");
}
