//! Loads that can share one bounds check.
//!
//! A run of loads through the same base register inside one basic block,
//! with no store, call, atomic or write to the base between them, touches
//! `[base + start, base + end)` and nothing else in memory. One inline check
//! of that span replaces theirs. When it fails, the out-of-line path checks
//! each load on its own in program order and faults at the first refused
//! one. Faulting there before the group's earlier loads and register
//! operations ran is not observable: they wrote no memory, and a faulted
//! run reports its pc and fault but no registers.

use femtoc_isa::{Decoded, Insn, Reg};

/// The largest span one group check covers (window limits are per size).
pub const MAX_SPAN: i32 = 64;

/// A load inside a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// eBPF pc.
    pub pc: u32,
    /// Offset from the base.
    pub off: i16,
    /// Access size in bytes.
    pub size: u32,
}

/// Loads sharing one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadGroup {
    /// The base register of every member.
    pub base: Reg,
    /// Lowest offset touched.
    pub start: i32,
    /// One past the highest offset touched.
    pub end: i32,
    /// The loads, in program order (the first is the leader).
    pub members: Vec<Member>,
}

/// What a load does about its check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Not in a group.
    Alone,
    /// First load of group `n`: the check of the whole span goes here.
    Leader(usize),
    /// A later load of a group, already checked.
    Covered,
}

/// Plans the groups of `insns` (one program, in order). `boundary[pc]` is
/// true where a basic block may be entered other than by falling through
/// (jump targets, function starts); `checked(load)` says whether a load
/// needs a run-time check at all.
pub fn plan(
    insns: &[Decoded],
    boundary: &[bool],
    checked: impl Fn(&Decoded) -> bool,
) -> (Vec<LoadGroup>, Vec<Role>) {
    let len = insns.last().map_or(0, |d| d.pc + d.insn.slots());
    let mut roles = vec![Role::Alone; len];
    let mut groups = Vec::new();
    let mut open: Option<LoadGroup> = None;
    let close = |open: &mut Option<LoadGroup>, groups: &mut Vec<LoadGroup>, roles: &mut [Role]| {
        let Some(g) = open.take() else { return };
        if g.members.len() < 2 || g.end - g.start > MAX_SPAN {
            return;
        }
        for (i, m) in g.members.iter().enumerate() {
            if let Some(role) = roles.get_mut(m.pc as usize) {
                *role = if i == 0 { Role::Leader(groups.len()) } else { Role::Covered };
            }
        }
        groups.push(g);
    };
    for d in insns {
        if boundary.get(d.pc).copied().unwrap_or(true) {
            close(&mut open, &mut groups, &mut roles);
        }
        let base = open.as_ref().map(|g| g.base);
        match d.insn {
            Insn::Load { size, dst, src, off } | Insn::LoadSx { size, dst, src, off } => {
                // Offsets every member's access can use as an immediate.
                if checked(d) && (-255..=4087).contains(&off) {
                    if base != Some(src) {
                        close(&mut open, &mut groups, &mut roles);
                        open = Some(LoadGroup {
                            base: src,
                            start: i32::MAX,
                            end: i32::MIN,
                            members: Vec::new(),
                        });
                    }
                    if let Some(g) = open.as_mut() {
                        let bytes = size.bytes();
                        g.start = g.start.min(i32::from(off));
                        g.end = g.end.max(i32::from(off) + bytes as i32);
                        g.members.push(Member { pc: d.pc as u32, off, size: bytes });
                    }
                    if dst == src {
                        close(&mut open, &mut groups, &mut roles);
                    }
                } else if checked(d) || base == Some(dst) {
                    close(&mut open, &mut groups, &mut roles);
                }
            }
            Insn::Alu { dst, .. }
            | Insn::Neg { dst, .. }
            | Insn::Endian { dst, .. }
            | Insn::LoadImm64 { dst, .. }
            | Insn::LoadDataAddr { dst, .. } => {
                if base == Some(dst) {
                    close(&mut open, &mut groups, &mut roles);
                }
            }
            _ => close(&mut open, &mut groups, &mut roles),
        }
    }
    close(&mut open, &mut groups, &mut roles);
    (groups, roles)
}
