//! Loops checked once before they run on the Cranelift engines
//! (`femtoc_compiler::analysis::loops`), against the interpreter, on
//! `x86_64` (natively, where the host is one) and on `aarch64` and
//! `riscv64gc` (emulated). Each program runs over contexts that make the
//! span check pass, fail by one byte (so the checked copy must fault at the
//! exact pc, address and budget), or fail on the counter or an overflow,
//! under budgets that also stop some runs part-way.
#![cfg(feature = "emu")]

use femtoc_compiler::cranelift;
use femtoc_conformance::engine::{engine_by_name, Case, Engine, Interpreter};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_runtime::engine::Engine as EngineId;
use femtoc_runtime::host_exec::HOST_ENGINE;

/// The Cranelift engines this test drives (x86_64 only on an x86-64 host).
fn engines() -> Vec<(&'static str, EngineId)> {
    let mut out = vec![("aarch64", EngineId::Aarch64), ("riscv64gc", EngineId::Riscv64gc)];
    if HOST_ENGINE == Some(EngineId::X86_64) {
        out.insert(0, ("x86_64", EngineId::X86_64));
    }
    out
}

/// Runs `src` over every context and budget on the interpreter and each
/// Cranelift engine. `hoisted` is the header pcs the backend must check
/// once (so that the test keeps exercising what it is about). Returns how
/// many runs (with the large budget) stopped with an error.
fn agree(name: &str, src: &str, contexts: &[Vec<u8>], hoisted: &[u32]) -> usize {
    agree_with(name, src, contexts, hoisted, &[2_000, 3])
}

/// [`agree`] under the given budgets.
fn agree_with(
    name: &str,
    src: &str,
    contexts: &[Vec<u8>],
    hoisted: &[u32],
    budgets: &[u64],
) -> usize {
    let program = femtoc_isa::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut errors = 0;
    for (engine_name, id) in engines() {
        let code = cranelift::compile(&verified, id).expect("compiles");
        assert_eq!(code.hoisted_loops, hoisted, "{name} on {engine_name}");
        let mut engine = engine_by_name(engine_name).expect("engine");
        for context in contexts {
            for &budget in budgets {
                let case =
                    Case { program: &verified, context: Some(context), budget: Some(budget) };
                let reference = Interpreter.execute(&case).expect("interpreter runs");
                if budget == budgets[0] && engine_name == "aarch64" {
                    errors += usize::from(reference.result.is_err());
                }
                let got = engine.execute(&case).expect("engine runs");
                assert_eq!(
                    got,
                    reference,
                    "{name} on {engine_name}, context {:?} ({} bytes), budget {budget}",
                    &context[..8],
                    context.len()
                );
            }
        }
    }
    errors
}

/// Contexts starting with the little-endian 64-bit `head`, `len` bytes
/// long in all (at least 8).
fn contexts(cases: &[(u64, usize)]) -> Vec<Vec<u8>> {
    cases
        .iter()
        .map(|&(head, len)| {
            let mut c: Vec<u8> =
                (0..len.max(8)).map(|i| (i as u8).wrapping_mul(29) ^ 0x5a).collect();
            c[..8].copy_from_slice(&head.to_le_bytes());
            c
        })
        .collect()
}

/// Contexts starting with two little-endian 32-bit words.
fn contexts2(cases: &[(u32, u32, usize)]) -> Vec<Vec<u8>> {
    let heads: Vec<(u64, usize)> =
        cases.iter().map(|&(a, b, len)| (u64::from(a) | (u64::from(b) << 32), len)).collect();
    contexts(&heads)
}

#[test]
fn a_counted_byte_sum_with_a_32_bit_counter() {
    // count bytes from offset 8: in bounds iff 8 + count <= len. A 32-bit
    // counter of 0 runs 2^32 iterations: the checked copy faults at the
    // end of the context.
    let src = "
        ldxw %r7, [%r1+0]
        mov %r6, %r1
        mov %r0, 0
    loop:
        ldxb %r3, [%r6+8]
        add %r0, %r3
        add %r6, 1
        add32 %r7, -1
        jne %r7, 0, loop
        exit";
    let cases = [(1, 9), (1, 8), (10, 18), (10, 17), (10, 40), (300, 308), (300, 307), (0, 64)];
    let errors = agree("byte sum", src, &contexts(&cases), &[3]);
    assert_eq!(errors, 4, "one short, and the zero counter");
}

