//! Registers the Thumb-2 backend keeps as a low word only because the
//! range analysis (`femtoc_compiler::analysis::ranges`) bounds them where
//! their upper half matters, against the interpreter: loop counters bounded
//! by a compare, pointers advanced by what their loads cover, and the cases
//! where a value is or becomes wide and must keep its upper half (a counter
//! crossing 2^32, a compare on a former copy, a callee widening a register).
#![cfg(feature = "emu")]

use femtoc_compiler::analysis::{low_word_registers, narrow_registers, RangeConfig};
use femtoc_conformance::engine::{Case, Engine, Interpreter};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_conformance::thumb::Thumb2;
use femtoc_isa::Reg;
use femtoc_runtime::engine::Engine as EngineId;

/// Runs `src` on the interpreter and both Thumb-2 engines over each
/// context and checks that they agree. `low` and `full` name registers the
/// analysis must and must not keep as low words, so that the test keeps
/// exercising the case it is about.
fn agree(name: &str, src: &str, contexts: &[Vec<u8>], low: &[Reg], full: &[Reg]) {
    let program = femtoc_isa::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{name}: {e}"));
    let always = narrow_registers(&verified, Reg::R1.bit() | Reg::R2.bit());
    let set = low_word_registers(&verified, &RangeConfig::device32(0), always);
    for r in low {
        assert!(set & r.bit() != 0, "{name}: {r:?} should be kept as a low word");
    }
    for r in full {
        assert!(set & r.bit() == 0, "{name}: {r:?} must keep its upper half");
    }
    for context in contexts {
        let case = Case { program: &verified, context: Some(context), budget: Some(10_000) };
        let reference = Interpreter.execute(&case).expect("interpreter runs");
        for engine in [EngineId::Thumbv7m, EngineId::Thumbv7em] {
            let got = Thumb2::new(engine).execute(&case).expect("emulator runs");
            assert_eq!(got, reference, "{name}, context of {} bytes, {engine}", context.len());
        }
    }
}

fn le64(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn a_countdown_from_a_clamped_length() {
    // r7 = min(ctx[0], 5), counted down; r4 is wide between its copy and
    // the compare. Each iteration adds a context byte through a pointer
    // advanced by its load width, so short contexts fault mid-loop.
    let src = "
        ldxdw %r2, [%r1+0]
        jeq %r2, 0, out
        mov %r4, %r2
        jlt %r2, 5, take
        mov %r4, 5
    take:
        mov %r7, %r4
        mov %r6, %r1
        mov %r0, 0
    loop:
        ldxb %r3, [%r6+8]
        add %r0, %r3
        add %r6, 1
        add %r7, -1
        jne %r7, 0, loop
        exit
    out:
        mov %r0, 99
        exit";
    let mut contexts = Vec::new();
    for first in [0u64, 1, 3, 4, 5, 6, 1 << 32, u64::MAX] {
        for extra in [0usize, 2, 5, 8] {
            let mut c = le64(&[first]);
            c.extend((0..extra).map(|i| 0x10 + i as u8));
            contexts.push(c);
        }
    }
    agree("countdown", src, &contexts, &[Reg::R4, Reg::R6, Reg::R7], &[Reg::R2]);
}

#[test]
fn a_counter_crossing_2_to_the_32_keeps_its_upper_half() {
    let src = "
        ldxw %r7, [%r1+0]
        lddw %r8, 0x100000004
    loop:
        add %r7, 1
        jlt %r7, %r8, loop
        mov %r0, %r7
        rsh %r0, 32
        exit";
    let contexts = [0xffff_fff0u32, 0xffff_fffe, 0xffff_ffff]
        .iter()
        .map(|v| v.to_le_bytes().to_vec())
        .collect::<Vec<_>>();
    agree("crossing", src, &contexts, &[], &[Reg::R7]);
}

#[test]
fn a_compare_on_a_former_copy_refines_nothing() {
    let src = "
        ldxdw %r2, [%r1+0]
        mov %r4, %r2
        mov %r2, 7
        jlt %r2, 359, next
        mov %r0, 0
        exit
    next:
        mov %r0, %r4
        rsh %r0, 32
        exit";
    let contexts = [le64(&[5]), le64(&[1 << 40 | 3]), le64(&[u64::MAX])];
    agree("former copy", src, &contexts, &[], &[Reg::R4]);
}

#[test]
fn a_callee_widening_a_register_is_seen_after_the_call() {
    let src = "
        ldxb %r6, [%r1+0]
        mov %r1, %r6
        call local f
        mov %r0, %r6
        rsh %r0, 32
        exit
    f:
        lddw %r6, 0x300000000
        jeq %r1, 0, keep
        lddw %r6, 0x500000000
    keep:
        mov %r0, %r6
        exit";
    let contexts = [vec![0u8], vec![1u8]];
    agree("callee", src, &contexts, &[], &[Reg::R6]);
}

/// Fletcher-32's outer loop: `r4 = min(r2, 3); r2 -= r4` until r2 is zero.
/// The subtraction cannot wrap because r4 is at most r2 (a copy, or the
/// clamp on the edge where r2 >= 3). Without the clamp it can.
fn count_down_by_clamp(clamped: bool) -> String {
    let clamp = if clamped { "jlt %r2, 3, take" } else { "" };
    format!(
        "
        mov %r0, 0
        mov %r6, %r1
    outer:
        jeq %r2, 0, out
        mov %r4, %r2
        {clamp}
        mov %r4, 3
    take:
        sub %r2, %r4
        ldxb %r3, [%r6+0]
        add %r0, %r3
        add %r0, %r2
        add %r6, 1
        ja outer
    out:
        exit"
    )
}

#[test]
fn a_length_minus_its_clamp_stays_a_low_word() {
    let contexts: Vec<Vec<u8>> = [0usize, 1, 2, 3, 4, 7, 9]
        .iter()
        .map(|&n| (0..n).map(|i| 3 + 5 * i as u8).collect())
        .collect();
    agree("clamped", &count_down_by_clamp(true), &contexts, &[Reg::R2, Reg::R4], &[]);
    // Lengths 1 and 2 wrap r2 below zero; the loop then walks off the
    // context and faults.
    agree("unclamped", &count_down_by_clamp(false), &contexts, &[], &[Reg::R2]);
}

#[test]
fn a_register_minus_one_a_compare_put_below_it_stays_a_low_word() {
    // Taken when r3 > r2, so the fall-through has r3 <= r2. Jumping when
    // r3 < r2 leaves r3 >= r2 instead, and r2 - r3 wraps unless equal.
    let src = |jump: &str| {
        format!(
            "
        ldxb %r3, [%r1+0]
        mov %r0, 1
        {jump} %r3, %r2, out
        sub %r2, %r3
        mov %r0, %r2
        add %r0, %r2
    out:
        exit"
        )
    };
    let contexts: Vec<Vec<u8>> = [(1u8, 1usize), (1, 4), (4, 4), (9, 4), (0, 3), (200, 200)]
        .iter()
        .map(|&(first, len)| (0..len).map(|i| if i == 0 { first } else { i as u8 }).collect())
        .collect();
    agree("below", &src("jgt"), &contexts, &[Reg::R2], &[]);
    agree("above", &src("jlt"), &contexts, &[], &[Reg::R2]);
}
