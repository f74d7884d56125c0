//! Loops whose checked accesses through one induction variable can be
//! checked once, before the loop, against the whole span the loop can
//! touch; shared by the backends that emit a checked and an unchecked copy.
//!
//! A loop is accepted only in this shape (anything else is refused):
//!
//! - Its body is `head..=back`, ending in the back edge at `back`, inside
//!   one function; no function starts and no jump from anywhere lands in
//!   `head+1..=back` (so every entry goes through `head`).
//! - The body is straight-line: no calls, exits, atomics or unconditional
//!   jumps; a conditional jump before `back` must leave the loop forwards
//!   (target past `back`). An exit only ends the run of iterations early,
//!   so it touches a subset of what the full iterations would.
//! - An induction register `iv` is written exactly once in the body, by a
//!   64-bit `add iv, s` or `sub iv, -s` (constant `s != 0`), so at the top
//!   of iteration `k` it holds `iv0 + k*s`.
//! - The trip bound is one of:
//!   - [`Trip::Counted`]: `back` is `jne c, 0, head` (32 or 64 bits) and
//!     `c` (not `iv`) is written exactly once, by `add c, -1` or `sub c, 1`
//!     (32 or 64 bits). Entered with `T` (the counter, or its low word if
//!     the decrement or the compare is 32-bit) at least 1, the loop runs at
//!     most `T` iterations; `T == 0` means 2^64 (or 2^32) of them, which the
//!     backend must refuse.
//!   - [`Trip::Index`]: `back` is the 64-bit unsigned `jlt iv, n, head`
//!     with `s > 0` and `n` a constant or a register the body never writes.
//!     If `n <= 2^64 - s` the increment never wraps, so every iteration
//!     but the first starts with `iv < n`: `iv` stays in
//!     `iv0..=max(iv0, n - 1)` (the body runs once even if `iv0 >= n`).
//! - The accesses hoisted are loads and stores (never atomics) that the
//!   backend would check, whose base register holds, by a symbolic run of
//!   the body, `iv_top + c` or `b + iv_top + c` for one register `b` that
//!   the body never writes (built by 64-bit `mov`, `add` of a register and
//!   `add`/`sub` of a constant). Iteration `k` then accesses
//!   `[b] + iv0 + k*s + off` for each access's `off` (its displacement plus
//!   `c`), which lies in the span `[lowest, end)` around `[b] + iv0 +
//!   k*s`. Other accesses of the body stay checked in both copies.

use std::collections::BTreeSet;

use crate::analysis::zext::may_write;
use femtoc_isa::insn::{AluOp, Insn, JmpCond, Reg, Source, Width};

/// How the number of iterations is bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trip {
    /// `jne counter, 0, head`, the counter decremented by one per iteration.
    Counted {
        /// The counter register.
        counter: Reg,
        /// The decrement or the compare is 32-bit: the trip count is the
        /// counter's low word.
        low32: bool,
    },
    /// `jlt iv, bound, head` (64-bit, unsigned), `iv` advanced by a
    /// positive step.
    Index {
        /// The bound, never written in the loop (a constant is
        /// sign-extended to 64 bits, as the compare does).
        bound: Source,
    },
}

/// One access checked before the loop instead of in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Its pc.
    pub pc: usize,
    /// Offset of its first byte from `[base +] iv` at the top of the
    /// iteration.
    pub off: i64,
    /// Bytes accessed.
    pub size: u32,
    /// A store.
    pub write: bool,
}

/// A loop whose accesses through its induction variable can be checked
/// once before it (see the module documentation for the shape).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoistLoop {
    /// The header, the back edge's target.
    pub head: usize,
    /// The pc of the back edge.
    pub back: usize,
    /// What bounds the iterations.
    pub trip: Trip,
    /// The induction register.
    pub iv: Reg,
    /// What `iv` advances by per iteration (never 0, at most 2^31 in size).
    pub step: i64,
    /// The loop-invariant register added to `iv`, if any.
    pub base: Option<Reg>,
    /// The hoisted accesses, in pc order (at least one).
    pub accesses: Vec<Access>,
}

impl HoistLoop {
    /// The lowest offset any access reaches, from `[base +] iv` at the top
    /// of an iteration.
    pub fn lowest(&self) -> i64 {
        self.accesses.iter().map(|a| a.off).min().unwrap_or(0)
    }

    /// The highest end (offset plus size) of any access, from the same.
    pub fn end(&self) -> i64 {
        self.accesses.iter().map(|a| a.off + i64::from(a.size)).max().unwrap_or(0)
    }

