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
pub(crate) fn zero_stack(regions: &Regions<'_>, stack_usage: u32) {
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
        if !is_valid(op) {
            return Err(stop(cur, RunErrorKind::InvalidProgram("unknown opcode")));
        }
        let k64 = imm as i64 as u64;
        // The second operand: the register for the `X` source bit, else the
        // sign-extended immediate (ALU, JMP and their 32-bit forms).
        let b = if op & 0x08 != 0 { reg[s] } else { k64 };

        // Decoding by class and operation field rather than by whole opcode
        // lets the 32- and 64-bit, immediate and register forms share one
        // body each (and one inlined bounds check per access kind), which
        // is most of the interpreter's flash; `is_valid` keeps exactly the
        // opcodes a per-opcode match would.
        match op {
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
            0x85 => return Err(stop(cur, RunErrorKind::InvalidProgram("unknown opcode"))),
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

            0xc3 | 0xdb => {
                let addr = reg[d].wrapping_add(off as i64 as u64);
                atomic(regions, cur, op == 0xdb, imm, addr, &mut reg, s)?;
            }

            _ => match op & 0x07 {
                // ALU (4) and ALU64 (7).
                0x04 | 0x07 => {
                    let wide = op & 0x07 == 0x07;
                    let a = reg[d];
                    let mask = if wide { 63 } else { 31 };
                    let v = match op >> 4 {
                        0x0 => a.wrapping_add(b),
                        0x1 => a.wrapping_sub(b),
                        0x2 => a.wrapping_mul(b),
                        0x3 if wide => div64(a, b, off != 0),
                        0x3 => div32(a, b as u32, off != 0),
                        0x4 => a | b,
                        0x5 => a & b,
                        0x6 => a << (b & mask),
                        0x7 if wide => a >> (b & 63),
                        0x7 => u64::from((a as u32) >> (b & 31)),
                        0x8 => a.wrapping_neg(),
                        0x9 if wide => mod64(a, b, off != 0),
                        0x9 => mod32(a, b as u32, off != 0),
                        0xa => a ^ b,
                        0xb if op & 0x08 != 0 => movsx(b, off),
                        0xb => b,
                        0xc if wide => ((a as i64) >> (b & 63)) as u64,
                        0xc => ((a as i32) >> (b & 31)) as u64,
                        // Byte order: never truncated to 32 bits. eBPF
                        // memory is little-endian: `le` (0xd4) truncates,
                        // `be` (0xdc) and `bswap` (0xd7) swap.
                        _ => {
                            reg[d] = match (op == 0xd4, imm) {
                                (true, 16) => u64::from(a as u16),
                                (true, 32) => u64::from(a as u32),
                                (true, _) => a,
                                (false, 16) => u64::from((a as u16).swap_bytes()),
                                (false, 32) => u64::from((a as u32).swap_bytes()),
                                (false, _) => a.swap_bytes(),
                            };
                            continue;
                        }
                    };
                    reg[d] = if wide { v } else { u64::from(v as u32) };
                }

                // JMP (5) and JMP32 (6); `ja` jumps by `off`, `ja32` by `imm`.
                0x05 | 0x06 => {
                    let (ua, ub, sa, sb) = if op & 0x07 == 0x06 {
                        let (a, b) = (reg[d] as u32, b as u32);
                        (u64::from(a), u64::from(b), i64::from(a as i32), i64::from(b as i32))
                    } else {
                        (reg[d], b, reg[d] as i64, b as i64)
                    };
                    let taken = match op >> 4 {
                        0x0 => true,
                        0x1 => ua == ub,
                        0x2 => ua > ub,
                        0x3 => ua >= ub,
                        0x4 => ua & ub != 0,
                        0x5 => ua != ub,
                        0x6 => sa > sb,
                        0x7 => sa >= sb,
                        0xa => ua < ub,
                        0xb => ua <= ub,
                        0xc => sa < sb,
                        _ => sa <= sb,
                    };
                    if taken {
                        let delta = if op == 0x06 { imm as isize } else { off as isize };
                        if delta < 0 {
                            if used == limit {
                                return Err(stop(cur, RunErrorKind::BudgetExhausted));
                            }
                            used += 1;
                        }
                        pc = pc.wrapping_add_signed(delta);
                    }
                }

                // Loads (1): zero-extending (mode 0x60) or sign-extending
                // (0x80); the size field gives 4, 2, 1 or 8 bytes.
                0x01 => {
                    let addr = reg[s].wrapping_add(off as i64 as u64);
                    let n = access_size(op);
                    let Some(p) = regions.check(addr, n as u64, false) else {
                        return Err(fault(cur, addr, n, false));
                    };
                    // SAFETY: the check proved `n` bytes at `p` lie in one
                    // readable region; unaligned reads are allowed.
                    let v = unsafe { read_le(p, n) };
                    reg[d] = if op & 0x80 != 0 {
                        let shift = 64 - 8 * n;
                        (((v << shift) as i64) >> shift) as u64
                    } else {
                        v
                    };
                }

                // Stores of an immediate (2) or a register (3).
                _ => {
                    let addr = reg[d].wrapping_add(off as i64 as u64);
                    let n = access_size(op);
                    let v = if op & 0x07 == 0x02 { k64 } else { reg[s] };
                    let Some(p) = regions.check(addr, n as u64, true) else {
                        return Err(fault(cur, addr, n, true));
                    };
                    // SAFETY: the check proved `n` bytes at `p` lie in one
                    // writable region; unaligned writes are allowed.
                    unsafe { write_le(p, n, v) };
                }
            },
        }
    }
}

