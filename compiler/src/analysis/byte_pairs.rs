//! Halfwords a program assembles from two byte loads.
//!
//! C that reads a 16-bit field byte by byte (so that any address works),
//! `p[0] | p[1] << 8`, or in network order `p[0] << 8 | p[1]`, reaches
//! eBPF as four instructions in one block: two `ldxb` from adjacent
//! offsets of one base, a shift of the high byte by 8 and an `or` of the
//! low byte into it. A backend whose target loads a halfword from any
//! address can replace them with one halfword load (byte-swapped for
//! network order), once both bytes are known to be in bounds (a shared
//! check, a proof, or a hoisted loop check); it still defines the low-byte
//! register, as the program may read it later.

use std::collections::{BTreeMap, BTreeSet};

use femtoc_isa::insn::{AluOp, Insn, MemSize, Reg, Source};

use super::webs::reads;
use super::zext::written;

/// Four instructions that assemble a halfword at `base + off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BytePair {
    /// pc of the first byte load (the pattern's first instruction).
    pub first: usize,
    /// pc of the second byte load.
    pub second: usize,
    /// pc of the high byte's load (`first` or `second`).
    pub high_at: usize,
    /// Register holding the address.
    pub base: Reg,
    /// Offset of the halfword: the lower of the two bytes' offsets.
    pub off: i16,
    /// True if the high byte is the one at `off` (network byte order):
    /// the value is the halfword at `off` with its bytes swapped.
    pub big_endian: bool,
    /// Register that ends up with the halfword.
    pub high: Reg,
    /// Register that ends up with the low byte.
    pub low: Reg,
    /// True if that low byte is never read: the block goes on to write
    /// the register before any read of it (a backend without dead-code
    /// elimination then skips it).
    pub low_dead: bool,
}

impl BytePair {
    /// The pc after the pattern's last instruction.
    pub fn end(&self) -> usize {
        self.first + 4
    }

    /// The offset the byte load at `pc` (`first` or `second`) reads.
    pub fn offset_of(&self, pc: usize) -> i16 {
        if (pc == self.high_at) != self.big_endian {
            self.off + 1
        } else {
            self.off
        }
    }
}

/// Byte pairs by the pc of their first instruction. `leaders` are the pcs
/// that start basic blocks: no pattern has one after its first pc.
pub fn byte_pairs(insns: &[(usize, Insn)], leaders: &BTreeSet<usize>) -> BTreeMap<usize, BytePair> {
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i + 4 <= insns.len() {
        let window = &insns[i..i + 4];
        let first = window[0].0;
        let consecutive = window.iter().enumerate().all(|(k, &(pc, _))| pc == first + k);
        let inside = (first + 1..first + 4).all(|pc| !leaders.contains(&pc));
        match (consecutive && inside).then(|| pair(window)).flatten() {
            Some(mut p) => {
                p.low_dead = overwritten_before_read(&insns[i + 4..], p.low, leaders);
                out.insert(first, p);
                i += 4;
            }
            None => i += 1,
        }
    }
    out
}

/// The pair the four instructions form, if they do.
fn pair(window: &[(usize, Insn)]) -> Option<BytePair> {
    // The last one merges: `or high, low` (either width: both bytes are
    // below 2^16, so the 32-bit forms' zero-extension changes nothing).
    let (high, low) = match window[3].1 {
        Insn::Alu { op: AluOp::Or, dst, src: Source::Reg(src), .. } => (dst, src),
        _ => return None,
    };
    let mut loads = Vec::new();
    let mut shift_at = None;
    for (k, &(pc, insn)) in window[..3].iter().enumerate() {
        match insn {
            Insn::Load { size: MemSize::B, dst, src, off } => loads.push((k, pc, dst, src, off)),
            Insn::Alu { op: AluOp::Lsh, dst, src: Source::Imm(8), .. } if dst == high => {
                shift_at = Some(k)
            }
            _ => return None,
        }
    }
    let shift_at = shift_at?;
    let [(_, first, d0, base, o0), (_, second, d1, base1, o1)] = loads[..] else {
        return None;
    };
    let (hi_k, high_at, hi_off, lo_off) = match (d0, d1) {
        (a, b) if a == high && b == low => (loads[0].0, first, o0, o1),
        (a, b) if a == low && b == high => (loads[1].0, second, o1, o0),
        _ => return None,
    };
    let distinct = high != low && high != base && low != base && base == base1;
    let big_endian = match (lo_off.checked_add(1), hi_off.checked_add(1)) {
        (Some(o), _) if o == hi_off => false,
        (_, Some(o)) if o == lo_off => true,
        _ => return None,
    };
    (distinct && hi_k < shift_at).then_some(BytePair {
        first,
        second,
        high_at,
        base,
        off: lo_off.min(hi_off),
        big_endian,
        high,
        low,
        low_dead: false,
    })
}

