//! Accesses proven in bounds at compile time beyond the verifier's
//! constant ones: a table lookup such as `lddw r5, data[0]; add r5, r4;
//! ldxw r4, [r5+0]`, or an array in the stack frame indexed like
//! `mov r6, r10; add r6, -128; add r6, r5; ldxw r5, [r6+0]`, where the range
//! analysis bounds the index so that every byte lies in the data region
//! (install creates it with exactly the program's size for it) or in the
//! function's verified frame (which the stack always holds). Such an
//! access needs no check, like a constant stack access inside the frame.
//!
//! An access is also proven when an earlier access in the same basic
//! block, through the same unchanged base register, covered every byte it
//! touches with at least the permission it needs (a store's region is
//! writable and so readable): that access succeeded, and the region table
//! does not change during a run. So `stxb [r0+1]; ldxb [r0+1]` checks
//! once, as does a second load of a field; a 64-bit copy of the base, or
//! the base moved by a constant, keeps what it reached.
//!
//! The tracking is local to a basic block: a register holds
//! `data[n] + [lo, hi]` after `lddw` of region `n`, or `r10 + [lo, hi]`
//! after a copy of r10, and keeps that form through 64-bit moves and
//! additions of a constant or of a register whose range is known there.
//! Loads qualify; stores only into writable regions (a store into
//! `.rodata` must still fault) and the frame. Atomics are a separate set
//! ([`proven_atomics_with`]), on the same terms as stores, which also says
//! whether each one's address is proven aligned: data regions start at
//! multiples of 8 (the runtime refuses others) and r10 is one, so an
//! atomic at an exactly known offset from either is aligned iff the
//! offset is a multiple of its size.

use std::collections::{BTreeMap, BTreeSet};

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_isa::{AluOp, Insn, Reg, Source, Width};

use super::ranges::{register_ranges, RangeConfig, Ranges};

/// What a pointer is an offset from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// Data region `n`'s base.
    Data(u32),
    /// r10, the top of the current function's frame.
    Frame,
}

/// `origin + [lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DataPtr {
    region: Origin,
    lo: i64,
    hi: i64,
}

/// The pcs of the loads and stores whose every byte is proven to lie in
/// the data region or the stack frame their base points into.
pub fn proven_accesses(prog: &VerifiedProgram, cfg: &RangeConfig) -> BTreeSet<usize> {
    proven_accesses_with(prog, &register_ranges(prog, cfg))
}

/// [`proven_accesses`] with the ranges already computed.
pub fn proven_accesses_with(prog: &VerifiedProgram, ranges: &Ranges) -> BTreeSet<usize> {
    proven_with(prog, ranges, false).into_keys().collect()
}

/// The pcs of the atomics whose every byte is proven to lie in a writable
/// data region or the stack frame, each with whether its address is
/// proven naturally aligned too.
pub fn proven_atomics_with(prog: &VerifiedProgram, ranges: &Ranges) -> BTreeMap<usize, bool> {
    proven_with(prog, ranges, true)
}

