//! `femtoc differential --engine ENGINE [--cases N] [--seed S]`: generated
//! programs on ENGINE and on the interpreter, compared field by field; the
//! long-running form of the differential test.

use femtoc_conformance::differential::{differential_engine, run_cases, BLOB_INTERP};
use femtoc_conformance::engine::{Interpreter, ENGINE_NAMES};

use crate::diag::{CliResult, Diagnostic};

/// Options of `femtoc differential`.
#[derive(Clone, Debug, clap::Args)]
pub struct DifferentialArgs {
    /// Engine to test against the interpreter.
    #[arg(long, value_name = "ENGINE")]
    pub engine: String,
    /// Number of generated cases.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub cases: u64,
    /// Seed of the run; a case is reproduced by its seed and index.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
}

/// Runs the cases, printing each mismatch as found and a closing summary.
pub fn run(args: &DifferentialArgs) -> CliResult {
    let mut engine = differential_engine(&args.engine).map_err(|e| {
        Diagnostic::new(e.to_string()).note(format!(
            "`{BLOB_INTERP}` is the interpreter behind the blob install path; engines: {}",
            ENGINE_NAMES.join(", ")
        ))
    })?;
    let summary =
        run_cases(engine.as_mut(), &mut Interpreter, args.seed, args.cases, |m| println!("{m}"));
    println!("differential ({} vs interp, seed {}): {}", engine.name(), args.seed, summary.line());
    if !summary.mismatches.is_empty() || summary.rejected > 0 {
        return Err(Diagnostic::new(format!(
            "{} of {} case(s) failed on {}",
            summary.mismatches.len() + summary.rejected,
            args.cases,
            engine.name()
        )));
    }
    Ok(())
}
