//! Where each eBPF register lives, and the machine frame.
//!
//! | what | where |
//! |---|---|
//! | eBPF r10 | r11 (low half; the upper half is always zero: stack addresses are below 2^32) |
//! | the 3 hottest of eBPF r0..r9 | pairs (r4, r5), (r6, r7), (r8, r10): callee-saved, so helper and routine calls keep them |
//! | the other eBPF registers | 8-byte slots at `[sp, #SLOTS + 8 * n]` (low word first) |
//! | temporaries | r0..r3, r12, lr (never live across an eBPF instruction) |
//! | r9 | untouched (platform register) |
//!
//! "Hottest" counts static uses, eight times over inside a loop (between a
//! back edge's target and the jump).
//!
//! The machine frame, at `sp` while any eBPF code runs (8-aligned):
//! `[sp, #CTX]` the context pointer, `[sp, #DEPTH]` the local-call save
//! offset, the register slots, and for programs with local calls one
//! [`SAVE_ENTRY`]-byte save entry per call level (caller's r6..r9, r10 and
//! return address).

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

/// Core registers that may hold eBPF pairs, in order of preference.
const PAIRS: [(Reg, Reg); 3] = [(Reg::R4, Reg::R5), (Reg::R6, Reg::R7), (Reg::R8, Reg::R10)];

/// Callee-saved registers the entry pushes (with lr).
pub const SAVED: u16 = 0x0df0;

/// Where one eBPF register lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// A pair of core registers (low, high).
    Pair(Reg, Reg),
    /// A machine-stack slot at this `sp` offset (low word; high at +4).
    Slot(u32),
    /// eBPF r10: low half in this register, high half zero.
    Frame(Reg),
}

/// The map of a whole program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegMap {
    locs: [Loc; 11],
    /// Bytes of machine frame below the pushed registers (8-aligned).
    pub frame: u32,
}

impl RegMap {
    /// Chooses the map for `prog`.
    pub fn new(prog: &VerifiedProgram) -> RegMap {
        let code = &prog.program.code;
        let mut uses = [0u64; 10];
        let mut calls = false;
        for d in decode_all(code).flatten() {
            let pc = d.pc as u32;
            let weight =
                if prog.back_edges.iter().any(|&(j, t)| t <= pc && pc <= j) { 8 } else { 1 };
            let mut count = |r: femtoc_isa::Reg| {
                if let Some(u) = uses.get_mut(r.index()) {
                    *u += weight;
                }
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
        let mut locs = [Loc::Slot(0); 11];
        for (r, loc) in locs.iter_mut().enumerate().take(10) {
            *loc = Loc::Slot(SLOTS + 8 * r as u32);
        }
        for (&r, &(lo, hi)) in order.iter().zip(PAIRS.iter()) {
            if uses[r] > 0 {
                locs[r] = Loc::Pair(lo, hi);
            }
        }
        locs[10] = Loc::Frame(Reg::R11);
        let frame = if calls { SAVES + SAVE_ENTRY * MAX_SAVES } else { SAVES };
        RegMap { locs, frame: frame.next_multiple_of(8) }
    }

    /// Where eBPF register `r` lives.
    pub fn loc(&self, r: femtoc_isa::Reg) -> Loc {
        self.locs[r.index().min(10)]
    }
}
