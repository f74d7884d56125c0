//! The fixed test layout (DESIGN item 3): every engine lays the regions of
//! a test or differential run at the same addresses below 2^32, so pointer
//! values, fault addresses and r0 agree bit for bit.
//!
//! | region | address |
//! |---|---|
//! | stack | [`STACK_BASE`]; r10 = `STACK_BASE + stack size` |
//! | context | [`CONTEXT_BASE`] |
//! | data region i | [`DATA_BASE`] + i * [`SLOT_STRIDE`] |
//! | host region i | [`HOST_BASE`] + i * [`SLOT_STRIDE`] |
//!
//! Each region is at most [`SLOT_STRIDE`] bytes. On the host,
//! [`FixedArena`] maps memory at exactly these addresses.

use alloc::vec::Vec;
use std::sync::{Mutex, MutexGuard};

/// Lowest stack byte.
pub const STACK_BASE: u64 = 0x1000_0000;
/// First context byte.
pub const CONTEXT_BASE: u64 = 0x2000_0000;
/// First byte of data region 0.
pub const DATA_BASE: u64 = 0x3000_0000;
/// First byte of host region 0.
pub const HOST_BASE: u64 = 0x4000_0000;
/// Distance between consecutive data (or host) regions, and the largest
/// size of any one region.
pub const SLOT_STRIDE: u64 = 0x0010_0000;

/// Address of data region `i`.
pub const fn data_addr(i: usize) -> u64 {
    DATA_BASE + i as u64 * SLOT_STRIDE
}

/// Address of host region `i`.
pub const fn host_addr(i: usize) -> u64 {
    HOST_BASE + i as u64 * SLOT_STRIDE
}

/// What a [`FixedArena`] maps (sizes in bytes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArenaSpec {
    /// Stack size.
    pub stack: usize,
    /// Context size (0: no context is mapped).
    pub context: usize,
    /// Size of each data region, by index.
    pub data: Vec<usize>,
    /// Size of each host region, by index.
    pub host: Vec<usize>,
}

/// Why the arena could not be mapped.
#[derive(Debug, thiserror::Error)]
pub enum ArenaError {
    /// A region is larger than [`SLOT_STRIDE`].
    #[error("{what} of {size} bytes exceeds the {SLOT_STRIDE:#x}-byte slot")]
    TooLarge {
        /// Which region.
        what: &'static str,
        /// Its size.
        size: usize,
    },
    /// The fixed address is taken or mapping failed.
    #[error("cannot map {len:#x} bytes at {addr:#x}: {source}")]
    Map {
        /// Requested address.
        addr: u64,
        /// Requested length.
        len: usize,
        /// The OS error.
        source: std::io::Error,
    },
    /// Fixed mappings are implemented for Linux only.
    #[error("fixed mappings are not supported on this OS")]
    Unsupported,
}

/// Mutable views of the mapped regions.
#[derive(Debug)]
pub struct ArenaSlices<'a> {
    /// The stack (at [`STACK_BASE`]).
    pub stack: &'a mut [u8],
    /// The context (at [`CONTEXT_BASE`]; empty if not mapped).
    pub context: &'a mut [u8],
    /// Data regions.
    pub data: Vec<&'a mut [u8]>,
    /// Host regions.
    pub host: Vec<&'a mut [u8]>,
}

static ARENA_LOCK: Mutex<()> = Mutex::new(());

struct Mapping {
    addr: u64,
    len: usize,
    map_len: usize,
}

/// Memory mapped at the fixed addresses, zero-filled, unmapped on drop.
/// Only one arena exists per process at a time: creating one waits for the
/// previous to be dropped, so parallel test threads take turns.
pub struct FixedArena {
    maps: Vec<Mapping>,
    spec: ArenaSpec,
    _guard: MutexGuard<'static, ()>,
}

impl core::fmt::Debug for FixedArena {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FixedArena").field("spec", &self.spec).finish()
    }
}

const PAGE: usize = 4096;

impl FixedArena {
    /// Maps the regions of `spec` at their fixed addresses.
    pub fn new(spec: &ArenaSpec) -> Result<Self, ArenaError> {
        let guard = ARENA_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let mut arena = FixedArena { maps: Vec::new(), spec: spec.clone(), _guard: guard };
        arena.map("stack", STACK_BASE, spec.stack)?;
        arena.map("context", CONTEXT_BASE, spec.context)?;
        for (i, &len) in spec.data.iter().enumerate() {
            arena.map("data region", data_addr(i), len)?;
        }
        for (i, &len) in spec.host.iter().enumerate() {
            arena.map("host region", host_addr(i), len)?;
        }
        Ok(arena)
    }

    fn map(&mut self, what: &'static str, addr: u64, len: usize) -> Result<(), ArenaError> {
        if len as u64 > SLOT_STRIDE {
            return Err(ArenaError::TooLarge { what, size: len });
        }
        if len == 0 {
            self.maps.push(Mapping { addr, len: 0, map_len: 0 });
            return Ok(());
        }
        let map_len = len.div_ceil(PAGE) * PAGE;
        os::map_fixed(addr, map_len).map_err(|source| ArenaError::Map { addr, len, source })?;
        self.maps.push(Mapping { addr, len, map_len });
        Ok(())
    }

    /// The spec this arena was mapped for.
    pub fn spec(&self) -> &ArenaSpec {
        &self.spec
    }

    /// Views of every region, in spec order.
    pub fn slices(&mut self) -> ArenaSlices<'_> {
        let mut views = self.maps.iter().map(|m| {
            if m.len == 0 {
                return &mut [][..];
            }
            // SAFETY: `new` mapped `m.map_len >= m.len` readable and
            // writable bytes at `m.addr`, which stay mapped until `drop`;
            // the mappings are disjoint and the returned slices borrow
            // `self` mutably, so no two live views overlap.
            unsafe { core::slice::from_raw_parts_mut(m.addr as usize as *mut u8, m.len) }
        });
        let stack = views.next().unwrap_or_default();
        let context = views.next().unwrap_or_default();
        let data = views.by_ref().take(self.spec.data.len()).collect();
        let host = views.collect();
        ArenaSlices { stack, context, data, host }
    }
}

impl Drop for FixedArena {
    fn drop(&mut self) {
        for m in self.maps.iter().filter(|m| m.map_len != 0) {
            os::unmap(m.addr, m.map_len);
        }
    }
}

#[cfg(target_os = "linux")]
mod os {
    /// Maps `len` zeroed bytes at exactly `addr`, failing if any is taken.
    pub(super) fn map_fixed(addr: u64, len: usize) -> std::io::Result<()> {
        let want = usize::try_from(addr).map_err(|_| std::io::Error::other("address too large"))?;
        // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping, so
        // no memory this process uses is affected; the result is checked.
        let got = unsafe {
            libc::mmap(
                want as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if got == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        if got as usize != want {
            // Kernels before 4.17 ignore the flag and treat the address as a hint.
            unmap(got as usize as u64, len);
            return Err(std::io::Error::other("the kernel placed the mapping elsewhere"));
        }
        Ok(())
    }

    /// Unmaps what `map_fixed` mapped.
    pub(super) fn unmap(addr: u64, len: usize) {
        // SAFETY: `addr`/`len` describe a mapping this module created and
        // nothing references any more (the arena is being dropped).
        unsafe { libc::munmap(addr as usize as *mut libc::c_void, len) };
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    pub(super) fn map_fixed(_: u64, _: usize) -> std::io::Result<()> {
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "fixed mappings need Linux"))
    }
    pub(super) fn unmap(_: u64, _: usize) {}
}
