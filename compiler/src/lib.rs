//! femtoc's compiler: analyses, backends and the blob writer.

pub mod analysis;
pub mod blob;
pub mod cranelift;
pub mod thumb2;
