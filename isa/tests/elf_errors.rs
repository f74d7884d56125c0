//! Every ElfError kind, from mutated real objects or small hand-made bytes.

mod elf_common;

use elf_common::{sh, Obj};
use femtoc_isa::{load_elf, ElfError, EntrySelector};

fn err(obj: &Obj) -> ElfError {
    err_with(obj, EntrySelector::Default)
}

fn err_with(obj: &Obj, sel: EntrySelector<'_>) -> ElfError {
    match load_elf(&obj.bytes, sel) {
        Ok(p) => panic!("loaded {} slots, expected an error", p.code.len()),
        Err(e) => e,
    }
}

const STB_LOCAL_FUNC: u8 = 0x02;
const STB_GLOBAL_FUNC: u8 = 0x12;
const STB_GLOBAL_NOTYPE: u8 = 0x10;

/// Overwrites section `index`'s name in the string table (same length or
/// shorter, NUL-terminated).
fn rename(obj: &mut Obj, index: usize, new: &str) {
    let at = obj.section_name_at(index);
    let old = obj.section_name(index);
    assert!(new.len() <= old.len());
    obj.bytes[at..at + new.len()].copy_from_slice(new.as_bytes());
    obj.bytes[at + new.len()] = 0;
}

#[test]
fn not_elf() {
    assert_eq!(load_elf(b"", EntrySelector::Default), Err(ElfError::NotElf));
    assert_eq!(load_elf(b"\x7fEL", EntrySelector::Default), Err(ElfError::NotElf));
    assert_eq!(load_elf(b"#!/bin/sh\n", EntrySelector::Default), Err(ElfError::NotElf));
}

#[test]
fn wrong_class_encoding_machine_and_type() {
    let base = Obj::load("fletcher32.v3.o");
    let mut o = base.clone();
    o.bytes[4] = 1;
    assert_eq!(err(&o), ElfError::Not64Bit(1));
    let mut o = base.clone();
    o.bytes[5] = 2;
    assert_eq!(err(&o), ElfError::NotLittleEndian(2));
    let mut o = base.clone();
    o.bytes[18..20].copy_from_slice(&62u16.to_le_bytes());
    assert_eq!(err(&o), ElfError::NotBpf(62));
    let mut o = base.clone();
    o.bytes[16..18].copy_from_slice(&2u16.to_le_bytes());
    assert_eq!(err(&o), ElfError::NotRelocatable(2));
}

#[test]
fn truncated_or_malformed_tables() {
    let base = Obj::load("counter.v3.o");
    // Shorter than the file header.
    let short = Obj { bytes: base.bytes[..40].to_vec() };
    assert!(matches!(err(&short), ElfError::Malformed(m) if m.contains("64-byte")));
    // The section table lies past the end.
    let cut = Obj { bytes: base.bytes[..base.shoff() + 10].to_vec() };
    assert!(matches!(err(&cut), ElfError::Malformed(_)));
    // A section's contents past the end of the file.
    let mut o = base.clone();
    let text = o.section(".text");
    o.set_sh_u64(text, sh::OFFSET, 1 << 40);
    assert!(matches!(err(&o), ElfError::Malformed(m) if m.contains(".text")));
    // Relocations with explicit addends are not what clang emits for BPF.
    let mut o = base.clone();
    let rel = o.section(".rel.text");
    o.set_sh_u32(rel, sh::TYPE, 4);
    assert!(matches!(err(&o), ElfError::Malformed(m) if m.contains("SHT_RELA")));
    // A relocation naming a symbol that does not exist.
    let mut o = base.clone();
    let r = o.rels_for(text)[0];
    o.bytes[r + 12..r + 16].copy_from_slice(&999u32.to_le_bytes());
    assert!(matches!(err(&o), ElfError::Malformed(m) if m.contains("symbol 999")));
}

