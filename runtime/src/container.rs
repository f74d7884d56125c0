//! Containers: a verified program with its own stack, data regions,
//! budget, helper state and optional private context.
//!
//! A container runs its program either through the interpreter or, with
//! feature `std`, as native code for the host's ISA installed from a blob
//! ([`Container::install_blob`]). Both run over the same regions with the
//! same helpers, budget and context rules; only the executor differs.

use alloc::vec::Vec;

use femtoc_isa::{decode_all, FunctionInfo, Insn, VerifiedRef};

use crate::error::{RunError, RunOutcome};
use crate::helpers::Helpers;
use crate::install::ExecMode;
use crate::interp::{self, RunArgs};
use crate::region::{
    Access, MemRegion, RegionError, RegionKind, Regions, MAX_DATA_REGIONS, MAX_REGIONS,
};

/// Default eBPF stack of a container (DESIGN item 5).
pub const DEFAULT_STACK_SIZE: usize = 512;

/// Initial contents of one program data region, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataImage<'i> {
    /// `.data`/`.bss` (true) or `.rodata` (false).
    pub writable: bool,
    /// Initial bytes; the rest up to `size` is zero.
    pub image: &'i [u8],
    /// Size of the region.
    pub size: u32,
}

#[cfg(feature = "alloc")]
impl<'i> From<&'i femtoc_isa::program::DataRegion> for DataImage<'i> {
    fn from(r: &'i femtoc_isa::program::DataRegion) -> Self {
        DataImage { writable: r.kind.writable(), image: &r.image, size: r.size }
    }
}

/// Settings of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContainerConfig {
    /// Bytes of eBPF stack.
    pub stack_size: usize,
    /// Budget per run (`None`: unlimited).
    pub budget: Option<u64>,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        ContainerConfig { stack_size: DEFAULT_STACK_SIZE, budget: None }
    }
}

/// Why a program could not be installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InstallError {
    /// A data image is larger than its declared size.
    #[error("data region {index}: image of {image} bytes exceeds its size of {size}")]
    ImageTooLarge {
        /// Region index.
        index: usize,
        /// Image length.
        image: usize,
        /// Declared size.
        size: u32,
    },
    /// More data regions than a run can map.
    #[error("{0} data regions exceed the limit of {MAX_DATA_REGIONS}")]
    TooManyDataRegions(usize),
    /// The stack is smaller than the program's call tree needs.
    #[error("the program needs {needed} bytes of stack, the container has {got}")]
    StackTooSmall {
        /// `stack_usage`.
        needed: u32,
        /// Configured stack.
        got: usize,
    },
    /// The program calls a helper the host does not provide.
    #[error("pc {pc}: helper {id:#x} is not provided by the host")]
    UnknownHelper {
        /// Slot of the call.
        pc: usize,
        /// Helper id.
        id: u32,
    },
    /// The code does not decode (it was not verified).
    #[error("pc {0}: the code does not decode")]
    BadCode(usize),
    /// No room for another region.
    #[error(transparent)]
    Region(#[from] RegionError),
}

/// The context of one run.
#[derive(Debug)]
pub enum Context<'c> {
    /// No context: r1 = r2 = 0.
    None,
    /// Read-only for the program (a hook's context).
    Shared(&'c [u8]),
    /// Readable and writable by the program.
    Writable(&'c mut [u8]),
}

struct DataMem {
    writable: bool,
    bytes: crate::AlignedBytes,
}

/// Verified bytecode the container owns.
struct Bytecode {
    code: Vec<u64>,
    functions: Vec<FunctionInfo>,
    stack_usage: u32,
    min_ctx_len: u32,
}

impl Bytecode {
    fn as_ref(&self) -> VerifiedRef<'_> {
        VerifiedRef {
            code: &self.code,
            functions: &self.functions,
            stack_usage: self.stack_usage,
            min_ctx_len: self.min_ctx_len,
        }
    }
}

/// What executes the container's program.
enum Exec {
    /// The interpreter, over the container's bytecode.
    Interpret(Bytecode),
    /// Native code for the host's ISA.
    #[cfg(feature = "std")]
    Native(host::NativeExec),
}

