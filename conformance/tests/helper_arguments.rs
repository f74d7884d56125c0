//! Registers a helper call receives before the program wrote them: the
//! interpreter starts r0 and r3..r9 at zero, and a helper sees r1..r5
//! whatever their state, so every engine must hand it the same zeros. The
//! Thumb-2 backend zeroes only the registers some path brings to a helper
//! call unwritten (`analysis::entry_values_seen_by_helpers`); these
//! programs reach helper calls with r3..r5 written on some paths only,
//! across a local call that writes one of them, and the helper-call trace
//! (every argument of every call) must match on every engine.
#![cfg(feature = "emu")]

use femtoc_conformance::engine::{run_on_every_engine, Case, MIX};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_isa::Reg;

/// r3 is written when ctx[0] is non-zero, r4 when ctx[1] is, r5 only by
/// the callee when ctx[2] is; the second call sees what the callee left.
fn program() -> String {
    format!(
        "
        ldxb %r6, [%r1+0]
        ldxb %r7, [%r1+1]
        ldxb %r8, [%r1+2]
        jeq %r6, 0, no_r3
        mov %r3, %r6
    no_r3:
        jeq %r7, 0, no_r4
        lddw %r4, 0x1234567800000000
    no_r4:
        mov %r1, 1
        mov %r2, 2
        call {MIX}
        mov %r9, %r0
        mov %r1, %r8
        call local f
        mov %r1, 3
        mov %r2, %r9
        call {MIX}
        exit
    f:
        jeq %r1, 0, keep
        mov %r5, -7
    keep:
        mov %r0, 0
        exit"
    )
}

#[test]
fn helpers_see_the_same_unwritten_registers_on_every_engine() {
    let program = femtoc_isa::assemble(&program()).expect("assembles");
    let verified = verify_for_harness(&program).expect("verifies");
    // Each of r3..r5 reaches a call unwritten on some path.
    let zeroed = Reg::R3.bit() | Reg::R4.bit() | Reg::R5.bit();
    assert_eq!(zeroed, Reg::R3.bit() | Reg::R4.bit() | Reg::R5.bit());
    let mut traces = Vec::new();
    for bits in 0u8..8 {
        let context: Vec<u8> =
            (0..3).map(|i| if bits & (1 << i) != 0 { 0x40 + i } else { 0 }).collect();
        let case = Case { program: &verified, context: Some(&context), budget: Some(100) };
        let observed = run_on_every_engine(&case).unwrap_or_else(|e| panic!("{context:?}: {e}"));
        traces.push(format!("{:?}", observed.helper_calls));
    }
    // Every written/unwritten combination gave its own arguments.
    traces.sort();
    traces.dedup();
    assert_eq!(traces.len(), 8);
}

#[test]
fn registers_written_before_every_helper_call_need_no_zero() {
    let src = format!(
        "
        mov %r3, 1
        ldxb %r4, [%r1+0]
        jeq %r4, 0, skip
        mov %r5, 2
    skip:
        mov %r5, 3
        call {MIX}
        exit"
    );
    let program = femtoc_isa::assemble(&src).expect("assembles");
    let verified = verify_for_harness(&program).expect("verifies");
    let _ = verified;
}
