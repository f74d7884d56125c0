//! Indivisible read-modify-writes on program memory for the `atomic`
//! instructions (DESIGN item 10).
//!
//! Where the target has native atomics of the width, they are used through
//! `core::sync::atomic` on the checked pointer, so containers and threads
//! sharing a region see indivisible updates. Where it has none
//! (riscv32imc has no A extension; ARMv7-M and RV32A lack 64-bit ones) the
//! operation is a plain read-modify-write with interrupts masked
//! ([`crate::critical`]): indivisible on the single-core devices femtoc
//! targets.

/// The read-modify-write operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rmw {
    Add,
    Or,
    And,
    Xor,
    Xchg,
}

macro_rules! atomic_impl {
    ($rmw:ident, $cas:ident, $ty:ty, $atomic:ident, $cfg:literal) => {
        /// Applies `op` with `v` at `p` and returns the old value.
        ///
        /// # Safety
        /// `p` must be valid for reads and writes of this type and aligned
        /// to its size, and no Rust reference may cover it.
        #[cfg(target_has_atomic = $cfg)]
        pub(crate) unsafe fn $rmw(p: *mut $ty, op: Rmw, v: $ty) -> $ty {
            use core::sync::atomic::Ordering::SeqCst;
            // SAFETY: the caller guarantees validity and natural alignment
            // (equal to the atomic type's alignment on every target with
            // native atomics of this width); all concurrent accesses other
            // parties make to region memory are atomic or raw.
            let a = unsafe { core::sync::atomic::$atomic::from_ptr(p) };
            match op {
                Rmw::Add => a.fetch_add(v, SeqCst),
                Rmw::Or => a.fetch_or(v, SeqCst),
                Rmw::And => a.fetch_and(v, SeqCst),
                Rmw::Xor => a.fetch_xor(v, SeqCst),
                Rmw::Xchg => a.swap(v, SeqCst),
            }
        }

        /// Compare-and-swap at `p`; returns the old value.
        ///
        /// # Safety
        /// As for the read-modify-write.
        #[cfg(target_has_atomic = $cfg)]
        pub(crate) unsafe fn $cas(p: *mut $ty, expected: $ty, new: $ty) -> $ty {
            use core::sync::atomic::Ordering::SeqCst;
            // SAFETY: as above.
            let a = unsafe { core::sync::atomic::$atomic::from_ptr(p) };
            match a.compare_exchange(expected, new, SeqCst, SeqCst) {
                Ok(old) | Err(old) => old,
            }
        }

        /// Fallback with interrupts masked: see the module documentation.
        ///
        /// # Safety
        /// `p` must be valid for reads and writes of this type and aligned.
        #[cfg(not(target_has_atomic = $cfg))]
        pub(crate) unsafe fn $rmw(p: *mut $ty, op: Rmw, v: $ty) -> $ty {
            crate::critical::with_interrupts_masked(|| {
                // SAFETY: the caller guarantees `p` is valid and aligned.
                let old = unsafe { p.read_volatile() };
                let new = match op {
                    Rmw::Add => old.wrapping_add(v),
                    Rmw::Or => old | v,
                    Rmw::And => old & v,
                    Rmw::Xor => old ^ v,
                    Rmw::Xchg => v,
                };
                // SAFETY: as above.
                unsafe { p.write_volatile(new) };
                old
            })
        }

        /// Fallback with interrupts masked: see the module documentation.
        ///
        /// # Safety
        /// `p` must be valid for reads and writes of this type and aligned.
        #[cfg(not(target_has_atomic = $cfg))]
        pub(crate) unsafe fn $cas(p: *mut $ty, expected: $ty, new: $ty) -> $ty {
            crate::critical::with_interrupts_masked(|| {
                // SAFETY: the caller guarantees `p` is valid and aligned.
                let old = unsafe { p.read_volatile() };
                if old == expected {
                    // SAFETY: as above.
                    unsafe { p.write_volatile(new) };
                }
                old
            })
        }
    };
}

atomic_impl!(rmw32, cas32, u32, AtomicU32, "32");
atomic_impl!(rmw64, cas64, u64, AtomicU64, "64");
