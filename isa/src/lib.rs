//! The eBPF instruction set as femtoc understands it (RFC 9669), shared by
//! every engine: the typed instruction model with its decoder and encoder,
//! and (behind features) the assembler, the ELF loader and the verifier.
//!
//! The crate is `no_std`; the `alloc` feature adds owned programs and the
//! text assembler, `elf` the object-file loader.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

#[cfg(feature = "alloc")]
pub mod asm;
pub mod decode;
pub mod disasm;
#[cfg(feature = "elf")]
pub mod elf;
pub mod encode;
pub mod facts;
pub mod insn;
pub mod opcode;
#[cfg(feature = "alloc")]
pub mod program;
pub mod verifier;

#[cfg(feature = "alloc")]
pub use asm::{assemble, AsmError, AsmErrorKind};
pub use decode::{decode_all, decode_at, decode_raw, DecodeError, Decoded};
#[cfg(feature = "alloc")]
pub use disasm::{disassemble, disassemble_with_pcs};
#[cfg(feature = "elf")]
pub use elf::{load_elf, ElfError, EntrySelector};
pub use encode::Encoded;
pub use facts::{FunctionInfo, VerifiedRef};
pub use insn::{AluOp, AtomicOp, ByteOrder, Insn, JmpCond, MemSize, RawInsn, Reg, Source, Width};
pub use verifier::{
    scratch_len, verify_in, SlotScratch, VerifierConfig, VerifyError, VerifyErrorKind,
};
#[cfg(feature = "alloc")]
pub use verifier::{verify, VerifiedProgram};

/// Most instruction slots a program may have (RFC 9669 offsets reach this far).
pub const MAX_INSNS: usize = 65_536;
