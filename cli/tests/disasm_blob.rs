//! `femtoc disasm OUT.fcb`: native code listed under the eBPF instructions
//! it came from, the plain listing when that cannot be known, and clean
//! refusal of corrupted blobs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use femtoc_isa::elf::{load_elf, EntrySelector};
use femtoc_runtime::blob::Blob;

const FLETCHER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/obj/fletcher32.v3.o");
const CRC32: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/obj/crc32.v3.o");

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("disasm_blob");
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir.join(name)
}

/// Exit code, stdout and stderr of `femtoc ARGS`.
fn femtoc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_femtoc")).args(args).output().expect("run femtoc");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Compiles fletcher32 for Thumb-2 (DSP) and x86-64 into `name`.
fn compile(name: &str, embed: bool) -> String {
    let out = scratch(name).to_string_lossy().into_owned();
    let mut args =
        vec!["compile", FLETCHER, "--target", "thumbv7em", "--target", "x86_64", "-o", &out];
    if embed {
        args.push("--embed-bytecode");
    }
    let (code, _, err) = femtoc(&args);
    assert_eq!(code, 0, "compile: {err}");
    out
}

/// Runs `femtoc disasm ARGS`, which must succeed.
fn disasm(args: &[&str]) -> String {
    let mut all = vec!["disasm"];
    all.extend_from_slice(args);
    let (code, out, err) = femtoc(&all);
    assert_eq!(code, 0, "disasm {args:?}: {err}");
    out
}

/// The blob's code section lengths by engine name, read by the runtime.
fn section_lengths(blob: &str) -> BTreeMap<String, usize> {
    let bytes = std::fs::read(blob).expect("read the blob");
    let blob = Blob::parse(&bytes).expect("the blob parses");
    blob.code_sections().map(|c| (c.engine.name().to_string(), c.code.len())).collect()
}

/// The listing split by `section ENGINE:` headers.
fn sections(listing: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in listing.lines() {
        if let Some(rest) = line.strip_prefix("section ") {
            let name = rest.split(':').next().unwrap_or_default().to_string();
            out.insert(name.clone(), vec![]);
            current = Some(name);
        } else if let Some(name) = &current {
            out.get_mut(name).unwrap().push(line.to_string());
        }
    }
    out
}

/// A machine instruction line: offset, bytes, text.
fn machine_line(line: &str) -> Option<(usize, Vec<u8>, String)> {
    let (offset, rest) = line.strip_prefix("  ")?.split_once(": ")?;
    let offset = usize::from_str_radix(offset.trim(), 16).ok()?;
    let (bytes, text) = rest.split_once("  ")?;
    let bytes = bytes
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<Vec<u8>, _>>()
        .ok()?;
    Some((offset, bytes, text.trim().to_string()))
}

/// Checks that the machine lines cover the section exactly, in order, and
/// returns their texts.
fn covers(lines: &[String], len: usize, what: &str) -> Vec<String> {
    let mut at = 0;
    let mut texts = vec![];
    for (offset, bytes, text) in lines.iter().filter_map(|l| machine_line(l)) {
        assert_eq!(offset, at, "{what}: offset of `{text}`");
        assert!(!bytes.is_empty(), "{what}: `{text}` has no bytes");
        at += bytes.len();
        texts.push(text);
    }
    assert_eq!(at, len, "{what}: listed bytes against the section length");
    texts
}

/// (pc, eBPF text) of every `; pc N: ...` line, in listing order.
fn pc_lines(lines: &[String]) -> Vec<(u32, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let (pc, text) = l.strip_prefix("; pc ")?.split_once(": ")?;
            Some((pc.parse().ok()?, text.to_string()))
        })
        .collect()
}

/// The pcs and texts of fletcher32's instructions, decoded here.
fn fletcher_insns() -> Vec<(u32, String)> {
    let program = load_elf(&std::fs::read(FLETCHER).unwrap(), EntrySelector::Default).unwrap();
    femtoc_isa::decode_all(&program.code)
        .map(|d| d.unwrap())
        .map(|d| (d.pc as u32, d.insn.to_string()))
        .collect()
}

