//! Decoding slots into [`Insn`]s, with a precise error for every word that
//! is not a valid RFC 9669 instruction femtoc accepts.

use crate::insn::{
    AluOp, AtomicOp, ByteOrder, Insn, JmpCond, MemSize, RawInsn, Reg, Source, Width,
};
use crate::opcode::{alu, atomic, call_src, class, jmp, lddw_src, mode, size, source, LDDW};

/// Why a slot is not a valid instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No instruction has this opcode.
    #[error("unknown opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// `LD | ABS` / `LD | IND` (classic BPF packet loads) are not supported.
    #[error("legacy packet access (opcode {0:#04x}) is not supported")]
    LegacyPacketAccess(u8),
    /// A field this instruction does not use holds a non-zero value.
    #[error("reserved field `{0}` is not zero")]
    ReservedField(&'static str),
    /// A register field names r11..r15.
    #[error("register r{0} does not exist")]
    BadRegister(u8),
    /// The offset field holds a value this instruction does not define.
    #[error("offset {0} is not defined for this instruction")]
    BadOffset(i16),
    /// `le`/`be`/`bswap` with a width other than 16, 32 or 64.
    #[error("byte-order width {0} is not 16, 32 or 64")]
    BadEndianWidth(i32),
    /// Atomic instruction with an unknown operation in `imm`.
    #[error("unknown atomic operation {0:#x}")]
    BadAtomicOp(i32),
    /// Atomic instruction of 8 or 16 bits.
    #[error("atomic operations are 32 or 64 bits wide")]
    BadAtomicSize,
    /// `lddw` with a `src` other than 0 or 6 (maps, BTF variables, code addresses).
    #[error(
        "lddw source {0} is not supported (femtoc knows 0, an immediate, and 6, a data region)"
    )]
    UnsupportedLddwSrc(u8),
    /// `call` with a `src` other than 0 (helper) or 1 (local).
    #[error("call source {0} is not supported (femtoc knows 0, a helper, and 1, a local call)")]
    UnsupportedCallSrc(u8),
    /// `lddw` in the last slot of the program.
    #[error("lddw is missing its second slot")]
    TruncatedLddw,
    /// The second slot of `lddw` has a non-zero opcode, register or offset.
    #[error("the second slot of lddw must have opcode, registers and offset zero")]
    BadLddwSecondSlot,
}

/// A decoded instruction with the pc of its first slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Slot index of the instruction.
    pub pc: usize,
    /// The instruction.
    pub insn: Insn,
}

fn reg(n: u8) -> Result<Reg, DecodeError> {
    Reg::new(n).ok_or(DecodeError::BadRegister(n))
}

fn zero<T: Default + PartialEq>(value: T, field: &'static str) -> Result<(), DecodeError> {
    if value == T::default() {
        Ok(())
    } else {
        Err(DecodeError::ReservedField(field))
    }
}

fn mem_size(opcode: u8) -> MemSize {
    match opcode & 0x18 {
        size::W => MemSize::W,
        size::H => MemSize::H,
        size::B => MemSize::B,
        _ => MemSize::DW,
    }
}

/// Decodes the instruction starting at slot `pc` of `code` (little-endian
/// `u64` slots). `lddw` reads the following slot as well.
pub fn decode_at(code: &[u64], pc: usize) -> Result<Insn, DecodeError> {
    let raw = RawInsn::from_u64(code[pc]);
    let next = code.get(pc + 1).map(|w| RawInsn::from_u64(*w));
    decode_raw(raw, next)
}

/// Decodes one instruction from its first slot and, for `lddw`, the next.
pub fn decode_raw(raw: RawInsn, next: Option<RawInsn>) -> Result<Insn, DecodeError> {
    match raw.opcode & 0x07 {
        class::LD => decode_ld(raw, next),
        class::LDX => decode_ldx(raw),
        class::ST => decode_st(raw),
        class::STX => decode_stx(raw),
        class::ALU => decode_alu(raw, Width::W32),
        class::ALU64 => decode_alu(raw, Width::W64),
        class::JMP => decode_jmp(raw, Width::W64),
        _ => decode_jmp(raw, Width::W32),
    }
}

