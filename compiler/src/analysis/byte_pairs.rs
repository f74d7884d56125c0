//! Halfwords and words a program assembles from byte loads.
//!
//! C that reads a 16- or 32-bit field byte by byte (so that any address
//! works), `p[0] | p[1] << 8` or `p[0] << 24 | p[1] << 16 | ...` in network
//! order, reaches eBPF as a run of instructions in one block: `ldxb` from
//! adjacent offsets of one base, shifts of bytes by multiples of 8 and
//! `or`s of them into one register. A backend whose target loads a
//! halfword or word from any address can replace the run with one load
//! (byte-swapped for network order), once every byte is known to be in
//! bounds (a shared check, a proof, or a hoisted loop check). The run may
//! leave bytes in other registers too (`p[0]` alone after
//! `p[0] | p[1] << 8`); each of those the program reads later is the loaded
//! value masked to its bytes, as the analysis requires of a run.
//!
//! The analysis follows the values symbolically: which byte of memory
//! each byte lane of a register holds. A run starts at a byte load and
//! takes byte loads through the base (until something writes it), shifts
//! by multiples of 8 that keep every byte below bit 32, and `or`s of two
//! values with no lane in common; it ends at the last `or` that leaves
//! one register with 2 or 4 adjacent bytes in little- or big-endian order
//! (anything else ends the scan, and the run stops at that `or`).

use std::collections::{BTreeMap, BTreeSet};

use femtoc_isa::insn::{AluOp, Insn, MemSize, Reg, Source};
use femtoc_isa::verifier::VerifiedProgram;

use super::webs::reads;
use super::zext::written;

/// Byte loads at most in one run (a word's four).
const MAX_LOADS: usize = 4;

/// A run of instructions that assembles a halfword or word at
/// `base + off` in `high`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BytePair {
    /// pc of the run's first instruction (a byte load).
    pub first: usize,
    /// pc after the run's last instruction (the completing `or`).
    end: usize,
    /// Register holding the address.
    pub base: Reg,
    /// Offset of the lowest byte.
    pub off: i16,
    /// True if the byte at `off` is the most significant (network byte
    /// order): the value is the halfword or word at `off` byte-swapped.
    pub big_endian: bool,
    /// Register that ends up with the value.
    pub high: Reg,
    /// 2 or 4.
    bytes: u32,
    /// The byte loads in program order, as (pc, offset).
    loads: [(usize, i16); MAX_LOADS],
    /// Other registers the run leaves bytes in that are read later, with
    /// the pc that last writes each and the mask of the value they hold.
    lanes: [(Reg, usize, u32); MAX_LOADS],
    /// How many of `lanes` are used.
    lane_count: usize,
}

impl BytePair {
    /// The pc after the run's last instruction.
    pub fn end(&self) -> usize {
        self.end
    }

    /// Bytes loaded: 2 or 4.
    pub fn bytes(&self) -> u32 {
        self.bytes
    }

    /// The byte loads after the first, as (pc, offset).
    pub fn later_loads(&self) -> Vec<(usize, i16)> {
        self.loads[1..self.bytes as usize].to_vec()
    }

    /// The offset the byte load at `pc` reads (`off` for a pc that is
    /// not one of the run's loads).
    pub fn offset_of(&self, pc: usize) -> i16 {
        self.loads[..self.bytes as usize].iter().find(|l| l.0 == pc).map_or(self.off, |l| l.1)
    }

    /// The registers besides `high` that the program reads after the run,
    /// with the pc of the instruction that last writes each and the mask
    /// that takes its value from the loaded one (its bytes, in place).
    pub fn lanes(&self) -> Vec<(Reg, usize, u32)> {
        self.lanes[..self.lane_count].to_vec()
    }
}

/// What a register holds during a run: for each byte lane (bits 8k..8k+7)
/// the offset of the memory byte in it, or zero bits.
type Lanes = [Option<i16>; 4];

/// The runs of `prog`, whose instructions `insns` are, by the pc of their
/// first instruction.
pub fn byte_pairs(prog: &VerifiedProgram, insns: &[(usize, Insn)]) -> BTreeMap<usize, BytePair> {
    let leaders = prog.blocks.iter().map(|b| b.start as usize).collect();
    let entry_end = prog.functions.first().map_or(0, |f| f.end as usize);
    runs(insns, &leaders, entry_end)
}