/// Checks a Thumb-2 listing interleaved with fletcher32's instructions;
/// `halfwords`: whether its byte pairs are loaded as halfwords (the
/// default build; the build for size checks each byte on its own).
fn assert_interleaved(lines: &[String], halfwords: bool) {
    let insns = fletcher_insns();
    let shown = pc_lines(lines);
    let mut first_seen = vec![];
    for (pc, text) in &shown {
        let (_, expected) = insns
            .iter()
            .find(|(p, _)| p == pc)
            .unwrap_or_else(|| panic!("pc {pc} is not an instruction of the program"));
        assert!(text.starts_with(expected.as_str()), "pc {pc}: `{text}`, expected `{expected}`");
        if !first_seen.contains(pc) {
            first_seen.push(*pc);
        }
    }
    let all: Vec<u32> = insns.iter().map(|(pc, _)| *pc).collect();
    assert_eq!(first_seen, all, "every pc, first seen in ascending order");
    assert!(lines.iter().any(|l| l == "; shared exit stubs"), "shared tails are marked");

    // The code under each byte load does the load with a byte load, or,
    // where two byte loads assemble a halfword, with one halfword load.
    let mut byte_loads = 0;
    let mut halfword_loads = 0;
    for (i, line) in lines.iter().enumerate() {
        let is_ldxb = line.starts_with("; pc ")
            && line.contains(": ldxb ")
            && !line.contains("(out of line)")
            && !line.contains("(no code of its own)");
        if !is_ldxb {
            continue;
        }
        byte_loads += 1;
        let group: Vec<String> = lines[i + 1..]
            .iter()
            .take_while(|l| !l.starts_with(';'))
            .filter_map(|l| machine_line(l))
            .map(|(_, _, text)| text)
            .collect();
        let halfword = group.iter().any(|t| t.starts_with("ldrh"));
        halfword_loads += usize::from(halfword);
        assert!(
            halfword || group.iter().any(|t| t.starts_with("ldrb")),
            "{line}: no ldrb or ldrh in {group:?}"
        );
    }
    assert!(byte_loads >= 1, "fletcher32 loads bytes");
    assert_eq!(halfword_loads >= 1, halfwords, "fletcher32's words read as halfwords");
}

#[test]
fn thumb_code_is_listed_under_the_ebpf_it_came_from() {
    let blob = compile("embedded.fcb", true);
    let lengths = section_lengths(&blob);
    let listing = disasm(&[&blob]);
    let by_engine = sections(&listing);
    assert_eq!(
        by_engine.keys().collect::<Vec<_>>(),
        lengths.keys().collect::<Vec<_>>(),
        "one listing per section"
    );

    let thumb = &by_engine["thumbv7em"];
    assert!(!thumb.iter().any(|l| l.starts_with("; note:")), "{thumb:?}");
    let texts = covers(thumb, lengths["thumbv7em"], "thumbv7em");
    assert!(texts.iter().any(|t| t.starts_with("push")), "the prologue saves registers");
    assert_interleaved(thumb, true);

    let x86 = &by_engine["x86_64"];
    assert!(!x86.iter().any(|l| l.starts_with("; note:")), "{x86:?}");
    let texts = covers(x86, lengths["x86_64"], "x86_64");
    assert!(texts.iter().any(|t| t == "ret"), "x86-64 code returns");
    // Cranelift may move code around: every pc shows, each with the text of
    // its instruction, though not necessarily in ascending order.
    let insns = fletcher_insns();
    let shown = pc_lines(x86);
    for (pc, text) in &insns {
        let line = shown.iter().find(|(p, _)| p == pc);
        let line = line.unwrap_or_else(|| panic!("x86_64: pc {pc} is not listed"));
        assert!(line.1.starts_with(text.as_str()), "x86_64 pc {pc}: `{}`", line.1);
    }
}

