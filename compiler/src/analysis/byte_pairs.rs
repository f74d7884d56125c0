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
//!
//! A little-endian word read the same way, `| p[2] << 16 | p[3] << 24`
//! after the pair, adds two triples (`ldxb`, shift by 16 or 24, `or`):
//! the ten instructions become one word load (a [`WordTail`]).

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
    /// The rest of a little-endian word, if the pair starts one.
    pub word: Option<WordTail>,
}

/// The third and fourth bytes of a little-endian word: `ldxb`, a shift by
/// 16 (24), an `or` into the pair's register, each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WordTail {
    /// Register of the third byte, shifted left by 16.
    pub third: Reg,
    /// Register of the fourth byte, shifted left by 24.
    pub fourth: Reg,
    /// Whether each is read after the word (as for `low_dead`).
    pub third_dead: bool,
    /// See `third_dead`.
    pub fourth_dead: bool,
}

impl BytePair {
    /// The pc after the pattern's last instruction.
    pub fn end(&self) -> usize {
        self.first + if self.word.is_some() { 10 } else { 4 }
    }

    /// Bytes loaded: 2 or 4.
    pub fn bytes(&self) -> u32 {
        if self.word.is_some() {
            4
        } else {
            2
        }
    }

    /// The byte loads after the first, as (pc, offset).
    pub fn later_loads(&self) -> Vec<(usize, i16)> {
        let mut out = vec![(self.second, self.offset_of(self.second))];
        if self.word.is_some() {
            out.extend([(self.first + 4, self.off + 2), (self.first + 7, self.off + 3)]);
        }
        out
    }

    /// The registers besides `high` that the program reads afterwards,
    /// with the pc of the instruction that last writes each and the mask
    /// that takes its value from the loaded one (its byte, in place).
    pub fn lanes(&self) -> Vec<(Reg, usize, u32)> {
        let low_at = if self.high_at == self.first { self.second } else { self.first };
        let mut out = Vec::new();
        match self.word {
            None => {
                if !self.low_dead {
                    out.push((self.low, low_at, 0xff));
                }
            }
            Some(w) => {
                if !self.low_dead && self.low != w.third && self.low != w.fourth {
                    out.push((self.low, low_at, 0xff));
                }
                if !w.third_dead && w.third != w.fourth {
                    out.push((w.third, self.first + 5, 0xff_0000));
                }
                if !w.fourth_dead {
                    out.push((w.fourth, self.first + 8, 0xff00_0000));
                }
            }
        }
        out
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
                let tail_window = insns.get(i + 4..i + 10).unwrap_or_default();
                p.word = word_tail(&p, tail_window, leaders);
                let rest = insns.get(i + (p.end() - first)..).unwrap_or_default();
                let dead = |r| overwritten_before_read(rest, r, leaders);
                p.low_dead = dead(p.low);
                if let Some(w) = &mut p.word {
                    w.third_dead = dead(w.third);
                    w.fourth_dead = dead(w.fourth);
                }
                out.insert(first, p);
                i += p.end() - first;
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
        word: None,
    })
}

/// The tail of a little-endian word after the pair `p`, if `window` (the
/// six instructions after it) is one: the third byte, shifted by 16 and
/// or-ed in, then the fourth, shifted by 24 and or-ed in, neither into the
/// pair's register and the third not into the base (the fourth's load
/// still reads it). The fourth may overwrite the base: the word is loaded
/// before any of these registers is written.
fn word_tail(
    p: &BytePair,
    window: &[(usize, Insn)],
    leaders: &BTreeSet<usize>,
) -> Option<WordTail> {
    if p.big_endian || window.len() < 6 {
        return None;
    }
    let start = p.first + 4;
    let in_block = window.iter().enumerate().all(|(k, &(pc, _))| pc == start + k)
        && (start..start + 6).all(|pc| !leaders.contains(&pc));
    if !in_block {
        return None;
    }
    let triple = |part: &[(usize, Insn)], off: i16, amount: i32| -> Option<Reg> {
        let Insn::Load { size: MemSize::B, dst, src, off: o } = part[0].1 else { return None };
        let shifted = matches!(part[1].1,
            Insn::Alu { op: AluOp::Lsh, dst: d, src: Source::Imm(k), .. } if d == dst && k == amount);
        let merged = matches!(part[2].1,
            Insn::Alu { op: AluOp::Or, dst: d, src: Source::Reg(r), .. } if d == p.high && r == dst);
        (src == p.base && o == off && dst != p.high && shifted && merged).then_some(dst)
    };
    let third = triple(&window[..3], p.off.checked_add(2)?, 16)?;
    let fourth = triple(&window[3..], p.off.checked_add(3)?, 24)?;
    (third != p.base).then_some(WordTail { third, fourth, third_dead: false, fourth_dead: false })
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
            word: None,
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
    fn a_little_endian_word_is_one_pattern() {
        // read_le32 as clang emits it (sort.c): the fourth byte reuses the
        // third's register, which the store does not read.
        let word = "ldxb %r6, [%r1-2]\nlsh32 %r6, 8\nldxb %r7, [%r1-3]\nor32 %r6, %r7\n\
                    ldxb %r7, [%r1-1]\nlsh32 %r7, 16\nor32 %r6, %r7\n\
                    ldxb %r7, [%r1+0]\nlsh32 %r7, 24\nor32 %r6, %r7\n";
        let found = pairs_of(&format!("{word}stxw [%r10-4], %r6\nmov %r0, %r7\nexit\n"));
        assert_eq!(found.len(), 1);
        let p = found[0];
        assert_eq!((p.off, p.bytes(), p.end()), (-3, 4, 10));
        assert_eq!(p.later_loads(), vec![(2, -3), (4, -1), (7, 0)]);
        let tail = p.word.expect("a word");
        assert_eq!((tail.third, tail.fourth), (Reg::R7, Reg::R7));
        // r7 is read (by the move) and holds the fourth byte in place.
        assert_eq!(p.lanes(), vec![(Reg::R7, 8, 0xff00_0000)]);
        let dead = pairs_of(&format!("{word}mov %r7, 1\nmov %r0, %r6\nexit\n"));
        assert_eq!(dead[0].lanes(), vec![]);
        // The third byte into the base, or shifted by 24: a pair, then
        // nothing the analysis takes.
        let into_base = word.replace(
            "ldxb %r7, [%r1-1]\nlsh32 %r7, 16\nor32 %r6, %r7",
            "ldxb %r1, [%r1-1]\nlsh32 %r1, 16\nor32 %r6, %r1",
        );
        let found = pairs_of(&format!("{into_base}exit\n"));
        assert_eq!(found.iter().map(|p| p.bytes()).collect::<Vec<_>>(), vec![2]);
        let wrong_shift = word.replace("lsh32 %r7, 16", "lsh32 %r7, 24");
        let found = pairs_of(&format!("{wrong_shift}exit\n"));
        assert_eq!(found.iter().map(|p| p.bytes()).collect::<Vec<_>>(), vec![2]);
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
