//! Installing a blob on a device: DESIGN.md's "Install, and when to
//! interpret", without allocation.
//!
//! 1. A blob that fails its checks (truncated, bad magic, unknown version,
//!    bad CRC, inconsistent tables) or, where the device requires one, has
//!    no valid signature, is rejected; its bytecode is never used then.
//! 2. Every helper the blob imports must be one the device provides.
//! 3. If the blob has code for the device's engine and the device has every
//!    feature that code needs, it runs natively.
//! 4. Otherwise, if it carries bytecode, the device verifies it (in
//!    caller-provided scratch) and interprets it.
//! 5. Otherwise it is rejected.
//!
//! The blob's bytes must stay where they are while it is installed (code
//! executes in place; bytecode is read in place, so a blob with bytecode
//! must sit at an 8-byte aligned address).

use femtoc_isa::verifier::{verify_in, SlotScratch, VerifierConfig, VerifyError};
use femtoc_isa::{FunctionInfo, VerifiedRef};

use crate::blob::{Blob, BlobError, CodeSection, RunMode};
use crate::engine::{Engine, Features};
use crate::native::NativeProgram;
use crate::region::MAX_DATA_REGIONS;

/// What the device is and what it offers.
#[derive(Clone, Copy, Debug)]
pub struct DeviceProfile<'d> {
    /// The device's engine name (its core).
    pub engine: Engine,
    /// Features the device has.
    pub features: Features,
    /// Helper ids the device provides.
    pub helpers: &'d [u32],
    /// eBPF stack bytes a container gets.
    pub stack_size: u32,
    /// If set, blobs must carry a valid Ed25519 signature by this key.
    pub public_key: Option<&'d [u8; 32]>,
}

/// How an installed blob runs; visible to the host program and the CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecMode {
    /// Compiled code for this engine.
    Native(Engine),
    /// The verified bytecode, interpreted.
    Interpreted,
}

/// What a run of an installed blob executes.
#[derive(Clone, Copy, Debug)]
pub enum RunPlan<'a> {
    /// Compiled code.
    Native {
        /// The code section.
        code: CodeSection<'a>,
        /// Stack use and minimum context length from the blob.
        program: NativeProgram,
    },
    /// Bytecode the device verified.
    Interpret(VerifiedRef<'a>),
}

/// An installed blob.
#[derive(Clone, Copy, Debug)]
pub struct Installed<'a> {
    /// The checked blob (its data-region images, helpers, sizes).
    pub blob: Blob<'a>,
    /// What runs.
    pub plan: RunPlan<'a>,
}

impl Installed<'_> {
    /// Native or interpreted.
    pub fn mode(&self) -> ExecMode {
        match self.plan {
            RunPlan::Native { code, .. } => ExecMode::Native(code.engine),
            RunPlan::Interpret(_) => ExecMode::Interpreted,
        }
    }
}

/// Why a blob was not installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InstallError {
    /// The blob failed its integrity or format checks.
    #[error("rejected blob: {0}")]
    Blob(BlobError),
    /// The device requires a signature and the blob's is missing or wrong.
    #[error("rejected blob: signature check failed: {0}")]
    Signature(BlobError),
    /// The device requires signatures but this build cannot check them.
    #[error("rejected blob: this runtime was built without signature support (feature `ed25519`)")]
    SignatureUnsupported,
    /// The blob imports a helper the device does not provide.
    #[error("the blob needs helper {id:#x}, which this device does not provide")]
    MissingHelper {
        /// The helper id.
        id: u32,
    },
    /// The blob's call tree needs more eBPF stack than a container gets.
    #[error("the blob needs {needed} bytes of eBPF stack, the device gives {available}")]
    StackTooSmall {
        /// From the blob.
        needed: u32,
        /// From the device profile.
        available: u32,
    },
    /// More data regions than a run can map.
    #[error("the blob has {count} data regions, at most {MAX_DATA_REGIONS} are supported")]
    TooManyDataRegions {
        /// From the blob.
        count: u16,
    },
    /// The blob has no code for this engine (or lacks features) and no bytecode.
    #[error("nothing to run: no usable code for {engine} and no bytecode")]
    NothingToRun {
        /// The device's engine.
        engine: Engine,
    },
    /// The bytecode is not 8-byte aligned in memory, so it cannot be read in place.
    #[error(
        "the blob's bytecode is not 8-byte aligned in memory; place the blob at an aligned address"
    )]
    MisalignedBytecode,
    /// The device's verifier rejected the bytecode.
    #[error("the bytecode failed verification: {0}")]
    Verify(VerifyError),
}