/// Runs by the pc of their first instruction. `leaders` are the pcs that
/// start basic blocks: no run has one after its first pc. `entry_end` is
/// the end of the entry function, whose `exit` ends the program (only r0
/// leaves it); a local function's `exit` returns r0..r5 to its caller (a
/// helper call there may pass them on) and restores r6..r9.
fn runs(
    insns: &[(usize, Insn)],
    leaders: &BTreeSet<usize>,
    entry_end: usize,
) -> BTreeMap<usize, BytePair> {
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < insns.len() {
        match run_at(insns, i, leaders, entry_end) {
            Some(p) => {
                out.insert(p.first, p);
                i += p.end - p.first;
            }
            None => i += 1,
        }
    }
    out
}

/// The longest run that starts at `insns[i]`.
fn run_at(
    insns: &[(usize, Insn)],
    i: usize,
    leaders: &BTreeSet<usize>,
    entry_end: usize,
) -> Option<BytePair> {
    let (first, Insn::Load { size: MemSize::B, src: base, .. }) = insns[i] else { return None };
    let mut values: BTreeMap<Reg, Lanes> = BTreeMap::new();
    let mut last_def: BTreeMap<Reg, usize> = BTreeMap::new();
    let mut loads: Vec<(usize, i16)> = Vec::new();
    let mut base_written = false;
    // At each completing `or`: the index after it, its register, and what
    // every register held and where it was last written.
    type Done = (usize, Reg, BTreeMap<Reg, Lanes>, BTreeMap<Reg, usize>);
    let mut done: Vec<Done> = Vec::new();
    for (k, &(pc, insn)) in insns.iter().enumerate().skip(i) {
        if pc != first + (k - i) || (pc != first && leaders.contains(&pc)) {
            break;
        }
        let (dst, lanes) = match insn {
            Insn::Load { size: MemSize::B, dst, src, off }
                if src == base && !base_written && loads.len() < MAX_LOADS =>
            {
                loads.push((pc, off));
                (dst, [Some(off), None, None, None])
            }
            Insn::Alu { op: AluOp::Lsh, dst, src: Source::Imm(amount), .. }
                if amount % 8 == 0 && (0..32).contains(&amount) =>
            {
                let Some(v) = values.get(&dst) else { break };
                let by = (amount / 8) as usize;
                if v[4 - by..].iter().any(Option::is_some) {
                    break;
                }
                let mut shifted = [None; 4];
                shifted[by..].copy_from_slice(&v[..4 - by]);
                (dst, shifted)
            }
            Insn::Alu { op: AluOp::Or, dst, src: Source::Reg(src), .. } if src != dst => {
                let (Some(a), Some(b)) = (values.get(&dst), values.get(&src)) else { break };
                if a.iter().zip(b).any(|(x, y)| x.is_some() && y.is_some()) {
                    break;
                }
                let merged: Lanes = std::array::from_fn(|l| a[l].or(b[l]));
                (dst, merged)
            }
            _ => break,
        };
        if dst == base {
            base_written = true;
        }
        values.insert(dst, lanes);
        last_def.insert(dst, pc);
        if matches!(insn, Insn::Alu { op: AluOp::Or, .. }) && layout(&lanes).is_some() {
            done.push((k + 1, dst, values.clone(), last_def.clone()));
        }
    }
    // The longest run whose registers all check out.
    done.into_iter().rev().find_map(|(stop, high, values, last_def)| {
        let end = first + (stop - i);
        let loads: Vec<(usize, i16)> = loads.iter().copied().filter(|l| l.0 < end).collect();
        let rest = insns.get(stop..).unwrap_or_default();
        let live = |r: Reg| !overwritten_before_read(rest, r, leaders, entry_end);
        let run = Run { first, end, base, high, values: &values, last_def: &last_def };
        run.checked(&loads, live)
    })
}

/// A candidate run: where it starts and ends, and what it leaves in every
/// register it writes.
struct Run<'a> {
    first: usize,
    end: usize,
    base: Reg,
    high: Reg,
    values: &'a BTreeMap<Reg, Lanes>,
    last_def: &'a BTreeMap<Reg, usize>,
}

