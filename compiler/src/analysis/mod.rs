//! Whole-program facts the backends use to emit cheaper code. Each is a
//! conservative over-approximation: a fact holds on every path of every
//! run, or it is not reported.

pub mod byte_pairs;
pub mod frame_readers;
pub mod frame_span;
pub mod groups;
pub mod loops;
pub mod low_word;
pub mod proven;
pub mod ranges;
pub mod regions;
pub mod webs;
pub mod zext;

pub use frame_readers::frame_readers;
pub use low_word::low_word_registers;
pub use ranges::RangeConfig;
pub use zext::{
    entry_values_read, entry_values_seen_by_helpers, narrow_registers, unwritten_registers,
};

/// Where control goes after `insn` at `pc` inside its function: a jump's
/// target, and the next slot unless the instruction jumps unconditionally
/// or exits. A local call goes on at the next slot; analyses that follow
/// it into the callee add the callee's start themselves.
pub(crate) fn successors(pc: usize, insn: &femtoc_isa::Insn) -> impl Iterator<Item = usize> {
    use femtoc_isa::Insn;
    let next = pc + insn.slots();
    let target = insn.branch_target(pc).and_then(|t| usize::try_from(t).ok());
    let (a, b) = match insn {
        Insn::Exit => (None, None),
        Insn::Ja { .. } | Insn::JaLong { .. } => (target, None),
        Insn::Jmp { .. } => (target, Some(next)),
        _ => (Some(next), None),
    };
    a.into_iter().chain(b)
}

#[cfg(test)]
mod tests;
