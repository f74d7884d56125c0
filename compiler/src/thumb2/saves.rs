//! Saves only the callee-saved registers the code writes.
//!
//! The entry pushes and the epilogue pops [`SAVED`] (r4..r8, r10, r11) and
//! lr/pc. A program that never writes some of them need not save them: a
//! short program that keeps everything in r4..r7 then takes a 16-bit PUSH
//! and POP. The set stays an even number of words with lr, so that sp
//! stays 8-aligned at every call without touching the frame size. A call
//! preserves r4..r11 (routines by the C ABI, local functions because their
//! bodies are in the same list and scanned too).

use core::ops::Range;

use super::assembler::Thumb2Assembler;
use super::insn::{MemOp, Reg, Thumb2Insn as I};
use super::regmap::SAVED;

/// A local function as [`Thumb2Assembler::drop_leaf_lr_saves`] sees it:
/// the eBPF pcs its code is tagged with, and the frame word its prologue
/// saves lr to.
#[derive(Clone, Debug)]
pub struct LocalFunction {
    /// Its eBPF pcs.
    pub pcs: Range<u32>,
    /// `sp` offset of its lr save word.
    pub lr_slot: i32,
}

impl Thumb2Assembler {
    /// Drops a local function's `STR lr, [sp, #slot]` and `LDR lr, [sp,
    /// #slot]` when none of its code (every instruction tagged with one of
    /// its pcs, out-of-line stubs included) calls or otherwise writes lr:
    /// such a leaf returns through the lr it was called with. Eight bytes
    /// and two memory accesses per call of a small helper function.
    pub fn drop_leaf_lr_saves(&mut self, functions: &[LocalFunction]) {
        for f in functions {
            let save = I::Mem { op: MemOp::Str, rt: Reg::LR, rn: Reg::SP, off: f.lr_slot };
            let reload = I::Mem { op: MemOp::Ldr, rt: Reg::LR, rn: Reg::SP, off: f.lr_slot };
            let writes_lr = self.tagged_insns().any(|(insn, tag)| {
                f.pcs.contains(&tag)
                    && insn != reload
                    && (matches!(insn, I::Bl { .. } | I::Blx { .. })
                        || insn.defs() & Reg::LR.bit() != 0)
            });
            if !writes_lr {
                self.retain_tagged(|insn, tag| {
                    !(f.pcs.contains(&tag) && (*insn == save || *insn == reload))
                });
            }
        }
    }

    /// Narrows the entry's `PUSH {SAVED, lr}` and the epilogue's
    /// `POP {SAVED, pc}` to the registers of [`SAVED`] that some other
    /// instruction writes (plus one more if needed for an even count).
    /// Returns the bytes the push takes.
    pub fn trim_saved_registers(&mut self) -> u32 {
        let entry = SAVED | Reg::LR.bit();
        let exit = SAVED | Reg::PC.bit();
        let mut written = 0u16;
        for insn in self.insns() {
            if !matches!(insn, I::Push { regs } if regs == entry)
                && !matches!(insn, I::Pop { regs } if regs == exit)
            {
                written |= insn.defs();
            }
        }
        let mut saved = written & SAVED;
        // lr makes one word: an odd count of saved registers keeps sp
        // 8-aligned. Pad with the lowest unsaved register of SAVED.
        if saved.count_ones().is_multiple_of(2) {
            let spare = (4..12u16).map(|r| 1u16 << r).find(|b| SAVED & b != 0 && saved & b == 0);
            saved |= spare.unwrap_or(0);
        }
        self.map_insns(|insn| match *insn {
            I::Push { regs } if regs == entry => I::Push { regs: saved | Reg::LR.bit() },
            I::Pop { regs } if regs == exit => I::Pop { regs: saved | Reg::PC.bit() },
            other => other,
        });
        4 * (saved.count_ones() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thumb2::insn::{Label, SetFlags};

    fn program(writes: &[Reg]) -> Thumb2Assembler {
        let mut a = Thumb2Assembler::new();
        a.emit(I::Push { regs: SAVED | Reg::LR.bit() });
        for &rd in writes {
            a.emit(I::MovImm { s: SetFlags::Keep, rd, imm: 1 });
        }
        a.emit(I::Pop { regs: SAVED | Reg::PC.bit() });
        a
    }

    #[test]
    fn only_written_registers_are_saved_in_an_even_count() {
        let mut a = program(&[Reg::R0, Reg::R5, Reg::R6, Reg::R7]);
        assert_eq!(a.trim_saved_registers(), 16);
        let lr = Reg::LR.bit();
        let regs = Reg::R5.bit() | Reg::R6.bit() | Reg::R7.bit();
        assert_eq!(a.insns().first(), Some(&I::Push { regs: regs | lr }));
        // Two written: padded with r4 to three, four words with lr.
        let mut a = program(&[Reg::R8, Reg::R11]);
        assert_eq!(a.trim_saved_registers(), 16);
        let regs = Reg::R4.bit() | Reg::R8.bit() | Reg::R11.bit();
        assert_eq!(a.insns().last(), Some(&I::Pop { regs: regs | Reg::PC.bit() }));
        // Nothing written: one padding register.
        let mut a = program(&[]);
        assert_eq!(a.trim_saved_registers(), 8);
    }

    #[test]
    fn loads_and_pops_count_as_writes() {
        let mut a = program(&[]);
        a.emit(I::Mem { op: MemOp::Ldrb, rt: Reg::R10, rn: Reg::R0, off: 0 });
        a.emit(I::Pop { regs: Reg::R4.bit() | Reg::R0.bit() });
        a.trim_saved_registers();
        let want = Reg::R4.bit() | Reg::R10.bit() | Reg::R5.bit() | Reg::LR.bit();
        assert_eq!(a.insns().first(), Some(&I::Push { regs: want }));
    }

    #[test]
    fn a_leaf_function_keeps_lr_where_it_was_called_with() {
        // A function at pcs 10..14 saving lr at [sp, #40]; its body either
        // only computes, or also calls (a check, a budget borrow), or uses
        // lr as a temporary, possibly from an out-of-line stub placed after
        // code of another function.
        let save = I::Mem { op: MemOp::Str, rt: Reg::LR, rn: Reg::SP, off: 40 };
        let reload = I::Mem { op: MemOp::Ldr, rt: Reg::LR, rn: Reg::SP, off: 40 };
        let add = I::MovImm { s: SetFlags::Any, rd: Reg::R4, imm: 3 };
        let build = |extra: Option<I>| {
            let mut a = Thumb2Assembler::new();
            let l = a.label();
            a.set_tag(10);
            a.emit(save);
            a.emit(add);
            a.set_tag(13);
            a.emit(reload);
            a.emit(I::Bx { rm: Reg::LR });
            a.set_tag(20);
            a.emit(add);
            a.bind(l);
            if let Some(insn) = extra {
                a.set_tag(11);
                a.emit(insn);
            }
            a.drop_leaf_lr_saves(&[LocalFunction { pcs: 10..14, lr_slot: 40 }]);
            a.insns()
        };
        let leaf = build(None);
        assert!(!leaf.contains(&save) && !leaf.contains(&reload), "{leaf:?}");
        let umull = I::Umull { rdlo: Reg::R12, rdhi: Reg::LR, rn: Reg::R0, rm: Reg::R1 };
        for extra in [I::Bl { target: Label(0) }, I::Blx { rm: Reg::R12 }, umull] {
            let kept = build(Some(extra));
            assert!(kept.contains(&save) && kept.contains(&reload), "{extra:?}: {kept:?}");
        }
    }
}
