//! The shipped example objects load into well-formed programs.

mod elf_common;

use elf_common::{expected_objects, obj_dir, read_obj, Obj, CPUS, DEBUG_PROGRAMS};
use femtoc_isa::program::{DataKind, Program};
use femtoc_isa::{decode_all, load_elf, AtomicOp, Decoded, EntrySelector, Insn, MemSize};

fn load(name: &str) -> Program {
    load_elf(&read_obj(name), EntrySelector::Default).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn decoded(prog: &Program) -> Vec<Decoded> {
    decode_all(&prog.code).collect::<Result<Vec<_>, _>>().expect("every instruction decodes")
}

fn pc_of(prog: &Program, name: &str) -> usize {
    prog.symbols.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no symbol {name}")).pc
}

/// Targets of local calls, in program order.
fn call_targets(prog: &Program) -> Vec<usize> {
    decoded(prog)
        .iter()
        .filter(|d| matches!(d.insn, Insn::CallLocal { .. }))
        .map(|d| d.insn.branch_target(d.pc).unwrap() as usize)
        .collect()
}

/// (region, offset) of every src-6 lddw.
fn data_refs(prog: &Program) -> Vec<(u32, u32)> {
    decoded(prog)
        .iter()
        .filter_map(|d| match d.insn {
            Insn::LoadDataAddr { region, offset, .. } => Some((region, offset)),
            _ => None,
        })
        .collect()
}

fn region<'p>(prog: &'p Program, name: &str) -> (u32, &'p femtoc_isa::program::DataRegion) {
    let i =
        prog.data.iter().position(|r| r.name == name).unwrap_or_else(|| panic!("no region {name}"));
    (i as u32, &prog.data[i])
}

#[test]
fn the_build_rule_produced_every_object() {
    let mut found: Vec<String> = std::fs::read_dir(obj_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".o"))
        .collect();
    found.sort();
    assert_eq!(found, expected_objects());
}

#[test]
fn every_object_loads_into_a_well_formed_program() {
    for name in expected_objects() {
        let prog = load(&name);
        let program = name.split('.').next().unwrap();
        assert_eq!(prog.symbol_at(0), Some(program), "{name}: entry at slot 0");
        let insns = decoded(&prog);
        assert!(matches!(insns.last().map(|d| d.insn), Some(Insn::Exit)), "{name}: ends in exit");
        assert!(prog.symbols.windows(2).all(|w| w[0].pc < w[1].pc), "{name}: symbols sorted");
        for d in &insns {
            match d.insn {
                Insn::CallLocal { .. } => {
                    let t = d.insn.branch_target(d.pc).unwrap() as usize;
                    assert!(prog.symbol_at(t).is_some(), "{name}: call at {} to {t}", d.pc);
                }
                Insn::LoadDataAddr { region, offset, .. } => {
                    let r = &prog.data[region as usize];
                    assert!(offset <= r.size, "{name}: offset {offset} in {}", r.name);
                }
                _ => {}
            }
        }
        for (i, r) in prog.data.iter().enumerate() {
            let want = if r.name.starts_with(".rodata") {
                DataKind::ReadOnly
            } else if r.name.starts_with(".data") {
                DataKind::ReadWrite
            } else {
                assert!(r.name.starts_with(".bss"), "{name}: region {}", r.name);
                DataKind::Zeroed
            };
            assert_eq!(r.kind, want, "{name}: {}", r.name);
            if r.kind == DataKind::Zeroed {
                assert!(r.image.is_empty());
            } else {
                assert_eq!(r.image.len(), r.size as usize);
            }
            // Only referenced sections become regions.
            assert!(
                data_refs(&prog).iter().any(|&(reg, _)| reg as usize == i),
                "{name}: {}",
                r.name
            );
        }
    }
}

#[test]
fn fletcher32_is_its_text_section_unchanged() {
    for cpu in CPUS {
        let name = format!("fletcher32.v{cpu}.o");
        let obj = Obj::load(&name);
        let prog = load(&name);
        assert_eq!(prog.code, obj.section_slots(obj.section(".text")), "{name}");
        assert!(prog.data.is_empty());
    }
}

#[test]
fn crc32_table_becomes_a_read_only_region() {
    let table: Vec<u8> = (0u32..16)
        .map(|n| (0..4).fold(n, |c, _| (c >> 1) ^ if c & 1 != 0 { 0xEDB8_8320 } else { 0 }))
        .flat_map(u32::to_le_bytes)
        .collect();
    for cpu in CPUS {
        let prog = load(&format!("crc32.v{cpu}.o"));
        assert_eq!(prog.data.len(), 1);
        assert_eq!(prog.data[0].name, ".rodata");
        assert_eq!(prog.data[0].kind, DataKind::ReadOnly);
        assert_eq!(prog.data[0].image, table);
        let refs = data_refs(&prog);
        assert!(!refs.is_empty());
        assert!(refs.iter().all(|&r| r == (0, 0)), "{refs:?}");
    }
}

