//! One instruction line (mnemonic and operands) to a typed [`Insn`].

use alloc::string::{String, ToString};

use super::error::AsmErrorKind;
use super::operand::{self, split_operands, JumpTarget};
use crate::insn::{AluOp, AtomicOp, ByteOrder, Insn, JmpCond, MemSize, Source, Width};

/// An instruction whose jump or call offset may still wait for a label.
pub(crate) struct Parsed {
    /// The instruction; a label-relative offset is 0 until resolved.
    pub insn: Insn,
    /// The label its offset must point at, if written as a label.
    pub label: Option<String>,
}

impl From<Insn> for Parsed {
    fn from(insn: Insn) -> Self {
        Parsed { insn, label: None }
    }
}

fn count<'a, const N: usize>(
    mnemonic: &str,
    ops: &[&'a str],
) -> Result<[&'a str; N], AsmErrorKind> {
    <[&str; N]>::try_from(ops).map_err(|_| AsmErrorKind::OperandCount {
        mnemonic: mnemonic.to_string(),
        expected: N,
        found: ops.len(),
    })
}

/// Splits a `32` or `64` width suffix off an ALU or jump mnemonic.
fn split_width(mnemonic: &str) -> (&str, Width) {
    if let Some(base) = mnemonic.strip_suffix("32") {
        (base, Width::W32)
    } else {
        (mnemonic.strip_suffix("64").unwrap_or(mnemonic), Width::W64)
    }
}

fn mem_size(suffix: &str) -> Option<MemSize> {
    match suffix {
        "b" => Some(MemSize::B),
        "h" => Some(MemSize::H),
        "w" => Some(MemSize::W),
        "dw" => Some(MemSize::DW),
        _ => None,
    }
}

fn alu_op(name: &str) -> Option<AluOp> {
    Some(match name {
        "add" => AluOp::Add,
        "sub" => AluOp::Sub,
        "mul" => AluOp::Mul,
        "div" => AluOp::Div,
        "sdiv" => AluOp::SDiv,
        "or" => AluOp::Or,
        "and" => AluOp::And,
        "lsh" => AluOp::Lsh,
        "rsh" => AluOp::Rsh,
        "mod" => AluOp::Mod,
        "smod" => AluOp::SMod,
        "xor" => AluOp::Xor,
        "mov" => AluOp::Mov,
        "arsh" => AluOp::Arsh,
        _ => return None,
    })
}

fn jmp_cond(name: &str) -> Option<JmpCond> {
    Some(match name {
        "jeq" => JmpCond::Eq,
        "jgt" => JmpCond::Gt,
        "jge" => JmpCond::Ge,
        "jset" => JmpCond::Set,
        "jne" => JmpCond::Ne,
        "jsgt" => JmpCond::Sgt,
        "jsge" => JmpCond::Sge,
        "jlt" => JmpCond::Lt,
        "jle" => JmpCond::Le,
        "jslt" => JmpCond::Slt,
        "jsle" => JmpCond::Sle,
        _ => return None,
    })
}

fn atomic_op(name: &str) -> Option<AtomicOp> {
    Some(match name {
        "add" => AtomicOp::Add,
        "or" => AtomicOp::Or,
        "and" => AtomicOp::And,
        "xor" => AtomicOp::Xor,
        "xchg" => AtomicOp::Xchg,
        "cmpxchg" => AtomicOp::CmpXchg,
        _ => return None,
    })
}

/// `movsx{8,16,32}{32,64}`: bits and width, where the pair exists.
fn movsx(mnemonic: &str) -> Option<(u8, Width)> {
    Some(match mnemonic {
        "movsx832" => (8, Width::W32),
        "movsx864" => (8, Width::W64),
        "movsx1632" => (16, Width::W32),
        "movsx1664" => (16, Width::W64),
        "movsx3264" => (32, Width::W64),
        _ => return None,
    })
}

