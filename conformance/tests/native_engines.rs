//! Every shared vector on each Cranelift engine this host can run, and a
//! full comparison with the interpreter: r0 or the error and its pc, the
//! budget used, every writable region and the helper calls.

use std::path::PathBuf;

use femtoc_conformance::engine::{engine_by_name, Case, Engine, Interpreter, ENGINE_NAMES};
use femtoc_conformance::runner::{
    must_be_rejected, run_files, vector_program, verify_for_harness, Verdict,
};
use femtoc_conformance::vector::{load_vectors, VectorFile};

fn vectors() -> Vec<VectorFile> {
    let dir: PathBuf = femtoc_conformance::shared_dir().join("conformance").join("tests");
    let files = load_vectors(std::slice::from_ref(&dir))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    assert!(files.len() > 100, "expected the shared vectors in {}", dir.display());
    files
}

fn native_engines() -> Vec<&'static str> {
    ENGINE_NAMES.iter().copied().filter(|n| *n != "interp").collect()
}

#[test]
fn every_vector_passes_on_every_native_engine() {
    let files = vectors();
    let engines = native_engines();
    assert!(engines.contains(&"x86_64") || !cfg!(target_arch = "x86_64"));
    for name in engines {
        let mut engine = engine_by_name(name).expect("engine");
        let report = run_files(&files, engine.as_mut()).expect("engine error");
        let failures: Vec<String> = report
            .verdicts
            .iter()
            .filter_map(|(p, v)| match v {
                Verdict::Fail(why) => Some(format!("{}: {why}", p.display())),
                Verdict::Skip(why) if !why.contains("callx") => {
                    Some(format!("{}: skipped: {why}", p.display()))
                }
                _ => None,
            })
            .collect();
        assert!(failures.is_empty(), "{name}: {}\n{}", report.summary(), failures.join("\n"));
        assert!(report.passed() > 200, "{name}: {}", report.summary());
        eprintln!("{name}: {}", report.summary());
    }
}

/// Same observation as the interpreter, also with budgets small enough
/// to stop loops and calls part-way.
#[test]
fn native_engines_observe_what_the_interpreter_observes() {
    let files = vectors();
    for name in native_engines() {
        let mut engine = engine_by_name(name).expect("engine");
        let mut compared = 0;
        for file in &files {
            let Ok(vector) = &file.vector else { continue };
            if must_be_rejected(&file.path) {
                continue;
            }
            let Ok(program) = vector_program(vector) else { continue };
            let Ok(verified) = verify_for_harness(&program) else { continue };
            for budget in [None, Some(0), Some(1), Some(3), Some(50)] {
                let case = Case { program: &verified, context: vector.mem.as_deref(), budget };
                let want = Interpreter.execute(&case).expect("interp");
                let got = engine.execute(&case).expect("native");
                assert_eq!(got, want, "{name}: {} with budget {budget:?}", file.path.display());
                compared += 1;
            }
        }
        assert!(compared > 1000, "{name}: only {compared} runs compared");
    }
}

/// Every vector compiles for every Cranelift engine, including those this
/// host cannot run (their code runs in the emulator).
#[test]
fn every_vector_compiles_for_every_host_isa() {
    use femtoc_runtime::engine::Engine as Id;
    let mut compiled = 0;
    for file in vectors() {
        let Ok(vector) = &file.vector else { continue };
        let Ok(program) = vector_program(vector) else { continue };
        let Ok(verified) = verify_for_harness(&program) else { continue };
        for engine in [Id::X86_64, Id::Aarch64, Id::Riscv64gc] {
            femtoc_compiler::cranelift::compile(&verified, engine)
                .unwrap_or_else(|e| panic!("{engine}: {}: {e}", file.path.display()));
            compiled += 1;
        }
    }
    assert!(compiled > 600, "only {compiled} compilations");
}

/// A 32-bit compare-and-swap whose expected value (r0) has a non-zero
/// upper half: only the low 32 bits take part. Cranelift 0.135's AArch64
/// lowering compared all 64 (found by the differential test).
#[test]
fn cmpxchg32_ignores_the_upper_half_of_r0_on_every_engine() {
    let src = "
        lddw %r0, 0x5ceeaa7a00000000
        stw [%r10-8], 0
        mov %r8, 0x20
        lock cmpxchg32 [%r10-8], %r8
        ldxw %r0, [%r10-8]
        exit";
    let program = femtoc_isa::assemble(src).expect("assembles");
    let verified = verify_for_harness(&program).expect("verifies");
    let case = Case { program: &verified, context: None, budget: None };
    let want = Interpreter.execute(&case).expect("interp");
    assert_eq!(want.result, Ok(0x20), "the swap happens: the low words are equal");
    for name in ENGINE_NAMES {
        let got = engine_by_name(name).expect("engine").execute(&case).expect("runs");
        assert_eq!(got, want, "{name}");
    }
}
