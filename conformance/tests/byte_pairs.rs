//! Halfwords assembled from two byte loads (`analysis::byte_pairs`) become
//! one halfword load on the engines that combine them. Every order of the
//! four instructions, at every position across the context's edges (the
//! low byte out and the high byte in, both in, the high byte out) and at
//! odd and even addresses, must agree with the interpreter: the same
//! value in both registers, or the same fault at the same pc and address.
#![cfg(feature = "emu")]

use femtoc_conformance::engine::{run_on_every_engine, Case};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_runtime::error::{RunError, RunErrorKind};

/// The four instructions in each order the analysis accepts, high byte in
/// r3 and low byte in r4, read through r1 at offsets 6 and 7: little-endian
/// (the high byte at 7), then network order (the high byte at 6).
const ORDERS: [&str; 6] = [
    "ldxb %r3, [%r1+7]\nlsh32 %r3, 8\nldxb %r4, [%r1+6]\nor32 %r3, %r4\n",
    "ldxb %r4, [%r1+6]\nldxb %r3, [%r1+7]\nlsh %r3, 8\nor %r3, %r4\n",
    "ldxb %r3, [%r1+7]\nldxb %r4, [%r1+6]\nlsh32 %r3, 8\nor32 %r3, %r4\n",
    "ldxb %r3, [%r1+6]\nlsh32 %r3, 8\nldxb %r4, [%r1+7]\nor32 %r3, %r4\n",
    "ldxb %r4, [%r1+7]\nldxb %r3, [%r1+6]\nlsh %r3, 8\nor %r3, %r4\n",
    "ldxb %r3, [%r1+6]\nldxb %r4, [%r1+7]\nlsh32 %r3, 8\nor32 %r3, %r4\n",
];

/// True for the orders whose first load reads the byte at offset 6.
fn lower_byte_first(order: usize) -> bool {
    matches!(order, 1 | 3 | 5)
}

/// r1 moves by the context's first byte minus 8; the result keeps both
/// registers (the halfword in the low bits, the low byte above it).
fn straight_line(pair: &str) -> String {
    format!(
        "ldxb %r2, [%r1+0]\nadd %r1, %r2\nadd %r1, -8\n{pair}\
         mov %r0, %r4\nlsh %r0, 32\nor %r0, %r3\nexit\n"
    )
}

/// The pair in a loop that walks r1 over the context two bytes at a time,
/// starting at its first byte minus 8 and running its second byte times.
fn looped(pair: &str) -> String {
    let body = format!("{pair}add %r0, %r3\nadd %r0, %r4\nadd %r1, 2\nadd %r5, -1\n");
    let slots = femtoc_isa::assemble(&format!("{body}exit\n")).expect("assembles").code.len() - 1;
    format!(
        "ldxb %r2, [%r1+0]\nldxb %r5, [%r1+1]\nadd %r1, %r2\nadd %r1, -8\nmov %r0, 0\n\
         jeq %r5, 0, +{}\n{body}jne %r5, 0, -{}\nexit\n",
        slots + 1,
        slots + 1
    )
}

fn agree(name: &str, src: &str, contexts: &[[u8; 16]]) -> Vec<Result<u64, RunError>> {
    let program = femtoc_isa::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}\n{src}"));
    let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{name}: {e}"));
    contexts
        .iter()
        .map(|context| {
            let case = Case { program: &verified, context: Some(context), budget: Some(1000) };
            run_on_every_engine(&case)
                .unwrap_or_else(|e| panic!("{name}, context {context:?}: {e}\n{src}"))
                .result
        })
        .collect()
}

fn context(first: u8, second: u8) -> [u8; 16] {
    let mut c: [u8; 16] = core::array::from_fn(|i| 0x10 + i as u8);
    c[0] = first;
    c[1] = second;
    c
}

/// The faulting address relative to the context's start, if a fault.
fn fault_at(r: &Result<u64, RunError>) -> Option<i64> {
    match r {
        Err(RunError { kind: RunErrorKind::MemoryFault { addr, .. }, .. }) => {
            Some(*addr as i64 - femtoc_runtime::layout::CONTEXT_BASE as i64)
        }
        _ => None,
    }
}

#[test]
fn pairs_across_the_context_edges_agree_in_every_order() {
    // The pair reads the bytes at first - 2 (low) and first - 1 (high):
    // both before the context, one on each side of its start, both in it,
    // one on each side of its end, both after it.
    let contexts: Vec<[u8; 16]> = (0..=18).map(|first| context(first, 0)).collect();
    for (i, pair) in ORDERS.iter().enumerate() {
        let results = agree(&format!("order {i}"), &straight_line(pair), &contexts);
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 15, "order {i}: {results:?}");
        assert!(results[2..=16].iter().all(Result::is_ok), "order {i}");
        let (b2, b3) = (contexts[4][2], contexts[4][3]);
        let want = if i < 3 {
            u64::from(u16::from_le_bytes([b2, b3])) | u64::from(b2) << 32
        } else {
            u64::from(u16::from_be_bytes([b2, b3])) | u64::from(b3) << 32
        };
        assert_eq!(results[4], Ok(want), "order {i}");
        // One byte out: the fault names it, whichever load comes first.
        assert_eq!(fault_at(&results[1]), Some(-1), "order {i}");
        assert_eq!(fault_at(&results[17]), Some(16), "order {i}");
        // Both out: the first load in program order faults.
        let first_read = if lower_byte_first(i) { [-2, 16] } else { [-1, 17] };
        assert_eq!([fault_at(&results[0]), fault_at(&results[18])], first_read.map(Some));
    }
}

