//! Shared by the ELF loader tests: the shipped objects and a tiny, separate
//! ELF64 reader/editor to find and mutate headers, symbols and relocations
//! (deliberately not the loader's own code).
#![allow(dead_code)]

use std::path::PathBuf;

/// Programs built for v1, v3 and v4 (see examples/c/Makefile).
pub const PROGRAMS: [&str; 6] = ["fletcher32", "sort", "crc32", "hash", "counter", "atomics"];
/// Programs that also have `-g` builds.
pub const DEBUG_PROGRAMS: [&str; 2] = ["hash", "counter"];
/// ISA versions the objects are built for.
pub const CPUS: [u32; 3] = [1, 3, 4];

pub fn obj_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/obj"))
}

/// Every object file the build rule must have produced, by file name.
pub fn expected_objects() -> Vec<String> {
    let mut out = Vec::new();
    for cpu in CPUS {
        for p in PROGRAMS {
            // Atomic instructions need v3.
            if p == "atomics" && cpu == 1 {
                continue;
            }
            out.push(format!("{p}.v{cpu}.o"));
        }
        for p in DEBUG_PROGRAMS {
            out.push(format!("{p}.v{cpu}.g.o"));
        }
    }
    out.sort();
    out
}

pub fn read_obj(name: &str) -> Vec<u8> {
    let path = obj_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// A mutable ELF64 little-endian object with helpers to find things.
#[derive(Clone)]
pub struct Obj {
    pub bytes: Vec<u8>,
}

/// Field offsets inside a section header.
pub mod sh {
    pub const NAME: usize = 0;
    pub const TYPE: usize = 4;
    pub const FLAGS: usize = 8;
    pub const OFFSET: usize = 24;
    pub const SIZE: usize = 32;
    pub const LINK: usize = 40;
    pub const INFO: usize = 44;
}

impl Obj {
    pub fn load(name: &str) -> Self {
        Obj { bytes: read_obj(name) }
    }

    pub fn shoff(&self) -> usize {
        u64_at(&self.bytes, 0x28) as usize
    }
    pub fn shnum(&self) -> usize {
        u16_at(&self.bytes, 0x3c) as usize
    }
    fn shstrndx(&self) -> usize {
        u16_at(&self.bytes, 0x3e) as usize
    }
    /// File offset of section header `index`.
    pub fn sh_at(&self, index: usize) -> usize {
        self.shoff() + index * 64
    }
    pub fn sh_u32(&self, index: usize, field: usize) -> u32 {
        u32_at(&self.bytes, self.sh_at(index) + field)
    }
    pub fn sh_u64(&self, index: usize, field: usize) -> u64 {
        u64_at(&self.bytes, self.sh_at(index) + field)
    }
    pub fn set_sh_u32(&mut self, index: usize, field: usize, v: u32) {
        let at = self.sh_at(index) + field;
        self.bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    pub fn set_sh_u64(&mut self, index: usize, field: usize, v: u64) {
        let at = self.sh_at(index) + field;
        self.bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    fn cstr(&self, at: usize) -> String {
        let end = self.bytes[at..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8(self.bytes[at..at + end].to_vec()).unwrap()
    }
    /// File offset of the string `name` of section `index`.
    pub fn section_name_at(&self, index: usize) -> usize {
        let strtab = self.sh_u64(self.shstrndx(), sh::OFFSET) as usize;
        strtab + self.sh_u32(index, sh::NAME) as usize
    }
    pub fn section_name(&self, index: usize) -> String {
        self.cstr(self.section_name_at(index))
    }
    pub fn section(&self, name: &str) -> usize {
        (0..self.shnum())
            .find(|&i| self.section_name(i) == name)
            .unwrap_or_else(|| panic!("no section {name}"))
    }
    pub fn section_bytes(&self, index: usize) -> &[u8] {
        let off = self.sh_u64(index, sh::OFFSET) as usize;
        let size = self.sh_u64(index, sh::SIZE) as usize;
        &self.bytes[off..off + size]
    }
    pub fn section_slots(&self, index: usize) -> Vec<u64> {
        self.section_bytes(index)
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }
    /// Names and contents of the executable sections, in table order.
    pub fn code_sections(&self) -> Vec<(String, Vec<u8>)> {
        (1..self.shnum())
            .filter(|&i| self.sh_u64(i, sh::FLAGS) & 0x4 != 0)
            .map(|i| (self.section_name(i), self.section_bytes(i).to_vec()))
            .collect()
    }
    /// File offset of slot `slot` of section `index`.
    pub fn slot_at(&self, index: usize, slot: usize) -> usize {
        self.sh_u64(index, sh::OFFSET) as usize + slot * 8
    }

    fn symtab(&self) -> usize {
        (0..self.shnum()).find(|&i| self.sh_u32(i, sh::TYPE) == 2).unwrap()
    }
    /// File offset of the symbol table entry for `name` (section symbols
    /// are found by their section's name).
    pub fn symbol_at(&self, name: &str) -> usize {
        let symtab = self.symtab();
        let strtab = self.sh_u64(self.sh_u32(symtab, sh::LINK) as usize, sh::OFFSET) as usize;
        let base = self.sh_u64(symtab, sh::OFFSET) as usize;
        let count = self.sh_u64(symtab, sh::SIZE) as usize / 24;
        (1..count)
            .map(|i| base + i * 24)
            .find(|&at| {
                let info = self.bytes[at + 4];
                if info & 0xf == 3 {
                    let shndx = u16_at(&self.bytes, at + 6) as usize;
                    self.section_name(shndx) == name
                } else {
                    self.cstr(strtab + u32_at(&self.bytes, at) as usize) == name
                }
            })
            .unwrap_or_else(|| panic!("no symbol {name}"))
    }
    pub fn set_symbol_info(&mut self, name: &str, info: u8) {
        let at = self.symbol_at(name);
        self.bytes[at + 4] = info;
    }
    pub fn set_symbol_shndx(&mut self, name: &str, shndx: u16) {
        let at = self.symbol_at(name);
        self.bytes[at + 6..at + 8].copy_from_slice(&shndx.to_le_bytes());
    }
    pub fn set_symbol_value(&mut self, name: &str, value: u64) {
        let at = self.symbol_at(name);
        self.bytes[at + 8..at + 16].copy_from_slice(&value.to_le_bytes());
    }
    /// File offsets of the REL entries applied to section `target`.
    pub fn rels_for(&self, target: usize) -> Vec<usize> {
        (0..self.shnum())
            .filter(|&i| {
                self.sh_u32(i, sh::TYPE) == 9 && self.sh_u32(i, sh::INFO) as usize == target
            })
            .flat_map(|i| {
                let off = self.sh_u64(i, sh::OFFSET) as usize;
                let n = self.sh_u64(i, sh::SIZE) as usize / 16;
                (0..n).map(move |k| off + k * 16)
            })
            .collect()
    }
    pub fn rel_offset(&self, rel: usize) -> u64 {
        u64_at(&self.bytes, rel)
    }
    pub fn rel_type(&self, rel: usize) -> u32 {
        u32_at(&self.bytes, rel + 8)
    }
    pub fn set_rel_offset(&mut self, rel: usize, v: u64) {
        self.bytes[rel..rel + 8].copy_from_slice(&v.to_le_bytes());
    }
    pub fn set_rel_type(&mut self, rel: usize, t: u32) {
        self.bytes[rel + 8..rel + 12].copy_from_slice(&t.to_le_bytes());
    }
    pub fn set_slot(&mut self, section: usize, slot: usize, word: u64) {
        let at = self.slot_at(section, slot);
        self.bytes[at..at + 8].copy_from_slice(&word.to_le_bytes());
    }
}
