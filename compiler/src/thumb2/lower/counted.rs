//! Counted loops: one bounds check before the loop instead of one per
//! iteration, for the loops [`crate::analysis::loops`] accepts (a
//! straight-line body with forward exits, an induction register `i`
//! advanced by a constant, a counter or an index bound, and accesses at
//! `[b +] i + c`): every access of a run lies within `p + lowest` and
//! `p + end` (with `p = [b +] i` at entry) widened by the most `i` can move.
//!
//! The loop is emitted twice: at the header, the check (which also wants
//! the upper halves of registers kept as pairs to be zero, so that the
//! addresses are exact on low words), falling into a copy whose hoisted
//! accesses are unchecked; when the check fails (a short region, a zero
//! count, an overflow), the ordinary checked copy runs instead, faulting
//! exactly where the interpreter does. Jumps into the loop from elsewhere
//! reach the header, hence the check.

use femtoc_isa::{Decoded, FunctionInfo, Insn, Source};

use super::super::insn::{Compare, Cond, DpOp, Reg, Shift, Thumb2Insn as I};
use super::windows::Target;
use super::{dp, Any, CompileError, Lowerer, Set};
use crate::analysis::frame_span;
use crate::analysis::loops::{self, AccessSet, HoistLoop, Trip};
use std::collections::BTreeMap;

use Reg as R;

/// A loop whose accesses are checked once before it runs, with what the
/// Thumb-2 check needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CountedLoop {
    /// The shape.
    lp: HoistLoop,
    /// The pcs of the accesses left unchecked in the fast copy (those whose
    /// displacement an instruction can hold).
    sites: Vec<usize>,
    /// `lowest` and `end` of the shape, as instruction immediates.
    lowest: i32,
    end: i32,
    /// The region the accesses most likely hit.
    region: Target,
    /// Every entry's span is proven inside the frame
    /// ([`crate::analysis::frame_span`]): the loop is emitted once,
    /// unchecked, with no check at its header.
    in_frame: bool,
}

impl CountedLoop {
    /// The header.
    pub fn head(&self) -> usize {
        self.lp.head
    }

    /// The pc of the back edge.
    pub fn back(&self) -> usize {
        self.lp.back
    }

    /// True if every access is proven inside the frame (no check at all).
    pub fn is_frame_loop(&self) -> bool {
        self.in_frame
    }
}

