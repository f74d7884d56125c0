//! Memory regions: the only memory a container can touch, and the one
//! bounds check every access goes through.
//!
//! There is no address translation (DESIGN item 3): a region's `start` is the
//! real address of its first byte in this process, and an eBPF pointer is
//! compared against it directly. A region keeps the raw pointer it was built
//! from, so every access derives its pointer from that base (keeping the
//! borrow's provenance) instead of casting the integer address back.

use core::marker::PhantomData;

/// Most regions one run can see: stack, context, data regions and host regions.
pub const MAX_REGIONS: usize = 16;
/// Most data regions (`.rodata`, `.data`, `.bss`, ...) a program may name.
pub const MAX_DATA_REGIONS: usize = 8;

/// What a container may do with a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Loads only.
    Read,
    /// Loads, stores and atomics.
    ReadWrite,
}

/// Where a region comes from (for reports; permissions are in [`Access`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// The container's eBPF stack.
    Stack,
    /// The run's context (r1/r2).
    Context,
    /// A read-only data region of the program.
    Rodata,
    /// A writable data region of the program (`.data`, `.bss`).
    Data,
    /// Memory the host added.
    Host,
}

/// One contiguous range of memory a container may access.
///
/// Built from a slice (or, unsafely, from raw parts), so it borrows that
/// memory for `'a`; its fields are private so safe code cannot forge a region
/// over memory it does not own.
#[derive(Clone, Copy, Debug)]
pub struct MemRegion<'a> {
    base: *mut u8,
    start: u64,
    len: u64,
    access: Access,
    kind: RegionKind,
    _borrow: PhantomData<&'a mut [u8]>,
}

impl<'a> MemRegion<'a> {
    /// A region nobody can access (length 0); fills unused table slots.
    pub const fn empty() -> Self {
        MemRegion {
            base: core::ptr::null_mut(),
            start: 0,
            len: 0,
            access: Access::Read,
            kind: RegionKind::Host,
            _borrow: PhantomData,
        }
    }

    /// A read-only region over `bytes`.
    pub fn read_only(kind: RegionKind, bytes: &'a [u8]) -> Self {
        // The pointer is only ever written through when `access` is
        // `ReadWrite`, which this constructor never sets.
        let base = bytes.as_ptr().cast_mut();
        MemRegion {
            base,
            start: base as usize as u64,
            len: bytes.len() as u64,
            access: Access::Read,
            kind,
            _borrow: PhantomData,
        }
    }

    /// A readable and writable region over `bytes`.
    pub fn read_write(kind: RegionKind, bytes: &'a mut [u8]) -> Self {
        let base = bytes.as_mut_ptr();
        MemRegion {
            base,
            start: base as usize as u64,
            len: bytes.len() as u64,
            access: Access::ReadWrite,
            kind,
            _borrow: PhantomData,
        }
    }

    /// A region over memory the caller manages itself, for memory shared
    /// with other containers, threads or interrupt handlers.
    ///
    /// # Safety
    /// For `'a`, `len` bytes from `base` must stay valid for reads (and for
    /// writes if `access` is `ReadWrite`), and nothing else may hold a Rust
    /// reference to them; other parties may only touch them through raw
    /// pointers or atomics (the interpreter's plain loads and stores then
    /// race like C code would, its atomics do not). The bytes must not
    /// include the last address of the address space (`base + len` must not
    /// overflow `usize`), as for any Rust slice: compiled code for 32-bit
    /// targets relies on it (see [`crate::abi`], "Memory checks").
    pub unsafe fn from_raw_parts(
        base: *mut u8,
        len: usize,
        access: Access,
        kind: RegionKind,
    ) -> Self {
        MemRegion {
            base,
            start: base as usize as u64,
            len: len as u64,
            access,
            kind,
            _borrow: PhantomData,
        }
    }

    /// Address of the first byte.
    pub const fn start(&self) -> u64 {
        self.start
    }

    /// Length in bytes.
    pub const fn len(&self) -> u64 {
        self.len
    }

    /// True for a zero-length region.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One past the last byte (may exceed `u32::MAX` only on 64-bit hosts).
    pub const fn end(&self) -> u64 {
        self.start.wrapping_add(self.len)
    }

    /// Permissions.
    pub const fn access(&self) -> Access {
        self.access
    }

    /// Origin.
    pub const fn kind(&self) -> RegionKind {
        self.kind
    }

    /// The pointer to `size` bytes at `addr` if they lie inside this region
    /// and the permission allows the access.
    #[inline(always)]
    fn lookup(&self, addr: u64, size: u64, write: bool) -> Option<*mut u8> {
        // `off < len` and `size <= len - off` cannot overflow, unlike
        // `addr + size <= start + len`. An address with a non-zero upper half
        // on a 32-bit target never matches: `start + len <= 2^32` there.
        let off = addr.wrapping_sub(self.start);
        if off < self.len
            && size <= self.len - off
            && (!write || matches!(self.access, Access::ReadWrite))
        {
            // `off < len <= isize::MAX`, so this stays inside the borrowed
            // allocation; `wrapping_add` keeps the base's provenance.
            Some(self.base.wrapping_add(off as usize))
        } else {
            None
        }
    }
}

