//! Engines `thumbv7m` and `thumbv7em`: compile with the Thumb-2 backend,
//! pack the code into a blob, and run it through the device install path
//! and the runtime's own glue in the Unicorn Cortex-M3/M4 model with the
//! emulator's silicon checks on (`femtoc_emu::native`). The harness names
//! `thumbv7m-size` and `thumbv7em-size` are the same device engines with
//! code built for size ([`thumb2::Goal::Size`]).

use femtoc_compiler::blob::CodeSpec;
use femtoc_compiler::thumb2::{self, CompiledCode};
use femtoc_emu::native::run_blob;
use femtoc_emu::Core;
use femtoc_runtime::engine::Engine as EngineId;
use femtoc_runtime::helpers::testing::Recording;

use crate::emulated;
use crate::engine::{Case, Engine, EngineError, HarnessHelpers, Observation};

/// Executed instructions and estimated cycles of the last run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Native instructions executed.
    pub insns: u64,
    /// Estimated cycles.
    pub cycles: u64,
}

/// A Thumb-2 engine.
#[derive(Debug)]
pub struct Thumb2 {
    engine: EngineId,
    goal: thumb2::Goal,
    /// Code to run instead of compiling (a blob's code section).
    pub code: Option<CompiledCode>,
    /// Counts of the last run.
    pub stats: Stats,
}

impl Thumb2 {
    /// The engine for `thumbv7m` or `thumbv7em`.
    pub fn new(engine: EngineId) -> Self {
        Self::built_for(engine, thumb2::Goal::Speed)
    }

    /// The engine for `thumbv7m` or `thumbv7em`, compiling for `goal`.
    pub fn built_for(engine: EngineId, goal: thumb2::Goal) -> Self {
        Thumb2 { engine, goal, code: None, stats: Stats::default() }
    }

    fn core(&self) -> Core {
        if self.engine == EngineId::Thumbv7m {
            Core::CortexM3
        } else {
            Core::CortexM4
        }
    }
}

impl Engine for Thumb2 {
    fn name(&self) -> &'static str {
        match (self.goal, self.engine) {
            (thumb2::Goal::Speed, e) => e.name(),
            (thumb2::Goal::Size, EngineId::Thumbv7m) => "thumbv7m-size",
            (thumb2::Goal::Size, _) => "thumbv7em-size",
        }
    }

    fn execute(&mut self, case: &Case<'_>) -> Result<Observation, EngineError> {
        let code = match &self.code {
            Some(c) => c.clone(),
            None => thumb2::compile_for(case.program, self.engine, self.goal)
                .map_err(|e| EngineError::Prepare(e.to_string()))?,
        };
        let section = CodeSpec {
            engine: self.engine,
            features: code.features,
            entry: code.entry,
            machine_stack: code.machine_stack,
            code: &code.code,
        };
        let blob = emulated::blob(case, section)?;
        let mut helpers = Recording::new(HarnessHelpers);
        let run = run_blob(self.core(), &blob, &emulated::input(case), &mut helpers)
            .map_err(|e| EngineError::Native(e.to_string()))?;
        self.stats =
            run.stats.map_or_else(Stats::default, |s| Stats { insns: s.insns, cycles: s.cycles });
        Ok(emulated::observe(case, run, helpers.calls))
    }
}
