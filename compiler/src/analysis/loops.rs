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
//!
//! A loop with the same straight-line body that the shape above refuses
//! may have the several-span shape ([`Shape::Spans`]), which only the
//! backends that read [`HoistLoop::shape`] hoist (Thumb-2 skips it):
//!
//! - A symbolic run of the body tracks each register as the sum of one or
//!   two registers' values at the top of the iteration plus a constant
//!   (64-bit `mov` of a register, `add`/`sub` of a constant, `add` of a
//!   register; anything else that writes a register makes it unknown).
//!   The arithmetic is modulo 2^64, as the program's.
//! - A *stream* is a register that holds, at the back edge, its value at
//!   the top plus a constant `s` (`|s| <= 2^31`; `s = 0` for a register
//!   that is restored or never written), however it got there: so at the
//!   top of iteration `k` it holds `r0 + k*s` (mod 2^64). This covers an
//!   index copied at the top, reused as a scratch register, and advanced
//!   from the copy (`mov r5, r6; ... mov r6, r5; add r6, 1`), and
//!   pointers advanced by their own constant.
//! - Bounds ([`Bound`]), at least one: the back edge `jne c, 0` with a
//!   counter as in [`Trip::Counted`] (at most `T - 1` back edges, wrapping);
//!   and every 64-bit unsigned compare that ends the loop unless `x < n`
//!   (the back edge `jlt x, n` or a forward exit `jge x, n`), with `x`
//!   holding a stream `iv` of step `s > 0` plus `0 <= add <= 2^32` and `n`
//!   a constant or a register the body never writes. With `e = iv0 + add`
//!   and neither `e` nor `n - 1 + s` wrapping (the pre-check's to test),
//!   iteration `k` compares the exact number `e + k*s`, which stays below
//!   2^64 up to the first iteration where it is at least `n`, so the loop
//!   takes at most `(n - 1 - e) / s + 1` back edges if `e < n`, else none.
//!   Every iteration reaches each such compare unless it left earlier, so
//!   the back edges taken are at most the least bound, `B`.
//! - The accesses hoisted are checked loads and stores whose base holds a
//!   stream, or the sum of two, plus a constant; accesses through the same
//!   registers form one [`Span`] (at most four; the others stay checked),
//!   whose origin `o` (the registers' sum at entry) moves by `s` (the sum
//!   of their steps) per iteration. Iteration `k <= B` touches `o + k*s +
//!   off` for each access's `off`, all within `[o + lowest - B*|s|, o +
//!   end)` if `s < 0` or `[o + lowest, o + end + B*s)` if not: the
//!   pre-check tests each span against its region, and with every sum
//!   checked not to wrap, the program's wrapping addresses are those same
//!   numbers.
//!
//! In both shapes, a failed pre-check runs the checked copy, which
//! faults (or runs out of budget) exactly where the interpreter does.

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
    /// [`Shape::Single`], which the fields above describe, or the
    /// several-span shape, which only backends that read it may hoist.
    pub shape: Shape,
}

/// Which of the accepted shapes a loop has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One span around `[base +] iv`, bounded by `trip`.
    Single,
    /// Several spans, bounded by the least of several bounds. `trip`,
    /// `iv` and `step` then name only the back edge's bound, `base` is
    /// `None`, and each access's `off` is from its own span's origin:
    /// [`HoistLoop::lowest`] and [`HoistLoop::end`] mean nothing.
    Spans(Spans),
}

/// The several-span shape (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spans {
    /// Every bound on the back edges the loop takes (at least one): the
    /// number taken is at most the least of them.
    pub bounds: Vec<Bound>,
    /// The spans checked before the loop, each against one region.
    pub spans: Vec<Span>,
}

/// A bound on the number of back edges a [`Shape::Spans`] loop takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// The back edge `jne counter, 0` (32 or 64 bits), the counter
    /// decremented once per iteration: at most `T - 1` back edges, with
    /// `T` the counter at entry (its low word if `low32`), wrapping.
    Counted {
        /// The counter register.
        counter: Reg,
        /// The count is the counter's low word.
        low32: bool,
    },
    /// Every iteration ends unless `iv + add < bound` (64-bit, unsigned),
    /// with `iv` at the top of the iteration advanced by `step > 0`: at
    /// most `(bound - 1 - (iv0 + add)) / step + 1` back edges if
    /// `iv0 + add < bound`, else none (given no sum wraps).
    Below {
        /// The stream register compared.
        iv: Reg,
        /// Its step (positive).
        step: i64,
        /// What is added to it before the compare (`0..=MAX_OFF`).
        add: i64,
        /// The bound, never written in the loop.
        bound: Source,
    },
}

