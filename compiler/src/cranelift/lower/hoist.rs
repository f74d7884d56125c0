//! Loops checked once before they run ([`crate::analysis::loops`]).
//!
//! The header's block holds the check of the whole span the loop's hoisted
//! accesses can touch (of each span, for the several-span shape, each
//! against the region its first access most likely hits); every jump to
//! the header, from outside or from an outer loop, lands there. If each
//! span lies in its region with the permissions its accesses need, an
//! unchecked copy of the body runs;
//! otherwise (a short region, a zero counter, any sum that could wrap) the
//! ordinary checked copy runs and faults exactly where the interpreter
//! does. Each copy's back edge returns to its own header and counts the
//! budget exactly as the loop did, and its forward exits leave to the
//! code after the loop.
//!
//! The header also checks that the budget covers every back edge the loop
//! can take (the body is straight-line, so its back edge is its only
//! budget event): the unchecked copy then only counts its back edges,
//! without the test for an exhausted budget that could never fire. With
//! too little budget left the checked copy runs, which stops at the same
//! back edge as the interpreter.
//!
//! A copy whose loop is counted ([`Trip::Counted`]) and whose accesses all
//! go unchecked (so nothing in it can fault) does not count at all: the
//! counter, decremented once per iteration, already says how many back
//! edges were taken, `d` decrements so far (the difference of the counter
//! at entry and now, in its width) less one if the exit comes after the
//! decrement. Each exit subtracts that from the budget on its way out.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Block, InstBuilder, MemFlagsData, SourceLoc, Value};
use femtoc_isa::insn::{Insn, Reg, Source};

use super::{fast_key, Budget, Lower, Region, I32, I64};
use crate::analysis::loops::{AccessSet, Bound, HoistLoop, Shape, Spans, Trip};
use crate::analysis::zext::may_write;
use crate::cranelift::CompileError;

/// How an unchecked copy of a counted loop finds the back edges it took.
#[derive(Clone, Copy, Debug)]
pub(super) struct CountedBudget {
    /// The counter register.
    counter: Reg,
    /// The count is the counter's low word.
    low32: bool,
    /// The counter at entry.
    entry: Value,
    /// The pc of its decrement.
    dec_pc: usize,
}

/// The bytes a hoisted span can touch: from `origin`, which moves by
/// `moved` bytes over the loop (downwards when `down`), accesses reach
/// from `lowest` to `lowest + width` around it.
#[derive(Clone, Copy)]
struct Reach {
    origin: Value,
    moved: Value,
    down: bool,
    lowest: i64,
    width: u64,
}

impl Lower<'_, '_> {
    /// Emits the loop `body` (`lp.head..=lp.back`): the span check in the
    /// header's block, then the unchecked and the checked copy.
    pub(super) fn hoisted_loop(
        &mut self,
        lp: &HoistLoop,
        regions: &[Region],
        body: &[(usize, Insn)],
    ) -> Result<(), CompileError> {
        let unchecked = self.b.create_block();
        let checked = self.b.create_block();
        self.b.set_srcloc(SourceLoc::new(lp.head as u32));
        // Before the check, whose block it must be in.
        self.unchecked_loop = Some(lp.head);
        let counted = self.counted_budget_of(lp, body);
        self.unchecked_loop = None;
        match (&lp.shape, regions) {
            _ if self.frame_loops.contains(&lp.head) => self.budget_check(lp, unchecked, checked),
            (Shape::Single, &[region]) => self.span_check(lp, region, unchecked, checked),
            (Shape::Spans(spans), _) if spans.spans.len() == regions.len() => {
                self.spans_check(spans, regions, unchecked, checked)
            }
            // A region per span was chosen (cannot fail): never unchecked.
            _ => {
                self.b.ins().jump(checked, &[]);
            }
        }
        self.unchecked_loop = Some(lp.head);
        self.counted_budget = counted;
        self.loop_copy(lp, body, unchecked)?;
        self.unchecked_loop = None;
        self.counted_budget = None;
        self.loop_copy(lp, body, checked)
    }

