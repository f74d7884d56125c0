//! femtoc's device runtime: memory regions, the reference interpreter,
//! helpers, containers and hooks.
//!
//! `no_std` always; `alloc` adds owned containers and the hook registry,
//! `std` the fixed test layout and host sinks. The run path never allocates.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

// eBPF memory is little-endian; the interpreter's atomics operate on native
// words, so they match loads and stores only on little-endian targets.
#[cfg(target_endian = "big")]
compile_error!("femtoc-runtime supports little-endian targets only");

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod abi;
#[cfg(feature = "alloc")]
pub mod aligned;
mod atomic;
pub mod blob;
#[cfg(feature = "alloc")]
pub mod container;
mod critical;
pub mod engine;
pub mod error;
pub mod helpers;
#[cfg(feature = "alloc")]
pub mod hook;
#[cfg(feature = "std")]
pub mod host_exec;
pub mod install;
pub mod interp;
#[cfg(feature = "std")]
pub mod layout;
pub mod native;
pub mod region;

#[cfg(feature = "alloc")]
pub use aligned::AlignedBytes;
#[cfg(feature = "std")]
pub use container::{BlobInstallError, HostProfile};
#[cfg(feature = "alloc")]
pub use container::{Container, ContainerConfig, Context, DataImage, InstallError};
pub use error::{RunError, RunErrorKind, RunOutcome};
pub use helpers::{HelperResult, HelperTable, Helpers, MemoryAccess};
#[cfg(feature = "alloc")]
pub use hook::{ContainerId, HookRegistry, HookRun};
pub use interp::{run, RunArgs, MAX_CALL_DEPTH, RUN_STATE_BYTES};
pub use region::{Access, MemRegion, RegionKind, Regions, DATA_ALIGN};