#[test]
fn no_entry_and_ambiguous_entry() {
    let mut o = Obj::load("fletcher32.v1.o");
    o.set_symbol_info("fletcher32", STB_LOCAL_FUNC);
    assert_eq!(err(&o), ElfError::NoEntry(femtoc_isa::elf::NameList(vec!["fletcher32".into()])));

    let mut o = Obj::load("hash.v3.o");
    o.set_symbol_info("avalanche", STB_GLOBAL_FUNC);
    let e = err(&o);
    let ElfError::AmbiguousEntry(ref names) = e else { panic!("{e:?}") };
    let mut names = names.0.clone();
    names.sort();
    assert_eq!(names, ["avalanche", "hash"]);
    assert!(e.to_string().contains("`avalanche`"));
    // A selector settles it.
    assert!(load_elf(&o.bytes, EntrySelector::Function("hash")).is_ok());
    let e = err_with(&o, EntrySelector::Section("femto"));
    assert!(
        matches!(e, ElfError::AmbiguousSection { ref section, .. } if section == "femto"),
        "{e:?}"
    );
}

#[test]
fn unknown_function_or_section() {
    let o = Obj::load("hash.v4.o");
    let e = err_with(&o, EntrySelector::Function("nope"));
    let ElfError::FunctionNotFound { name, candidates } = &e else { panic!("{e:?}") };
    assert_eq!(name, "nope");
    assert!(
        candidates.0.contains(&"fnv1a".to_string()) && candidates.0.contains(&"hash".to_string())
    );

    let o = Obj::load("crc32.v3.o");
    // .rodata exists but holds no code.
    let e = err_with(&o, EntrySelector::Section(".rodata"));
    assert_eq!(
        e,
        ElfError::SectionNotFound {
            name: ".rodata".into(),
            candidates: femtoc_isa::elf::NameList(vec![".text".into()])
        }
    );
}

#[test]
fn code_size_not_a_multiple_of_8() {
    let mut o = Obj::load("fletcher32.v3.o");
    let text = o.section(".text");
    let size = o.sh_u64(text, sh::SIZE);
    o.set_sh_u64(text, sh::SIZE, size - 4);
    assert_eq!(err(&o), ElfError::CodeSizeNotMultiple { section: ".text".into(), size: size - 4 });
}

#[test]
fn function_symbol_off_a_slot() {
    let mut o = Obj::load("hash.v3.o");
    o.set_symbol_value("fnv1a", 4);
    assert_eq!(
        err(&o),
        ElfError::BadFunctionSymbol { symbol: "fnv1a".into(), section: ".text".into(), offset: 4 }
    );
}

#[test]
fn empty_entry_section() {
    let mut o = Obj::load("fletcher32.v3.o");
    let text = o.section(".text");
    o.set_sh_u64(text, sh::SIZE, 0);
    o.set_symbol_info("fletcher32", STB_GLOBAL_NOTYPE);
    assert_eq!(
        err_with(&o, EntrySelector::Section(".text")),
        ElfError::EmptyEntry { symbol: ".text".into(), section: ".text".into() }
    );
}

#[test]
fn unsupported_relocations() {
    let base = Obj::load("crc32.v3.o");
    let text = base.section(".text");
    let first = base.rels_for(text)[0];
    let at = base.rel_offset(first);

    // R_BPF_64_ABS64 on a lddw.
    let mut o = base.clone();
    o.set_rel_type(first, 2);
    let e = err(&o);
    assert_eq!(
        e,
        ElfError::UnsupportedRelocation {
            r_type: 2,
            section: ".text".into(),
            offset: at,
            symbol: ".rodata".into(),
            why: ": a lddw takes R_BPF_64_64",
        }
    );
    // A relocation on an ALU instruction (slot 0 is not a call or lddw).
    let mut o = base.clone();
    o.set_rel_offset(first, 0);
    assert!(
        matches!(err(&o), ElfError::UnsupportedRelocation { offset: 0, why, .. } if why.contains("not on a call"))
    );
    // Not on a slot boundary.
    let mut o = base.clone();
    o.set_rel_offset(first, at + 3);
    assert!(matches!(err(&o), ElfError::UnsupportedRelocation { why, .. } if why.contains("slot")));
    // On the second half of a lddw.
    let mut o = base.clone();
    o.set_rel_offset(first, at + 8);
    assert!(
        matches!(err(&o), ElfError::UnsupportedRelocation { why, .. } if why.contains("second slot"))
    );

    // R_BPF_64_64 on a call.
    let mut o = Obj::load("hash.v3.o");
    let femto = o.section("femto");
    let call = o.rels_for(femto)[0];
    assert_eq!(o.rel_type(call), 10);
    o.set_rel_type(call, 1);
    assert!(
        matches!(err(&o), ElfError::UnsupportedRelocation { r_type: 1, why, .. } if why.contains("R_BPF_64_32"))
    );
}