#[test]
fn a_budget_just_short_of_the_back_edges_stops_at_the_same_one() {
    // The header runs the unchecked copy only if the budget covers every
    // back edge the loop can take (count - 1 here, or the index's range);
    // that copy then counts without testing. Budgets around that number,
    // with the loop running in full or leaving early at a byte of 0xff,
    // must stop at (or pass) the same back edge as the interpreter and
    // report the same budget use.
    let counted = "
        ldxw %r7, [%r1+0]
        mov %r6, %r1
        mov %r0, 0
    loop:
        ldxb %r3, [%r6+8]
        jeq %r3, 255, out
        add %r0, %r3
        add %r6, 1
        add %r7, -1
        jne %r7, 0, loop
    out:
        exit";
    let index = "
        ldxw %r7, [%r1+0]
        mov %r6, 0
        mov %r0, 0
    loop:
        mov %r2, %r1
        add %r2, %r6
        ldxb %r3, [%r2+8]
        jeq %r3, 255, out
        add %r0, %r3
        add %r6, 1
        jlt %r6, %r7, loop
    out:
        exit";
    let mut ctxs = contexts(&[(6, 24), (1, 24)]);
    let mut early = contexts(&[(6, 24)]).remove(0);
    early[8 + 3] = 0xff;
    ctxs.push(early);
    // Six iterations take five back edges (the budget counts only those).
    let budgets = [2_000, 0, 1, 3, 4, 5, 6, 7];
    for (name, src, head) in [("counted", counted, 3), ("index", index, 3)] {
        let errors = agree_with(name, src, &ctxs, &[head], &budgets);
        assert_eq!(errors, 0, "{name}: every context fits");
    }
}

#[test]
fn a_64_bit_counter_of_zero_or_overflowing_the_span_is_refused() {
    // A 64-bit count from the context, words of 8 bytes: (count - 1) * 8
    // wraps 64 bits for the large counts, and 0 means 2^64 iterations.
    // Each must run the checked loop, which faults where the context
    // ends; a check that wrapped into a pass would run off it.
    let src = "
        ldxdw %r7, [%r1+0]
        mov %r6, %r1
        mov %r0, 0
    loop:
        ldxdw %r3, [%r6+8]
        add %r0, %r3
        add %r6, 8
        add %r7, -1
        jne %r7, 0, loop
        exit";
    let cases = [
        (0, 64),
        ((1 << 61) + 1, 64),
        ((1 << 61) + 2, 64),
        (u64::MAX, 64),
        (u64::MAX / 8 + 2, 64),
        (7, 64),
        (8, 64),
    ];
    let errors = agree("64-bit counter", src, &contexts(&cases), &[3]);
    assert_eq!(errors, 6, "all but a count of 7 run past the context");
}

#[test]
fn accesses_after_the_advance_and_below_the_pointer() {
    // A byte before the advance by three, a halfword after it: iteration
    // k reads bytes 9 + 3k and 7 + 3k..9 + 3k. n iterations need 3n + 7
    // bytes past the count.
    let src = "
        mov %r0, 0
        ldxw %r7, [%r1+0]
        jeq %r7, 0, out
        mov %r6, %r1
    loop:
        ldxb %r4, [%r6+9]
        add %r6, 3
        ldxh %r3, [%r6+4]
        lsh %r4, 16
        add %r0, %r3
        xor %r0, %r4
        sub %r7, 1
        jne %r7, 0, loop
    out:
        exit";
    let cases = [(1, 10), (1, 9), (5, 22), (5, 21), (5, 40), (0, 30)];
    let errors = agree("after the advance", src, &contexts(&cases), &[4]);
    assert_eq!(errors, 2);
}

