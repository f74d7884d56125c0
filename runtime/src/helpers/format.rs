//! Text formatting for the standard helpers, into fixed buffers (no
//! allocation): RIOT's `fmt_s16_dfp`/`fmt_u32_dec` and the trace helper's
//! small printf.

use super::{fail, MemoryAccess};

/// Longest output of [`fmt_u32_dec`]: `4294967295`.
pub const FMT_U32_DEC_MAX: usize = 10;
/// Longest output of [`fmt_s16_dfp`]: `-32768` followed by 7 zeros.
pub const FMT_S16_DFP_MAX: usize = 13;
/// `fp_digits` range [`fmt_s16_dfp`] accepts.
pub const FP_DIGITS_RANGE: core::ops::RangeInclusive<i32> = -7..=7;

/// Decimal text of `value`, as RIOT's `fmt_u32_dec`: (buffer, length).
pub fn fmt_u32_dec(value: u32) -> ([u8; FMT_U32_DEC_MAX], usize) {
    let mut digits = [0u8; FMT_U32_DEC_MAX];
    let mut n = 0;
    let mut v = value;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let mut out = [0u8; FMT_U32_DEC_MAX];
    for (o, d) in out.iter_mut().zip(digits[..n].iter().rev()) {
        *o = *d;
    }
    (out, n)
}

/// Fixed-point text of `value * 10^fp_digits`, as RIOT's `fmt_s16_dfp`:
/// a positive `fp_digits` appends zeros (`12`, 2 -> `1200`), a negative one
/// places a decimal point (`-1234`, -2 -> `-12.34`; `5`, -3 -> `0.005`).
/// `None` if `fp_digits` is outside [`FP_DIGITS_RANGE`].
pub fn fmt_s16_dfp(value: i16, fp_digits: i32) -> Option<([u8; FMT_S16_DFP_MAX], usize)> {
    if !FP_DIGITS_RANGE.contains(&fp_digits) {
        return None;
    }
    let mut out = [0u8; FMT_S16_DFP_MAX];
    let mut n = 0;
    let mut push = |b: u8, n: &mut usize| {
        if let Some(slot) = out.get_mut(*n) {
            *slot = b;
            *n += 1;
        }
    };
    if value < 0 {
        push(b'-', &mut n);
    }
    let (digits, len) = fmt_u32_dec(value.unsigned_abs() as u32);
    let digits = &digits[..len];
    if fp_digits >= 0 {
        digits.iter().for_each(|d| push(*d, &mut n));
        (0..fp_digits).for_each(|_| push(b'0', &mut n));
    } else {
        let frac = fp_digits.unsigned_abs() as usize;
        if len > frac {
            let (int, rest) = digits.split_at(len - frac);
            int.iter().for_each(|d| push(*d, &mut n));
            push(b'.', &mut n);
            rest.iter().for_each(|d| push(*d, &mut n));
        } else {
            push(b'0', &mut n);
            push(b'.', &mut n);
            (0..frac - len).for_each(|_| push(b'0', &mut n));
            digits.iter().for_each(|d| push(*d, &mut n));
        }
    }
    Some((out, n))
}

/// Longest format string the trace helper reads.
pub const PRINTF_MAX_FORMAT: usize = 128;
/// Longest `%s` argument the trace helper reads (it stops at a NUL byte).
pub const PRINTF_MAX_STRING: usize = 64;

/// Counts what it forwards.
struct Counting<'w> {
    out: &'w mut dyn core::fmt::Write,
    written: usize,
}

impl core::fmt::Write for Counting<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.written += s.len();
        self.out.write_str(s)
    }
}

/// Formats `format` with up to three integer `args` into `out`; returns the
/// bytes written or a helper failure code.
///
/// Conversions: `%d`/`%i` (signed), `%u`, `%x`/`%X`, `%c`, `%s` (a
/// NUL-terminated string in program memory, at most [`PRINTF_MAX_STRING`]
/// bytes, every byte bounds-checked), `%%`. Integers are 32-bit (C `int`)
/// unless prefixed by `l` or `ll`, which select 64 bits. Other bytes are
/// copied; a byte above 0x7f is written as the Latin-1 character.
pub(crate) fn printf(
    format: &[u8],
    args: [u64; 3],
    mem: &MemoryAccess<'_, '_>,
    out: &mut dyn core::fmt::Write,
) -> Result<usize, u32> {
    use core::fmt::Write;
    let mut w = Counting { out, written: 0 };
    let mut next_arg = args.iter().copied();
    let mut bytes = format.iter().copied();
    let sink_err = |_| fail::HOST_ERROR;
    while let Some(b) = bytes.next() {
        if b != b'%' {
            w.write_char(char::from(b)).map_err(sink_err)?;
            continue;
        }
        let mut long = false;
        let mut conv = bytes.next().ok_or(fail::BAD_ARGUMENT)?;
        while conv == b'l' {
            long = true;
            conv = bytes.next().ok_or(fail::BAD_ARGUMENT)?;
        }
        if conv == b'%' {
            w.write_char('%').map_err(sink_err)?;
            continue;
        }
        let arg = next_arg.next().ok_or(fail::BAD_ARGUMENT)?;
        match (conv, long) {
            (b'd' | b'i', false) => write!(w, "{}", arg as u32 as i32),
            (b'd' | b'i', true) => write!(w, "{}", arg as i64),
            (b'u', false) => write!(w, "{}", arg as u32),
            (b'u', true) => write!(w, "{}", arg),
            (b'x', false) => write!(w, "{:x}", arg as u32),
            (b'x', true) => write!(w, "{:x}", arg),
            (b'X', false) => write!(w, "{:X}", arg as u32),
            (b'X', true) => write!(w, "{:X}", arg),
            (b'c', _) => w.write_char(char::from(arg as u8)),
            (b's', _) => {
                for i in 0..PRINTF_MAX_STRING as u64 {
                    let c = mem.read_u8(arg.wrapping_add(i)).map_err(|_| fail::BAD_POINTER)?;
                    if c == 0 {
                        break;
                    }
                    w.write_char(char::from(c)).map_err(sink_err)?;
                }
                Ok(())
            }
            _ => return Err(fail::BAD_ARGUMENT),
        }
        .map_err(sink_err)?;
    }
    Ok(w.written)
}
