use femtoc_isa::asm::assemble;
use femtoc_isa::verifier::{verify, VerifiedProgram, VerifierConfig};
use femtoc_isa::Reg;

use super::{low_word_registers, narrow_registers, unwritten_registers, RangeConfig};

fn verified(src: &str) -> VerifiedProgram {
    let program = assemble(src).expect("assembles");
    verify(&program, &VerifierConfig::new(&[5])).expect("verifies")
}

fn regs(set: u16) -> Vec<u8> {
    (0..10).filter(|i| set & (1 << i) != 0).collect()
}

const ENTRY: u16 = Reg::R1.bit() | Reg::R2.bit();

#[test]
fn writers_decide_narrowness() {
    let p = verified(
        "
        mov32 %r3, -1
        mov %r4, %r3
        mov %r5, 1
        add %r5, 1
        ldxw %r6, [%r10-8]
        ldxsw %r7, [%r10-8]
        ldxdw %r8, [%r10-8]
        lddw %r9, 0xffffffff
        mov %r0, 0
        exit",
    );
    // r1, r2: entry values; r3 ALU32; r4 copy of a narrow register; r6
    // zero-extending load; r9 constant below 2^32; r0 non-negative imm.
    assert_eq!(regs(narrow_registers(&p, ENTRY)), [0, 1, 2, 3, 4, 6, 9]);
    // Without the 32-bit entry guarantee r1 and r2 are wide.
    assert_eq!(regs(narrow_registers(&p, 0)), [0, 3, 4, 6, 9]);
}

#[test]
fn a_wide_value_spreads_through_copies() {
    let p = verified(
        "
        mov %r6, 0
        mov %r7, 0
    loop:
        mov %r6, %r7
        mov %r7, %r6
        add %r7, 1
        jlt %r7, 10, loop
        mov %r0, %r6
        exit",
    );
    let n = narrow_registers(&p, ENTRY);
    assert_eq!(n & (Reg::R6.bit() | Reg::R7.bit() | Reg::R0.bit()), 0, "{:?}", regs(n));
}

#[test]
fn operations_with_a_wide_operand() {
    let p = verified(
        "
        lddw %r3, 0x100000000
        mov32 %r4, -1
        mov32 %r5, 1
        mov32 %r6, -1
        mov32 %r7, -1
        mov32 %r8, -1
        and %r4, %r3
        or %r5, %r3
        rsh %r6, %r3
        arsh %r7, 3
        div %r8, %r3
        mov %r9, 7
        div %r9, 3
        call 5
        exit",
    );
    let n = narrow_registers(&p, ENTRY);
    // Masking, shifting right or dividing a narrow register by a narrow
    // value keeps it narrow; or-ing in a wide value, dividing by one, a
    // wide constant and a helper's result do not.
    assert_eq!(regs(n & 0x3f8), [4, 6, 7, 9]);
    assert_eq!(n & Reg::R0.bit(), 0);
}

#[test]
fn unwritten_means_no_writer_at_all() {
    let p = verified(
        "
        ldxw %r0, [%r1+0]
        mov32 %r3, 1
        lock xchg [%r10-8], %r3
        call 5
        exit",
    );
    // r0 (load, helper), r3 (xchg fetches into it) are written.
    assert_eq!(regs(unwritten_registers(&p)), [1, 2, 4, 5, 6, 7, 8, 9]);
}

