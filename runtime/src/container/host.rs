//! Containers installed from a blob on a host (feature `std`): the blob goes
//! through the device install policy ([`crate::install::install`]); code for
//! the host's ISA is copied into executable memory ([`HostCode`]) and run
//! natively, otherwise the device-verified bytecode is interpreted.

use alloc::boxed::Box;
use alloc::vec::Vec;

use femtoc_isa::verifier::{scratch_len, SlotScratch};
use femtoc_isa::FunctionInfo;

use super::{Container, ContainerConfig, DataImage, Exec, InstallError};
use crate::abi::RoutineTable;
use crate::blob::{Blob, RegionKind as BlobRegionKind};
use crate::engine::{Engine, Features};
use crate::error::{RunError, RunOutcome};
use crate::helpers::Helpers;
use crate::host_exec::{HostCode, HostExecError, HOST_ENGINE, HOST_FEATURES};
use crate::install::{self, DeviceProfile, RunPlan};
use crate::interp::RunArgs;
use crate::native::{run_native, NativeFrame, NativeProgram};
use crate::region::Regions;

/// What the host offers a blob installed as a container: the engine whose
/// code runs natively, its features, and the key signatures must verify
/// against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostProfile<'k> {
    /// Code for this engine runs natively; any other engine (such as
    /// [`Engine::Interp`]) makes every blob fall back to its bytecode.
    pub engine: Engine,
    /// Features the engine's code may rely on.
    pub features: Features,
    /// If set, blobs must carry a valid Ed25519 signature by this key.
    pub public_key: Option<&'k [u8; 32]>,
}

impl HostProfile<'_> {
    /// This host: native code for its ISA, else the interpreter.
    pub fn host() -> Self {
        HostProfile {
            engine: HOST_ENGINE.unwrap_or(Engine::Interp),
            features: HOST_FEATURES,
            public_key: None,
        }
    }

    /// Always interpret the blob's bytecode (a blob without any is refused).
    pub fn interpreter() -> Self {
        HostProfile { engine: Engine::Interp, features: Features::NONE, public_key: None }
    }
}

impl Default for HostProfile<'_> {
    fn default() -> Self {
        Self::host()
    }
}

/// Why a blob could not become a container.
#[derive(Debug, thiserror::Error)]
pub enum BlobInstallError {
    /// The install policy refused the blob (checks, signature, helpers,
    /// stack, nothing to run, bytecode verification).
    #[error(transparent)]
    Blob(#[from] install::InstallError),
    /// The container could not take the program.
    #[error(transparent)]
    Container(#[from] InstallError),
    /// The native code could not be made executable.
    #[error(transparent)]
    HostCode(#[from] HostExecError),
}

/// Native code and the frame its runs use.
pub(super) struct NativeExec {
    pub(super) engine: Engine,
    code: HostCode,
    program: NativeProgram,
    // Boxed so that its address stays put while the code runs, whatever
    // happens to the container value in between runs.
    frame: Box<NativeFrame>,
}

impl NativeExec {
    /// One run over `regions`, reported like the interpreter's.
    pub(super) fn run(
        &mut self,
        regions: &Regions<'_>,
        args: RunArgs,
        helpers: &mut dyn Helpers,
    ) -> Result<RunOutcome, RunError> {
        run_native(
            self.program,
            regions,
            args,
            helpers,
            RoutineTable::device(),
            &mut self.frame,
            &mut self.code.caller(),
        )
    }
}

impl<H: Helpers> Container<H> {
    /// Installs the blob in `bytes` as DESIGN.md's "Install, and when to
    /// interpret" says, with `profile` as the device: a blob that fails its
    /// checks is refused; code for `profile.engine` (if the host has its
    /// features) runs natively; otherwise the bytecode is verified and
    /// interpreted; with neither the blob is refused. The helpers the blob
    /// imports must all be provided by `helpers`; `.data` and `.bss` are
    /// initialised from the blob and persist across runs.
    pub fn install_blob(
        bytes: &[u8],
        helpers: H,
        config: ContainerConfig,
        profile: &HostProfile<'_>,
    ) -> Result<Self, BlobInstallError> {
        let aligned = crate::AlignedBytes::copy_of(bytes);
        let bytes = aligned.bytes();
        let blob = Blob::parse(bytes).map_err(install::InstallError::Blob)?;
        // The device's helper list is what `helpers` provides of the blob's
        // imports, so the install policy names the first one missing.
        let provided: Vec<u32> = blob.helpers().filter(|&id| helpers.provides(id)).collect();
        let device = DeviceProfile {
            engine: profile.engine,
            features: profile.features,
            helpers: &provided,
            stack_size: u32::try_from(config.stack_size).unwrap_or(u32::MAX),
            public_key: profile.public_key,
        };
        let slots = blob.bytecode().map_or(0, |b| b.len() / 8);
        let mut scratch = alloc::vec![SlotScratch::EMPTY; scratch_len(slots)];
        // A function starts at a slot, so there are at most as many as slots.
        let mut functions = alloc::vec![FunctionInfo::default(); slots.max(1)];
        let installed = install::install(bytes, &device, &mut scratch, &mut functions)?;
        let data: Vec<DataImage<'_>> = installed
            .blob
            .data_regions()
            .map(|r| DataImage {
                writable: r.kind != BlobRegionKind::ReadOnly,
                image: r.image,
                size: r.size,
            })
            .collect();
        match installed.plan {
            RunPlan::Interpret(program) => Ok(Container::install(program, &data, helpers, config)?),
            RunPlan::Native { code, program } => {
                let native = NativeExec {
                    engine: code.engine,
                    code: HostCode::new(code.engine, code.code, code.entry)?,
                    program,
                    frame: Box::default(),
                };
                Ok(Container::assemble(Exec::Native(native), &data, helpers, config)?)
            }
        }
    }
}