    /// The counter's part in the unchecked copy of `lp`, if it is counted
    /// and no access in it keeps a check (a check's slow path and the
    /// fault block read the budget, which this copy does not keep).
    /// Called in the header's block, with `unchecked_loop` set.
    fn counted_budget_of(
        &mut self,
        lp: &HoistLoop,
        body: &[(usize, Insn)],
    ) -> Option<CountedBudget> {
        let Trip::Counted { counter, low32 } = lp.trip else { return None };
        let all_hoisted = body.iter().all(|&(pc, insn)| match insn {
            Insn::Load { src: base, off, size, .. }
            | Insn::LoadSx { src: base, off, size, .. }
            | Insn::Store { dst: base, off, size, .. } => {
                self.skips_check(pc, base, off, size.bytes())
            }
            Insn::Atomic { .. } => false,
            _ => true,
        });
        let mut writes = body.iter().filter(|(_, i)| may_write(i, counter));
        let (dec_pc, _) = writes.next()?;
        if !all_hoisted || writes.next().is_some() {
            return None;
        }
        let entry = self.get(counter);
        Some(CountedBudget { counter, low32, entry, dec_pc: *dec_pc })
    }

    /// Subtracts the back edges the unchecked copy took from the budget,
    /// on its way out through the exit at `pc`.
    pub(super) fn settle_budget(&mut self, pc: usize, counted: CountedBudget) {
        self.settle_budget_from(pc, counted, false);
    }

    /// [`Self::settle_budget`]; `at_zero` when the exit is the back edge's
    /// fall-through, where the counter (in its width) is 0: the
    /// decrements are then the entry count itself. Not reading the
    /// counter there keeps its value before the decrement dead on that
    /// edge (Cranelift would recompute the decrement from it in the exit
    /// block), so the decrement updates its register in place instead of
    /// paying a copy on every back edge.
    fn settle_budget_from(&mut self, pc: usize, counted: CountedBudget, at_zero: bool) {
        // The decrements so far, in the counter's width (a zero count
        // wraps, and the difference with it): `entry - now`, or `entry`
        // where `now` is known to be 0.
        let now = (!at_zero).then(|| self.get(counted.counter));
        let decrements = if counted.low32 {
            let entry = self.b.ins().ireduce(I32, counted.entry);
            let d = match now {
                Some(now) => {
                    let now = self.b.ins().ireduce(I32, now);
                    self.b.ins().isub(entry, now)
                }
                None => entry,
            };
            self.b.ins().uextend(I64, d)
        } else {
            match now {
                Some(now) => self.b.ins().isub(counted.entry, now),
                None => counted.entry,
            }
        };
        let taken =
            if pc > counted.dec_pc { self.b.ins().iadd_imm_s(decrements, -1) } else { decrements };
        self.take_budget(taken);
    }

    /// Subtracts `taken` events from the budget.
    fn take_budget(&mut self, taken: Value) {
        match self.budget {
            Budget::Var(var) => {
                let left = self.b.use_var(var);
                let left = self.b.ins().isub(left, taken);
                self.b.def_var(var, left);
            }
            Budget::Slot(slot) => {
                let at = self.b.ins().stack_addr(I64, slot, 0);
                let left = self.b.ins().load(I64, MemFlagsData::trusted(), at, 0);
                let left = self.b.ins().isub(left, taken);
                self.b.ins().store(MemFlagsData::trusted(), left, at, 0);
            }
        }
    }

    /// The back edge of the unchecked copy: `brif c, head, next`, the
    /// budget counted before the branch (the header proved it covers
    /// every back edge) and given back on the way out. The branch then
    /// goes straight to the header, where a block of its own for the
    /// count would end in one more jump per iteration.
    pub(super) fn unchecked_back_edge(&mut self, pc: usize, c: Value, head: Block, next: Block) {
        let exit = self.b.create_block();
        if let Some(counted) = self.counted_budget {
            self.b.ins().brif(c, head, &[], exit, &[]);
            self.b.switch_to_block(exit);
            self.settle_budget_from(pc, counted, true);
            self.b.ins().jump(next, &[]);
            return;
        }
        match self.budget {
            Budget::Var(var) => {
                let left = self.b.use_var(var);
                let counted = self.b.ins().iadd_imm_s(left, -1);
                self.b.def_var(var, counted);
                self.b.ins().brif(c, head, &[], exit, &[]);
                self.b.switch_to_block(exit);
                // `counted + 1` in a form Cranelift does not fold back
                // into `left`: were `left` live on this edge, the count
                // could not update its register in place, and every
                // iteration would pay a copy.
                let one = self.b.ins().iconst(I64, 1);
                let (left, _) = self.b.ins().uadd_overflow(counted, one);
                self.b.def_var(var, left);
            }
            Budget::Slot(_) => {
                // In memory the count is a store of its own either way.
                let taken = self.b.create_block();
                self.b.ins().brif(c, taken, &[], exit, &[]);
                self.b.switch_to_block(taken);
                self.budget_event(0);
                self.b.ins().jump(head, &[]);
                self.b.switch_to_block(exit);
            }
        }
        self.b.ins().jump(next, &[]);
    }

