//! The text assembler, in the conformance suite's syntax (the inverse of
//! [`crate::disasm`]).
//!
//! One instruction or label per line; `#` starts a comment. Labels are
//! `name:`; jumps and local calls take a label or a signed `+N`/`-N`
//! offset. As in the suite's own assembler, when no label `exit` is
//! defined, `exit` names the first `exit` instruction.
//!
//! Every instruction is built as a typed [`Insn`] and encoded by
//! [`Insn::encode`]; `lddw %rN, data[REGION+OFFSET]` produces a src-6
//! `lddw` but no data region (the caller supplies those).

mod error;
mod mnemonic;
mod operand;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

pub use error::{AsmError, AsmErrorKind};
pub use operand::is_label_name;

use crate::insn::Insn;
use crate::program::{Program, Symbol};

/// An instruction waiting for its labels to be known.
struct Pending {
    pc: usize,
    line: usize,
    insn: Insn,
    label: Option<String>,
}

/// Removes a `#` comment and surrounding whitespace.
fn strip_comment(line: &str) -> &str {
    line.split_once('#').map_or(line, |(code, _)| code).trim()
}

/// Splits a leading `name:` off a line. A colon after whitespace is not a
/// label (no instruction syntax uses one, so the mnemonic parser reports it).
fn split_label(line: &str) -> (Option<&str>, &str) {
    match line.split_once(':') {
        Some((head, tail)) if !head.trim().contains(char::is_whitespace) => {
            (Some(head.trim()), tail.trim())
        }
        _ => (None, line),
    }
}

/// Assembles `text` into a program whose labels become its symbols.
pub fn assemble(text: &str) -> Result<Program, AsmError> {
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    let mut symbols = Vec::new();
    let mut pending = Vec::new();
    let mut first_exit = None;
    let mut pc = 0usize;
    let mut last_line = 0;

    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        last_line = line;
        let fail = |kind| AsmError { line, text: raw.trim().to_string(), kind };
        let (label, rest) = split_label(strip_comment(raw));
        if let Some(name) = label {
            if !is_label_name(name) {
                return Err(fail(AsmErrorKind::InvalidLabel(name.to_string())));
            }
            if labels.insert(name.to_string(), pc).is_some() {
                return Err(fail(AsmErrorKind::DuplicateLabel(name.to_string())));
            }
            symbols.push(Symbol { pc, name: name.to_string() });
        }
        if rest.is_empty() {
            continue;
        }
        let (word, operands) = mnemonic::split_word(rest);
        let parsed = mnemonic::parse(word, operands).map_err(fail)?;
        if parsed.insn == Insn::Exit && first_exit.is_none() {
            first_exit = Some(pc);
        }
        let next = pc + parsed.insn.slots();
        if next > crate::MAX_INSNS {
            return Err(fail(AsmErrorKind::TooLong));
        }
        pending.push(Pending { pc, line, insn: parsed.insn, label: parsed.label });
        pc = next;
    }

    if pending.is_empty() {
        return Err(AsmError {
            line: last_line.max(1),
            text: String::new(),
            kind: AsmErrorKind::Empty,
        });
    }
    if let Some(exit) = first_exit {
        labels.entry("exit".to_string()).or_insert(exit);
    }

    let mut code = Vec::with_capacity(pc);
    for p in &pending {
        let insn = match &p.label {
            None => p.insn,
            Some(label) => resolve(p, label, &labels).map_err(|kind| AsmError {
                line: p.line,
                text: text.lines().nth(p.line - 1).unwrap_or_default().trim().to_string(),
                kind,
            })?,
        };
        code.extend_from_slice(insn.encode().as_slice());
    }
    // Labels were recorded in source order, which is also pc order.
    Ok(Program { code, data: Vec::new(), symbols })
}

/// Puts the distance to `label` into the instruction's offset field.
fn resolve(
    p: &Pending,
    label: &str,
    labels: &BTreeMap<String, usize>,
) -> Result<Insn, AsmErrorKind> {
    let target =
        *labels.get(label).ok_or_else(|| AsmErrorKind::UndefinedLabel(label.to_string()))?;
    // Both are at most MAX_INSNS, so the difference fits easily.
    let offset = target as i64 - p.pc as i64 - 1;
    let too_far = || AsmErrorKind::TargetOutOfRange { label: label.to_string(), offset };
    let off16 = || i16::try_from(offset).map_err(|_| too_far());
    let off32 = || i32::try_from(offset).map_err(|_| too_far());
    Ok(match p.insn {
        Insn::Ja { .. } => Insn::Ja { off: off16()? },
        Insn::Jmp { width, cond, dst, src, .. } => {
            Insn::Jmp { width, cond, dst, src, off: off16()? }
        }
        Insn::JaLong { .. } => Insn::JaLong { off: off32()? },
        Insn::CallLocal { .. } => Insn::CallLocal { off: off32()? },
        other => other,
    })
}
