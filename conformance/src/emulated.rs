//! What the emulated engines (`thumb`, `emu64`) share: the one-section blob
//! they install, the run's input, and the observation made from its result.

use femtoc_compiler::blob::{write_blob, BlobSpec, CodeSpec};
use femtoc_emu::native::{NativeInput, NativeRun};
use femtoc_runtime::engine::Features;
use femtoc_runtime::helpers::testing::HelperCall;

use crate::engine::{Case, EngineError, Observation, STACK_SIZE};
use crate::memory::RegionSnapshot;

/// A blob with `section` as its only code and no bytecode, for `case`'s
/// program.
pub(crate) fn blob(case: &Case<'_>, section: CodeSpec<'_>) -> Result<Vec<u8>, EngineError> {
    let spec = BlobSpec {
        features: Features::default(),
        ebpf_stack: case.program.stack_usage,
        min_ctx_len: case.program.min_ctx_len,
        helpers: &case.program.helpers_used,
        data: &case.program.program.data,
        code: std::slice::from_ref(&section),
        bytecode: None,
    };
    write_blob(&spec, None).map_err(|e| EngineError::Prepare(e.to_string()))
}

/// The emulator's input for `case`: its context (writable), budget and the
/// harness's stack size.
pub(crate) fn input<'c>(case: &Case<'c>) -> NativeInput<'c> {
    NativeInput {
        context: case.context,
        context_writable: true,
        budget: case.budget,
        stack_size: STACK_SIZE as u32,
        ..NativeInput::default()
    }
}

/// The observation of `run`: the same snapshot as the interpreter's test
/// memory (stack, context if any, then the writable data regions by name).
pub(crate) fn observe(case: &Case<'_>, run: NativeRun, calls: Vec<HelperCall>) -> Observation {
    let mut regions = vec![RegionSnapshot { name: "stack".into(), bytes: run.stack }];
    if case.context.is_some() {
        regions.push(RegionSnapshot { name: "context".into(), bytes: run.context });
    }
    for (region, bytes) in case.program.program.data.iter().zip(run.data) {
        if region.kind.writable() {
            regions.push(RegionSnapshot { name: region.name.clone(), bytes });
        }
    }
    Observation::new(run.outcome, regions, calls)
}
