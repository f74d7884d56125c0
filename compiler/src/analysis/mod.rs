//! Whole-program facts the backends use to emit cheaper code. Each is a
//! conservative over-approximation: a fact holds on every path of every
//! run, or it is not reported.

pub mod frame_span;
pub mod groups;
pub mod loops;
pub mod low_word;
pub mod proven;
pub mod ranges;
pub mod regions;
pub mod webs;
pub mod zext;

pub use low_word::low_word_registers;
pub use ranges::RangeConfig;
pub use zext::{entry_values_seen_by_helpers, narrow_registers, unwritten_registers};

#[cfg(test)]
mod tests;