    /// One copy of the loop starting in `head`: the loop's inner blocks
    /// are replaced by fresh ones while it is emitted.
    fn loop_copy(
        &mut self,
        lp: &HoistLoop,
        body: &[(usize, Insn)],
        head: Block,
    ) -> Result<(), CompileError> {
        let saved: Vec<(usize, Block)> =
            self.blocks.range(lp.head..=lp.back).map(|(&pc, &blk)| (pc, blk)).collect();
        for &(pc, _) in &saved {
            let blk = if pc == lp.head { head } else { self.b.create_block() };
            self.blocks.insert(pc, blk);
        }
        let mut open = false;
        for &(pc, insn) in body {
            if self.inside_lowered_pair(pc) {
                continue;
            }
            if let Some(&blk) = self.blocks.get(&pc) {
                if open {
                    self.b.ins().jump(blk, &[]);
                }
                self.b.switch_to_block(blk);
                open = true;
            }
            if !open {
                continue;
            }
            self.b.set_srcloc(SourceLoc::new(pc as u32));
            open = self.insn(pc, insn)?;
        }
        self.blocks.extend(saved);
        if open {
            // The body ends in its back edge, which always ends a block.
            return Err(CompileError::Internal("a hoisted loop falls through its back edge"));
        }
        Ok(())
    }