    /// Some hoisted access is a store.
    pub fn writes(&self) -> bool {
        self.accesses.iter().any(|a| a.write)
    }

    /// Some hoisted access is a load.
    pub fn reads(&self) -> bool {
        self.accesses.iter().any(|a| !a.write)
    }

    /// True if the access at `pc` is hoisted.
    pub fn hoists(&self, pc: usize) -> bool {
        self.accesses.iter().any(|a| a.pc == pc)
    }
}

/// Largest step and offset magnitude accepted: keeps every constant of the
/// pre-check far from overflowing 64 bits.
const MAX_STEP: i64 = 1 << 31;
const MAX_OFF: i64 = 1 << 32;

/// The loops of `insns` in the shape above, by header pc (disjoint).
/// `function_starts` are the pcs that start functions; `checked(pc, insn)`
/// says whether the backend would check an access at all.
pub fn hoistable_loops(
    insns: &[(usize, Insn)],
    function_starts: &[usize],
    checked: impl Fn(usize, &Insn) -> bool,
) -> Vec<HoistLoop> {
    let mut targets = BTreeSet::new();
    let mut back_edges = Vec::new();
    for &(pc, insn) in insns {
        if let Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Jmp { .. } | Insn::CallLocal { .. } =
            insn
        {
            let Some(t) = insn.branch_target(pc).and_then(|t| usize::try_from(t).ok()) else {
                continue;
            };
            targets.insert(t);
            if t <= pc && matches!(insn, Insn::Jmp { .. }) {
                back_edges.push((t, pc));
            }
        }
    }
    back_edges.sort_unstable();
    let mut out: Vec<HoistLoop> = Vec::new();
    for (head, back) in back_edges {
        let enters_inside = |pc: &usize| *pc > head && *pc <= back;
        if targets.iter().any(enters_inside) || function_starts.iter().any(enters_inside) {
            continue;
        }
        if out.iter().any(|l| l.head <= back && head <= l.back) {
            continue;
        }
        let body: Vec<(usize, Insn)> =
            insns.iter().copied().filter(|&(pc, _)| pc >= head && pc <= back).collect();
        if let Some(lp) = shape(&body, head, back, &checked) {
            out.push(lp);
        }
    }
    out
}

/// The loop `head..=back` with body `body`, if it has the shape.
fn shape(
    body: &[(usize, Insn)],
    head: usize,
    back: usize,
    checked: &impl Fn(usize, &Insn) -> bool,
) -> Option<HoistLoop> {
    let (&(last_pc, last), rest) = body.split_last()?;
    if last_pc != back || body.first()?.0 != head {
        return None;
    }
    for &(pc, insn) in rest {
        match insn {
            Insn::Jmp { .. } => {
                let t = insn.branch_target(pc).and_then(|t| usize::try_from(t).ok())?;
                if t <= back {
                    return None;
                }
            }
            Insn::Ja { .. }
            | Insn::JaLong { .. }
            | Insn::Exit
            | Insn::Call { .. }
            | Insn::CallLocal { .. }
            | Insn::CallReg { .. }
            | Insn::Atomic { .. } => return None,
            _ => {}
        }
    }
    let Insn::Jmp { width, cond, dst, src, .. } = last else { return None };
    match (cond, src) {
        (JmpCond::Ne, Source::Imm(0)) => {
            let counter = dst;
            let (dec_width, count) = single_write(rest, counter)?;
            let decrement = matches!(
                count,
                Insn::Alu { op: AluOp::Add, src: Source::Imm(-1), .. }
                    | Insn::Alu { op: AluOp::Sub, src: Source::Imm(1), .. }
            );
            if !decrement {
                return None;
            }
            let low32 = dec_width == Width::W32 || width == Width::W32;
            let trip = Trip::Counted { counter, low32 };
            // The induction register: the one whose hoisted accesses are
            // the most (the first such, in register order).
            let mut best: Option<HoistLoop> = None;
            for iv in (0..10).filter_map(Reg::new).filter(|&r| r != counter) {
                let Some(step) = step_of(rest, iv) else { continue };
                if let Some(lp) = accesses(rest, head, back, trip, iv, step, checked) {
                    if best.as_ref().is_none_or(|b| lp.accesses.len() > b.accesses.len()) {
                        best = Some(lp);
                    }
                }
            }
            best
        }
        (JmpCond::Lt, bound) if width == Width::W64 => {
            let iv = dst;
            let step = step_of(rest, iv).filter(|&s| s > 0)?;
            if let Source::Reg(n) = bound {
                if rest.iter().any(|(_, i)| may_write(i, n)) {
                    return None;
                }
            }
            accesses(rest, head, back, Trip::Index { bound }, iv, step, checked)
        }
        _ => None,
    }
}

