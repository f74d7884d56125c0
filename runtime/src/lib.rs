//! femtoc's device runtime.
#![no_std]

pub mod blob;
pub mod engine;