    /// Jumps to `pass` iff every access the loop can make through its
    /// induction variable lies in `region` with the permissions they need,
    /// else to `fail`. Each refusal is a compare and a branch of its own
    /// (cheaper than combining flags: the check runs at every entry).
    ///
    /// With `origin = [base +] iv` at entry and `m` a bound on how far the
    /// induction variable moves (`(T - 1) * |step|` for a counted loop,
    /// `max(n - 1 - iv0, 0)` for an index loop), the accesses lie in
    /// `[origin + lowest - (m if step < 0), origin + end + (m if step > 0))`.
    /// Every sum is checked not to wrap, so the span is exact and the
    /// program's own (wrapping) addresses are the same numbers.
    ///
    /// The back edges the loop can take number at most `T - 1` (counted)
    /// or `m / step <= m` (index: iteration `k > 0` starts with
    /// `iv0 + k*step <= n - 1`); the budget left must be at least that.
    fn span_check(&mut self, lp: &HoistLoop, region: Region, pass: Block, fail: Block) {
        let lowest = lp.lowest();
        // At most about 2^33.
        let width = lp.width();
        let step = lp.step.unsigned_abs().max(1);
        let mut bad: Vec<Value> = Vec::new();
        let iv0 = self.get(lp.iv);
        let m = match lp.trip {
            Trip::Counted { counter, low32 } => {
                let c = self.get(counter);
                let t = if low32 {
                    let low = self.b.ins().ireduce(I32, c);
                    self.b.ins().uextend(I64, low)
                } else {
                    c
                };
                // (T - 1) * step + width fits in 64 bits. A zero counter
                // (2^64 or 2^32 iterations) gives T - 1 = 2^64 - 1, which
                // is always above the limit (width >= 1).
                let n1 = self.b.ins().iadd_imm_s(t, -1);
                let max = (u64::MAX - width) / step;
                bad.push(self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, n1, max as i64));
                let left = self.budget_left();
                bad.push(self.b.ins().icmp(IntCC::UnsignedGreaterThan, n1, left));
                self.b.ins().imul_imm_u(n1, step as i64)
            }
            Trip::Index { bound } => {
                let n = match bound {
                    Source::Reg(r) => self.get(r),
                    Source::Imm(k) => self.b.ins().iconst(I64, i64::from(k)),
                };
                // No increment wraps: iv0 + step and n - 1 + step fit.
                let top = u64::MAX - step;
                bad.push(self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, iv0, top as i64));
                bad.push(self.b.ins().icmp_imm_u(
                    IntCC::UnsignedGreaterThan,
                    n,
                    top.wrapping_add(1) as i64,
                ));
                let below = self.b.ins().icmp(IntCC::UnsignedLessThan, iv0, n);
                let last = self.b.ins().iadd_imm_s(n, -1);
                let moved = self.b.ins().isub(last, iv0);
                let zero = self.b.ins().iconst(I64, 0);
                let m = self.b.ins().select(below, moved, zero);
                let max = u64::MAX - width;
                bad.push(self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, m, max as i64));
                let left = self.budget_left();
                bad.push(self.b.ins().icmp(IntCC::UnsignedGreaterThan, m, left));
                m
            }
        };
        let origin = match lp.base {
            Some(base) => {
                let b = self.get(base);
                let sum = self.b.ins().iadd(b, iv0);
                bad.push(self.b.ins().icmp(IntCC::UnsignedLessThan, sum, b));
                sum
            }
            None => iv0,
        };
        let reach = Reach { origin, moved: m, down: lp.step < 0, lowest, width };
        if !self.span_in_region(reach, region, (lp.reads(), lp.writes()), &mut bad) {
            self.b.ins().jump(fail, &[]);
            return;
        }
        self.refuse_any(bad, pass, fail);
    }

    /// Jumps to `pass` iff the budget covers every back edge of the
    /// counted loop `lp`, whose span the frame is proven to hold at every
    /// entry with a counter of at least 1 (see `frame_span`), else to
    /// `fail`.
    fn budget_check(&mut self, lp: &HoistLoop, pass: Block, fail: Block) {
        let Trip::Counted { counter, low32 } = lp.trip else {
            self.b.ins().jump(fail, &[]);
            return;
        };
        let c = self.get(counter);
        let t = if low32 {
            let low = self.b.ins().ireduce(I32, c);
            self.b.ins().uextend(I64, low)
        } else {
            c
        };
        let edges = self.b.ins().iadd_imm_s(t, -1);
        let left = self.budget_left();
        let short = self.b.ins().icmp(IntCC::UnsignedGreaterThan, edges, left);
        self.refuse_any(vec![short], pass, fail);
    }

    /// Adds to `bad` the refusals of the bytes `reach` covers in `region`
    /// (see [`Lowerer::in_region`]): the lowest start must not wrap below
    /// zero, nor the origin's own travel downwards.
    fn span_in_region(
        &mut self,
        reach: Reach,
        region: Region,
        rw: (bool, bool),
        bad: &mut Vec<Value>,
    ) -> bool {
        let Reach { origin, moved, down, lowest, width } = reach;
        let low = if down {
            bad.push(self.b.ins().icmp(IntCC::UnsignedLessThan, origin, moved));
            self.b.ins().isub(origin, moved)
        } else {
            origin
        };
        let first = self.b.ins().iadd_imm_s(low, lowest);
        bad.push(if lowest >= 0 {
            self.b.ins().icmp(IntCC::UnsignedLessThan, first, low)
        } else {
            self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, low, lowest.unsigned_abs() as i64)
        });
        let len = self.b.ins().iadd_imm_s(moved, width as i64);
        self.in_region(region, rw, first, len, bad)
    }

    /// Adds to `bad` the refusals of `span` bytes from `first` in
    /// `region`, for loads and/or stores as `(reads, writes)` says; false
    /// if a limit was not planned at entry (cannot happen), when the loop
    /// must never run unchecked.
    fn in_region(
        &mut self,
        region: Region,
        (reads, writes): (bool, bool),
        first: Value,
        span: Value,
        bad: &mut Vec<Value>,
    ) -> bool {
        let mut keys = Vec::new();
        if reads {
            keys.push(fast_key(region, 1, false));
        }
        if writes {
            keys.push(fast_key(region, 1, true));
        }
        // Loads and stores of the stack share one limit: check it once.
        keys.dedup();
        for key in keys {
            let Some(f) = self.fast.get(&key).copied() else { return false };
            let neg_start = self.b.use_var(f.neg_start);
            let limit = self.b.use_var(f.limit);
            // `first - start`: a first address below the region's start
            // wraps to at least 2^64 - start >= len, which fails below.
            let off = self.b.ins().iadd(first, neg_start);
            let end = self.b.ins().iadd(off, span);
            bad.push(self.b.ins().icmp(IntCC::UnsignedLessThan, end, off));
            bad.push(self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, limit));
        }
        true
    }

    /// Jumps to `fail` if any of `bad` holds, else to `pass`.
    fn refuse_any(&mut self, bad: Vec<Value>, pass: Block, fail: Block) {
        // Every refusal leaves through one block: the values the checked
        // copy's header merges (the budget just counted, say) are then
        // used there only, so Cranelift does not recompute them before
        // each branch (it rematerialises an `iadd_imm` in every block
        // that uses it).
        let refuse = self.b.create_block();
        self.b.set_cold_block(refuse);
        for refused in bad {
            let next = self.b.create_block();
            self.b.ins().brif(refused, refuse, &[], next, &[]);
            self.b.switch_to_block(next);
        }
        self.b.ins().jump(pass, &[]);
        self.b.switch_to_block(refuse);
        self.b.ins().jump(fail, &[]);
    }

    /// Jumps to `pass` iff every access of every span of a several-span
    /// loop lies in the span's region with the permissions it needs, and
    /// the budget covers every back edge, else to `fail`.
    ///
    /// `most`, the most back edges the loop can take, is the least of its
    /// bounds: `T - 1` for a counter (wrapping: a zero counter allows
    /// 2^64 - 1), and for `iv + add < n` with `e = iv0 + add`,
    /// `(n - 1 - e) / step + 1` if `e < n`, else 0. Both `e` and
    /// `n - 1 + step` are checked not to wrap, so each compare sees the
    /// same numbers as the program's wrapping ones until it stops the
    /// loop. A span whose origin `o` (its registers' sum at entry,
    /// checked not to wrap) moves by `s` per iteration then reaches
    /// `[o + lowest - (most*|s| if s < 0), o + end + (most*s if s > 0))`,
    /// every sum checked as in [`Lower::span_check`].
    fn spans_check(&mut self, shape: &Spans, regions: &[Region], pass: Block, fail: Block) {
        let mut bad: Vec<Value> = Vec::new();
        let mut most: Option<Value> = None;
        for bound in &shape.bounds {
            let edges = match *bound {
                Bound::Counted { counter, low32 } => {
                    let c = self.get(counter);
                    let t = if low32 {
                        let low = self.b.ins().ireduce(I32, c);
                        self.b.ins().uextend(I64, low)
                    } else {
                        c
                    };
                    self.b.ins().iadd_imm_s(t, -1)
                }
                Bound::Below { iv, step, add, bound } => {
                    let iv0 = self.get(iv);
                    let n = match bound {
                        Source::Reg(r) => self.get(r),
                        Source::Imm(k) => self.b.ins().iconst(I64, i64::from(k)),
                    };
                    let step = step.unsigned_abs().max(1);
                    let add_top = u64::MAX - add.unsigned_abs();
                    bad.push(self.b.ins().icmp_imm_u(
                        IntCC::UnsignedGreaterThan,
                        iv0,
                        add_top as i64,
                    ));
                    bad.push(self.b.ins().icmp_imm_u(
                        IntCC::UnsignedGreaterThan,
                        n,
                        (u64::MAX - step + 1) as i64,
                    ));
                    let e = self.b.ins().iadd_imm_s(iv0, add);
                    let below = self.b.ins().icmp(IntCC::UnsignedLessThan, e, n);
                    let last = self.b.ins().iadd_imm_s(n, -1);
                    let gap = self.b.ins().isub(last, e);
                    let whole = if step == 1 {
                        gap
                    } else if step.is_power_of_two() {
                        self.b.ins().ushr_imm_u(gap, i64::from(step.trailing_zeros()))
                    } else {
                        self.b.ins().udiv_imm_u(gap, step as i64)
                    };
                    let edges = self.b.ins().iadd_imm_s(whole, 1);
                    let zero = self.b.ins().iconst(I64, 0);
                    self.b.ins().select(below, edges, zero)
                }
            };
            most = Some(match most {
                Some(m) => self.b.ins().umin(m, edges),
                None => edges,
            });
        }
        let Some(most) = most else {
            // Not bounded (the analysis never gives this): never unchecked.
            self.b.ins().jump(fail, &[]);
            return;
        };
        let left = self.budget_left();
        bad.push(self.b.ins().icmp(IntCC::UnsignedGreaterThan, most, left));
        for (span, &region) in shape.spans.iter().zip(regions) {
            let (a, b) = span.regs;
            let a0 = self.get(a);
            let origin = match b {
                Some(b) => {
                    let b0 = self.get(b);
                    let sum = self.b.ins().iadd(a0, b0);
                    bad.push(self.b.ins().icmp(IntCC::UnsignedLessThan, sum, a0));
                    sum
                }
                None => a0,
            };
            let lowest = span.lowest();
            // At most about 2^33.
            let width = span.width();
            let step = span.step.unsigned_abs();
            let moved = match (u64::MAX - width).checked_div(step) {
                Some(max) => {
                    bad.push(self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, most, max as i64));
                    self.b.ins().imul_imm_u(most, step as i64)
                }
                // An invariant origin.
                None => self.b.ins().iconst(I64, 0),
            };
            let reach = Reach { origin, moved, down: span.step < 0, lowest, width };
            if !self.span_in_region(reach, region, (span.reads(), span.writes()), &mut bad) {
                self.b.ins().jump(fail, &[]);
                return;
            }
        }
        self.refuse_any(bad, pass, fail);
    }
}