#[test]
fn engine_chooses_one_section() {
    let blob = compile("choose.fcb", true);
    let listing = disasm(&[&blob, "--engine", "thumbv7em"]);
    let by_engine = sections(&listing);
    assert_eq!(by_engine.keys().collect::<Vec<_>>(), ["thumbv7em"]);

    let (code, _, err) = femtoc(&["disasm", &blob, "--engine", "aarch64"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no code for aarch64") && err.contains(&blob), "{err}");
}

#[test]
fn without_bytecode_the_listing_is_plain_and_says_why() {
    let blob = compile("bare.fcb", false);
    let lengths = section_lengths(&blob);
    let by_engine = sections(&disasm(&[&blob]));
    for (engine, lines) in &by_engine {
        let note = lines.iter().find(|l| l.starts_with("; note: no eBPF interleaving"));
        assert!(note.is_some_and(|n| n.contains("no bytecode")), "{engine}: {lines:?}");
        assert!(pc_lines(lines).is_empty(), "{engine}: no pc lines without a map");
        covers(lines, lengths[engine], engine);
    }
}

#[test]
fn bytecode_option_brings_the_interleaving_back() {
    let blob = compile("bare2.fcb", false);
    let lengths = section_lengths(&blob);
    let by_engine = sections(&disasm(&[&blob, "--bytecode", FLETCHER]));
    let thumb = &by_engine["thumbv7em"];
    assert!(!thumb.iter().any(|l| l.starts_with("; note:")), "{thumb:?}");
    covers(thumb, lengths["thumbv7em"], "thumbv7em");
    assert_interleaved(thumb, true);
}

#[test]
fn bytecode_of_another_program_is_not_interleaved() {
    let blob = compile("bare3.fcb", false);
    let lengths = section_lengths(&blob);
    let by_engine = sections(&disasm(&[&blob, "--bytecode", CRC32]));
    for (engine, lines) in &by_engine {
        let note = lines.iter().find(|l| l.starts_with("; note: no eBPF interleaving"));
        assert!(note.is_some_and(|n| n.contains("different code")), "{engine}: {lines:?}");
        assert!(pc_lines(lines).is_empty(), "{engine}");
        covers(lines, lengths[engine], engine);
    }
}

/// A corrupted blob is refused with exit 1 and the file named.
fn refused(path: &Path) {
    let file = path.to_string_lossy();
    let (code, out, err) = femtoc(&["disasm", &file]);
    assert_eq!(code, 1, "exit {code}: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(file.as_ref()), "the message names the file: {err}");
    assert!(out.is_empty(), "nothing listed from a bad blob: {out}");
}

#[test]
fn corrupted_blobs_are_refused_cleanly() {
    let blob = compile("good.fcb", true);
    let bytes = std::fs::read(&blob).unwrap();

    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let path = scratch("flipped.fcb");
    std::fs::write(&path, &flipped).unwrap();
    refused(&path);

    let path = scratch("cut.fcb");
    std::fs::write(&path, &bytes[..bytes.len() - 9]).unwrap();
    refused(&path);

    let path = scratch("header.fcb");
    std::fs::write(&path, &bytes[..10]).unwrap();
    refused(&path);
}

#[test]
fn blob_options_are_refused_for_programs() {
    let (code, _, err) = femtoc(&["disasm", FLETCHER, "--engine", "thumbv7em"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("blobs only"), "{err}");
}

#[test]
fn code_built_for_size_is_listed_under_its_ebpf_too() {
    let out = scratch("size.fcb").to_string_lossy().into_owned();
    let args =
        ["compile", FLETCHER, "--target", "thumbv7em", "--opt", "size", "--embed-bytecode", "-o"];
    let (code, _, err) = femtoc(&[&args[..], &[out.as_str()]].concat());
    assert_eq!(code, 0, "compile: {err}");
    let lengths = section_lengths(&out);
    let listing = disasm(&[&out]);
    let thumb = &sections(&listing)["thumbv7em"];
    assert!(!thumb.iter().any(|l| l.starts_with("; note:")), "{thumb:?}");
    covers(thumb, lengths["thumbv7em"], "thumbv7em");
    assert_interleaved(thumb, false);
}
