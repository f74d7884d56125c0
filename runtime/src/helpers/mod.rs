//! Helpers: host functions a program calls with `call imm`.
//!
//! A helper gets r1..r5 and a [`MemoryAccess`] over the calling container's
//! regions; every pointer argument goes through the same bounds check as the
//! program's own loads and stores, so a bad pointer fails the call before
//! any memory is touched.

pub mod fc;
mod format;
pub mod testing;

use crate::region::Regions;

pub use format::{fmt_s16_dfp, fmt_u32_dec, FMT_S16_DFP_MAX, FMT_U32_DEC_MAX};

/// What a helper call asks the run to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelperResult {
    /// Continue with r0 = the value.
    Return(u64),
    /// End the run successfully with r0 = the value.
    Stop(u64),
    /// End the run with `HelperFailed` and this code (see [`fail`]).
    Fail(u32),
}

/// Failure codes the standard helpers use in [`HelperResult::Fail`].
pub mod fail {
    /// A pointer argument does not lie inside the container's regions with
    /// the needed permission.
    pub const BAD_POINTER: u32 = 1;
    /// A non-pointer argument is out of range (a format, a digit count, a length).
    pub const BAD_ARGUMENT: u32 = 2;
    /// The host service behind the helper failed (trace sink, sensor driver).
    pub const HOST_ERROR: u32 = 3;
}

/// The host's set of helpers.
pub trait Helpers {
    /// Calls helper `id` with r1..r5. `mem` reaches the calling container's
    /// regions only.
    fn call(&mut self, id: u32, args: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult;
    /// True if `call(id, ..)` is implemented; loading rejects programs naming
    /// other ids.
    fn provides(&self, id: u32) -> bool;
}

impl<H: Helpers + ?Sized> Helpers for &mut H {
    fn call(&mut self, id: u32, args: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
        (**self).call(id, args, mem)
    }
    fn provides(&self, id: u32) -> bool {
        (**self).provides(id)
    }
}

/// No helpers at all.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHelpers;

impl Helpers for NoHelpers {
    fn call(&mut self, _: u32, _: [u64; 5], _: &mut MemoryAccess<'_, '_>) -> HelperResult {
        HelperResult::Fail(fail::HOST_ERROR)
    }
    fn provides(&self, _: u32) -> bool {
        false
    }
}

/// An access a helper attempted outside the container's regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("helper {kind} of {len} byte(s) at {addr:#x} is outside the container's memory", kind = if *write { "write" } else { "read" })]
pub struct AccessError {
    /// First byte.
    pub addr: u64,
    /// Bytes.
    pub len: u64,
    /// True for writes.
    pub write: bool,
}

/// A helper's view of the calling container's memory: copies in and out
/// through the bounds check; it never hands out references into program
/// memory, so helpers cannot alias it.
pub struct MemoryAccess<'r, 'a> {
    regions: &'r Regions<'a>,
}

impl<'r, 'a> MemoryAccess<'r, 'a> {
    /// A view of `regions` (engines create one per helper call).
    pub fn new(regions: &'r Regions<'a>) -> Self {
        MemoryAccess { regions }
    }

    fn ptr(&self, addr: u64, len: u64, write: bool) -> Result<*mut u8, AccessError> {
        self.regions.check(addr, len, write).ok_or(AccessError { addr, len, write })
    }

    /// Checks that `len` bytes at `addr` may be read (or written).
    pub fn check(&self, addr: u64, len: u64, write: bool) -> Result<(), AccessError> {
        if len == 0 {
            return Ok(());
        }
        self.ptr(addr, len, write).map(|_| ())
    }

    /// Copies `out.len()` bytes at `addr` into `out`.
    pub fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), AccessError> {
        if out.is_empty() {
            return Ok(());
        }
        let p = self.ptr(addr, out.len() as u64, false)?;
        // SAFETY: the check proved `out.len()` bytes at `p` lie in one region
        // valid for reads; `out` is host memory, never a region (regions are
        // borrowed exclusively by the table), so they do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    /// Copies `bytes` to `addr`.
    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), AccessError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let p = self.ptr(addr, bytes.len() as u64, true)?;
        // SAFETY: the check proved the destination lies in one writable
        // region; `bytes` is host memory, disjoint from every region.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
        Ok(())
    }

    /// Reads one byte.
    pub fn read_u8(&self, addr: u64) -> Result<u8, AccessError> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }

    /// Reads a little-endian `u32` (any alignment).
    pub fn read_u32(&self, addr: u64) -> Result<u32, AccessError> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Writes a little-endian `u32` (any alignment).
    pub fn write_u32(&mut self, addr: u64, value: u32) -> Result<(), AccessError> {
        self.write(addr, &value.to_le_bytes())
    }

    /// `memmove`: copies `len` bytes from `src` to `dst`; both ranges are
    /// checked before anything is written, and they may overlap.
    pub fn copy_within(&mut self, dst: u64, src: u64, len: u64) -> Result<(), AccessError> {
        if len == 0 {
            return Ok(());
        }
        let s = self.ptr(src, len, false)?;
        let d = self.ptr(dst, len, true)?;
        // SAFETY: both ranges lie inside regions (checked above, so `len`
        // fits in usize); `copy` allows overlap.
        unsafe { core::ptr::copy(s, d, len as usize) };
        Ok(())
    }
}

/// A helper implementation over an environment `E`.
pub type HelperFn<E> = fn(&mut E, [u64; 5], &mut MemoryAccess<'_, '_>) -> HelperResult;

/// Why a helper could not be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The table holds `N` helpers already.
    #[error("helper table is full ({0} entries)")]
    Full(usize),
    /// The id is registered already.
    #[error("helper {0:#x} is registered twice")]
    Duplicate(u32),
}

/// A fixed-capacity table the host fills: id -> function over an
/// environment `E` (the host's state for these helpers).
pub struct HelperTable<E, const N: usize = 24> {
    env: E,
    entries: [Option<(u32, HelperFn<E>)>; N],
}

impl<E, const N: usize> HelperTable<E, N> {
    /// An empty table over `env`.
    pub fn new(env: E) -> Self {
        HelperTable { env, entries: [None; N] }
    }

    /// Registers `f` as helper `id`.
    pub fn register(&mut self, id: u32, f: HelperFn<E>) -> Result<(), TableError> {
        if self.provides(id) {
            return Err(TableError::Duplicate(id));
        }
        let slot = self.entries.iter_mut().find(|e| e.is_none()).ok_or(TableError::Full(N))?;
        *slot = Some((id, f));
        Ok(())
    }

    /// Builder form of [`register`](Self::register).
    pub fn with(mut self, id: u32, f: HelperFn<E>) -> Result<Self, TableError> {
        self.register(id, f)?;
        Ok(self)
    }

    /// The environment.
    pub fn env(&self) -> &E {
        &self.env
    }

    /// The environment, mutably.
    pub fn env_mut(&mut self) -> &mut E {
        &mut self.env
    }

    fn lookup(&self, id: u32) -> Option<HelperFn<E>> {
        self.entries.iter().flatten().find(|(i, _)| *i == id).map(|(_, f)| *f)
    }
}

impl<E, const N: usize> Helpers for HelperTable<E, N> {
    fn call(&mut self, id: u32, args: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
        match self.lookup(id) {
            Some(f) => f(&mut self.env, args, mem),
            None => HelperResult::Fail(fail::HOST_ERROR),
        }
    }
    fn provides(&self, id: u32) -> bool {
        self.lookup(id).is_some()
    }
}
