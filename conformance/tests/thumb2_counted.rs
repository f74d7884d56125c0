//! Counted loops on Thumb-2 (`femtoc_compiler::thumb2::lower::counted`):
//! a loop whose accesses through one pointer are checked once before it
//! runs, against the interpreter. Each program runs over contexts that make
//! the check pass, fail by one byte (so the checked copy faults at the
//! exact iteration), or fail on the counter (zero, or so large that the
//! span overflows 32 bits), under a budget that also stops some runs.
#![cfg(feature = "emu")]

use femtoc_compiler::thumb2;
use femtoc_conformance::engine::{Case, Engine, Interpreter};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_conformance::thumb::Thumb2;
use femtoc_runtime::engine::Engine as EngineId;

/// Runs `src` over every context on the interpreter and both Thumb-2
/// engines. `counted` is whether the backend must treat the loop as
/// counted (so that the test keeps exercising what it is about). Returns
/// how many runs stopped with an error.
fn agree(name: &str, src: &str, contexts: &[Vec<u8>], counted: bool) -> usize {
    let program = femtoc_isa::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{name}: {e}"));
    let code = thumb2::compile(&verified, EngineId::Thumbv7m).expect("compiles");
    assert_eq!(!code.counted_loops.is_empty(), counted, "{name}: {:?}", code.counted_loops);
    // Built for size, only loops proven inside the frame stay counted;
    // the others are emitted once, their accesses through checkers.
    let small = thumb2::compile_for(&verified, EngineId::Thumbv7m, thumb2::Goal::Size)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(small.counted_loops, small.frame_loops, "{name}: built for size");
    let mut errors = 0;
    for context in contexts {
        let case = Case { program: &verified, context: Some(context), budget: Some(2_000) };
        let reference = Interpreter.execute(&case).expect("interpreter runs");
        errors += usize::from(reference.result.is_err());
        for engine in [EngineId::Thumbv7m, EngineId::Thumbv7em] {
            for goal in [thumb2::Goal::Speed, thumb2::Goal::Size] {
                let got = Thumb2::built_for(engine, goal).execute(&case).expect("emulator runs");
                let ctx = &context[..4];
                assert_eq!(got, reference, "{name}, context {ctx:?}, {engine}, {goal:?}");
            }
        }
    }
    errors
}

/// Contexts starting with the 32-bit little-endian `count`, `len` bytes
/// long in all.
fn contexts(cases: &[(u32, usize)]) -> Vec<Vec<u8>> {
    cases
        .iter()
        .map(|&(count, len)| {
            let mut c: Vec<u8> =
                (0..len.max(4)).map(|i| (i as u8).wrapping_mul(29) ^ 0x5a).collect();
            c[..4].copy_from_slice(&count.to_le_bytes());
            c
        })
        .collect()
}

#[test]
fn a_byte_sum_checked_once() {
    // count bytes from offset 4: in bounds iff 4 + count <= len. The
    // counter is 32-bit, so a count of 0 runs until the context ends.
    let src = "
        ldxw %r7, [%r1+0]
        mov %r6, %r1
        mov %r0, 0
    loop:
        ldxb %r3, [%r6+4]
        add %r0, %r3
        add %r6, 1
        add32 %r7, -1
        jne %r7, 0, loop
        exit";
    let cases = [(1, 5), (1, 4), (10, 14), (10, 13), (10, 40), (200, 204), (200, 203), (0, 64)];
    let errors = agree("byte sum", src, &contexts(&cases), true);
    assert!(errors >= 4 && errors < cases.len(), "{errors} errors");
}

#[test]
fn accesses_after_the_advance_and_below_the_pointer() {
    // A byte before the advance by three, a halfword after it (at the
    // bytes before and after the byte); a 64-bit counter kept narrow by
    // the guard in front of the loop. Iteration k reads bytes 4 + 3k and
    // 5 + 3k: n iterations need 3n + 3 bytes.
    let src = "
        mov %r0, 0
        ldxw %r7, [%r1+0]
        jeq %r7, 0, out
        mov %r6, %r1
    loop:
        ldxb %r4, [%r6+5]
        add %r6, 3
        ldxh %r3, [%r6+1]
        lsh %r4, 16
        add %r0, %r3
        xor %r0, %r4
        sub %r7, 1
        jne %r7, 0, loop
    out:
        exit";
    let cases = [(1, 6), (1, 5), (5, 18), (5, 17), (5, 30), (0, 30)];
    let errors = agree("after the advance", src, &contexts(&cases), true);
    assert!(errors >= 2 && errors < cases.len(), "{errors} errors");
}

