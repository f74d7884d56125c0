//! Control-flow snippets: helper and local calls, forward conditional
//! blocks, early exits, and loops (counted, or bounded only by the budget).

use femtoc_isa::{AluOp, Insn, JmpCond, Reg, Source, Width};
use femtoc_runtime::helpers::testing::UNWIND;

use super::{FnGen, ARGS, CALLEE_SAVED, CTX_LEN_SLOT, CTX_PTR_SLOT};
use crate::differential::features::Feature;
use crate::engine::{MIX, PEEK};

const CONDS: [JmpCond; 11] = [
    JmpCond::Eq,
    JmpCond::Gt,
    JmpCond::Ge,
    JmpCond::Set,
    JmpCond::Ne,
    JmpCond::Sgt,
    JmpCond::Sge,
    JmpCond::Lt,
    JmpCond::Le,
    JmpCond::Slt,
    JmpCond::Sle,
];
impl FnGen<'_> {
    pub(super) fn arg_value(&mut self, r: Reg) {
        if self.rng.chance(40) {
            let src = self.any();
            self.emit(Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: r,
                src: Source::Reg(src),
            });
        } else {
            self.set(r);
        }
    }

    /// Sets r1..r5 again after a call clobbered them.
    pub(super) fn reset_args(&mut self) {
        for r in ARGS {
            let src = self.rng.pick(&[Reg::R0, Reg::R6, Reg::R7, Reg::R8, Reg::R9], Reg::R0);
            if self.rng.chance(50) {
                self.emit(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: r,
                    src: Source::Reg(src),
                });
            } else {
                let imm = self.imm();
                self.emit(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: r,
                    src: Source::Imm(imm),
                });
            }
        }
    }

    pub(super) fn helper_call(&mut self) {
        for r in [Reg::R2, Reg::R3, Reg::R4, Reg::R5] {
            self.arg_value(r);
        }
        let id = self.rng.pick(&[UNWIND, UNWIND, MIX, PEEK], UNWIND);
        match id {
            UNWIND if self.rng.chance(8) => {
                self.feature(Feature::HelperStop);
                self.emit(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: Reg::R1,
                    src: Source::Imm(0),
                });
            }
            UNWIND => {
                self.feature(Feature::HelperUnwind);
                self.arg_value(Reg::R1);
            }
            MIX => {
                self.feature(Feature::HelperMix);
                self.arg_value(Reg::R1);
            }
            _ => {
                self.feature(Feature::HelperPeek);
                // Mostly valid pointers: a failing peek ends the run.
                match self.rng.below(8) {
                    0..=3 => {
                        let lo = self.rng.range(-self.frame, -8);
                        self.emit(Insn::Alu {
                            width: Width::W64,
                            op: AluOp::Mov,
                            dst: Reg::R1,
                            src: Source::Reg(Reg::R10),
                        });
                        self.emit(Insn::Alu {
                            width: Width::W64,
                            op: AluOp::Add,
                            dst: Reg::R1,
                            src: Source::Imm(lo as i32),
                        });
                    }
                    4..=6 => {
                        let len = self.env.ctx_len();
                        let aim = self.aim();
                        let start = self.aim_offset(aim, len, 8);
                        self.load_slot(Reg::R1, CTX_PTR_SLOT);
                        self.add_const(Reg::R1, Reg::R1, start);
                    }
                    _ => self.arg_value(Reg::R1),
                }
            }
        }
        self.emit(Insn::Call { id });
        self.reset_args();
    }

    pub(super) fn local_call(&mut self) {
        let callee = self.rng.pick(&self.callees.clone(), 0);
        self.feature(Feature::LocalCall);
        if !self.is_entry {
            self.feature(Feature::NestedLocalCall);
        }
        self.load_slot(Reg::R1, CTX_PTR_SLOT);
        self.load_slot(Reg::R2, CTX_LEN_SLOT);
        for r in [Reg::R3, Reg::R4, Reg::R5] {
            self.arg_value(r);
        }
        let pc = self.emit(Insn::CallLocal { off: 0 });
        self.calls.push((pc, callee));
        if self.rng.chance(25) {
            // r1..r5 are dead to the verifier after the call, yet a helper
            // still receives what the callee left in them.
            self.feature(Feature::HelperArgsFromCallee);
            self.pass_on_to_mix();
        }
        self.reset_args();
    }

    /// Calls the mix helper with r1 set and r2..r5 as they are.
    pub(super) fn pass_on_to_mix(&mut self) {
        let imm = self.imm();
        self.emit(Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R1,
            src: Source::Imm(imm),
        });
        self.emit(Insn::Call { id: MIX });
    }

    pub(super) fn cond_source(&mut self) -> Source {
        if self.rng.chance(50) {
            Source::Reg(self.any())
        } else {
            Source::Imm(self.imm())
        }
    }

    pub(super) fn forward_if(&mut self, depth: u32) {
        let (width, cond, dst, src) =
            (self.width(), self.rng.pick(&CONDS, JmpCond::Eq), self.any(), self.cond_source());
        self.feature(Feature::ForwardJump);
        let jump = self.emit(Insn::Jmp { width, cond, dst, src, off: 0 });
        let n = self.rng.range(1, 4) as u32;
        self.block(n, depth + 1);
        if self.rng.chance(40) {
            // if-else: the then-part jumps over the else-part.
            let long = self.rng.chance(30);
            let skip = self.emit(if long { Insn::JaLong { off: 0 } } else { Insn::Ja { off: 0 } });
            let else_start = self.b.pc();
            self.b.patch_off(jump, else_start);
            let n = self.rng.range(1, 3) as u32;
            self.block(n, depth + 1);
            let end = self.b.pc();
            if long {
                self.b.patch_imm(skip, 0, end);
            } else {
                self.b.patch_off(skip, end);
            }
        } else {
            let end = self.b.pc();
            self.b.patch_off(jump, end);
        }
    }

    pub(super) fn early_exit(&mut self) {
        let (width, cond, dst, src) =
            (self.width(), self.rng.pick(&CONDS, JmpCond::Eq), self.any(), self.cond_source());
        self.feature(Feature::EarlyExit);
        self.emit(Insn::Jmp { width, cond, dst, src, off: 1 });
        self.emit(Insn::Exit);
    }

    pub(super) fn loop_(&mut self, depth: u32) {
        let free: Vec<Reg> =
            CALLEE_SAVED.into_iter().filter(|r| self.reserved & r.bit() == 0).collect();
        if free.is_empty() || self.loop_depth >= 2 {
            return self.alu();
        }
        let counter = self.rng.pick(&free, Reg::R6);
        let unbounded = self.env.budget.is_some() && self.rng.chance(30);
        let n = self.rng.range(1, 4).min(16 / self.loop_weight).max(1);
        if self.loop_depth > 0 {
            self.feature(Feature::NestedLoop);
        }
        self.reserved |= counter.bit();
        self.loop_depth += 1;
        let weight = self.loop_weight;
        self.loop_weight *= n;
        let up = self.rng.chance(50);
        if !unbounded {
            let start = if up { 0 } else { n as i32 };
            let width = self.width();
            self.emit(Insn::Alu { width, op: AluOp::Mov, dst: counter, src: Source::Imm(start) });
        }
        let top = self.b.pc();
        let body = self.rng.range(1, 5) as u32;
        self.block(body, depth + 1);
        let width = self.width();
        let n32 = n as i32;
        let back = if unbounded {
            self.feature(Feature::UnboundedLoop);
            match self.rng.below(3) {
                0 => Some(self.emit(Insn::Ja { off: 0 })),
                1 => {
                    // The 32-bit form carries its offset in the immediate.
                    let at = self.emit(Insn::JaLong { off: 0 });
                    self.b.patch_imm(at, 0, top);
                    None
                }
                _ => {
                    let (cond, dst, src) =
                        (self.rng.pick(&CONDS, JmpCond::Eq), self.any(), self.cond_source());
                    Some(self.emit(Insn::Jmp { width, cond, dst, src, off: 0 }))
                }
            }
        } else {
            self.feature(Feature::CountedLoop);
            let (step, cond, bound) = if up {
                self.rng.pick(
                    &[
                        (1, JmpCond::Lt, n32),
                        (1, JmpCond::Le, n32 - 1),
                        (1, JmpCond::Slt, n32),
                        (1, JmpCond::Sle, n32 - 1),
                        (1, JmpCond::Ne, n32),
                        // Runs the body exactly twice.
                        (1, JmpCond::Eq, 1),
                    ],
                    (1, JmpCond::Lt, n32),
                )
            } else {
                self.rng.pick(
                    &[
                        (-1, JmpCond::Gt, 0),
                        (-1, JmpCond::Ge, 1),
                        (-1, JmpCond::Sgt, 0),
                        (-1, JmpCond::Sge, 1),
                        (-1, JmpCond::Ne, 0),
                        (-1, JmpCond::Set, -1),
                    ],
                    (-1, JmpCond::Gt, 0),
                )
            };
            let step_width = self.width();
            self.emit(Insn::Alu {
                width: step_width,
                op: AluOp::Add,
                dst: counter,
                src: Source::Imm(step),
            });
            Some(self.emit(Insn::Jmp {
                width,
                cond,
                dst: counter,
                src: Source::Imm(bound),
                off: 0,
            }))
        };
        if let Some(back) = back {
            self.b.patch_off(back, top);
        }
        self.reserved &= !counter.bit();
        self.loop_depth -= 1;
        self.loop_weight = weight;
    }
}
