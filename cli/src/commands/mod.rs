//! One module per `femtoc` subcommand.

pub mod asm;
pub mod conformance;
pub mod disasm;
pub mod inspect;
pub mod plugin;
pub mod run;
pub mod verify;