#[test]
fn a_negative_stride_with_an_early_exit() {
    // count words read from offset top down by 4 (top and count from the
    // context), each replaced by the running sum (so the write permission
    // is checked too), stopping early at a word equal to 7. The lowest
    // read is top - 4 * (count - 1): it leaves the context below its start
    // as soon as that is negative, at the exact iteration.
    let src = "
        mov %r0, 0
        ldxw %r7, [%r1+0]
        ldxw %r2, [%r1+4]
        jeq %r7, 0, out
        mov %r6, %r1
        add %r6, %r2
    loop:
        ldxw %r3, [%r6+0]
        jeq32 %r3, 7, out
        add %r0, %r3
        stxw [%r6+0], %r0
        add %r6, -4
        add %r7, -1
        jne %r7, 0, loop
    out:
        exit";
    let mut ctxs = contexts2(&[
        (4, 12, 40),
        (4, 11, 40),
        (5, 20, 40),
        (6, 20, 40),
        (2, 36, 40),
        (2, 37, 40),
        (0x4000_0000, 36, 40),
    ]);
    // The stop value at offset 12: a run from 20 ends there, before the
    // low end of its span (below the context) that the check refuses.
    for ctx in contexts2(&[(8, 20, 40), (4, 13, 40)]) {
        let mut early = ctx;
        early[12..16].copy_from_slice(&7u32.to_le_bytes());
        ctxs.push(early);
    }
    let errors = agree("negative stride", src, &ctxs, &[6]);
    assert_eq!(errors, 3, "one byte below the start, one past the end, and the huge count");
}

#[test]
fn a_pointer_down_through_the_stack_like_an_insertion_sort() {
    // Fills a stack array from the context, then shifts its top words up
    // by one while they are above the key (the insertion step of a sort),
    // through a pointer going down by 4 with a counter and an early exit.
    // The counter comes from the context: past 7 it reads below the array
    // (still the stack), and a long one makes the span larger than the
    // stack, so the checked copy runs.
    let src = "
        ldxw %r7, [%r1+0]
        ldxw %r5, [%r1+4]
        ldxdw %r2, [%r1+8]
        stxdw [%r10-8], %r2
        ldxdw %r2, [%r1+16]
        stxdw [%r10-16], %r2
        ldxdw %r2, [%r1+24]
        stxdw [%r10-24], %r2
        ldxdw %r2, [%r1+32]
        stxdw [%r10-32], %r2
        mov %r0, 0
        jeq %r7, 0, out
        mov %r6, %r10
        add %r6, -4
    loop:
        ldxw %r9, [%r6-4]
        jle32 %r9, %r5, out
        stxw [%r6+0], %r9
        add %r0, 1
        add %r6, -4
        add %r7, -1
        jne %r7, 0, loop
    out:
        ldxw %r2, [%r10-4]
        add %r0, %r2
        exit";
    let ctxs = contexts2(&[
        (3, 0, 40),
        (7, 0, 40),
        (8, 0, 40),
        (40, 0, 40),
        (100_000, 0, 40),
        (8, 0x7f7f_7f7f, 40),
    ]);
    agree("insertion shift", src, &ctxs, &[14]);
}

#[test]
fn an_index_loop_through_base_plus_index() {
    // hash's shape: r4 = r2 + r1 each iteration, r1 from i0 up to n, both
    // from the context; the body runs once when i0 >= n.
    let src = "
        ldxw %r1, [%r1+0]
        ldxw %r3, [%r6+4]
        mov %r2, %r6
        add %r2, 8
        mov %r0, 0
    loop:
        mov %r4, %r2
        add %r4, %r1
        ldxb %r4, [%r4+0]
        xor32 %r0, %r4
        mul32 %r0, 16777619
        add %r1, 1
        jlt %r1, %r3, loop
        exit";
    let src = format!("mov %r6, %r1\n{src}");
    let cases = [
        (0, 1, 9),
        (0, 1, 8),
        (0, 20, 28),
        (0, 20, 27),
        (5, 20, 28),
        (5, 20, 27),
        (30, 20, 39),
        (30, 20, 38),
        (19, 20, 28),
        (0, 0, 9),
        (0, 0, 8),
        (0, 0xffff_ffff, 64),
    ];
    let errors = agree("index loop", &src, &contexts2(&cases), &[6]);
    assert_eq!(errors, 6);
}

