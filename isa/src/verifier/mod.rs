//! The verifier: decides whether a program may run on femtoc's engines and
//! computes the facts they rely on (functions and their frame sizes, stack
//! usage, minimum context length).
//!
//! The core, [`verify_in`], needs no allocation: it works in a
//! caller-provided scratch buffer of [`scratch_len`] entries of
//! [`SCRATCH_BYTES_PER_SLOT`] bytes each (one per instruction slot) and a
//! caller-provided function table, so it also runs on the device. With the
//! `alloc` feature, [`verify`] allocates both and returns a
//! [`VerifiedProgram`] with blocks, back-edges and warnings for the compiler.
//!
//! Decisions beyond the design brief:
//! - Recursion and call depth are checked on the static call graph: a call
//!   in unreachable code counts.
//! - A register that holds different frame offsets on different paths only
//!   makes its function untracked if it is then used (other than copied by
//!   a 64-bit `mov`); a dead one is harmless.
//! - Frame offsets are tracked within the `i16` range; arithmetic leaving it
//!   makes the function untracked.
//! - A non-entry function returning an r10-derived pointer in r0 is
//!   untracked (its frame would outlive the call).
//! - A frame pointer passed to a helper or local call, or stored to memory,
//!   does not escape tracking: the object it points at lives in the frame
//!   and starts at the pointer, so the pointer's depth counts as touched.
//!   Accesses through it elsewhere are checked at run time against the
//!   stack region. Only arithmetic that tracking cannot follow (a
//!   non-constant offset, a 32-bit operation) makes a function untracked.

mod callgraph;
mod ctx;
mod dataflow;
mod error;
#[cfg(feature = "alloc")]
mod front;
mod scratch;
mod structure;

pub use error::{VerifyError, VerifyErrorKind};
#[cfg(feature = "alloc")]
pub use front::{verify, BasicBlock, VerifiedProgram, Warning, WarningKind};
pub use scratch::{scratch_len, SlotScratch, SCRATCH_BYTES_PER_SLOT};

use crate::facts::FunctionInfo;
use crate::insn::Insn;
use error::VerifyErrorKind as K;
use scratch::flag;

/// What the host allows a program to use.
#[derive(Clone, Copy, Debug)]
pub struct VerifierConfig<'a> {
    /// Helper ids the host provides.
    pub helpers: &'a [u32],
    /// Bytes of eBPF stack for the whole call tree.
    pub stack_size: u32,
    /// Most frames a call chain may have, the entry function included.
    pub max_call_depth: u32,
    /// Sizes of the program's data regions, by index (what `lddw` src 6 names).
    pub data_sizes: &'a [u32],
}

impl VerifierConfig<'_> {
    /// The default stack: 512 bytes.
    pub const DEFAULT_STACK_SIZE: u32 = 512;
    /// The default call depth: 8 frames.
    pub const DEFAULT_MAX_CALL_DEPTH: u32 = 8;
}

impl<'a> VerifierConfig<'a> {
    /// Defaults for everything but the helper set.
    pub const fn new(helpers: &'a [u32]) -> Self {
        VerifierConfig {
            helpers,
            stack_size: Self::DEFAULT_STACK_SIZE,
            max_call_depth: Self::DEFAULT_MAX_CALL_DEPTH,
            data_sizes: &[],
        }
    }
}

impl Default for VerifierConfig<'_> {
    fn default() -> Self {
        VerifierConfig::new(&[])
    }
}

/// What [`verify_in`] proved, besides the function table it filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Functions found: the first this many entries of the table are valid.
    pub functions: usize,
    /// Bytes of stack the whole call tree can use: the maximum over
    /// functions of `max_entry_depth + frame_size`.
    pub stack_usage: u32,
    /// Context bytes the program accesses unconditionally; see
    /// [`crate::VerifiedRef::min_ctx_len`] for the exact rule.
    pub min_ctx_len: u32,
    /// Instructions no path from the entry reaches (not an error).
    pub unreachable_insns: u32,
}

