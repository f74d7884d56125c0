//! Loads that can share one inline check; shared by the backends.
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
pub type Member = (usize, i16, u32);

/// Groups of at least two loads, by the pc of the first. `checked(pc,
/// insn)` says whether a load needs a check at all; `leaders` are the pcs
/// that start basic blocks. A backend limits groups with `fits` (a load it
/// can only check alone, for example for an offset its addressing cannot
/// encode) and `max_span` (the widest span its check covers).
pub fn load_groups(
    insns: &[(usize, Insn)],
    leaders: &BTreeSet<usize>,
    checked: impl Fn(usize, &Insn) -> bool,
    fits: impl Fn(&Member) -> bool,
    max_span: u32,
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
                let member = (pc, off, size.bytes());
                if checked(pc, &insn) && !fits(&member) {
                    close(&mut open);
                } else if checked(pc, &insn) {
                    match &mut open {
                        Some((base, members))
                            if *base == src && within(members, member, max_span) =>
                        {
                            members.push(member)
                        }
                        _ => {
                            close(&mut open);
                            open = Some((src, vec![member]));
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

/// True if `members` and `m` together span at most `max` bytes.
fn within(members: &[Member], m: Member, max: u32) -> bool {
    let (lo, n) = span(members);
    let lo2 = lo.min(i64::from(m.1));
    let hi2 = (lo + i64::from(n)).max(i64::from(m.1) + i64::from(m.2));
    hi2 - lo2 <= i64::from(max)
}

/// Loads whose check an earlier load of their group makes.
pub fn covered(groups: &BTreeMap<usize, Vec<Member>>) -> BTreeSet<usize> {
    groups.values().flat_map(|m| m.iter().skip(1).map(|&(pc, _, _)| pc)).collect()
}

/// The span a group covers: lowest offset and bytes from there.
pub fn span(members: &[Member]) -> (i64, u32) {
    let lo = members.iter().map(|&(_, off, _)| i64::from(off)).min().unwrap_or(0);
    let hi = members.iter().map(|&(_, off, size)| i64::from(off) + i64::from(size)).max();
    (lo, hi.map_or(0, |hi| (hi - lo) as u32))
}