#[test]
fn an_index_loop_with_a_step_of_two_an_access_after_it_and_a_constant_bound() {
    // i from i0 by 2 while i < 40: reads the byte at 8 + i and, after
    // the increment, the halfword at i + 2 + 5. The check bounds the last
    // i by n - 1 = 39, one step more than i0 = 0 reaches: it then needs a
    // byte the loop does not read, and the checked copy runs instead.
    let src = "
        ldxw %r1, [%r6+0]
        mov %r0, 0
    loop:
        mov %r4, %r1
        add %r4, %r6
        ldxb %r3, [%r4+8]
        add %r1, 2
        mov %r5, %r6
        add %r5, %r1
        ldxh %r2, [%r5+5]
        add %r0, %r3
        add %r0, %r2
        jlt %r1, 40, loop
        exit";
    let src = format!("mov %r6, %r1\n{src}");
    // The last i reads up to byte i + 8: 38 for i0 = 0, 39 for i0 = 1 or
    // 39, and i0 itself from 40 on.
    let cases =
        [(0, 49), (0, 47), (0, 46), (1, 48), (1, 47), (39, 48), (39, 47), (50, 59), (50, 58)];
    let errors = agree("step of two", &src, &contexts(&cases), &[3]);
    assert_eq!(errors, 4, "the one-short contexts");
}

#[test]
fn an_index_wrapping_past_2_to_the_64_is_refused() {
    // i0 = 2^64 - 1 and base = ctx + 1: the first iteration reads ctx + 0
    // (the sum wraps), then i wraps to 0 and the loop goes on while
    // i < n. A check that took i0 >= n as one iteration, or let the base
    // plus index wrap, would skip the fault at the context's end.
    let src = "
        mov %r6, %r1
        ldxdw %r1, [%r6+0]
        mov %r3, 12
        mov %r2, %r6
        add %r2, 1
        mov %r0, 0
    loop:
        mov %r4, %r2
        add %r4, %r1
        ldxb %r4, [%r4+0]
        add %r0, %r4
        add %r1, 1
        jlt %r1, %r3, loop
        exit";
    let cases = [(u64::MAX, 13), (u64::MAX, 12), (u64::MAX - 1, 12), (0, 13), (0, 12)];
    let errors = agree("index wrap", src, &contexts(&cases), &[6]);
    assert_eq!(errors, 3);
}

