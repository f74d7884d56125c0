//! Differential testing: generated programs, valid by construction, run on
//! an engine and on the reference interpreter, compared field by field
//! (DESIGN.md "One semantics, many engines").
//!
//! Cases are reproducible from `(seed, index)`: [`generate`] rebuilds any
//! case a [`Mismatch`] names.

mod blob_path;
mod builder;
mod compare;
mod features;
mod generator;
mod rng;

pub use blob_path::{BlobInterpreter, BLOB_INTERP};
pub use compare::{compare, first_difference, run_cases, Difference, Mismatch, Summary};
pub use features::{Feature, FeatureSet};
pub use generator::{generate, GeneratedCase};

use crate::engine::{engine_by_name, Engine, EngineError};

/// The engine called `name`: one of `crate::engine::ENGINE_NAMES`, or
/// [`BLOB_INTERP`], the interpreter behind the blob install path.
pub fn differential_engine(name: &str) -> Result<Box<dyn Engine>, EngineError> {
    if name == BLOB_INTERP {
        return Ok(Box::new(BlobInterpreter));
    }
    engine_by_name(name)
}
