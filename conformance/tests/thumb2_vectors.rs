//! Every shared vector on `thumbv7m` and `thumbv7em` (compiled, run in the
//! Unicorn Cortex-M3/M4 model with the silicon checks on): the verdict of
//! the vector and an observation identical to the interpreter's.
#![cfg(feature = "emu")]

use femtoc_conformance::engine::{engine_by_name, Case, Engine, Interpreter};
use femtoc_conformance::runner::{judge, vector_program, verify_for_harness, Verdict};
use femtoc_conformance::shared_dir;
use femtoc_conformance::vector::load_vectors;

fn run_all(name: &str) {
    let dir = shared_dir().join("conformance").join("tests");
    let files = load_vectors(std::slice::from_ref(&dir)).expect("vectors load");
    assert!(files.len() > 100, "too few vectors in {}", dir.display());
    let mut engine = engine_by_name(name).expect("engine exists");
    let mut failures = Vec::new();
    let (mut passed, mut skipped) = (0, 0);
    for file in &files {
        let label = file.path.display().to_string();
        match judge(file, engine.as_mut()) {
            Ok(Verdict::Pass) => passed += 1,
            Ok(Verdict::Skip(_)) => {
                skipped += 1;
                continue;
            }
            Ok(Verdict::Fail(why)) => failures.push(format!("{label}: {why}")),
            Err(e) => failures.push(format!("{label}: {e}")),
        }
        // Same observation as the interpreter.
        let Ok(vector) = &file.vector else { continue };
        let Ok(program) = vector_program(vector) else { continue };
        let Ok(verified) = verify_for_harness(&program) else { continue };
        let case = Case { program: &verified, context: vector.mem.as_deref(), budget: None };
        let reference = Interpreter.execute(&case).expect("interpreter runs");
        match engine.execute(&case) {
            Ok(o) if o == reference => {}
            Ok(o) => failures
                .push(format!("{label}: {o:?} differs from the interpreter's {reference:?}")),
            Err(e) => failures.push(format!("{label}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} failures ({passed} passed, {skipped} skipped):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(passed > 100);
}

#[test]
fn every_vector_on_thumbv7m() {
    run_all("thumbv7m");
}

#[test]
fn every_vector_on_thumbv7em() {
    run_all("thumbv7em");
}
