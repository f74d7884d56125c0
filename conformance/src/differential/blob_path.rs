//! A second path to the reference semantics: the program travels as a blob
//! (`femtoc_compiler::blob::write_blob`), is installed as a device would
//! install it (`femtoc_runtime::install`: parse, CRC, helper imports, the
//! device's allocation-free verifier) and is then interpreted. Compared with
//! the plain interpreter, it checks everything between compiler and device.

use femtoc_compiler::blob::{write_blob, BlobSpec};
use femtoc_isa::program::{DataRegion, Program};
use femtoc_isa::verifier::{scratch_len, SlotScratch};
use femtoc_isa::FunctionInfo;
use femtoc_runtime::engine::{Engine as DeviceEngine, Features};
use femtoc_runtime::helpers::testing::Recording;
use femtoc_runtime::install::{install, DeviceProfile, RunPlan};
use femtoc_runtime::{interp, RunArgs};

use crate::engine::{
    Case, Engine, EngineError, HarnessHelpers, Observation, HARNESS_HELPERS, STACK_SIZE,
};
use crate::memory::TestMemory;

/// The interpreter reached through the blob install path.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlobInterpreter;

/// Its name, for `--engine`.
pub const BLOB_INTERP: &str = "interp-blob";

fn prepare(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Prepare(format!("{what}: {e}"))
}

/// Blob bytes copied into 8-byte aligned storage, as bytecode read in
/// place requires.
fn aligned(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect()
}

fn as_bytes(words: &[u64], len: usize) -> &[u8] {
    let len = len.min(words.len() * 8);
    // SAFETY: `words` is valid for `words.len() * 8` bytes, any byte
    // pattern is a valid u8, and `len` does not exceed that.
    unsafe { core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), len) }
}

impl Engine for BlobInterpreter {
    fn name(&self) -> &'static str {
        BLOB_INTERP
    }

    fn execute(&mut self, case: &Case<'_>) -> Result<Observation, EngineError> {
        let original = &case.program.program;
        let blob = write_blob(
            &BlobSpec {
                features: Features::default(),
                ebpf_stack: STACK_SIZE as u32,
                min_ctx_len: case.program.min_ctx_len,
                helpers: &case.program.helpers_used,
                data: &original.data,
                code: &[],
                bytecode: Some(&original.code),
            },
            None,
        )
        .map_err(|e| prepare("writing the blob", e))?;
        let words = aligned(&blob);
        let bytes = as_bytes(&words, blob.len());
        let slots = original.code.len();
        let device = DeviceProfile {
            // No code section matches, so the device interprets.
            engine: DeviceEngine::Thumbv7m,
            features: Features::default(),
            helpers: HARNESS_HELPERS,
            stack_size: STACK_SIZE as u32,
            public_key: None,
        };
        let mut scratch = vec![SlotScratch::EMPTY; scratch_len(slots)];
        let mut functions = vec![FunctionInfo::default(); slots.max(1)];
        let installed = install(bytes, &device, &mut scratch, &mut functions)
            .map_err(|e| prepare("installing the blob", e))?;
        let RunPlan::Interpret(verified) = installed.plan else {
            return Err(prepare("installing the blob", "the device chose native code"));
        };
        // Memory is laid out from what the blob carries; only the region
        // names (which blobs do not store) come from the original.
        let data = installed
            .blob
            .data_regions()
            .zip(&original.data)
            .map(|(r, named)| DataRegion {
                name: named.name.clone(),
                kind: named.kind,
                image: r.image.to_vec(),
                size: r.size,
            })
            .collect();
        let program = Program { code: verified.code.to_vec(), data, symbols: vec![] };
        let mut memory = TestMemory::new(&program, case.context, STACK_SIZE)?;
        let (r1, r2) = memory.entry_args();
        let mut helpers = Recording::new(HarnessHelpers);
        let outcome = {
            let regions = memory.regions()?;
            interp::run(&verified, &regions, RunArgs { r1, r2, budget: case.budget }, &mut helpers)
        };
        Ok(Observation::new(outcome, memory.snapshot(), helpers.calls))
    }
}
