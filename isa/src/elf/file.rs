//! A checked view of the parts of a relocatable BPF object the linker needs:
//! section names and kinds, symbols and the REL entries per section.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use object::elf::{FileHeader64, Rel64, SectionHeader64, Sym64};
use object::read::elf::{FileHeader, Rel, SectionHeader, SectionTable, Sym, SymbolTable};
use object::{elf, LittleEndian as LE, SectionIndex, SymbolIndex};

use super::error::ElfError;
use crate::program::DataKind;

/// ELF machine number of eBPF.
const EM_BPF: u16 = 247;
/// Index of the class byte in `e_ident`.
const EI_CLASS: usize = 4;
/// Index of the data-encoding byte in `e_ident`.
const EI_DATA: usize = 5;
/// Size of the ELF64 file header.
const EHDR_SIZE: usize = 64;

/// What a section is to the linker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SectionClass {
    /// Executable bytecode.
    Code,
    /// A data section that can become a region.
    Data(DataKind),
    /// Map definitions (`maps`, `.maps`), which femto-containers lack.
    Maps,
    /// Anything else (debug info, BTF, string tables, `license`, ...).
    Other,
}

/// One relocation, already checked to refer to a valid symbol index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reloc {
    /// ELF relocation type.
    pub r_type: u32,
    /// Symbol table index.
    pub sym: usize,
}

/// A symbol, resolved to its section.
#[derive(Clone, Debug)]
pub(crate) struct SymbolInfo {
    /// Name; a section symbol is named after its section.
    pub name: String,
    /// Defining section, `None` if undefined (or absolute/common).
    pub section: Option<usize>,
    /// `st_value` (a byte offset in a relocatable object).
    pub value: u64,
    /// `STT_*`.
    pub kind: u8,
    /// `STB_*`.
    pub bind: u8,
}

/// The parsed object.
pub(crate) struct ElfFile<'a> {
    data: &'a [u8],
    sections: SectionTable<'a, FileHeader64<LE>>,
    symtab: SymbolTable<'a, FileHeader64<LE>>,
    names: Vec<String>,
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
}

/// Checks the identification and the fields that tell what kind of file
/// this is, with a precise error for each, before any table is parsed.
fn check_ident(bytes: &[u8]) -> Result<(), ElfError> {
    if bytes.get(..4) != Some(&elf::ELFMAG[..]) {
        return Err(ElfError::NotElf);
    }
    let class = *bytes
        .get(EI_CLASS)
        .ok_or_else(|| ElfError::Malformed("file ends inside the ELF identification".into()))?;
    if class != elf::ELFCLASS64 {
        return Err(ElfError::Not64Bit(class));
    }
    let encoding = *bytes
        .get(EI_DATA)
        .ok_or_else(|| ElfError::Malformed("file ends inside the ELF identification".into()))?;
    if encoding != elf::ELFDATA2LSB {
        return Err(ElfError::NotLittleEndian(encoding));
    }
    if bytes.len() < EHDR_SIZE {
        return Err(ElfError::Malformed(format!(
            "file is {} bytes, shorter than the 64-byte ELF header",
            bytes.len()
        )));
    }
    let e_type = read_u16(bytes, 16).unwrap_or_default();
    let e_machine = read_u16(bytes, 18).unwrap_or_default();
    if e_machine != EM_BPF {
        return Err(ElfError::NotBpf(e_machine));
    }
    if e_type != elf::ET_REL {
        return Err(ElfError::NotRelocatable(e_type));
    }
    Ok(())
}

/// The linker's view of a section, by name and type.
fn classify(name: &str, header: &SectionHeader64<LE>) -> SectionClass {
    let flags = header.sh_flags(LE);
    let sh_type = header.sh_type(LE);
    let prefixed = |base: &str| {
        name == base || name.strip_prefix(base).is_some_and(|rest| rest.starts_with('.'))
    };
    if flags & u64::from(elf::SHF_EXECINSTR) != 0 && sh_type == elf::SHT_PROGBITS {
        SectionClass::Code
    } else if name == "maps" || name == ".maps" || name.starts_with("maps/") {
        SectionClass::Maps
    } else if sh_type != elf::SHT_PROGBITS && sh_type != elf::SHT_NOBITS {
        SectionClass::Other
    } else if prefixed(".rodata") {
        SectionClass::Data(DataKind::ReadOnly)
    } else if prefixed(".data") {
        SectionClass::Data(DataKind::ReadWrite)
    } else if prefixed(".bss") {
        SectionClass::Data(DataKind::Zeroed)
    } else {
        SectionClass::Other
    }
}

