//! Interrupt masking for the read-modify-writes a core cannot do
//! atomically (DESIGN item 10: single-core devices; atomics must be
//! indivisible with respect to interrupt handlers and other containers).
//!
//! - Armv7-M: saves PRIMASK, `cpsid i`, restores PRIMASK afterwards (so a
//!   caller that already masked interrupts keeps them masked).
//! - RV32 in machine mode: clears `mstatus.MIE` with `csrrci` and restores
//!   the previous bit. femtoc's runtime runs in M-mode on the supported MCUs
//!   (ESP32-C3, FE310, GD32VF103 bare metal); a port to U-mode needs an
//!   environment call here instead.
//! - Elsewhere (hosts): only used on targets without native atomics of the
//!   width, which no supported host is; the closure runs as is.

/// Runs `f` with interrupts masked on the current core.
#[inline]
#[cfg_attr(target_has_atomic = "64", allow(dead_code))]
pub(crate) fn with_interrupts_masked<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(all(target_arch = "arm", target_os = "none"))]
    {
        let primask: u32;
        // SAFETY: reading PRIMASK and setting it with `cpsid i` only changes
        // interrupt delivery; it touches no memory.
        unsafe {
            core::arch::asm!("mrs {0}, PRIMASK", "cpsid i", out(reg) primask, options(nomem, nostack, preserves_flags));
        }
        let r = f();
        if primask & 1 == 0 {
            // SAFETY: re-enables interrupts that were enabled on entry.
            unsafe { core::arch::asm!("cpsie i", options(nomem, nostack, preserves_flags)) };
        }
        r
    }
    #[cfg(all(target_arch = "riscv32", target_os = "none"))]
    {
        let mstatus: usize;
        // SAFETY: clears MIE (bit 3) of mstatus and returns the old value; no memory access.
        unsafe {
            core::arch::asm!("csrrci {0}, mstatus, 8", out(reg) mstatus, options(nomem, nostack))
        };
        let r = f();
        if mstatus & 8 != 0 {
            // SAFETY: sets MIE again, as it was on entry.
            unsafe { core::arch::asm!("csrsi mstatus, 8", options(nomem, nostack)) };
        }
        r
    }
    #[cfg(not(all(any(target_arch = "arm", target_arch = "riscv32"), target_os = "none")))]
    {
        f()
    }
}
