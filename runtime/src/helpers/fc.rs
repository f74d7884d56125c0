//! The Femto-Containers standard helper set (RIOT's `bpf/shared.h` ids),
//! with every pointer argument checked against the calling container.
//!
//! Differences from RIOT, where host pointers cannot cross the sandbox:
//! SAUL devices are named by handles (index + 1; 0 means "none") instead of
//! host addresses, and results that can be negative (store full, sensor
//! errors) are sign-extended to 64 bits.

use super::format::{printf, PRINTF_MAX_FORMAT};
use super::{fail, fmt_s16_dfp, fmt_u32_dec, HelperResult, HelperTable, MemoryAccess, TableError};

/// Helper ids of the standard set.
pub mod id {
    /// `printf(fmt_ptr, fmt_len, a, b, c)` -> bytes written.
    pub const PRINTF: u32 = 0x01;
    /// `memcpy(dst, src, len)` -> dst.
    pub const MEMCPY: u32 = 0x02;
    /// `store_local(key, value)` -> 0, or -1 if the store is full.
    pub const STORE_LOCAL: u32 = 0x10;
    /// `store_global(key, value)` -> 0, or -1 if the store is full.
    pub const STORE_GLOBAL: u32 = 0x11;
    /// `fetch_local(key, value_ptr)` writes the value (0 if absent) -> 0.
    pub const FETCH_LOCAL: u32 = 0x12;
    /// `fetch_global(key, value_ptr)` writes the value (0 if absent) -> 0.
    pub const FETCH_GLOBAL: u32 = 0x13;
    /// `now_ms()` -> milliseconds.
    pub const NOW_MS: u32 = 0x20;
    /// `saul_reg_find_nth(n)` -> device handle or 0.
    pub const SAUL_REG_FIND_NTH: u32 = 0x30;
    /// `saul_reg_find_type(type)` -> device handle or 0.
    pub const SAUL_REG_FIND_TYPE: u32 = 0x31;
    /// `saul_reg_read(handle, phydat_ptr)` -> dimensions or a negative error.
    pub const SAUL_REG_READ: u32 = 0x32;
    /// `fmt_s16_dfp(out_ptr, value, fp_digits)` -> length.
    pub const FMT_S16_DFP: u32 = 0x50;
    /// `fmt_u32_dec(out_ptr, value)` -> length.
    pub const FMT_U32_DEC: u32 = 0x51;
    /// `ztimer_now()` -> the host's ztimer clock value.
    pub const ZTIMER_NOW: u32 = 0x60;
}

/// Default entries of a key-value store.
pub const KV_CAPACITY: usize = 16;
/// Returned (sign-extended) by a store into a full key-value store.
pub const KV_FULL: i64 = -1;
/// Returned (sign-extended) by `saul_reg_read` for an unknown handle (RIOT's `-ENODEV`).
pub const SAUL_NO_DEVICE: i64 = -19;

/// The store is full and the key is new.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("key-value store is full")]
pub struct KvFull;

/// A fixed-capacity `u32 -> u32` store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvStore<const N: usize = KV_CAPACITY> {
    entries: [(u32, u32); N],
    len: usize,
}

impl<const N: usize> Default for KvStore<N> {
    fn default() -> Self {
        KvStore { entries: [(0, 0); N], len: 0 }
    }
}