/// Accesses at `origin + off` with `origin` the sum of one or two stream
/// registers at the top of the iteration, moving by `step` per iteration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The register (or the two registers) whose sum is the origin.
    pub regs: (Reg, Option<Reg>),
    /// What the origin moves by per iteration (0 for an invariant one).
    pub step: i64,
    /// The accesses, in pc order (at least one).
    pub accesses: Vec<Access>,
}

/// What a set of hoisted accesses covers, relative to one origin: the
/// same questions for a [`HoistLoop`] (origin `[base +] iv`) and for each
/// [`Span`] of a several-span loop.
pub trait AccessSet {
    /// The accesses.
    fn accesses(&self) -> &[Access];

    /// The lowest offset any access reaches from the origin.
    fn lowest(&self) -> i64 {
        self.accesses().iter().map(|a| a.off).min().unwrap_or(0)
    }

    /// The highest end (offset plus size) of any access.
    fn end(&self) -> i64 {
        self.accesses().iter().map(|a| a.off + i64::from(a.size)).max().unwrap_or(0)
    }

    /// Bytes from the lowest offset to the highest end: at least 1 (an
    /// access has a size).
    fn width(&self) -> u64 {
        self.end().saturating_sub(self.lowest()).max(1) as u64
    }

    /// Some access is a store.
    fn writes(&self) -> bool {
        self.accesses().iter().any(|a| a.write)
    }

    /// Some access is a load.
    fn reads(&self) -> bool {
        self.accesses().iter().any(|a| !a.write)
    }
}

impl AccessSet for Span {
    fn accesses(&self) -> &[Access] {
        &self.accesses
    }
}

impl AccessSet for HoistLoop {
    fn accesses(&self) -> &[Access] {
        &self.accesses
    }
}

