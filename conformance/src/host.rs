//! The Cranelift engines that run on this host: code compiled for the
//! host's ISA, executed natively behind the same regions and helpers as
//! the interpreter.

use femtoc_compiler::cranelift::compile;
use femtoc_runtime::engine::Engine as EngineId;
use femtoc_runtime::helpers::testing::Recording;
use femtoc_runtime::host_exec::{run_host, HostCode};
use femtoc_runtime::native::NativeProgram;
use femtoc_runtime::RunArgs;

use crate::engine::{Case, Engine, EngineError, HarnessHelpers, Observation, STACK_SIZE};
use crate::memory::TestMemory;

/// Cranelift code for the host's own ISA, run natively.
#[derive(Clone, Copy, Debug)]
pub struct HostNative {
    engine: EngineId,
}

impl HostNative {
    /// The engine for `engine`'s code; it runs only on a host of that ISA.
    pub fn new(engine: EngineId) -> Self {
        HostNative { engine }
    }
}

impl Engine for HostNative {
    fn name(&self) -> &'static str {
        self.engine.name()
    }

    fn execute(&mut self, case: &Case<'_>) -> Result<Observation, EngineError> {
        let compiled =
            compile(case.program, self.engine).map_err(|e| EngineError::Prepare(e.to_string()))?;
        let code = HostCode::new(self.engine, &compiled.code, compiled.entry)
            .map_err(|e| EngineError::Prepare(e.to_string()))?;
        let mut memory = TestMemory::new(&case.program.program, case.context, STACK_SIZE)?;
        let (r1, r2) = memory.entry_args();
        let mut helpers = Recording::new(HarnessHelpers);
        let program = NativeProgram {
            stack_usage: case.program.stack_usage,
            min_ctx_len: case.program.min_ctx_len,
        };
        let outcome = {
            let regions = memory.regions()?;
            let args = RunArgs { r1, r2, budget: case.budget };
            run_host(&code, program, &regions, args, &mut helpers)
        };
        Ok(Observation::new(outcome, memory.snapshot(), helpers.calls))
    }
}