fn endian(mnemonic: &str) -> Option<(ByteOrder, u8)> {
    let (order, bits) = if let Some(b) = mnemonic.strip_prefix("le") {
        (ByteOrder::ToLe, b)
    } else if let Some(b) = mnemonic.strip_prefix("be") {
        (ByteOrder::ToBe, b)
    } else if let Some(b) = mnemonic.strip_prefix("bswap").or_else(|| mnemonic.strip_prefix("swap"))
    {
        (ByteOrder::Swap, b)
    } else {
        return None;
    };
    match bits {
        "16" => Some((order, 16)),
        "32" => Some((order, 32)),
        "64" => Some((order, 64)),
        _ => None,
    }
}

/// Turns a jump target into an offset now or a label for later.
fn with_target<T: Default>(target: JumpTarget<T>, build: impl FnOnce(T) -> Insn) -> Parsed {
    match target {
        JumpTarget::Offset(off) => build(off).into(),
        JumpTarget::Label(label) => Parsed { insn: build(T::default()), label: Some(label) },
    }
}

/// Parses one instruction: `mnemonic` is its first word, `rest` the text
/// after it (comment already removed).
pub(crate) fn parse(mnemonic: &str, rest: &str) -> Result<Parsed, AsmErrorKind> {
    match mnemonic {
        "exit" => {
            count::<0>(mnemonic, &split_operands(rest))?;
            return Ok(Insn::Exit.into());
        }
        "lddw" => return lddw(rest),
        "ja" => {
            let [t] = count(mnemonic, &split_operands(rest))?;
            return Ok(with_target(operand::jump_target(t, operand::offset16)?, |off| Insn::Ja {
                off,
            }));
        }
        "ja32" => {
            let [t] = count(mnemonic, &split_operands(rest))?;
            return Ok(with_target(operand::jump_target(t, operand::offset32)?, |off| {
                Insn::JaLong { off }
            }));
        }
        "call" => return call(rest),
        "lock" => return lock(rest),
        _ => {}
    }
    let ops = split_operands(rest);
    if let Some((order, bits)) = endian(mnemonic) {
        let [dst] = count(mnemonic, &ops)?;
        return Ok(Insn::Endian { order, bits, dst: operand::register(dst)? }.into());
    }
    if let Some((bits, width)) = movsx(mnemonic) {
        let [dst, src] = count(mnemonic, &ops)?;
        let src = register_source(src, "a register (movsx has no immediate form)")?;
        let dst = operand::register(dst)?;
        return Ok(Insn::Alu { width, op: AluOp::MovSx(bits), dst, src: Source::Reg(src) }.into());
    }
    if let Some(size) = mnemonic.strip_prefix("ldxs").and_then(mem_size) {
        if size == MemSize::DW {
            return Err(AsmErrorKind::UnknownMnemonic(mnemonic.to_string()));
        }
        let [dst, mem] = count(mnemonic, &ops)?;
        let dst = operand::register(dst)?;
        let (src, off) = operand::memory(mem)?;
        return Ok(Insn::LoadSx { size, dst, src, off }.into());
    }
    if let Some(size) = mnemonic.strip_prefix("ldx").and_then(mem_size) {
        let [dst, mem] = count(mnemonic, &ops)?;
        let dst = operand::register(dst)?;
        let (src, off) = operand::memory(mem)?;
        return Ok(Insn::Load { size, dst, src, off }.into());
    }
    if let Some(size) = mnemonic.strip_prefix("stx").and_then(mem_size) {
        let [mem, src] = count(mnemonic, &ops)?;
        let (dst, off) = operand::memory(mem)?;
        let src = register_source(src, "a register")?;
        return Ok(Insn::Store { size, dst, off, src: Source::Reg(src) }.into());
    }
    if let Some(size) = mnemonic.strip_prefix("st").and_then(mem_size) {
        let [mem, imm] = count(mnemonic, &ops)?;
        let (dst, off) = operand::memory(mem)?;
        return Ok(Insn::Store { size, dst, off, src: Source::Imm(operand::imm32(imm)?) }.into());
    }
    let (base, width) = split_width(mnemonic);
    if base == "neg" {
        let [dst] = count(mnemonic, &ops)?;
        return Ok(Insn::Neg { width, dst: operand::register(dst)? }.into());
    }
    if let Some(op) = alu_op(base) {
        let [dst, src] = count(mnemonic, &ops)?;
        let dst = operand::register(dst)?;
        return Ok(Insn::Alu { width, op, dst, src: operand::source(src)? }.into());
    }
    if let Some(cond) = jmp_cond(base) {
        let [dst, src, target] = count(mnemonic, &ops)?;
        let dst = operand::register(dst)?;
        let src = operand::source(src)?;
        let target = operand::jump_target(target, operand::offset16)?;
        return Ok(with_target(target, |off| Insn::Jmp { width, cond, dst, src, off }));
    }
    Err(AsmErrorKind::UnknownMnemonic(mnemonic.to_string()))
}

