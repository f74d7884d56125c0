//! The conformance-vector harness.
