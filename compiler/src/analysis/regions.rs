//! Which region each checked access most likely hits, and which context
//! loads need no check at all; shared by the backends.
//!
//! A backend's inline check compares an address against one region whose
//! bounds it loads once at entry, so it pays to guess that region right: a
//! miss costs the slow path. The guess comes from a forward data-flow pass
//! over the registers: r10 and pointers derived from it point into the
//! stack, `lddw` of a data region into that region, and everything else is
//! taken to point into the context. A wrong guess is only slower, never
//! wrong: the search decides.

use std::collections::BTreeMap;

use femtoc_isa::insn::{AluOp, Insn, Reg, Source, Width};

/// Where a pointer most likely points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Region {
    /// The context, or unknown (the context is the usual target then).
    Ctx,
    /// The eBPF stack.
    Stack,
    /// Data region `i` of the program (`lddw` src 6).
    Data(u32),
}

type State = [Region; Reg::COUNT];

fn join(a: &mut State, b: &State) -> bool {
    let mut changed = false;
    for (x, y) in a.iter_mut().zip(b) {
        if *x != *y && *x != Region::Ctx {
            *x = Region::Ctx;
            changed = true;
        }
    }
    changed
}

/// The state after `insn`, and whether control can fall through to the
/// next instruction.
fn transfer(insn: &Insn, s: &mut State) -> bool {
    let set = |s: &mut State, r: Reg, v: Region| {
        if let Some(x) = s.get_mut(r.index()) {
            *x = v;
        }
    };
    let of = |s: &State, r: Reg| s.get(r.index()).copied().unwrap_or(Region::Ctx);
    match *insn {
        Insn::Alu { width: Width::W64, op, dst, src } => {
            let v = match (op, src) {
                (AluOp::Mov, Source::Reg(r)) => of(s, r),
                (AluOp::Add, Source::Reg(r)) if of(s, dst) == Region::Ctx => of(s, r),
                (AluOp::Add | AluOp::Sub, _) => of(s, dst),
                _ => Region::Ctx,
            };
            set(s, dst, v);
        }
        Insn::Alu { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::Endian { dst, .. }
        | Insn::LoadImm64 { dst, .. }
        | Insn::Load { dst, .. }
        | Insn::LoadSx { dst, .. } => set(s, dst, Region::Ctx),
        Insn::LoadDataAddr { dst, region, .. } => set(s, dst, Region::Data(region)),
        Insn::Atomic { fetch, src, op, .. } => {
            if op == femtoc_isa::insn::AtomicOp::CmpXchg {
                set(s, Reg::R0, Region::Ctx);
            } else if fetch {
                set(s, src, Region::Ctx);
            }
        }
        Insn::Store { .. } | Insn::Jmp { .. } => {}
        Insn::Call { .. } | Insn::CallLocal { .. } | Insn::CallReg { .. } => {
            for r in [Reg::R0, Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5] {
                set(s, r, Region::Ctx);
            }
        }
        Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Exit => return false,
    }
    true
}

/// The likeliest region of every checked access's base register, by pc.
/// `insns` is the decoded program; `starts` the function starts (slot 0
/// first).
pub fn regions(insns: &[(usize, Insn)], starts: &[usize]) -> BTreeMap<usize, Region> {
    let index: BTreeMap<usize, usize> =
        insns.iter().enumerate().map(|(i, &(pc, _))| (pc, i)).collect();
    let mut states: Vec<Option<State>> = vec![None; insns.len()];
    let mut work = Vec::new();
    for &f in starts {
        let mut s = [Region::Ctx; Reg::COUNT];
        s[Reg::R10.index()] = Region::Stack;
        if let Some(&i) = index.get(&f) {
            if let Some(slot) = states.get_mut(i) {
                *slot = Some(s);
                work.push(i);
            }
        }
    }
    while let Some(i) = work.pop() {
        let (Some(&(pc, insn)), Some(Some(mut s))) = (insns.get(i), states.get(i).copied()) else {
            continue;
        };
        let falls = transfer(&insn, &mut s);
        let mut succ = Vec::with_capacity(2);
        if falls {
            succ.push(pc + insn.slots());
        }
        if matches!(insn, Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Jmp { .. }) {
            if let Some(t) = insn.branch_target(pc).and_then(|t| usize::try_from(t).ok()) {
                succ.push(t);
            }
        }
        for t in succ {
            let Some(&j) = index.get(&t) else { continue };
            let grew = match states.get_mut(j) {
                Some(Some(old)) => join(old, &s),
                Some(slot) => {
                    *slot = Some(s);
                    true
                }
                None => false,
            };
            if grew {
                work.push(j);
            }
        }
    }
    let mut out = BTreeMap::new();
    for (i, &(pc, insn)) in insns.iter().enumerate() {
        let base = match insn {
            Insn::Load { src, .. } | Insn::LoadSx { src, .. } => src,
            Insn::Store { dst, .. } | Insn::Atomic { dst, .. } => dst,
            _ => continue,
        };
        let r = states
            .get(i)
            .copied()
            .flatten()
            .and_then(|s| s.get(base.index()).copied())
            .unwrap_or(Region::Ctx);
        out.insert(pc, r);
    }
    out
}

/// Pcs of the loads the verifier's `min_ctx_len` covers: in the entry
/// function's straight-line prefix (up to its first jump, and before the
/// first pc any jump lands on: a later back edge into the prefix would
/// bring other register values), based on the entry r1 (or a 64-bit copy
/// of it) at a constant offset `off >= 0` with `off + size <=
/// min_ctx_len`. Every engine refuses a shorter context, so these need no
/// check. Stores stay checked: the context may be read-only.
pub fn unchecked_ctx_loads(insns: &[(usize, Insn)], min_ctx_len: u32) -> Vec<usize> {
    let mut out = Vec::new();
    if min_ctx_len == 0 {
        return out;
    }
    let first_target = insns
        .iter()
        .filter(|(_, i)| matches!(i, Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Jmp { .. }))
        .filter_map(|&(pc, i)| i.branch_target(pc).and_then(|t| usize::try_from(t).ok()))
        .min()
        .unwrap_or(usize::MAX);
    let mut is_r1 = [false; Reg::COUNT];
    is_r1[Reg::R1.index()] = true;
    for &(pc, insn) in insns.iter().take_while(|&&(pc, _)| pc < first_target) {
        let held = |r: Reg| is_r1.get(r.index()).copied().unwrap_or(false);
        match insn {
            Insn::Load { size, src, off, .. } | Insn::LoadSx { size, src, off, .. }
                if held(src)
                    && off >= 0
                    && i64::from(off) + i64::from(size.bytes()) <= i64::from(min_ctx_len) =>
            {
                out.push(pc);
            }
            _ => {}
        }
        match insn {
            Insn::Ja { .. }
            | Insn::JaLong { .. }
            | Insn::Jmp { .. }
            | Insn::Call { .. }
            | Insn::CallLocal { .. }
            | Insn::CallReg { .. }
            | Insn::Exit => break,
            Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src: Source::Reg(s) } => {
                let v = held(s);
                if let Some(x) = is_r1.get_mut(dst.index()) {
                    *x = v;
                }
            }
            Insn::Alu { dst, .. }
            | Insn::Neg { dst, .. }
            | Insn::Endian { dst, .. }
            | Insn::LoadImm64 { dst, .. }
            | Insn::LoadDataAddr { dst, .. }
            | Insn::Load { dst, .. }
            | Insn::LoadSx { dst, .. } => {
                if let Some(x) = is_r1.get_mut(dst.index()) {
                    *x = false;
                }
            }
            Insn::Atomic { fetch, src, op, .. } => {
                let r = if op == femtoc_isa::insn::AtomicOp::CmpXchg {
                    Some(Reg::R0)
                } else {
                    fetch.then_some(src)
                };
                if let Some(x) = r.and_then(|r| is_r1.get_mut(r.index())) {
                    *x = false;
                }
            }
            Insn::Store { .. } => {}
        }
    }
    out
}