/// True if the instructions from the start of `rest` write `r` before
/// anything reads it, without leaving the block.
fn overwritten_before_read(rest: &[(usize, Insn)], r: Reg, leaders: &BTreeSet<usize>) -> bool {
    for (pc, insn) in rest {
        if leaders.contains(pc) || reads(insn) & r.bit() != 0 {
            return false;
        }
        match insn {
            Insn::Jmp { .. }
            | Insn::Ja { .. }
            | Insn::JaLong { .. }
            | Insn::Exit
            | Insn::CallLocal { .. }
            | Insn::CallReg { .. } => return false,
            _ if written(insn).any(|w| w == r) => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use femtoc_isa::assemble;

    fn decoded(code: &[u64]) -> Vec<(usize, Insn)> {
        femtoc_isa::decode_all(code).flatten().map(|d| (d.pc, d.insn)).collect()
    }

    fn pairs_of(src: &str) -> Vec<BytePair> {
        let program = assemble(src).expect("assembles");
        let insns = decoded(&program.code);
        byte_pairs(&insns, &BTreeSet::from([0])).into_values().collect()
    }

    #[test]
    fn each_order_of_the_four_instructions_is_found() {
        let want = |first, second, high_at| BytePair {
            first,
            second,
            high_at,
            base: Reg::R1,
            off: 6,
            big_endian: false,
            high: Reg::R3,
            low: Reg::R0,
            low_dead: false,
        };
        let orders = [
            "ldxb %r3, [%r1+7]\nlsh32 %r3, 8\nldxb %r0, [%r1+6]\nor32 %r3, %r0\n",
            "ldxb %r0, [%r1+6]\nldxb %r3, [%r1+7]\nlsh %r3, 8\nor %r3, %r0\n",
            "ldxb %r3, [%r1+7]\nldxb %r0, [%r1+6]\nlsh32 %r3, 8\nor32 %r3, %r0\n",
        ];
        for (src, (second, high_at)) in orders.iter().zip([(2, 0), (1, 1), (1, 0)]) {
            let found = pairs_of(&format!("{src}exit\n"));
            assert_eq!(found, vec![want(0, second, high_at)], "{src}");
            assert_eq!(found[0].offset_of(high_at), 7);
            let low_at = if high_at == 0 { second } else { 0 };
            assert_eq!(found[0].offset_of(low_at), 6);
        }
    }

    #[test]
    fn network_order_pairs_are_found_in_each_order() {
        let orders = [
            "ldxb %r3, [%r1+6]\nlsh32 %r3, 8\nldxb %r0, [%r1+7]\nor32 %r3, %r0\n",
            "ldxb %r0, [%r1+7]\nldxb %r3, [%r1+6]\nlsh %r3, 8\nor %r3, %r0\n",
            "ldxb %r3, [%r1+6]\nldxb %r0, [%r1+7]\nlsh32 %r3, 8\nor32 %r3, %r0\n",
        ];
        for (src, (second, high_at)) in orders.iter().zip([(2, 0), (1, 1), (1, 0)]) {
            let found = pairs_of(&format!("{src}exit\n"));
            assert_eq!(found.len(), 1, "{src}");
            let p = found[0];
            assert!(p.big_endian, "{src}");
            assert_eq!((p.off, p.second, p.high_at), (6, second, high_at), "{src}");
            let low_at = if high_at == 0 { second } else { 0 };
            assert_eq!((p.offset_of(high_at), p.offset_of(low_at)), (6, 7), "{src}");
        }
    }

    #[test]
    fn the_low_byte_is_dead_only_if_overwritten_before_a_read_in_the_block() {
        let pair = "ldxb %r3, [%r1+7]\nlsh32 %r3, 8\nldxb %r0, [%r1+6]\nor32 %r3, %r0\n";
        let cases = [
            ("add32 %r5, %r3\nmov32 %r0, %r5\nexit\n", true),
            ("add32 %r0, %r3\nexit\n", false),
            ("mov %r2, %r0\nmov32 %r0, 1\nexit\n", false),
            ("exit\n", false),
            ("ja +0\nmov32 %r0, 1\nexit\n", false),
        ];
        for (tail, dead) in cases {
            let found = pairs_of(&format!("{pair}{tail}"));
            assert_eq!(found.len(), 1, "{tail}");
            assert_eq!(found[0].low_dead, dead, "{tail}");
        }
    }

    #[test]
    fn near_misses_are_left_alone() {
        let misses = [
            // Not adjacent, or the same byte twice.
            "ldxb %r3, [%r1+8]\nlsh32 %r3, 8\nldxb %r0, [%r1+6]\nor32 %r3, %r0\n",
            "ldxb %r3, [%r1+6]\nlsh32 %r3, 8\nldxb %r0, [%r1+6]\nor32 %r3, %r0\n",
            // Two bases, a base overwritten by the first load, a shift by 16.
            "ldxb %r3, [%r1+7]\nlsh32 %r3, 8\nldxb %r0, [%r2+6]\nor32 %r3, %r0\n",
            "ldxb %r1, [%r1+7]\nlsh32 %r1, 8\nldxb %r0, [%r1+6]\nor32 %r1, %r0\n",
            "ldxb %r3, [%r1+7]\nlsh32 %r3, 16\nldxb %r0, [%r1+6]\nor32 %r3, %r0\n",
            // The shift before the high byte's load, a halfword load.
            "lsh32 %r3, 8\nldxb %r3, [%r1+7]\nldxb %r0, [%r1+6]\nor32 %r3, %r0\n",
            "ldxh %r3, [%r1+7]\nlsh32 %r3, 8\nldxb %r0, [%r1+6]\nor32 %r3, %r0\n",
        ];
        for src in misses {
            assert_eq!(pairs_of(&format!("{src}exit\n")), vec![], "{src}");
        }
    }

    #[test]
    fn a_jump_into_the_pattern_splits_it() {
        let program =
            assemble("ldxb %r3, [%r1+7]\nlsh32 %r3, 8\nldxb %r0, [%r1+6]\nor32 %r3, %r0\nexit\n")
                .expect("assembles");
        let insns = decoded(&program.code);
        assert!(byte_pairs(&insns, &BTreeSet::from([0, 2])).is_empty());
        assert_eq!(byte_pairs(&insns, &BTreeSet::from([0, 4])).len(), 1);
    }
}