#[test]
fn groups_respect_the_backends_limits() {
    use std::collections::BTreeSet;

    use super::groups::{covered, load_groups};
    let p = verified(
        "
        mov %r6, %r1
        ldxb %r2, [%r6+0]
        ldxb %r3, [%r6+100]
        ldxb %r4, [%r6+101]
        ldxb %r5, [%r6-300]
        ldxb %r7, [%r6+1]
        ldxb %r8, [%r6+2]
        mov %r0, 0
        exit",
    );
    let insns: Vec<_> =
        femtoc_isa::decode_all(&p.program.code).flatten().map(|d| (d.pc, d.insn)).collect();
    let leaders = BTreeSet::from([0]);
    // No limits: one group of all six loads.
    let all = load_groups(&insns, &leaders, |_, _| true, |_| true, u32::MAX);
    assert_eq!(all.keys().copied().collect::<Vec<_>>(), [1]);
    assert_eq!(all[&1].len(), 6);
    // A 64-byte span and offsets of at least -255: pc 2 starts a new group
    // (101 bytes from pc 1), pc 4 stands alone and ends the one before it.
    let fits = |m: &(usize, i16, u32)| m.1 >= -255;
    let limited = load_groups(&insns, &leaders, |_, _| true, fits, 64);
    let heads: Vec<usize> = limited.keys().copied().collect();
    assert_eq!(heads, [2, 5]);
    assert_eq!(covered(&limited), BTreeSet::from([3, 6]));
}

/// The low-word registers by ranges alone.
fn by_range(src: &str) -> Vec<u8> {
    regs(low_word_registers(&verified(src), &RangeConfig::device32(0), 0))
}

#[test]
fn a_counter_bounded_by_its_compare_is_narrow() {
    // r7 = min(r2, 359) counted down to zero; r2 itself is wide (64-bit
    // load). The compare is on r2, the loop uses its copy r4.
    let n = by_range(
        "
        ldxdw %r2, [%r1+0]
        jeq %r2, 0, out
        mov %r4, %r2
        jlt %r2, 359, take
        mov %r4, 359
    take:
        mov %r7, %r4
    loop:
        add %r7, -1
        jne %r7, 0, loop
    out:
        mov %r0, 0
        exit",
    );
    assert!(n.contains(&4) && n.contains(&7), "{n:?}");
    assert!(!n.contains(&2), "{n:?}");
}

#[test]
fn an_index_below_a_32_bit_length_is_narrow() {
    // i < n <= 2^32 - 1 at the back edge, so i + 1 fits at the compare
    // (r2, the context length, is 32-bit on the device). The base r5 =
    // r1 + i may not fit. An index stepped by 2 may reach 2^32.
    let src = |step: u32| {
        format!(
            "
        mov %r0, 0
        jeq %r2, 0, out
        mov %r3, 0
    loop:
        mov %r5, %r1
        add %r5, %r3
        ldxb %r4, [%r5+0]
        add %r0, %r4
        add %r3, {step}
        jlt %r3, %r2, loop
    out:
        exit"
        )
    };
    let n = by_range(&src(1));
    assert!(n.contains(&3) && !n.contains(&5), "{n:?}");
    assert!(!by_range(&src(2)).contains(&3));
}

#[test]
fn a_compare_does_not_refine_a_former_copy() {
    let n = by_range(
        "
        ldxdw %r2, [%r1+0]
        mov %r4, %r2
        mov %r2, 7
        jlt %r2, 359, next
        mov %r0, 0
        exit
    next:
        mov %r0, %r4
        exit",
    );
    assert!(!n.contains(&4) && !n.contains(&0), "{n:?}");
}

#[test]
fn a_pointer_advanced_by_its_access_width_is_narrow() {
    // Each load proves r1 + 2 <= 0xffff_ffff: r1 + 2 fits in 32 bits.
    let src = |step: u32| {
        format!(
            "
        mov %r3, 0
    loop:
        ldxb %r2, [%r1+1]
        ldxb %r0, [%r1+0]
        add %r1, {step}
        add %r3, 1
        jlt %r3, 100, loop
        exit"
        )
    };
    assert!(by_range(&src(2)).contains(&1));
    // One byte more than the access covers could reach 2^32.
    assert!(!by_range(&src(3)).contains(&1));
}

