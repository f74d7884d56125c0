//! Halfwords and words a program assembles from byte loads
//! ([`crate::analysis::byte_pairs`]) as one LDRH or LDR (and a REV16 or
//! REV for network order). ARMv7-M loads a halfword or word from any
//! address while CCR.UNALIGN_TRP is clear, which the section then names in
//! its needed features, as for `ldxh` and `ldxw`.

use femtoc_isa::insn::MemSize;
use femtoc_isa::FunctionInfo;
use femtoc_runtime::engine::Features;

use super::super::insn::{DpOp, MemOp, Reg, Thumb2Insn as I, UnOp};
use super::{EReg, Keep, Lowerer};

use Reg as R;

impl Lowerer<'_> {
    /// Lowers the run of byte loads that starts at `pc` and assembles a
    /// halfword or word, if there is one and its later bytes need no check
    /// of their own (the first one's check covers them all, or none is
    /// checked here); returns the pc of its last instruction.
    pub(super) fn assembled_load(&mut self, pc: usize, func: &FunctionInfo) -> Option<usize> {
        let pair = self.pairs.get(&pc).copied()?;
        // The load's offset must encode wherever the bytes' did.
        if !(-254..=4087).contains(&pair.off) {
            return None;
        }
        if !pair.later_loads().iter().all(|&(at, off)| self.check_covered(at, func, pair.base, off))
        {
            return None;
        }
        self.cur_pc = pc;
        let first_off = pair.offset_of(pc);
        let (base, disp) = self.address(pc, func, pair.base, first_off, MemSize::B, false);
        self.features |= Features::UNALIGNED_ACCESS;
        let disp = disp + i32::from(pair.off) - i32::from(first_off);
        // Each register is written as its own last instruction writes it:
        // the loaded value where the last `or` defines it.
        let last = pair.end() - 1;
        self.cur_pc = last;
        let v = self.dlo(pair.high, R::R0);
        let op = if pair.bytes() == 4 { MemOp::Ldr } else { MemOp::Ldrh };
        self.e(I::Mem { op, rt: v, rn: base, off: disp });
        match (pair.big_endian, pair.bytes()) {
            (false, _) => {}
            // The upper halfword is zero, and stays zero.
            (true, 2) => self.e(I::Unary { op: UnOp::Rev16, rd: v, rm: v }),
            (true, _) => self.e(I::Unary { op: UnOp::Rev, rd: v, rm: v }),
        }
        self.put_lo(pair.high, v);
        self.zero_hi(pair.high);
        let lanes = pair.lanes();
        for &(r, at, mask) in &lanes {
            self.cur_pc = at;
            let l = self.dlo(r, R::R1);
            if mask == 0xff {
                self.e(I::Unary { op: UnOp::Uxtb, rd: l, rm: v });
            } else {
                self.e(I::DpImm { op: DpOp::And, s: Keep, rd: l, rn: v, imm: mask });
            }
            self.put_lo(r, l);
            self.zero_hi(r);
        }
        self.cur_pc = last;
        let written = |r: EReg| r == pair.high || lanes.iter().any(|l| l.0 == r);
        if self.zero_flag_of.is_some_and(written) {
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
