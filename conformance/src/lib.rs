//! The conformance-vector harness.

pub mod vector;
