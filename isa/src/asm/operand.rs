//! Operand syntax: registers, numbers, memory references and jump targets.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::error::AsmErrorKind;
use crate::insn::{Reg, Source};

/// Splits an operand list on commas. An empty list gives no operands; an
/// empty item (`mov %r0,`) stays, so that the count check or the operand
/// parser reports it.
pub(crate) fn split_operands(rest: &str) -> Vec<&str> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Vec::new();
    }
    rest.split(',').map(str::trim).collect()
}

/// True if `name` can be a label: an identifier of letters, digits, `_`,
/// `.` and `$` that does not start with a digit.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok =
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '$'));
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'))
}

/// `%rN` (the `%` may be left out).
pub(crate) fn register(text: &str) -> Result<Reg, AsmErrorKind> {
    let t = text.trim();
    let digits = t.strip_prefix('%').unwrap_or(t).strip_prefix('r');
    digits
        .filter(|d| !d.is_empty() && d.len() <= 3 && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u8>().ok())
        .and_then(Reg::new)
        .ok_or_else(|| AsmErrorKind::InvalidRegister(t.to_string()))
}

/// True if `text` is written like a register (so that a bad one is
/// reported as a bad register, not as a bad number).
pub(crate) fn looks_like_register(text: &str) -> bool {
    let t = text.trim();
    t.starts_with('%')
        || (t.starts_with('r') && t.len() > 1 && t[1..].bytes().all(|b| b.is_ascii_digit()))
}

/// A number could not be read: malformed, or too large for any use.
pub(crate) enum NumError {
    Invalid,
    TooLarge,
}

/// An integer: optional sign, then decimal digits or `0x` hex digits.
/// Values beyond ±2^64 are [`NumError::TooLarge`].
pub(crate) fn integer(text: &str) -> Result<i128, NumError> {
    let t = text.trim();
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let body = body.trim_start();
    let (radix, digits) = match body.get(..2) {
        Some("0x" | "0X") => (16, &body[2..]),
        _ => (10, body),
    };
    if digits.is_empty() {
        return Err(NumError::Invalid);
    }
    let mut value: i128 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix).ok_or(NumError::Invalid)?;
        value = value * i128::from(radix) + i128::from(d);
        // Stop before i128 could overflow; nothing needs more than 64 bits.
        if value > i128::from(u64::MAX) + 1 {
            return Err(NumError::TooLarge);
        }
    }
    Ok(if negative { -value } else { value })
}

/// A 32-bit immediate: -2^31..=2^32-1, values above `i32::MAX` taken as
/// their u32 bit pattern.
pub(crate) fn imm32(text: &str) -> Result<i32, AsmErrorKind> {
    let out_of_range = || AsmErrorKind::Imm32OutOfRange(text.trim().to_string());
    match integer(text) {
        Ok(v) if (i128::from(i32::MIN)..=i128::from(u32::MAX)).contains(&v) => {
            Ok(if v > i128::from(i32::MAX) { v as u32 as i32 } else { v as i32 })
        }
        Ok(_) | Err(NumError::TooLarge) => Err(out_of_range()),
        Err(NumError::Invalid) => Err(AsmErrorKind::InvalidNumber(text.trim().to_string())),
    }
}

