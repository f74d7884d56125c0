//! Atomics on constant r10 offsets inside the verified frame: the Thumb-2
//! backend skips their bounds check (the verifier proved the bytes in the
//! frame) but keeps the alignment check. Every engine must agree with the
//! interpreter on aligned ones at both ends of the frame and on misaligned
//! ones, which fault with the same pc and address everywhere.
#![cfg(feature = "emu")]

use femtoc_conformance::engine::{run_on_every_engine, Case};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_runtime::RunErrorKind;

fn run(src: &str) -> femtoc_conformance::engine::Observation {
    let program = femtoc_isa::assemble(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{src}: {e}"));
    let case = Case { program: &verified, context: None, budget: Some(100) };
    run_on_every_engine(&case).unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[test]
fn aligned_frame_atomics_agree_at_both_ends_of_the_frame() {
    for off in [-8, -16, -512] {
        let src = format!(
            "lddw %r1, 0x1122334455667788\nstxdw [%r10{off}], %r1\nmov %r2, 7\n\
             lock add32 [%r10{off}], %r2\nmov %r3, 5\nlock fetch add [%r10{off}], %r3\n\
             mov %r0, %r1\nmov %r4, 9\nlock cmpxchg [%r10{off}], %r4\n\
             ldxdw %r5, [%r10{off}]\nmul %r0, 31\nadd %r0, %r5\nadd %r0, %r3\nexit\n"
        );
        let got = run(&src);
        assert!(got.result.is_ok(), "{src}: {:?}", got.result);
    }
}

#[test]
fn misaligned_frame_atomics_fault_on_every_engine() {
    for (width, off) in [("add32", -6), ("add32", -511), ("add", -12), ("add", -4 - 8 - 2)] {
        let src = format!(
            "mov %r2, 1\nstdw [%r10-16], 0\nlock {width} [%r10{off}], %r2\nmov %r0, 0\nexit\n"
        );
        let got = run(&src);
        let err = got.result.as_ref().expect_err("a misaligned atomic faults");
        assert_eq!(err.pc, 2, "{src}");
        assert!(
            matches!(err.kind, RunErrorKind::MemoryFault { write: true, .. }),
            "{src}: {err:?}"
        );
    }
}
