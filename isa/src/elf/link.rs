//! Linking: find every function reachable from the entry through local
//! calls, lay them out with the entry first, patch call offsets for the new
//! layout and turn data references into src-6 `lddw`s.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use object::elf::{R_BPF_64_32, R_BPF_64_64};

use super::entry::{EntryPoint, FunctionSymbol};
use super::error::ElfError;
use super::file::{ElfFile, Reloc, SectionClass};
use crate::opcode::{class, jmp, LDDW};
use crate::program::{DataKind, DataRegion, Program, Symbol};
use crate::RawInsn;

/// `lddw` source meaning "address in data region `imm`, offset `imm2`".
const LDDW_SRC_DATA: u8 = 6;
/// `call` source of a local (bpf-to-bpf) call.
const CALL_SRC_LOCAL: u8 = 1;
const CALL: u8 = class::JMP | jmp::CALL;

/// A function: a code section's slots from one function start to the next.
type FuncKey = (usize, usize);

/// A code section loaded as slots, with its relocations and function starts.
struct CodeSection {
    slots: Vec<u64>,
    relocs: BTreeMap<u64, Reloc>,
    /// Slot of each function start, with its name.
    starts: BTreeMap<usize, String>,
}

/// What must be patched in a function once the layout is known.
enum Fix {
    /// Local call at `slot` (of its section) to a function.
    Call { slot: usize, target: FuncKey },
    /// `lddw` at `slot` of byte `offset` of data section `section`.
    Data { slot: usize, section: usize, offset: u32 },
}

struct Function {
    end: usize,
    name: String,
    fixes: Vec<Fix>,
}

struct Linker<'f, 'a> {
    file: &'f ElfFile<'a>,
    funcs: &'f [FunctionSymbol],
    code: BTreeMap<usize, CodeSection>,
}

fn slot_offset(slot: usize) -> u64 {
    (slot as u64).saturating_mul(8)
}

impl Linker<'_, '_> {
    fn section_name(&self, section: usize) -> String {
        String::from(self.file.section_name(section))
    }

    /// Loads a code section on first use and checks its shape.
    fn load(&mut self, section: usize) -> Result<&CodeSection, ElfError> {
        if !self.code.contains_key(&section) {
            let loaded = self.read_section(section)?;
            self.code.insert(section, loaded);
        }
        self.code
            .get(&section)
            .ok_or_else(|| ElfError::Malformed(String::from("code section vanished")))
    }

