//! The reference interpreter: the semantics every engine must reproduce
//! (DESIGN "One semantics, many engines").
//!
//! It runs verified code only, so it dispatches on the raw opcode byte and
//! reads fields straight from the slot; it still never panics or touches
//! memory outside the regions on unverified input (such code stops with
//! `InvalidProgram`). The run path does not allocate.

use crate::abi::arith;
use femtoc_isa::VerifiedRef;

use crate::atomic::{cas32, cas64, rmw32, rmw64, Rmw};
use crate::error::{RunError, RunErrorKind, RunOutcome};
use crate::helpers::{HelperResult, Helpers, MemoryAccess};
use crate::region::Regions;

/// Most nested local calls (frames below the entry function).
pub const MAX_CALL_DEPTH: usize = 8;

/// Inputs of one run besides program, memory and helpers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunArgs {
    /// Context address (0 without a context).
    pub r1: u64,
    /// Context length (0 without a context).
    pub r2: u64,
    /// Budget events allowed (`None`: unlimited).
    pub budget: Option<u64>,
}

/// Bytes of native stack a run's register file and call-frame stack take:
/// the interpreter's per-run state besides the caller's [`Regions`] table.
pub const RUN_STATE_BYTES: usize =
    core::mem::size_of::<[u64; 16]>() + core::mem::size_of::<[Frame; MAX_CALL_DEPTH]>();

#[derive(Clone, Copy, Default)]
struct Frame {
    ret: usize,
    saved: [u64; 4],
    fp: u64,
}

#[cold]
fn stop(pc: usize, kind: RunErrorKind) -> RunError {
    RunError { pc: pc as u32, kind }
}

#[cold]
fn fault(pc: usize, addr: u64, size: u32, write: bool) -> RunError {
    stop(pc, RunErrorKind::MemoryFault { addr, size, write })
}

// One definition of eBPF division for every engine: the routines 32-bit
// native code calls are the same functions.
#[inline(always)]
fn div64(a: u64, b: u64, signed: bool) -> u64 {
    if signed {
        arith::sdiv64(a, b)
    } else {
        arith::udiv64(a, b)
    }
}

#[inline(always)]
fn mod64(a: u64, b: u64, signed: bool) -> u64 {
    if signed {
        arith::smod64(a, b)
    } else {
        arith::umod64(a, b)
    }
}

#[inline(always)]
fn div32(a: u64, b: u32, signed: bool) -> u64 {
    let a = a as u32;
    u64::from(if signed { arith::sdiv32(a, b) } else { arith::udiv32(a, b) })
}

#[inline(always)]
fn mod32(a: u64, b: u32, signed: bool) -> u64 {
    let a = a as u32;
    u64::from(if signed { arith::smod32(a, b) } else { arith::umod32(a, b) })
}

#[inline(always)]
fn movsx(v: u64, bits: i16) -> u64 {
    match bits {
        8 => v as i8 as i64 as u64,
        16 => v as i16 as i64 as u64,
        32 => v as i32 as i64 as u64,
        _ => v,
    }
}

/// Zeroes the `stack_usage` bytes below the stack top.
fn zero_stack(regions: &Regions<'_>, stack_usage: u32) {
    let stack = regions.stack();
    // A stack smaller than the program's usage is not an error here: the
    // accesses beyond it fault like any other out-of-bounds access.
    let n = u64::from(stack_usage).min(stack.len());
    if n == 0 {
        return;
    }
    if let Some(p) = regions.check(stack.end() - n, n, true) {
        // SAFETY: the check proved `n` bytes at `p` lie in the writable
        // stack region, which nothing else references during the run.
        unsafe { core::ptr::write_bytes(p, 0, n as usize) };
    }
}