impl<const N: usize> KvStore<N> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`.
    pub fn update(&mut self, key: u32, value: u32) -> Result<(), KvFull> {
        if let Some(e) = self.entries[..self.len].iter_mut().find(|e| e.0 == key) {
            e.1 = value;
            return Ok(());
        }
        let slot = self.entries.get_mut(self.len).ok_or(KvFull)?;
        *slot = (key, value);
        self.len += 1;
        Ok(())
    }

    /// The value of `key`.
    pub fn get(&self, key: u32) -> Option<u32> {
        self.entries[..self.len].iter().find(|e| e.0 == key).map(|e| e.1)
    }

    /// Entries in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no key is set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A key-value store shared by every container (interior mutability).
pub trait SharedStore {
    /// Sets `key` to `value`.
    fn update(&self, key: u32, value: u32) -> Result<(), KvFull>;
    /// The value of `key`.
    fn fetch(&self, key: u32) -> Option<u32>;
}

impl<const N: usize> SharedStore for core::cell::RefCell<KvStore<N>> {
    fn update(&self, key: u32, value: u32) -> Result<(), KvFull> {
        // Helpers never re-enter the store, so the borrow cannot be taken.
        self.try_borrow_mut().map_err(|_| KvFull)?.update(key, value)
    }
    fn fetch(&self, key: u32) -> Option<u32> {
        self.try_borrow().ok()?.get(key)
    }
}

#[cfg(feature = "std")]
impl<const N: usize> SharedStore for std::sync::Mutex<KvStore<N>> {
    fn update(&self, key: u32, value: u32) -> Result<(), KvFull> {
        self.lock().unwrap_or_else(|p| p.into_inner()).update(key, value)
    }
    fn fetch(&self, key: u32) -> Option<u32> {
        self.lock().unwrap_or_else(|p| p.into_inner()).get(key)
    }
}

/// The host's clock.
pub trait Clock {
    /// Milliseconds since some fixed point (helper 0x20).
    fn now_ms(&self) -> u64;
    /// The host's ztimer clock (helper 0x60); by default `now_ms` truncated.
    fn ztimer_now(&self) -> u32 {
        self.now_ms() as u32
    }
}

/// A sensor reading in RIOT's `phydat_t` layout: written to program memory
/// as 8 little-endian bytes `val[0..3]: i16, unit: u8, scale: i8`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Phydat {
    /// Up to three values.
    pub val: [i16; 3],
    /// RIOT `UNIT_*` code.
    pub unit: u8,
    /// Decimal exponent of the values.
    pub scale: i8,
}

impl Phydat {
    /// Size in program memory.
    pub const SIZE: usize = 8;

    /// The memory image.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        for (chunk, v) in b.chunks_exact_mut(2).zip(self.val) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        b[6] = self.unit;
        b[7] = self.scale as u8;
        b
    }
}

/// The host's sensor table (RIOT's SAUL registry), devices numbered from 0.
pub trait Sensors {
    /// Number of devices.
    fn count(&self) -> usize;
    /// Device class (`SAUL_SENSE_*` code) of device `n`.
    fn device_type(&self, n: usize) -> Option<u8>;
    /// Reads device `n`: the number of dimensions, or a negative errno.
    fn read(&self, n: usize, out: &mut Phydat) -> Result<u8, i32>;
}

/// Where the trace helper writes; shared by containers, hence `&self`.
pub trait TraceSink {
    /// Appends text.
    fn write_str(&self, s: &str) -> core::fmt::Result;
}

impl<W: core::fmt::Write> TraceSink for core::cell::RefCell<W> {
    fn write_str(&self, s: &str) -> core::fmt::Result {
        self.try_borrow_mut().map_err(|_| core::fmt::Error)?.write_str(s)
    }
}

/// Standard output as a trace sink.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default)]
pub struct StdoutSink;

#[cfg(feature = "std")]
impl TraceSink for StdoutSink {
    fn write_str(&self, s: &str) -> core::fmt::Result {
        use std::io::Write;
        std::io::stdout().write_all(s.as_bytes()).map_err(|_| core::fmt::Error)
    }
}

/// What the standard helpers work on: one container's local store and the
/// host's shared services.
#[derive(Clone, Copy, Default)]
pub struct FcEnv<'h> {
    /// This container's own store (helpers 0x10, 0x12).
    pub local: KvStore,
    /// The store shared by all containers (0x11, 0x13).
    pub global: Option<&'h dyn SharedStore>,
    /// Clock for 0x20 and 0x60.
    pub clock: Option<&'h dyn Clock>,
    /// Sensors for 0x30..0x32.
    pub sensors: Option<&'h dyn Sensors>,
    /// Output of 0x01; without one the text is formatted and discarded.
    pub trace: Option<&'h dyn TraceSink>,
}

/// The standard table type.
pub type FcHelpers<'h> = HelperTable<FcEnv<'h>, 16>;

impl<'h> FcEnv<'h> {
    /// The standard table over this environment: helpers whose service is
    /// missing (global store, clock, sensors) are left out, so programs
    /// naming them are rejected at load.
    pub fn into_table(self) -> Result<FcHelpers<'h>, TableError> {
        let (global, clock, sensors) =
            (self.global.is_some(), self.clock.is_some(), self.sensors.is_some());
        let mut t = HelperTable::new(self);
        t.register(id::PRINTF, printf_helper)?;
        t.register(id::MEMCPY, memcpy)?;
        t.register(id::STORE_LOCAL, store_local)?;
        t.register(id::FETCH_LOCAL, fetch_local)?;
        t.register(id::FMT_S16_DFP, fmt_s16_dfp_helper)?;
        t.register(id::FMT_U32_DEC, fmt_u32_dec_helper)?;
        if global {
            t.register(id::STORE_GLOBAL, store_global)?;
            t.register(id::FETCH_GLOBAL, fetch_global)?;
        }
        if clock {
            t.register(id::NOW_MS, now_ms)?;
            t.register(id::ZTIMER_NOW, ztimer_now)?;
        }
        if sensors {
            t.register(id::SAUL_REG_FIND_NTH, saul_find_nth)?;
            t.register(id::SAUL_REG_FIND_TYPE, saul_find_type)?;
            t.register(id::SAUL_REG_READ, saul_read)?;
        }
        Ok(t)
    }
}

fn ret_i64(v: i64) -> HelperResult {
    HelperResult::Return(v as u64)
}

struct SinkWriter<'s>(Option<&'s dyn TraceSink>);

impl core::fmt::Write for SinkWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.map_or(Ok(()), |sink| sink.write_str(s))
    }
}

/// 0x01: r1 = format pointer, r2 = format length (at most 128 bytes),
/// r3..r5 = arguments. The whole format is checked before anything is
/// printed; a `%s` with a bad pointer fails the call (text before it may
/// already be out).
fn printf_helper(env: &mut FcEnv<'_>, a: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
    let Ok(len) = usize::try_from(a[1]) else { return HelperResult::Fail(fail::BAD_ARGUMENT) };
    if len > PRINTF_MAX_FORMAT {
        return HelperResult::Fail(fail::BAD_ARGUMENT);
    }
    let mut buf = [0u8; PRINTF_MAX_FORMAT];
    let Some(format) = buf.get_mut(..len) else { return HelperResult::Fail(fail::BAD_ARGUMENT) };
    if mem.read(a[0], format).is_err() {
        return HelperResult::Fail(fail::BAD_POINTER);
    }
    let mut out = SinkWriter(env.trace);
    match printf(format, [a[2], a[3], a[4]], mem, &mut out) {
        Ok(n) => HelperResult::Return(n as u64),
        Err(code) => HelperResult::Fail(code),
    }
}

/// 0x02: memmove semantics; both ranges checked before copying; returns dst.
fn memcpy(_: &mut FcEnv<'_>, a: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
    match mem.copy_within(a[0], a[1], a[2]) {
        Ok(()) => HelperResult::Return(a[0]),
        Err(_) => HelperResult::Fail(fail::BAD_POINTER),
    }
}

fn store_result(r: Result<(), KvFull>) -> HelperResult {
    ret_i64(if r.is_ok() { 0 } else { KV_FULL })
}

fn fetch_into(value: Option<u32>, ptr: u64, mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
    match mem.write_u32(ptr, value.unwrap_or(0)) {
        Ok(()) => HelperResult::Return(0),
        Err(_) => HelperResult::Fail(fail::BAD_POINTER),
    }
}

fn store_local(env: &mut FcEnv<'_>, a: [u64; 5], _: &mut MemoryAccess<'_, '_>) -> HelperResult {
    store_result(env.local.update(a[0] as u32, a[1] as u32))
}

fn store_global(env: &mut FcEnv<'_>, a: [u64; 5], _: &mut MemoryAccess<'_, '_>) -> HelperResult {
    match env.global {
        Some(g) => store_result(g.update(a[0] as u32, a[1] as u32)),
        None => HelperResult::Fail(fail::HOST_ERROR),
    }
}

fn fetch_local(env: &mut FcEnv<'_>, a: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
    fetch_into(env.local.get(a[0] as u32), a[1], mem)
}

fn fetch_global(env: &mut FcEnv<'_>, a: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
    match env.global {
        Some(g) => fetch_into(g.fetch(a[0] as u32), a[1], mem),
        None => HelperResult::Fail(fail::HOST_ERROR),
    }
}

fn now_ms(env: &mut FcEnv<'_>, _: [u64; 5], _: &mut MemoryAccess<'_, '_>) -> HelperResult {
    env.clock.map_or(HelperResult::Fail(fail::HOST_ERROR), |c| HelperResult::Return(c.now_ms()))
}

fn ztimer_now(env: &mut FcEnv<'_>, _: [u64; 5], _: &mut MemoryAccess<'_, '_>) -> HelperResult {
    env.clock.map_or(HelperResult::Fail(fail::HOST_ERROR), |c| {
        HelperResult::Return(c.ztimer_now().into())
    })
}

fn handle(n: usize) -> HelperResult {
    HelperResult::Return(n as u64 + 1)
}

fn saul_find_nth(env: &mut FcEnv<'_>, a: [u64; 5], _: &mut MemoryAccess<'_, '_>) -> HelperResult {
    let Some(s) = env.sensors else { return HelperResult::Fail(fail::HOST_ERROR) };
    match usize::try_from(a[0]) {
        Ok(n) if n < s.count() => handle(n),
        _ => HelperResult::Return(0),
    }
}

fn saul_find_type(env: &mut FcEnv<'_>, a: [u64; 5], _: &mut MemoryAccess<'_, '_>) -> HelperResult {
    let Some(s) = env.sensors else { return HelperResult::Fail(fail::HOST_ERROR) };
    let wanted = a[0];
    (0..s.count())
        .find(|&n| s.device_type(n).is_some_and(|t| u64::from(t) == wanted))
        .map_or(HelperResult::Return(0), handle)
}

/// 0x32: the destination (8 bytes) is checked before the device is read.
fn saul_read(env: &mut FcEnv<'_>, a: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
    let Some(s) = env.sensors else { return HelperResult::Fail(fail::HOST_ERROR) };
    if mem.check(a[1], Phydat::SIZE as u64, true).is_err() {
        return HelperResult::Fail(fail::BAD_POINTER);
    }
    let dev = match a[0].checked_sub(1).and_then(|n| usize::try_from(n).ok()) {
        Some(n) if n < s.count() => n,
        _ => return ret_i64(SAUL_NO_DEVICE),
    };
    let mut data = Phydat::default();
    match s.read(dev, &mut data) {
        Ok(dims) => match mem.write(a[1], &data.to_bytes()) {
            Ok(()) => HelperResult::Return(dims.into()),
            Err(_) => HelperResult::Fail(fail::BAD_POINTER),
        },
        Err(e) => ret_i64(e.into()),
    }
}

/// Writes `text` to `ptr` unless `ptr` is 0 (RIOT: a NULL buffer only
/// measures); returns the length.
fn emit_text(ptr: u64, text: &[u8], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
    if ptr != 0 && mem.write(ptr, text).is_err() {
        return HelperResult::Fail(fail::BAD_POINTER);
    }
    HelperResult::Return(text.len() as u64)
}

/// 0x50: r1 = buffer (at least the returned length; 13 bytes always
/// suffice), r2 = value (low 16 bits, signed), r3 = fp_digits (low 32 bits,
/// signed, -7..=7). No NUL is written.
fn fmt_s16_dfp_helper(
    _: &mut FcEnv<'_>,
    a: [u64; 5],
    mem: &mut MemoryAccess<'_, '_>,
) -> HelperResult {
    match fmt_s16_dfp(a[1] as u16 as i16, a[2] as u32 as i32) {
        Some((buf, n)) => emit_text(a[0], &buf[..n], mem),
        None => HelperResult::Fail(fail::BAD_ARGUMENT),
    }
}

/// 0x51: r1 = buffer (at least the returned length; 10 bytes always
/// suffice), r2 = value (low 32 bits). No NUL is written.
fn fmt_u32_dec_helper(
    _: &mut FcEnv<'_>,
    a: [u64; 5],
    mem: &mut MemoryAccess<'_, '_>,
) -> HelperResult {
    let (buf, n) = fmt_u32_dec(a[1] as u32);
    emit_text(a[0], &buf[..n], mem)
}
