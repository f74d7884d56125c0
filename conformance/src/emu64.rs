//! Engines `aarch64` and `riscv64gc` on any host: compile with the Cranelift backend, pack
//! the code into a blob, and run it through the device install path and the runtime's own
//! glue in Unicorn's AArch64 / RV64GC models (`femtoc_emu::native64`).

use femtoc_compiler::blob::CodeSpec;
use femtoc_compiler::cranelift;
use femtoc_emu::{run_blob64, Isa64};
use femtoc_runtime::helpers::testing::Recording;

use crate::emulated;
use crate::engine::{Case, Engine, EngineError, HarnessHelpers, Observation};

/// A Cranelift host-ISA engine run in the emulator.
#[derive(Debug)]
pub struct Emulated64 {
    isa: Isa64,
    /// Native instructions the last run executed (0 if it did not run natively).
    pub insns: u64,
}

impl Emulated64 {
    /// The engine for `isa`'s code.
    pub fn new(isa: Isa64) -> Self {
        Emulated64 { isa, insns: 0 }
    }
}

impl Engine for Emulated64 {
    fn name(&self) -> &'static str {
        self.isa.engine().name()
    }

    fn execute(&mut self, case: &Case<'_>) -> Result<Observation, EngineError> {
        let engine = self.isa.engine();
        let code = cranelift::compile(case.program, engine)
            .map_err(|e| EngineError::Prepare(e.to_string()))?;
        let section = CodeSpec {
            engine,
            features: code.features,
            entry: code.entry,
            machine_stack: code.machine_stack,
            code: &code.code,
        };
        let blob = emulated::blob(case, section)?;
        let mut helpers = Recording::new(HarnessHelpers);
        let run = run_blob64(self.isa, &blob, &emulated::input(case), &mut helpers)
            .map_err(|e| EngineError::Native(e.to_string()))?;
        self.insns = run.stats.map_or(0, |s| s.insns);
        Ok(emulated::observe(case, run, helpers.calls))
    }
}