/// Atomic instruction (`imm` selects the operation) at `addr`.
#[inline(never)]
fn atomic(
    regions: &Regions<'_>,
    pc: usize,
    dw: bool,
    imm: i32,
    addr: u64,
    reg: &mut [u64; 16],
    s: usize,
) -> Result<(), RunError> {
    let size: u32 = if dw { 8 } else { 4 };
    let p = match regions.check(addr, u64::from(size), true) {
        Some(p) if addr.is_multiple_of(u64::from(size)) => p,
        _ => return Err(fault(pc, addr, size, true)),
    };
    let s = s & 0xf;
    let fetch = imm & 1 != 0;
    let op = match imm & !1 {
        0x00 => Rmw::Add,
        0x40 => Rmw::Or,
        0x50 => Rmw::And,
        0xa0 => Rmw::Xor,
        0xe0 if fetch => Rmw::Xchg,
        0xf0 if fetch => {
            // SAFETY: `p` is in a writable region and naturally aligned
            // (both checked above); program memory has no Rust references.
            reg[0] = unsafe {
                if dw {
                    cas64(p.cast(), reg[0], reg[s])
                } else {
                    u64::from(cas32(p.cast(), reg[0] as u32, reg[s] as u32))
                }
            };
            return Ok(());
        }
        _ => return Err(stop(pc, RunErrorKind::InvalidProgram("unknown atomic operation"))),
    };
    // SAFETY: as for cmpxchg above.
    let old = unsafe {
        if dw {
            rmw64(p.cast(), op, reg[s])
        } else {
            u64::from(rmw32(p.cast(), op, reg[s] as u32))
        }
    };
    if fetch {
        reg[s] = old;
    }
    Ok(())
}

