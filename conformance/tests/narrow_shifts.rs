//! A 64-bit left shift by a constant of a register whose upper half is
//! known zero: the Thumb-2 backend computes the new upper half as the bits
//! shifted out of the low word (two shifts). Every native engine must
//! agree with the interpreter for every shift amount, on inputs whose top
//! and bottom bits are set in turn.
#![cfg(feature = "emu")]

use femtoc_conformance::engine::{run_on_every_engine, Case};
use femtoc_conformance::runner::verify_for_harness;

#[test]
fn left_shifts_of_zero_extended_words_agree_on_every_engine() {
    // r6 = the low word of the input, zero-extended (a narrow register).
    let mut src = String::from("ldxw %r6, [%r1+0]\nmov %r0, 0\n");
    for k in [1, 2, 7, 8, 15, 16, 17, 30, 31] {
        // r0 = r0 * 31 + (r6 << k) + ((r6 << k) >> 32): each result moves
        // every later one, the upper half on its own too.
        src.push_str(&format!(
            "mov %r2, %r6\nlsh %r2, {k}\nmul %r0, 31\nadd %r0, %r2\nrsh %r2, 32\nadd %r0, %r2\n"
        ));
    }
    src.push_str("exit\n");
    let program = femtoc_isa::assemble(&src).expect("assembles");
    let verified = verify_for_harness(&program).expect("verifies");
    let inputs: [u32; 6] = [u32::MAX, 0x8000_0001, 0x4000_0000, 0x0001_8000, 0x1234_5678, 1];
    let mut seen = Vec::new();
    for v in inputs {
        let context = v.to_le_bytes();
        let case = Case { program: &verified, context: Some(&context), budget: Some(100) };
        let reference = run_on_every_engine(&case).unwrap_or_else(|e| panic!("input {v:#x}: {e}"));
        seen.push(reference.result.as_ref().map_or(u64::MAX, |r0| *r0));
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), inputs.len(), "distinct inputs give distinct results");
}