/// A 64-bit immediate: -2^63..=2^64-1, negative values in two's complement.
pub(crate) fn imm64(text: &str) -> Result<u64, AsmErrorKind> {
    match integer(text) {
        Ok(v) if (i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(&v) => {
            Ok(if v < 0 { v as i64 as u64 } else { v as u64 })
        }
        Ok(_) | Err(NumError::TooLarge) => {
            Err(AsmErrorKind::Imm64OutOfRange(text.trim().to_string()))
        }
        Err(NumError::Invalid) => Err(AsmErrorKind::InvalidNumber(text.trim().to_string())),
    }
}

/// A signed 16-bit offset.
pub(crate) fn offset16(text: &str) -> Result<i16, AsmErrorKind> {
    match integer(text) {
        Ok(v) => {
            i16::try_from(v).map_err(|_| AsmErrorKind::OffsetOutOfRange(text.trim().to_string()))
        }
        Err(NumError::TooLarge) => Err(AsmErrorKind::OffsetOutOfRange(text.trim().to_string())),
        Err(NumError::Invalid) => Err(AsmErrorKind::InvalidNumber(text.trim().to_string())),
    }
}

/// A signed 32-bit offset (of `ja32` and local calls).
pub(crate) fn offset32(text: &str) -> Result<i32, AsmErrorKind> {
    match integer(text) {
        Ok(v) => {
            i32::try_from(v).map_err(|_| AsmErrorKind::Imm32OutOfRange(text.trim().to_string()))
        }
        Err(NumError::TooLarge) => Err(AsmErrorKind::Imm32OutOfRange(text.trim().to_string())),
        Err(NumError::Invalid) => Err(AsmErrorKind::InvalidNumber(text.trim().to_string())),
    }
}

/// An unsigned 32-bit value (data region index or offset).
pub(crate) fn unsigned32(text: &str) -> Result<u32, AsmErrorKind> {
    match integer(text) {
        Ok(v) => {
            u32::try_from(v).map_err(|_| AsmErrorKind::Imm32OutOfRange(text.trim().to_string()))
        }
        Err(NumError::TooLarge) => Err(AsmErrorKind::Imm32OutOfRange(text.trim().to_string())),
        Err(NumError::Invalid) => Err(AsmErrorKind::InvalidNumber(text.trim().to_string())),
    }
}

/// A register or a 32-bit immediate.
pub(crate) fn source(text: &str) -> Result<Source, AsmErrorKind> {
    if looks_like_register(text) {
        register(text).map(Source::Reg)
    } else {
        imm32(text).map(Source::Imm)
    }
}

/// `[%rN]`, `[%rN+OFF]` or `[%rN-OFF]`, spaces allowed inside.
pub(crate) fn memory(text: &str) -> Result<(Reg, i16), AsmErrorKind> {
    let t = text.trim();
    let bad = || AsmErrorKind::InvalidMemoryOperand(t.to_string());
    let inner = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')).ok_or_else(bad)?;
    match inner.find(['+', '-']) {
        None => Ok((register(inner)?, 0)),
        Some(at) => {
            let (reg, off) = inner.split_at(at);
            if off[1..].trim().is_empty() {
                return Err(bad());
            }
            Ok((register(reg)?, offset16(off)?))
        }
    }
}

/// Where a jump or call goes: a label to resolve later, or an offset.
pub(crate) enum JumpTarget<T> {
    Offset(T),
    Label(String),
}

/// A jump target: `+N`/`-N`, or a label name.
pub(crate) fn jump_target<T>(
    text: &str,
    offset: impl Fn(&str) -> Result<T, AsmErrorKind>,
) -> Result<JumpTarget<T>, AsmErrorKind> {
    let t = text.trim();
    if t.starts_with(['+', '-']) {
        offset(t).map(JumpTarget::Offset)
    } else if is_label_name(t) {
        Ok(JumpTarget::Label(t.to_string()))
    } else {
        Err(AsmErrorKind::InvalidLabel(t.to_string()))
    }
}

/// `data[REGION+OFFSET]` (or `data[REGION]`), the operand of a src-6 `lddw`.
pub(crate) fn data_ref(text: &str) -> Option<Result<(u32, u32), AsmErrorKind>> {
    let t = text.trim();
    let inner = t.strip_prefix("data")?.trim_start();
    let inner = inner.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
    let Some(inner) = inner else {
        return Some(Err(AsmErrorKind::InvalidOperand {
            operand: t.to_string(),
            expected: "data[REGION+OFFSET]",
        }));
    };
    let (region, offset) = inner.split_once('+').unwrap_or((inner, "0"));
    Some(unsigned32(region).and_then(|r| Ok((r, unsigned32(offset)?))))
}