/// A register where only a register will do; an immediate is reported as
/// the wrong kind of operand rather than as a bad register.
fn register_source(text: &str, expected: &'static str) -> Result<crate::insn::Reg, AsmErrorKind> {
    if operand::looks_like_register(text) {
        operand::register(text)
    } else {
        Err(AsmErrorKind::InvalidOperand { operand: text.trim().to_string(), expected })
    }
}

/// `lddw %rN, IMM64` or `lddw %rN, data[REGION+OFFSET]`.
fn lddw(rest: &str) -> Result<Parsed, AsmErrorKind> {
    let [dst, value] = count("lddw", &split_operands(rest))?;
    let dst = operand::register(dst)?;
    if let Some(data) = operand::data_ref(value) {
        let (region, offset) = data?;
        return Ok(Insn::LoadDataAddr { dst, region, offset }.into());
    }
    Ok(Insn::LoadImm64 { dst, imm: operand::imm64(value)? }.into())
}

/// `call N` (helper), `call helper N`, `call local TARGET`, `call %rN` (callx).
fn call(rest: &str) -> Result<Parsed, AsmErrorKind> {
    let words: alloc::vec::Vec<&str> = rest.split_whitespace().collect();
    match words.as_slice() {
        ["local", target] => {
            Ok(with_target(operand::jump_target(target, operand::offset32)?, |off| {
                Insn::CallLocal { off }
            }))
        }
        ["helper", id] => Ok(Insn::Call { id: operand::imm32(id)? as u32 }.into()),
        [one] if operand::looks_like_register(one) => {
            Ok(Insn::CallReg { reg: operand::register(one)? }.into())
        }
        ["local" | "helper"] => Err(AsmErrorKind::OperandCount {
            mnemonic: alloc::format!("call {}", words.join(" ")),
            expected: 1,
            found: 0,
        }),
        [id] => Ok(Insn::Call { id: operand::imm32(id)? as u32 }.into()),
        _ => Err(AsmErrorKind::OperandCount {
            mnemonic: "call".to_string(),
            expected: 1,
            found: words.len(),
        }),
    }
}

/// `lock [fetch] OP[32] [%rD+OFF], %rS`.
fn lock(rest: &str) -> Result<Parsed, AsmErrorKind> {
    let missing =
        |found| AsmErrorKind::OperandCount { mnemonic: "lock".to_string(), expected: 2, found };
    let (first, after) = split_word(rest);
    let (fetch, op_word, after) = if first == "fetch" {
        let (op, after) = split_word(after);
        (true, op, after)
    } else {
        (false, first, after)
    };
    if op_word.is_empty() {
        return Err(missing(0));
    }
    let (base, width) = split_width(op_word);
    let op = atomic_op(base)
        .ok_or_else(|| AsmErrorKind::UnknownMnemonic(alloc::format!("lock {op_word}")))?;
    let ops = split_operands(after);
    let [mem, src] = <[&str; 2]>::try_from(ops.as_slice()).map_err(|_| missing(ops.len()))?;
    let (dst, off) = operand::memory(mem)?;
    let src = register_source(src, "a register")?;
    let size = if width == Width::W32 { MemSize::W } else { MemSize::DW };
    // xchg and cmpxchg always fetch: the encoding has no other form.
    let fetch = fetch || matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg);
    Ok(Insn::Atomic { size, op, fetch, dst, src, off }.into())
}

/// The first whitespace-separated word of `text` and what follows it.
pub(crate) fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    text.split_once(char::is_whitespace).unwrap_or((text, ""))
}
