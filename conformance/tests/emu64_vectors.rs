//! Every shared vector on `aarch64` and `riscv64gc` (Cranelift code run in Unicorn's
//! AArch64 and RV64GC models): the verdict of the vector, and an observation identical to
//! the interpreter's without a budget and with budgets that stop loops part-way.
#![cfg(feature = "emu")]

use femtoc_conformance::emu64::Emulated64;
use femtoc_conformance::engine::{engine_by_name, Case, Engine, Interpreter};
use femtoc_conformance::runner::{
    judge, must_be_rejected, vector_program, verify_for_harness, Verdict,
};
use femtoc_conformance::shared_dir;
use femtoc_conformance::vector::load_vectors;
use femtoc_emu::Isa64;

fn run_all(name: &str) {
    let dir = shared_dir().join("conformance").join("tests");
    let files = load_vectors(std::slice::from_ref(&dir)).expect("vectors load");
    assert!(files.len() > 100, "too few vectors in {}", dir.display());
    let mut engine = engine_by_name(name).expect("engine exists");
    assert_eq!(engine.name(), name);
    let mut failures = Vec::new();
    let (mut passed, mut skipped, mut compared) = (0, 0, 0);
    for file in &files {
        let label = file.path.display().to_string();
        match judge(file, engine.as_mut()) {
            Ok(Verdict::Pass) => passed += 1,
            Ok(Verdict::Skip(why)) => {
                assert!(why.contains("callx"), "{label}: unexpected skip: {why}");
                skipped += 1;
                continue;
            }
            Ok(Verdict::Fail(why)) => failures.push(format!("{label}: {why}")),
            Err(e) => failures.push(format!("{label}: {e}")),
        }
        if must_be_rejected(&file.path) {
            continue;
        }
        let Ok(vector) = &file.vector else { continue };
        let Ok(program) = vector_program(vector) else { continue };
        let Ok(verified) = verify_for_harness(&program) else { continue };
        for budget in [None, Some(0), Some(3)] {
            let case = Case { program: &verified, context: vector.mem.as_deref(), budget };
            let reference = Interpreter.execute(&case).expect("interpreter runs");
            match engine.execute(&case) {
                Ok(o) if o == reference => compared += 1,
                Ok(o) => failures.push(format!(
                    "{label} (budget {budget:?}): {o:?} differs from the interpreter's {reference:?}"
                )),
                Err(e) => failures.push(format!("{label} (budget {budget:?}): {e}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} failures ({passed} passed, {skipped} skipped):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(passed > 200, "{name}: only {passed} passed");
    assert!(compared > 600, "{name}: only {compared} runs compared");
}

#[test]
fn every_vector_on_aarch64() {
    run_all("aarch64");
}

#[test]
fn every_vector_on_riscv64gc() {
    run_all("riscv64gc");
}

/// The code really runs in the emulator: a vector's run executes native instructions, and
/// a longer loop executes more of them.
#[test]
fn runs_count_emulated_instructions() {
    use femtoc_isa::program::Program;
    let loop_program = |n: u64| {
        // r0 = 0; r1 = n; do { r0 += 1 } while (r0 != r1); exit
        let text = format!("mov %r0, 0\nmov %r1, {n}\nadd %r0, 1\njne %r0, %r1, -2\nexit\n");
        femtoc_isa::asm::assemble(&text).expect("assembles")
    };
    for isa in Isa64::ALL {
        let mut engine = Emulated64::new(isa);
        let mut counts = Vec::new();
        for n in [10u64, 100] {
            let program: Program = loop_program(n);
            let verified = verify_for_harness(&program).expect("verifies");
            let case = Case { program: &verified, context: None, budget: None };
            let obs = engine.execute(&case).expect("runs");
            assert_eq!(obs.result, Ok(n), "{isa}");
            counts.push(engine.insns);
        }
        assert!(counts[0] > 10, "{isa}: {counts:?}");
        assert!(counts[1] > counts[0] + 90, "{isa}: {counts:?}");
    }
}