fn decode_ld(raw: RawInsn, next: Option<RawInsn>) -> Result<Insn, DecodeError> {
    match raw.opcode & 0xe0 {
        mode::ABS | mode::IND => return Err(DecodeError::LegacyPacketAccess(raw.opcode)),
        _ if raw.opcode != LDDW => return Err(DecodeError::UnknownOpcode(raw.opcode)),
        _ => {}
    }
    let dst = reg(raw.dst)?;
    zero(raw.off, "offset")?;
    let hi = next.ok_or(DecodeError::TruncatedLddw)?;
    if hi.opcode != 0 || hi.dst != 0 || hi.src != 0 || hi.off != 0 {
        return Err(DecodeError::BadLddwSecondSlot);
    }
    match raw.src {
        lddw_src::IMM64 => Ok(Insn::LoadImm64 {
            dst,
            imm: (raw.imm as u32 as u64) | ((hi.imm as u32 as u64) << 32),
        }),
        lddw_src::MAP_VALUE_BY_INDEX => {
            Ok(Insn::LoadDataAddr { dst, region: raw.imm as u32, offset: hi.imm as u32 })
        }
        other => Err(DecodeError::UnsupportedLddwSrc(other)),
    }
}

fn decode_ldx(raw: RawInsn) -> Result<Insn, DecodeError> {
    let size = mem_size(raw.opcode);
    let sign_extend = match raw.opcode & 0xe0 {
        mode::MEM => false,
        mode::MEMSX if size != MemSize::DW => true,
        _ => return Err(DecodeError::UnknownOpcode(raw.opcode)),
    };
    zero(raw.imm, "imm")?;
    let (dst, src, off) = (reg(raw.dst)?, reg(raw.src)?, raw.off);
    Ok(if sign_extend {
        Insn::LoadSx { size, dst, src, off }
    } else {
        Insn::Load { size, dst, src, off }
    })
}

fn decode_st(raw: RawInsn) -> Result<Insn, DecodeError> {
    if raw.opcode & 0xe0 != mode::MEM {
        return Err(DecodeError::UnknownOpcode(raw.opcode));
    }
    zero(raw.src, "src")?;
    Ok(Insn::Store {
        size: mem_size(raw.opcode),
        dst: reg(raw.dst)?,
        off: raw.off,
        src: Source::Imm(raw.imm),
    })
}

fn decode_stx(raw: RawInsn) -> Result<Insn, DecodeError> {
    let size = mem_size(raw.opcode);
    let (dst, src, off) = (reg(raw.dst)?, reg(raw.src)?, raw.off);
    match raw.opcode & 0xe0 {
        mode::MEM => {
            zero(raw.imm, "imm")?;
            Ok(Insn::Store { size, dst, off, src: Source::Reg(src) })
        }
        mode::ATOMIC => {
            if !matches!(size, MemSize::W | MemSize::DW) {
                return Err(DecodeError::BadAtomicSize);
            }
            let (op, fetch) = match raw.imm {
                atomic::XCHG => (AtomicOp::Xchg, true),
                atomic::CMPXCHG => (AtomicOp::CmpXchg, true),
                imm => {
                    let op = match imm & !atomic::FETCH {
                        atomic::ADD => AtomicOp::Add,
                        atomic::OR => AtomicOp::Or,
                        atomic::AND => AtomicOp::And,
                        atomic::XOR => AtomicOp::Xor,
                        _ => return Err(DecodeError::BadAtomicOp(imm)),
                    };
                    (op, imm & atomic::FETCH != 0)
                }
            };
            Ok(Insn::Atomic { size, op, fetch, dst, src, off })
        }
        _ => Err(DecodeError::UnknownOpcode(raw.opcode)),
    }
}

fn alu_source(raw: RawInsn) -> Result<Source, DecodeError> {
    if raw.opcode & source::X != 0 {
        zero(raw.imm, "imm")?;
        Ok(Source::Reg(reg(raw.src)?))
    } else {
        zero(raw.src, "src")?;
        Ok(Source::Imm(raw.imm))
    }
}

