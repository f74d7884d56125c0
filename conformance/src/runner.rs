//! Runs vector files on an engine and says, for each, pass, fail (and what
//! differed) or skip (and why).

use std::path::{Path, PathBuf};

use femtoc_isa::program::Program;
use femtoc_isa::verifier::{verify, VerifiedProgram, VerifierConfig, VerifyErrorKind};

use crate::engine::{Case, Engine, EngineError, HARNESS_HELPERS, STACK_SIZE};
use crate::vector::{Vector, VectorFile};

/// What became of one vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// As expected.
    Pass,
    /// Not as expected: what differed.
    Fail(String),
    /// Not run: why.
    Skip(String),
}

/// The verdicts of a run over many vectors.
#[derive(Debug, Default)]
pub struct Report {
    /// Each vector with its verdict, in order.
    pub verdicts: Vec<(PathBuf, Verdict)>,
}

impl Report {
    /// Number of vectors with a verdict matching `pred`.
    fn count(&self, pred: impl Fn(&Verdict) -> bool) -> usize {
        self.verdicts.iter().filter(|(_, v)| pred(v)).count()
    }

    /// Vectors that passed.
    pub fn passed(&self) -> usize {
        self.count(|v| *v == Verdict::Pass)
    }

    /// Vectors that failed.
    pub fn failed(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Fail(_)))
    }

    /// Vectors skipped.
    pub fn skipped(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Skip(_)))
    }

    /// The closing line: `N passed, N failed` (and `, N skipped`).
    pub fn summary(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed(), self.failed());
        if self.skipped() > 0 {
            line.push_str(&format!(", {} skipped", self.skipped()));
        }
        line
    }
}

/// True for files the suite says must be rejected (`negative/`).
pub fn must_be_rejected(path: &Path) -> bool {
    path.parent().and_then(Path::file_name).is_some_and(|n| n == "negative")
}

/// The program of a vector: assembled, or from `-- raw`; both must agree.
pub fn vector_program(vector: &Vector) -> Result<Program, String> {
    let assembled = match &vector.asm {
        Some(section) => Some(
            femtoc_isa::assemble(&section.text)
                .map_err(|e| e.at_line_offset(section.first_line).to_string())?,
        ),
        None => None,
    };
    match (assembled, &vector.raw) {
        (Some(program), Some(raw)) if program.code != *raw => {
            Err("`-- asm` and `-- raw` assemble to different bytecode".into())
        }
        (Some(program), _) => Ok(program),
        (None, Some(raw)) => Ok(Program::from_code(raw.clone())),
        (None, None) => Err("the vector has no program".into()),
    }
}

/// Verifies a vector's program as the harness's host would.
pub fn verify_for_harness(
    program: &Program,
) -> Result<VerifiedProgram, femtoc_isa::verifier::VerifyError> {
    let config = VerifierConfig {
        helpers: HARNESS_HELPERS,
        stack_size: STACK_SIZE as u32,
        ..VerifierConfig::default()
    };
    verify(program, &config)
}

/// Judges one vector file on `engine`.
pub fn judge(file: &VectorFile, engine: &mut dyn Engine) -> Result<Verdict, EngineError> {
    let reject = must_be_rejected(&file.path);
    let vector = match &file.vector {
        Ok(v) => v,
        Err(_) if reject => return Ok(Verdict::Pass),
        Err(e) => return Ok(Verdict::Fail(format!("the vector does not parse: {e}"))),
    };
    let program = match vector_program(vector) {
        Ok(p) => p,
        Err(_) if reject || vector.error.is_some() => return Ok(Verdict::Pass),
        Err(e) => return Ok(Verdict::Fail(e)),
    };
    if !reject && vector.result.is_none() && vector.error.is_none() {
        return Ok(Verdict::Skip("the vector gives neither a result nor an error".into()));
    }
    let verified = match verify_for_harness(&program) {
        Ok(v) => v,
        Err(e) if !reject && e.kind == VerifyErrorKind::CallxUnsupported => {
            return Ok(Verdict::Skip(format!(
                "callx is outside femtoc's feature set (verifier: {e})"
            )))
        }
        Err(_) if reject || vector.error.is_some() => return Ok(Verdict::Pass),
        Err(e) => return Ok(Verdict::Fail(format!("rejected by the verifier: {e}"))),
    };
    if reject {
        return Ok(Verdict::Fail("accepted, but files in negative/ must be rejected".into()));
    }
    let observation = engine.execute(&Case {
        program: &verified,
        context: vector.mem.as_deref(),
        budget: None,
    })?;
    Ok(match (&observation.result, vector.result, &vector.error) {
        (Err(_), _, Some(_)) => Verdict::Pass,
        (Ok(r0), _, Some(_)) => {
            Verdict::Fail(format!("expected an error, but the run returned {r0:#x}"))
        }
        (Ok(r0), Some(expected), None) if *r0 == expected => Verdict::Pass,
        (Ok(r0), Some(expected), None) => {
            Verdict::Fail(format!("r0 is {r0:#x}, expected {expected:#x}"))
        }
        (Err(e), Some(expected), None) => {
            Verdict::Fail(format!("the run stopped {e}, expected r0 = {expected:#x}"))
        }
        (_, None, None) => Verdict::Skip("no expectation".into()),
    })
}

/// Judges every file on `engine`.
pub fn run_files(files: &[VectorFile], engine: &mut dyn Engine) -> Result<Report, EngineError> {
    let mut report = Report::default();
    for file in files {
        let verdict = judge(file, engine)?;
        report.verdicts.push((file.path.clone(), verdict));
    }
    Ok(report)
}
