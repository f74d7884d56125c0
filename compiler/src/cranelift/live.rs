//! Which eBPF registers are live after each instruction.
//!
//! The slow path of a memory check saves exactly these to the machine
//! stack and reloads them afterwards, so that no program value is live
//! through the cold search: otherwise the register allocator, which weighs
//! values by loop depth, would spill program registers in the hot path.
//! Approximations only ever add registers (local calls and returns count
//! as reading everything they could pass on).

use std::collections::BTreeMap;

use femtoc_isa::insn::{AluOp, AtomicOp, Insn, Reg, Source};

/// A set of eBPF registers, bit `i` for `ri`.
pub(crate) type Regs = u16;

const ALL: Regs = (1 << Reg::COUNT) - 1;
/// r0..r5: what a callee's `exit` hands back, as far as anyone can tell.
const RETURNED: Regs = 0b11_1111;

fn bit(r: Reg) -> Regs {
    1 << r.index()
}

fn src_bit(s: Source) -> Regs {
    match s {
        Source::Reg(r) => bit(r),
        Source::Imm(_) => 0,
    }
}

/// (registers read, registers written) by `insn`; `callee` says whether
/// it lies in a function other than the entry.
fn uses_defs(insn: &Insn, callee: bool) -> (Regs, Regs) {
    match *insn {
        Insn::Alu { op: AluOp::Mov | AluOp::MovSx(_), dst, src, .. } => (src_bit(src), bit(dst)),
        Insn::Alu { dst, src, .. } => (bit(dst) | src_bit(src), bit(dst)),
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => (bit(dst), bit(dst)),
        Insn::LoadImm64 { dst, .. } | Insn::LoadDataAddr { dst, .. } => (0, bit(dst)),
        Insn::Load { dst, src, .. } | Insn::LoadSx { dst, src, .. } => (bit(src), bit(dst)),
        Insn::Store { dst, src, .. } => (bit(dst) | src_bit(src), 0),
        Insn::Atomic { op: AtomicOp::CmpXchg, dst, src, .. } => {
            (bit(dst) | bit(src) | bit(Reg::R0), bit(Reg::R0))
        }
        Insn::Atomic { fetch, dst, src, .. } => {
            (bit(dst) | bit(src), if fetch { bit(src) } else { 0 })
        }
        Insn::Jmp { dst, src, .. } => (bit(dst) | src_bit(src), 0),
        Insn::Ja { .. } | Insn::JaLong { .. } => (0, 0),
        // r1..r5 are the arguments; r0..r5 come back clobbered.
        Insn::Call { .. } => (0b11_1110, RETURNED),
        Insn::CallLocal { .. } | Insn::CallReg { .. } => (ALL, 0),
        Insn::Exit if callee => (RETURNED, 0),
        Insn::Exit => (bit(Reg::R0), 0),
    }
}

/// Registers live just before `insn`, given those live after it: a check
/// made before an access must keep what the access reads and what is
/// needed later, but not the old value of a register the access
/// overwrites (a load's destination).
pub(crate) fn live_before(insn: &Insn, after: Regs) -> Regs {
    let (uses, defs) = uses_defs(insn, true);
    (after & !defs) | uses
}

/// Registers live after each instruction, by pc. `callee_at(pc)` says
/// whether `pc` lies in a function other than the entry.
pub(crate) fn live_out(
    insns: &[(usize, Insn)],
    callee_at: impl Fn(usize) -> bool,
) -> BTreeMap<usize, Regs> {
    let index: BTreeMap<usize, usize> =
        insns.iter().enumerate().map(|(i, &(pc, _))| (pc, i)).collect();
    let facts: Vec<(Regs, Regs)> =
        insns.iter().map(|&(pc, insn)| uses_defs(&insn, callee_at(pc))).collect();
    let succs: Vec<Vec<usize>> = insns
        .iter()
        .map(|&(pc, insn)| {
            let mut s = Vec::with_capacity(2);
            let falls = !matches!(insn, Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Exit);
            if falls {
                s.extend(index.get(&(pc + insn.slots())));
            }
            if matches!(insn, Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Jmp { .. }) {
                if let Some(t) = insn.branch_target(pc).and_then(|t| usize::try_from(t).ok()) {
                    s.extend(index.get(&t));
                }
            }
            s
        })
        .collect();
    let mut out: Vec<Regs> = vec![0; insns.len()];
    let mut changed = true;
    while changed {
        changed = false;
        for i in (0..insns.len()).rev() {
            let o = succs.get(i).map_or(0, |s| {
                s.iter().fold(0, |acc, &j| {
                    let (u, d) = facts.get(j).copied().unwrap_or((ALL, 0));
                    acc | u | (out.get(j).copied().unwrap_or(ALL) & !d)
                })
            });
            if let Some(slot) = out.get_mut(i) {
                if *slot != o {
                    *slot = o;
                    changed = true;
                }
            }
        }
    }
    insns.iter().zip(out).map(|(&(pc, _), o)| (pc, o)).collect()
}
