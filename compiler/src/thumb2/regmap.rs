//! Where each eBPF register lives, and the machine frame.
//!
//! | what | where |
//! |---|---|
//! | eBPF r10 | r11 (no upper half: stack addresses are below 2^32); a program that never names r10 and makes no local call gets r11 as a seventh core register |
//! | the costliest register halves of eBPF r0..r9 | r4, r5, r6, r7, r8, r10 (callee-saved, so helper and routine calls keep them); a *narrow* register (upper half always zero, see [`crate::analysis::zext`]) has only a low half |
//! | the other halves | 4-byte slots at `[sp, #SLOTS + 8 * n]` (low word, high word at +4) |
//! | the low word of the budget counter | a core register too when its cost ranks with the halves' (two memory accesses per event), else a frame word |
//! | upper half of a narrow register | nowhere: it is zero |
//! | temporaries | r0..r3, r12, lr (never live across an eBPF instruction) |
//! | r9 | untouched (platform register) |
//!
//! Each half of a register is placed on its own: a half's cost is the
//! loads and stores it would take from a stack slot, counted statically
//! and eight times over for each loop around the use (a loop: from a back
//! edge's target to the jump); the costliest halves get core registers.
//!
//! The machine frame, at `sp` while any eBPF code runs (8-aligned):
//! `[sp, #CTX]` the context pointer, the register slots, for programs with
//! local calls one [`SAVE_ENTRY`]-byte save area per call level below the
//! entry function, and last the memory-check windows the lowering adds
//! (see `lower`).
//!
//! Local calls: the verifier refuses recursion, so the call graph is a DAG
//! and a function's *level* (the longest call path from the entry
//! function, [`call_levels`]) is larger than the level of every function
//! below it on the call stack. Each callee therefore owns the save area of
//! its level, at an offset known when compiling: its prologue stores the
//! return address and the halves of r6..r9 the function itself writes, and
//! its exit restores them (eBPF r6..r9 are callee-saved; each callee
//! keeps its own promise). The caller moves r10 down by its frame size
//! around the `bl` and back after it.

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_isa::{decode_all, Insn, Source};

use super::insn::Reg;

/// Context pointer slot.
pub const CTX: u32 = 0;
/// First register slot.
pub const SLOTS: u32 = 4;
/// First local-call save entry.
pub const SAVES: u32 = SLOTS + 8 * 10;
/// Bytes per save area: r6..r9 (32), then the return address.
pub const SAVE_ENTRY: u32 = 36;

/// The save area of a function at call `level` (1 or more).
pub fn save_area(level: u32) -> u32 {
    SAVES + SAVE_ENTRY * level.saturating_sub(1)
}

/// Each function's level (in `prog.functions` order): the length of the
/// longest call path from the entry function to it (the entry function
/// is 0). The call graph is acyclic (the verifier refuses recursion), so
/// relaxing every call edge once per function reaches the fixed point.
pub fn call_levels(prog: &VerifiedProgram) -> Vec<u32> {
    let funcs = &prog.functions;
    let index = |pc: u32| funcs.iter().position(|f| f.start <= pc && pc < f.end);
    let mut edges = Vec::new();
    for d in decode_all(&prog.program.code).flatten() {
        if let Insn::CallLocal { off } = d.insn {
            let target = d.pc as i64 + 1 + i64::from(off);
            let callee = u32::try_from(target).ok().and_then(index);
            if let (Some(caller), Some(callee)) = (index(d.pc as u32), callee) {
                edges.push((caller, callee));
            }
        }
    }
    let mut level = vec![0u32; funcs.len()];
    for _ in 0..funcs.len() {
        for &(a, b) in &edges {
            let via = level.get(a).map_or(0, |l| l + 1);
            if let Some(l) = level.get_mut(b) {
                *l = (*l).max(via);
            }
        }
    }
    level
}

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
    /// The core register holding the budget counter's low word, if any.
    pub budget: Option<Reg>,
    /// r11 holds eBPF r10 (the program names r10 or makes local calls);
    /// otherwise r11 may hold other registers.
    pub frame_pointer: bool,
    /// Bytes of frame used by the fixed part (up to the save entries).
    pub fixed: u32,
}

impl RegMap {
    /// Chooses the map for `prog`, whose registers in `narrow` (a bit set)
    /// never have a non-zero upper half.
    pub fn new(prog: &VerifiedProgram, narrow: u16) -> RegMap {
        Self::with_upper_halves(prog, narrow, |_, _, _| true)
    }