impl Run<'_> {
    /// The run as a [`BytePair`], if every load feeds the value once (no
    /// byte is read that the one load would not read and check) and every
    /// other register `live` says is read later holds its bytes where the
    /// loaded value has them.
    fn checked(&self, loads: &[(usize, i16)], live: impl Fn(Reg) -> bool) -> Option<BytePair> {
        let (off, bytes, big_endian) = layout(self.values.get(&self.high)?)?;
        let mut offsets: Vec<i16> = loads.iter().map(|l| l.1).collect();
        offsets.sort_unstable();
        if offsets != (0..bytes as i16).map(|k| off + k).collect::<Vec<_>>() {
            return None;
        }
        let lane_of = |o: i16| {
            let k = (o - off) as usize;
            if big_endian {
                bytes as usize - 1 - k
            } else {
                k
            }
        };
        let mut pair = BytePair {
            first: self.first,
            end: self.end,
            base: self.base,
            off,
            big_endian,
            high: self.high,
            bytes,
            loads: [(0, 0); MAX_LOADS],
            lanes: [(Reg::R0, 0, 0); MAX_LOADS],
            lane_count: 0,
        };
        pair.loads[..loads.len()].copy_from_slice(loads);
        for (&r, v) in self.values.iter().filter(|(&r, _)| r != self.high && live(r)) {
            let mut mask = 0u32;
            for (l, o) in v.iter().enumerate() {
                if let Some(o) = *o {
                    if lane_of(o) != l {
                        return None;
                    }
                    mask |= 0xff << (8 * l);
                }
            }
            let slot = pair.lanes.get_mut(pair.lane_count)?;
            *slot = (r, *self.last_def.get(&r)?, mask);
            pair.lane_count += 1;
        }
        Some(pair)
    }
}

/// (lowest offset, bytes, big-endian) if `v` holds 2 or 4 adjacent bytes
/// from lane 0 up, in little- or big-endian order, and nothing else.
fn layout(v: &Lanes) -> Option<(i16, u32, bool)> {
    let n = v.iter().take_while(|l| l.is_some()).count();
    if !(n == 2 || n == 4) || v[n..].iter().any(Option::is_some) {
        return None;
    }
    let offs: Vec<i16> = v[..n].iter().map(|l| l.unwrap_or_default()).collect();
    let rising = offs.windows(2).all(|w| w[0].checked_add(1) == Some(w[1]));
    let falling = offs.windows(2).all(|w| w[1].checked_add(1) == Some(w[0]));
    match (rising, falling) {
        (true, _) => Some((offs[0], n as u32, false)),
        (_, true) => Some((offs[n - 1], n as u32, true)),
        _ => None,
    }
}

