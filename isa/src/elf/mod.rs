//! Loading relocatable BPF ELF objects as clang emits them
//! (`clang -target bpf -c`): choose the entry function, link every function
//! it reaches through local calls, and turn references to `.rodata*`,
//! `.data*` and `.bss*` into data regions addressed by src-6 `lddw`s.
//!
//! Layout of the result: the entry function at slot 0, then the other
//! reachable functions of its section by offset, then those of other
//! sections in section-table order. Data regions are the referenced data
//! sections in section-table order. Relocations of sections the program
//! does not use (debug info, BTF, unreachable code) are ignored.

mod entry;
mod error;
mod file;
mod link;

pub use error::{ElfError, NameList};

use crate::program::Program;

/// Which function of the object becomes the program's entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EntrySelector<'a> {
    /// The object's only global function, whatever its section.
    #[default]
    Default,
    /// The function with this name (a global one if names clash).
    Function(&'a str),
    /// The global function in this code section, or the section's start if
    /// it has none.
    Section(&'a str),
}

/// Loads a BPF ELF object into a linked [`Program`] whose entry function
/// starts at slot 0. Never panics, whatever the bytes.
pub fn load_elf(bytes: &[u8], entry: EntrySelector<'_>) -> Result<Program, ElfError> {
    let file = file::ElfFile::parse(bytes)?;
    let funcs = entry::function_symbols(&file)?;
    let start = entry::select(&file, &funcs, &entry)?;
    link::link(&file, &funcs, &start)
}
