//! Counted loops whose span is proven inside the frame at every entry
//! (`femtoc_compiler::analysis::frame_span`): the Cranelift backend's
//! header then checks only the budget, and the Thumb-2 backend emits the
//! loop once, with no check. Every native engine must still agree with
//! the interpreter, under budgets that stop the loop anywhere, and a loop
//! that reaches one word past the frame must keep its checks and fault.
#![cfg(feature = "emu")]

use femtoc_compiler::{cranelift, thumb2};
use femtoc_conformance::engine::{run_on_every_engine, Case};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_isa::verifier::VerifiedProgram;
use femtoc_runtime::engine::Engine as EngineId;

/// The loops each backend proves in the frame: (Cranelift for every host
/// ISA, Thumb-2 for both cores).
fn proven(verified: &VerifiedProgram) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let host = [EngineId::X86_64, EngineId::Aarch64, EngineId::Riscv64gc]
        .into_iter()
        .map(|e| cranelift::compile(verified, e).expect("compiles").frame_checked_loops)
        .collect();
    let device = [EngineId::Thumbv7m, EngineId::Thumbv7em]
        .into_iter()
        .map(|e| thumb2::compile(verified, e).expect("compiles").frame_loops)
        .collect();
    (host, device)
}

/// Asserts that both backends prove exactly `loops` in the frame.
fn assert_proven(name: &str, verified: &VerifiedProgram, loops: &[u32]) {
    let (host, device) = proven(verified);
    for got in host.iter().chain(&device) {
        assert_eq!(got, loops, "{name}");
    }
}

/// Runs `verified` over every context and budget on the interpreter and
/// every native engine; returns how many runs under the first budget
/// stopped with an error.
fn agree(name: &str, verified: &VerifiedProgram, contexts: &[Vec<u8>], budgets: &[u64]) -> usize {
    let mut errors = 0;
    for context in contexts {
        for (k, &budget) in budgets.iter().enumerate() {
            let case = Case { program: verified, context: Some(context), budget: Some(budget) };
            let observed = run_on_every_engine(&case).unwrap_or_else(|e| {
                panic!("{name}, context of {} bytes, budget {budget}: {e}", context.len())
            });
            if k == 0 {
                errors += usize::from(observed.result.is_err());
            }
        }
    }
    errors
}

/// Asserts that the Cranelift backend checks `loops` once before they run.
fn assert_hoisted(verified: &VerifiedProgram, loops: &[u32]) {
    for e in [EngineId::X86_64, EngineId::Aarch64, EngineId::Riscv64gc] {
        assert_eq!(cranelift::compile(verified, e).expect("compiles").hoisted_loops, loops, "{e}");
    }
}

fn verified(src: &str) -> VerifiedProgram {
    let program = femtoc_isa::assemble(src).expect("assembles");
    verify_for_harness(&program).expect("verifies")
}

/// An insertion sort of up to 16 words from the context (a count, then
/// the words) on the stack, returning a position-weighted checksum. The
/// inner loop's pointer starts at `r10 - 64 + 4 * i` for the outer index
/// `i` and shifts with a store at `store` from it: with 0 its span is
/// proven inside the 64-byte frame for every `i <= 15`; with 4 the last
/// outer iteration's first shift stores at `r10 + 0`, outside the stack.
fn insertion_sort(store: i32) -> String {
    format!(
        "
        ldxw %r3, [%r1+0]
        jle %r3, 16, fill0
        mov %r3, 16
    fill0:
        mov %r0, 0
        jlt %r3, 2, out
        mov %r4, %r10
        add %r4, -64
        mov %r2, %r1
        add %r2, 4
        mov %r5, 0
    fill:
        ldxw %r6, [%r2+0]
        stxw [%r4+0], %r6
        add %r2, 4
        add %r4, 4
        add %r5, 1
        jlt %r5, %r3, fill
        mov %r1, 1
        mov %r4, %r10
        add %r4, -60
    outer:
        mov %r5, %r1
        lsh %r5, 2
        mov %r6, %r10
        add %r6, -64
        add %r6, %r5
        ldxw %r5, [%r6+0]
        mov %r6, %r4
        mov %r7, %r1
        ja inner
    inner:
        ldxw %r9, [%r6-4]
        mov %r8, %r7
        jle32 %r9, %r5, place
        add %r7, -1
        stxw [%r6+{store}], %r9
        mov %r8, 0
        add %r6, -4
        jne %r7, 0, inner
    place:
        lsh %r8, 2
        mov %r6, %r10
        add %r6, -64
        add %r6, %r8
        stxw [%r6+0], %r5
        add %r1, 1
        add %r4, 4
        jge %r1, %r3, sum
        jlt %r1, 16, outer
    sum:
        mov %r2, 0
        mov %r4, %r10
        add %r4, -64
    add:
        ldxw %r5, [%r4+0]
        add %r2, 1
        mul %r5, %r2
        add %r0, %r5
        add %r4, 4
        jlt %r2, %r3, add
    out:
        exit"
    )
}

