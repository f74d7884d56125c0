//! Helper sets for harnesses: the conformance suite's helper 5 and a
//! wrapper that records every call for differential tests.

use super::{fail, HelperResult, Helpers, MemoryAccess};

/// The conformance suite's helper id 5 ("unwind").
pub const UNWIND: u32 = 5;

/// Provides only helper 5: returns r1; if r1 is 0 the run stops with r0 = 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConformanceHelpers;

impl Helpers for ConformanceHelpers {
    fn call(&mut self, id: u32, args: [u64; 5], _: &mut MemoryAccess<'_, '_>) -> HelperResult {
        match (id, args[0]) {
            (UNWIND, 0) => HelperResult::Stop(0),
            (UNWIND, v) => HelperResult::Return(v),
            _ => HelperResult::Fail(fail::HOST_ERROR),
        }
    }
    fn provides(&self, id: u32) -> bool {
        id == UNWIND
    }
}

/// One helper call as a differential test compares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperCall {
    /// Helper id.
    pub id: u32,
    /// r1..r5 at the call.
    pub args: [u64; 5],
}

/// Wraps a helper set and records the calls it forwards, in order.
#[cfg(feature = "alloc")]
#[derive(Debug, Default)]
pub struct Recording<H> {
    /// The wrapped set.
    pub inner: H,
    /// Calls so far.
    pub calls: alloc::vec::Vec<HelperCall>,
}

#[cfg(feature = "alloc")]
impl<H> Recording<H> {
    /// Wraps `inner` with an empty trace.
    pub fn new(inner: H) -> Self {
        Recording { inner, calls: alloc::vec::Vec::new() }
    }
}

#[cfg(feature = "alloc")]
impl<H: Helpers> Helpers for Recording<H> {
    fn call(&mut self, id: u32, args: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
        self.calls.push(HelperCall { id, args });
        self.inner.call(id, args, mem)
    }
    fn provides(&self, id: u32) -> bool {
        self.inner.provides(id)
    }
}