/// Loads and stores, or (`atomics`) atomics, proven in bounds, with
/// whether each address is proven a multiple of the access size.
fn proven_with(prog: &VerifiedProgram, ranges: &Ranges, atomics: bool) -> BTreeMap<usize, bool> {
    let leaders: BTreeSet<usize> = prog.blocks.iter().map(|b| b.start as usize).collect();
    let mut out = BTreeMap::new();
    let mut ptrs: BTreeMap<Reg, DataPtr> = BTreeMap::new();
    // Byte ranges [from, to) relative to a base register that an earlier
    // access of this block reached, and whether it was a write.
    let mut reached: BTreeMap<Reg, Vec<(i64, i64, bool)>> = BTreeMap::new();
    for d in femtoc_isa::decode_all(&prog.program.code).flatten() {
        if leaders.contains(&d.pc) {
            ptrs.clear();
            reached.clear();
        }
        // Every access feeds the coverage; `wanted` if this call reports
        // its kind (loads and stores, or atomics).
        let access = match d.insn {
            Insn::Load { src, off, size, .. } | Insn::LoadSx { src, off, size, .. } => {
                Some((src, off, size, false, !atomics))
            }
            Insn::Store { dst, off, size, .. } => Some((dst, off, size, true, !atomics)),
            Insn::Atomic { dst, off, size, .. } => Some((dst, off, size, true, atomics)),
            _ => None,
        };
        if let Some((base, off, size, write, wanted)) = access {
            let (from, to) = (i64::from(off), i64::from(off) + i64::from(size.bytes()));
            let list = reached.entry(base).or_default();
            let covered = list.iter().any(|&(f, t, w)| f <= from && to <= t && (w || !write));
            if wanted && covered {
                // The bounds are proven; an atomic's alignment is not.
                out.entry(d.pc).or_insert(false);
            }
            list.push((from, to, write));
        }
        if let Some((base, off, size, write, true)) = access {
            if let Some(p) = ptrs.get(&base) {
                // The bytes allowed: [from, to) relative to the origin.
                let span = match p.region {
                    Origin::Data(n) => prog
                        .program
                        .data
                        .get(n as usize)
                        .filter(|r| !write || r.kind.writable())
                        .map(|r| (0, i64::from(r.size))),
                    // An untracked frame is the rest of the stack below the
                    // function's deepest entry: still inside the stack.
                    Origin::Frame => prog
                        .as_ref()
                        .function_at(d.pc as u32)
                        .map(|f| (-i64::from(f.frame_size), 0)),
                };
                let fits = span.is_some_and(|(from, to)| {
                    p.lo + i64::from(off) >= from
                        && p.hi + i64::from(off) + i64::from(size.bytes()) <= to
                });
                if fits {
                    // Both origins are multiples of 8 (see the module doc).
                    let bytes = i64::from(size.bytes());
                    let aligned = p.lo == p.hi && (p.lo + i64::from(off)).rem_euclid(bytes) == 0;
                    *out.entry(d.pc).or_insert(false) |= aligned;
                }
            }
        }
        let next = match d.insn {
            Insn::LoadDataAddr { dst, region, offset } => Some((
                dst,
                Some(DataPtr {
                    region: Origin::Data(region),
                    lo: offset.into(),
                    hi: offset.into(),
                }),
            )),
            Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src: Source::Reg(Reg::R10) } => {
                Some((dst, Some(DataPtr { region: Origin::Frame, lo: 0, hi: 0 })))
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
        // A copy of the base, or the base moved by a constant, reaches the
        // same bytes (at shifted offsets).
        let moved = match d.insn {
            Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src: Source::Reg(s) } => {
                reached.get(&s).map(|list| (dst, list.clone(), 0))
            }
            Insn::Alu { width: Width::W64, op: AluOp::Add, dst, src: Source::Imm(k) } => {
                reached.get(&dst).map(|list| (dst, list.clone(), i64::from(k)))
            }
            Insn::Alu { width: Width::W64, op: AluOp::Sub, dst, src: Source::Imm(k) } => {
                reached.get(&dst).map(|list| (dst, list.clone(), -i64::from(k)))
            }
            _ => None,
        };
        // What the instruction writes, or a call clobbers, is forgotten
        // before the new facts about its destination go in.
        if matches!(d.insn, Insn::CallLocal { .. } | Insn::CallReg { .. }) {
            ptrs.clear();
            reached.clear();
        }
        for r in super::zext::written(&d.insn) {
            ptrs.remove(&r);
            reached.remove(&r);
        }
        if let Some((dst, Some(p))) = next {
            ptrs.insert(dst, p);
        }
        if let Some((dst, list, k)) = moved {
            let shifted = list.into_iter().map(|(f, t, w)| (f - k, t - k, w)).collect();
            reached.insert(dst, shifted);
        }
    }
    out
}
