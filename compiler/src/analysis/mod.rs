//! Whole-program facts the backends use to emit cheaper code. Each is a
//! conservative over-approximation: a fact holds on every path of every
//! run, or it is not reported.

pub mod groups;
pub mod regions;
pub mod zext;

pub use zext::{narrow_registers, unwritten_registers};

#[cfg(test)]
mod tests;
