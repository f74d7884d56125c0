//! Drops reloads of frame words a register still holds.
//!
//! Register halves that live in frame slots are loaded into a temporary at
//! each use and stored back at each definition, one eBPF instruction at a
//! time, so straight-line code often stores a slot from `r0` and loads
//! the same slot into `r0` again a few instructions later. This pass walks
//! the instruction list, tracking which registers hold which
//! `[sp, #off]` word, and removes a `LDR rt, [sp, #off]` when `rt` already
//! holds that word.
//!
//! What a register holds is forgotten at every label (another path may
//! arrive there), when the register is written, when the word is stored
//! from another register, and at anything that moves `sp` or calls out
//! (callees write frame words: local calls save registers there). Stores
//! through any base but `sp` cannot reach the frame's slots: they go to
//! container regions, which exist before the call that creates this frame
//! below them on the machine stack.

use super::assembler::Thumb2Assembler;
use super::insn::{Label, MemOp, Reg, Thumb2Insn as I};

/// A frame word: its offset from `sp`.
type Slot = i32;

/// The frame words each core register (r0..r12, lr) is known to equal:
/// two at most (a word loaded, then stored to another slot, is in both).
#[derive(Clone, Copy, Default)]
struct Known([[Option<Slot>; 2]; 15]);

impl Known {
    fn forget(&mut self, r: Reg) {
        if let Some(k) = self.0.get_mut(r.num() as usize) {
            *k = [None; 2];
        }
    }

    fn forget_slot(&mut self, lo: Slot, len: i32) {
        for k in self.0.iter_mut().flatten() {
            if k.is_some_and(|s| s < lo + len && lo < s + 4) {
                *k = None;
            }
        }
    }

    fn holds(&self, r: Reg, slot: Slot) -> bool {
        self.0.get(r.num() as usize).is_some_and(|k| k.contains(&Some(slot)))
    }

    /// `r` was loaded from `slot`: it equals that word alone.
    fn loaded(&mut self, r: Reg, slot: Slot) {
        if let Some(k) = self.0.get_mut(r.num() as usize) {
            *k = [Some(slot), None];
        }
    }

    /// `r` was stored to `slot`: it equals that word too.
    fn stored(&mut self, r: Reg, slot: Slot) {
        if let Some(k) = self.0.get_mut(r.num() as usize) {
            match k {
                [Some(_), None] => k[1] = Some(slot),
                _ => *k = [Some(slot), k[0]],
            }
        }
    }
}

/// The registers `insn` writes, or `None` if it may change any register
/// or frame word (calls, `sp` changes, returns).
fn written(insn: &I) -> Option<Vec<Reg>> {
    Some(match *insn {
        I::DpReg { rd, .. }
        | I::DpImm { rd, .. }
        | I::AddW { rd, .. }
        | I::Mov { rd, .. }
        | I::MovImm { rd, .. }
        | I::MvnImm { rd, .. }
        | I::MvnReg { rd, .. }
        | I::Movw { rd, .. }
        | I::Movt { rd, .. }
        | I::ShiftImm { rd, .. }
        | I::ShiftReg { rd, .. }
        | I::Mul { rd, .. }
        | I::Mla { rd, .. }
        | I::Div { rd, .. }
        | I::Unary { rd, .. }
        | I::AddSpImm { rd, .. }
        | I::Strex { rd, .. } => vec![rd],
        I::Umull { rdlo, rdhi, .. } => vec![rdlo, rdhi],
        I::Ldrex { rt, .. } => vec![rt],
        I::CmpReg { .. } | I::CmpImm { .. } | I::Clrex | I::B { .. } | I::Cbz { .. } => {
            vec![]
        }
        I::Push { .. }
        | I::Pop { .. }
        | I::SpAdjust { .. }
        | I::Bl { .. }
        | I::Blx { .. }
        | I::Bx { .. }
        | I::Mem { .. }
        | I::MemReg { .. } => return None,
    })
}

fn is_load(op: MemOp) -> bool {
    !matches!(op, MemOp::Str | MemOp::Strh | MemOp::Strb)
}

