//! Emulator harness for femtoc's non-host native code.
//!
//! `femtoc-emu` runs Thumb-2 (Cortex-M3/M4) and RV32IMC/RV32IMAC machine code under
//! [Unicorn](https://www.unicorn-engine.org/) and calls into it through the C ABI of the
//! core ([`Machine::call`]). Besides the result it reports what silicon would have cost:
//! an exact count of executed instructions, per-class counts, and a cycle estimate from the
//! documented table in [`cycles`].
//!
//! It also runs the Cranelift backend's AArch64 and RV64GC code ([`Machine64`],
//! [`run_blob64`]), counting instructions only, so that code for every host ISA is tested
//! on any host.
//!
//! Unicorn (based on an old QEMU) is more permissive than silicon. The executor therefore
//! checks, in its own code and memory hooks, what a real core would fault on: misaligned
//! LDRD/STRD/LDM/STM/LDREX/STREX on Cortex-M, misaligned halfword and word accesses on RV32,
//! A-extension instructions on an RV32IMC core, and any floating-point or coprocessor
//! instruction. Such a run fails with a specific [`EmuError`] instead of passing by accident.
//!
//! Host routines are served through *traps*: addresses in a reserved trap page that, when
//! called like a function, run a host callback ([`Machine::add_trap`]) with access to the
//! registers and memory, and then return to the caller.
//!
//! # Licence
//!
//! This crate links Unicorn, which is licensed under the GPL-2.0. Any binary that includes
//! `femtoc-emu` is therefore subject to the GPL-2.0 as a whole; the rest of femtoc stays
//! usable without it (the CLI makes emulator support an optional feature).

pub mod classify;
mod core;
pub mod cycles;
mod error;
mod harness;
mod machine;
pub mod machine64;
pub mod native;
pub mod native64;
mod trap;

pub use crate::core::Core;
pub use classify::{Forbidden, InsnClass};
pub use cycles::CycleTable;
pub use error::{EmuError, TrapError};
pub use machine::{CallResult, ClassCounts, Machine, MachineConfig, Perms};
pub use machine64::{Isa64, Machine64, Machine64Config};
pub use native::{run_blob, EmuRunError, EmuStats, NativeInput, NativeRun};
pub use native64::{run_blob64, Emu64RunError};
pub use trap::TrapContext;
