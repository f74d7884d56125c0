//! Engines `aarch64` and `riscv64gc` on any host: compile with the Cranelift backend, pack
//! the code into a blob, and run it through the device install path and the runtime's own
//! glue in Unicorn's AArch64 / RV64GC models (`femtoc_emu::native64`).

use femtoc_compiler::blob::{write_blob, BlobSpec, CodeSpec};
use femtoc_compiler::cranelift;
use femtoc_emu::native::NativeInput;
use femtoc_emu::{run_blob64, Isa64};
use femtoc_runtime::engine::Features;
use femtoc_runtime::helpers::testing::Recording;

use crate::engine::{Case, Engine, EngineError, HarnessHelpers, Observation, STACK_SIZE};
use crate::memory::RegionSnapshot;

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
        let program = &case.program.program;
        let section = CodeSpec {
            engine,
            features: code.features,
            entry: code.entry,
            machine_stack: code.machine_stack,
            code: &code.code,
        };
        let spec = BlobSpec {
            features: Features::default(),
            ebpf_stack: case.program.stack_usage,
            min_ctx_len: case.program.min_ctx_len,
            helpers: &case.program.helpers_used,
            data: &program.data,
            code: std::slice::from_ref(&section),
            bytecode: None,
        };
        let blob = write_blob(&spec, None).map_err(|e| EngineError::Prepare(e.to_string()))?;
        let input = NativeInput {
            context: case.context,
            context_writable: true,
            budget: case.budget,
            stack_size: STACK_SIZE as u32,
            ..NativeInput::default()
        };
        let mut helpers = Recording::new(HarnessHelpers);
        let run = run_blob64(self.isa, &blob, &input, &mut helpers)
            .map_err(|e| EngineError::Native(e.to_string()))?;
        self.insns = run.stats.map_or(0, |s| s.insns);

        // The same snapshot as the interpreter's test memory: stack, context if any, then
        // the writable data regions by name.
        let mut regions = vec![RegionSnapshot { name: "stack".into(), bytes: run.stack }];
        if case.context.is_some() {
            regions.push(RegionSnapshot { name: "context".into(), bytes: run.context });
        }
        for (region, bytes) in program.data.iter().zip(run.data) {
            if region.kind.writable() {
                regions.push(RegionSnapshot { name: region.name.clone(), bytes });
            }
        }
        Ok(Observation {
            result: run.outcome.map(|o| o.r0),
            budget_used: Some(match &run.outcome {
                Ok(o) => o.budget_used,
                Err(e) => e.budget_used,
            }),
            regions,
            helper_calls: helpers.calls,
        })
    }
}
