//! Drops reloads of frame words a register still holds, and stores to
//! frame words that a later store overwrites before any read.
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

    /// A core register other than `not` that holds `slot`.
    fn holder(&self, slot: Slot, not: Reg) -> Option<Reg> {
        (0..15u8)
            .filter_map(Reg::new)
            .find(|&r| r != not && r != Reg::SP && r != Reg::PC && self.holds(r, slot))
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

/// True if `insn` may change any register or frame word: calls (callees
/// write frame words), `sp` changes, returns, and the memory accesses the
/// pass does not follow.
fn clobbers_all(insn: &I) -> bool {
    matches!(
        insn,
        I::Push { .. }
            | I::Pop { .. }
            | I::SpAdjust { .. }
            | I::Bl { .. }
            | I::Blx { .. }
            | I::Bx { .. }
            | I::Mem { .. }
            | I::MemReg { .. }
    )
}

fn is_load(op: MemOp) -> bool {
    !op.is_store()
}

/// Updates `known` for `insn`.
fn track(known: &mut Known, insn: &I) {
    match *insn {
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
        _ if clobbers_all(insn) => *known = Known::default(),
        _ => {
            let defs = insn.defs();
            (0..15u8)
                .filter(|n| defs & (1 << n) != 0)
                .filter_map(Reg::new)
                .for_each(|r| known.forget(r));
        }
    }
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
            if let I::Mem { op: MemOp::Ldr, rt, rn: Reg::SP, off } = *insn {
                if known.holds(rt, off) {
                    return false;
                }
            }
            track(&mut known, insn);
            true
        });
    }

    /// Turns every `LDR rt, [sp, #off]` whose word another register still
    /// holds into a move from that register: never larger (two bytes, where
    /// a wide load takes four), and the word is then not read, so a store
    /// of it that a later store overwrites becomes dead (see
    /// [`Self::drop_dead_frame_stores`]). Run after
    /// [`Self::drop_frame_reloads`], with the same `entries`.
    pub fn forward_frame_loads(&mut self, entries: &[Label]) {
        let mut known = Known::default();
        let mut moves: Vec<Option<I>> = Vec::new();
        self.retain_insns(entries, |insn, bound| {
            if bound {
                known = Known::default();
            }
            let forward = match *insn {
                I::Mem { op: MemOp::Ldr, rt, rn: Reg::SP, off } if rt != Reg::PC => {
                    known.holder(off, rt).map(|rm| I::Mov { rd: rt, rm })
                }
                _ => None,
            };
            track(&mut known, insn);
            moves.push(forward);
            true
        });
        let mut i = 0usize;
        self.map_insns(|insn| {
            let out = moves.get(i).copied().flatten().unwrap_or(*insn);
            i += 1;
            out
        });
    }

    /// Removes every `STR rt, [sp, #off]` that a later `STR` to the same
    /// word overwrites in straight-line code before anything could read it:
    /// no load from that word, no label, branch, call or `sp` change in
    /// between (a branch's target or a callee may read the frame).
    pub fn drop_dead_frame_stores(&mut self) {
        let mut dead = vec![false; self.insns().len()];
        // Word stores not read yet: (offset, index).
        let mut pending: Vec<(Slot, usize)> = Vec::new();
        let mut i = 0usize;
        // A first walk only marks: a store is known dead once a later one
        // is seen.
        self.retain_insns(&[], |insn, joined| {
            if joined {
                pending.clear();
            }
            match *insn {
                I::Mem { op: MemOp::Str, rn: Reg::SP, off, rt } if rt != Reg::SP => {
                    if let Some(k) = pending.iter().position(|&(o, _)| o == off) {
                        let (_, earlier) = pending.swap_remove(k);
                        if let Some(d) = dead.get_mut(earlier) {
                            *d = true;
                        }
                    }
                    pending.push((off, i));
                }
                I::Mem { op, rn: Reg::SP, off, .. } => {
                    let len = op.bytes() as i32;
                    pending.retain(|&(o, _)| !(o < off + len && off < o + 4));
                }
                I::Mem { rn, rt, .. } if rn != Reg::SP && rt != Reg::SP => {}
                I::MemReg { rn, rm, rt, .. } if rn != Reg::SP && rm != Reg::SP && rt != Reg::SP => {
                }
                _ if insn.target().is_some() => pending.clear(),
                _ if clobbers_all(insn) => pending.clear(),
                _ => {}
            }
            i += 1;
            true
        });
        let mut j = 0usize;
        self.retain_items(|insn, _| {
            if insn.is_none() {
                return true;
            }
            let keep = !dead.get(j).copied().unwrap_or(false);
            j += 1;
            keep
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
    fn a_frame_store_overwritten_before_any_read_goes() {
        let shift = I::ShiftImm {
            kind: crate::thumb2::insn::Shift::Lsr,
            s: SetFlags::Any,
            rd: Reg::R0,
            rm: Reg::R0,
            amount: 2,
        };
        let mut asm = Thumb2Assembler::new();
        asm.emit(str(Reg::R0, 28));
        asm.emit(shift);
        asm.emit(str(Reg::R0, 28));
        asm.drop_dead_frame_stores();
        assert_eq!(asm.insns(), vec![shift, str(Reg::R0, 28)]);
        // A read, a byte read, a branch or a call in between keeps it.
        let l = Label(0);
        for between in [
            ldr(Reg::R1, 28),
            I::Mem { op: MemOp::Ldrb, rt: Reg::R1, rn: Reg::SP, off: 30 },
            I::B { cond: Some(crate::thumb2::insn::Cond::Eq), target: l },
            I::Bl { target: l },
        ] {
            let mut asm = Thumb2Assembler::new();
            let _ = asm.label();
            asm.emit(str(Reg::R0, 28));
            asm.emit(between);
            asm.emit(str(Reg::R0, 28));
            asm.bind(l);
            asm.drop_dead_frame_stores();
            assert_eq!(asm.insns().len(), 3, "{between:?}");
        }
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

    #[test]
    fn a_load_of_a_word_another_register_holds_becomes_a_move() {
        // umull's halves stored, then loaded into r0/r1 to be added to and
        // stored back: the loads become moves, and the first stores die.
        let add = I::DpImm { op: DpOp::Add, s: SetFlags::Any, rd: Reg::R0, rn: Reg::R0, imm: 1 };
        let mut asm = Thumb2Assembler::new();
        asm.emit(str(Reg::R12, 4));
        asm.emit(ldr(Reg::R0, 4));
        asm.emit(add);
        asm.emit(str(Reg::R0, 4));
        asm.drop_frame_reloads(&[]);
        asm.forward_frame_loads(&[]);
        asm.drop_dead_frame_stores();
        assert_eq!(asm.insns(), vec![I::Mov { rd: Reg::R0, rm: Reg::R12 }, add, str(Reg::R0, 4)]);
        // Once r12 changes it holds the word no more: the load stays.
        let mut asm = Thumb2Assembler::new();
        asm.emit(str(Reg::R12, 4));
        asm.emit(I::Mov { rd: Reg::R12, rm: Reg::R5 });
        asm.emit(ldr(Reg::R0, 4));
        asm.forward_frame_loads(&[]);
        assert_eq!(asm.insns().last(), Some(&ldr(Reg::R0, 4)));
    }
}
