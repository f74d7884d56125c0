//! The runner: one generated case on two engines, and the first observed
//! field (DESIGN.md "One semantics, many engines") in which they differ.

use std::fmt;

use femtoc_isa::verifier::VerifyError;
use femtoc_runtime::helpers::testing::HelperCall;
use femtoc_runtime::RunError;

use super::generator::{generate, GeneratedCase};
use crate::engine::{Case, Engine, Observation};
use crate::memory::RegionSnapshot;

/// The first compared field in which two engines disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// The case's program did not pass the verifier, so nothing ran.
    NotVerified(VerifyError),
    /// An engine could not perform the run at all.
    EngineFailed {
        /// The engine's name.
        engine: String,
        /// Why.
        error: String,
    },
    /// r0, or the error kind and pc.
    Result {
        /// The tested engine's.
        engine: Result<u64, RunError>,
        /// The reference's.
        reference: Result<u64, RunError>,
    },
    /// The set or sizes of writable regions.
    RegionLayout {
        /// The tested engine's regions as (name, size).
        engine: Vec<(String, usize)>,
        /// The reference's.
        reference: Vec<(String, usize)>,
    },
    /// A byte of a writable region after the run.
    RegionByte {
        /// The region's name.
        region: String,
        /// The byte's offset in it.
        offset: usize,
        /// The tested engine's value.
        engine: u8,
        /// The reference's.
        reference: u8,
    },
    /// A helper call (absent on one side if the traces differ in length).
    HelperCall {
        /// Index in the trace.
        index: usize,
        /// The tested engine's call.
        engine: Option<HelperCall>,
        /// The reference's.
        reference: Option<HelperCall>,
    },
    /// Budget events consumed (compared when both runs report them).
    Budget {
        /// The tested engine's.
        engine: u64,
        /// The reference's.
        reference: u64,
    },
}

fn result_text(r: &Result<u64, RunError>) -> String {
    match r {
        Ok(r0) => format!("r0 = {r0:#x}"),
        Err(e) => format!("stopped {e} ({:?})", e.kind),
    }
}

fn call_text(c: &Option<HelperCall>) -> String {
    match c {
        Some(c) => format!("helper {} with {:#x?}", c.id, c.args),
        None => "no call".into(),
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::NotVerified(e) => {
                write!(f, "the program was rejected by the verifier: {e}")
            }
            Difference::EngineFailed { engine, error } => {
                write!(f, "engine {engine} could not run the case: {error}")
            }
            Difference::Result { engine, reference } => write!(
                f,
                "result: engine {}, reference {}",
                result_text(engine),
                result_text(reference)
            ),
            Difference::RegionLayout { engine, reference } => {
                write!(f, "writable regions: engine {engine:?}, reference {reference:?}")
            }
            Difference::RegionByte { region, offset, engine, reference } => write!(
                f,
                "region `{region}` byte {offset}: engine {engine:#04x}, reference {reference:#04x}"
            ),
            Difference::HelperCall { index, engine, reference } => write!(
                f,
                "helper call #{index}: engine {}, reference {}",
                call_text(engine),
                call_text(reference)
            ),
            Difference::Budget { engine, reference } => {
                write!(f, "budget used: engine {engine}, reference {reference}")
            }
        }
    }
}

