//! Why an object file could not be loaded. Every variant names the section
//! and, where one is involved, the symbol, so a message points at the C.

use alloc::string::String;
use alloc::vec::Vec;

/// A comma-separated list for messages; "none" when empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameList(pub Vec<String>);

impl core::fmt::Display for NameList {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{name}`")?;
        }
        Ok(())
    }
}

/// Error loading a BPF ELF object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    /// The input does not start with the ELF magic bytes.
    #[error("not an ELF file (the first bytes are not \\x7fELF)")]
    NotElf,
    /// ELF class other than 64-bit.
    #[error("ELF class {0} is not 64-bit (eBPF objects are ELFCLASS64, 2)")]
    Not64Bit(u8),
    /// ELF data encoding other than little-endian.
    #[error(
        "ELF data encoding {0} is not little-endian (femtoc loads `-target bpfel` objects, 1)"
    )]
    NotLittleEndian(u8),
    /// `e_machine` is not EM_BPF.
    #[error("ELF machine {0} is not eBPF (EM_BPF, 247); compile with `clang -target bpf`")]
    NotBpf(u16),
    /// `e_type` is not ET_REL.
    #[error("ELF type {0} is not a relocatable object (ET_REL, 1); pass the `.o` from `clang -c`")]
    NotRelocatable(u16),
    /// Headers, section table, symbol table or string tables are truncated
    /// or inconsistent.
    #[error("malformed ELF: {0}")]
    Malformed(String),
    /// No global function to use as the entry.
    #[error("no entry: the object defines no global function (other functions: {0}); name one with a function or section selector")]
    NoEntry(NameList),
    /// Several global functions and no selector.
    #[error("several global functions could be the entry ({0}); choose one with a function or section selector")]
    AmbiguousEntry(NameList),
    /// The selected function does not exist.
    #[error("no function `{name}` in the object (functions: {candidates})")]
    FunctionNotFound {
        /// The name asked for.
        name: String,
        /// Functions the object does define.
        candidates: NameList,
    },
    /// The selected section does not exist or holds no code.
    #[error("no code section `{name}` in the object (code sections: {candidates})")]
    SectionNotFound {
        /// The name asked for.
        name: String,
        /// Code sections the object does have.
        candidates: NameList,
    },
    /// The selected section has several global functions.
    #[error("section `{section}` has several global functions ({candidates}); choose one by name")]
    AmbiguousSection {
        /// The section asked for.
        section: String,
        /// Its global functions.
        candidates: NameList,
    },
    /// A code section's size is not a whole number of instruction slots.
    #[error("code section `{section}` is {size} bytes, not a multiple of 8")]
    CodeSizeNotMultiple {
        /// The section.
        section: String,
        /// Its size in bytes.
        size: u64,
    },
    /// A function symbol does not lie on a slot inside its section.
    #[error("function `{symbol}` at offset {offset:#x} of `{section}` is not on an instruction slot inside the section")]
    BadFunctionSymbol {
        /// The symbol.
        symbol: String,
        /// Its section.
        section: String,
        /// Its value (byte offset).
        offset: u64,
    },
    /// The entry function has no instructions.
    #[error("entry function `{symbol}` in `{section}` is empty")]
    EmptyEntry {
        /// The entry's name.
        symbol: String,
        /// Its section.
        section: String,
    },
    /// A relocation type the loader does not handle, or one applied to an
    /// instruction it cannot apply to.
    #[error("relocation type {r_type} against `{symbol}` at offset {offset:#x} of `{section}` is not supported{why}")]
    UnsupportedRelocation {
        /// ELF relocation type (R_BPF_*).
        r_type: u32,
        /// Relocated section.
        section: String,
        /// Byte offset in that section.
        offset: u64,
        /// Symbol the relocation refers to.
        symbol: String,
        /// Extra explanation, starting with a separator, or empty.
        why: &'static str,
    },
    /// The program refers to a map definition.
    #[error("`{symbol}` in `{section}` is a map definition (referenced at offset {offset:#x} of `{from}`); femto-containers have no maps, use .data/.bss globals")]
    MapReference {
        /// The map symbol.
        symbol: String,
        /// The maps section.
        section: String,
        /// Code section holding the reference.
        from: String,
        /// Byte offset of the reference.
        offset: u64,
    },
    /// The program refers to a section the loader cannot provide.
    #[error("`{symbol}` in section `{section}` (referenced at offset {offset:#x} of `{from}`) is not code, .rodata*, .data* or .bss*; femtoc cannot provide it")]
    UnsupportedSection {
        /// The referenced symbol.
        symbol: String,
        /// Its section.
        section: String,
        /// Code section holding the reference.
        from: String,
        /// Byte offset of the reference.
        offset: u64,
    },
    /// A call or reference to a symbol the object does not define.
    #[error("`{symbol}` (referenced at offset {offset:#x} of `{section}`) is not defined in this object; femtoc links a single object and calls helpers by number")]
    UndefinedSymbol {
        /// The undefined symbol.
        symbol: String,
        /// Code section holding the reference.
        section: String,
        /// Byte offset of the reference.
        offset: u64,
    },
    /// A local call whose target is not the start of a function.
    #[error("call at offset {offset:#x} of `{section}` targets offset {target:#x} of `{target_section}`, which is not the start of a function")]
    BadCallTarget {
        /// Section of the call.
        section: String,
        /// Byte offset of the call.
        offset: u64,
        /// Section of the target.
        target_section: String,
        /// Byte offset of the target (may be out of the section).
        target: i64,
    },
    /// A jump leaves the function it belongs to, so it cannot be relinked.
    #[error("jump at offset {offset:#x} of `{section}` (in `{function}`) leaves its function")]
    JumpOutOfFunction {
        /// Section of the jump.
        section: String,
        /// Function holding the jump.
        function: String,
        /// Byte offset of the jump.
        offset: u64,
    },
    /// A `lddw` in the last slot of its function.
    #[error("lddw at offset {offset:#x} of `{section}` is missing its second slot")]
    TruncatedLddw {
        /// Section of the instruction.
        section: String,
        /// Byte offset.
        offset: u64,
    },
    /// A data reference outside its section.
    #[error("reference to `{symbol}` + {addend:#x} (offset {offset:#x} of `{from}`) lies outside `{section}` ({size} bytes)")]
    DataOffsetOutOfRange {
        /// Referenced symbol.
        symbol: String,
        /// Its data section.
        section: String,
        /// The section's size.
        size: u64,
        /// Offset from the symbol.
        addend: u64,
        /// Code section of the reference.
        from: String,
        /// Byte offset of the reference.
        offset: u64,
    },
    /// A data section holding relocations (pointers), which femtoc cannot
    /// resolve because data addresses are only known on the device.
    #[error("data section `{section}` holds a relocation against `{symbol}` at offset {offset:#x} (a pointer in initialised data); femtoc cannot relocate data")]
    DataRelocation {
        /// The data section.
        section: String,
        /// The relocation's symbol.
        symbol: String,
        /// Byte offset inside the section.
        offset: u64,
    },
    /// A data section larger than a region can be.
    #[error("data section `{section}` is {size} bytes, more than a region can hold (4 GiB)")]
    DataTooLarge {
        /// The section.
        section: String,
        /// Its size.
        size: u64,
    },
    /// More slots than a program may have.
    #[error("the linked program has {0} instruction slots, more than the limit of {max}", max = crate::MAX_INSNS)]
    TooManySlots(usize),
}

impl From<object::read::Error> for ElfError {
    fn from(e: object::read::Error) -> Self {
        ElfError::Malformed(alloc::format!("{e}"))
    }
}
