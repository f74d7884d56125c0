//! Counted loops: one bounds check before the loop instead of one per
//! iteration.
//!
//! The shape is the inner loop of a checksum, a copy or an insertion sort:
//! instructions `head..=back`, entered only at `head` (no jump lands
//! inside), in which a pointer `p` is only advanced by a constant stride
//! `s != 0`, every access through `p` is a plain load or store, every other
//! jump leaves the loop forward, and the back edge is either `jne c, 0,
//! head` on a counter `c` only decremented by one, or `jlt p, end, head`
//! on the pointer itself (`s > 0`, `end` not written in the loop). Entered
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
    /// `jlt p, end, head` (64-bit, unsigned) on the pointer itself, which
    /// advances by a positive stride and `end` is not written in the loop:
    /// every iteration but the first runs with `p < end`, so the pointer
    /// never passes `max(p, end - 1)`.
    End { end: EReg },
}

/// A loop whose accesses through `ptr` are checked once before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CountedLoop {
    /// The header (the back edge's target).
    pub head: usize,
    /// The pc of the back edge.
    pub back: usize,
    /// The pointer advanced by `stride` once per iteration.
    ptr: EReg,
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
        // `counter` is the register the loop writes besides the pointer:
        // the counter, or for an end bound the pointer itself (its one
        // write is the advance).
        let (bound, counter) = match last.insn {
            Insn::Jmp { cond: JmpCond::Ne, dst, src: Source::Imm(0), .. } => {
                (Bound::Counter(dst), dst)
            }
            Insn::Jmp {
                width: Width::W64, cond: JmpCond::Lt, dst, src: Source::Reg(e), ..
            } if e != dst && e != EReg::R10 => (Bound::End { end: e }, dst),
            _ => return None,
        };
        if last.pc != back {
            return None;
        }
        let func = self.prog.as_ref().function_at(head as u32).copied()?;
        // The pointer: the base of the first access that would be checked.
        let ptr = rest.iter().find_map(|d| match d.insn {
            Insn::Load { src, off, size, .. } | Insn::LoadSx { src, off, size, .. }
                if !self.unchecked_anyway(&func, src, off, size, false) =>
            {
                Some(src)
            }
            Insn::Store { dst, off, size, .. }
                if !self.unchecked_anyway(&func, dst, off, size, true) =>
            {
                Some(dst)
            }
            _ => None,
        })?;
        let fits = match bound {
            Bound::Counter(c) => ptr != c,
            Bound::End { end } => ptr == counter && ptr != end,
        };
        if !fits || ptr == EReg::R10 {
            return None;
        }
        let mut stride = None;
        let mut decremented = false;
        let (mut lowest, mut end, mut write) = (i32::MAX, i32::MIN, false);
        let mut region = None;
        if let Bound::End { end } = bound {
            // The end stays put, and the advance counts as the decrement.
            if rest.iter().any(|d| super::writes(&d.insn, end)) {
                return None;
            }
            decremented = true;
        }
        for d in rest {
            let writes_ptr = super::writes(&d.insn, ptr);
            let writes_counter = super::writes(&d.insn, counter) && counter != ptr;
            // An exit leaves the loop forward: the iterations run are then
            // a prefix of the counted ones.
            let leaves = d
                .insn
                .branch_target(d.pc)
                .and_then(|t| usize::try_from(t).ok())
                .is_some_and(|t| t > back);
            match d.insn {
                Insn::Jmp { .. } | Insn::Ja { .. } | Insn::JaLong { .. } if leaves => {}
                Insn::Ja { .. }
                | Insn::JaLong { .. }
                | Insn::Jmp { .. }
                | Insn::Exit
                | Insn::Call { .. }
                | Insn::CallLocal { .. }
                | Insn::CallReg { .. } => return None,
                Insn::Alu { op: AluOp::Add, dst, src: Source::Imm(s), .. }
                    if dst == ptr && s != 0 && stride.is_none() =>
                {
                    stride = Some(s);
                }
                Insn::Alu { op: AluOp::Add, dst, src: Source::Imm(-1), .. }
                | Insn::Alu { op: AluOp::Sub, dst, src: Source::Imm(1), .. }
                    if dst == counter && dst != ptr && !decremented =>
                {
                    decremented = true;
                }
                _ if writes_ptr || writes_counter => return None,
                Insn::Atomic { dst, .. } if dst == ptr => return None,
                Insn::Load { src: base, off, size, .. }
                | Insn::LoadSx { src: base, off, size, .. }
                | Insn::Store { dst: base, off, size, .. }
                    if base == ptr =>
                {
                    if !(-255..=4087).contains(&off) {
                        return None;
                    }
                    let eff = i32::from(off) + stride.unwrap_or(0);
                    lowest = lowest.min(eff);
                    end = end.max(eff + size.bytes() as i32);
                    let is_store = matches!(d.insn, Insn::Store { .. });
                    write |= is_store;
                    region.get_or_insert(self.target(d.pc, ptr));
                }
                _ => {}
            }
        }
        if matches!(bound, Bound::End { .. }) && stride.is_some_and(|s| s < 0) {
            return None;
        }
        Some(CountedLoop {
            head,
            back,
            ptr,
            bound,
            stride: stride?,
            lowest,
            end,
            write,
            region: region?,
        })
        .filter(|_| decremented)
    }

    /// True if an access needs no check wherever it is (the verified frame
    /// or the proven context prefix).
    fn unchecked_anyway(
        &self,
        func: &FunctionInfo,
        base: EReg,
        off: i16,
        size: femtoc_isa::MemSize,
        write: bool,
    ) -> bool {
        Self::in_frame(func, base, off, size) || (!write && self.in_context(base, off, size))
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
        self.unchecked_ptr = Some(lp.ptr);
        self.head_override = Some((lp.head, unchecked));
        self.loop_copy(lp, body, func)?;
        self.unchecked_ptr = None;
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
        for r in [lp.ptr, other] {
            if !self.narrow(r) {
                let h = self.hi(r, R::R1);
                self.e(I::CmpImm { kind: Compare::Cmp, rn: h, imm: 0 });
                fail_if(self, Cond::Ne);
            }
        }
        let p = self.lo(lp.ptr, R::R2);
        if let Bound::End { end } = lp.bound {
            // r1 = d = the multiple of the stride at most end - p - 1, or 0
            // when end <= p.
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
        // r2 = a = p + lowest - start.
        if lp.lowest != 0 {
            self.add_imm(R::R2, p, lp.lowest, Set);
            fail_if(self, if lp.lowest > 0 { Cond::Hs } else { Cond::Lo });
        } else {
            self.mov(R::R2, p);
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