fn decode_alu(raw: RawInsn, width: Width) -> Result<Insn, DecodeError> {
    let dst = reg(raw.dst)?;
    let op = raw.opcode & 0xf0;
    let is_x = raw.opcode & source::X != 0;
    if op == alu::NEG {
        if is_x {
            return Err(DecodeError::UnknownOpcode(raw.opcode));
        }
        zero(raw.src, "src")?;
        zero(raw.off, "offset")?;
        zero(raw.imm, "imm")?;
        return Ok(Insn::Neg { width, dst });
    }
    if op == alu::END {
        let order = match (width, is_x) {
            (Width::W32, false) => ByteOrder::ToLe,
            (Width::W32, true) => ByteOrder::ToBe,
            (Width::W64, false) => ByteOrder::Swap,
            (Width::W64, true) => return Err(DecodeError::UnknownOpcode(raw.opcode)),
        };
        zero(raw.src, "src")?;
        zero(raw.off, "offset")?;
        let bits = match raw.imm {
            16 | 32 | 64 => raw.imm as u8,
            other => return Err(DecodeError::BadEndianWidth(other)),
        };
        return Ok(Insn::Endian { order, bits, dst });
    }
    let src = alu_source(raw)?;
    let op = match (op, raw.off) {
        (alu::ADD, 0) => AluOp::Add,
        (alu::SUB, 0) => AluOp::Sub,
        (alu::MUL, 0) => AluOp::Mul,
        (alu::DIV, 0) => AluOp::Div,
        (alu::DIV, 1) => AluOp::SDiv,
        (alu::OR, 0) => AluOp::Or,
        (alu::AND, 0) => AluOp::And,
        (alu::LSH, 0) => AluOp::Lsh,
        (alu::RSH, 0) => AluOp::Rsh,
        (alu::MOD, 0) => AluOp::Mod,
        (alu::MOD, 1) => AluOp::SMod,
        (alu::XOR, 0) => AluOp::Xor,
        (alu::MOV, 0) => AluOp::Mov,
        (alu::MOV, 8 | 16) if is_x => AluOp::MovSx(raw.off as u8),
        (alu::MOV, 32) if is_x && width == Width::W64 => AluOp::MovSx(32),
        (alu::ARSH, 0) => AluOp::Arsh,
        (alu::ADD | alu::SUB | alu::MUL | alu::DIV | alu::OR | alu::AND, off)
        | (alu::LSH | alu::RSH | alu::MOD | alu::XOR | alu::MOV | alu::ARSH, off) => {
            return Err(DecodeError::BadOffset(off))
        }
        _ => return Err(DecodeError::UnknownOpcode(raw.opcode)),
    };
    Ok(Insn::Alu { width, op, dst, src })
}

fn decode_jmp(raw: RawInsn, width: Width) -> Result<Insn, DecodeError> {
    let op = raw.opcode & 0xf0;
    let is_x = raw.opcode & source::X != 0;
    match (op, width, is_x) {
        (jmp::JA, Width::W64, false) => {
            zero(raw.dst, "dst")?;
            zero(raw.src, "src")?;
            zero(raw.imm, "imm")?;
            Ok(Insn::Ja { off: raw.off })
        }
        (jmp::JA, Width::W32, false) => {
            zero(raw.dst, "dst")?;
            zero(raw.src, "src")?;
            zero(raw.off, "offset")?;
            Ok(Insn::JaLong { off: raw.imm })
        }
        (jmp::CALL, Width::W64, false) => {
            zero(raw.dst, "dst")?;
            zero(raw.off, "offset")?;
            match raw.src {
                call_src::HELPER => Ok(Insn::Call { id: raw.imm as u32 }),
                call_src::LOCAL => Ok(Insn::CallLocal { off: raw.imm }),
                other => Err(DecodeError::UnsupportedCallSrc(other)),
            }
        }
        (jmp::CALL, Width::W64, true) => {
            zero(raw.src, "src")?;
            zero(raw.off, "offset")?;
            zero(raw.imm, "imm")?;
            Ok(Insn::CallReg { reg: reg(raw.dst)? })
        }
        (jmp::EXIT, Width::W64, false) => {
            zero(raw.dst, "dst")?;
            zero(raw.src, "src")?;
            zero(raw.off, "offset")?;
            zero(raw.imm, "imm")?;
            Ok(Insn::Exit)
        }
        _ => {
            let cond = match op {
                jmp::JEQ => JmpCond::Eq,
                jmp::JGT => JmpCond::Gt,
                jmp::JGE => JmpCond::Ge,
                jmp::JSET => JmpCond::Set,
                jmp::JNE => JmpCond::Ne,
                jmp::JSGT => JmpCond::Sgt,
                jmp::JSGE => JmpCond::Sge,
                jmp::JLT => JmpCond::Lt,
                jmp::JLE => JmpCond::Le,
                jmp::JSLT => JmpCond::Slt,
                jmp::JSLE => JmpCond::Sle,
                _ => return Err(DecodeError::UnknownOpcode(raw.opcode)),
            };
            let dst = reg(raw.dst)?;
            let src = alu_source(raw)?;
            Ok(Insn::Jmp { width, cond, dst, src, off: raw.off })
        }
    }
}

/// Decodes every instruction of `code` in order, yielding each with its pc.
/// After an error the iterator stops.
pub fn decode_all(
    code: &[u64],
) -> impl Iterator<Item = Result<Decoded, (usize, DecodeError)>> + '_ {
    let mut pc = 0;
    let mut failed = false;
    core::iter::from_fn(move || {
        if failed || pc >= code.len() {
            return None;
        }
        match decode_at(code, pc) {
            Ok(insn) => {
                let at = pc;
                pc += insn.slots();
                Some(Ok(Decoded { pc: at, insn }))
            }
            Err(e) => {
                failed = true;
                Some(Err((pc, e)))
            }
        }
    })
}