/// A case on which an engine disagreed with the reference, with what is
/// needed to reproduce and read it.
#[derive(Clone, Debug)]
pub struct Mismatch {
    /// The run's seed.
    pub seed: u64,
    /// The case's index (`generate(seed, index)` rebuilds it).
    pub index: u64,
    /// The tested engine.
    pub engine: &'static str,
    /// The reference engine.
    pub reference: &'static str,
    /// The first differing field (boxed: mismatches travel in `Err`s).
    pub difference: Box<Difference>,
    /// The program, disassembled with pcs.
    pub disassembly: String,
    /// The context.
    pub context: Option<Vec<u8>>,
    /// The budget.
    pub budget: Option<u64>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "MISMATCH seed {} case {}: {} vs {}: {}",
            self.seed, self.index, self.engine, self.reference, self.difference
        )?;
        match &self.context {
            Some(bytes) => {
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                writeln!(f, "  context ({} bytes): {hex}", bytes.len())?;
            }
            None => writeln!(f, "  context: none")?,
        }
        match self.budget {
            Some(b) => writeln!(f, "  budget: {b}")?,
            None => writeln!(f, "  budget: none")?,
        }
        writeln!(f, "  program:")?;
        for line in self.disassembly.lines() {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Mismatch {}

fn layout(regions: &[RegionSnapshot]) -> Vec<(String, usize)> {
    regions.iter().map(|r| (r.name.clone(), r.bytes.len())).collect()
}

/// The first field, in DESIGN.md's order (result, regions, helper calls,
/// budget), in which `engine` differs from `reference`.
pub fn first_difference(engine: &Observation, reference: &Observation) -> Option<Difference> {
    // The budget of a stopped run is compared last, with the others.
    let stop = |r: &Result<u64, RunError>| r.map_err(|e| RunError { budget_used: 0, ..e });
    if stop(&engine.result) != stop(&reference.result) {
        return Some(Difference::Result { engine: engine.result, reference: reference.result });
    }
    if layout(&engine.regions) != layout(&reference.regions) {
        return Some(Difference::RegionLayout {
            engine: layout(&engine.regions),
            reference: layout(&reference.regions),
        });
    }
    for (mine, theirs) in engine.regions.iter().zip(&reference.regions) {
        let differing = mine.bytes.iter().zip(&theirs.bytes).enumerate().find(|(_, (a, b))| a != b);
        if let Some((offset, (&a, &b))) = differing {
            return Some(Difference::RegionByte {
                region: mine.name.clone(),
                offset,
                engine: a,
                reference: b,
            });
        }
    }
    let calls = engine.helper_calls.len().max(reference.helper_calls.len());
    for index in 0..calls {
        let (a, b) = (engine.helper_calls.get(index), reference.helper_calls.get(index));
        if a != b {
            return Some(Difference::HelperCall {
                index,
                engine: a.copied(),
                reference: b.copied(),
            });
        }
    }
    // Every run reports its budget use, also one that stopped early.
    if let (Some(a), Some(b)) = (engine.budget_used, reference.budget_used) {
        if a != b {
            return Some(Difference::Budget { engine: a, reference: b });
        }
    }
    None
}

/// Runs `case` on `engine` and on `reference` and compares what they observed.
pub fn compare(
    engine: &mut dyn Engine,
    reference: &mut dyn Engine,
    case: &GeneratedCase,
) -> Result<(), Mismatch> {
    let (engine_name, reference_name) = (engine.name(), reference.name());
    let mismatch = |difference| Mismatch {
        seed: case.seed,
        index: case.index,
        engine: engine_name,
        reference: reference_name,
        difference: Box::new(difference),
        disassembly: femtoc_isa::disassemble_with_pcs(&case.program),
        context: case.context.clone(),
        budget: case.budget,
    };
    let verified = case.verified.as_ref().map_err(|e| mismatch(Difference::NotVerified(*e)))?;
    let run = Case { program: verified, context: case.context.as_deref(), budget: case.budget };
    let observe = |e: &mut dyn Engine| {
        e.execute(&run).map_err(|error| Difference::EngineFailed {
            engine: e.name().to_string(),
            error: error.to_string(),
        })
    };
    let theirs = observe(reference).map_err(mismatch)?;
    let mine = observe(engine).map_err(mismatch)?;
    match first_difference(&mine, &theirs) {
        Some(d) => Err(mismatch(d)),
        None => Ok(()),
    }
}

/// What a run of many cases found.
#[derive(Debug, Default)]
pub struct Summary {
    /// Cases on which the engines agreed.
    pub passed: usize,
    /// Cases the verifier rejected (a generator defect, not an engine one).
    pub rejected: usize,
    /// Cases on which they disagreed.
    pub mismatches: Vec<Mismatch>,
}

impl Summary {
    /// The closing line: `N passed, N failed` (and rejected cases, if any).
    pub fn line(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed, self.mismatches.len());
        if self.rejected > 0 {
            line.push_str(&format!(", {} skipped (rejected by the verifier)", self.rejected));
        }
        line
    }
}

/// Compares `engine` with `reference` on cases `0..cases` of `seed`,
/// calling `on_mismatch` for each disagreement as it is found.
pub fn run_cases(
    engine: &mut dyn Engine,
    reference: &mut dyn Engine,
    seed: u64,
    cases: u64,
    mut on_mismatch: impl FnMut(&Mismatch),
) -> Summary {
    let mut summary = Summary::default();
    for index in 0..cases {
        let case = generate(seed, index);
        if case.verified.is_err() {
            summary.rejected += 1;
            continue;
        }
        match compare(engine, reference, &case) {
            Ok(()) => summary.passed += 1,
            Err(m) => {
                on_mismatch(&m);
                summary.mismatches.push(m);
            }
        }
    }
    summary
}
