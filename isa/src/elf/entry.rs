//! Choosing the entry function.

use alloc::string::String;
use alloc::vec::Vec;

use object::elf;

use super::error::{ElfError, NameList};
use super::file::{ElfFile, SectionClass};
use super::EntrySelector;

/// Where the linked program starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EntryPoint {
    /// Code section.
    pub section: usize,
    /// Byte offset inside it.
    pub offset: u64,
    /// Name for the symbol table.
    pub name: String,
}

/// A function symbol defined in a code section.
#[derive(Clone, Debug)]
pub(crate) struct FunctionSymbol {
    pub name: String,
    pub section: usize,
    pub offset: u64,
    pub global: bool,
}

/// Every `STT_FUNC` symbol defined in a code section, in symbol-table order.
pub(crate) fn function_symbols(file: &ElfFile<'_>) -> Result<Vec<FunctionSymbol>, ElfError> {
    let mut out = Vec::new();
    for index in 1..file.symbol_count() {
        let sym = file.symbol(index)?;
        let Some(section) = sym.section else { continue };
        if sym.kind != elf::STT_FUNC || file.class(section) != SectionClass::Code {
            continue;
        }
        out.push(FunctionSymbol {
            name: sym.name,
            section,
            offset: sym.value,
            global: sym.bind == elf::STB_GLOBAL || sym.bind == elf::STB_WEAK,
        });
    }
    Ok(out)
}

fn names<'a>(funcs: impl Iterator<Item = &'a FunctionSymbol>) -> NameList {
    NameList(funcs.map(|f| f.name.clone()).collect())
}

fn entry_of(f: &FunctionSymbol) -> EntryPoint {
    EntryPoint { section: f.section, offset: f.offset, name: f.name.clone() }
}

/// Resolves the selector against the object's function symbols.
pub(crate) fn select(
    file: &ElfFile<'_>,
    funcs: &[FunctionSymbol],
    selector: &EntrySelector<'_>,
) -> Result<EntryPoint, ElfError> {
    match selector {
        EntrySelector::Default => {
            let globals: Vec<&FunctionSymbol> = funcs.iter().filter(|f| f.global).collect();
            match globals.as_slice() {
                [only] => Ok(entry_of(only)),
                [] => Err(ElfError::NoEntry(names(funcs.iter()))),
                many => Err(ElfError::AmbiguousEntry(names(many.iter().copied()))),
            }
        }
        EntrySelector::Function(name) => funcs
            .iter()
            .filter(|f| f.name == *name)
            // A global definition wins over a static one of the same name.
            .max_by_key(|f| f.global)
            .map(entry_of)
            .ok_or_else(|| ElfError::FunctionNotFound {
                name: String::from(*name),
                candidates: names(funcs.iter()),
            }),
        EntrySelector::Section(name) => {
            let section = (1..file.section_count())
                .find(|&s| file.section_name(s) == *name && file.class(s) == SectionClass::Code)
                .ok_or_else(|| ElfError::SectionNotFound {
                    name: String::from(*name),
                    candidates: NameList(
                        (1..file.section_count())
                            .filter(|&s| file.class(s) == SectionClass::Code)
                            .map(|s| String::from(file.section_name(s)))
                            .collect(),
                    ),
                })?;
            let globals: Vec<&FunctionSymbol> =
                funcs.iter().filter(|f| f.global && f.section == section).collect();
            match globals.as_slice() {
                [only] => Ok(entry_of(only)),
                [] => {
                    // No global function: the program is the section itself,
                    // as classic eBPF loaders see a program section.
                    let name = funcs
                        .iter()
                        .find(|f| f.section == section && f.offset == 0)
                        .map_or_else(|| String::from(*name), |f| f.name.clone());
                    Ok(EntryPoint { section, offset: 0, name })
                }
                many => Err(ElfError::AmbiguousSection {
                    section: String::from(*name),
                    candidates: names(many.iter().copied()),
                }),
            }
        }
    }
}
