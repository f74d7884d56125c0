//! An owned program: linked bytecode plus the data regions its src-6
//! `lddw`s name. Produced by the assembler, the ELF loader and the raw
//! bytecode reader; consumed by the verifier.

use alloc::string::String;
use alloc::vec::Vec;

/// What a data region holds, which decides its permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// `.rodata*`: read-only, initialised.
    ReadOnly,
    /// `.data*`: read-write, initialised at install, persists across runs.
    ReadWrite,
    /// `.bss*`: read-write, zeroed at install, persists across runs.
    Zeroed,
}

impl DataKind {
    /// True if programs may write to regions of this kind.
    pub const fn writable(self) -> bool {
        !matches!(self, DataKind::ReadOnly)
    }
}

/// One data region of a program (region index = position in [`Program::data`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataRegion {
    /// Where it came from (an ELF section name such as `.rodata.str1.1`), for messages.
    pub name: String,
    /// Permissions and initialisation.
    pub kind: DataKind,
    /// Initial contents; empty for [`DataKind::Zeroed`].
    pub image: Vec<u8>,
    /// Size in bytes (at least `image.len()`; the rest is zero).
    pub size: u32,
}

/// A named position in the bytecode (function or label), for disassembly
/// and error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// Slot index.
    pub pc: usize,
    /// Name as written in the source.
    pub name: String,
}

/// A linked program: the entry function starts at slot 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Program {
    /// Bytecode slots as little-endian `u64`s.
    pub code: Vec<u64>,
    /// Data regions, indexed by src-6 `lddw`s.
    pub data: Vec<DataRegion>,
    /// Function and label names, sorted by pc (may be empty).
    pub symbols: Vec<Symbol>,
}

impl Program {
    /// A program with only code.
    pub fn from_code(code: Vec<u64>) -> Self {
        Program { code, ..Program::default() }
    }

    /// The program's bytecode as bytes in memory order.
    pub fn code_bytes(&self) -> Vec<u8> {
        self.code.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// The name of the symbol at exactly `pc`, if any.
    pub fn symbol_at(&self, pc: usize) -> Option<&str> {
        self.symbols.iter().find(|s| s.pc == pc).map(|s| s.name.as_str())
    }
}

/// Error reading raw bytecode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BytecodeError {
    /// No instruction at all.
    #[error("the bytecode is empty")]
    Empty,
    /// Length not a multiple of 8.
    #[error("bytecode length {0} is not a multiple of 8 bytes")]
    PartialSlot(usize),
    /// More than [`crate::MAX_INSNS`] slots.
    #[error("{0} instruction slots exceed the limit of {max}", max = crate::MAX_INSNS)]
    TooLong(usize),
}

/// Splits raw bytecode (memory order) into slots.
pub fn code_from_bytes(bytes: &[u8]) -> Result<Vec<u64>, BytecodeError> {
    if bytes.is_empty() {
        return Err(BytecodeError::Empty);
    }
    if !bytes.len().is_multiple_of(8) {
        return Err(BytecodeError::PartialSlot(bytes.len()));
    }
    let slots = bytes.len() / 8;
    if slots > crate::MAX_INSNS {
        return Err(BytecodeError::TooLong(slots));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect())
}
