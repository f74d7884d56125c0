//! The runtime routines compiled code calls (see [`crate::abi::RoutineTable`]).
//!
//! Each is an `extern "C"` function of the target's C ABI. They read the
//! host's state through `NativeContext::host`, which [`super::run_native`]
//! points at a live [`super::HostState`] for the duration of the call into
//! compiled code.

use crate::abi::{
    arith, atomic_op, status, window, NativeContext, NativeRegion, RoutineTable, ACCESS_WRITE,
};
use crate::atomic::{cas64, rmw64, Rmw};
use crate::helpers::{HelperResult, MemoryAccess};
use crate::region::{MAX_DATA_REGIONS, MAX_REGIONS};

use super::HostState;

/// # Safety
/// `ctx` must point to a context prepared by [`super::NativeFrame::prepare`]
/// whose `host` is a live `HostState` not otherwise borrowed.
unsafe fn host_of<'c>(
    ctx: *mut NativeContext,
) -> (&'c mut NativeContext, &'c mut HostState<'c, 'c, 'c>) {
    // SAFETY: the caller guarantees `ctx` is valid and `host` points to a
    // live, unaliased HostState for the duration of the routine.
    unsafe {
        let ctx = &mut *ctx;
        let host = &mut *(ctx.host as usize as *mut HostState<'c, 'c, 'c>);
        (ctx, host)
    }
}

/// Calls helper `ctx.helper_id` with `ctx.helper_args`; see the ABI.
///
/// # Safety
/// As for every routine: `ctx` is the context of a run in progress.
pub unsafe extern "C" fn helper_call(ctx: *mut NativeContext) -> u32 {
    // SAFETY: forwarded from the caller.
    let (ctx, host) = unsafe { host_of(ctx) };
    let mut mem = MemoryAccess::new(host.regions);
    match host.helpers.call(ctx.helper_id, ctx.helper_args, &mut mem) {
        HelperResult::Return(v) => {
            ctx.r0 = v;
            status::CONTINUE
        }
        HelperResult::Stop(v) => {
            ctx.r0 = v;
            status::HELPER_STOP
        }
        HelperResult::Fail(code) => {
            ctx.helper_code = code;
            status::HELPER_FAILED
        }
    }
}

/// Checks an access against every region: 0 if allowed, else 1 with the
/// fault fields filled.
///
/// # Safety
/// As for every routine.
pub unsafe extern "C" fn access_check(ctx: *mut NativeContext, access: u32, addr: u64) -> u32 {
    // SAFETY: forwarded from the caller.
    let (ctx, host) = unsafe { host_of(ctx) };
    let size = access & (ACCESS_WRITE - 1);
    let write = access & ACCESS_WRITE != 0;
    if host.regions.check(addr, u64::from(size), write).is_some() {
        return 0;
    }
    ctx.fault_addr = addr;
    ctx.fault_size = size;
    ctx.fault_write = u32::from(write);
    1
}

/// 64-bit unsigned division with eBPF's results.
pub extern "C" fn udiv64(a: u64, b: u64) -> u64 {
    arith::udiv64(a, b)
}

/// 64-bit signed division with eBPF's results.
pub extern "C" fn sdiv64(a: u64, b: u64) -> u64 {
    arith::sdiv64(a, b)
}

/// 64-bit unsigned modulo with eBPF's results.
pub extern "C" fn umod64(a: u64, b: u64) -> u64 {
    arith::umod64(a, b)
}

/// 64-bit signed modulo with eBPF's results.
pub extern "C" fn smod64(a: u64, b: u64) -> u64 {
    arith::smod64(a, b)
}

/// 64-bit atomic read-modify-write on an address the code has checked
/// (in a writable region, 8-aligned); returns the old value. An unknown
/// `op` leaves memory alone and returns the current value.
///
/// # Safety
/// `addr` must be a checked, 8-aligned address of a writable region of the
/// run in progress.
pub unsafe extern "C" fn atomic64(
    _ctx: *mut NativeContext,
    op: u32,
    addr: u64,
    value: u64,
    expected: u64,
) -> u64 {
    let p = addr as usize as *mut u64;
    let rmw = match op {
        atomic_op::ADD => Rmw::Add,
        atomic_op::OR => Rmw::Or,
        atomic_op::AND => Rmw::And,
        atomic_op::XOR => Rmw::Xor,
        atomic_op::XCHG => Rmw::Xchg,
        // SAFETY: the caller guarantees `p` is valid and aligned.
        atomic_op::CMPXCHG => return unsafe { cas64(p, expected, value) },
        // SAFETY: as above; a plain read.
        _ => return unsafe { p.read_volatile() },
    };
    // SAFETY: as above.
    unsafe { rmw64(p, rmw, value) }
}

// The descriptor's largest index names no table entry or data region.
const _: () = assert!(MAX_REGIONS < window::INDEX_MASK as usize);
const _: () = assert!(MAX_DATA_REGIONS < window::INDEX_MASK as usize);

/// The region table entry descriptor `desc` names (see [`window`]), if
/// the table has it.
///
/// # Safety
/// `ctx` must be a context prepared by [`super::NativeFrame::prepare`]:
/// `regions` points to `region_count` entries and `data_bases` to
/// [`MAX_DATA_REGIONS`] bases.
pub unsafe fn window_region(ctx: &NativeContext, desc: u32) -> Option<&NativeRegion> {
    let index = ((desc >> window::INDEX_SHIFT) & window::INDEX_MASK) as usize;
    // SAFETY: the caller guarantees the table pointers and lengths.
    let table = unsafe {
        core::slice::from_raw_parts(
            ctx.regions as usize as *const NativeRegion,
            ctx.region_count as usize,
        )
    };
    if desc & window::DATA == 0 {
        return table.get(index);
    }
    if index >= MAX_DATA_REGIONS {
        return None;
    }
    // SAFETY: as above; `index` is below the array's length.
    let base = unsafe { (ctx.data_bases as usize as *const u64).add(index).read() };
    table.iter().find(|r| r.start == base)
}

/// Fills the check window `desc` describes at `window` and returns `ctx`.
///
/// # Safety
/// As for every routine; `window` must be valid for [`window::WORDS`]
/// word writes.
pub unsafe extern "C" fn fill_window(
    ctx: *mut NativeContext,
    window: *mut u32,
    desc: u32,
) -> *mut NativeContext {
    // SAFETY: forwarded from the caller.
    let words = window::words(unsafe { window_region(&*ctx, desc) }, desc);
    for (i, w) in words.into_iter().enumerate() {
        // SAFETY: the caller guarantees `window` has room for every word.
        unsafe { window.add(i).write(w) };
    }
    ctx
}

impl RoutineTable {
    /// The table a device fills: the addresses of this module's routines
    /// (with the Thumb bit, as function pointers carry it on Arm).
    pub fn device() -> Self {
        RoutineTable {
            helper_call: helper_call as *const () as usize as u64,
            access_check: access_check as *const () as usize as u64,
            udiv64: udiv64 as *const () as usize as u64,
            sdiv64: sdiv64 as *const () as usize as u64,
            umod64: umod64 as *const () as usize as u64,
            smod64: smod64 as *const () as usize as u64,
            atomic64: atomic64 as *const () as usize as u64,
            fill_window: fill_window as *const () as usize as u64,
        }
    }
}