#[test]
fn maps_are_rejected() {
    for name in ["maps", ".maps"] {
        let mut o = Obj::load("crc32.v1.o");
        let rodata = o.section(".rodata");
        rename(&mut o, rodata, name);
        let e = err(&o);
        let ElfError::MapReference { symbol, section, from, .. } = &e else { panic!("{e:?}") };
        assert_eq!((symbol.as_str(), section.as_str(), from.as_str()), (name, name, ".text"));
        assert!(e.to_string().contains("map"));
    }
}

#[test]
fn other_sections_are_rejected() {
    let mut o = Obj::load("crc32.v1.o");
    let rodata = o.section(".rodata");
    rename(&mut o, rodata, ".ksyms");
    assert!(
        matches!(err(&o), ElfError::UnsupportedSection { section, from, .. } if section == ".ksyms" && from == ".text")
    );

    // A lddw of a function's address (a callback) is not data either.
    let mut o = Obj::load("crc32.v1.o");
    let text = o.section(".text");
    o.set_symbol_shndx(".rodata", text as u16);
    assert!(matches!(err(&o), ElfError::UnsupportedSection { section, .. } if section == ".text"));
}

#[test]
fn undefined_symbols_are_rejected() {
    let mut o = Obj::load("hash.v3.o");
    o.set_symbol_shndx(".text", 0);
    let e = err(&o);
    assert!(matches!(&e, ElfError::UndefinedSymbol { section, .. } if section == "femto"), "{e:?}");

    let mut o = Obj::load("atomics.v4.o");
    o.set_symbol_shndx("owner", 0);
    let e = err(&o);
    assert!(
        matches!(&e, ElfError::UndefinedSymbol { symbol, section, .. } if symbol == "owner" && section == ".text"),
        "{e:?}"
    );
}

#[test]
fn calls_must_reach_a_function_start() {
    // Relocated call into the middle of fnv1a: target = 0 + (imm + 1) * 8.
    let mut o = Obj::load("hash.v3.o");
    let femto = o.section("femto");
    let call = o.rels_for(femto)[0];
    let slot = o.rel_offset(call) as usize / 8;
    let word = o.section_slots(femto)[slot];
    o.set_slot(femto, slot, (word & 0xffff_ffff) | (1u64 << 32));
    let e = err(&o);
    assert_eq!(
        e,
        ElfError::BadCallTarget {
            section: "femto".into(),
            offset: slot as u64 * 8,
            target_section: ".text".into(),
            target: 16
        }
    );
    // Clang-resolved call (no relocation) past the end of the section.
    let mut o = Obj::load("hash.v3.o");
    let slots = o.section_slots(femto);
    let (slot, word) = slots
        .iter()
        .enumerate()
        .find(|&(s, &w)| {
            w & 0xffff == 0x1085
                && !o.rels_for(femto).iter().any(|&r| o.rel_offset(r) == s as u64 * 8)
        })
        .map(|(s, &w)| (s, w))
        .expect("an unrelocated local call");
    o.set_slot(femto, slot, (word & 0xffff_ffff) | (1000u64 << 32));
    assert!(
        matches!(err(&o), ElfError::BadCallTarget { target_section, .. } if target_section == "femto")
    );
}

