//! Loads that can share one inline check.
//!
//! Checked loads in one basic block through the same, unchanged base
//! register, with nothing in between that has an effect (no store, atomic,
//! call or jump), are checked once at the first of them, over the span
//! they cover together. Checking the later ones early cannot be told
//! apart: loads and arithmetic leave no trace when a later load faults,
//! and the slow path still checks each load exactly, in order, so a fault
//! reports the same pc, address and size as checking one by one.

use std::collections::{BTreeMap, BTreeSet};

use femtoc_isa::insn::{Insn, Reg};

/// One load of a group: pc, offset from the base, size.
pub(crate) type Member = (usize, i16, u32);

/// Groups of at least two loads, by the pc of the first. `checked(pc,
/// insn)` says whether a load needs a check at all; `leaders` are the pcs
/// that start basic blocks.
pub(crate) fn load_groups(
    insns: &[(usize, Insn)],
    leaders: &BTreeSet<usize>,
    checked: impl Fn(usize, &Insn) -> bool,
) -> BTreeMap<usize, Vec<Member>> {
    let mut out = BTreeMap::new();
    let mut open: Option<(Reg, Vec<Member>)> = None;
    let mut close = |open: &mut Option<(Reg, Vec<Member>)>| {
        if let Some((_, members)) = open.take() {
            if let (true, Some(&(head, _, _))) = (members.len() >= 2, members.first()) {
                out.insert(head, members);
            }
        }
    };
    for &(pc, insn) in insns {
        if leaders.contains(&pc) {
            close(&mut open);
        }
        let written = match insn {
            Insn::Load { size, dst, src, off } | Insn::LoadSx { size, dst, src, off } => {
                if checked(pc, &insn) {
                    match &mut open {
                        Some((base, members)) if *base == src => {
                            members.push((pc, off, size.bytes()))
                        }
                        _ => {
                            close(&mut open);
                            open = Some((src, vec![(pc, off, size.bytes())]));
                        }
                    }
                }
                dst
            }
            Insn::Alu { dst, .. }
            | Insn::Neg { dst, .. }
            | Insn::Endian { dst, .. }
            | Insn::LoadImm64 { dst, .. }
            | Insn::LoadDataAddr { dst, .. } => dst,
            _ => {
                close(&mut open);
                continue;
            }
        };
        if open.as_ref().is_some_and(|(base, _)| *base == written) {
            close(&mut open);
        }
    }
    close(&mut open);
    out
}

/// The span a group covers: lowest offset and bytes from there.
pub(crate) fn span(members: &[Member]) -> (i64, u32) {
    let lo = members.iter().map(|&(_, off, _)| i64::from(off)).min().unwrap_or(0);
    let hi = members.iter().map(|&(_, off, size)| i64::from(off) + i64::from(size)).max();
    (lo, hi.map_or(0, |hi| (hi - lo) as u32))
}