/// One installed program and everything it owns.
pub struct Container<H> {
    exec: Exec,
    stack: Vec<u8>,
    data: Vec<DataMem>,
    host: Vec<(Access, Vec<u8>)>,
    own_context: Option<Vec<u8>>,
    budget: Option<u64>,
    helpers: H,
}

impl<H: Helpers> Container<H> {
    /// Installs `prog` with its data images: `.data` and `.bss` are
    /// initialised here and persist across runs.
    pub fn install(
        prog: VerifiedRef<'_>,
        data: &[DataImage<'_>],
        helpers: H,
        config: ContainerConfig,
    ) -> Result<Self, InstallError> {
        if (prog.stack_usage as usize) > config.stack_size {
            return Err(InstallError::StackTooSmall {
                needed: prog.stack_usage,
                got: config.stack_size,
            });
        }
        for d in decode_all(prog.code) {
            match d {
                Ok(d) => match d.insn {
                    Insn::Call { id } if !helpers.provides(id) => {
                        return Err(InstallError::UnknownHelper { pc: d.pc, id })
                    }
                    _ => {}
                },
                Err((pc, _)) => return Err(InstallError::BadCode(pc)),
            }
        }
        let bytecode = Bytecode {
            code: prog.code.to_vec(),
            functions: prog.functions.to_vec(),
            stack_usage: prog.stack_usage,
            min_ctx_len: prog.min_ctx_len,
        };
        Self::assemble(Exec::Interpret(bytecode), data, helpers, config)
    }

    /// The container around `exec`: initialises its data regions and stack.
    fn assemble(
        exec: Exec,
        data: &[DataImage<'_>],
        helpers: H,
        config: ContainerConfig,
    ) -> Result<Self, InstallError> {
        if data.len() > MAX_DATA_REGIONS {
            return Err(InstallError::TooManyDataRegions(data.len()));
        }
        let mut mems = Vec::with_capacity(data.len());
        for (index, d) in data.iter().enumerate() {
            if d.image.len() > d.size as usize {
                return Err(InstallError::ImageTooLarge {
                    index,
                    image: d.image.len(),
                    size: d.size,
                });
            }
            let bytes = crate::AlignedBytes::with_image(d.image, d.size as usize);
            mems.push(DataMem { writable: d.writable, bytes });
        }
        Ok(Container {
            exec,
            stack: alloc::vec![0u8; config.stack_size],
            data: mems,
            host: Vec::new(),
            own_context: None,
            budget: config.budget,
            helpers,
        })
    }

    /// The installed bytecode, if the container interprets it (a native
    /// container keeps only its machine code).
    pub fn program(&self) -> Option<VerifiedRef<'_>> {
        match &self.exec {
            Exec::Interpret(b) => Some(b.as_ref()),
            #[cfg(feature = "std")]
            Exec::Native(_) => None,
        }
    }

    /// Whether the program runs natively or is interpreted.
    pub fn mode(&self) -> ExecMode {
        match &self.exec {
            Exec::Interpret(_) => ExecMode::Interpreted,
            #[cfg(feature = "std")]
            Exec::Native(n) => ExecMode::Native(n.engine),
        }
    }

    /// Runs once. With a context of its own (see
    /// [`set_own_context`](Self::set_own_context)) the container runs on
    /// that, writable, and `ctx` is not visible to it.
    pub fn run(&mut self, ctx: Context<'_>) -> Result<RunOutcome, RunError> {
        let Container { exec, stack, data, host, own_context, budget, helpers } = self;
        let mut regions = Regions::new(stack);
        let ctx_region = match (own_context.as_deref_mut(), ctx) {
            (Some(own), _) => Some(MemRegion::read_write(RegionKind::Context, own)),
            (None, Context::Shared(c)) => Some(MemRegion::read_only(RegionKind::Context, c)),
            (None, Context::Writable(c)) => Some(MemRegion::read_write(RegionKind::Context, c)),
            (None, Context::None) => None,
        };
        let (mut r1, mut r2) = (0, 0);
        // An empty context is no context: r1 = r2 = 0 (DESIGN item 1).
        if let Some(c) = ctx_region.filter(|c| !c.is_empty()) {
            (r1, r2) = (c.start(), c.len());
            push(&mut regions, c, false)?;
        }
        for d in data.iter_mut() {
            let region = if d.writable {
                MemRegion::read_write(RegionKind::Data, &mut d.bytes)
            } else {
                MemRegion::read_only(RegionKind::Rodata, &d.bytes)
            };
            push(&mut regions, region, true)?;
        }
        for (access, bytes) in host.iter_mut() {
            let region = match access {
                Access::Read => MemRegion::read_only(RegionKind::Host, bytes),
                Access::ReadWrite => MemRegion::read_write(RegionKind::Host, bytes),
            };
            push(&mut regions, region, false)?;
        }
        let args = RunArgs { r1, r2, budget: *budget };
        match exec {
            Exec::Interpret(b) => interp::run(&b.as_ref(), &regions, args, helpers),
            #[cfg(feature = "std")]
            Exec::Native(n) => n.run(&regions, args, helpers),
        }
    }

    /// Gives the container a writable context of its own (or takes it away).
    pub fn set_own_context(&mut self, ctx: Option<Vec<u8>>) {
        self.own_context = ctx;
    }

    /// The container's own context.
    pub fn own_context(&self) -> Option<&[u8]> {
        self.own_context.as_deref()
    }

    /// The container's own context, for the host to fill.
    pub fn own_context_mut(&mut self) -> Option<&mut [u8]> {
        self.own_context.as_deref_mut()
    }

    /// Adds host memory the program may access; returns its index.
    pub fn add_host_region(
        &mut self,
        bytes: Vec<u8>,
        access: Access,
    ) -> Result<usize, InstallError> {
        let used = 2 + self.data.len() + self.host.len();
        if used >= MAX_REGIONS {
            return Err(RegionError::TooManyRegions.into());
        }
        self.host.push((access, bytes));
        Ok(self.host.len() - 1)
    }

    /// A host region's bytes.
    pub fn host_region(&self, index: usize) -> Option<&[u8]> {
        self.host.get(index).map(|(_, b)| b.as_slice())
    }

    /// A host region's bytes, mutably.
    pub fn host_region_mut(&mut self, index: usize) -> Option<&mut [u8]> {
        self.host.get_mut(index).map(|(_, b)| b.as_mut_slice())
    }

    /// Current contents of data region `index`.
    pub fn data(&self, index: usize) -> Option<&[u8]> {
        self.data.get(index).map(|d| &d.bytes[..])
    }

    /// The stack as the last run left it.
    pub fn stack(&self) -> &[u8] {
        &self.stack
    }

    /// Budget per run.
    pub fn budget(&self) -> Option<u64> {
        self.budget
    }

    /// Sets the budget per run.
    pub fn set_budget(&mut self, budget: Option<u64>) {
        self.budget = budget;
    }

    /// The container's helper set (and its state, such as its local store).
    pub fn helpers(&self) -> &H {
        &self.helpers
    }

    /// The container's helper set, mutably.
    pub fn helpers_mut(&mut self) -> &mut H {
        &mut self.helpers
    }
}

#[cfg(feature = "std")]
pub use host::{BlobInstallError, HostProfile};

#[cfg(feature = "std")]
mod host;

fn push<'a>(regions: &mut Regions<'a>, r: MemRegion<'a>, data: bool) -> Result<(), RunError> {
    let res = if data { regions.push_data(r) } else { regions.push(r) };
    // `install` and `add_host_region` keep the table within its capacity,
    // and data regions live in `AlignedBytes`: neither error is expected.
    res.map_err(|e| RunError {
        pc: 0,
        kind: crate::error::RunErrorKind::InvalidProgram(match e {
            RegionError::MisalignedData { .. } => "a data region is not 8-aligned",
            RegionError::TooManyRegions | RegionError::TooManyDataRegions => {
                "too many memory regions"
            }
        }),
        budget_used: 0,
    })
}