#[test]
fn jumps_must_stay_in_their_function() {
    let mut o = Obj::load("fletcher32.v3.o");
    let text = o.section(".text");
    let slots = o.section_slots(text);
    let (slot, word) = slots
        .iter()
        .enumerate()
        .find(|&(_, &w)| matches!(w & 0x07, 0x05 | 0x06) && !matches!(w & 0xf0, 0x80 | 0x90))
        .map(|(s, &w)| (s, w))
        .expect("a jump");
    o.set_slot(text, slot, (word & !0xffff_0000) | (0x4000u64 << 16));
    assert_eq!(
        err(&o),
        ElfError::JumpOutOfFunction {
            section: ".text".into(),
            function: "fletcher32".into(),
            offset: slot as u64 * 8
        }
    );
}

#[test]
fn lddw_missing_its_second_slot() {
    let mut o = Obj::load("crc32.v3.o");
    let text = o.section(".text");
    let last = o.section_slots(text).len() - 1;
    o.set_slot(text, last, 0x18);
    assert_eq!(
        err(&o),
        ElfError::TruncatedLddw { section: ".text".into(), offset: last as u64 * 8 }
    );
}

#[test]
fn data_reference_out_of_range() {
    let mut o = Obj::load("crc32.v3.o");
    let text = o.section(".text");
    let at = o.rel_offset(o.rels_for(text)[0]) as usize / 8;
    let word = o.section_slots(text)[at];
    o.set_slot(text, at, (word & 0xffff_ffff) | (0x41u64 << 32));
    let e = err(&o);
    assert!(
        matches!(&e, ElfError::DataOffsetOutOfRange { section, size: 64, addend: 0x41, .. } if section == ".rodata"),
        "{e:?}"
    );
    // One past the end is a valid pointer.
    let mut o = Obj::load("crc32.v3.o");
    o.set_slot(text, at, (word & 0xffff_ffff) | (0x40u64 << 32));
    assert!(load_elf(&o.bytes, EntrySelector::Default).is_ok());
}

#[test]
fn pointers_in_data_are_rejected() {
    // Point a debug relocation section at .data, as `int *p = &x;` would.
    let mut o = Obj::load("counter.v3.g.o");
    let data = o.section(".data");
    let rel = o.section(".rel.debug_info");
    o.set_sh_u32(rel, sh::INFO, data as u32);
    assert!(matches!(err(&o), ElfError::DataRelocation { section, .. } if section == ".data"));
}

#[test]
fn oversized_data_section() {
    let mut o = Obj::load("counter.v1.o");
    let bss = o.section(".bss");
    o.set_sh_u64(bss, sh::SIZE, 1 << 33);
    assert_eq!(err(&o), ElfError::DataTooLarge { section: ".bss".into(), size: 1 << 33 });
}

#[test]
fn too_many_slots() {
    let mut o = Obj::load("fletcher32.v1.o");
    let text = o.section(".text");
    let slots = 65_537usize;
    let start = o.bytes.len().next_multiple_of(8);
    o.bytes.resize(start, 0);
    for _ in 0..slots - 1 {
        o.bytes.extend_from_slice(&0xb7u64.to_le_bytes()); // r0 = 0
    }
    o.bytes.extend_from_slice(&0x95u64.to_le_bytes()); // exit
    o.set_sh_u64(text, sh::OFFSET, start as u64);
    o.set_sh_u64(text, sh::SIZE, slots as u64 * 8);
    assert_eq!(err(&o), ElfError::TooManySlots(slots));
    // The limit itself is fine.
    o.set_sh_u64(text, sh::OFFSET, start as u64 + 8);
    o.set_sh_u64(text, sh::SIZE, (slots as u64 - 1) * 8);
    assert_eq!(load_elf(&o.bytes, EntrySelector::Default).map(|p| p.code.len()), Ok(65_536));
}

#[test]
fn messages_name_sections_and_symbols() {
    let mut o = Obj::load("atomics.v3.o");
    o.set_symbol_shndx("flags", 0);
    let msg = err(&o).to_string();
    assert!(msg.contains("`flags`") && msg.contains("`.text`"), "{msg}");
}
