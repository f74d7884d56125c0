//! femtoc's conformance harness: the shared eBPF vectors and the
//! differential checks, run on any engine through one [`engine::Engine`]
//! interface, with every region at the fixed test addresses of
//! `femtoc_runtime::layout` so that pointer values agree across engines.

pub mod differential;
#[cfg(feature = "emu")]
pub mod emu64;
#[cfg(feature = "emu")]
mod emulated;
pub mod engine;
pub mod host;
pub mod memory;
pub mod plugin;
pub mod runner;
#[cfg(feature = "emu")]
pub mod thumb;
pub mod vector;

use std::path::PathBuf;

/// The folder that holds the shared `conformance/` and `bench/` data:
/// `$FEMTOC_SHARED`, else `../shared` beside the workspace.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("FEMTOC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")),
        PathBuf::from,
    );
    // Messages name files under it: show the plain path where it exists.
    dir.canonicalize().unwrap_or(dir)
}