#[test]
fn other_shapes_stay_checked_every_iteration() {
    let cases = contexts(&[(3, 14), (3, 13), (4, 20)]);
    // An index copied at the top and advanced from the copy, compared in
    // 32 bits only (so nothing bounds the loop).
    let copy32 = "
        ldxw %r3, [%r1+0]
        mov %r6, 0
        mov %r0, 0
    loop:
        mov %r5, %r6
        ldxb %r6, [%r1+8]
        add %r0, %r6
        add %r1, 1
        mov %r6, %r5
        add %r6, 1
        jlt32 %r5, %r3, loop
        exit";
    agree("copy compared in 32 bits", copy32, &cases, &[]);
    // The counter steps by two. (Its header comes before any jump, in
    // the entry's straight-line prefix: the verifier's min_ctx_len covers
    // the first iteration's load only, and the later ones must still
    // fault where the context ends.)
    let by_two = "
        ldxw %r7, [%r1+0]
        mov %r6, %r1
        mov %r0, 0
    loop:
        ldxb %r3, [%r6+8]
        add %r0, %r3
        add %r6, 1
        add32 %r7, -2
        jne %r7, 0, loop
        exit";
    agree("counter by two", by_two, &cases, &[]);
    // A jump lands inside the body, past the header.
    let inside = "
        ldxw %r7, [%r1+0]
        mov %r6, %r1
        mov %r0, 0
        jeq %r7, 3, mid
    loop:
        ldxb %r3, [%r6+8]
        add %r0, %r3
    mid:
        add %r6, 1
        add %r7, -1
        jne %r7, 0, loop
        exit";
    agree("jump inside", inside, &cases, &[]);
    // A 32-bit pointer step, and the bound written in an index loop.
    let step32 = "
        ldxw %r3, [%r1+0]
        mov %r2, %r1
        mov %r1, 0
        mov %r0, 0
    loop:
        mov %r4, %r2
        add %r4, %r1
        ldxb %r4, [%r4+8]
        add %r0, %r4
        add32 %r1, 1
        jlt %r1, %r3, loop
        exit";
    agree("32-bit index step", step32, &cases, &[]);
    let bound_moves = "
        ldxw %r3, [%r1+0]
        mov %r2, %r1
        mov %r1, 0
        mov %r0, 0
    loop:
        mov %r4, %r2
        add %r4, %r1
        ldxb %r4, [%r4+8]
        add %r0, %r4
        add %r3, -1
        add %r1, 1
        jlt %r1, %r3, loop
        exit";
    agree("bound written", bound_moves, &cases, &[]);
}

/// Counts `c` (the first word) and context lengths for the sort-like
/// loops below, which handle `min(max(c, 1), 32)` words from byte 8: in
/// bounds iff `len >= 8 + 4 * words`.
const SORT_CASES: [(u32, u32, usize); 11] = [
    (1, 0, 12),
    (1, 0, 11),
    (0, 0, 12),
    (0, 0, 11),
    (5, 0, 28),
    (5, 0, 27),
    (32, 0, 136),
    (32, 0, 135),
    (40, 0, 136),
    (u32::MAX, 0, 136),
    (100, 0, 60),
];

#[test]
fn an_index_copied_at_the_top_with_a_context_and_a_stack_pointer() {
    // The first loop of the benchmark sort: the index (from 1) is copied
    // at the top, the original reused for the word being built and then
    // advanced from the copy; an exit compares the copy with the count,
    // the back edge with 32. Bytes come through one pointer (the
    // context), words go through another (the stack), each advanced by
    // 4: two spans, each checked once.
    let src = "
        ldxw %r3, [%r1+0]
        mov %r0, 0
        mov %r6, 1
        mov %r4, %r10
        add %r4, -128
        add %r1, 11
    loop:
        mov %r5, %r6
        ldxb %r6, [%r1-2]
        lsh32 %r6, 8
        ldxb %r7, [%r1-3]
        or32 %r6, %r7
        ldxb %r7, [%r1-1]
        lsh32 %r7, 16
        or32 %r6, %r7
        ldxb %r7, [%r1+0]
        lsh32 %r7, 24
        or32 %r6, %r7
        stxw [%r4+0], %r6
        add %r0, %r6
        jge %r5, %r3, out
        add %r1, 4
        add %r4, 4
        mov %r6, %r5
        add %r6, 1
        jlt %r5, 32, loop
    out:
        ldxw %r2, [%r10-128]
        add %r0, %r2
        exit";
    // Five words take four back edges.
    let budgets = [2_000, 0, 3, 4, 5, 31];
    let errors = agree_with("sort fill", src, &contexts2(&SORT_CASES), &[6], &budgets);
    assert_eq!(errors, 5, "the one-short contexts and 100 words in 60 bytes");
}

#[test]
fn an_index_copied_at_the_top_with_one_pointer() {
    // The last loop of the benchmark sort: a weighted sum of words, the
    // index copied at the top, its register reused for the word.
    let src = "
        ldxw %r3, [%r1+0]
        mov %r4, 0
        mov %r5, 1
        add %r1, 8
    loop:
        mov %r2, %r5
        ldxw %r5, [%r1+0]
        mov %r0, %r2
        mul %r0, %r5
        add %r0, %r4
        jge %r2, %r3, out
        add %r1, 4
        mov %r5, %r2
        add %r5, 1
        mov %r4, %r0
        jlt %r2, 32, loop
    out:
        exit";
    let errors = agree("weighted sum", src, &contexts2(&SORT_CASES), &[4]);
    assert_eq!(errors, 5, "the one-short contexts and 100 words in 60 bytes");
}