    fn read_section(&self, section: usize) -> Result<CodeSection, ElfError> {
        let bytes = self.file.section_data(section)?;
        if bytes.len() % 8 != 0 {
            return Err(ElfError::CodeSizeNotMultiple {
                section: self.section_name(section),
                size: bytes.len() as u64,
            });
        }
        let slots: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                u64::from_le_bytes(w)
            })
            .collect();
        let relocs = self.file.relocations(section)?;
        if let Some((&offset, r)) =
            relocs.iter().find(|(&o, _)| o % 8 != 0 || o >= slot_offset(slots.len()))
        {
            return Err(self.unsupported(section, offset, r, ": not on an instruction slot"));
        }
        let mut starts = BTreeMap::new();
        let mut globals = BTreeMap::new();
        for f in self.funcs.iter().filter(|f| f.section == section) {
            let slot = usize::try_from(f.offset / 8).unwrap_or(usize::MAX);
            if f.offset % 8 != 0 || slot >= slots.len() {
                return Err(ElfError::BadFunctionSymbol {
                    symbol: f.name.clone(),
                    section: self.section_name(section),
                    offset: f.offset,
                });
            }
            // Several symbols at one place: name it after a global one.
            if !globals.get(&slot).copied().unwrap_or(false) {
                starts.insert(slot, f.name.clone());
                globals.insert(slot, f.global);
            }
        }
        // Code before the first function symbol is a function of its own,
        // named after the section (a section used as one program).
        starts.entry(0).or_insert_with(|| self.section_name(section));
        Ok(CodeSection { slots, relocs, starts })
    }

    fn unsupported(&self, section: usize, offset: u64, r: &Reloc, why: &'static str) -> ElfError {
        ElfError::UnsupportedRelocation {
            r_type: r.r_type,
            section: self.section_name(section),
            offset,
            symbol: self.file.symbol_name(r.sym),
            why,
        }
    }

    /// The function starting exactly at `slot` of `section`.
    fn function_at(
        &mut self,
        from: (usize, usize),
        section: usize,
        target: i128,
    ) -> Result<FuncKey, ElfError> {
        let bad = ElfError::BadCallTarget {
            section: self.section_name(from.0),
            offset: slot_offset(from.1),
            target_section: self.section_name(section),
            target: i64::try_from(target).unwrap_or(i64::MAX),
        };
        if target < 0 || target % 8 != 0 {
            return Err(bad);
        }
        let Ok(slot) = usize::try_from(target / 8) else { return Err(bad) };
        if self.load(section)?.starts.contains_key(&slot) {
            Ok((section, slot))
        } else {
            Err(bad)
        }
    }

    /// Scans one function: its calls (to queue their targets), its data
    /// references, and its jumps (which must stay inside it).
    fn scan(&mut self, key: FuncKey) -> Result<Function, ElfError> {
        let (section, start) = key;
        let sec = self.load(section)?;
        let end = sec.starts.range(start + 1..).next().map_or(sec.slots.len(), |(&s, _)| s);
        let name = sec.starts.get(&start).cloned().unwrap_or_default();
        let slots = sec.slots.get(start..end).unwrap_or_default().to_vec();
        let relocs: Vec<(u64, Reloc)> =
            sec.relocs.range(slot_offset(start)..slot_offset(end)).map(|(&o, &r)| (o, r)).collect();
        let reloc_at =
            |slot: usize| relocs.iter().find(|(o, _)| *o == slot_offset(slot)).map(|&(_, r)| r);

        let mut fixes = Vec::new();
        let mut i = 0;
        while let Some(&word) = slots.get(i) {
            let pc = start + i;
            let raw = RawInsn::from_u64(word);
            let offset = slot_offset(pc);
            let reloc = reloc_at(pc);
            if raw.opcode == LDDW {
                let Some(&second) = slots.get(i + 1) else {
                    return Err(ElfError::TruncatedLddw {
                        section: self.section_name(section),
                        offset,
                    });
                };
                if let Some(r) = reloc_at(pc + 1) {
                    return Err(self.unsupported(
                        section,
                        offset + 8,
                        &r,
                        ": on the second slot of a lddw",
                    ));
                }
                if let Some(r) = reloc {
                    let addend = (word >> 32) | (second & 0xffff_ffff_0000_0000);
                    let (target, data_offset) = self.data_ref(section, offset, &r, addend)?;
                    fixes.push(Fix::Data { slot: pc, section: target, offset: data_offset });
                }
                i += 2;
                continue;
            }
            if raw.opcode == CALL {
                let target = match reloc {
                    Some(r) => Some(self.call_target(section, pc, &r, raw)?),
                    None if raw.src == CALL_SRC_LOCAL => {
                        let t = (pc as i128 + i128::from(raw.imm) + 1) * 8;
                        Some(self.function_at((section, pc), section, t)?)
                    }
                    None => None,
                };
                if let Some(target) = target {
                    fixes.push(Fix::Call { slot: pc, target });
                }
            } else if let Some(r) = reloc {
                return Err(self.unsupported(section, offset, &r, ": not on a call or lddw"));
            } else if let Some(delta) = jump_offset(raw) {
                let t = pc as i64 + delta + 1;
                if t < start as i64 || t >= end as i64 {
                    return Err(ElfError::JumpOutOfFunction {
                        section: self.section_name(section),
                        function: name,
                        offset,
                    });
                }
            }
            i += 1;
        }
        Ok(Function { end, name, fixes })
    }

    fn call_target(
        &mut self,
        section: usize,
        pc: usize,
        r: &Reloc,
        raw: RawInsn,
    ) -> Result<FuncKey, ElfError> {
        let offset = slot_offset(pc);
        if r.r_type != R_BPF_64_32 {
            return Err(self.unsupported(section, offset, r, ": a call takes R_BPF_64_32"));
        }
        let sym = self.file.symbol(r.sym)?;
        let Some(target_section) = sym.section else {
            return Err(ElfError::UndefinedSymbol {
                symbol: sym.name,
                section: self.section_name(section),
                offset,
            });
        };
        if raw.src != CALL_SRC_LOCAL {
            return Err(self.unsupported(
                section,
                offset,
                r,
                ": only local calls (src 1) are relocated",
            ));
        }
        if self.file.class(target_section) != SectionClass::Code {
            return Err(ElfError::UnsupportedSection {
                symbol: sym.name,
                section: self.section_name(target_section),
                from: self.section_name(section),
                offset,
            });
        }
        // REL: the instruction's imm holds the addend in slots, minus one,
        // as clang writes it for a call relative to the symbol.
        let target = i128::from(sym.value) + (i128::from(raw.imm) + 1) * 8;
        self.function_at((section, pc), target_section, target)
    }

    /// Resolves a `lddw` relocation to (data section, byte offset).
    fn data_ref(
        &self,
        section: usize,
        offset: u64,
        r: &Reloc,
        addend: u64,
    ) -> Result<(usize, u32), ElfError> {
        if r.r_type != R_BPF_64_64 {
            return Err(self.unsupported(section, offset, r, ": a lddw takes R_BPF_64_64"));
        }
        let sym = self.file.symbol(r.sym)?;
        let from = self.section_name(section);
        let Some(target) = sym.section else {
            return Err(ElfError::UndefinedSymbol { symbol: sym.name, section: from, offset });
        };
        match self.file.class(target) {
            SectionClass::Data(_) => {}
            SectionClass::Maps => {
                return Err(ElfError::MapReference {
                    symbol: sym.name,
                    section: self.section_name(target),
                    from,
                    offset,
                })
            }
            SectionClass::Code | SectionClass::Other => {
                return Err(ElfError::UnsupportedSection {
                    symbol: sym.name,
                    section: self.section_name(target),
                    from,
                    offset,
                })
            }
        }
        let size = self.file.section_size(target)?;
        let section_name = self.section_name(target);
        let out_of_range = || ElfError::DataOffsetOutOfRange {
            symbol: sym.name.clone(),
            section: section_name.clone(),
            size,
            addend,
            from: from.clone(),
            offset,
        };
        // One past the end is a valid C pointer; anything further is not.
        let data_offset =
            sym.value.checked_add(addend).filter(|&o| o <= size).ok_or_else(out_of_range)?;
        let data_offset = u32::try_from(data_offset)
            .map_err(|_| ElfError::DataTooLarge { section: self.section_name(target), size })?;
        Ok((target, data_offset))
    }

    fn region(&self, section: usize) -> Result<DataRegion, ElfError> {
        let name = self.section_name(section);
        let SectionClass::Data(kind) = self.file.class(section) else {
            return Err(ElfError::Malformed(alloc::format!("`{name}` is not a data section")));
        };
        if let Some((&offset, r)) = self.file.relocations(section)?.iter().next() {
            return Err(ElfError::DataRelocation {
                section: name,
                symbol: self.file.symbol_name(r.sym),
                offset,
            });
        }
        let size = self.file.section_size(section)?;
        let size32 = u32::try_from(size)
            .map_err(|_| ElfError::DataTooLarge { section: name.clone(), size })?;
        let image = if kind == DataKind::Zeroed || self.file.is_nobits(section)? {
            Vec::new()
        } else {
            self.file.section_data(section)?.to_vec()
        };
        Ok(DataRegion { name, kind, image, size: size32 })
    }
}