/// Bytes a load or store accesses: the size field (bits 3..4) names 4, 2,
/// 1 or 8 bytes.
#[inline(always)]
fn access_size(op: u8) -> u32 {
    match (op >> 3) & 3 {
        0 => 4,
        1 => 2,
        2 => 1,
        _ => 8,
    }
}

/// Reads `n` (1, 2, 4 or 8) little-endian bytes at `p`, zero-extended.
///
/// # Safety
/// `n` bytes at `p` must be valid for reads; `p` need not be aligned.
#[inline(always)]
unsafe fn read_le(p: *mut u8, n: u32) -> u64 {
    // SAFETY: the caller guarantees `n` readable bytes at `p`.
    unsafe {
        match n {
            1 => u64::from(p.read()),
            2 => u64::from(u16::from_le(p.cast::<u16>().read_unaligned())),
            4 => u64::from(u32::from_le(p.cast::<u32>().read_unaligned())),
            _ => u64::from_le(p.cast::<u64>().read_unaligned()),
        }
    }
}

/// Writes the low `n` (1, 2, 4 or 8) bytes of `v` little-endian at `p`.
///
/// # Safety
/// `n` bytes at `p` must be valid for writes; `p` need not be aligned.
#[inline(always)]
unsafe fn write_le(p: *mut u8, n: u32, v: u64) {
    // SAFETY: the caller guarantees `n` writable bytes at `p`.
    unsafe {
        match n {
            1 => p.write(v as u8),
            2 => p.cast::<u16>().write_unaligned((v as u16).to_le()),
            4 => p.cast::<u32>().write_unaligned((v as u32).to_le()),
            _ => p.cast::<u64>().write_unaligned(v.to_le()),
        }
    }
}

/// The opcodes the interpreter runs, one bit each (the verifier accepts
/// no others); everything else stops with "unknown opcode".
const VALID: [u32; 8] = valid_opcodes(&[
    // ALU64, immediate and register forms.
    0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f,
    0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xc7, 0xcf, 0xd7, // ALU32.
    0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x44, 0x4c, 0x54, 0x5c, 0x64, 0x6c, 0x74, 0x7c,
    0x84, 0x94, 0x9c, 0xa4, 0xac, 0xb4, 0xbc, 0xc4, 0xcc, 0xd4, 0xdc,
    // lddw, loads, stores, atomics.
    0x18, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b,
    0xc3, 0xdb, // JMP.
    0x05, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0x7d, 0xa5,
    0xad, 0xb5, 0xbd, 0xc5, 0xcd, 0xd5, 0xdd, 0x85, 0x95, // JMP32.
    0x06, 0x16, 0x1e, 0x26, 0x2e, 0x36, 0x3e, 0x46, 0x4e, 0x56, 0x5e, 0x66, 0x6e, 0x76, 0x7e, 0xa6,
    0xae, 0xb6, 0xbe, 0xc6, 0xce, 0xd6, 0xde,
]);

const fn valid_opcodes(ops: &[u8]) -> [u32; 8] {
    let mut bits = [0u32; 8];
    let mut i = 0;
    while i < ops.len() {
        let op = ops[i] as usize;
        bits[op >> 5] |= 1 << (op & 31);
        i += 1;
    }
    bits
}

#[inline(always)]
fn is_valid(op: u8) -> bool {
    VALID[usize::from(op >> 5)] >> (op & 31) & 1 != 0
}
