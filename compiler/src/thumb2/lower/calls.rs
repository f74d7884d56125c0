//! Calls: helpers and runtime routines through the context, local calls
//! (a budget event, r10 moved below the caller's frame when the callee's
//! tree reads it), and a local function's entry and exit, which keep the
//! return address and the callee-saved registers it writes in a save
//! area fixed by its call level (`regmap`).

use femtoc_isa::Reg as EReg;
use femtoc_runtime::abi::{self, routine_offset};

use super::super::insn::{Compare, Cond, Reg, Thumb2Insn as I};
use super::super::regmap::Half;
use super::super::CompileError;
use super::{mem_error, Keep, Lowerer, CALLEE_SAVED};
use femtoc_isa::FunctionInfo;

use Reg as R;

impl Lowerer<'_> {
    /// Calls routine table entry `off` with the argument registers as set.
    /// (Only `helper_call` reads the budget, so the counter stays put.)
    pub(super) fn call_routine(&mut self, off: u32) {
        self.ctx(R::R12);
        self.ldr(R::R12, R::R12, abi::OFF_ROUTINES);
        self.ldr(R::R12, R::R12, off);
        self.e(I::Blx { rm: R::R12 });
    }

    pub(super) fn helper(&mut self, pc: usize, id: u32) {
        // The context in a low register keeps most stores narrow.
        self.ctx(R::R3);
        // One zero in r1 serves every argument kept as a low word.
        let mut zero_in_r1 = false;
        for i in 1..=5u8 {
            let r = EReg::new(i).unwrap_or(EReg::R1);
            let off = abi::OFF_HELPER_ARGS + 8 * u32::from(i - 1);
            let l = self.lo(r, R::R0);
            self.str(l, R::R3, off);
            let h = if self.low_use(r) {
                if !zero_in_r1 {
                    self.imm(R::R1, 0, true);
                    zero_in_r1 = true;
                }
                R::R1
            } else {
                let h = self.hi(r, R::R1);
                zero_in_r1 &= h != R::R1;
                h
            };
            self.str(h, R::R3, off + 4);
        }
        self.imm(R::R0, id, true);
        self.str(R::R0, R::R3, abi::OFF_HELPER_ID);
        self.imm(R::R0, pc as u32, true);
        self.str(R::R0, R::R3, abi::OFF_EXIT_PC);
        self.budget_store(R::R3, R::R0);
        self.mov(R::R0, R::R3);
        self.ldr(R::R12, R::R3, abi::OFF_ROUTINES);
        self.ldr(R::R12, R::R12, routine_offset::HELPER_CALL);
        self.e(I::Blx { rm: R::R12 });
        // CONTINUE is 0; anything else is the run's status.
        self.uses_epilogue = true;
        self.e(I::CmpImm { kind: Compare::Cmp, rn: R::R0, imm: 0 });
        self.e(I::B { cond: Some(Cond::Ne), target: self.shared.epilogue });
        self.ctx(R::R3);
        let (l, h) = (self.dlo(EReg::R0, R::R0), self.dhi(EReg::R0, R::R1));
        self.ldr(l, R::R3, abi::OFF_R0);
        self.ldr(h, R::R3, abi::OFF_R0 + 4);
        self.store64(EReg::R0, l, h);
    }

    pub(super) fn local_call(
        &mut self,
        pc: usize,
        target: i64,
        func: &FunctionInfo,
    ) -> Result<(), CompileError> {
        let t = usize::try_from(target).map_err(|_| mem_error(pc, "call target"))?;
        let label = self.fn_label(t)?;
        self.budget(pc as u32);
        // The callee's r10 is below this function's frame, unless nothing
        // in the callee's call tree reads r10 and so can see where it is.
        let callee = self.prog.functions.iter().position(|f| f.start as usize == t);
        let seen = callee.is_none_or(|f| self.frame_readers.get(f).copied().unwrap_or(true));
        let frame = if seen { func.frame_size as i32 } else { 0 };
        if frame != 0 {
            self.add_imm(R::R11, R::R11, -frame, Keep);
        }
        self.e(I::Bl { target: label });
        if frame != 0 {
            self.add_imm(R::R11, R::R11, frame, Keep);
        }
        Ok(())
    }

    /// A callee's entry: the return address and the callee-saved
    /// registers it writes go to its save area.
    pub(super) fn callee_prologue(&mut self, start: u32) {
        let Some(c) = self.callees.get(&start) else { return };
        let (area, saved) = (c.area, c.saved);
        self.str(R::LR, R::SP, area + 32);
        self.callee_saved(area, saved, true);
    }

    /// Copies the halves of the registers in `saved` to (`save`) or back
    /// from the save area at `area`.
    pub(super) fn callee_saved(&mut self, area: u32, saved: u16, save: bool) {
        for (i, r) in CALLEE_SAVED.into_iter().enumerate() {
            if saved & r.bit() == 0 {
                continue;
            }
            let loc = self.map.loc(r);
            let at = area + 8 * i as u32;
            for (half, off) in [(Some(loc.lo), at), (loc.hi, at + 4)] {
                match (half, save) {
                    (Some(Half::Reg(x)), true) => self.str(x, R::SP, off),
                    (Some(Half::Reg(x)), false) => self.ldr(x, R::SP, off),
                    (Some(Half::Slot(slot)), true) => {
                        self.ldr(R::R0, R::SP, slot);
                        self.str(R::R0, R::SP, off);
                    }
                    (Some(Half::Slot(slot)), false) => {
                        self.ldr(R::R0, R::SP, off);
                        self.str(R::R0, R::SP, slot);
                    }
                    (None, _) => {}
                }
            }
        }
    }

    /// A callee's exit: the first one restores what the prologue saved and
    /// returns; later ones branch to it.
    pub(super) fn callee_exit(&mut self, start: u32) {
        let Some(c) = self.callees.get_mut(&start) else { return };
        let (area, saved, exit) = (c.area, c.saved, c.exit);
        if c.exit_bound {
            self.e(I::B { cond: None, target: exit });
            return;
        }
        c.exit_bound = true;
        self.asm.bind(exit);
        self.callee_saved(area, saved, false);
        self.ldr(R::LR, R::SP, area + 32);
        self.e(I::Bx { rm: R::LR });
    }
}