    /// [`RegMap::new`] where `upper(pc, insn, r)` says whether `insn` at
    /// `pc` touches `r`'s upper half at all (a value kept as a low word
    /// there does not), so that only those accesses count.
    pub fn with_upper_halves(
        prog: &VerifiedProgram,
        narrow: u16,
        upper: impl Fn(usize, &Insn, femtoc_isa::Reg) -> bool,
    ) -> RegMap {
        let code = &prog.program.code;
        // Weighted loads and stores each half would cost in a stack slot.
        let mut cost = [[0u64; 2]; 10];
        let mut calls = false;
        let mut frame_used = false;
        // The budget counter's low word: a load and a store per event.
        let mut budget_cost = 0u64;
        for d in decode_all(code).flatten() {
            let pc = d.pc as u32;
            let depth = prog.back_edges.iter().filter(|&&(j, t)| t <= pc && pc <= j).count();
            let weight = 8u64.pow(depth.min(5) as u32);
            for (r, half, n) in accesses(&d.insn) {
                if half == 1 && !upper(d.pc, &d.insn, r) {
                    continue;
                }
                match cost.get_mut(r.index()) {
                    Some(c) => c[half] += weight * n,
                    None => frame_used = true,
                }
            }
            calls |= matches!(d.insn, Insn::CallLocal { .. });
            let event = matches!(d.insn, Insn::CallLocal { .. })
                || prog.back_edges.iter().any(|&(j, _)| j == pc);
            if event {
                budget_cost += 2 * weight;
            }
        }
        let mut locs = [Loc { lo: Half::Slot(0), hi: None }; 11];
        for (r, loc) in locs.iter_mut().enumerate().take(10) {
            let off = SLOTS + 8 * r as u32;
            let hi = if narrow & (1 << r) != 0 { None } else { Some(Half::Slot(off + 4)) };
            *loc = Loc { lo: Half::Slot(off), hi };
        }
        // Halves by cost, the costliest first (a narrow register has no
        // upper half to place).
        // Index 10 stands for the budget counter.
        let mut halves: Vec<(u64, usize, usize)> = (0..10)
            .flat_map(|r| [(cost[r][0], r, 0), (cost[r][1], r, 1)])
            .filter(|&(c, r, half)| c > 0 && (half == 0 || narrow & (1 << r) == 0))
            .chain([(budget_cost, 10, 0)])
            .filter(|&(c, _, _)| c > 0)
            .collect();
        halves.sort_by_key(|&(c, r, half)| (core::cmp::Reverse(c), r, half));
        // A program that never names r10 and makes no local call needs no
        // frame pointer: r11 holds eBPF registers too.
        let spare = if frame_used || calls { None } else { Some(Reg::R11) };
        let core = CORE.iter().copied().chain(spare);
        let mut budget = None;
        for ((_, r, half), reg) in halves.into_iter().zip(core) {
            if r == 10 {
                budget = Some(reg);
            } else if half == 0 {
                locs[r].lo = Half::Reg(reg);
            } else {
                locs[r].hi = Some(Half::Reg(reg));
            }
        }
        locs[10] = Loc { lo: Half::Reg(Reg::R11), hi: None };
        let deepest = call_levels(prog).into_iter().max().unwrap_or(0);
        let fixed = SAVES + SAVE_ENTRY * deepest;
        RegMap { locs, budget, frame_pointer: frame_used || calls, fixed }
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

/// The register halves `insn` reads or writes (0: low, 1: high), with how
/// many loads or stores each would cost from a stack slot. Upper halves of
/// narrow registers are counted but never placed.
fn accesses(insn: &Insn) -> Vec<(femtoc_isa::Reg, usize, u64)> {
    use femtoc_isa::{AluOp, MemSize, Reg as E, Width};
    let both = |r: E, n: u64| [(r, 0, n), (r, 1, n)];
    let mut out = Vec::new();
    match *insn {
        Insn::Alu { width, op, dst, src } => {
            // A move writes; everything else reads and writes.
            let n = if op == AluOp::Mov { 1 } else { 2 };
            match width {
                Width::W32 => out.push((dst, 0, n)),
                Width::W64 => out.extend(both(dst, n)),
            }
            if let Source::Reg(s) = src {
                match width {
                    Width::W32 => out.push((s, 0, 1)),
                    Width::W64 => out.extend(both(s, 1)),
                }
            }
        }
        Insn::Jmp { width, dst, src, .. } => {
            let regs = [Some(dst), if let Source::Reg(s) = src { Some(s) } else { None }];
            for r in regs.into_iter().flatten() {
                match width {
                    Width::W32 => out.push((r, 0, 1)),
                    Width::W64 => out.extend(both(r, 1)),
                }
            }
        }
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => out.extend(both(dst, 2)),
        Insn::LoadImm64 { dst, .. } | Insn::LoadDataAddr { dst, .. } => out.extend(both(dst, 1)),
        Insn::Load { dst, src, .. } | Insn::LoadSx { dst, src, .. } => {
            out.extend(both(src, 1));
            out.extend(both(dst, 1));
        }
        Insn::Store { size, dst, src, .. } => {
            out.extend(both(dst, 1));
            if let Source::Reg(s) = src {
                out.push((s, 0, 1));
                if size == MemSize::DW {
                    out.push((s, 1, 1));
                }
            }
        }
        Insn::Atomic { dst, src, .. } => {
            out.extend(both(dst, 1));
            out.extend(both(src, 2));
        }
        Insn::Call { .. } => {
            for r in [E::R1, E::R2, E::R3, E::R4, E::R5] {
                out.extend(both(r, 1));
            }
            out.extend(both(E::R0, 1));
        }
        Insn::Exit => out.extend(both(E::R0, 1)),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use femtoc_isa::verifier::{verify, VerifierConfig};

    #[test]
    fn a_function_reached_at_two_depths_takes_the_deeper_level() {
        // main calls f and g, f calls g and h: g is at level 2 (through f)
        // although main also calls it directly.
        let src = "
            call local f
            call local g
            exit
        f:
            call local g
            call local h
            exit
        g:
            mov %r0, 1
            exit
        h:
            mov %r0, 2
            exit";
        let program = femtoc_isa::assemble(src).expect("assembles");
        let prog = verify(&program, &VerifierConfig::new(&[])).expect("verifies");
        assert_eq!(call_levels(&prog), vec![0, 1, 2, 2]);
        let map = RegMap::new(&prog, 0);
        assert_eq!(map.fixed, SAVES + 2 * SAVE_ENTRY, "two save areas");
        assert_eq!(save_area(2), SAVES + SAVE_ENTRY);
    }
}
