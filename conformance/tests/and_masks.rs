//! AND with a mask that keeps only the high or only the low bits: the
//! Thumb-2 backend applies such masks as two shifts when no modified
//! immediate (nor its complement for BIC) encodes them. Every native
//! engine must agree with the interpreter, at both widths, at the mask
//! edges (a bit either side of each boundary is set in some input).
#![cfg(feature = "emu")]

use femtoc_conformance::engine::{run_on_every_engine, Case};
use femtoc_conformance::runner::verify_for_harness;

/// Masks as the `and` immediate: 32-bit masks keep high bits
/// (0xffff_0000, 0xfff0_0000, 0xfffe_0000, 0x8000_0000 via BIC) or low
/// bits (0x0001_ffff, 0x000f_ffff, 0x7fff_ffff via BIC); as 64-bit
/// operands the negative ones also keep the whole upper word.
const MASKS: [i32; 7] = [-65536, -1_048_576, -131_072, i32::MIN, 0x1_ffff, 0xf_ffff, i32::MAX];

#[test]
fn high_and_low_masks_agree_on_every_engine() {
    let mut src = String::from("ldxdw %r6, [%r1+0]\nmov %r0, 0\n");
    for k in MASKS {
        for width in ["and32", "and"] {
            // r0 = r0 * 31 + (r6 & k): each result moves every later one.
            src.push_str(&format!("mov %r2, %r6\n{width} %r2, {k}\nmul %r0, 31\nadd %r0, %r2\n"));
        }
    }
    src.push_str("exit\n");
    let program = femtoc_isa::assemble(&src).expect("assembles");
    let verified = verify_for_harness(&program).expect("verifies");
    let inputs = [
        u64::MAX,
        0x8000_0000_8000_0000,
        0x0001_0000_0000_ffff,
        0x0002_0000_0001_0000,
        0x1234_5678_9abc_def0,
        0x0000_0000_000f_ffff,
        0x0000_0000_0010_0000,
    ];
    let mut seen = Vec::new();
    for v in inputs {
        let context = v.to_le_bytes();
        let case = Case { program: &verified, context: Some(&context), budget: Some(100) };
        let reference = run_on_every_engine(&case).unwrap_or_else(|e| panic!("input {v:#x}: {e}"));
        let r0 = reference.result.as_ref().map_or(u64::MAX, |r0| *r0);
        seen.push(r0);
    }
    // Distinct inputs give distinct results: the program did mix them.
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), inputs.len());
}