/// The width and instruction of the only write to `r` in `body`.
fn single_write(body: &[(usize, Insn)], r: Reg) -> Option<(Width, Insn)> {
    let mut writers = body.iter().filter(|(_, i)| may_write(i, r));
    let (_, insn) = writers.next()?;
    if writers.next().is_some() {
        return None;
    }
    match *insn {
        Insn::Alu { width, dst, .. } if dst == r => Some((width, *insn)),
        _ => None,
    }
}

/// The constant step of `iv` if its only write in `body` is a 64-bit
/// addition or subtraction of a constant.
fn step_of(body: &[(usize, Insn)], iv: Reg) -> Option<i64> {
    let (width, insn) = single_write(body, iv)?;
    let step = match insn {
        Insn::Alu { op: AluOp::Add, src: Source::Imm(k), .. } => i64::from(k),
        Insn::Alu { op: AluOp::Sub, src: Source::Imm(k), .. } => -i64::from(k),
        _ => return None,
    };
    (width == Width::W64 && step != 0 && step.abs() <= MAX_STEP).then_some(step)
}

/// What a register holds, relative to the top of the iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sym {
    Unknown,
    /// A register the body never writes, plus a constant.
    Invariant(Reg, i64),
    /// The induction register's value at the top, plus a constant.
    Iv(i64),
    /// An invariant register plus the induction value, plus a constant.
    BasePlusIv(Reg, i64),
}

impl Sym {
    fn plus(self, k: i64) -> Sym {
        let add = |c: i64| c.checked_add(k).filter(|c| c.abs() <= MAX_OFF);
        match self {
            Sym::Invariant(r, c) => add(c).map_or(Sym::Unknown, |c| Sym::Invariant(r, c)),
            Sym::Iv(c) => add(c).map_or(Sym::Unknown, Sym::Iv),
            Sym::BasePlusIv(r, c) => add(c).map_or(Sym::Unknown, |c| Sym::BasePlusIv(r, c)),
            Sym::Unknown => Sym::Unknown,
        }
    }
}

/// The loop with the accesses through `[b +] iv` found by a symbolic run
/// of `rest` (the body without its back edge), if there is at least one.
fn accesses(
    rest: &[(usize, Insn)],
    head: usize,
    back: usize,
    trip: Trip,
    iv: Reg,
    step: i64,
    checked: &impl Fn(usize, &Insn) -> bool,
) -> Option<HoistLoop> {
    let mut state = [Sym::Unknown; Reg::COUNT];
    for (r, s) in (0..Reg::COUNT as u8).filter_map(Reg::new).zip(state.iter_mut()) {
        *s = if r == iv {
            Sym::Iv(0)
        } else if rest.iter().any(|(_, insn)| may_write(insn, r)) {
            Sym::Unknown
        } else {
            Sym::Invariant(r, 0)
        };
    }
    let mut base: Option<Option<Reg>> = None;
    let mut found = Vec::new();
    for &(pc, insn) in rest {
        let access = match insn {
            Insn::Load { size, src, off, .. } | Insn::LoadSx { size, src, off, .. } => {
                Some((src, off, size.bytes(), false))
            }
            Insn::Store { size, dst, off, .. } => Some((dst, off, size.bytes(), true)),
            _ => None,
        };
        let hoisted = access.filter(|_| checked(pc, &insn)).and_then(|(reg, off, size, write)| {
            let (b, c) = match state[reg.index()] {
                Sym::Iv(c) => (None, c),
                Sym::BasePlusIv(b, c) => (Some(b), c),
                Sym::Unknown | Sym::Invariant(..) => return None,
            };
            let off = c.checked_add(i64::from(off)).filter(|o| o.abs() <= MAX_OFF)?;
            Some((b, Access { pc, off, size, write }))
        });
        // The first hoisted access decides the base; accesses through
        // another stay checked.
        if let Some((b, a)) = hoisted {
            if *base.get_or_insert(b) == b {
                found.push(a);
            }
        }
        let sym = match insn {
            Insn::Alu { width: Width::W64, op: AluOp::Mov, src: Source::Reg(s), .. } => {
                state[s.index()]
            }
            Insn::Alu { width: Width::W64, op: AluOp::Add, dst, src: Source::Imm(k) } => {
                state[dst.index()].plus(i64::from(k))
            }
            Insn::Alu { width: Width::W64, op: AluOp::Sub, dst, src: Source::Imm(k) } => {
                state[dst.index()].plus(-i64::from(k))
            }
            Insn::Alu { width: Width::W64, op: AluOp::Add, dst, src: Source::Reg(s) } => {
                match (state[dst.index()], state[s.index()]) {
                    (Sym::Invariant(b, c1), Sym::Iv(c2)) | (Sym::Iv(c2), Sym::Invariant(b, c1)) => {
                        Sym::BasePlusIv(b, c1).plus(c2)
                    }
                    _ => Sym::Unknown,
                }
            }
            _ => Sym::Unknown,
        };
        for r in (0..Reg::COUNT as u8).filter_map(Reg::new).filter(|&r| may_write(&insn, r)) {
            state[r.index()] = sym;
        }
    }
    if found.is_empty() {
        return None;
    }
    Some(HoistLoop { head, back, trip, iv, step, base: base.flatten(), accesses: found })
}