#[test]
fn stores_through_the_pointer() {
    // Writes each word back plus one: the write window is checked.
    let src = "
        ldxw %r7, [%r1+0]
        mov %r6, %r1
        mov %r0, 0
    loop:
        ldxw %r3, [%r6+4]
        add %r3, 1
        stxw [%r6+4], %r3
        add %r0, %r3
        add %r6, 4
        add32 %r7, -1
        jne %r7, 0, loop
        exit";
    let cases = [(1, 8), (1, 7), (4, 20), (4, 19), (4, 64)];
    let errors = agree("stores", src, &contexts(&cases), true);
    assert!(errors >= 2 && errors < cases.len(), "{errors} errors");
}

#[test]
fn a_span_overflowing_32_bits_falls_back_to_the_checked_loop() {
    // (count - 1) * 8 does not fit in 32 bits: the check must not wrap
    // into a pass. The loop faults at the end of the context.
    let src = "
        ldxw %r7, [%r1+0]
        mov %r6, %r1
        mov %r0, 0
    loop:
        ldxdw %r3, [%r6+0]
        add %r0, %r3
        add %r6, 8
        add32 %r7, -1
        jne %r7, 0, loop
        exit";
    let cases = [(0x2000_0001, 64), (0xffff_ffff, 64), (8, 64), (9, 64)];
    let errors = agree("overflow", src, &contexts(&cases), true);
    assert_eq!(errors, 3, "the long counts and 9 fault");
}

#[test]
fn other_shapes_stay_checked_every_iteration() {
    // The pointer advances twice per iteration: not a counted loop.
    let twice = "
        ldxw %r7, [%r1+0]
        mov %r6, %r1
        mov %r0, 0
    loop:
        ldxb %r3, [%r6+4]
        add %r6, 1
        add %r0, %r3
        add %r6, 1
        add32 %r7, -1
        jne %r7, 0, loop
        exit";
    let cases = [(3, 10), (3, 9), (4, 12)];
    agree("advanced twice", twice, &contexts(&cases), false);
    // The counter steps by two: the trip count is not the counter.
    let by_two = "
        ldxw %r7, [%r1+0]
        mov %r6, %r1
        mov %r0, 0
    loop:
        ldxb %r3, [%r6+4]
        add %r0, %r3
        add %r6, 1
        add32 %r7, -2
        jne %r7, 0, loop
        exit";
    agree("counter by two", by_two, &contexts(&[(4, 6), (4, 5), (6, 8)]), false);
}

#[test]
fn a_pointer_walking_down_with_an_early_exit() {
    // One insertion-sort step over context words: k times from word m
    // down, move each word not below the key up one place; stop at the
    // first below it. The pointer (r1 + 4m, kept as a pair) walks down by
    // 4; with k > m + 2 it would leave the context at its start.
    let src = "
        mov %r0, 0
        ldxw %r7, [%r1+0]
        ldxw %r5, [%r1+4]
        ldxw %r6, [%r1+8]
        jeq %r7, 0, out
        lsh %r6, 2
        add %r6, %r1
    loop:
        ldxw %r9, [%r6+4]
        jlt32 %r9, %r5, out
        stxw [%r6+8], %r9
        add %r6, -4
        add %r0, 1
        add %r7, -1
        jne %r7, 0, loop
    out:
        exit";
    // Word i (i >= 3) of the context is 10 * i; words 0..2 are k, the key
    // and m.
    let words = |k: u32, key: u32, m: u32, len: usize| -> Vec<u8> {
        let mut c: Vec<u8> =
            (0..len.div_ceil(4) as u32).flat_map(|i| (10 * i).to_le_bytes()).take(len).collect();
        c[..4].copy_from_slice(&k.to_le_bytes());
        c[4..8].copy_from_slice(&key.to_le_bytes());
        c[8..12].copy_from_slice(&m.to_le_bytes());
        c
    };
    // From word m the loop touches bytes up to 4m + 12; a key of 0 moves
    // everything, a key of 45 stops at word 4; k = m + 3 walks below the
    // context.
    let contexts = [
        words(3, 0, 5, 32),
        words(3, 0, 5, 31),
        words(6, 45, 8, 44),
        words(6, 45, 8, 43),
        words(8, 0, 5, 64),
        words(6, 0, 5, 64),
        words(1, 0, 2, 20),
    ];
    let errors = agree("walking down", src, &contexts, true);
    assert!(errors >= 3 && errors < contexts.len(), "{errors} errors");
}

