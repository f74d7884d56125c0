//! Where each eBPF register lives, and the machine frame.
//!
//! | what | where |
//! |---|---|
//! | eBPF r10 | r11 (no upper half: stack addresses are below 2^32); a program that never names r10 and makes no local call gets r11 as a seventh core register |
//! | the hottest of eBPF r0..r9 | r4, r5, r6, r7, r8, r10 (callee-saved, so helper and routine calls keep them): one core register for a *narrow* register (upper half always zero, see [`crate::analysis::zext`]), a pair for a wide one, or only the low half when one core register is left |
//! | the other halves | 4-byte slots at `[sp, #SLOTS + 8 * n]` (low word, high word at +4) |
//! | upper half of a narrow register | nowhere: it is zero |
//! | temporaries | r0..r3, r12, lr (never live across an eBPF instruction) |
//! | r9 | untouched (platform register) |
//!
//! "Hottest" counts static uses, eight times over for each loop around the
//! use (a loop: from a back edge's target to the jump); core registers go
//! to the highest counts first, a narrow register costing one and a wide one
//! two.
//!
//! The machine frame, at `sp` while any eBPF code runs (8-aligned):
//! `[sp, #CTX]` the context pointer, `[sp, #DEPTH]` the local-call save
//! offset, the register slots, for programs with local calls one
//! [`SAVE_ENTRY`]-byte save entry per call level (caller's r6..r9, r10 and
//! return address), and last the memory-check windows the lowering adds
//! (see `lower`).

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_isa::{decode_all, Insn, Source};

use super::insn::Reg;

/// Context pointer slot.
pub const CTX: u32 = 0;
/// Byte offset of the next free save entry, relative to [`SAVES`].
pub const DEPTH: u32 = 4;
/// First register slot.
pub const SLOTS: u32 = 8;
/// First local-call save entry.
pub const SAVES: u32 = SLOTS + 8 * 10;
/// Bytes per save entry: r6..r9 (32), r10, return address.
pub const SAVE_ENTRY: u32 = 40;
/// Save entries reserved (the verifier's depth limit).
pub const MAX_SAVES: u32 = 8;

/// Core registers that may hold eBPF register halves, in order of use.
const CORE: [Reg; 6] = [Reg::R4, Reg::R5, Reg::R6, Reg::R7, Reg::R8, Reg::R10];

/// Callee-saved registers the entry pushes (with lr).
pub const SAVED: u16 = 0x0df0;

/// Where one half of an eBPF register lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Half {
    /// A core register.
    Reg(Reg),
    /// A machine-stack word at this `sp` offset.
    Slot(u32),
}

/// Where one eBPF register lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    /// The low word.
    pub lo: Half,
    /// The high word; `None` when it is always zero (narrow registers and
    /// r10).
    pub hi: Option<Half>,
}

/// The map of a whole program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegMap {
    locs: [Loc; 11],
    /// Bytes of frame used by the fixed part (up to the save entries).
    pub fixed: u32,
}

impl RegMap {
    /// Chooses the map for `prog`, whose registers in `narrow` (a bit set)
    /// never have a non-zero upper half.
    pub fn new(prog: &VerifiedProgram, narrow: u16) -> RegMap {
        let code = &prog.program.code;
        let mut uses = [0u64; 10];
        let mut calls = false;
        let mut frame_used = false;
        for d in decode_all(code).flatten() {
            let pc = d.pc as u32;
            let depth = prog.back_edges.iter().filter(|&&(j, t)| t <= pc && pc <= j).count();
            let weight = 8u64.pow(depth.min(5) as u32);
            let mut count = |r: femtoc_isa::Reg| match uses.get_mut(r.index()) {
                Some(u) => *u += weight,
                None => frame_used = true,
            };
            match d.insn {
                Insn::Alu { dst, src, .. } | Insn::Jmp { dst, src, .. } => {
                    count(dst);
                    if let Source::Reg(s) = src {
                        count(s);
                    }
                }
                Insn::Store { dst, src, .. } => {
                    count(dst);
                    if let Source::Reg(s) = src {
                        count(s);
                    }
                }
                Insn::Neg { dst, .. }
                | Insn::Endian { dst, .. }
                | Insn::LoadImm64 { dst, .. }
                | Insn::LoadDataAddr { dst, .. } => count(dst),
                Insn::Load { dst, src, .. }
                | Insn::LoadSx { dst, src, .. }
                | Insn::Atomic { dst, src, .. } => {
                    count(dst);
                    count(src);
                }
                Insn::CallLocal { .. } => calls = true,
                _ => {}
            }
        }
        let mut order: Vec<usize> = (0..10).collect();
        order.sort_by_key(|&r| core::cmp::Reverse(uses[r]));
        let mut locs = [Loc { lo: Half::Slot(0), hi: None }; 11];
        for (r, loc) in locs.iter_mut().enumerate().take(10) {
            let off = SLOTS + 8 * r as u32;
            let hi = if narrow & (1 << r) != 0 { None } else { Some(Half::Slot(off + 4)) };
            *loc = Loc { lo: Half::Slot(off), hi };
        }
        // A program that never names r10 and makes no local call needs no
        // frame pointer: r11 holds eBPF registers too.
        let spare = if frame_used || calls { None } else { Some(Reg::R11) };
        let mut core = CORE.iter().copied().chain(spare);
        for r in order {
            if uses[r] == 0 {
                break;
            }
            let loc = &mut locs[r];
            let Some(lo) = core.next() else { break };
            loc.lo = Half::Reg(lo);
            if loc.hi.is_some() {
                if let Some(hi) = core.next() {
                    loc.hi = Some(Half::Reg(hi));
                }
            }
        }
        locs[10] = Loc { lo: Half::Reg(Reg::R11), hi: None };
        let fixed = if calls { SAVES + SAVE_ENTRY * MAX_SAVES } else { SAVES };
        RegMap { locs, fixed }
    }

    /// Where eBPF register `r` lives.
    pub fn loc(&self, r: femtoc_isa::Reg) -> Loc {
        self.locs[r.index().min(10)]
    }

    /// True if `r`'s upper half is always zero.
    pub fn narrow(&self, r: femtoc_isa::Reg) -> bool {
        self.loc(r).hi.is_none()
    }
}