#[cfg(test)]
mod tests {
    use super::*;
    use femtoc_isa::asm::assemble;
    use femtoc_isa::decode::decode_all;

    fn loops_of(src: &str) -> Vec<HoistLoop> {
        let program = assemble(src).expect("assembles");
        let insns: Vec<(usize, Insn)> = decode_all(&program.code)
            .map(|d| d.expect("decodes"))
            .map(|d| (d.pc, d.insn))
            .collect();
        hoistable_loops(&insns, &[0], |_, _| true)
    }

    #[test]
    fn an_index_loop_through_base_plus_index() {
        let lps = loops_of(
            "mov %r1, 0
        loop:
            mov %r4, %r2
            add %r4, %r1
            ldxb %r4, [%r4+3]
            add %r1, 1
            mov %r5, %r1
            add %r5, %r2
            stxh [%r5-2], %r4
            jlt %r1, %r3, loop
            exit",
        );
        let [lp] = lps.as_slice() else { panic!("{lps:?}") };
        assert_eq!((lp.head, lp.back, lp.iv, lp.step, lp.base), (1, 8, Reg::R1, 1, Some(Reg::R2)));
        assert_eq!(lp.trip, Trip::Index { bound: Source::Reg(Reg::R3) });
        // The store is after the increment: at offset -2 + 1.
        assert_eq!((lp.lowest(), lp.end()), (-1, 4));
        assert!(lp.reads() && lp.writes());
    }

    #[test]
    fn a_counted_loop_going_down_with_an_exit() {
        let lps = loops_of(
            "loop:
            ldxw %r9, [%r6-4]
            jle32 %r9, %r5, out
            stxw [%r6+0], %r9
            add32 %r7, -1
            add %r6, -4
            jne %r7, 0, loop
        out:
            exit",
        );
        let [lp] = lps.as_slice() else { panic!("{lps:?}") };
        assert_eq!((lp.iv, lp.step, lp.base), (Reg::R6, -4, None));
        assert_eq!(lp.trip, Trip::Counted { counter: Reg::R7, low32: true });
        assert_eq!((lp.lowest(), lp.end()), (-4, 4));
    }

    #[test]
    fn refused_shapes() {
        // A jump back inside the body, a call, an unconditional jump, a
        // counter written twice, an index compared 32-bit, a base that
        // changes.
        for src in [
            "loop:
            ldxb %r3, [%r6+0]
            jeq %r3, 0, loop
            add %r6, 1
            add %r7, -1
            jne %r7, 0, loop
            exit",
            "loop:
            ldxb %r3, [%r6+0]
            call 1
            add %r6, 1
            add %r7, -1
            jne %r7, 0, loop
            exit",
            "loop:
            ldxb %r3, [%r6+0]
            add %r6, 1
            add %r7, -1
            ja next
        next:
            jne %r7, 0, loop
            exit",
            "loop:
            ldxb %r3, [%r6+0]
            add %r6, 1
            add %r7, -1
            mov %r7, %r3
            jne %r7, 0, loop
            exit",
            "loop:
            mov %r4, %r2
            add %r4, %r1
            ldxb %r4, [%r4+0]
            add %r1, 1
            jlt32 %r1, %r3, loop
            exit",
            "loop:
            mov %r4, %r2
            add %r4, %r1
            ldxb %r4, [%r4+0]
            add %r2, 1
            add %r1, 1
            jlt %r1, %r3, loop
            exit",
        ] {
            assert_eq!(loops_of(src), vec![], "{src}");
        }
    }
}
