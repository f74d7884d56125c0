//! Arithmetic snippets: every ALU operation in both widths with register
//! and immediate operands, at the edges (shifts past the width, division
//! by zero, INT_MIN / -1), and the unary operations.

use femtoc_isa::{AluOp, ByteOrder, Insn, Source, Width};

use super::FnGen;
use crate::differential::features::Feature;

const SHIFTS: [i32; 12] = [0, 1, 7, 31, 32, 33, 63, 64, 65, 127, -1, i32::MIN];
const DIVISORS: [i32; 7] = [0, 1, -1, 2, 3, -7, i32::MIN];
const BINARY_OPS: [AluOp; 14] = [
    AluOp::Add,
    AluOp::Sub,
    AluOp::Mul,
    AluOp::Div,
    AluOp::SDiv,
    AluOp::Or,
    AluOp::And,
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Mod,
    AluOp::SMod,
    AluOp::Xor,
    AluOp::Mov,
    AluOp::Arsh,
];

impl FnGen<'_> {
    pub(super) fn alu(&mut self) {
        let width = self.width();
        let op = self.rng.pick(&BINARY_OPS, AluOp::Add);
        let dst = self.dst();
        let bits = if width == Width::W64 { 64 } else { 32 };
        let src = if self.rng.chance(50) {
            Source::Reg(self.any())
        } else {
            Source::Imm(match op {
                AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => self.rng.pick(&SHIFTS, 0),
                AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod => self.rng.pick(&DIVISORS, 0),
                _ => self.imm(),
            })
        };
        match (op, src) {
            (AluOp::Lsh | AluOp::Rsh | AluOp::Arsh, Source::Imm(k)) if k as u32 >= bits => {
                self.feature(Feature::ShiftOverWidth)
            }
            (AluOp::Lsh | AluOp::Rsh | AluOp::Arsh, Source::Reg(_)) => {
                self.feature(Feature::ShiftOverWidth)
            }
            (AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod, Source::Imm(0)) => {
                self.feature(Feature::DivByZero)
            }
            _ => {}
        }
        self.emit(Insn::Alu { width, op, dst, src });
    }

    /// Division and modulo at their edges: by zero and INT_MIN / -1.
    pub(super) fn div_edge(&mut self) {
        let width = self.width();
        let (dst, src) = self.two_dsts();
        let min = if width == Width::W64 { i64::MIN as u64 } else { 0x8000_0000 };
        self.emit(Insn::LoadImm64 { dst, imm: min });
        let divisor = if self.rng.chance(50) {
            self.feature(Feature::DivMinByMinusOne);
            -1
        } else {
            self.feature(Feature::DivByZero);
            0
        };
        self.emit(Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: src,
            src: Source::Imm(divisor),
        });
        let op = self.rng.pick(&[AluOp::SDiv, AluOp::SMod, AluOp::Div, AluOp::Mod], AluOp::SDiv);
        self.emit(Insn::Alu { width, op, dst, src: Source::Reg(src) });
    }

    pub(super) fn unary(&mut self) {
        let dst = self.dst();
        match self.rng.below(3) {
            0 => {
                let width = self.width();
                self.emit(Insn::Neg { width, dst })
            }
            1 => {
                let order = self
                    .rng
                    .pick(&[ByteOrder::ToLe, ByteOrder::ToBe, ByteOrder::Swap], ByteOrder::ToLe);
                let bits = self.rng.pick(&[16u8, 32, 64], 16);
                self.emit(Insn::Endian { order, bits, dst })
            }
            _ => {
                let width = self.width();
                let bits = if width == Width::W64 {
                    self.rng.pick(&[8u8, 16, 32], 8)
                } else {
                    self.rng.pick(&[8u8, 16], 8)
                };
                let src = Source::Reg(self.any());
                self.emit(Insn::Alu { width, op: AluOp::MovSx(bits), dst, src })
            }
        };
    }
}