impl<'a> ElfFile<'a> {
    /// Parses and checks the header, section table and symbol table.
    pub fn parse(data: &'a [u8]) -> Result<Self, ElfError> {
        check_ident(data)?;
        let header = FileHeader64::<LE>::parse(data)?;
        let sections = header.sections(LE, data)?;
        let symtab = sections.symbols(LE, data, elf::SHT_SYMTAB)?;
        let names = sections
            .iter()
            .map(|s| {
                sections
                    .section_name(LE, s)
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .map_err(ElfError::from)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ElfFile { data, sections, symtab, names })
    }

    /// Number of sections (including the null section 0).
    pub fn section_count(&self) -> usize {
        self.names.len()
    }

    /// A section's name ("" for an index out of range).
    pub fn section_name(&self, index: usize) -> &str {
        self.names.get(index).map_or("", String::as_str)
    }

    fn header(&self, index: usize) -> Result<&'a SectionHeader64<LE>, ElfError> {
        Ok(self.sections.section(SectionIndex(index))?)
    }

    /// What the section at `index` is to the linker.
    pub fn class(&self, index: usize) -> SectionClass {
        match self.header(index) {
            Ok(h) if index != 0 => classify(self.section_name(index), h),
            _ => SectionClass::Other,
        }
    }

    /// `sh_size` of a section.
    pub fn section_size(&self, index: usize) -> Result<u64, ElfError> {
        Ok(self.header(index)?.sh_size(LE))
    }

    /// True for sections without file contents (`SHT_NOBITS`).
    pub fn is_nobits(&self, index: usize) -> Result<bool, ElfError> {
        Ok(self.header(index)?.sh_type(LE) == elf::SHT_NOBITS)
    }

    /// A section's contents (empty for `SHT_NOBITS`).
    pub fn section_data(&self, index: usize) -> Result<&'a [u8], ElfError> {
        let h = self.header(index)?;
        h.data(LE, self.data).map_err(|e| {
            ElfError::Malformed(format!("section `{}`: {e}", self.section_name(index)))
        })
    }

    /// Number of symbols (including the null symbol 0).
    pub fn symbol_count(&self) -> usize {
        self.symtab.len()
    }

    /// A symbol with its name and section resolved.
    pub fn symbol(&self, index: usize) -> Result<SymbolInfo, ElfError> {
        let sym: &Sym64<LE> = self.symtab.symbol(SymbolIndex(index))?;
        let section = self.symtab.symbol_section(LE, sym, SymbolIndex(index))?.map(|s| s.0);
        if let Some(s) = section {
            if s >= self.section_count() {
                return Err(ElfError::Malformed(format!(
                    "symbol {index} names section {s}, which does not exist"
                )));
            }
        }
        let kind = sym.st_type();
        let name = if kind == elf::STT_SECTION {
            section.map(|s| self.section_name(s).to_owned()).unwrap_or_default()
        } else {
            String::from_utf8_lossy(self.symtab.symbol_name(LE, sym)?).into_owned()
        };
        Ok(SymbolInfo { name, section, value: sym.st_value(LE), kind, bind: sym.st_bind() })
    }

    /// The name of symbol `index` for messages, never failing.
    pub fn symbol_name(&self, index: usize) -> String {
        self.symbol(index).map(|s| s.name).unwrap_or_else(|_| format!("symbol #{index}"))
    }

    /// The relocations applied to section `target`, by byte offset.
    /// `R_BPF_NONE` entries are dropped; RELA sections, two relocations at
    /// one offset and relocations naming missing symbols are errors.
    pub fn relocations(&self, target: usize) -> Result<BTreeMap<u64, Reloc>, ElfError> {
        let mut out = BTreeMap::new();
        for (index, header) in self.sections.iter().enumerate() {
            let sh_type = header.sh_type(LE);
            if sh_type != elf::SHT_REL && sh_type != elf::SHT_RELA {
                continue;
            }
            if header.sh_info(LE) as usize != target {
                continue;
            }
            let name = self.section_name(index);
            if sh_type == elf::SHT_RELA {
                return Err(ElfError::Malformed(format!(
                    "relocation section `{name}` has explicit addends (SHT_RELA); BPF objects use SHT_REL"
                )));
            }
            let entries: &[Rel64<LE>] = match header.rel(LE, self.data) {
                Ok(Some((entries, _))) => entries,
                Ok(None) => &[],
                Err(e) => return Err(ElfError::Malformed(format!("section `{name}`: {e}"))),
            };
            if header.sh_link(LE) as usize != self.symtab.section().0 {
                return Err(ElfError::Malformed(format!(
                    "relocation section `{name}` does not use the object's symbol table"
                )));
            }
            for entry in entries {
                let r_type = entry.r_type(LE);
                if r_type == elf::R_BPF_NONE {
                    continue;
                }
                let sym = entry.r_sym(LE) as usize;
                let offset = entry.r_offset(LE);
                if sym == 0 || sym >= self.symbol_count() {
                    return Err(ElfError::Malformed(format!(
                        "relocation at offset {offset:#x} of `{}` names symbol {sym}, which does not exist",
                        self.section_name(target)
                    )));
                }
                if out.insert(offset, Reloc { r_type, sym }).is_some() {
                    return Err(ElfError::Malformed(format!(
                        "two relocations at offset {offset:#x} of `{}`",
                        self.section_name(target)
                    )));
                }
            }
        }
        Ok(out)
    }
}
