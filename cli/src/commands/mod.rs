//! One module per `femtoc` subcommand.

pub mod asm;
pub mod compile;
pub mod conformance;
pub mod differential;
pub mod disasm;
pub mod plugin;
pub mod run;
pub mod verify;
