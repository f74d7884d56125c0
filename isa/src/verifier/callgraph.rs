//! The local call graph: rejects cycles and orders functions so that every
//! caller comes before its callees (register state at a function's entry is
//! the meet over its call sites, so callers must be analysed first).
//!
//! The search runs over the static graph (call sites in unreachable code
//! count), depth-first without recursion: the current path lives in the
//! scratch `work` array and each function's resume slot in its
//! `frame_size` field, which the data-flow pass overwrites later.

use super::error::{VerifyError, VerifyErrorKind as K};
use super::scratch::{flag, SlotScratch};
use super::structure::{decode, target_in};
use crate::facts::FunctionInfo;
use crate::insn::Insn;

/// Index of the function starting exactly at `start`.
pub(crate) fn function_at(functions: &[FunctionInfo], start: usize) -> Option<usize> {
    let i = functions.partition_point(|f| (f.start as usize) < start);
    functions.get(i).filter(|f| f.start as usize == start).map(|_| i)
}

/// Stores a topological order (callers first when read backwards: the
/// `order` fields of slots `0..functions.len()` hold a post-order).
pub(crate) fn order(
    code: &[u64],
    s: &mut [SlotScratch],
    functions: &mut [FunctionInfo],
) -> Result<(), VerifyError> {
    let mut post = 0;
    for root in 0..functions.len() {
        let start = functions[root].start as usize;
        if s[start].has(flag::GRAY | flag::BLACK) {
            continue;
        }
        s[start].flags |= flag::GRAY;
        s[0].work = root as u16;
        functions[root].frame_size = start as u32;
        let mut sp: usize = 1;
        while let Some(top) = sp.checked_sub(1) {
            let f = s[top].work as usize;
            let (resume, end) = (functions[f].frame_size as usize, functions[f].end as usize);
            let (call, resume) = next_call(code, resume, end)?;
            functions[f].frame_size = resume as u32;
            match call {
                Some((pc, target)) => {
                    let g = function_at(functions, target)
                        .ok_or(VerifyError::new(pc, K::CallOutOfProgram(target as i64)))?;
                    let e = &mut s[target];
                    if e.has(flag::GRAY) {
                        return Err(VerifyError::new(pc, K::Recursion(target as u32)));
                    }
                    if e.has(flag::BLACK) {
                        continue;
                    }
                    e.flags |= flag::GRAY;
                    functions[g].frame_size = target as u32;
                    // The path holds distinct functions, so `sp` < functions.len() <= slots.
                    s[sp].work = g as u16;
                    sp += 1;
                }
                None => {
                    let start = functions[f].start as usize;
                    s[start].flags = (s[start].flags & !flag::GRAY) | flag::BLACK;
                    functions[f].frame_size = 0;
                    s[post].order = f as u16;
                    post += 1;
                    sp = top;
                }
            }
        }
    }
    Ok(())
}

/// The next local call in slots `from..end` as (pc, target), and the slot
/// to resume scanning at.
fn next_call(
    code: &[u64],
    from: usize,
    end: usize,
) -> Result<(Option<(usize, usize)>, usize), VerifyError> {
    let mut pc = from;
    while pc < end {
        let insn = decode(code, pc)?;
        if let Insn::CallLocal { .. } = insn {
            if let Some(t) = target_in(&insn, pc, code.len()) {
                return Ok((Some((pc, t)), pc + 1));
            }
        }
        pc += insn.slots();
    }
    Ok((None, end))
}
