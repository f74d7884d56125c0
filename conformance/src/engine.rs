//! The one interface every engine offers the harness, and the reference
//! engine (the interpreter) behind it.

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_runtime::engine::Engine as EngineId;
use femtoc_runtime::helpers::testing::{ConformanceHelpers, HelperCall, Recording, UNWIND};
use femtoc_runtime::helpers::{fail, HelperResult, Helpers, MemoryAccess};
use femtoc_runtime::layout::ArenaError;
use femtoc_runtime::region::RegionError;
use femtoc_runtime::{interp, RunArgs, RunError, RunOutcome};

use crate::memory::{RegionSnapshot, TestMemory};

/// eBPF stack size the harness gives every container.
pub const STACK_SIZE: usize = 512;

/// One run to perform: a verified program, its context and budget.
#[derive(Clone, Copy, Debug)]
pub struct Case<'a> {
    /// The program.
    pub program: &'a VerifiedProgram,
    /// The context (input memory), writable; `None`: r1 = r2 = 0.
    pub context: Option<&'a [u8]>,
    /// Budget events allowed; `None` for no budget.
    pub budget: Option<u64>,
}

/// Everything DESIGN.md's "one semantics" compares between engines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// r0, or the error kind and eBPF pc.
    pub result: Result<u64, RunError>,
    /// Budget events consumed, also by a run that stopped with an error
    /// (`None` from an engine that does not report it).
    pub budget_used: Option<u64>,
    /// Final contents of every writable region.
    pub regions: Vec<RegionSnapshot>,
    /// Helper calls in order, with their arguments.
    pub helper_calls: Vec<HelperCall>,
}

impl Observation {
    /// What a run that ended with `outcome` observed: its r0 or error, the
    /// budget it used either way, the regions and the helper calls.
    pub fn new(
        outcome: Result<RunOutcome, RunError>,
        regions: Vec<RegionSnapshot>,
        helper_calls: Vec<HelperCall>,
    ) -> Observation {
        let budget_used = match &outcome {
            Ok(o) => o.budget_used,
            Err(e) => e.budget_used,
        };
        Observation {
            result: outcome.map(|o| o.r0),
            budget_used: Some(budget_used),
            regions,
            helper_calls,
        }
    }
}

