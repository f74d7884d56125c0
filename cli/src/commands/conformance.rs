//! `femtoc conformance [--engine E] [PATH...]`: run the vectors.

use std::path::PathBuf;

use femtoc_conformance::engine::engine_by_name;
use femtoc_conformance::runner::{run_files, Verdict};
use femtoc_conformance::vector::load_vectors;

use crate::diag::{CliResult, Diagnostic};

/// Runs every vector under `paths` (default: the shared vectors) on
/// `engine`; one line per failure and skip, then the summary.
pub fn run(engine: &str, paths: &[PathBuf]) -> CliResult {
    let mut engine = engine_by_name(engine).map_err(|e| Diagnostic::new(e.to_string()))?;
    let paths = if paths.is_empty() {
        vec![femtoc_conformance::shared_dir().join("conformance")]
    } else {
        paths.to_vec()
    };
    let files = load_vectors(&paths).map_err(|e| Diagnostic::new(e.to_string()))?;
    if files.is_empty() {
        return Err(Diagnostic::new("no vector files (*.data) found").note(format!(
            "looked in: {}",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    let report = run_files(&files, engine.as_mut()).map_err(|e| Diagnostic::new(e.to_string()))?;
    for (path, verdict) in &report.verdicts {
        match verdict {
            Verdict::Pass => {}
            Verdict::Fail(why) => println!("FAIL {}: {why}", path.display()),
            Verdict::Skip(why) => println!("SKIP {}: {why}", path.display()),
        }
    }
    println!("conformance ({}): {}", engine.name(), report.summary());
    if report.failed() > 0 {
        return Err(Diagnostic::new(format!(
            "{} vector(s) failed on {}",
            report.failed(),
            engine.name()
        )));
    }
    Ok(())
}