#[test]
fn counter_uses_every_data_kind_and_the_trace_helper() {
    let fmt = b"run %u len %u bucket %u\n\0";
    for cpu in CPUS {
        let name = format!("counter.v{cpu}.o");
        let prog = load(&name);
        let (data_i, data) = region(&prog, ".data");
        assert_eq!(
            (data.kind, data.image.as_slice()),
            (DataKind::ReadWrite, &1u64.to_le_bytes()[..])
        );
        let (bss_i, bss) = region(&prog, ".bss");
        assert_eq!((bss.kind, bss.size, bss.image.len()), (DataKind::Zeroed, 16 * 4, 0));
        let (str_i, strings) = region(&prog, ".rodata.str1.1");
        assert_eq!((strings.kind, strings.image.as_slice()), (DataKind::ReadOnly, &fmt[..]));
        let refs = data_refs(&prog);
        for i in [data_i, bss_i, str_i] {
            assert!(refs.contains(&(i, 0)), "{name}: region {i} at offset 0 in {refs:?}");
        }
        // Regions follow the section table.
        let obj = Obj::load(&name);
        let mut by_section: Vec<_> = prog.data.iter().map(|r| obj.section(&r.name)).collect();
        assert!(by_section.windows(2).all(|w| w[0] < w[1]), "{by_section:?}");
        by_section.dedup();
        assert_eq!(by_section.len(), 3);
        assert!(decoded(&prog).iter().any(|d| d.insn == Insn::Call { id: 1 }));
    }
}

#[test]
fn atomics_resolve_named_symbols_in_bss() {
    for cpu in [3, 4] {
        let prog = load(&format!("atomics.v{cpu}.o"));
        assert_eq!(prog.data.len(), 1);
        let bss = &prog.data[0];
        // total_bytes, calls (u64), flags, owner (u32).
        assert_eq!((bss.name.as_str(), bss.kind, bss.size), (".bss", DataKind::Zeroed, 24));
        let mut offsets: Vec<u32> = data_refs(&prog)
            .iter()
            .map(|&(r, o)| {
                assert_eq!(r, 0);
                o
            })
            .collect();
        offsets.sort_unstable();
        offsets.dedup();
        assert_eq!(offsets, [0, 8, 16, 20]);
        let ops: Vec<(MemSize, AtomicOp, bool)> = decoded(&prog)
            .iter()
            .filter_map(|d| match d.insn {
                Insn::Atomic { size, op, fetch, .. } => Some((size, op, fetch)),
                _ => None,
            })
            .collect();
        for want in [
            (MemSize::DW, AtomicOp::Add, true),
            (MemSize::DW, AtomicOp::Add, false),
            (MemSize::W, AtomicOp::Or, false),
            (MemSize::W, AtomicOp::And, false),
            (MemSize::W, AtomicOp::Xor, false),
            (MemSize::W, AtomicOp::CmpXchg, true),
            (MemSize::W, AtomicOp::Xchg, true),
        ] {
            assert!(ops.contains(&want), "v{cpu}: {want:?} in {ops:?}");
        }
    }
}

#[test]
fn hash_links_calls_across_sections() {
    for cpu in CPUS {
        let name = format!("hash.v{cpu}.o");
        let prog = load(&name);
        let obj = Obj::load(&name);
        let (fnv, aval) = (pc_of(&prog, "fnv1a"), pc_of(&prog, "avalanche"));
        // The entry's section first (hash, avalanche), then .text (fnv1a).
        assert!(0 < aval && aval < fnv, "{name}: {:?}", prog.symbols);
        assert_eq!(call_targets(&prog), [fnv, fnv, aval], "{name}");
        // fnv1a is all of .text and has no relocations: copied unchanged.
        let text = obj.section_slots(obj.section(".text"));
        assert_eq!(prog.code.len(), fnv + text.len());
        assert_eq!(&prog.code[fnv..], text.as_slice(), "{name}");
        // The femto section is the entry plus avalanche, in place.
        let femto = obj.section_slots(obj.section("femto"));
        assert_eq!(fnv, femto.len());
        for (pc, (&linked, &orig)) in prog.code.iter().zip(&femto).enumerate() {
            if linked != orig {
                assert_eq!(
                    linked & 0xffff_ffff,
                    orig & 0xffff_ffff,
                    "{name}: only imm changes at {pc}"
                );
            }
        }
    }
}

#[test]
fn debug_info_does_not_change_the_program() {
    for cpu in CPUS {
        for p in DEBUG_PROGRAMS {
            assert_eq!(
                load(&format!("{p}.v{cpu}.g.o")),
                load(&format!("{p}.v{cpu}.o")),
                "{p} v{cpu}"
            );
        }
    }
}

#[test]
fn selectors_pick_functions_and_sections() {
    let bytes = read_obj("hash.v3.o");
    let default = load_elf(&bytes, EntrySelector::Default).unwrap();
    assert_eq!(load_elf(&bytes, EntrySelector::Section("femto")).unwrap(), default);
    assert_eq!(load_elf(&bytes, EntrySelector::Function("hash")).unwrap(), default);

    let obj = Obj::load("hash.v3.o");
    let text = obj.section_slots(obj.section(".text"));
    let fnv = load_elf(&bytes, EntrySelector::Function("fnv1a")).unwrap();
    assert_eq!(fnv.code, text);
    assert_eq!(fnv.symbols.len(), 1);
    assert_eq!(fnv.symbol_at(0), Some("fnv1a"));
    // .text has no global function: the section start is the entry.
    assert_eq!(load_elf(&bytes, EntrySelector::Section(".text")).unwrap(), fnv);

    let aval = load_elf(&bytes, EntrySelector::Function("avalanche")).unwrap();
    assert_eq!(aval.symbol_at(0), Some("avalanche"));
    let from_default = pc_of(&default, "avalanche");
    assert_eq!(aval.code, default.code[from_default..pc_of(&default, "fnv1a")]);
}