/// The relative jump distance of a jump instruction, `None` for anything
/// else (calls and exits included).
fn jump_offset(raw: RawInsn) -> Option<i64> {
    let cls = raw.opcode & 0x07;
    let op = raw.opcode & 0xf0;
    if cls != class::JMP && cls != class::JMP32 {
        return None;
    }
    match op {
        jmp::CALL | jmp::EXIT => None,
        // `ja32` (gotol) keeps its distance in imm.
        jmp::JA if cls == class::JMP32 => Some(i64::from(raw.imm)),
        _ => Some(i64::from(raw.off)),
    }
}

fn with_imm(word: u64, imm: u32) -> u64 {
    (word & 0x0000_0000_ffff_ffff) | (u64::from(imm) << 32)
}

/// Links the functions reachable from `entry` into one program.
pub(crate) fn link(
    file: &ElfFile<'_>,
    funcs: &[FunctionSymbol],
    entry: &EntryPoint,
) -> Result<Program, ElfError> {
    let mut linker = Linker { file, funcs, code: BTreeMap::new() };
    let entry_key =
        linker.function_at((entry.section, 0), entry.section, i128::from(entry.offset))?;

    let mut functions: BTreeMap<FuncKey, Function> = BTreeMap::new();
    let mut queue = alloc::vec![entry_key];
    let mut total: usize = 0;
    while let Some(key) = queue.pop() {
        if functions.contains_key(&key) {
            continue;
        }
        let function = linker.scan(key)?;
        total = total.saturating_add(function.end - key.1);
        if total > crate::MAX_INSNS {
            return Err(ElfError::TooManySlots(total));
        }
        for fix in &function.fixes {
            if let Fix::Call { target, .. } = fix {
                queue.push(*target);
            }
        }
        functions.insert(key, function);
    }
    if functions.get(&entry_key).is_some_and(|f| f.end == entry_key.1) {
        return Err(ElfError::EmptyEntry {
            symbol: entry.name.clone(),
            section: linker.section_name(entry.section),
        });
    }

    // Entry first, then the rest of its section, then the other sections in
    // section-table order; inside a section, by offset.
    let mut order: Vec<FuncKey> = functions.keys().copied().collect();
    order.sort_by_key(|&(s, start)| ((s, start) != entry_key, s != entry.section, s, start));
    let mut base = BTreeMap::new();
    let mut pc = 0usize;
    for key in &order {
        base.insert(*key, pc);
        pc += functions.get(key).map_or(0, |f| f.end - key.1);
    }

    let mut data_sections: Vec<usize> = functions
        .values()
        .flat_map(|f| &f.fixes)
        .filter_map(|fix| match fix {
            Fix::Data { section, .. } => Some(*section),
            Fix::Call { .. } => None,
        })
        .collect();
    data_sections.sort_unstable();
    data_sections.dedup();
    let data = data_sections.iter().map(|&s| linker.region(s)).collect::<Result<Vec<_>, _>>()?;

    let mut code = Vec::with_capacity(pc);
    let mut symbols = Vec::with_capacity(order.len());
    for key in &order {
        let (Some(function), Some(&at), Some(sec)) =
            (functions.get(key), base.get(key), linker.code.get(&key.0))
        else {
            continue;
        };
        let name = if *key == entry_key { entry.name.clone() } else { function.name.clone() };
        symbols.push(Symbol { pc: at, name });
        let mut slots = sec.slots.get(key.1..function.end).unwrap_or_default().to_vec();
        for fix in &function.fixes {
            match *fix {
                Fix::Call { slot, target } => {
                    let call_pc = at + (slot - key.1);
                    let target_pc = base.get(&target).copied().unwrap_or_default();
                    // Both pcs are below MAX_INSNS, so the difference fits.
                    let rel = target_pc as i64 - call_pc as i64 - 1;
                    if let Some(w) = slots.get_mut(slot - key.1) {
                        *w = with_imm(*w, rel as i32 as u32);
                    }
                }
                Fix::Data { slot, section, offset } => {
                    let region = data_sections.iter().position(|&s| s == section).unwrap_or(0);
                    let i = slot - key.1;
                    if let Some(w) = slots.get_mut(i) {
                        let mut raw = RawInsn::from_u64(*w);
                        raw.src = LDDW_SRC_DATA;
                        raw.imm = region as i32;
                        *w = raw.to_u64();
                    }
                    if let Some(w) = slots.get_mut(i + 1) {
                        *w = with_imm(*w, offset);
                    }
                }
            }
        }
        code.extend_from_slice(&slots);
    }
    Ok(Program { code, data, symbols })
}
