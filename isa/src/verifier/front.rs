//! The allocating front door: verifies an owned [`Program`] and collects
//! what the compiler needs besides the device facts.

use alloc::vec;
use alloc::vec::Vec;

use super::error::VerifyError;
use super::scratch::{scratch_len, SlotScratch};
use super::{verify_in, VerifierConfig};
use crate::decode::{decode_all, decode_at};
use crate::facts::{FunctionInfo, VerifiedRef};
use crate::insn::Insn;
use crate::program::Program;

/// A basic block: slots `start..end`, entered only at `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicBlock {
    /// First slot (a leader: entry, jump target, function start, or the
    /// instruction after a jump or exit).
    pub start: u32,
    /// One past the last slot.
    pub end: u32,
}

/// Something suspicious that does not make the program unsafe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarningKind {
    /// A run of `slots` slots that no path from the entry executes.
    Unreachable {
        /// Length of the run in slots.
        slots: u32,
    },
}

impl core::fmt::Display for WarningKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WarningKind::Unreachable { slots } => {
                write!(f, "{slots} instruction slot(s) can never execute")
            }
        }
    }
}

/// A warning at a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Warning {
    /// First slot concerned.
    pub pc: usize,
    /// What it is.
    pub kind: WarningKind,
}

/// A program that passed the verifier, with everything it proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProgram {
    /// The program as given.
    pub program: Program,
    /// Functions sorted by start; the first is the entry.
    pub functions: Vec<FunctionInfo>,
    /// Basic blocks in slot order; they cover the whole program.
    pub blocks: Vec<BasicBlock>,
    /// Jumps whose target is at or before their own pc, as (jump pc,
    /// target): the budget events besides local calls.
    pub back_edges: Vec<(u32, u32)>,
    /// Bytes of stack the whole call tree can use.
    pub stack_usage: u32,
    /// Context bytes the program is proven to access on every run: the
    /// largest `off + size` over loads, stores and atomics whose base is
    /// the entry r1 (or a 64-bit `mov` copy of it) with a constant offset
    /// `off >= 0`, in the entry function's straight-line prefix before its
    /// first jump, call or exit. Engines refuse a shorter context, so
    /// compiled code may access these bytes without a check. 0 if none.
    pub min_ctx_len: u32,
    /// Helper ids the program names, sorted, without duplicates.
    pub helpers_used: Vec<u32>,
    /// Warnings, in slot order.
    pub warnings: Vec<Warning>,
}

impl VerifiedProgram {
    /// The borrowed, `no_std` view the engines take.
    pub fn as_ref(&self) -> VerifiedRef<'_> {
        VerifiedRef {
            code: &self.program.code,
            functions: &self.functions,
            stack_usage: self.stack_usage,
            min_ctx_len: self.min_ctx_len,
        }
    }
}

/// Verifies `program`. The sizes of its data regions come from
/// `program.data` (`cfg.data_sizes` is not used).
pub fn verify(program: &Program, cfg: &VerifierConfig) -> Result<VerifiedProgram, VerifyError> {
    let code = &program.code;
    let sizes: Vec<u32> = program.data.iter().map(|d| d.size).collect();
    let cfg = VerifierConfig { data_sizes: &sizes, ..*cfg };
    // Capped so that an oversized program is rejected rather than allocated for.
    let slots = code.len().min(crate::MAX_INSNS);
    let mut scratch = vec![SlotScratch::EMPTY; scratch_len(slots)];
    let calls = decode_all(code)
        .take(slots)
        .filter(|d| matches!(d, Ok(d) if matches!(d.insn, Insn::CallLocal { .. })))
        .count();
    let mut functions = vec![FunctionInfo::default(); calls + 1];
    let summary = verify_in(code, &cfg, &mut scratch, &mut functions)?;
    functions.truncate(summary.functions);

    let n = code.len();
    let mut blocks: Vec<BasicBlock> = Vec::new();
    let mut back_edges = Vec::new();
    let mut helpers_used = Vec::new();
    let mut warnings: Vec<Warning> = Vec::new();
    let mut unreachable_run: Option<usize> = None;
    for (pc, e) in scratch.iter().enumerate() {
        if e.is_leader() {
            if let Some(last) = blocks.last_mut() {
                last.end = pc as u32;
            }
            blocks.push(BasicBlock { start: pc as u32, end: n as u32 });
        }
        if !e.is_insn() {
            continue;
        }
        match (e.is_reachable(), unreachable_run) {
            (false, None) => unreachable_run = Some(pc),
            (true, Some(start)) => {
                warnings.push(unreachable(start, pc));
                unreachable_run = None;
            }
            _ => {}
        }
        let Ok(insn) = decode_at(code, pc) else { continue };
        if let Insn::Call { id } = insn {
            helpers_used.push(id);
        }
        if let (Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Jmp { .. }, Some(t)) =
            (insn, insn.branch_target(pc))
        {
            if t <= pc as i64 {
                back_edges.push((pc as u32, t as u32));
            }
        }
    }
    if let Some(start) = unreachable_run {
        warnings.push(unreachable(start, n));
    }
    helpers_used.sort_unstable();
    helpers_used.dedup();

    Ok(VerifiedProgram {
        program: program.clone(),
        functions,
        blocks,
        back_edges,
        stack_usage: summary.stack_usage,
        min_ctx_len: summary.min_ctx_len,
        helpers_used,
        warnings,
    })
}

fn unreachable(start: usize, end: usize) -> Warning {
    Warning { pc: start, kind: WarningKind::Unreachable { slots: (end - start) as u32 } }
}