/// True if the instructions from the start of `rest` write `r` before
/// anything reads it, or reach an `exit` where its value is lost, without
/// leaving the block.
fn overwritten_before_read(
    rest: &[(usize, Insn)],
    r: Reg,
    leaders: &BTreeSet<usize>,
    entry_end: usize,
) -> bool {
    for (pc, insn) in rest {
        if leaders.contains(pc) || reads(insn) & r.bit() != 0 {
            return false;
        }
        match insn {
            // r0 was read above.
            Insn::Exit if *pc < entry_end => return true,
            Insn::Exit => return r.index() >= 6,
            Insn::Jmp { .. }
            | Insn::Ja { .. }
            | Insn::JaLong { .. }
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
        runs(&insns, &BTreeSet::from([0]), insns.len()).into_values().collect()
    }

    /// (off, bytes, big-endian, high, end, later loads, lanes) of the one run
    /// in `src` followed by `tail`.
    type Summary = (i16, u32, bool, Reg, usize, Vec<(usize, i16)>, Vec<(Reg, usize, u32)>);

    fn one_run(src: &str, tail: &str) -> Summary {
        let found = pairs_of(&format!("{src}{tail}"));
        assert_eq!(found.len(), 1, "{src}");
        let p = found[0];
        (p.off, p.bytes(), p.big_endian, p.high, p.end(), p.later_loads(), p.lanes())
    }

    #[test]
    fn each_order_of_a_pair_is_found_in_either_byte_order() {
        // r3 the value, r0 the other byte (read by the exit).
        let little = [
            ("ldxb %r3, [%r1+7]\nlsh32 %r3, 8\nldxb %r0, [%r1+6]\nor32 %r3, %r0\n", [(2, 6)], 2),
            ("ldxb %r0, [%r1+6]\nldxb %r3, [%r1+7]\nlsh %r3, 8\nor %r3, %r0\n", [(1, 7)], 0),
            ("ldxb %r3, [%r1+7]\nldxb %r0, [%r1+6]\nlsh32 %r3, 8\nor32 %r3, %r0\n", [(1, 6)], 1),
        ];
        for (src, later, low_at) in little {
            let want = (6, 2, false, Reg::R3, 4, later.to_vec(), vec![(Reg::R0, low_at, 0xff)]);
            assert_eq!(one_run(src, "exit\n"), want, "{src}");
        }
        let network = [
            ("ldxb %r3, [%r1+6]\nlsh32 %r3, 8\nldxb %r0, [%r1+7]\nor32 %r3, %r0\n", [(2, 7)], 2),
            ("ldxb %r0, [%r1+7]\nldxb %r3, [%r1+6]\nlsh %r3, 8\nor %r3, %r0\n", [(1, 6)], 0),
        ];
        for (src, later, low_at) in network {
            let want = (6, 2, true, Reg::R3, 4, later.to_vec(), vec![(Reg::R0, low_at, 0xff)]);
            assert_eq!(one_run(src, "exit\n"), want, "{src}");
        }
    }

    #[test]
    fn words_are_found_in_either_byte_order() {
        // read_le32 as clang emits it (sort.c): the fourth byte reuses the
        // third's register, which a later move reads.
        let le = "ldxb %r6, [%r1-2]\nlsh32 %r6, 8\nldxb %r7, [%r1-3]\nor32 %r6, %r7\n\
                  ldxb %r7, [%r1-1]\nlsh32 %r7, 16\nor32 %r6, %r7\n\
                  ldxb %r7, [%r1+0]\nlsh32 %r7, 24\nor32 %r6, %r7\n";
        let later = vec![(2, -3), (4, -1), (7, 0)];
        let lanes = vec![(Reg::R7, 8, 0xff00_0000)];
        let want = (-3, 4, false, Reg::R6, 10, later.clone(), lanes);
        assert_eq!(one_run(le, "stxw [%r10-4], %r6\nmov %r0, %r7\nexit\n"), want);
        let want = (-3, 4, false, Reg::R6, 10, later, vec![]);
        assert_eq!(one_run(le, "mov %r7, 1\nmov %r0, %r6\nexit\n"), want);
        // A network-order read as clang emits it: two shifted bytes or-ed,
        // then the third shifted, then the fourth as it is, into the base.
        let be = "ldxb %r2, [%r1+0]\nlsh32 %r2, 24\nldxb %r0, [%r1+1]\nlsh32 %r0, 16\n\
                  or32 %r0, %r2\nldxb %r2, [%r1+2]\nlsh32 %r2, 8\nor32 %r0, %r2\n\
                  ldxb %r1, [%r1+3]\nor32 %r0, %r1\n";
        let later = vec![(2, 1), (5, 2), (8, 3)];
        let lanes = vec![(Reg::R1, 8, 0xff), (Reg::R2, 6, 0xff00)];
        let want = (0, 4, true, Reg::R0, 10, later, lanes);
        assert_eq!(one_run(be, "add %r1, %r2\nexit\n"), want);
    }

    #[test]
    fn a_run_stops_at_its_last_complete_value() {
        // The pair completes; the third byte's triple then shifts by 24,
        // which leaves a gap: the run is the pair.
        let src = "ldxb %r6, [%r1-2]\nlsh32 %r6, 8\nldxb %r7, [%r1-3]\nor32 %r6, %r7\n\
                   ldxb %r7, [%r1-1]\nlsh32 %r7, 24\nor32 %r6, %r7\n";
        let (off, bytes, _, _, end, _, lanes) = one_run(src, "mov %r7, 0\nexit\n");
        assert_eq!((off, bytes, end), (-3, 2, 4));
        // r7 is rewritten by the next load, so the pair's r7 is dead.
        assert_eq!(lanes, vec![]);
        // Three bytes are no value; a fifth load ends the scan.
        let three = "ldxb %r6, [%r1+1]\nlsh32 %r6, 8\nldxb %r7, [%r1+0]\nor32 %r6, %r7\n\
                     ldxb %r7, [%r1+2]\nlsh32 %r7, 16\nor32 %r6, %r7\nexit\n";
        assert_eq!(pairs_of(three).iter().map(|p| p.bytes()).collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn other_registers_read_later_must_hold_their_bytes_in_place() {
        // A network-order word accumulated as `v = v << 8 | p[k]`: r0
        // keeps p[0] in lane 1 and r4 p[2] in lane 0, where the word has
        // them in lanes 3 and 1; r5 has p[3] in lane 0, as the word.
        let src = "ldxb %r0, [%r1+0]\nlsh32 %r0, 8\nldxb %r3, [%r1+1]\nor32 %r3, %r0\n\
                   lsh32 %r3, 8\nldxb %r4, [%r1+2]\nor32 %r3, %r4\n\
                   lsh32 %r3, 8\nldxb %r5, [%r1+3]\nor32 %r3, %r5\n";
        // r0 and r4 dead: the word, and r5 its low byte.
        let (off, bytes, big, high, end, _, lanes) =
            one_run(src, "mov %r0, %r3\nadd %r0, %r5\nexit\n");
        assert_eq!((off, bytes, big, high, end), (0, 4, true, Reg::R3, 10));
        assert_eq!(lanes, vec![(Reg::R5, 8, 0xff)]);
        // r4 read: no word; the pair, where r4 is not yet written.
        let (.., end, _, _) = one_run(src, "mov %r0, %r4\nexit\n");
        assert_eq!(end, 4);
        // r0 read: the pair it is in place for.
        let (off, bytes, big, high, end, _, lanes) = one_run(src, "add %r0, %r3\nexit\n");
        assert_eq!((off, bytes, big, high, end), (0, 2, true, Reg::R3, 4));
        assert_eq!(lanes, vec![(Reg::R0, 1, 0xff00)]);
    }

    #[test]
    fn bytes_read_later_are_found_only_if_read_before_overwritten_in_the_block() {
        let pair = "ldxb %r3, [%r1+7]\nlsh32 %r3, 8\nldxb %r0, [%r1+6]\nor32 %r3, %r0\n";
        let cases = [
            ("add32 %r5, %r3\nmov32 %r0, %r5\nexit\n", true),
            ("add32 %r0, %r3\nexit\n", false),
            ("mov %r2, %r0\nmov32 %r0, 1\nexit\n", false),
            ("exit\n", false),
            ("ja +0\nmov32 %r0, 1\nexit\n", false),
        ];
        for (tail, dead) in cases {
            let (.., lanes) = one_run(pair, tail);
            assert_eq!(lanes.is_empty(), dead, "{tail}");
        }
    }

    #[test]
    fn an_exit_loses_what_its_function_does_not_hand_on() {
        let src = |low: &str| {
            format!("ldxb %r3, [%r1+7]\nlsh32 %r3, 8\nldxb {low}, [%r1+6]\nor32 %r3, {low}\nmov %r0, %r3\nexit\n")
        };
        let lanes = |low: &str, entry_end: usize| {
            let insns = decoded(&assemble(&src(low)).expect("assembles").code);
            let found = runs(&insns, &BTreeSet::from([0]), entry_end);
            found.values().map(|p| p.lanes().len()).collect::<Vec<_>>()
        };
        // The program's exit: only r0 leaves. A local function's: r0..r5
        // go back to the caller, r6..r9 are restored.
        assert_eq!(lanes("%r4", 6), vec![0]);
        assert_eq!(lanes("%r7", 6), vec![0]);
        assert_eq!(lanes("%r4", 0), vec![1]);
        assert_eq!(lanes("%r7", 0), vec![0]);
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
            // A byte shifted past bit 31 (a 64-bit value), an add for the or.
            "ldxb %r3, [%r1+7]\nlsh %r3, 32\nldxb %r0, [%r1+6]\nor %r3, %r0\n",
            "ldxb %r3, [%r1+7]\nlsh32 %r3, 8\nldxb %r0, [%r1+6]\nadd32 %r3, %r0\n",
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
        assert!(runs(&insns, &BTreeSet::from([0, 2]), 5).is_empty());
        assert_eq!(runs(&insns, &BTreeSet::from([0, 4]), 5).len(), 1);
    }
}
