//! Local calls on every native engine against the interpreter: callee-saved
//! registers (wide and narrow values) survive calls through a call graph
//! where one function is reached at two depths, callees with several
//! exits, the frame pointer across calls, and budgets that run out inside
//! nested calls. On Thumb-2 each callee saves only the registers it writes
//! in a save area fixed by its call level (`thumb2::regmap`), so these
//! programs mix functions that write different subsets of r6..r9.
#![cfg(feature = "emu")]

use femtoc_conformance::engine::{run_on_every_engine, Case};
use femtoc_conformance::runner::verify_for_harness;

/// Runs `src` on every engine for each input byte and budget; returns how
/// many (input, budget) runs the interpreter stopped with an error.
fn agree(name: &str, src: &str, inputs: &[u8], budgets: &[Option<u64>]) -> usize {
    let program = femtoc_isa::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut errors = 0;
    for &x in inputs {
        for &budget in budgets {
            let context = [x, 0, 0, 0];
            let case = Case { program: &verified, context: Some(&context), budget };
            let reference = run_on_every_engine(&case)
                .unwrap_or_else(|e| panic!("{name}: x = {x}, budget {budget:?}: {e}"));
            errors += usize::from(reference.result.is_err());
        }
    }
    errors
}

/// main calls f and g; f calls g, so g's level is 2 while main also calls
/// it from level 0. f writes r6 and r8 (wide) and r7 (narrow); g writes
/// r9 and has two exits; both use their own frames through r10.
const DIAMOND: &str = "
        ldxb %r2, [%r1+0]
        stxdw [%r10-16], %r2
        lddw %r6, 0x1111111100000006
        lddw %r7, 0x2222222200000007
        lddw %r8, 0x3333333300000008
        lddw %r9, 0x4444444400000009
        stxdw [%r10-8], %r6
        mov %r1, %r2
        call local f
        stxdw [%r10-24], %r0
        ldxdw %r1, [%r10-16]
        add %r1, 1
        call local g
        ldxdw %r3, [%r10-24]
        add %r3, %r0
        ldxdw %r4, [%r10-8]
        xor %r3, %r4
        mov %r0, %r6
        lsh %r0, 7
        xor %r0, %r7
        lsh %r0, 7
        xor %r0, %r8
        lsh %r0, 7
        xor %r0, %r9
        add %r0, %r3
        exit
    f:
        lddw %r6, 0x7777777700000001
        mov %r8, %r1
        lsh %r8, 40
        mov32 %r7, %r1
        stxdw [%r10-8], %r8
        call local g
        ldxdw %r2, [%r10-8]
        add %r0, %r2
        add %r0, %r6
        add %r0, %r7
        exit
    g:
        lddw %r9, 0x5555555500000003
        stxdw [%r10-16], %r9
        mov %r0, %r1
        and %r0, 1
        jeq %r0, 0, even
        ldxdw %r0, [%r10-16]
        exit
    even:
        mov %r0, %r9
        add %r0, %r1
        exit";

#[test]
fn callee_saved_registers_survive_calls_at_every_level() {
    let errors = agree("diamond", DIAMOND, &[0, 1, 2, 7, 200, 255], &[None, Some(1000)]);
    assert_eq!(errors, 0, "no run stops");
}

#[test]
fn budgets_run_out_inside_nested_calls() {
    // Every call and backward jump is a budget event: budgets 0.. stop the
    // run at each event in turn, inside the callees too.
    let src = "
        mov %r6, 3
        mov %r7, 0
    again:
        mov %r1, %r6
        call local f
        add %r7, %r0
        sub %r6, 1
        jne %r6, 0, again
        mov %r0, %r7
        exit
    f:
        mov %r6, %r1
        mov %r0, 0
    spin:
        add %r0, %r6
        sub %r6, 1
        jne %r6, 0, spin
        call local g
        exit
    g:
        mov %r8, 9
        mov %r0, %r1
        add %r0, %r8
        exit";
    let budgets: Vec<Option<u64>> = (0..24).map(Some).chain([None]).collect();
    let stops = agree("nested budget", src, &[0], &budgets);
    assert!(stops > 10 && stops < 24, "{stops} of 24 budgets stop the run");
}

#[test]
fn r10_moves_for_every_callee_whose_call_tree_reads_it() {
    // `h` never reads r10 itself but calls `k`, which writes [r10-8]: the
    // call to h must still move r10 below main's frame, or k's store
    // lands on main's word. `m` reads r10 nowhere in its tree, so the
    // Thumb-2 backend leaves r10 alone around that call; nothing can tell.
    let src = "
        ldxb %r6, [%r1+0]
        stxdw [%r10-8], %r6
        mov %r1, %r6
        call local h
        mov %r7, %r0
        mov %r1, %r6
        call local m
        add %r7, %r0
        ldxdw %r0, [%r10-8]
        lsh %r0, 16
        add %r0, %r7
        exit
    h:
        add %r1, 3
        call local k
        add %r0, 1
        exit
    k:
        stxdw [%r10-8], %r1
        ldxdw %r0, [%r10-8]
        mul %r0, 5
        exit
    m:
        mov %r0, %r1
        xor %r0, 0x55
        exit";
    let errors = agree("frame readers", src, &[0, 1, 9, 255], &[None, Some(0), Some(1), Some(3)]);
    assert!(errors > 0 && errors < 16, "{errors} runs stop on the budget");
}
