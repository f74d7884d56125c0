//! Low words per *web*: the same question as [`super::low_word`], asked of
//! each web of a register instead of the register as a whole.
//!
//! A web is a set of definitions of one register together with their uses,
//! closed under "reaches a common use" (the classic live-range unit).
//! Compilers reuse registers for unrelated values: in a sort, r1 is the
//! context pointer in one loop (which may not fit in 32 bits) and an index
//! in the next (which does). Deciding per web keeps the index a single word
//! although the pointer needs both.
//!
//! Definitions reaching a point are tracked only where the register is
//! live, so dead values meeting at a join do not tie webs together. Local
//! calls are handled coarsely: every argument (r1..r5 at a call), every
//! value a callee starts with, every callee's r0..r5 at its exits and
//! r0..r5 after a call belong to one web per register (the call web), so a
//! callee and all its callers agree on how those values are kept. r1..r5
//! after a call are dead to the verifier, but a helper call may still pass
//! them on as arguments, so what the callee left in them must be exact. r6..r9 pass
//! through calls untouched: a callee saves and restores whatever machine
//! locations it writes.

use std::collections::BTreeMap;

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_isa::{AluOp, Insn, Reg, Source};

use super::low_word::full_reads;
use super::ranges::{register_ranges, RangeConfig, Ranges};
use super::successors;
use super::zext::written;

/// Registers r0..r9 (r10 is never written and always fits in 32 bits).
const REGS: usize = 10;
/// No definition reaches (the register is dead here).
const NONE: u32 = u32::MAX;
/// r0..r5: the registers a local call's web ties between caller and callee.
const CALL_WEB: u16 = 0b11_1111;

/// Which webs a 32-bit backend may keep as a low word only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LowWords {
    /// Per pc: registers whose value just before the instruction belongs
    /// to a low-word web (dead registers included: they hold nothing).
    before: BTreeMap<usize, u16>,
    /// Per pc: the register the instruction writes, if its web is low.
    defs: BTreeMap<usize, u16>,
    /// Registers whose value at the entry function's start is kept low.
    pub entry: u16,
    /// Registers all of whose webs are low: they need no upper half at all.
    pub everywhere: u16,
}

impl LowWords {
    /// True if `r`'s value just before `pc` is kept as a low word.
    pub fn before(&self, pc: usize, r: Reg) -> bool {
        r.index() >= REGS || self.before.get(&pc).copied().unwrap_or(self.everywhere) & r.bit() != 0
    }

    /// True if the value `pc` writes to `r` is kept as a low word.
    pub fn def(&self, pc: usize, r: Reg) -> bool {
        r.index() >= REGS || self.defs.get(&pc).copied().unwrap_or(self.everywhere) & r.bit() != 0
    }
}

/// Union-find over web nodes.
struct Sets(Vec<u32>);

impl Sets {
    fn find(&mut self, mut x: u32) -> u32 {
        while let Some(&p) = self.0.get(x as usize) {
            if p == x {
                break;
            }
            let grand = self.0.get(p as usize).copied().unwrap_or(p);
            if let Some(slot) = self.0.get_mut(x as usize) {
                *slot = grand;
            }
            x = p;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            if let Some(slot) = self.0.get_mut(a.max(b) as usize) {
                *slot = a.min(b);
            }
        }
    }
}

/// The registers `insn` reads (any part of), as a bit set.
pub(crate) fn reads(insn: &Insn) -> u16 {
    let src = |s: Source| match s {
        Source::Reg(r) => r.bit(),
        Source::Imm(_) => 0,
    };
    let args = 0b11_1110;
    let bits = match *insn {
        Insn::Alu { op: AluOp::Mov | AluOp::MovSx(_), src: s, .. } => src(s),
        Insn::Alu { dst, src: s, .. } => dst.bit() | src(s),
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => dst.bit(),
        Insn::Load { src, .. } | Insn::LoadSx { src, .. } => src.bit(),
        Insn::Store { dst, src: s, .. } => dst.bit() | src(s),
        Insn::Atomic { dst, src, .. } => dst.bit() | src.bit() | Reg::R0.bit(),
        Insn::Jmp { dst, src: s, .. } => dst.bit() | src(s),
        Insn::Call { .. } | Insn::CallLocal { .. } => args,
        Insn::CallReg { .. } => 0x3ff,
        Insn::Exit => Reg::R0.bit(),
        _ => 0,
    };
    bits & 0x3ff
}