fn check_signature(blob: &Blob<'_>, device: &DeviceProfile<'_>) -> Result<(), InstallError> {
    let Some(key) = device.public_key else { return Ok(()) };
    #[cfg(feature = "ed25519")]
    {
        blob.verify_signature(key).map_err(InstallError::Signature)
    }
    #[cfg(not(feature = "ed25519"))]
    {
        let _ = (blob, key);
        Err(InstallError::SignatureUnsupported)
    }
}

/// Bytecode bytes as slots, in place.
fn slots(bytes: &[u8]) -> Result<&[u64], InstallError> {
    // SAFETY: every bit pattern is a valid u64; `align_to` only returns a
    // middle part that is correctly aligned, and we accept it only when it
    // covers all the bytes.
    let (head, words, tail) = unsafe { bytes.align_to::<u64>() };
    if head.is_empty() && tail.is_empty() {
        Ok(words)
    } else {
        Err(InstallError::MisalignedBytecode)
    }
}

/// Checks and installs the blob in `bytes` for `device`. Interpretation
/// needs `scratch` (see `femtoc_isa::verifier::scratch_len`) and room for
/// the program's functions in `functions`.
pub fn install<'a>(
    bytes: &'a [u8],
    device: &DeviceProfile<'_>,
    scratch: &mut [SlotScratch],
    functions: &'a mut [FunctionInfo],
) -> Result<Installed<'a>, InstallError> {
    let blob = Blob::parse(bytes).map_err(InstallError::Blob)?;
    check_signature(&blob, device)?;
    if let Some(id) = blob.helpers().find(|id| !device.helpers.contains(id)) {
        return Err(InstallError::MissingHelper { id });
    }
    if blob.ebpf_stack_size() > device.stack_size {
        return Err(InstallError::StackTooSmall {
            needed: blob.ebpf_stack_size(),
            available: device.stack_size,
        });
    }
    if usize::from(blob.region_count()) > MAX_DATA_REGIONS {
        return Err(InstallError::TooManyDataRegions { count: blob.region_count() });
    }
    let mode = blob
        .run_mode(device.engine, device.features)
        .map_err(|_| InstallError::NothingToRun { engine: device.engine })?;
    let plan = match mode {
        RunMode::Native(code) => RunPlan::Native {
            code,
            program: NativeProgram {
                stack_usage: blob.ebpf_stack_size(),
                min_ctx_len: blob.min_ctx_len(),
            },
        },
        RunMode::Interpret(bytes) => {
            let code = slots(bytes)?;
            let mut data_sizes = [0u32; MAX_DATA_REGIONS];
            for (size, region) in data_sizes.iter_mut().zip(blob.data_regions()) {
                *size = region.size;
            }
            let config = VerifierConfig {
                helpers: device.helpers,
                stack_size: device.stack_size,
                max_call_depth: 8,
                data_sizes: &data_sizes[..usize::from(blob.region_count())],
            };
            let summary =
                verify_in(code, &config, scratch, functions).map_err(InstallError::Verify)?;
            let functions = &functions[..summary.functions];
            RunPlan::Interpret(VerifiedRef {
                code,
                functions,
                stack_usage: summary.stack_usage,
                min_ctx_len: summary.min_ctx_len,
            })
        }
    };
    Ok(Installed { blob, plan })
}
