//! Saves only the callee-saved registers the code writes.
//!
//! The entry pushes and the epilogue pops [`SAVED`] (r4..r8, r10, r11) and
//! lr/pc. A program that never writes some of them need not save them: a
//! short program that keeps everything in r4..r7 then takes a 16-bit PUSH
//! and POP. The set stays an even number of words with lr, so that sp
//! stays 8-aligned at every call without touching the frame size. A call
//! preserves r4..r11 (routines by the C ABI, local functions because their
//! bodies are in the same list and scanned too).

use super::assembler::Thumb2Assembler;
use super::insn::{Reg, Thumb2Insn as I};
use super::regmap::SAVED;

impl Thumb2Assembler {
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
    use crate::thumb2::insn::{MemOp, SetFlags};

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
}
