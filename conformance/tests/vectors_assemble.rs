//! The shared conformance vectors against the vector parser, the
//! assembler, the decoder and the disassembler (no execution here).

use std::path::PathBuf;

use femtoc_conformance::vector::{load_vectors, Vector, VectorFile};
use femtoc_isa::asm::assemble;
use femtoc_isa::decode_all;
use femtoc_isa::disasm::disassemble;
use femtoc_isa::program::Program;

/// Negative vectors that only the verifier can reject: they parse,
/// assemble and decode. The integrator adds the verifier stage for them.
const VERIFIER_ONLY: &[&str] = &[
    // `or %r0, %r10` reads r0 before anything writes it.
    "error",
];

fn conformance_dir() -> PathBuf {
    let shared = std::env::var_os("FEMTOC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")),
        PathBuf::from,
    );
    shared.join("conformance")
}

fn load(folder: &str) -> Vec<VectorFile> {
    let dir = conformance_dir().join(folder);
    let files = load_vectors(std::slice::from_ref(&dir))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    assert!(!files.is_empty(), "no vectors in {}", dir.display());
    files
}

/// The program of a vector as slots, from `-- asm` if present, else `-- raw`
/// (checked to decode completely).
fn program(vector: &Vector) -> Result<Program, String> {
    if let Some(asm) = &vector.asm {
        return assemble(&asm.text)
            .map_err(|e| format!("asm: {}", e.at_line_offset(asm.first_line)));
    }
    let raw = vector.raw.as_ref().ok_or("no program")?;
    decode_raw_words(raw)?;
    Ok(Program::from_code(raw.clone()))
}

fn decode_raw_words(code: &[u64]) -> Result<(), String> {
    for item in decode_all(code) {
        item.map_err(|(pc, e)| format!("decode: pc {pc}: {e}"))?;
    }
    Ok(())
}

fn check_all(files: &[VectorFile], check: impl Fn(&Vector) -> Result<(), String>) {
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let outcome = match &f.vector {
                Ok(v) => check(v),
                Err(e) => Err(format!("parse: {e}")),
            };
            outcome.err().map(|e| format!("{}: {e}", f.name()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_test_vector_parses_assembles_and_decodes() {
    check_all(&load("tests"), |v| {
        let program = program(v)?;
        decode_raw_words(&program.code)?;
        if let Some(raw) = &v.raw {
            decode_raw_words(raw)?;
        }
        Ok(())
    });
}

#[test]
fn asm_and_raw_give_the_same_slots() {
    let files = load("tests");
    let both = files
        .iter()
        .filter(|f| f.vector.as_ref().is_ok_and(|v| v.asm.is_some() && v.raw.is_some()))
        .count();
    assert!(both > 0, "no vector has both -- asm and -- raw; this test would check nothing");
    check_all(&files, |v| match (&v.asm, &v.raw) {
        (Some(_), Some(raw)) => {
            let code = program(v)?.code;
            if &code == raw {
                Ok(())
            } else {
                Err(format!("asm gives {code:#018x?}, raw says {raw:#018x?}"))
            }
        }
        _ => Ok(()),
    });
}

#[test]
fn disassembly_reassembles_to_the_same_bytecode() {
    check_all(&load("tests"), |v| {
        let program = program(v)?;
        // With the source's labels as symbols, and with generated labels only.
        for p in [program.clone(), Program::from_code(program.code.clone())] {
            let text = disassemble(&p);
            let again = assemble(&text).map_err(|e| format!("reassembly: {e}\n{text}"))?;
            if again.code != p.code {
                return Err(format!("reassembly differs:\n{text}"));
            }
        }
        Ok(())
    });
}

/// The first stage that rejects a negative vector, if any.
fn rejected_by(file: &VectorFile) -> Option<String> {
    let vector = match &file.vector {
        Ok(v) => v,
        Err(e) => return Some(format!("vector parser: {e}")),
    };
    if let Some(asm) = &vector.asm {
        if let Err(e) = assemble(&asm.text) {
            return Some(format!("assembler: {e}"));
        }
    }
    if let Some(raw) = &vector.raw {
        if let Err(e) = decode_raw_words(raw) {
            return Some(e);
        }
    }
    None
}

#[test]
fn negative_vectors_are_rejected_before_the_verifier() {
    let files = load("negative");
    for name in VERIFIER_ONLY {
        assert!(files.iter().any(|f| f.name() == *name), "{name}.data is missing from negative/");
    }
    let mut wrong = Vec::new();
    for file in &files {
        let name = file.name();
        let verifier_only = VERIFIER_ONLY.contains(&name.as_str());
        match (rejected_by(file), verifier_only) {
            (Some(_), false) | (None, true) => {}
            (None, false) => wrong.push(format!("{name}: accepted by every stage")),
            (Some(why), true) => {
                wrong.push(format!("{name}: listed as verifier-only but rejected by {why}"))
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