/// The registers `insn` defines (a local call: r0..r5, from the callee).
fn defines(insn: &Insn) -> u16 {
    match insn {
        Insn::CallLocal { .. } | Insn::CallReg { .. } => 0b11_1111,
        _ => written(insn).fold(0, |acc, r| acc | r.bit()),
    }
}

/// The webs of `prog` that may be kept as a low word: a web qualifies if
/// every read of it that needs the upper half (see
/// [`super::low_word_registers`]) sees a value below 2^32 by the ranges of
/// `cfg`. Registers in `always` fit in 32 bits everywhere.
pub fn low_word_webs(prog: &VerifiedProgram, cfg: &RangeConfig, always: u16) -> LowWords {
    low_word_webs_with(prog, &register_ranges(prog, cfg), always)
}

/// [`low_word_webs`] with the ranges already computed.
pub fn low_word_webs_with(prog: &VerifiedProgram, ranges: &Ranges, always: u16) -> LowWords {
    let insns: Vec<(usize, Insn)> =
        femtoc_isa::decode_all(&prog.program.code).flatten().map(|d| (d.pc, d.insn)).collect();
    let index: BTreeMap<usize, usize> =
        insns.iter().enumerate().map(|(i, &(pc, _))| (pc, i)).collect();
    let succs: Vec<Vec<usize>> = insns
        .iter()
        .map(|&(pc, insn)| successors(pc, &insn).filter_map(|p| index.get(&p).copied()).collect())
        .collect();

    let starts: Vec<usize> = prog.functions.iter().map(|f| f.start as usize).collect();
    let in_callee = |pc: usize| starts.iter().skip(1).any(|&s| s <= pc);

    // Liveness, backwards to a fixed point.
    let mut live_in = vec![0u16; insns.len()];
    loop {
        let mut changed = false;
        for i in (0..insns.len()).rev() {
            let Some(&(pc, insn)) = insns.get(i) else { continue };
            let out = succs.get(i).map_or(0, |s| {
                s.iter().fold(0, |acc, &j| acc | live_in.get(j).copied().unwrap_or(0))
            });
            // A callee's exit hands r0..r5 back: the caller's next helper
            // call may pass r1..r5 on without writing them.
            let used = match insn {
                Insn::Exit if in_callee(pc) => CALL_WEB,
                _ => reads(&insn),
            };
            let v = used | (out & !defines(&insn));
            if let Some(slot) = live_in.get_mut(i) {
                if *slot != v {
                    *slot = v;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }

    // Nodes: the entry values, the call webs, then one per definition.
    let entry_node = |r: usize| r as u32;
    let call_node = |r: usize| (REGS + r) as u32;
    let mut def_node: BTreeMap<usize, u32> = BTreeMap::new();
    let mut next_node = 2 * REGS as u32;
    for &(pc, insn) in &insns {
        if !matches!(insn, Insn::CallLocal { .. } | Insn::CallReg { .. }) && defines(&insn) != 0 {
            def_node.insert(pc, next_node);
            next_node += 1;
        }
    }
    let mut sets = Sets((0..next_node).collect());

    // Forward: which node reaches each live register before each insn.
    let mut states: Vec<Option<[u32; REGS]>> = vec![None; insns.len()];
    let mut work = Vec::new();
    for (k, &start) in starts.iter().enumerate() {
        let Some(&i) = index.get(&start) else { continue };
        let live = live_in.get(i).copied().unwrap_or(0);
        let mut s = [NONE; REGS];
        for (r, slot) in s.iter_mut().enumerate() {
            if live & (1 << r) != 0 {
                *slot = if k == 0 { entry_node(r) } else { call_node(r) };
            }
        }
        if let Some(slot) = states.get_mut(i) {
            *slot = Some(s);
            work.push(i);
        }
    }
    while let Some(i) = work.pop() {
        let (Some(&(pc, insn)), Some(Some(mut s))) = (insns.get(i), states.get(i).copied()) else {
            continue;
        };
        match insn {
            Insn::CallLocal { .. } | Insn::CallReg { .. } => {
                for (r, slot) in s.iter_mut().enumerate().take(6) {
                    if (1..=5).contains(&r) && *slot != NONE {
                        sets.union(*slot, call_node(r));
                    }
                    *slot = call_node(r);
                }
            }
            Insn::Exit if in_callee(pc) => {
                for (r, &node) in s.iter().enumerate().take(6) {
                    if node != NONE {
                        sets.union(node, call_node(r));
                    }
                }
            }
            _ => {
                let node = def_node.get(&pc).copied().unwrap_or(NONE);
                let defs = defines(&insn);
                for (r, slot) in s.iter_mut().enumerate() {
                    if defs & (1 << r) != 0 {
                        *slot = node;
                    }
                }
            }
        }
        for &j in succs.get(i).map(Vec::as_slice).unwrap_or_default() {
            let live = live_in.get(j).copied().unwrap_or(0);
            let mut incoming = s;
            for (r, v) in incoming.iter_mut().enumerate() {
                if live & (1 << r) == 0 {
                    *v = NONE;
                }
            }
            let grew = match states.get_mut(j) {
                Some(Some(old)) => {
                    let mut grew = false;
                    for (o, &n) in old.iter_mut().zip(&incoming) {
                        if n == NONE {
                            continue;
                        }
                        if *o == NONE {
                            *o = n;
                            grew = true;
                        } else {
                            sets.union(*o, n);
                        }
                    }
                    grew
                }
                Some(slot) => {
                    *slot = Some(incoming);
                    true
                }
                None => false,
            };
            if grew {
                work.push(j);
            }
        }
    }

    // Which webs hold only values whose full reads fit in 32 bits.
    let mut low = vec![true; next_node as usize];
    let in_entry = |pc: usize| prog.functions.get(1).is_none_or(|f| pc < f.start as usize);
    loop {
        let mut changed = false;
        for (i, &(pc, insn)) in insns.iter().enumerate() {
            let (Some(Some(state)), Some(range)) = (states.get(i), ranges.get(&pc)) else {
                continue;
            };
            let def = def_node.get(&pc).map(|&n| sets.find(n));
            let def_low = def.is_none_or(|d| low.get(d as usize).copied().unwrap_or(false));
            let keeps = if def_low { defines(&insn) } else { 0 };
            for r in full_reads(&insn, keeps, in_entry(pc)) {
                let wide = range.get(r.index()).is_none_or(|v| !v.is_narrow());
                let node = state.get(r.index()).copied().unwrap_or(NONE);
                if wide && always & r.bit() == 0 && node != NONE {
                    let web = sets.find(node) as usize;
                    if low.get(web).copied().unwrap_or(false) {
                        if let Some(l) = low.get_mut(web) {
                            *l = false;
                        }
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }

    let mut is_low = |node: u32| node == NONE || low.get(sets.find(node) as usize) == Some(&true);
    let mut out = LowWords { everywhere: 0x3ff, ..Default::default() };
    for (i, &(pc, insn)) in insns.iter().enumerate() {
        let Some(Some(state)) = states.get(i) else { continue };
        let mut bits = 0u16;
        for (r, &node) in state.iter().enumerate() {
            if is_low(node) {
                bits |= 1 << r;
            } else {
                out.everywhere &= !(1 << r);
            }
        }
        out.before.insert(pc, bits);
        let defs = defines(&insn);
        let node = match insn {
            Insn::CallLocal { .. } | Insn::CallReg { .. } => None,
            _ => def_node.get(&pc).copied(),
        };
        if let Some(node) = node {
            if is_low(node) {
                out.defs.insert(pc, defs);
            } else {
                out.defs.insert(pc, 0);
                out.everywhere &= !defs;
            }
        }
    }
    out.entry = (0..REGS).filter(|&r| is_low(entry_node(r))).fold(0, |acc, r| acc | 1 << r);
    out.everywhere &= out.entry | !live_in.first().copied().unwrap_or(0);
    out
}