#[test]
fn negative_offsets_and_signed_compares() {
    // A load at r6 - 8 proves only r6 <= 0xffff_fffe - 1 + 8. A signed
    // 32-bit compare does not bound a value with bit 31 set: r8 = r7 +
    // 0xffff_fffd fits only if r7 < 3 unsigned.
    let n = by_range(
        "
        mov %r6, %r1
        add %r6, 8
        ldxb %r0, [%r6-8]
        ldxw %r7, [%r1+0]
        jslt32 %r7, 3, take
        mov %r0, 0
        exit
    take:
        lddw %r9, 0xfffffffd
        mov %r8, %r7
        add %r8, %r9
        mov %r0, %r8
        exit",
    );
    assert!(!n.contains(&6), "{n:?}");
    assert!(!n.contains(&8), "{n:?}");
}

#[test]
fn an_unbounded_counter_is_widened_to_wide() {
    let n = by_range(
        "
        mov %r6, 0
    loop:
        add %r6, 1
        ldxb %r0, [%r1+0]
        jne %r0, 0, loop
        mov %r0, %r6
        exit",
    );
    assert!(!n.contains(&6), "{n:?}");
}

#[test]
fn a_callee_that_widens_a_register_widens_it_after_the_call() {
    let n = by_range(
        "
        mov %r6, 5
        call local f
        mov %r0, %r6
        rsh %r0, 32
        exit
    f:
        lddw %r6, 0x100000000
        mov %r0, 0
        exit",
    );
    assert!(!n.contains(&6) && !n.contains(&0), "{n:?}");
}

#[test]
fn a_value_wide_only_where_no_one_needs_its_upper_half() {
    // r4 holds a 64-bit load until the compare narrows its copy; before
    // that only the low word is moved around.
    let n = by_range(
        "
        ldxdw %r2, [%r1+0]
        mov %r4, %r2
        jlt %r2, 100, small
        mov %r4, 100
    small:
        mov %r0, %r4
        rsh %r0, 1
        exit",
    );
    assert!(n.contains(&4) && n.contains(&0), "{n:?}");
    assert!(!n.contains(&2), "{n:?}");
}

#[test]
fn an_edge_no_value_can_take_carries_nothing() {
    // r7 = 1 counted down: the back edge is never taken. Were it to carry
    // r7 = 0 to the head, the decrement there could wrap.
    let n = by_range(
        "
        mov %r7, 1
    loop:
        add %r7, -1
        jne %r7, 0, loop
        mov %r0, %r7
        rsh %r0, 1
        exit",
    );
    assert!(n.contains(&7) && n.contains(&0), "{n:?}");
}

fn with_data(src: &str, regions: &[(femtoc_isa::program::DataKind, u32)]) -> VerifiedProgram {
    let mut program = assemble(src).expect("assembles");
    for &(kind, size) in regions {
        program.data.push(femtoc_isa::program::DataRegion {
            name: "table".into(),
            kind,
            image: Vec::new(),
            size,
        });
    }
    verify(&program, &VerifierConfig::new(&[5])).expect("verifies")
}

#[test]
fn table_lookups_with_a_bounded_index_are_proven() {
    use femtoc_isa::program::DataKind::{ReadOnly, ReadWrite};
    // Table 0 is read-only, table 1 writable, both 64 bytes; the index is
    // 4 * (x & 15).
    let src = "
        ldxb %r4, [%r1+0]
        and %r4, 15
        lsh %r4, 2
        lddw %r5, data[0+0]
        add %r5, %r4
        ldxw %r0, [%r5+0]
        ldxw %r3, [%r5+4]
        lddw %r6, data[1+0]
        add %r6, %r4
        stxw [%r6+0], %r0
        stxw [%r5+0], %r0
        jeq %r0, 0, next
    next:
        ldxw %r3, [%r5+0]
        exit";
    let p = with_data(src, &[(ReadOnly, 64), (ReadWrite, 64)]);
    let proven = super::proven::proven_accesses(&p, &RangeConfig::device32(0));
    let pcs: Vec<usize> = proven.into_iter().collect();
    // Proven: the load at pc 6 (lddw takes two slots) and the store into
    // the writable table at pc 11. Not: pc 7 (may end at byte 68), pc 12
    // (a store into the read-only table), pc 14 (a later block).
    assert_eq!(pcs, [6, 11]);
}

