//! eBPF's 64-bit division and modulo, shared by the interpreter and by the
//! routines 32-bit native code calls, so that both give the same results
//! for a zero divisor and for `MIN / -1`.

/// Unsigned division; by zero gives 0.
pub const fn udiv64(a: u64, b: u64) -> u64 {
    match a.checked_div(b) {
        Some(q) => q,
        None => 0,
    }
}

/// Unsigned modulo; by zero gives `a`.
pub const fn umod64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        a % b
    }
}

/// Signed (truncating) division; by zero gives 0, `MIN / -1` gives `MIN`.
pub const fn sdiv64(a: u64, b: u64) -> u64 {
    if b == 0 {
        0
    } else {
        (a as i64).wrapping_div(b as i64) as u64
    }
}

/// Signed (truncating) modulo; by zero gives `a`, `MIN % -1` gives 0.
pub const fn smod64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        (a as i64).wrapping_rem(b as i64) as u64
    }
}

/// 32-bit unsigned division; by zero gives 0.
pub const fn udiv32(a: u32, b: u32) -> u32 {
    match a.checked_div(b) {
        Some(q) => q,
        None => 0,
    }
}

/// 32-bit unsigned modulo; by zero gives `a`.
pub const fn umod32(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        a % b
    }
}

/// 32-bit signed division; by zero gives 0, `MIN / -1` gives `MIN`.
pub const fn sdiv32(a: u32, b: u32) -> u32 {
    if b == 0 {
        0
    } else {
        (a as i32).wrapping_div(b as i32) as u32
    }
}

/// 32-bit signed modulo; by zero gives `a`, `MIN % -1` gives 0.
pub const fn smod32(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        (a as i32).wrapping_rem(b as i32) as u32
    }
}
