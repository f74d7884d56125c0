//! Counted loops: one bounds check before the loop instead of one per
//! iteration.
//!
//! The shape is the inner loop of a checksum, a copy or an insertion sort:
//! instructions `head..=back`, entered only at `head` (no jump lands
//! inside), in which an induction register `i` is only advanced by a
//! constant stride `s != 0`, every other jump leaves the loop forward, and
//! the back edge is either `jne c, 0, head` on a counter `c` only
//! decremented by one, or `jlt i, end, head` (`s > 0`, `end` not written in
//! the loop). The accesses checked before the loop are the plain loads and
//! stores whose base holds `i + k` or `b + i + k` for a register `b` the
//! loop does not write (followed through moves and constant additions in
//! the straight-line body: `mov x, b; add x, i; ldxb y, [x+off]`); with
//! `p = b + i` they behave like accesses through a pointer `p`. Entered
//! with `1 <= c < 2^32`, the first runs at most `c` iterations; the second
//! runs every iteration but the first with `p < end`. (Fewer if the loop
//! leaves early or the budget stops it.) Iteration `k` accesses
//! `p + k*s + off` for each access's offset (plus `s` for accesses after
//! the advance), so every access lies within `p + lowest` and `p + end`
//! widened by the most the pointer can move, `(c-1)*|s|` or the largest
//! multiple of `s` below `end - p`: if that span lies in the window of
//! `p`'s region, no access of the run can fail.
//!
//! The loop is emitted twice: at the header, the check (which also wants
//! the upper halves of a pointer or counter kept as a pair to be zero),
//! falling into a copy whose accesses through `p` are unchecked; when the
//! check fails (a short region, `c == 0`, an overflow), the ordinary
//! checked copy runs instead, faulting exactly where the interpreter does.
//! Jumps into the loop from elsewhere reach the header, hence the check.

use femtoc_isa::{AluOp, Decoded, FunctionInfo, Insn, JmpCond, Reg as EReg, Source, Width};

use super::super::insn::{Compare, Cond, DpOp, Reg, Thumb2Insn as I};
use super::windows::Target;
use super::{dp, Any, CompileError, Lowerer, Set};
use std::collections::BTreeMap;

use Reg as R;

/// What bounds a counted loop's iterations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    /// `jne c, 0, head`, with `c` decremented once per iteration: at most
    /// `c` iterations.
    Counter(EReg),
    /// `jlt i, end, head` (64-bit, unsigned) on the induction register,
    /// which advances by a positive stride, and `end` is not written in the
    /// loop: every iteration but the first runs with `i < end`, so `i`
    /// never passes `max(i, end - 1)`.
    End { end: EReg },
}

/// A loop whose accesses at `base + ind + offset` are checked once before
/// it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CountedLoop {
    /// The header (the back edge's target).
    pub head: usize,
    /// The pc of the back edge.
    pub back: usize,
    /// The induction register, advanced by `stride` once per iteration:
    /// the pointer itself, or an index added to `base`.
    ind: EReg,
    /// A register the loop does not write, added to `ind` to make the
    /// addresses (`None`: `ind` is the pointer).
    base: Option<EReg>,
    /// The pcs of the accesses checked before the loop.
    sites: Vec<usize>,
    /// What bounds the iterations.
    bound: Bound,
    /// Non-zero; negative for a pointer walking down.
    stride: i32,
    /// Lowest offset from the pointer's value at the top of an iteration.
    lowest: i32,
    /// Highest end (offset plus size) from it.
    end: i32,
    /// Some access through the pointer is a store.
    write: bool,
    /// The region the accesses most likely hit.
    region: Target,
}