/// Runs `prog` over `regions` (the stack is `regions.stack()`, zeroed for
/// its first `stack_usage` bytes below the top) with r1/r2 and the budget
/// from `args`, calling `helpers` for `call imm`.
pub fn run(
    prog: &VerifiedRef<'_>,
    regions: &Regions<'_>,
    args: RunArgs,
    helpers: &mut dyn Helpers,
) -> Result<RunOutcome, RunError> {
    if args.r2 < u64::from(prog.min_ctx_len) {
        return Err(stop(
            0,
            RunErrorKind::ContextTooShort { needed: prog.min_ctx_len, got: args.r2 },
        ));
    }
    zero_stack(regions, prog.stack_usage);

    let code = prog.code;
    // Sixteen slots so that any 4-bit register field indexes without a
    // bounds check; r11..r15 only exist for unverified code and are inert.
    let mut reg = [0u64; 16];
    reg[1] = args.r1;
    reg[2] = args.r2;
    reg[10] = regions.stack().end();
    // `None` never runs out in practice: 2^64 events cannot happen.
    let limit = args.budget.unwrap_or(u64::MAX);
    let mut used = 0u64;
    let mut executed = 0u64;
    let mut frames = [Frame::default(); MAX_CALL_DEPTH];
    let mut depth = 0usize;
    let mut pc = 0usize;

    macro_rules! done {
        ($r0:expr) => {
            return Ok(RunOutcome { r0: $r0, budget_used: used, insns_executed: executed })
        };
    }

    loop {
        let cur = pc;
        let Some(&w) = code.get(cur) else {
            return Err(stop(cur, RunErrorKind::InvalidProgram("pc outside the program")));
        };
        executed += 1;
        pc += 1;
        let op = w as u8;
        let d = (w >> 8) as usize & 0xf;
        let s = (w >> 12) as usize & 0xf;
        let off = (w >> 16) as i16;
        let imm = (w >> 32) as i32;

        macro_rules! jump_by {
            ($delta:expr) => {{
                let delta = $delta as isize;
                if delta < 0 {
                    if used == limit {
                        return Err(stop(cur, RunErrorKind::BudgetExhausted));
                    }
                    used += 1;
                }
                pc = pc.wrapping_add_signed(delta);
            }};
        }
        macro_rules! cond {
            ($c:expr) => {
                if $c {
                    jump_by!(off)
                }
            };
        }
        macro_rules! load {
            ($ty:ty) => {{
                let addr = reg[s].wrapping_add(off as i64 as u64);
                const N: usize = core::mem::size_of::<$ty>();
                match regions.check(addr, N as u64, false) {
                    // SAFETY: the check proved N bytes at `p` lie in one
                    // readable region; unaligned reads are allowed.
                    Some(p) => <$ty>::from_le(unsafe { p.cast::<$ty>().read_unaligned() }),
                    None => return Err(fault(cur, addr, N as u32, false)),
                }
            }};
        }
        macro_rules! store {
            ($ty:ty, $v:expr) => {{
                let addr = reg[d].wrapping_add(off as i64 as u64);
                const N: usize = core::mem::size_of::<$ty>();
                let v = ($v as $ty).to_le();
                match regions.check(addr, N as u64, true) {
                    // SAFETY: the check proved N bytes at `p` lie in one
                    // writable region; unaligned writes are allowed.
                    Some(p) => unsafe { p.cast::<$ty>().write_unaligned(v) },
                    None => return Err(fault(cur, addr, N as u32, true)),
                }
            }};
        }

        let k64 = imm as i64 as u64;
        let k32 = imm as u32;
        match op {
            // ALU64, immediate (sign-extended) and register operands.
            0x07 => reg[d] = reg[d].wrapping_add(k64),
            0x0f => reg[d] = reg[d].wrapping_add(reg[s]),
            0x17 => reg[d] = reg[d].wrapping_sub(k64),
            0x1f => reg[d] = reg[d].wrapping_sub(reg[s]),
            0x27 => reg[d] = reg[d].wrapping_mul(k64),
            0x2f => reg[d] = reg[d].wrapping_mul(reg[s]),
            0x37 => reg[d] = div64(reg[d], k64, off != 0),
            0x3f => reg[d] = div64(reg[d], reg[s], off != 0),
            0x47 => reg[d] |= k64,
            0x4f => reg[d] |= reg[s],
            0x57 => reg[d] &= k64,
            0x5f => reg[d] &= reg[s],
            0x67 => reg[d] <<= k64 & 63,
            0x6f => reg[d] <<= reg[s] & 63,
            0x77 => reg[d] >>= k64 & 63,
            0x7f => reg[d] >>= reg[s] & 63,
            0x87 => reg[d] = reg[d].wrapping_neg(),
            0x97 => reg[d] = mod64(reg[d], k64, off != 0),
            0x9f => reg[d] = mod64(reg[d], reg[s], off != 0),
            0xa7 => reg[d] ^= k64,
            0xaf => reg[d] ^= reg[s],
            0xb7 => reg[d] = k64,
            0xbf => reg[d] = movsx(reg[s], off),
            0xc7 => reg[d] = ((reg[d] as i64) >> (k64 & 63)) as u64,
            0xcf => reg[d] = ((reg[d] as i64) >> (reg[s] & 63)) as u64,
            0xd7 => {
                reg[d] = match imm {
                    16 => u64::from((reg[d] as u16).swap_bytes()),
                    32 => u64::from((reg[d] as u32).swap_bytes()),
                    _ => reg[d].swap_bytes(),
                }
            }

            // ALU32: operate on the low halves, zero-extend the result.
            0x04 => reg[d] = u64::from((reg[d] as u32).wrapping_add(k32)),
            0x0c => reg[d] = u64::from((reg[d] as u32).wrapping_add(reg[s] as u32)),
            0x14 => reg[d] = u64::from((reg[d] as u32).wrapping_sub(k32)),
            0x1c => reg[d] = u64::from((reg[d] as u32).wrapping_sub(reg[s] as u32)),
            0x24 => reg[d] = u64::from((reg[d] as u32).wrapping_mul(k32)),
            0x2c => reg[d] = u64::from((reg[d] as u32).wrapping_mul(reg[s] as u32)),
            0x34 => reg[d] = div32(reg[d], k32, off != 0),
            0x3c => reg[d] = div32(reg[d], reg[s] as u32, off != 0),
            0x44 => reg[d] = u64::from(reg[d] as u32 | k32),
            0x4c => reg[d] = u64::from((reg[d] | reg[s]) as u32),
            0x54 => reg[d] = u64::from(reg[d] as u32 & k32),
            0x5c => reg[d] = u64::from((reg[d] & reg[s]) as u32),
            0x64 => reg[d] = u64::from((reg[d] as u32) << (k32 & 31)),
            0x6c => reg[d] = u64::from((reg[d] as u32) << (reg[s] as u32 & 31)),
            0x74 => reg[d] = u64::from((reg[d] as u32) >> (k32 & 31)),
            0x7c => reg[d] = u64::from((reg[d] as u32) >> (reg[s] as u32 & 31)),
            0x84 => reg[d] = u64::from((reg[d] as u32).wrapping_neg()),
            0x94 => reg[d] = mod32(reg[d], k32, off != 0),
            0x9c => reg[d] = mod32(reg[d], reg[s] as u32, off != 0),
            0xa4 => reg[d] = u64::from(reg[d] as u32 ^ k32),
            0xac => reg[d] = u64::from((reg[d] ^ reg[s]) as u32),
            0xb4 => reg[d] = u64::from(k32),
            0xbc => reg[d] = u64::from(movsx(reg[s], off) as u32),
            0xc4 => reg[d] = u64::from(((reg[d] as i32) >> (k32 & 31)) as u32),
            0xcc => reg[d] = u64::from(((reg[d] as i32) >> (reg[s] as u32 & 31)) as u32),
            // eBPF memory is little-endian: `le` truncates, `be` swaps.
            0xd4 => {
                reg[d] = match imm {
                    16 => u64::from(reg[d] as u16),
                    32 => u64::from(reg[d] as u32),
                    _ => reg[d],
                }
            }
            0xdc => {
                reg[d] = match imm {
                    16 => u64::from((reg[d] as u16).swap_bytes()),
                    32 => u64::from((reg[d] as u32).swap_bytes()),
                    _ => reg[d].swap_bytes(),
                }
            }

            // lddw: immediate (src 0) or data-region address (src 6).
            0x18 => {
                let Some(&hi) = code.get(pc) else {
                    return Err(stop(
                        cur,
                        RunErrorKind::InvalidProgram("lddw without its second slot"),
                    ));
                };
                let lo = u64::from(imm as u32);
                let hi = hi >> 32;
                reg[d] = match s {
                    0 => lo | (hi << 32),
                    6 => match regions.data_base(lo as u32) {
                        Some(base) => base.wrapping_add(hi),
                        None => {
                            return Err(stop(
                                cur,
                                RunErrorKind::InvalidProgram("no such data region"),
                            ))
                        }
                    },
                    _ => return Err(stop(cur, RunErrorKind::InvalidProgram("lddw source"))),
                };
                pc += 1;
            }

            // Loads, zero- and sign-extending.
            0x61 => reg[d] = u64::from(load!(u32)),
            0x69 => reg[d] = u64::from(load!(u16)),
            0x71 => reg[d] = u64::from(load!(u8)),
            0x79 => reg[d] = load!(u64),
            0x81 => reg[d] = load!(i32) as i64 as u64,
            0x89 => reg[d] = load!(i16) as i64 as u64,
            0x91 => reg[d] = load!(i8) as i64 as u64,

            // Stores of an immediate and of a register.
            0x62 => store!(u32, imm as u32),
            0x6a => store!(u16, imm as u16),
            0x72 => store!(u8, imm as u8),
            0x7a => store!(u64, k64),
            0x63 => store!(u32, reg[s]),
            0x6b => store!(u16, reg[s]),
            0x73 => store!(u8, reg[s]),
            0x7b => store!(u64, reg[s]),

            0xc3 | 0xdb => {
                let addr = reg[d].wrapping_add(off as i64 as u64);
                atomic(regions, cur, op == 0xdb, imm, addr, &mut reg, s)?;
            }

            // JMP: 64-bit compares against the sign-extended immediate.
            0x05 => jump_by!(off),
            0x15 => cond!(reg[d] == k64),
            0x1d => cond!(reg[d] == reg[s]),
            0x25 => cond!(reg[d] > k64),
            0x2d => cond!(reg[d] > reg[s]),
            0x35 => cond!(reg[d] >= k64),
            0x3d => cond!(reg[d] >= reg[s]),
            0x45 => cond!(reg[d] & k64 != 0),
            0x4d => cond!(reg[d] & reg[s] != 0),
            0x55 => cond!(reg[d] != k64),
            0x5d => cond!(reg[d] != reg[s]),
            0x65 => cond!((reg[d] as i64) > (k64 as i64)),
            0x6d => cond!((reg[d] as i64) > (reg[s] as i64)),
            0x75 => cond!((reg[d] as i64) >= (k64 as i64)),
            0x7d => cond!((reg[d] as i64) >= (reg[s] as i64)),
            0xa5 => cond!(reg[d] < k64),
            0xad => cond!(reg[d] < reg[s]),
            0xb5 => cond!(reg[d] <= k64),
            0xbd => cond!(reg[d] <= reg[s]),
            0xc5 => cond!((reg[d] as i64) < (k64 as i64)),
            0xcd => cond!((reg[d] as i64) < (reg[s] as i64)),
            0xd5 => cond!((reg[d] as i64) <= (k64 as i64)),
            0xdd => cond!((reg[d] as i64) <= (reg[s] as i64)),

            // JMP32: compare the low halves.
            0x06 => jump_by!(imm),
            0x16 => cond!(reg[d] as u32 == k32),
            0x1e => cond!(reg[d] as u32 == reg[s] as u32),
            0x26 => cond!(reg[d] as u32 > k32),
            0x2e => cond!(reg[d] as u32 > reg[s] as u32),
            0x36 => cond!(reg[d] as u32 >= k32),
            0x3e => cond!(reg[d] as u32 >= reg[s] as u32),
            0x46 => cond!(reg[d] as u32 & k32 != 0),
            0x4e => cond!(reg[d] as u32 & reg[s] as u32 != 0),
            0x56 => cond!(reg[d] as u32 != k32),
            0x5e => cond!(reg[d] as u32 != reg[s] as u32),
            0x66 => cond!((reg[d] as i32) > imm),
            0x6e => cond!((reg[d] as i32) > (reg[s] as i32)),
            0x76 => cond!((reg[d] as i32) >= imm),
            0x7e => cond!((reg[d] as i32) >= (reg[s] as i32)),
            0xa6 => cond!((reg[d] as u32) < k32),
            0xae => cond!((reg[d] as u32) < (reg[s] as u32)),
            0xb6 => cond!(reg[d] as u32 <= k32),
            0xbe => cond!(reg[d] as u32 <= reg[s] as u32),
            0xc6 => cond!((reg[d] as i32) < imm),
            0xce => cond!((reg[d] as i32) < (reg[s] as i32)),
            0xd6 => cond!((reg[d] as i32) <= imm),
            0xde => cond!((reg[d] as i32) <= (reg[s] as i32)),

            // Calls and exit.
            0x85 if s == 0 => {
                let id = imm as u32;
                if !helpers.provides(id) {
                    return Err(stop(cur, RunErrorKind::UnknownHelper { id }));
                }
                let args = [reg[1], reg[2], reg[3], reg[4], reg[5]];
                match helpers.call(id, args, &mut MemoryAccess::new(regions)) {
                    HelperResult::Return(v) => reg[0] = v,
                    HelperResult::Stop(v) => done!(v),
                    HelperResult::Fail(code) => {
                        return Err(stop(cur, RunErrorKind::HelperFailed { id, code }))
                    }
                }
            }
            0x85 if s == 1 => {
                if used == limit {
                    return Err(stop(cur, RunErrorKind::BudgetExhausted));
                }
                used += 1;
                let Some(caller) = prog.function_at(cur as u32) else {
                    return Err(stop(
                        cur,
                        RunErrorKind::InvalidProgram("call outside any function"),
                    ));
                };
                let Some(frame) = frames.get_mut(depth) else {
                    return Err(stop(
                        cur,
                        RunErrorKind::InvalidProgram("call depth over the limit"),
                    ));
                };
                *frame = Frame { ret: pc, saved: [reg[6], reg[7], reg[8], reg[9]], fp: reg[10] };
                depth += 1;
                reg[10] = reg[10].wrapping_sub(u64::from(caller.frame_size));
                pc = pc.wrapping_add_signed(imm as isize);
            }
            0x95 => {
                if depth == 0 {
                    done!(reg[0]);
                }
                depth -= 1;
                let f = frames[depth & (MAX_CALL_DEPTH - 1)];
                [reg[6], reg[7], reg[8], reg[9]] = f.saved;
                reg[10] = f.fp;
                pc = f.ret;
            }
            _ => return Err(stop(cur, RunErrorKind::InvalidProgram("unknown opcode"))),
        }
    }
}