/// Verifies `code` (slot 0 is the entry) without allocating.
///
/// `scratch` needs at least [`scratch_len`]`(code.len())` entries; after a
/// successful run its entries describe each slot (leaders, reachability).
/// `functions` receives one [`FunctionInfo`] per function, sorted by start;
/// if it is too short the error says how many were found.
pub fn verify_in(
    code: &[u64],
    cfg: &VerifierConfig,
    scratch: &mut [SlotScratch],
    functions: &mut [FunctionInfo],
) -> Result<Summary, VerifyError> {
    let n = code.len();
    if n == 0 {
        return Err(VerifyError::new(0, K::Empty));
    }
    if n > crate::MAX_INSNS {
        return Err(VerifyError::new(0, K::TooLong(n)));
    }
    let given = scratch.len();
    let s = scratch
        .get_mut(..scratch_len(n))
        .ok_or(VerifyError::new(0, K::ScratchTooSmall { needed: scratch_len(n), given }))?;
    s.fill(SlotScratch::EMPTY);

    structure::scan(code, cfg, s)?;
    let count = structure::layout(code, s, functions)?;
    let funcs = &mut functions[..count];
    callgraph::order(code, s, funcs)?;
    if cfg.max_call_depth < 1 {
        return Err(VerifyError::new(0, K::CallTooDeep { frames: 1, max: cfg.max_call_depth }));
    }
    dataflow::merge_into(&mut s[0], &dataflow::State::ENTRY);
    s[0].depth = 1;

    let mut stack_usage = 0;
    for k in (0..count).rev() {
        let f = s[k].order as usize;
        let info = funcs[f];
        propagate_depth(code, cfg, s, info)?;
        if !s[info.start as usize].has(flag::REACHED) {
            continue;
        }
        let facts = dataflow::analyse(code, cfg, s, info, f == 0)?;
        let med = info.max_entry_depth;
        let touched = round_up8(facts.deepest);
        let (frame_size, tracked) = if facts.untracked {
            if let Some(pc) = facts.first_local_call {
                return Err(VerifyError::new(pc, K::CallFromUntrackedFrame));
            }
            (cfg.stack_size.saturating_sub(med), false)
        } else {
            (touched, true)
        };
        let needed = u64::from(med) + u64::from(touched.max(frame_size));
        if needed > u64::from(cfg.stack_size) {
            return Err(VerifyError::new(
                info.start as usize,
                K::StackOverflow {
                    needed: u32::try_from(needed).unwrap_or(u32::MAX),
                    available: cfg.stack_size,
                },
            ));
        }
        stack_usage = stack_usage.max(needed as u32);
        funcs[f].frame_size = frame_size;
        funcs[f].frame_tracked = tracked;
        // Callees come later in the order, so their entry depth is final
        // by the time they are analysed.
        let callee_depth = med + frame_size;
        structure::for_each_insn(
            code,
            s,
            info.start as usize,
            info.end as usize,
            |pc, insn, s| {
                if let (Insn::CallLocal { .. }, true) = (insn, s[pc].is_reachable()) {
                    let t = structure::target_in(insn, pc, n).unwrap_or(0);
                    if let Some(g) = callgraph::function_at(funcs, t) {
                        let e = &mut funcs[g].max_entry_depth;
                        *e = (*e).max(callee_depth);
                    }
                }
                Ok(())
            },
        )?;
    }

    let entry_end = functions.first().map_or(0, |f| f.end as usize);
    let unreachable_insns = s.iter().filter(|e| e.is_insn() && !e.is_reachable()).count() as u32;
    Ok(Summary {
        functions: count,
        stack_usage,
        min_ctx_len: ctx::min_ctx_len(code, entry_end),
        unreachable_insns,
    })
}

/// Frames of the longest static call chain, pushed from a function to its
/// callees; a chain longer than allowed is reported at the call that makes it.
fn propagate_depth(
    code: &[u64],
    cfg: &VerifierConfig,
    s: &mut [SlotScratch],
    info: FunctionInfo,
) -> Result<(), VerifyError> {
    let depth = u32::from(s[info.start as usize].depth);
    if depth == 0 {
        return Ok(());
    }
    let n = code.len();
    structure::for_each_insn(code, s, info.start as usize, info.end as usize, |pc, insn, s| {
        if let (Insn::CallLocal { .. }, Some(t)) = (insn, structure::target_in(insn, pc, n)) {
            let frames = depth + 1;
            if frames > cfg.max_call_depth {
                return Err(VerifyError::new(
                    pc,
                    K::CallTooDeep { frames, max: cfg.max_call_depth },
                ));
            }
            let d = &mut s[t].depth;
            *d = (*d).max(u16::try_from(frames).unwrap_or(u16::MAX));
        }
        Ok(())
    })
}

const fn round_up8(x: u32) -> u32 {
    x.saturating_add(7) & !7
}