/// Why a region could not be added to a [`Regions`] table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    /// The table already holds [`MAX_REGIONS`] regions.
    #[error("too many memory regions (at most {MAX_REGIONS})")]
    TooManyRegions,
    /// The program names more than [`MAX_DATA_REGIONS`] data regions.
    #[error("too many data regions (at most {MAX_DATA_REGIONS})")]
    TooManyDataRegions,
    /// A non-empty data region that does not start at a multiple of
    /// [`DATA_ALIGN`].
    #[error("data region {index} starts at {start:#x}, not a multiple of {DATA_ALIGN}")]
    MisalignedData {
        /// Its index (`lddw` src 6 imm).
        index: usize,
        /// Its first byte's address.
        start: u64,
    },
}

/// Alignment of every non-empty data region's start. Compilers align
/// `.data` and `.bss` like their widest variable and may decide the
/// alignment of an access from its offset alone (an atomic at `data[0] +
/// 16` is word-aligned); the runtime therefore refuses a data region that
/// would break that, and `AlignedBytes` gives owned memory that keeps it.
pub const DATA_ALIGN: u64 = 8;

/// The memory one run sees: a fixed-capacity table (no allocation), with
/// the stack first, plus the base addresses `lddw` src 6 resolves to.
#[derive(Clone, Debug)]
pub struct Regions<'a> {
    table: [MemRegion<'a>; MAX_REGIONS],
    len: usize,
    data_bases: [u64; MAX_DATA_REGIONS],
    data_len: usize,
}

impl<'a> Regions<'a> {
    /// A table holding only the stack; r10 starts at its end.
    ///
    /// The stack's end is rounded down to a multiple of 8 (dropping up to
    /// 7 bytes), so r10 is 8-aligned in every function on every engine, as
    /// eBPF code expects: `stxdw [r10 - 8]` is aligned, and compilers may
    /// decide the alignment of a frame access from its offset alone.
    pub fn new(stack: &'a mut [u8]) -> Self {
        let keep = stack.len() - stack_end_excess(stack.as_ptr() as usize, stack.len());
        let stack = &mut stack[..keep];
        let mut table = [MemRegion::empty(); MAX_REGIONS];
        table[0] = MemRegion::read_write(RegionKind::Stack, stack);
        Regions { table, len: 1, data_bases: [0; MAX_DATA_REGIONS], data_len: 0 }
    }

    /// A table whose stack is memory the caller manages; its end is
    /// rounded down to a multiple of 8 as in [`Regions::new`].
    ///
    /// # Safety
    /// As for [`MemRegion::from_raw_parts`] with `ReadWrite` access.
    pub unsafe fn with_raw_stack(base: *mut u8, len: usize) -> Self {
        let len = len - stack_end_excess(base as usize, len);
        let mut table = [MemRegion::empty(); MAX_REGIONS];
        // SAFETY: the caller upholds `from_raw_parts`'s contract.
        table[0] =
            unsafe { MemRegion::from_raw_parts(base, len, Access::ReadWrite, RegionKind::Stack) };
        Regions { table, len: 1, data_bases: [0; MAX_DATA_REGIONS], data_len: 0 }
    }

    /// Adds a region (context or host memory).
    pub fn push(&mut self, region: MemRegion<'a>) -> Result<(), RegionError> {
        let slot = self.table.get_mut(self.len).ok_or(RegionError::TooManyRegions)?;
        *slot = region;
        self.len += 1;
        Ok(())
    }

    /// Adds the program's next data region: the n-th call defines what
    /// `lddw` with src 6 and imm n points at. A non-empty one must start at
    /// a multiple of [`DATA_ALIGN`].
    pub fn push_data(&mut self, region: MemRegion<'a>) -> Result<(), RegionError> {
        if self.data_len >= MAX_DATA_REGIONS {
            return Err(RegionError::TooManyDataRegions);
        }
        let start = region.start();
        if !region.is_empty() && !start.is_multiple_of(DATA_ALIGN) {
            return Err(RegionError::MisalignedData { index: self.data_len, start });
        }
        self.push(region)?;
        self.data_bases[self.data_len] = start;
        self.data_len += 1;
        Ok(())
    }

    /// The regions, stack first.
    pub fn as_slice(&self) -> &[MemRegion<'a>] {
        &self.table[..self.len]
    }

    /// The stack region.
    pub fn stack(&self) -> &MemRegion<'a> {
        &self.table[0]
    }

    /// Base addresses of the program's data regions, by index.
    pub fn data_bases(&self) -> &[u64] {
        &self.data_bases[..self.data_len]
    }

    /// Base address of data region `index`, if the table has it.
    #[inline]
    pub fn data_base(&self, index: u32) -> Option<u64> {
        self.data_bases().get(index as usize).copied()
    }

    /// The bounds check: the pointer to `size` bytes at `addr` if they lie
    /// entirely inside one region that allows the access, else `None`.
    #[inline]
    pub fn check(&self, addr: u64, size: u64, write: bool) -> Option<*mut u8> {
        self.as_slice().iter().find_map(|r| r.lookup(addr, size, write))
    }
}

/// Bytes past the last multiple of 8 at the end of a stack at `start` of
/// `len` bytes (all of them if it holds no such multiple).
fn stack_end_excess(start: usize, len: usize) -> usize {
    let end = start.wrapping_add(len);
    (end % 8).min(len)
}
