//! Budget events: the counter's low word lives in a core register (or a
//! frame word) while the code runs, and each event decrements it; a borrow
//! from the high word in the context, or the stop when nothing is left,
//! goes through the shared `budget_borrow`. Built for size, events call a
//! shared `budget_tick` instead of carrying the decrement in line.

use femtoc_runtime::abi;

use super::super::insn::{Cond, DpOp, Label, Reg, Thumb2Insn as I};
use super::{Goal, Lowerer, Set};

use Reg as R;

impl Lowerer<'_> {
    /// One budget event at `pc` (a local call). The low word of
    /// `budget_left` lives in a core register or frame word while the code
    /// runs (the ABI allows a copy, stored back before every return and
    /// every helper call); a borrow from the high word, or the stop, goes
    /// through the shared `budget_borrow`. Its call sits in line behind a
    /// skip: eight bytes where a branch out to a stub and the stub took
    /// ten to twelve, for a taken branch per call.
    pub(super) fn budget(&mut self, pc: u32) {
        if self.tick_budget() {
            self.imm(R::R0, pc, true);
            self.e(I::Bl { target: self.shared.budget_tick });
            return;
        }
        let resume = self.asm.label();
        if self.budget_decrement() {
            self.e(I::B { cond: Some(Cond::Hs), target: resume });
            self.imm(R::R0, pc, true);
            self.e(I::Bl { target: self.shared.budget_borrow });
        }
        self.asm.bind(resume);
    }

    /// One budget event at `pc`, then a jump to `target` (a backward jump):
    /// the usual case, a counter with something left, is one taken branch;
    /// a borrow from the high word happens out of line.
    pub(super) fn budget_then_jump(&mut self, pc: u32, target: Label) {
        if self.tick_budget() {
            self.imm(R::R0, pc, true);
            self.e(I::Bl { target: self.shared.budget_tick });
            self.e(I::B { cond: None, target });
            return;
        }
        if self.budget_decrement() {
            // The borrow sits right after the jump: in line it costs no
            // extra branch to reach, and the taken jump stays the hot path.
            self.e(I::B { cond: Some(Cond::Hs), target });
            self.imm(R::R0, pc, true);
            self.e(I::Bl { target: self.shared.budget_borrow });
            self.e(I::B { cond: None, target });
        } else {
            self.e(I::B { cond: None, target });
        }
    }

    /// Decrements the budget copy's low word, leaving the borrow in the
    /// flags (carry clear: it went from 0 to all ones); false if the
    /// program has no budget events.
    pub(super) fn budget_decrement(&mut self) -> bool {
        match (self.map.budget, self.budget_slot) {
            (Some(b), _) => {
                self.e(I::DpImm { op: DpOp::Sub, s: Set, rd: b, rn: b, imm: 1 });
                true
            }
            (None, Some(slot)) => {
                self.ldr(R::R0, R::SP, slot);
                self.e(I::DpImm { op: DpOp::Sub, s: Set, rd: R::R0, rn: R::R0, imm: 1 });
                self.str(R::R0, R::SP, slot);
                true
            }
            (None, None) => false,
        }
    }

    /// True if budget events call the shared `budget_tick` (six bytes a
    /// site instead of twelve, for a call and return each time): in the
    /// size build, with the counter in a register, and at least two
    /// events to share the tick's six bytes.
    pub(super) fn tick_budget(&mut self) -> bool {
        let events = self.prog.back_edges.len() + self.local_calls;
        let tick = self.goal == Goal::Size && self.map.budget.is_some() && events >= 2;
        self.uses_budget_tick |= tick;
        tick
    }

    /// True if the program has budget events (and so a budget copy).
    pub(super) fn has_budget(&self) -> bool {
        self.map.budget.is_some() || self.budget_slot.is_some()
    }

    /// The register holding the budget copy's low word: its core register,
    /// or `tmp` loaded from the frame word (`sp` lower by `bias` bytes than
    /// while eBPF code runs); `None` without budget events.
    pub(super) fn budget_value(&mut self, tmp: Reg, bias: u32) -> Option<Reg> {
        match (self.map.budget, self.budget_slot) {
            (Some(b), _) => Some(b),
            (None, Some(slot)) => {
                self.ldr(tmp, R::SP, bias + slot);
                Some(tmp)
            }
            (None, None) => None,
        }
    }

    /// Stores the budget copy back into the context (in `ctx`), through
    /// `tmp`; keeps the flags.
    pub(super) fn budget_store(&mut self, ctx: Reg, tmp: Reg) {
        if let Some(v) = self.budget_value(tmp, 0) {
            self.str(v, ctx, abi::OFF_BUDGET_LEFT);
        }
    }
}