impl Lowerer<'_> {
    /// The header pcs of the counted loops found by [`Lowerer::lower`].
    pub fn counted_loop_heads(&self) -> Vec<u32> {
        self.counted.keys().map(|&h| h as u32).collect()
    }

    /// The counted loops of the program, by header pc.
    pub(super) fn find_counted_loops(&self, insns: &[Decoded]) -> BTreeMap<usize, CountedLoop> {
        let mut out = BTreeMap::new();
        for &(back, head) in &self.prog.back_edges {
            let (back, head) = (back as usize, head as usize);
            // Entered only at the head: no jump anywhere lands inside.
            let entered_inside = insns.iter().any(|d| {
                d.insn
                    .branch_target(d.pc)
                    .and_then(|t| usize::try_from(t).ok())
                    .is_some_and(|t| head < t && t <= back)
            });
            let same_function = self.prog.as_ref().function_at(head as u32)
                == self.prog.as_ref().function_at(back as u32);
            if entered_inside || !same_function || head > back || out.contains_key(&head) {
                continue;
            }
            let body: Vec<Decoded> =
                insns.iter().copied().filter(|d| (head..=back).contains(&d.pc)).collect();
            if let Some(lp) = self.counted_loop_shape(head, back, &body) {
                out.insert(head, lp);
            }
        }
        out
    }

    fn counted_loop_shape(
        &self,
        head: usize,
        back: usize,
        body: &[Decoded],
    ) -> Option<CountedLoop> {
        let (last, rest) = body.split_last()?;
        if last.pc != back {
            return None;
        }
        let written = |r: EReg| rest.iter().any(|d| super::writes(&d.insn, r));
        match last.insn {
            Insn::Jmp { cond: JmpCond::Ne, dst, src: Source::Imm(0), .. } => {
                // The induction register: one advanced by a constant.
                EReg::all()
                    .filter(|&r| r != dst && r != EReg::R10)
                    .find_map(|ind| self.counted_with(head, back, rest, Bound::Counter(dst), ind))
            }
            Insn::Jmp {
                width: Width::W64, cond: JmpCond::Lt, dst, src: Source::Reg(e), ..
            } if e != dst && e != EReg::R10 && dst != EReg::R10 && !written(e) => {
                self.counted_with(head, back, rest, Bound::End { end: e }, dst)
            }
            _ => None,
        }
    }

    /// The counted loop `head..=back` (`rest` is its body without the back
    /// edge) with induction register `ind`, if it has that shape.
    fn counted_with(
        &self,
        head: usize,
        back: usize,
        rest: &[Decoded],
        bound: Bound,
        ind: EReg,
    ) -> Option<CountedLoop> {
        let written = |r: EReg| rest.iter().any(|d| super::writes(&d.insn, r));
        if !written(ind) {
            return None;
        }
        // Straight through the body (it has no joins): what each register
        // holds as `base + ind_at_head * [0|1] + k`.
        #[derive(Clone, Copy, PartialEq, Eq)]
        enum Sym {
            Unknown,
            Lin { base: Option<EReg>, ind: bool, k: i64 },
        }
        let mut sym = [Sym::Unknown; 11];
        for r in EReg::all() {
            if let Some(x) = sym.get_mut(r.index()) {
                *x = if r == ind {
                    Sym::Lin { base: None, ind: true, k: 0 }
                } else if !written(r) && r != EReg::R10 {
                    Sym::Lin { base: Some(r), ind: false, k: 0 }
                } else {
                    Sym::Unknown
                };
            }
        }
        let get = |sym: &[Sym; 11], r: EReg| sym.get(r.index()).copied().unwrap_or(Sym::Unknown);
        let mut stride = None;
        let mut decremented = matches!(bound, Bound::End { .. });
        let mut base_of_sites: Option<Option<EReg>> = None;
        let mut sites = Vec::new();
        let (mut lowest, mut end, mut write) = (i64::MAX, i64::MIN, false);
        let mut region = None;
        for d in rest {
            let leaves = d
                .insn
                .branch_target(d.pc)
                .and_then(|t| usize::try_from(t).ok())
                .is_some_and(|t| t > back);
            // An access through base + ind: a site.
            let access = match d.insn {
                Insn::Load { src, off, size, .. } | Insn::LoadSx { src, off, size, .. } => {
                    Some((src, off, size, false))
                }
                Insn::Store { dst, off, size, .. } => Some((dst, off, size, true)),
                _ => None,
            };
            if let Some((b, off, size, is_store)) = access {
                if let Sym::Lin { base, ind: true, k } = get(&sym, b) {
                    if !(-255..=4087).contains(&off) || *base_of_sites.get_or_insert(base) != base {
                        return None;
                    }
                    let eff = k + i64::from(off);
                    lowest = lowest.min(eff);
                    end = end.max(eff + i64::from(size.bytes()));
                    write |= is_store;
                    sites.push(d.pc);
                    region.get_or_insert(self.target(d.pc, b));
                }
            }
            match d.insn {
                Insn::Jmp { .. } | Insn::Ja { .. } | Insn::JaLong { .. } if leaves => {}
                Insn::Ja { .. }
                | Insn::JaLong { .. }
                | Insn::Jmp { .. }
                | Insn::Exit
                | Insn::Call { .. }
                | Insn::CallLocal { .. }
                | Insn::CallReg { .. } => return None,
                Insn::Alu {
                    width: Width::W64, op: AluOp::Add, dst, src: Source::Imm(k), ..
                } if dst == ind && k != 0 && stride.is_none() => {
                    stride = Some(k);
                    sym[ind.index()] = Sym::Lin { base: None, ind: true, k: i64::from(k) };
                }
                Insn::Alu { op: AluOp::Add, dst, src: Source::Imm(-1), .. }
                | Insn::Alu { op: AluOp::Sub, dst, src: Source::Imm(1), .. }
                    if matches!(bound, Bound::Counter(c) if c == dst) && !decremented =>
                {
                    decremented = true;
                }
                _ if super::writes(&d.insn, ind) => return None,
                _ if matches!(bound, Bound::Counter(c) if super::writes(&d.insn, c)) => {
                    return None
                }
                Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src: Source::Reg(y) } => {
                    sym[dst.index()] = get(&sym, y);
                }
                Insn::Alu { width: Width::W64, op: AluOp::Add, dst, src: Source::Imm(k) } => {
                    sym[dst.index()] = match get(&sym, dst) {
                        Sym::Lin { base, ind, k: k0 } => {
                            Sym::Lin { base, ind, k: k0 + i64::from(k) }
                        }
                        Sym::Unknown => Sym::Unknown,
                    };
                }
                Insn::Alu { width: Width::W64, op: AluOp::Add, dst, src: Source::Reg(y) } => {
                    sym[dst.index()] = match (get(&sym, dst), get(&sym, y)) {
                        (
                            Sym::Lin { base: Some(b), ind: false, k: k1 },
                            Sym::Lin { base: None, ind: true, k: k2 },
                        )
                        | (
                            Sym::Lin { base: None, ind: true, k: k2 },
                            Sym::Lin { base: Some(b), ind: false, k: k1 },
                        ) => Sym::Lin { base: Some(b), ind: true, k: k1 + k2 },
                        _ => Sym::Unknown,
                    };
                }
                _ => {
                    for r in EReg::all().filter(|&r| super::writes(&d.insn, r)) {
                        sym[r.index()] = Sym::Unknown;
                    }
                }
            }
        }
        let stride = stride?;
        if !decremented || sites.is_empty() || (matches!(bound, Bound::End { .. }) && stride < 0) {
            return None;
        }
        let (lowest, end) = (i32::try_from(lowest).ok()?, i32::try_from(end).ok()?);
        if end.checked_sub(lowest)? > 4096 {
            return None;
        }
        Some(CountedLoop {
            head,
            back,
            ind,
            base: base_of_sites.flatten(),
            sites,
            bound,
            stride,
            lowest,
            end,
            write,
            region: region?,
        })
    }

    /// Emits a counted loop at its header: the check, the unchecked copy,
    /// a jump past the loop, and the checked copy the check falls back to.
    pub(super) fn counted_loop(
        &mut self,
        lp: &CountedLoop,
        body: &[Decoded],
        func: &FunctionInfo,
    ) -> Result<(), CompileError> {
        let checked = self.asm.label();
        let unchecked = self.asm.label();
        self.counted_check(lp, checked);
        self.asm.bind(unchecked);
        self.unchecked_sites = lp.sites.iter().copied().collect();
        self.head_override = Some((lp.head, unchecked));
        self.loop_copy(lp, body, func)?;
        self.unchecked_sites.clear();
        let after = self.label_at(lp.back + 1)?;
        self.e(I::B { cond: None, target: after });
        self.asm.bind(checked);
        self.head_override = Some((lp.head, checked));
        self.loop_copy(lp, body, func)?;
        self.head_override = None;
        Ok(())
    }

    fn loop_copy(
        &mut self,
        lp: &CountedLoop,
        body: &[Decoded],
        func: &FunctionInfo,
    ) -> Result<(), CompileError> {
        self.hi_zero = 0;
        self.zero_flag_of = None;
        let mut fused = None;
        for (i, d) in body.iter().enumerate() {
            self.asm.set_tag(d.pc as u32);
            if self.leaders.contains(&d.pc) {
                self.hi_zero = 0;
                self.zero_flag_of = None;
            }
            self.emit_insn(body, i, func, &mut fused)?;
        }
        debug_assert!(body.last().is_some_and(|d| d.pc == lp.back));
        Ok(())
    }

    /// Falls through if every access of the loop through its pointer lies
    /// in the window; else branches to `fail`. In r0..r3 and r12, with `d`
    /// the most the pointer can move (refused above 2^32 - 1): for a
    /// counter, `(c-1) * |stride|` with `c - 1` taken mod 2^32 (c = 0 gives
    /// 2^32 - 1, which the overflow checks refuse); for an end bound,
    /// `max(0, end - 1 - p)`. Moving up, `a = p + lowest - start` without
    /// borrow and `a + d + (end - lowest) <= len` without carry; moving
    /// down, `a >= d` and `a + (end - lowest) <= len` without carry.
    fn counted_check(&mut self, lp: &CountedLoop, fail: super::Label) {
        let (start, count) = self.window(lp.region, lp.write, 1);
        let fail_if = |this: &mut Self, cond: Cond| this.e(I::B { cond: Some(cond), target: fail });
        // Registers kept as pairs must start below 2^32: then the pointer's
        // accesses are exact on low words, and the bound is what it says.
        let other = match lp.bound {
            Bound::Counter(c) => c,
            Bound::End { end } => end,
        };
        for r in [Some(lp.ind), Some(other), lp.base].into_iter().flatten() {
            if !self.narrow(r) {
                let h = self.hi(r, R::R1);
                self.e(I::CmpImm { kind: Compare::Cmp, rn: h, imm: 0 });
                fail_if(self, Cond::Ne);
            }
        }
        let p = self.lo(lp.ind, R::R2);
        if let Bound::End { end } = lp.bound {
            // r1 = d = the multiple of the stride at most end - i - 1, or 0
            // when end <= i.
            let (zero, have) = (self.asm.label(), self.asm.label());
            let e = self.lo(end, R::R3);
            self.e(dp(DpOp::Sub, Set, R::R1, e, p));
            self.e(I::B { cond: Some(Cond::Ls), target: zero });
            self.e(I::DpImm { op: DpOp::Sub, s: Any, rd: R::R1, rn: R::R1, imm: 1 });
            let s = lp.stride.unsigned_abs();
            if s.is_power_of_two() {
                if s > 1 {
                    self.e(I::DpImm { op: DpOp::Bic, s: Any, rd: R::R1, rn: R::R1, imm: s - 1 });
                }
            } else {
                self.imm(R::R12, s, true);
                self.e(I::Div { signed: false, rd: R::R3, rn: R::R1, rm: R::R12 });
                self.e(I::Mul { s: Any, rd: R::R1, rn: R::R3, rm: R::R12 });
                self.features |= femtoc_runtime::engine::Features::HW_DIVIDE;
            }
            self.e(I::B { cond: None, target: have });
            self.asm.bind(zero);
            self.imm(R::R1, 0, true);
            self.asm.bind(have);
        }
        // r2 = p = base + i (no carry), then a = p + lowest - start.
        match lp.base {
            Some(b) => {
                let b = self.lo(b, R::R3);
                self.e(dp(DpOp::Add, Set, R::R2, p, b));
                fail_if(self, Cond::Hs);
            }
            None => self.mov(R::R2, p),
        }
        if lp.lowest != 0 {
            self.add_imm(R::R2, R::R2, lp.lowest, Set);
            fail_if(self, if lp.lowest > 0 { Cond::Hs } else { Cond::Lo });
        }
        self.ldr(R::R0, R::SP, start);
        self.e(dp(DpOp::Sub, Set, R::R2, R::R2, R::R0));
        fail_if(self, Cond::Lo);
        // r0 = d.
        match lp.bound {
            Bound::Counter(c) => {
                let c = self.lo(c, R::R3);
                self.e(I::DpImm { op: DpOp::Sub, s: Any, rd: R::R3, rn: c, imm: 1 });
                self.imm(R::R12, lp.stride.unsigned_abs(), true);
                self.e(I::Umull { rdlo: R::R0, rdhi: R::R1, rn: R::R3, rm: R::R12 });
                self.e(I::CmpImm { kind: Compare::Cmp, rn: R::R1, imm: 0 });
                fail_if(self, Cond::Ne);
            }
            Bound::End { .. } => self.mov(R::R0, R::R1),
        }
        if lp.stride > 0 {
            self.e(dp(DpOp::Add, Set, R::R0, R::R0, R::R2));
            fail_if(self, Cond::Hs);
        } else {
            // The lowest iteration stays above the start ...
            self.e(I::CmpReg { kind: Compare::Cmp, rn: R::R2, rm: R::R0 });
            fail_if(self, Cond::Lo);
            // ... and the first one ends inside: a + (end - lowest).
            self.mov(R::R0, R::R2);
        }
        self.add_imm(R::R0, R::R0, lp.end - lp.lowest, Set);
        fail_if(self, Cond::Hs);
        self.ldr(R::R1, R::SP, count);
        self.e(I::CmpReg { kind: Compare::Cmp, rn: R::R0, rm: R::R1 });
        fail_if(self, Cond::Hi);
    }
}