impl Lowerer<'_> {
    /// The header pcs of the counted loops found by [`Lowerer::lower`].
    pub fn counted_loop_heads(&self) -> Vec<u32> {
        self.counted.keys().map(|&h| h as u32).collect()
    }

    /// The header pcs of the counted loops proven inside the frame.
    pub fn frame_loop_heads(&self) -> Vec<u32> {
        self.counted.iter().filter(|(_, c)| c.in_frame).map(|(&h, _)| h as u32).collect()
    }

    /// The counted loops of the program, by header pc.
    pub(super) fn find_counted_loops(&self, insns: &[Decoded]) -> BTreeMap<usize, CountedLoop> {
        let pairs: Vec<(usize, Insn)> = insns.iter().map(|d| (d.pc, d.insn)).collect();
        let starts: Vec<usize> = self.prog.functions.iter().map(|f| f.start as usize).collect();
        let prog = self.prog.as_ref();
        let checked = |pc: usize, insn: &Insn| {
            let (base, off, size, write) = match *insn {
                Insn::Load { src, off, size, .. } | Insn::LoadSx { src, off, size, .. } => {
                    (src, off, size, false)
                }
                Insn::Store { dst, off, size, .. } => (dst, off, size, true),
                _ => return true,
            };
            let in_frame =
                prog.function_at(pc as u32).is_some_and(|f| Self::in_frame(f, base, off, size));
            let in_context = !write && self.in_context(base, off, size);
            !in_frame && !in_context && !self.proven_data.contains(&pc)
        };
        let mut out = BTreeMap::new();
        for lp in loops::hoistable_loops(&pairs, &starts, checked)
            .into_iter()
            .filter(HoistLoop::is_single)
        {
            // Accesses whose displacement no load or store can hold stay
            // checked (still inside the span, which is only conservative).
            let sites: Vec<usize> = lp
                .accesses
                .iter()
                .filter(|a| pairs.iter().any(|&(pc, insn)| pc == a.pc && displacement_fits(&insn)))
                .map(|a| a.pc)
                .collect();
            let (Ok(lowest), Ok(end)) = (i32::try_from(lp.lowest()), i32::try_from(lp.end()))
            else {
                continue;
            };
            let first = lp.accesses.first().map(|a| a.pc);
            let base =
                pairs.iter().find(|&&(pc, _)| Some(pc) == first).and_then(|(_, i)| match *i {
                    Insn::Load { src, .. } | Insn::LoadSx { src, .. } => Some(src),
                    Insn::Store { dst, .. } => Some(dst),
                    _ => None,
                });
            let (Some(pc), Some(base)) = (first, base) else { continue };
            if sites.is_empty() || end.checked_sub(lowest).is_none_or(|w| w > 4096) {
                continue;
            }
            let region = self.target(pc, base);
            out.insert(lp.head, CountedLoop { lp, sites, lowest, end, region, in_frame: false });
        }
        let in_frame = frame_span::frame_loops(
            self.prog,
            &pairs,
            &self.ranges,
            out.values().map(|c: &CountedLoop| &c.lp),
        );
        for head in in_frame {
            if let Some(c) = out.get_mut(&head) {
                c.in_frame = true;
            }
        }
        out
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
        // The values entering the loop: their webs at the header.
        self.cur_pc = lp.head();
        if lp.in_frame {
            // Every entry is proven; the copy counts its own budget.
            self.unchecked_copy(lp, body, func)?;
            self.head_override = None;
            return Ok(());
        }
        self.counted_check(lp, checked);
        self.unchecked_copy(lp, body, func)?;
        let after = self.label_at(lp.back() + 1)?;
        self.e(I::B { cond: None, target: after });
        self.asm.bind(checked);
        self.head_override = Some((lp.head(), checked));
        self.cold_copy = true;
        let copied = self.loop_copy(lp, body, func);
        self.cold_copy = false;
        copied?;
        self.head_override = None;
        Ok(())
    }

    /// The copy whose hoisted accesses go unchecked, starting here.
    fn unchecked_copy(
        &mut self,
        lp: &CountedLoop,
        body: &[Decoded],
        func: &FunctionInfo,
    ) -> Result<(), CompileError> {
        let unchecked = self.asm.label();
        self.asm.bind(unchecked);
        self.unchecked_sites = lp.sites.iter().copied().collect();
        self.head_override = Some((lp.head(), unchecked));
        self.loop_copy(lp, body, func)?;
        self.unchecked_sites.clear();
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
        debug_assert!(body.last().is_some_and(|d| d.pc == lp.back()));
        Ok(())
    }

    /// Falls through if every hoisted access lies in the window; else
    /// branches to `fail`. In r0..r3 and r12, with `d` the most `i` can
    /// move (refused above 2^32 - 1): for a counter, `(c-1) * |step|` with
    /// `c - 1` taken mod 2^32 (c = 0 gives 2^32 - 1, which the overflow
    /// checks refuse); for an index bound `n`, the largest multiple of the
    /// step below `n - i`, or 0. With `p = [b +] i` (no carry) and
    /// `a = p + lowest - start` (no borrow): moving up,
    /// `a + d + (end - lowest) <= len`; moving down, `a >= d` and
    /// `a + (end - lowest) <= len`, without carry.
    fn counted_check(&mut self, cl: &CountedLoop, fail: super::Label) {
        let lp = &cl.lp;
        let write = lp.writes();
        let (start, count) = self.window(cl.region, write, 1);
        let fail_if = |this: &mut Self, cond: Cond| this.e(I::B { cond: Some(cond), target: fail });
        // Registers kept as pairs must start below 2^32 (a counter whose
        // low word is the trip count excepted).
        let bound = match lp.trip {
            Trip::Counted { counter, low32: false } => Some(counter),
            Trip::Index { bound: Source::Reg(n) } => Some(n),
            _ => None,
        };
        for r in [Some(lp.iv), bound, lp.base].into_iter().flatten() {
            if !self.low_use(r) {
                let h = self.hi(r, R::R1);
                self.e(I::CmpImm { kind: Compare::Cmp, rn: h, imm: 0 });
                fail_if(self, Cond::Ne);
            }
        }
        let step = lp.step.unsigned_abs() as u32;
        let i = self.lo(lp.iv, R::R2);
        if let Trip::Index { bound } = lp.trip {
            // r1 = d.
            let (zero, have) = (self.asm.label(), self.asm.label());
            let n = match bound {
                Source::Reg(n) => self.lo(n, R::R3),
                Source::Imm(k) => {
                    // A negative constant is 2^64 - |k|: never reached by an
                    // index below 2^32; refuse.
                    if k < 0 {
                        self.e(I::B { cond: None, target: fail });
                        return;
                    }
                    self.imm(R::R3, k as u32, true);
                    R::R3
                }
            };
            self.e(dp(DpOp::Sub, Set, R::R1, n, i));
            self.e(I::B { cond: Some(Cond::Ls), target: zero });
            self.e(I::DpImm { op: DpOp::Sub, s: Any, rd: R::R1, rn: R::R1, imm: 1 });
            if step.is_power_of_two() {
                if step > 1 {
                    self.e(I::DpImm { op: DpOp::Bic, s: Any, rd: R::R1, rn: R::R1, imm: step - 1 });
                }
            } else {
                self.imm(R::R12, step, true);
                self.e(I::Div { signed: false, rd: R::R3, rn: R::R1, rm: R::R12 });
                self.e(I::Mul { s: Any, rd: R::R1, rn: R::R3, rm: R::R12 });
                self.features |= femtoc_runtime::engine::Features::HW_DIVIDE;
            }
            self.e(I::B { cond: None, target: have });
            self.asm.bind(zero);
            self.imm(R::R1, 0, true);
            self.asm.bind(have);
        }
        // r2 = p = [b +] i (no carry), then a = p + lowest - start.
        match lp.base {
            Some(b) => {
                let b = self.lo(b, R::R3);
                self.e(dp(DpOp::Add, Set, R::R2, i, b));
                fail_if(self, Cond::Hs);
            }
            None => self.mov(R::R2, i),
        }
        if cl.lowest != 0 {
            self.add_imm(R::R2, R::R2, cl.lowest, Set);
            fail_if(self, if cl.lowest > 0 { Cond::Hs } else { Cond::Lo });
        }
        self.ldr(R::R0, R::SP, start);
        self.e(dp(DpOp::Sub, Set, R::R2, R::R2, R::R0));
        fail_if(self, Cond::Lo);
        // r0 = d.
        match lp.trip {
            Trip::Counted { counter, .. } => {
                // d = (c - 1) * step, refused if it needs more than 32 bits.
                let c = self.lo(counter, R::R3);
                if step == 1 {
                    self.e(I::DpImm { op: DpOp::Sub, s: Any, rd: R::R0, rn: c, imm: 1 });
                } else if step.is_power_of_two() {
                    let k = step.trailing_zeros() as u8;
                    self.e(I::DpImm { op: DpOp::Sub, s: Any, rd: R::R3, rn: c, imm: 1 });
                    let sh = |kind, s, rd, amount| I::ShiftImm { kind, s, rd, rm: R::R3, amount };
                    self.e(sh(Shift::Lsr, Set, R::R1, 32 - k));
                    fail_if(self, Cond::Ne);
                    self.e(sh(Shift::Lsl, Any, R::R0, k));
                } else {
                    self.e(I::DpImm { op: DpOp::Sub, s: Any, rd: R::R3, rn: c, imm: 1 });
                    self.imm(R::R12, step, true);
                    self.e(I::Umull { rdlo: R::R0, rdhi: R::R1, rn: R::R3, rm: R::R12 });
                    self.e(I::CmpImm { kind: Compare::Cmp, rn: R::R1, imm: 0 });
                    fail_if(self, Cond::Ne);
                }
            }
            Trip::Index { .. } => self.mov(R::R0, R::R1),
        }
        if lp.step > 0 {
            self.e(dp(DpOp::Add, Set, R::R0, R::R0, R::R2));
            fail_if(self, Cond::Hs);
        } else {
            // The lowest iteration stays above the start ...
            self.e(I::CmpReg { kind: Compare::Cmp, rn: R::R2, rm: R::R0 });
            fail_if(self, Cond::Lo);
            // ... and the first one ends inside: a + (end - lowest).
            self.mov(R::R0, R::R2);
        }
        self.add_imm(R::R0, R::R0, cl.end - cl.lowest, Set);
        fail_if(self, Cond::Hs);
        self.ldr(R::R1, R::SP, count);
        self.e(I::CmpReg { kind: Compare::Cmp, rn: R::R0, rm: R::R1 });
        fail_if(self, Cond::Hi);
    }
}

/// True if the load or store's displacement fits the immediate of the
/// instruction the unchecked copy uses.
fn displacement_fits(insn: &Insn) -> bool {
    match *insn {
        Insn::Load { off, .. } | Insn::LoadSx { off, .. } | Insn::Store { off, .. } => {
            (-255..=4087).contains(&off)
        }
        _ => false,
    }
}