#[test]
fn a_pointer_advanced_twice_and_a_stack_pointer() {
    // count pairs of bytes from byte 8, copied to the stack from
    // r10 - 128, each pointer advanced by 1 twice per iteration (so
    // neither is a single-span induction register): in bounds iff
    // 8 + 2 * count <= len and count <= 64. A 32-bit count of 0 runs 2^32
    // iterations.
    let src = "
        ldxw %r7, [%r1+0]
        mov %r6, %r1
        mov %r8, %r10
        add %r8, -128
        mov %r0, 0
    loop:
        ldxb %r3, [%r6+8]
        add %r6, 1
        ldxb %r4, [%r6+8]
        add %r6, 1
        stxb [%r8+0], %r3
        add %r8, 1
        stxb [%r8+0], %r4
        add %r8, 1
        add %r0, %r4
        add32 %r7, -1
        jne %r7, 0, loop
        ldxb %r2, [%r10-128]
        add %r0, %r2
        exit";
    let cases = [(3, 0, 14), (3, 0, 13), (64, 0, 136), (65, 0, 138), (0, 0, 64), (100, 0, 60)];
    let errors = agree("two pointers", src, &contexts2(&cases), &[5]);
    assert_eq!(errors, 4, "one byte short, the 65th store, the zero count, 100 pairs");
}

#[test]
fn an_index_loop_whose_base_moves_too() {
    // r4 = r2 + r1 with both advanced by 1: iteration k reads byte
    // 8 + 2k, for max(n, 1) iterations: in bounds iff len >= 2 * that + 7.
    let src = "
        ldxw %r3, [%r1+0]
        mov %r2, %r1
        add %r2, 8
        mov %r1, 0
        mov %r0, 0
    loop:
        mov %r4, %r2
        add %r4, %r1
        ldxb %r4, [%r4+0]
        add %r0, %r4
        add %r2, 1
        add %r1, 1
        jlt %r1, %r3, loop
        exit";
    let cases =
        [(1, 0, 9), (1, 0, 8), (10, 0, 27), (10, 0, 26), (0, 0, 9), (0, 0, 8), (u32::MAX, 0, 64)];
    let errors = agree("moving base", src, &contexts2(&cases), &[5]);
    assert_eq!(errors, 4, "the one-short contexts and the huge bound");
}

#[test]
fn a_counted_copy_without_checks_leaves_the_budget_to_its_exits() {
    // Every access of this loop is hoisted, so its unchecked copy counts
    // no back edge and its exits subtract them from the counter: one exit
    // comes after the decrement (at a byte of 0xff), the other is the back
    // edge. A spin loop after it then runs out of budget at the same back
    // edge as the interpreter only if the loop's count was exact.
    let src = "
        ldxw %r7, [%r1+0]
        mov %r6, %r1
        mov %r0, 0
    loop:
        ldxb %r3, [%r6+8]
        add %r6, 1
        add %r7, -1
        jeq %r3, 255, out
        add %r0, %r3
        jne %r7, 0, loop
    out:
        mov %r9, 50
    spin:
        add %r9, -1
        jne %r9, 0, spin
        exit";
    let mut ctxs = contexts(&[(20, 40), (3, 12)]);
    let mut early = contexts(&[(20, 40)]).remove(0);
    early[8 + 5] = 0xff;
    ctxs.push(early);
    // 19 or 5 back edges in the loop (2 for the short one), 49 spinning.
    let budgets = [2_000, 68, 67, 54, 53, 51, 50, 5, 4, 0];
    let errors = agree_with("budget at the exits", src, &ctxs, &[3], &budgets);
    assert_eq!(errors, 0);
}