/// read_le32 as clang emits it, at offsets 4..=7 from r1: the pair, then
/// the third and fourth bytes each shifted and or-ed in. `regs` names the
/// low, third and fourth bytes' registers.
fn word(regs: [&str; 3]) -> String {
    let [low, third, fourth] = regs;
    format!(
        "ldxb %r3, [%r1+5]\nlsh32 %r3, 8\nldxb {low}, [%r1+4]\nor32 %r3, {low}\n\
         ldxb {third}, [%r1+6]\nlsh32 {third}, 16\nor32 %r3, {third}\n\
         ldxb {fourth}, [%r1+7]\nlsh {fourth}, 24\nor %r3, {fourth}\n"
    )
}

#[test]
fn words_across_the_context_edges_agree() {
    // The word reads first - 4 .. first - 1 (r1 = context + first - 8).
    let contexts: Vec<[u8; 16]> = (0..=21).map(|first| context(first, 0)).collect();
    // Every byte's register read afterwards (r0 = word + low + third +
    // fourth), the clang shape (one register for the three), and the
    // fourth byte into the base.
    let tails = [
        (["%r4", "%r5", "%r6"], "mov %r0, %r3\nadd %r0, %r4\nadd %r0, %r5\nadd %r0, %r6\nexit\n"),
        (["%r4", "%r4", "%r4"], "mov %r0, %r3\nexit\n"),
        (["%r4", "%r5", "%r1"], "mov %r0, %r1\nlsh %r0, 32\nor %r0, %r3\nexit\n"),
    ];
    for (k, (regs, tail)) in tails.iter().enumerate() {
        let src = format!("ldxb %r2, [%r1+0]\nadd %r1, %r2\nadd %r1, -8\n{}{tail}", word(*regs));
        let results = agree(&format!("word {k}"), &src, &contexts);
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 13, "word {k}: {results:?}");
        assert!(results[4..=16].iter().all(Result::is_ok), "word {k}");
        // The first load reads the second byte: the first fault is there
        // when it is out, else at the first byte out in program order.
        let faults: Vec<Option<i64>> =
            [0, 1, 2, 3, 17, 18, 19, 20].iter().map(|&f| fault_at(&results[f])).collect();
        let want = [-3, -2, -1, -1, 16, 16, 16, 17].map(Some);
        assert_eq!(faults, want, "word {k}");
    }
}

/// Network-order words at offsets 4..=7 from r1, in the value r3: as
/// clang emits `p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]`, and
/// accumulated as `v = v << 8 | p[k]`.
const NETWORK_WORDS: [&str; 2] = [
    "ldxb %r2, [%r1+4]\nlsh32 %r2, 24\nldxb %r3, [%r1+5]\nlsh32 %r3, 16\nor32 %r3, %r2\n\
     ldxb %r2, [%r1+6]\nlsh32 %r2, 8\nor32 %r3, %r2\nldxb %r4, [%r1+7]\nor32 %r3, %r4\n",
    "ldxb %r2, [%r1+4]\nlsh32 %r2, 8\nldxb %r3, [%r1+5]\nor32 %r3, %r2\nlsh32 %r3, 8\n\
     ldxb %r4, [%r1+6]\nor32 %r3, %r4\nlsh32 %r3, 8\nldxb %r4, [%r1+7]\nor32 %r3, %r4\n",
];

#[test]
fn network_order_words_agree_with_their_bytes_read_or_not() {
    let contexts: Vec<[u8; 16]> = (0..=21).map(|first| context(first, 0)).collect();
    // The word alone, or the word with r2 and r4 (each byte left there).
    let tails =
        ["mov %r0, %r3\nexit\n", "mov %r0, %r2\nlsh %r0, 32\nor %r0, %r3\nadd %r0, %r4\nexit\n"];
    for (k, w) in NETWORK_WORDS.iter().enumerate() {
        for (t, tail) in tails.iter().enumerate() {
            let src = format!("ldxb %r2, [%r1+0]\nadd %r1, %r2\nadd %r1, -8\n{w}{tail}");
            let results = agree(&format!("network word {k}, tail {t}"), &src, &contexts);
            assert!(results[4..=16].iter().all(Result::is_ok), "network word {k}, tail {t}");
            let c = &contexts[8];
            let word = u64::from(u32::from_be_bytes([c[4], c[5], c[6], c[7]]));
            if t == 0 {
                assert_eq!(results[8], Ok(word), "network word {k}");
            }
            // The first load reads the first byte.
            let faults: Vec<Option<i64>> =
                [0, 3, 17, 20].iter().map(|&f| fault_at(&results[f])).collect();
            assert_eq!(faults, [-4, -1, 16, 16].map(Some), "network word {k}, tail {t}");
        }
    }
}

#[test]
fn pairs_in_loops_agree_when_the_walk_leaves_the_context() {
    let mut contexts = Vec::new();
    for first in [0, 1, 2, 7, 8, 9] {
        for second in [0, 1, 3, 4, 5, 8] {
            contexts.push(context(first, second));
        }
    }
    for (i, pair) in ORDERS.iter().enumerate() {
        let results = agree(&format!("looped order {i}"), &looped(pair), &contexts);
        assert!(results.iter().any(Result::is_ok), "looped order {i}");
        assert!(results.iter().any(|r| fault_at(r).is_some()), "looped order {i}");
    }
}