/// Contexts for [`insertion_sort`]: a count, then `count` words (fewer
/// bytes if `len` is short), descending so every shift runs to the end.
fn sort_contexts(cases: &[(u32, usize)]) -> Vec<Vec<u8>> {
    cases
        .iter()
        .map(|&(count, len)| {
            let mut c = count.to_le_bytes().to_vec();
            for k in 0..16u32 {
                c.extend_from_slice(&(1000 - 7 * k + (k % 3)).to_le_bytes());
            }
            c.resize(len.max(4), 0x11);
            c
        })
        .collect()
}

/// The header of `insertion_sort`'s inner loop (`inner:`): ten slots
/// before `fill`'s six, then three, then `outer`'s nine.
const SORT_INNER: u32 = 28;

/// Every loop of `insertion_sort` checked once: `fill`, `inner` and the
/// checksum's `add` (`place` has nine slots after `inner`'s eight, then
/// three more).
const SORT_LOOPS: [u32; 3] = [10, SORT_INNER, 48];

/// Four word stores walking up from `r10 + start`, with a counter that is
/// exactly 4 at entry: the span is `[start, start + 16)`.
fn four_stores_from(start: i32) -> String {
    format!(
        "
        mov %r1, %r10
        add %r1, {start}
        mov %r7, 4
    loop:
        stxw [%r1+0], %r7
        add %r1, 4
        add %r7, -1
        jne %r7, 0, loop
        ldxw %r0, [%r10-16]
        exit"
    )
}

#[test]
fn an_inner_loop_tied_to_the_outer_index_is_proven_in_the_frame() {
    let v = verified(&insertion_sort(0));
    assert_proven("sort", &v, &[SORT_INNER]);
    assert_hoisted(&v, &SORT_LOOPS);
    // Budgets from none to more than the whole run (16 descending words
    // take 15 + 120 + 15 + 15 back edges) stop in every part of the inner
    // loop; the short contexts fault in the fill loop instead.
    let budgets: Vec<u64> = [2_000].into_iter().chain(0..=170).collect();
    agree("sort, budget sweep", &v, &sort_contexts(&[(16, 68)]), &budgets);
    let ctxs = sort_contexts(&[(2, 12), (5, 24), (9, 40), (16, 68), (40, 68), (16, 30), (3, 10)]);
    let errors = agree("sort", &v, &ctxs, &[2_000, 3, 20, 57]);
    assert_eq!(errors, 2, "the two short contexts fault while filling");
}

#[test]
fn an_inner_loop_reaching_past_the_frame_keeps_its_checks() {
    // The shift stores one word higher: with 16 words, the last outer
    // iteration's first shift stores at r10 + 0, so the span is not
    // proven, and the checked code faults in the middle of the sort with
    // the earlier shifts written.
    let v = verified(&insertion_sort(4));
    assert_proven("sort past the frame", &v, &[]);
    assert_hoisted(&v, &SORT_LOOPS);
    let budgets: Vec<u64> = [2_000].into_iter().chain((0..=170).step_by(7)).collect();
    let ctxs = sort_contexts(&[(16, 68), (15, 64), (4, 20)]);
    let errors = agree("sort past the frame", &v, &ctxs, &budgets);
    assert_eq!(errors, 1, "only the 16 words reach r10");
}

#[test]
fn a_span_ending_at_the_frame_top_is_proven_and_one_word_more_faults() {
    // Ending exactly at r10 is inside the frame; four bytes higher the
    // last store hits r10 + 0, outside the stack, and must fault there.
    for (start, loops, faults) in [(-16, vec![3], 0), (-12, vec![], 1)] {
        let v = verified(&four_stores_from(start));
        assert_proven(&format!("four stores from {start}"), &v, &loops);
        let budgets: Vec<u64> = [100].into_iter().chain(0..=5).collect();
        let errors = agree("four stores", &v, &[vec![0u8; 8]], &budgets);
        assert_eq!(errors, faults, "{start}");
    }
}