impl HoistLoop {
    /// True for the single-span shape, which every backend handles.
    pub fn is_single(&self) -> bool {
        self.shape == Shape::Single
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

/// The loop `head..=back` with body `body`, if it has one of the shapes:
/// the single-span one first, so that a loop every backend hoists keeps
/// that shape.
fn shape(
    body: &[(usize, Insn)],
    head: usize,
    back: usize,
    checked: &impl Fn(usize, &Insn) -> bool,
) -> Option<HoistLoop> {
    let (&(last_pc, last), rest) = body.split_last()?;
    if last_pc != back || body.first()?.0 != head || !straight_line(rest, back) {
        return None;
    }
    single(last, rest, head, back, checked).or_else(|| spans(last, rest, head, back, checked))
}

/// True if `rest` (a body without its back edge at `back`) has no call,
/// exit, atomic or unconditional jump, and its conditional jumps leave
/// the loop forwards.
fn straight_line(rest: &[(usize, Insn)], back: usize) -> bool {
    rest.iter().all(|&(pc, insn)| match insn {
        Insn::Jmp { .. } => {
            insn.branch_target(pc).and_then(|t| usize::try_from(t).ok()).is_some_and(|t| t > back)
        }
        Insn::Ja { .. }
        | Insn::JaLong { .. }
        | Insn::Exit
        | Insn::Call { .. }
        | Insn::CallLocal { .. }
        | Insn::CallReg { .. }
        | Insn::Atomic { .. } => false,
        _ => true,
    })
}

/// The single-span shape of the loop ending in `last`.
fn single(
    last: Insn,
    rest: &[(usize, Insn)],
    head: usize,
    back: usize,
    checked: &impl Fn(usize, &Insn) -> bool,
) -> Option<HoistLoop> {
    let Insn::Jmp { width, cond, dst, src, .. } = last else { return None };
    match (cond, src) {
        (JmpCond::Ne, Source::Imm(0)) => {
            let (counter, low32) = counted(last, rest)?;
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

/// The counter of the back edge `last` and whether it counts in 32 bits,
/// if `last` is `jne c, 0` and `c`'s only write in `rest` decrements it.
fn counted(last: Insn, rest: &[(usize, Insn)]) -> Option<(Reg, bool)> {
    let Insn::Jmp { width, cond: JmpCond::Ne, dst: counter, src: Source::Imm(0), .. } = last else {
        return None;
    };
    let (dec_width, count) = single_write(rest, counter)?;
    let decrement = matches!(
        count,
        Insn::Alu { op: AluOp::Add, src: Source::Imm(-1), .. }
            | Insn::Alu { op: AluOp::Sub, src: Source::Imm(1), .. }
    );
    decrement.then_some((counter, dec_width == Width::W32 || width == Width::W32))
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
    Some(HoistLoop {
        head,
        back,
        trip,
        iv,
        step,
        base: base.flatten(),
        accesses: found,
        shape: Shape::Single,
    })
}

/// Most spans one loop checks: each costs its own compares at every entry.
const MAX_SPANS: usize = 4;

/// What a register holds relative to the top of the iteration: the sum of
/// one or two registers' values there plus a constant (mod 2^64), or
/// anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lin {
    Unknown,
    /// The registers in order, the second one optional.
    Sum(Reg, Option<Reg>, i64),
}

impl Lin {
    fn plus(self, k: i64) -> Lin {
        match self {
            Lin::Sum(a, b, c) => c
                .checked_add(k)
                .filter(|c| c.abs() <= MAX_OFF)
                .map_or(Lin::Unknown, |c| Lin::Sum(a, b, c)),
            Lin::Unknown => Lin::Unknown,
        }
    }

    fn add(self, other: Lin) -> Lin {
        match (self, other) {
            (Lin::Sum(a, None, c1), Lin::Sum(b, None, c2)) => {
                Lin::Sum(a.min(b), Some(a.max(b)), c1).plus(c2)
            }
            _ => Lin::Unknown,
        }
    }
}

/// The several-span shape of the loop ending in `last`: a symbolic run of
/// `rest` finds the stream registers (each ends the iteration as its
/// value at the top plus a constant), the compares of streams that end
/// the loop, and the checked accesses at a stream (or the sum of two)
/// plus a constant.
fn spans(
    last: Insn,
    rest: &[(usize, Insn)],
    head: usize,
    back: usize,
    checked: &impl Fn(usize, &Insn) -> bool,
) -> Option<HoistLoop> {
    let mut state = [Lin::Unknown; Reg::COUNT];
    for (r, s) in (0..Reg::COUNT as u8).filter_map(Reg::new).zip(state.iter_mut()) {
        *s = Lin::Sum(r, None, 0);
    }
    let invariant = |src: Source| match src {
        Source::Reg(n) => !rest.iter().any(|(_, i)| may_write(i, n)),
        Source::Imm(_) => true,
    };
    // `x < bound` must hold for the loop to go on, `x` being a register
    // plus a constant.
    let below = |x: Lin, bound: Source| match x {
        Lin::Sum(iv, None, add) if invariant(bound) => Some((iv, add, bound)),
        _ => None,
    };
    let mut compares = Vec::new();
    let mut found: Vec<((Reg, Option<Reg>), Access)> = Vec::new();
    for &(pc, insn) in rest {
        let access = match insn {
            Insn::Load { size, src, off, .. } | Insn::LoadSx { size, src, off, .. } => {
                Some((src, off, size.bytes(), false))
            }
            Insn::Store { size, dst, off, .. } => Some((dst, off, size.bytes(), true)),
            _ => None,
        };
        if let Some((reg, off, size, write)) = access.filter(|_| checked(pc, &insn)) {
            if let Lin::Sum(a, b, c) = state[reg.index()] {
                if let Some(off) = c.checked_add(i64::from(off)).filter(|o| o.abs() <= MAX_OFF) {
                    found.push(((a, b), Access { pc, off, size, write }));
                }
            }
        }
        // An exit taken when `x >= bound`.
        if let Insn::Jmp { width: Width::W64, cond: JmpCond::Ge, dst, src, .. } = insn {
            compares.extend(below(state[dst.index()], src));
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
                state[dst.index()].add(state[s.index()])
            }
            _ => Lin::Unknown,
        };
        for r in (0..Reg::COUNT as u8).filter_map(Reg::new).filter(|&r| may_write(&insn, r)) {
            state[r.index()] = sym;
        }
    }
    // A stream: a register that ends every iteration as it began it plus
    // a constant, so at the top of iteration `k` it is `r0 + k*step`.
    let step_of = |r: Reg| match state[r.index()] {
        Lin::Sum(x, None, s) if x == r && s.abs() <= MAX_STEP => Some(s),
        _ => None,
    };
    let mut bounds = Vec::new();
    match (counted(last, rest), last) {
        (Some((counter, low32)), _) => bounds.push(Bound::Counted { counter, low32 }),
        (None, Insn::Jmp { width: Width::W64, cond: JmpCond::Lt, dst, src, .. }) => {
            compares.extend(below(state[dst.index()], src));
        }
        _ => return None,
    }
    for (iv, add, bound) in compares {
        let Some(step) = step_of(iv).filter(|&s| s > 0) else { continue };
        if (0..=MAX_OFF).contains(&add) {
            bounds.push(Bound::Below { iv, step, add, bound });
        }
    }
    let (trip, iv, step) = match *bounds.first()? {
        Bound::Counted { counter, low32 } => (Trip::Counted { counter, low32 }, counter, -1),
        Bound::Below { iv, step, bound, .. } => (Trip::Index { bound }, iv, step),
    };
    let mut spans: Vec<Span> = Vec::new();
    for ((a, b), access) in found {
        let Some(span_step) = step_of(a)
            .zip(b.map_or(Some(0), step_of))
            .and_then(|(x, y)| x.checked_add(y))
            .filter(|s| s.abs() <= MAX_STEP)
        else {
            continue;
        };
        if let Some(span) = spans.iter_mut().find(|s| s.regs == (a, b)) {
            span.accesses.push(access);
        } else if spans.len() < MAX_SPANS {
            spans.push(Span { regs: (a, b), step: span_step, accesses: vec![access] });
        }
    }
    let mut accesses: Vec<Access> = spans.iter().flat_map(|s| s.accesses.iter().copied()).collect();
    if accesses.is_empty() {
        return None;
    }
    accesses.sort_unstable_by_key(|a| a.pc);
    Some(HoistLoop {
        head,
        back,
        trip,
        iv,
        step,
        base: None,
        accesses,
        shape: Shape::Spans(Spans { bounds, spans }),
    })
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
        assert!(lp.reads() && lp.writes() && lp.is_single());
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
        assert!(lp.is_single());
    }

    #[test]
    fn refused_shapes() {
        // A jump back inside the body, a call, an unconditional jump, a
        // counter written twice, an index compared 32-bit, a base loaded
        // in the loop.
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
            mov %r2, %r4
            add %r1, 1
            jlt %r1, %r3, loop
            exit",
        ] {
            assert_eq!(loops_of(src), vec![], "{src}");
        }
    }

    fn spans_of(lp: &HoistLoop) -> &Spans {
        match &lp.shape {
            Shape::Spans(s) => s,
            Shape::Single => panic!("single-span: {lp:?}"),
        }
    }

    /// The first loop of the benchmark sort: the index is copied at the
    /// top and advanced through the copy, an exit compares the copy with
    /// a register, and two pointers move by 4 (context bytes, stack words).
    #[test]
    fn a_copied_index_with_two_pointers() {
        let lps = loops_of(
            "mov %r6, 1
        loop:
            mov %r5, %r6
            ldxb %r6, [%r1-2]
            ldxb %r7, [%r1-3]
            or32 %r6, %r7
            ldxb %r7, [%r1+0]
            or32 %r6, %r7
            stxw [%r4+0], %r6
            jge %r5, %r3, out
            add %r1, 4
            add %r4, 4
            mov %r6, %r5
            add %r6, 1
            jlt %r5, 32, loop
        out:
            exit",
        );
        let [lp] = lps.as_slice() else { panic!("{lps:?}") };
        assert!(!lp.is_single());
        assert_eq!((lp.head, lp.back, lp.iv, lp.step), (1, 13, Reg::R6, 1));
        let s = spans_of(lp);
        assert_eq!(
            s.bounds,
            vec![
                Bound::Below { iv: Reg::R6, step: 1, add: 0, bound: Source::Reg(Reg::R3) },
                Bound::Below { iv: Reg::R6, step: 1, add: 0, bound: Source::Imm(32) },
            ]
        );
        let [ctx, stack] = s.spans.as_slice() else { panic!("{s:?}") };
        assert_eq!((ctx.regs, ctx.step, ctx.lowest(), ctx.end()), ((Reg::R1, None), 4, -3, 1));
        assert!(ctx.reads() && !ctx.writes());
        assert_eq!(
            (stack.regs, stack.step, stack.lowest(), stack.end()),
            ((Reg::R4, None), 4, 0, 4)
        );
        assert!(stack.writes() && !stack.reads());
        assert_eq!(lp.accesses.iter().map(|a| a.pc).collect::<Vec<_>>(), vec![2, 3, 5, 7]);
    }

    /// A counted loop whose pointer moves twice per iteration, and an
    /// index loop whose base moves too (their sum moves by both steps).
    #[test]
    fn pointers_advanced_twice_or_with_the_index() {
        let lps = loops_of(
            "loop:
            ldxh %r3, [%r1+0]
            add %r1, 2
            ldxh %r5, [%r1+0]
            add %r1, 2
            add32 %r4, -1
            jne %r4, 0, loop
            exit",
        );
        let [lp] = lps.as_slice() else { panic!("{lps:?}") };
        let s = spans_of(lp);
        assert_eq!(s.bounds, vec![Bound::Counted { counter: Reg::R4, low32: true }]);
        let [span] = s.spans.as_slice() else { panic!("{s:?}") };
        assert_eq!((span.regs, span.step, span.lowest(), span.end()), ((Reg::R1, None), 4, 0, 4));

        let lps = loops_of(
            "loop:
            mov %r4, %r2
            add %r4, %r1
            ldxb %r4, [%r4+1]
            add %r2, 3
            add %r1, 1
            jlt %r1, %r3, loop
            exit",
        );
        let [lp] = lps.as_slice() else { panic!("{lps:?}") };
        let s = spans_of(lp);
        assert_eq!(
            s.bounds,
            vec![Bound::Below { iv: Reg::R1, step: 1, add: 1, bound: Source::Reg(Reg::R3) }]
        );
        let [span] = s.spans.as_slice() else { panic!("{s:?}") };
        assert_eq!((span.regs, span.step, span.lowest()), ((Reg::R1, Some(Reg::R2)), 4, 1));
    }

    /// A loop every backend hoists keeps the single-span shape even where
    /// the several-span one would hoist more.
    #[test]
    fn the_single_span_shape_comes_first() {
        let lps = loops_of(
            "loop:
            ldxb %r3, [%r1+0]
            stxb [%r2+0], %r3
            add %r1, 1
            add %r2, 1
            add %r4, -1
            jne %r4, 0, loop
            exit",
        );
        let [lp] = lps.as_slice() else { panic!("{lps:?}") };
        assert!(lp.is_single());
        assert_eq!(lp.accesses.len(), 1);
    }

    #[test]
    fn refused_several_span_shapes() {
        // The copy is compared but the index is not restored from it; the
        // only compare is 32-bit; the bound is written in the loop; the
        // index goes down; the compared copy is one below the index; the
        // pointer moves by a loaded amount.
        for src in [
            "loop:
            mov %r5, %r6
            ldxb %r6, [%r1+0]
            add %r1, 1
            jlt %r5, 32, loop
            exit",
            "loop:
            mov %r5, %r6
            ldxb %r6, [%r1+0]
            add %r1, 1
            mov %r6, %r5
            add %r6, 1
            jlt32 %r5, 32, loop
            exit",
            "loop:
            mov %r5, %r6
            ldxb %r6, [%r1+0]
            add %r1, 1
            mov %r6, %r5
            add %r6, 1
            add %r3, 1
            jlt %r5, %r3, loop
            exit",
            "loop:
            mov %r5, %r6
            ldxb %r6, [%r1+0]
            add %r1, 1
            mov %r6, %r5
            add %r6, -1
            jlt %r5, 32, loop
            exit",
            "loop:
            mov %r5, %r6
            add %r5, -1
            ldxb %r6, [%r1+0]
            add %r1, 1
            mov %r6, %r5
            add %r6, 2
            jlt %r5, 32, loop
            exit",
            "loop:
            mov %r5, %r6
            ldxb %r6, [%r1+0]
            ldxb %r7, [%r1+1]
            add %r1, %r7
            mov %r6, %r5
            add %r6, 1
            jlt %r5, 32, loop
            exit",
        ] {
            assert_eq!(loops_of(src), vec![], "{src}");
        }
    }
}