impl Thumb2Assembler {
    /// Removes every `LDR rt, [sp, #off]` whose `rt` is known to hold that
    /// word already (see the module documentation); `entries` are the
    /// labels code outside jumps to.
    pub fn drop_frame_reloads(&mut self, entries: &[Label]) {
        let mut known = Known::default();
        self.retain_insns(entries, |insn, bound| {
            if bound {
                known = Known::default();
            }
            match *insn {
                I::Mem { op: MemOp::Ldr, rt, rn: Reg::SP, off } if known.holds(rt, off) => {
                    return false;
                }
                I::Mem { op: MemOp::Ldr, rt, rn: Reg::SP, off } => known.loaded(rt, off),
                I::Mem { op, rt, rn: Reg::SP, off } if !is_load(op) => {
                    known.forget_slot(off, op.bytes() as i32);
                    if op == MemOp::Str {
                        known.stored(rt, off);
                    }
                }
                I::Mem { op, rt, rn, .. } if rn != Reg::SP && rt != Reg::SP => {
                    if is_load(op) {
                        known.forget(rt);
                    }
                }
                I::MemReg { op, rt, rn, rm } if rn != Reg::SP && rm != Reg::SP && rt != Reg::SP => {
                    if is_load(op) {
                        known.forget(rt);
                    }
                }
                _ => match written(insn) {
                    Some(regs) => regs.into_iter().for_each(|r| known.forget(r)),
                    None => known = Known::default(),
                },
            }
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thumb2::insn::{DpOp, SetFlags};

    fn ldr(rt: Reg, off: i32) -> I {
        I::Mem { op: MemOp::Ldr, rt, rn: Reg::SP, off }
    }

    fn str(rt: Reg, off: i32) -> I {
        I::Mem { op: MemOp::Str, rt, rn: Reg::SP, off }
    }

    fn run(f: impl FnOnce(&mut Thumb2Assembler)) -> Vec<I> {
        let mut asm = Thumb2Assembler::new();
        f(&mut asm);
        asm.drop_frame_reloads(&[]);
        asm.insns()
    }

    #[test]
    fn a_word_stored_or_loaded_is_not_loaded_again() {
        let out = run(|a| {
            a.emit(ldr(Reg::R0, 20));
            a.emit(str(Reg::R0, 36));
            a.emit(ldr(Reg::R0, 20));
            a.emit(ldr(Reg::R0, 36));
        });
        assert_eq!(out, vec![ldr(Reg::R0, 20), str(Reg::R0, 36)]);
    }

    #[test]
    fn labels_writes_other_stores_and_calls_end_what_is_known() {
        let add = I::DpImm { op: DpOp::Add, s: SetFlags::Any, rd: Reg::R0, rn: Reg::R0, imm: 1 };
        type Emit = Box<dyn Fn(&mut Thumb2Assembler)>;
        let cases: Vec<(&str, Emit)> = vec![
            (
                "label",
                Box::new(|a| {
                    let l = a.label();
                    a.bind(l);
                    a.emit(I::B { cond: None, target: l });
                }),
            ),
            ("write", Box::new(move |a| a.emit(add))),
            ("other store", Box::new(|a| a.emit(str(Reg::R1, 20)))),
            (
                "byte store",
                Box::new(|a| a.emit(I::Mem { op: MemOp::Strb, rt: Reg::R1, rn: Reg::SP, off: 23 })),
            ),
            ("call", Box::new(|a| a.emit(I::Blx { rm: Reg::R12 }))),
            ("sp moves", Box::new(|a| a.emit(I::SpAdjust { sub: true, imm: 8 }))),
            (
                "load into r0",
                Box::new(|a| a.emit(I::Mem { op: MemOp::Ldrb, rt: Reg::R0, rn: Reg::R5, off: 0 })),
            ),
        ];
        for (what, between) in cases {
            let out = run(|a| {
                a.emit(ldr(Reg::R0, 20));
                between(a);
                a.emit(ldr(Reg::R0, 20));
            });
            assert_eq!(out.last(), Some(&ldr(Reg::R0, 20)), "{what}: the reload must stay");
        }
    }

    #[test]
    fn unrelated_instructions_keep_what_is_known() {
        let out = run(|a| {
            a.emit(str(Reg::R0, 20));
            a.emit(I::Mov { rd: Reg::R7, rm: Reg::R5 });
            a.emit(I::Mem { op: MemOp::Strb, rt: Reg::R1, rn: Reg::R5, off: 0 });
            a.emit(str(Reg::R1, 24));
            a.emit(I::CmpImm { kind: crate::thumb2::insn::Compare::Cmp, rn: Reg::R0, imm: 3 });
            a.emit(ldr(Reg::R0, 20));
        });
        assert_eq!(out.len(), 5, "{out:?}");
    }

    #[test]
    fn labels_no_branch_targets_are_no_joins() {
        let out = run(|a| {
            a.emit(ldr(Reg::R0, 20));
            let l = a.label();
            a.bind(l);
            a.emit(ldr(Reg::R0, 20));
        });
        assert_eq!(out, vec![ldr(Reg::R0, 20)]);
        let mut asm = Thumb2Assembler::new();
        asm.emit(ldr(Reg::R0, 20));
        let entry = asm.label();
        asm.bind(entry);
        asm.emit(ldr(Reg::R0, 20));
        asm.drop_frame_reloads(&[entry]);
        assert_eq!(asm.insns().len(), 2, "an entry is a join");
    }
}
