//! femtoc's host benchmarks: the programs, their inputs and reference
//! results, the memory the interpreter runs them over, and the report
//! table built from criterion's estimates.
//!
//! The criterion benches live in `benches/`; this library holds everything
//! they share so that it can be tested without timing anything.

pub mod baseline;
pub mod input;
pub mod memory;
pub mod programs;
pub mod reference;
pub mod report;

pub use input::{load_input, BenchInput, InputError, InputSource, SHARED_FLETCHER32};
pub use memory::{HostMemory, STACK_SIZE};
pub use programs::{BenchProgram, ProgramError, PROGRAMS};
