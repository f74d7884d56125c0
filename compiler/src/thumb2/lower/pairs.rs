//! Halfwords a program assembles from two byte loads
//! ([`crate::analysis::byte_pairs`]) as one LDRH (and a REV16 for
//! network order). ARMv7-M loads a
//! halfword from any address while CCR.UNALIGN_TRP is clear, which the
//! section then names in its needed features, as for `ldxh`.

use femtoc_isa::insn::MemSize;
use femtoc_isa::FunctionInfo;
use femtoc_runtime::engine::Features;

use super::super::insn::{MemOp, Reg, Thumb2Insn as I, UnOp};
use super::{EReg, Lowerer};

use Reg as R;

impl Lowerer<'_> {
    /// Lowers the byte pair that starts at `pc`, if there is one and its
    /// second byte needs no check of its own (the first one's check covers
    /// both, or neither is checked here); returns the pc of its last
    /// instruction.
    pub(super) fn halfword_pair(&mut self, pc: usize, func: &FunctionInfo) -> Option<usize> {
        let pair = self.pairs.get(&pc).copied()?;
        // The halfword's offset must encode wherever the bytes' did.
        if !(-254..=4087).contains(&pair.off) {
            return None;
        }
        if !self.check_covered(pair.second, func, pair.base, pair.offset_of(pair.second)) {
            return None;
        }
        self.cur_pc = pc;
        let first_off = pair.offset_of(pc);
        let (base, disp) = self.address(pc, func, pair.base, first_off, MemSize::B, false);
        self.features |= Features::UNALIGNED_ACCESS;
        let disp = disp + i32::from(pair.off) - i32::from(first_off);
        // Each register is written as its own instruction writes it: the
        // halfword where the `or` defines it, the low byte at its load.
        let last = pair.end() - 1;
        self.cur_pc = last;
        let h = self.dlo(pair.high, R::R0);
        self.e(I::Mem { op: MemOp::Ldrh, rt: h, rn: base, off: disp });
        if pair.big_endian {
            // The upper halfword is zero, and stays zero.
            self.e(I::Unary { op: UnOp::Rev16, rd: h, rm: h });
        }
        self.put_lo(pair.high, h);
        self.zero_hi(pair.high);
        if !pair.low_dead {
            self.cur_pc = if pair.high_at == pair.first { pair.second } else { pair.first };
            let l = self.dlo(pair.low, R::R1);
            self.e(I::Unary { op: UnOp::Uxtb, rd: l, rm: h });
            self.put_lo(pair.low, l);
            self.zero_hi(pair.low);
        }
        self.cur_pc = last;
        if self.zero_flag_of.is_some_and(|r| r == pair.high || r == pair.low) {
            self.zero_flag_of = None;
        }
        Some(last)
    }

    /// True if the byte load at `pc` gets no check of its own: in the
    /// frame or the context, proven, checked before its loop, or covered
    /// by an earlier load of its group (mirrors [`Lowerer::address`]).
    fn check_covered(&self, pc: usize, func: &FunctionInfo, base: EReg, off: i16) -> bool {
        Self::in_frame(func, base, off, MemSize::B)
            || self.in_context(base, off, MemSize::B)
            || self.unchecked_sites.contains(&pc)
            || (self.proven_data.contains(&pc) && (-255..=4087).contains(&off))
            || self.covered.contains(&pc)
    }
}
