//! Running compiled code natively on the host (feature `std`).
//!
//! [`HostCode`] copies a code section into fresh anonymous memory and then
//! flips that mapping to read+execute (`memmap2`), so the memory is never
//! writable and executable at once. [`HostCaller`] calls its entry with the
//! host's C ABI; [`run_host`] is [`crate::native::run_native`] with the real routines
//! ([`RoutineTable::device`]).

use std::boxed::Box;

use crate::abi::{NativeContext, RoutineTable};
use crate::engine::{Engine, Features};
use crate::error::{RunError, RunOutcome};
use crate::helpers::Helpers;
use crate::interp::RunArgs;
use crate::native::{run_native_with, NativeCaller, NativeFrame, NativeProgram};
use crate::region::Regions;

/// The engine whose code this host executes natively, if any.
pub const HOST_ENGINE: Option<Engine> = if cfg!(target_arch = "x86_64") {
    Some(Engine::X86_64)
} else if cfg!(target_arch = "aarch64") {
    Some(Engine::Aarch64)
} else if cfg!(target_arch = "riscv64") {
    Some(Engine::Riscv64gc)
} else {
    None
};

/// Features the host's engine offers native code: every ISA we run
/// natively divides in hardware; x86-64 and AArch64 (Linux maps normal
/// memory) handle misaligned accesses, and RV64GC includes the A and C
/// extensions but may trap misaligned ones.
pub const HOST_FEATURES: Features = if cfg!(target_arch = "riscv64") {
    Features::from_bits_truncate(
        Features::HW_DIVIDE.bits() | Features::ATOMIC_EXT.bits() | Features::COMPRESSED.bits(),
    )
} else {
    Features::from_bits_truncate(Features::HW_DIVIDE.bits() | Features::UNALIGNED_ACCESS.bits())
};

/// Why code could not be made executable.
#[derive(Debug, thiserror::Error)]
pub enum HostExecError {
    /// The code is for another ISA than the host's.
    #[error("code for {code} cannot run natively on this host ({host})")]
    WrongEngine {
        /// The code's engine.
        code: Engine,
        /// The host's engine name.
        host: &'static str,
    },
    /// The entry lies outside the code.
    #[error("entry offset {entry} is outside the {len}-byte code")]
    BadEntry {
        /// Entry offset.
        entry: u32,
        /// Code length.
        len: usize,
    },
    /// Mapping or protecting the memory failed.
    #[error("cannot map executable memory: {0}")]
    Map(#[from] std::io::Error),
}

/// A code section in executable, read-only memory.
pub struct HostCode {
    map: memmap2::Mmap,
    entry: usize,
}

impl core::fmt::Debug for HostCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostCode")
            .field("len", &self.map.len())
            .field("entry", &self.entry)
            .finish()
    }
}

impl HostCode {
    /// Installs `code` (for `engine`, entry at byte `entry`) in executable
    /// memory.
    pub fn new(engine: Engine, code: &[u8], entry: u32) -> Result<Self, HostExecError> {
        if HOST_ENGINE != Some(engine) {
            return Err(HostExecError::WrongEngine {
                code: engine,
                host: HOST_ENGINE.map_or("none", Engine::name),
            });
        }
        if entry as usize >= code.len() {
            return Err(HostExecError::BadEntry { entry, len: code.len() });
        }
        let mut map = memmap2::MmapMut::map_anon(code.len())?;
        map.copy_from_slice(code);
        // mprotect to R+X; on the hosts we target the instruction cache is
        // coherent with data writes made before the protection change
        // (x86-64), or the kernel synchronises it on mprotect (Linux/arm64
        // and riscv64 flush on a change to executable).
        let map = map.make_exec()?;
        Ok(HostCode { map, entry: entry as usize })
    }

    /// A caller for one run of this code.
    pub fn caller(&self) -> HostCaller<'_> {
        HostCaller { code: self }
    }
}

/// Calls a [`HostCode`]'s entry directly.
pub struct HostCaller<'c> {
    code: &'c HostCode,
}

impl NativeCaller for HostCaller<'_> {
    // The trait's contract (a prepared frame that stays put) is what makes
    // `ctx` valid; `run_native` is the caller that establishes it.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    fn call(&mut self, ctx: *mut NativeContext) -> Result<u32, RunError> {
        let addr = self.code.map.as_ptr().wrapping_add(self.code.entry);
        // SAFETY: the mapping holds code compiled for this host's ISA and C
        // ABI (checked in `HostCode::new`) with the entry signature the
        // native ABI fixes; it lives as long as `self.code`.
        let entry: unsafe extern "C" fn(*mut NativeContext) -> u32 =
            unsafe { core::mem::transmute(addr) };
        // SAFETY: `ctx` points to a frame prepared by `run_native`, which
        // stays put for the call.
        Ok(unsafe { entry(ctx) })
    }
}

/// Runs `code` natively over `regions`, like [`crate::interp::run`], in a
/// fresh native frame.
pub fn run_host(
    code: &HostCode,
    program: NativeProgram,
    regions: &Regions<'_>,
    args: RunArgs,
    helpers: &mut dyn Helpers,
) -> Result<RunOutcome, RunError> {
    let mut frame = Box::new(NativeFrame::default());
    run_host_in(&mut frame, code, program, regions, args, helpers)
}

/// [`run_host`] in a frame the caller keeps between runs (as a container
/// does), so a run allocates nothing.
pub fn run_host_in(
    frame: &mut NativeFrame,
    code: &HostCode,
    program: NativeProgram,
    regions: &Regions<'_>,
    args: RunArgs,
    helpers: &mut dyn Helpers,
) -> Result<RunOutcome, RunError> {
    let mut caller = code.caller();
    run_native_with(program, regions, args, helpers, RoutineTable::device(), frame, &mut caller)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_for_another_isa_is_refused() {
        let other =
            if HOST_ENGINE == Some(Engine::Aarch64) { Engine::X86_64 } else { Engine::Aarch64 };
        assert!(matches!(
            HostCode::new(other, &[0xc3], 0),
            Err(HostExecError::WrongEngine { code, .. }) if code == other
        ));
    }

    #[test]
    fn an_entry_past_the_code_is_refused() {
        let Some(host) = HOST_ENGINE else { return };
        assert!(matches!(
            HostCode::new(host, &[0xc3, 0x90], 2),
            Err(HostExecError::BadEntry { entry: 2, len: 2 })
        ));
    }
}