#[test]
fn context_loads_after_a_jump_target_are_not_covered_by_the_minimum_length() {
    use super::regions::unchecked_ctx_loads;
    // pc 2 heads a loop (the back edge at pc 4 lands there), so r6 is no
    // longer the entry's r1 when pc 2 runs again. pc 0 is before it.
    let src = "
        ldxb %r0, [%r1+0]
        mov %r6, %r1
    loop:
        ldxb %r3, [%r6+0]
        add %r6, 1
        jne %r3, 0, loop
        exit";
    let p = verified(src);
    let insns: Vec<(usize, femtoc_isa::Insn)> =
        femtoc_isa::decode_all(&p.program.code).flatten().map(|d| (d.pc, d.insn)).collect();
    assert_eq!(unchecked_ctx_loads(&insns, 8), [0]);
}

#[test]
fn a_data_address_lies_a_region_size_below_the_limit() {
    use femtoc_isa::program::DataKind::ReadOnly;
    // base + 8 <= 2^32 - 1 - 64 + 8; adding 55 more stays below 2^32,
    // adding 57 may not.
    let src = |k: u32| {
        format!(
            "
        lddw %r5, data[0+8]
        add %r5, {k}
        ldxb %r0, [%r5+0]
        exit"
        )
    };
    let cfg = RangeConfig::device32(0);
    let low = |k| low_word_registers(&with_data(&src(k), &[(ReadOnly, 64)]), &cfg, 0);
    assert_ne!(low(55) & Reg::R5.bit(), 0);
    assert_eq!(low(57) & Reg::R5.bit(), 0);
    let ranges = super::ranges::register_ranges(&with_data(&src(0), &[(ReadOnly, 64)]), &cfg);
    assert_eq!(ranges.get(&2).map(|r| r[5].hi), Some(u64::from(u32::MAX) - 64 + 8));
}

#[test]
fn a_length_minus_its_clamp_is_narrow() {
    // r4 = min(r2, 359) is at most r2, so r2 - r4 cannot wrap; an
    // unconditional 359 can exceed r2.
    let src = |clamp: &str| {
        format!(
            "
        mov %r0, 0
    outer:
        jeq %r2, 0, out
        mov %r4, %r2
        {clamp}
        mov %r4, 359
    take:
        sub %r2, %r4
        add %r0, %r2
        ja outer
    out:
        exit"
        )
    };
    let n = by_range(&src("jlt %r2, 359, take"));
    assert!(n.contains(&2) && n.contains(&4), "{n:?}");
    assert!(!by_range(&src("")).contains(&2));
}

#[test]
fn widening_stops_at_compare_constants_and_narrowing_recovers_other_bounds() {
    // `i < 32` bounds i by a compare constant: widening stops at 31. `i <
    // n` with `n = x & 31` has no such constant: widening reaches 255 and
    // narrowing brings i back to 30 at the head.
    let src = |bound: &str| {
        format!(
            "
        ldxb %r3, [%r1+0]
        and %r3, 31
        mov %r4, 0
        jeq %r3, 0, out
    loop:
        add %r4, 1
        jlt %r4, {bound}, loop
    out:
        mov %r0, %r4
        exit"
        )
    };
    let at_head = |bound: &str| {
        let ranges =
            super::ranges::register_ranges(&verified(&src(bound)), &RangeConfig::device32(0));
        ranges.get(&4).map(|r| (r[4].lo, r[4].hi))
    };
    assert_eq!(at_head("32"), Some((0, 31)));
    assert_eq!(at_head("%r3"), Some((0, 30)));
}