#[test]
fn a_counter_kept_as_a_pair_must_start_below_2_to_the_32() {
    // A 64-bit counter: 2^32 + 3 would run past the context (and the
    // budget); the check must send it to the checked loop.
    let src = "
        ldxdw %r7, [%r1+0]
        mov %r6, %r1
        mov %r0, 0
        jeq %r7, 0, out
    loop:
        ldxb %r3, [%r6+8]
        add %r0, %r3
        add %r6, 1
        add %r7, -1
        jne %r7, 0, loop
    out:
        exit";
    let contexts: Vec<Vec<u8>> = [(3u64, 11usize), (3, 10), ((1 << 32) + 3, 11), (1 << 32, 64)]
        .iter()
        .map(|&(count, len)| {
            let mut c = vec![7u8; len];
            c[..8].copy_from_slice(&count.to_le_bytes());
            c
        })
        .collect();
    let errors = agree("pair counter", src, &contexts, true);
    assert_eq!(errors, 3, "all but the first run fault or run out of budget");
}

#[test]
fn loops_bounded_by_an_end_pointer() {
    // `jlt p, end`: a do-while, so with end <= p the body still runs once.
    // Iteration k reads [r1 + 4 + 3k, +2) for k = 0 and while 3k < n, so
    // with n the count in word 0 (end = r1 + n) they need
    // 6 + 3 * max(0, ceil(n / 3) - 1) bytes. Stride 3 is not a power of two.
    let by_three = "
        ldxw %r5, [%r1+0]
        add %r5, %r1
        mov %r6, %r1
        mov %r0, 0
    loop:
        ldxh %r3, [%r6+4]
        add %r0, %r3
        add %r6, 3
        jlt %r6, %r5, loop
        exit";
    let cases = [(0, 6), (0, 5), (3, 6), (4, 9), (4, 8), (9, 12), (9, 11), (30, 64), (30, 32)];
    let errors = agree("end pointer, stride 3", by_three, &contexts(&cases), true);
    assert!(errors >= 4 && errors < cases.len(), "{errors} errors");
    // Stride 4 with a word load after the advance.
    let by_four = "
        ldxw %r5, [%r1+0]
        add %r5, %r1
        mov %r6, %r1
        mov %r0, 0
    loop:
        add %r6, 4
        ldxw %r3, [%r6+0]
        add %r0, %r3
        jlt %r6, %r5, loop
        exit";
    let cases = [(4, 8), (4, 7), (8, 12), (8, 11), (9, 16), (9, 15), (0, 8)];
    let errors = agree("end pointer, stride 4", by_four, &contexts(&cases), true);
    assert!(errors >= 3 && errors < cases.len(), "{errors} errors");
}

#[test]
fn index_loops_over_a_base_plus_an_index() {
    // for (i = 0; i < n; i++) sum += ctx[4 + i], the address made afresh
    // in each iteration as base + index; n is word 0.
    let src = "
        ldxw %r3, [%r1+0]
        mov %r2, 0
        mov %r0, 0
    loop:
        mov %r4, %r1
        add %r4, %r2
        ldxb %r4, [%r4+4]
        add %r0, %r4
        add %r2, 1
        jlt %r2, %r3, loop
        exit";
    let cases = [(0, 5), (0, 4), (1, 5), (10, 14), (10, 13), (200, 204), (200, 203)];
    let errors = agree("index", src, &contexts(&cases), true);
    assert!(errors >= 3 && errors < cases.len(), "{errors} errors");
    // The address made after the index moved on by 2, read 3 bytes below
    // it, with a counter bounding the loop: iteration k reads byte
    // 4 + 2k + 1 of the context... (k + 1) * 2 + 3 - 2.
    let after = "
        ldxw %r7, [%r1+0]
        mov %r2, 0
        mov %r0, 0
        jeq %r7, 0, out
    loop:
        add %r2, 2
        mov %r4, %r2
        add %r4, %r1
        ldxh %r5, [%r4+3]
        add %r0, %r5
        add %r7, -1
        jne %r7, 0, loop
    out:
        exit";
    // n iterations read up to byte 2n + 5.
    let cases = [(1, 7), (1, 6), (5, 15), (5, 14), (0, 8)];
    let errors = agree("index after the advance", after, &contexts(&cases), true);
    assert!(errors >= 2 && errors < cases.len(), "{errors} errors");
    // The base moves too: not base + index.
    let moving = "
        ldxw %r3, [%r1+0]
        mov %r2, 0
        mov %r6, %r1
        mov %r0, 0
    loop:
        mov %r4, %r6
        add %r4, %r2
        ldxb %r4, [%r4+4]
        add %r0, %r4
        add %r6, 1
        add %r2, 1
        jlt %r2, %r3, loop
        exit";
    agree("moving base", moving, &contexts(&[(3, 12), (3, 9)]), false);
}
