//! Accesses proven inside a data region at compile time: a table lookup
//! such as `lddw r5, data[0]; add r5, r4; ldxw r4, [r5+0]` where the range
//! analysis bounds the index r4 so that every byte read lies in the
//! region. The region's size is the program's (install creates it with
//! exactly that size), so such an access needs no check, like a constant
//! stack access inside the frame.
//!
//! The tracking is local to a basic block: a register holds
//! `data[n] + [lo, hi]` after `lddw` of region `n`, and keeps that form
//! through 64-bit moves and additions of a constant or of a register whose
//! range is known there. Loads qualify; stores only into writable regions
//! (a store into `.rodata` must still fault); atomics never (their
//! alignment is checked with the bounds).

use std::collections::{BTreeMap, BTreeSet};

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_isa::{AluOp, Insn, Reg, Source, Width};

use super::ranges::{register_ranges, RangeConfig};

/// `data[region] + [lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DataPtr {
    region: u32,
    lo: i64,
    hi: i64,
}

/// The pcs of the loads and stores whose every byte is proven to lie in
/// the data region their base points into.
pub fn proven_data_accesses(prog: &VerifiedProgram, cfg: &RangeConfig) -> BTreeSet<usize> {
    let ranges = register_ranges(prog, cfg);
    let leaders: BTreeSet<usize> = prog.blocks.iter().map(|b| b.start as usize).collect();
    let mut out = BTreeSet::new();
    let mut ptrs: BTreeMap<Reg, DataPtr> = BTreeMap::new();
    for d in femtoc_isa::decode_all(&prog.program.code).flatten() {
        if leaders.contains(&d.pc) {
            ptrs.clear();
        }
        let access = match d.insn {
            Insn::Load { src, off, size, .. } | Insn::LoadSx { src, off, size, .. } => {
                Some((src, off, size, false))
            }
            Insn::Store { dst, off, size, .. } => Some((dst, off, size, true)),
            _ => None,
        };
        if let Some((base, off, size, write)) = access {
            if let Some(p) = ptrs.get(&base) {
                let region = prog.program.data.get(p.region as usize);
                let fits = region.is_some_and(|r| {
                    (!write || r.kind.writable())
                        && p.lo + i64::from(off) >= 0
                        && p.hi + i64::from(off) + i64::from(size.bytes()) <= i64::from(r.size)
                });
                if fits {
                    out.insert(d.pc);
                }
            }
        }
        let next = match d.insn {
            Insn::LoadDataAddr { dst, region, offset } => {
                Some((dst, Some(DataPtr { region, lo: offset.into(), hi: offset.into() })))
            }
            Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src: Source::Reg(s) } => {
                Some((dst, ptrs.get(&s).copied()))
            }
            Insn::Alu { width: Width::W64, op, dst, src }
                if matches!(op, AluOp::Add | AluOp::Sub) =>
            {
                let add = match (op, src) {
                    (AluOp::Add, Source::Imm(k)) => Some((i64::from(k), i64::from(k))),
                    (AluOp::Sub, Source::Imm(k)) => Some((-i64::from(k), -i64::from(k))),
                    (AluOp::Add, Source::Reg(y)) => ranges
                        .get(&d.pc)
                        .and_then(|s| s.get(y.index()))
                        .filter(|r| r.hi <= u64::from(u32::MAX))
                        .map(|r| (r.lo as i64, r.hi as i64)),
                    _ => None,
                };
                let p = ptrs.get(&dst).copied().zip(add);
                Some((
                    dst,
                    p.map(|(p, (a, b))| DataPtr { region: p.region, lo: p.lo + a, hi: p.hi + b }),
                ))
            }
            _ => None,
        };
        match next {
            Some((dst, Some(p))) => {
                ptrs.insert(dst, p);
            }
            Some((dst, None)) => {
                ptrs.remove(&dst);
            }
            None => {
                if matches!(d.insn, Insn::CallLocal { .. } | Insn::CallReg { .. }) {
                    ptrs.clear();
                }
                for r in super::zext::written(&d.insn) {
                    ptrs.remove(&r);
                }
            }
        }
    }
    out
}