#[test]
fn entry_values_read_counts_reads_before_any_write() {
    use super::entry_values_read;
    let bits = |regs: &[Reg]| regs.iter().fold(0u16, |acc, r| acc | r.bit());
    // r2 is never read; r1 is read before a write on one path.
    let p = verified("ldxb %r3, [%r1+0]\njeq %r3, 0, +1\nmov %r1, 7\nmov %r0, %r1\nexit");
    assert_eq!(entry_values_read(&p), bits(&[Reg::R1]));
    let p = verified("mov %r1, 7\nmov %r2, %r1\nmov %r0, %r2\nexit");
    assert_eq!(entry_values_read(&p), 0);
    // A helper sees r1..r5: the unwritten ones count as read.
    let p = verified("mov %r3, 1\ncall 5\nexit");
    assert_eq!(entry_values_read(&p), bits(&[Reg::R1, Reg::R2, Reg::R4, Reg::R5]));
    // A callee's read of an entry value counts; the call itself reads none.
    let p = verified("call local f\nexit\nf:\nmov %r0, %r2\nexit");
    assert_eq!(entry_values_read(&p), bits(&[Reg::R2]));
}

#[test]
fn a_compare_bounds_a_copy_plus_a_constant() {
    // counter.c's rotated loop: r2 is the old index, r5 = r2 + 1 the new
    // one; only r2 is compared, and r5 indexes a 16-word table after it.
    let src = |between: &str| {
        format!(
            "mov %r4, %r2
            mov32 %r5, 0
            stw [%r10-8], 3
            jlt %r4, 2, out
            mov %r1, %r4
        loop:
            mov32 %r2, %r5
            add32 %r5, 1
            {between}
            jlt %r1, 4, out
            rsh %r1, 1
            jlt32 %r2, 14, loop
        out:
            mov %r0, %r5
            exit"
        )
    };
    let at_exit = |between: &str| {
        let p = verified(&src(between));
        let ranges = super::ranges::register_ranges(&p, &RangeConfig::device32(0));
        let exit = ranges.keys().copied().max().unwrap_or(0);
        ranges.get(&exit).map(|r| (r[0].lo, r[0].hi))
    };
    assert_eq!(at_exit(""), Some((0, 15)));
    // Once r2 is rewritten it says nothing about r5.
    assert_eq!(at_exit("ldxw %r2, [%r10-8]"), Some((0, u64::from(u32::MAX))));
}

#[test]
fn frame_readers_follow_calls() {
    // main -> h -> k, main -> m: k reads r10, so h's tree does; m's not.
    let p = verified(
        "call local h\ncall local m\nexit\n\
         h:\ncall local k\nexit\n\
         k:\nmov %r0, %r10\nexit\n\
         m:\nmov %r0, 1\nexit",
    );
    assert_eq!(super::frame_readers(&p), vec![true, true, true, false]);
}

#[test]
fn an_access_covered_by_an_earlier_one_through_the_same_base_is_proven() {
    let src = "
        stxw [%r1+4], %r2
        ldxb %r3, [%r1+5]
        ldxh %r3, [%r1+8]
        stxh [%r1+8], %r3
        ldxdw %r4, [%r1+4]
        ldxw %r4, [%r1+0]
        mov %r5, %r1
        ldxb %r0, [%r5+4]
        add %r5, 2
        ldxb %r0, [%r5+5]
        stxb [%r5+8], %r0
        ldxb %r0, [%r5+6]
        add %r1, %r0
        ldxb %r0, [%r1+4]
        jeq %r0, 0, next
    next:
        ldxb %r0, [%r5+3]
        exit";
    let p = verified(src);
    let proven = super::proven::proven_accesses(&p, &RangeConfig::device32(0));
    // pc 1 lies inside pc 0's store; pc 7 and pc 9 too, through a copy of
    // r1 and then that copy moved by 2. Not: pc 3 (a store after a load of
    // the same bytes), pc 4 (wider than any earlier access), pc 5 (below
    // them), pc 10 (a store where only loads reached), pc 13 (r1 moved by
    // a register), pc 15 (a later block).
    assert_eq!(proven.into_iter().collect::<Vec<_>>(), [1, 7, 9, 11]);
}
