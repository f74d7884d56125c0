//! The Thumb-2 (ARMv7-M) backend: engines `thumbv7m` and `thumbv7em`.

pub mod assembler;
pub mod encode;
pub mod insn;

#[cfg(test)]
mod tests;
