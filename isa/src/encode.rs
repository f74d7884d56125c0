//! Encoding [`Insn`]s into slots: the one place that knows the bit layout
//! in this direction.

use crate::insn::{
    AluOp, AtomicOp, ByteOrder, Insn, JmpCond, MemSize, RawInsn, Reg, Source, Width,
};
use crate::opcode::{alu, atomic, call_src, class, jmp, lddw_src, mode, size, source, LDDW};

/// The one or two slots of an encoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoded {
    slots: [u64; 2],
    len: usize,
}

impl Encoded {
    /// The slots as little-endian `u64`s.
    pub fn as_slice(&self) -> &[u64] {
        &self.slots[..self.len]
    }
}

fn size_bits(s: MemSize) -> u8 {
    match s {
        MemSize::B => size::B,
        MemSize::H => size::H,
        MemSize::W => size::W,
        MemSize::DW => size::DW,
    }
}

fn alu_code(op: AluOp) -> (u8, i16) {
    match op {
        AluOp::Add => (alu::ADD, 0),
        AluOp::Sub => (alu::SUB, 0),
        AluOp::Mul => (alu::MUL, 0),
        AluOp::Div => (alu::DIV, 0),
        AluOp::SDiv => (alu::DIV, 1),
        AluOp::Or => (alu::OR, 0),
        AluOp::And => (alu::AND, 0),
        AluOp::Lsh => (alu::LSH, 0),
        AluOp::Rsh => (alu::RSH, 0),
        AluOp::Mod => (alu::MOD, 0),
        AluOp::SMod => (alu::MOD, 1),
        AluOp::Xor => (alu::XOR, 0),
        AluOp::Mov => (alu::MOV, 0),
        AluOp::MovSx(bits) => (alu::MOV, bits as i16),
        AluOp::Arsh => (alu::ARSH, 0),
    }
}

fn jmp_code(cond: JmpCond) -> u8 {
    match cond {
        JmpCond::Eq => jmp::JEQ,
        JmpCond::Gt => jmp::JGT,
        JmpCond::Ge => jmp::JGE,
        JmpCond::Set => jmp::JSET,
        JmpCond::Ne => jmp::JNE,
        JmpCond::Sgt => jmp::JSGT,
        JmpCond::Sge => jmp::JSGE,
        JmpCond::Lt => jmp::JLT,
        JmpCond::Le => jmp::JLE,
        JmpCond::Slt => jmp::JSLT,
        JmpCond::Sle => jmp::JSLE,
    }
}

/// Opcode source bit, `src` field and `imm` field for a [`Source`].
fn source_fields(src: Source) -> (u8, u8, i32) {
    match src {
        Source::Reg(r) => (source::X, r.num(), 0),
        Source::Imm(imm) => (source::K, 0, imm),
    }
}

fn one(raw: RawInsn) -> Encoded {
    Encoded { slots: [raw.to_u64(), 0], len: 1 }
}

fn lddw(dst: Reg, src: u8, lo: u32, hi: u32) -> Encoded {
    let first = RawInsn { opcode: LDDW, dst: dst.num(), src, off: 0, imm: lo as i32 };
    let second = RawInsn { imm: hi as i32, ..RawInsn::default() };
    Encoded { slots: [first.to_u64(), second.to_u64()], len: 2 }
}

impl Insn {
    /// Encodes the instruction into its slots.
    pub fn encode(&self) -> Encoded {
        match *self {
            Insn::Alu { width, op, dst, src } => {
                let cls = if width == Width::W32 { class::ALU } else { class::ALU64 };
                let (code, off) = alu_code(op);
                let (x, src, imm) = source_fields(src);
                one(RawInsn { opcode: cls | code | x, dst: dst.num(), src, off, imm })
            }
            Insn::Neg { width, dst } => {
                let cls = if width == Width::W32 { class::ALU } else { class::ALU64 };
                one(RawInsn { opcode: cls | alu::NEG, dst: dst.num(), ..RawInsn::default() })
            }
            Insn::Endian { order, bits, dst } => {
                let opcode = match order {
                    ByteOrder::ToLe => class::ALU | alu::END | source::K,
                    ByteOrder::ToBe => class::ALU | alu::END | source::X,
                    ByteOrder::Swap => class::ALU64 | alu::END | source::K,
                };
                one(RawInsn { opcode, dst: dst.num(), src: 0, off: 0, imm: bits as i32 })
            }
            Insn::LoadImm64 { dst, imm } => {
                lddw(dst, lddw_src::IMM64, imm as u32, (imm >> 32) as u32)
            }
            Insn::LoadDataAddr { dst, region, offset } => {
                lddw(dst, lddw_src::MAP_VALUE_BY_INDEX, region, offset)
            }
            Insn::Load { size, dst, src, off } => one(RawInsn {
                opcode: class::LDX | mode::MEM | size_bits(size),
                dst: dst.num(),
                src: src.num(),
                off,
                imm: 0,
            }),
            Insn::LoadSx { size, dst, src, off } => one(RawInsn {
                opcode: class::LDX | mode::MEMSX | size_bits(size),
                dst: dst.num(),
                src: src.num(),
                off,
                imm: 0,
            }),
            Insn::Store { size, dst, off, src } => {
                let (cls, src, imm) = match src {
                    Source::Reg(r) => (class::STX, r.num(), 0),
                    Source::Imm(imm) => (class::ST, 0, imm),
                };
                one(RawInsn {
                    opcode: cls | mode::MEM | size_bits(size),
                    dst: dst.num(),
                    src,
                    off,
                    imm,
                })
            }
            Insn::Atomic { size, op, fetch, dst, src, off } => {
                let imm = match op {
                    AtomicOp::Add => atomic::ADD,
                    AtomicOp::Or => atomic::OR,
                    AtomicOp::And => atomic::AND,
                    AtomicOp::Xor => atomic::XOR,
                    AtomicOp::Xchg => atomic::XCHG,
                    AtomicOp::CmpXchg => atomic::CMPXCHG,
                };
                let imm = if fetch { imm | atomic::FETCH } else { imm };
                one(RawInsn {
                    opcode: class::STX | mode::ATOMIC | size_bits(size),
                    dst: dst.num(),
                    src: src.num(),
                    off,
                    imm,
                })
            }
            Insn::Ja { off } => {
                one(RawInsn { opcode: class::JMP | jmp::JA, off, ..RawInsn::default() })
            }
            Insn::JaLong { off } => {
                one(RawInsn { opcode: class::JMP32 | jmp::JA, imm: off, ..RawInsn::default() })
            }
            Insn::Jmp { width, cond, dst, src, off } => {
                let cls = if width == Width::W32 { class::JMP32 } else { class::JMP };
                let (x, src, imm) = source_fields(src);
                one(RawInsn { opcode: cls | jmp_code(cond) | x, dst: dst.num(), src, off, imm })
            }
            Insn::Call { id } => one(RawInsn {
                opcode: class::JMP | jmp::CALL,
                src: call_src::HELPER,
                imm: id as i32,
                ..RawInsn::default()
            }),
            Insn::CallLocal { off } => one(RawInsn {
                opcode: class::JMP | jmp::CALL,
                src: call_src::LOCAL,
                imm: off,
                ..RawInsn::default()
            }),
            Insn::CallReg { reg } => one(RawInsn {
                opcode: class::JMP | jmp::CALL | source::X,
                dst: reg.num(),
                ..RawInsn::default()
            }),
            Insn::Exit => one(RawInsn { opcode: class::JMP | jmp::EXIT, ..RawInsn::default() }),
        }
    }
}