/// Why an engine could not perform a run at all (not a run error).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The fixed test addresses could not be mapped.
    #[error("cannot lay out the test memory: {0}")]
    Layout(#[from] ArenaError),
    /// The program needs more regions than a run can hold.
    #[error("{0}")]
    Regions(#[from] RegionError),
    /// The engine could not prepare the run (compile, pack or install).
    #[error("cannot prepare the run: {0}")]
    Prepare(String),
    /// Native code could not be run at all (the emulator stopped it).
    #[error("native engine: {0}")]
    Native(String),
    /// No engine of that name exists in this build.
    #[error("unknown engine `{0}` (this build has: {known})", known = ENGINE_NAMES.join(", "))]
    Unknown(String),
}

/// An engine the harness can drive.
pub trait Engine {
    /// The engine's name (DESIGN.md's table).
    fn name(&self) -> &'static str;
    /// Runs `case` with the harness's helpers ([`HarnessHelpers`]) and
    /// observes the result.
    fn execute(&mut self, case: &Case<'_>) -> Result<Observation, EngineError>;
}

/// Engines this build can run.
#[cfg(feature = "emu")]
pub const ENGINE_NAMES: &[&str] = &[
    "interp",
    "thumbv7m",
    "thumbv7em",
    "thumbv7m-size",
    "thumbv7em-size",
    "x86_64",
    "aarch64",
    "riscv64gc",
];
/// Engines this build can run (without the emulator).
#[cfg(not(feature = "emu"))]
pub const ENGINE_NAMES: &[&str] = &["interp", "x86_64"];

/// Harness helper 6, "mix": returns a hash of r1..r5; fails with
/// `BAD_ARGUMENT` when r1 is `u64::MAX`, so that helper failures are tested.
pub const MIX: u32 = 6;

/// Harness helper 7, "peek": returns the little-endian `u64` at address r1;
/// fails with `BAD_POINTER` unless those 8 bytes are readable, so that every
/// engine must give helpers the same view of memory.
pub const PEEK: u32 = 7;

/// Helper ids the harness provides to programs.
pub const HARNESS_HELPERS: &[u32] = &[UNWIND, MIX, PEEK];

/// The helpers behind [`HARNESS_HELPERS`]. Every engine's harness must use
/// this set so that helper results and traces are comparable.
#[derive(Clone, Copy, Debug, Default)]
pub struct HarnessHelpers;

/// The "mix" hash: deterministic and sensitive to every bit of every argument.
pub fn mix(args: [u64; 5]) -> u64 {
    args.iter().fold(0x243f_6a88_85a3_08d3, |h: u64, &a| {
        let x = (h ^ a).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^ (x >> 29)
    })
}

impl Helpers for HarnessHelpers {
    fn call(&mut self, id: u32, args: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
        match id {
            MIX if args[0] == u64::MAX => HelperResult::Fail(fail::BAD_ARGUMENT),
            MIX => HelperResult::Return(mix(args)),
            PEEK => {
                let mut bytes = [0u8; 8];
                match mem.read(args[0], &mut bytes) {
                    Ok(()) => HelperResult::Return(u64::from_le_bytes(bytes)),
                    Err(_) => HelperResult::Fail(fail::BAD_POINTER),
                }
            }
            _ => ConformanceHelpers.call(id, args, mem),
        }
    }

    fn provides(&self, id: u32) -> bool {
        HARNESS_HELPERS.contains(&id)
    }
}

/// The engine called `name`.
pub fn engine_by_name(name: &str) -> Result<Box<dyn Engine>, EngineError> {
    match name {
        "interp" => Ok(Box::new(Interpreter)),
        #[cfg(feature = "emu")]
        "thumbv7m" => Ok(Box::new(crate::thumb::Thumb2::new(EngineId::Thumbv7m))),
        #[cfg(feature = "emu")]
        "thumbv7em" => Ok(Box::new(crate::thumb::Thumb2::new(EngineId::Thumbv7em))),
        #[cfg(feature = "emu")]
        "thumbv7m-size" => Ok(Box::new(crate::thumb::Thumb2::built_for(
            EngineId::Thumbv7m,
            femtoc_compiler::thumb2::Goal::Size,
        ))),
        #[cfg(feature = "emu")]
        "thumbv7em-size" => Ok(Box::new(crate::thumb::Thumb2::built_for(
            EngineId::Thumbv7em,
            femtoc_compiler::thumb2::Goal::Size,
        ))),
        #[cfg(feature = "emu")]
        "aarch64" => Ok(Box::new(crate::emu64::Emulated64::new(femtoc_emu::Isa64::Aarch64))),
        #[cfg(feature = "emu")]
        "riscv64gc" => Ok(Box::new(crate::emu64::Emulated64::new(femtoc_emu::Isa64::Riscv64gc))),
        "x86_64" if femtoc_runtime::host_exec::HOST_ENGINE == Some(EngineId::X86_64) => {
            Ok(Box::new(crate::host::HostNative::new(EngineId::X86_64)))
        }
        other => Err(EngineError::Unknown(other.to_string())),
    }
}

/// The native engines this build can run on this host: every engine but
/// the interpreter (`x86_64` only on an x86-64 host).
pub fn native_engine_names() -> Vec<&'static str> {
    ENGINE_NAMES.iter().copied().filter(|&n| n != "interp" && engine_by_name(n).is_ok()).collect()
}

/// An engine that could not run a case, or saw something other than the
/// interpreter did.
#[derive(Debug, thiserror::Error)]
pub enum Disagreement {
    /// The engine could not perform the run at all.
    #[error("{engine}: {source}")]
    Engine {
        /// The engine's name.
        engine: &'static str,
        /// Why.
        source: EngineError,
    },
    /// The engine observed something else.
    #[error("{engine} observed {got:?}, the interpreter {reference:?}")]
    Differs {
        /// The engine's name.
        engine: &'static str,
        /// What it observed.
        got: Box<Observation>,
        /// What the interpreter observed.
        reference: Box<Observation>,
    },
}

/// Runs `case` on the interpreter and on every native engine
/// ([`native_engine_names`]); the interpreter's observation if all agree.
pub fn run_on_every_engine(case: &Case<'_>) -> Result<Observation, Disagreement> {
    let reference = Interpreter
        .execute(case)
        .map_err(|source| Disagreement::Engine { engine: "interp", source })?;
    for name in native_engine_names() {
        let got = engine_by_name(name)
            .and_then(|mut engine| engine.execute(case))
            .map_err(|source| Disagreement::Engine { engine: name, source })?;
        if got != reference {
            return Err(Disagreement::Differs {
                engine: name,
                got: Box::new(got),
                reference: Box::new(reference),
            });
        }
    }
    Ok(reference)
}

/// The reference engine: `femtoc_runtime::interp`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Interpreter;

impl Engine for Interpreter {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn execute(&mut self, case: &Case<'_>) -> Result<Observation, EngineError> {
        let mut memory = TestMemory::new(&case.program.program, case.context, STACK_SIZE)?;
        let (r1, r2) = memory.entry_args();
        let mut helpers = Recording::new(HarnessHelpers);
        let outcome = {
            let regions = memory.regions()?;
            let args = RunArgs { r1, r2, budget: case.budget };
            interp::run(&case.program.as_ref(), &regions, args, &mut helpers)
        };
        Ok(Observation::new(outcome, memory.snapshot(), helpers.calls))
    }
}

#[cfg(all(test, feature = "emu"))]
mod tests {
    use super::*;

    #[test]
    fn every_native_engine_of_the_build_is_listed_and_runs() {
        let names = native_engine_names();
        for name in ["thumbv7m", "thumbv7em", "aarch64", "riscv64gc"] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        let host = femtoc_runtime::host_exec::HOST_ENGINE == Some(EngineId::X86_64);
        assert_eq!(names.contains(&"x86_64"), host);
        assert!(!names.contains(&"interp"));
    }
}
