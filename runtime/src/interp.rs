//! The reference interpreter: the semantics every engine must reproduce
//! (DESIGN "One semantics, many engines").
//!
//! It runs verified code only, so it dispatches on the opcode byte (through
//! a table of operations) and reads fields straight from the slot; it still never panics or touches
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
    RunError { pc: pc as u32, kind, budget_used: 0 }
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

/// Zeroes the `stack_usage` bytes below the stack top.
pub(crate) fn zero_stack(regions: &Regions<'_>, stack_usage: u32) {
    let stack = regions.stack();
    // A stack smaller than the program's usage is not an error here: the
    // accesses beyond it fault like any other out-of-bounds access.
    let n = stack_usage.min(stack.len().try_into().unwrap_or(u32::MAX));
    if n == 0 {
        return;
    }
    if let Some(p) = access(regions, stack.end() - u64::from(n), n, true) {
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
    let p = match access(regions, addr, size, true) {
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
    // Every stop inside the run carries the budget used so far.
    macro_rules! bail {
        ($e:expr) => {
            return Err(RunError { budget_used: used, ..$e })
        };
    }
    let mut executed = 0u64;
    let mut frames = [Frame::default(); MAX_CALL_DEPTH];
    let mut depth = 0usize;
    let mut pc = 0usize;

    macro_rules! done {
        ($r0:expr) => {
            return Ok(RunOutcome { r0: $r0, budget_used: used, insns_executed: executed })
        };
    }

    'step: loop {
        let cur = pc;
        let Some(&w) = code.get(cur) else {
            bail!(stop(cur, RunErrorKind::InvalidProgram("pc outside the program")));
        };
        executed += 1;
        pc += 1;
        let op = w as u8;
        let d = (w >> 8) as usize & 0xf;
        let s = (w >> 12) as usize & 0xf;
        let off = (w >> 16) as i16;
        let imm = (w >> 32) as i32;
        let k64 = imm as i64 as u64;
        let k32 = imm as u32;
        // The second operand of ALU and JMP opcodes: the register for the
        // `X` source bit, else the sign-extended immediate. Selecting it
        // once here rather than in every arm saves flash.
        let b = if op & 0x08 != 0 { reg[s] } else { k64 };

        macro_rules! alu64 {
            ($f:expr) => {{
                let f: fn(u64, u64) -> u64 = $f;
                reg[d] = f(reg[d], b)
            }};
        }
        macro_rules! alu32 {
            ($f:expr) => {{
                let f: fn(u32, u32) -> u32 = $f;
                reg[d] = u64::from(f(reg[d] as u32, b as u32))
            }};
        }
        macro_rules! load {
            ($ty:ty) => {{
                let addr = reg[s].wrapping_add(off as i64 as u64);
                const N: usize = core::mem::size_of::<$ty>();
                match access(regions, addr, N as u32, false) {
                    // SAFETY: the check proved N bytes at `p` lie in one
                    // readable region; unaligned reads are allowed.
                    Some(p) => <$ty>::from_le(unsafe { p.cast::<$ty>().read_unaligned() }),
                    None => bail!(fault(cur, addr, N as u32, false)),
                }
            }};
        }
        // `st` stores the immediate (class 2), `stx` a register (class 3).
        macro_rules! store {
            ($ty:ty) => {{
                let addr = reg[d].wrapping_add(off as i64 as u64);
                const N: usize = core::mem::size_of::<$ty>();
                let v = (if op & 1 != 0 { reg[s] } else { k64 } as $ty).to_le();
                match access(regions, addr, N as u32, true) {
                    // SAFETY: the check proved N bytes at `p` lie in one
                    // writable region; unaligned writes are allowed.
                    Some(p) => unsafe { p.cast::<$ty>().write_unaligned(v) },
                    None => bail!(fault(cur, addr, N as u32, true)),
                }
            }};
        }

        // One arm per operation (an opcode's immediate and register forms
        // share it) keeps the hot path to a single dispatch, and fixed-width
        // arms for the frequent loads and stores; the taken branches leave
        // the match with their offset so that the budget check after it
        // exists once.
        let delta: isize = 'taken: {
            macro_rules! cond64 {
                ($c:expr) => {{
                    let c: fn(u64, u64) -> bool = $c;
                    if c(reg[d], b) {
                        break 'taken off as isize;
                    }
                }};
            }
            macro_rules! cond32 {
                ($c:expr) => {{
                    let c: fn(u32, u32) -> bool = $c;
                    if c(reg[d] as u32, b as u32) {
                        break 'taken off as isize;
                    }
                }};
            }
            match DISPATCH[usize::from(op)] {
                Op::Add64 => alu64!(u64::wrapping_add),
                Op::Sub64 => alu64!(u64::wrapping_sub),
                Op::Mul64 => alu64!(u64::wrapping_mul),
                Op::Or64 => alu64!(|a, b| a | b),
                Op::And64 => alu64!(|a, b| a & b),
                Op::Lsh64 => alu64!(|a, b| a << (b & 63)),
                Op::Rsh64 => alu64!(|a, b| a >> (b & 63)),
                Op::Neg64 => reg[d] = reg[d].wrapping_neg(),
                Op::Xor64 => alu64!(|a, b| a ^ b),
                Op::MovImm64 => reg[d] = k64,
                Op::MovReg64 if off == 0 => reg[d] = reg[s],
                Op::Arsh64 => alu64!(|a, b| ((a as i64) >> (b & 63)) as u64),

                Op::Add32 => alu32!(u32::wrapping_add),
                Op::Sub32 => alu32!(u32::wrapping_sub),
                Op::Mul32 => alu32!(u32::wrapping_mul),
                Op::Or32 => alu32!(|a, b| a | b),
                Op::And32 => alu32!(|a, b| a & b),
                Op::Lsh32 => alu32!(|a, b| a << (b & 31)),
                Op::Rsh32 => alu32!(|a, b| a >> (b & 31)),
                Op::Neg32 => reg[d] = u64::from((reg[d] as u32).wrapping_neg()),
                Op::Xor32 => alu32!(|a, b| a ^ b),
                Op::MovImm32 => reg[d] = u64::from(k32),
                Op::MovReg32 if off == 0 => reg[d] = u64::from(reg[s] as u32),
                Op::Arsh32 => alu32!(|a, b| ((a as i32) >> (b & 31)) as u32),

                // Rare: one arm each (division out of line, as it is large).
                Op::DivMod => reg[d] = div_mod(op, reg[d], b, off != 0),
                Op::MovReg32 | Op::MovReg64 => reg[d] = movsx(op, reg[s], off),
                Op::ByteOrder => reg[d] = byte_order(op, reg[d], imm),

                Op::LdxW => reg[d] = u64::from(load!(u32)),
                Op::LdxH => reg[d] = u64::from(load!(u16)),
                Op::LdxB => reg[d] = u64::from(load!(u8)),
                Op::LdxDw => reg[d] = load!(u64),
                // Sign-extending loads (rare, v4 only) share one access: the
                // size field gives 4, 2 or 1 bytes.
                Op::LdxSx => {
                    let addr = reg[s].wrapping_add(off as i64 as u64);
                    let n = 4 >> ((op >> 3) & 3);
                    let Some(p) = access(regions, addr, n, false) else {
                        bail!(fault(cur, addr, n, false));
                    };
                    // SAFETY: the check proved `n` bytes at `p` lie in one
                    // readable region; unaligned reads are allowed.
                    reg[d] = unsafe { read_sx(p, n) };
                }

                Op::StW => store!(u32),
                Op::StH => store!(u16),
                Op::StB => store!(u8),
                Op::StDw => store!(u64),

                Op::Ja => break 'taken off as isize,
                Op::Jeq => cond64!(|a, b| a == b),
                Op::Jgt => cond64!(|a, b| a > b),
                Op::Jge => cond64!(|a, b| a >= b),
                Op::Jset => cond64!(|a, b| a & b != 0),
                Op::Jne => cond64!(|a, b| a != b),
                Op::Jsgt => cond64!(|a, b| a as i64 > b as i64),
                Op::Jsge => cond64!(|a, b| a as i64 >= b as i64),
                Op::Jlt => cond64!(|a, b| a < b),
                Op::Jle => cond64!(|a, b| a <= b),
                Op::Jslt => cond64!(|a, b| (a as i64) < b as i64),
                Op::Jsle => cond64!(|a, b| a as i64 <= b as i64),

                // `ja32` jumps by `imm`, every other jump by `off`.
                Op::Ja32 => break 'taken imm as isize,
                Op::Jeq32 => cond32!(|a, b| a == b),
                Op::Jgt32 => cond32!(|a, b| a > b),
                Op::Jge32 => cond32!(|a, b| a >= b),
                Op::Jset32 => cond32!(|a, b| a & b != 0),
                Op::Jne32 => cond32!(|a, b| a != b),
                Op::Jsgt32 => cond32!(|a, b| a as i32 > b as i32),
                Op::Jsge32 => cond32!(|a, b| a as i32 >= b as i32),
                Op::Jlt32 => cond32!(|a, b| a < b),
                Op::Jle32 => cond32!(|a, b| a <= b),
                Op::Jslt32 => cond32!(|a, b| (a as i32) < b as i32),
                Op::Jsle32 => cond32!(|a, b| a as i32 <= b as i32),

                // lddw: immediate (src 0) or data-region address (src 6).
                Op::Lddw => {
                    let Some(&hi) = code.get(pc) else {
                        bail!(stop(
                            cur,
                            RunErrorKind::InvalidProgram("lddw without its second slot"),
                        ));
                    };
                    let lo = u64::from(k32);
                    let hi = hi >> 32;
                    reg[d] = match s {
                        0 => lo | (hi << 32),
                        6 => match regions.data_base(lo as u32) {
                            Some(base) => base.wrapping_add(hi),
                            None => {
                                bail!(stop(
                                    cur,
                                    RunErrorKind::InvalidProgram("no such data region"),
                                ))
                            }
                        },
                        _ => bail!(stop(cur, RunErrorKind::InvalidProgram("lddw source"))),
                    };
                    pc += 1;
                }

                Op::Atomic => {
                    let addr = reg[d].wrapping_add(off as i64 as u64);
                    if let Err(e) = atomic(regions, cur, op == 0xdb, imm, addr, &mut reg, s) {
                        bail!(e);
                    }
                }

                // Calls and exit.
                Op::Call if s == 0 => {
                    let id = k32;
                    if !helpers.provides(id) {
                        bail!(stop(cur, RunErrorKind::UnknownHelper { id }));
                    }
                    let args = [reg[1], reg[2], reg[3], reg[4], reg[5]];
                    match helpers.call(id, args, &mut MemoryAccess::new(regions)) {
                        HelperResult::Return(v) => reg[0] = v,
                        HelperResult::Stop(v) => done!(v),
                        HelperResult::Fail(code) => {
                            bail!(stop(cur, RunErrorKind::HelperFailed { id, code }))
                        }
                    }
                }
                Op::Call if s == 1 => {
                    if used == limit {
                        bail!(stop(cur, RunErrorKind::BudgetExhausted));
                    }
                    used += 1;
                    let Some(caller) = prog.function_at(cur as u32) else {
                        bail!(
                            stop(cur, RunErrorKind::InvalidProgram("call outside any function"),)
                        );
                    };
                    let Some(frame) = frames.get_mut(depth) else {
                        bail!(
                            stop(cur, RunErrorKind::InvalidProgram("call depth over the limit"),)
                        );
                    };
                    *frame =
                        Frame { ret: pc, saved: [reg[6], reg[7], reg[8], reg[9]], fp: reg[10] };
                    depth += 1;
                    reg[10] = reg[10].wrapping_sub(u64::from(caller.frame_size));
                    pc = pc.wrapping_add_signed(imm as isize);
                }
                Op::Exit => {
                    if depth == 0 {
                        done!(reg[0]);
                    }
                    depth -= 1;
                    let f = frames[depth & (MAX_CALL_DEPTH - 1)];
                    [reg[6], reg[7], reg[8], reg[9]] = f.saved;
                    reg[10] = f.fp;
                    pc = f.ret;
                }
                Op::Invalid | Op::Call => {
                    bail!(stop(cur, RunErrorKind::InvalidProgram("unknown opcode")))
                }
            }
            continue 'step;
        };
        if delta < 0 {
            if used == limit {
                bail!(stop(cur, RunErrorKind::BudgetExhausted));
            }
            used += 1;
        }
        pc = pc.wrapping_add_signed(delta);
    }
}

/// The bounds check of every access: out of line, as one copy per access
/// opcode would be most of the interpreter's flash.
#[inline(never)]
fn access(regions: &Regions<'_>, addr: u64, size: u32, write: bool) -> Option<*mut u8> {
    regions.check(addr, u64::from(size), write)
}

/// Reads `n` (1, 2 or 4) little-endian bytes at `p`, sign-extended.
///
/// # Safety
/// `n` bytes at `p` must be valid for reads; `p` need not be aligned.
#[inline(always)]
unsafe fn read_sx(p: *mut u8, n: u32) -> u64 {
    // SAFETY: the caller guarantees `n` readable bytes at `p`.
    let v = unsafe {
        match n {
            1 => i64::from(p.cast::<i8>().read()),
            2 => i64::from(i16::from_le(p.cast::<i16>().read_unaligned())),
            _ => i64::from(i32::from_le(p.cast::<i32>().read_unaligned())),
        }
    };
    v as u64
}

/// Division and modulo (`op` 0x34, 0x3c, 0x37, 0x3f, 0x94, 0x9c, 0x97,
/// 0x9f); `signed` for the `sdiv`/`smod` forms.
#[inline(never)]
fn div_mod(op: u8, a: u64, b: u64, signed: bool) -> u64 {
    match (op & 0x07 == 0x07, op >> 4 == 0x3) {
        (true, true) => div64(a, b, signed),
        (true, false) => mod64(a, b, signed),
        (false, true) => div32(a, b as u32, signed),
        (false, false) => mod32(a, b as u32, signed),
    }
}

/// `mov` with a sign-extension width in `off` (`op` 0xbc or 0xbf).
#[inline(always)]
fn movsx(op: u8, v: u64, off: i16) -> u64 {
    let v = match off {
        8 => v as i8 as i64 as u64,
        16 => v as i16 as i64 as u64,
        32 => v as i32 as i64 as u64,
        _ => v,
    };
    if op == 0xbf {
        v
    } else {
        u64::from(v as u32)
    }
}

/// Byte order (`op` 0xd4, 0xdc, 0xd7; never truncated to 32 bits). eBPF
/// memory is little-endian: `le` (0xd4) truncates, `be` (0xdc) and `bswap`
/// (0xd7) swap.
#[inline(always)]
fn byte_order(op: u8, a: u64, imm: i32) -> u64 {
    match (op == 0xd4, imm) {
        (true, 16) => u64::from(a as u16),
        (true, 32) => u64::from(a as u32),
        (true, _) => a,
        (false, 16) => u64::from((a as u16).swap_bytes()),
        (false, 32) => u64::from((a as u32).swap_bytes()),
        (false, _) => a.swap_bytes(),
    }
}

/// What an opcode does: the index `run` dispatches on. Mapping the sparse
/// opcode byte to these dense values through [`DISPATCH`] keeps the
/// dispatch's jump table small (it is most of the flash a per-opcode
/// `match` on the raw byte would add), and lets unknown opcodes fall into
/// one arm without a separate validity check.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Op {
    /// Not an opcode the verifier accepts.
    Invalid,
    // ALU64 (the immediate and register forms share an index: the operand is selected before dispatch).
    Add64,
    Sub64,
    Mul64,
    Or64,
    And64,
    Lsh64,
    Rsh64,
    Neg64,
    Xor64,
    MovImm64,
    MovReg64,
    Arsh64,
    // ALU32.
    Add32,
    Sub32,
    Mul32,
    Or32,
    And32,
    Lsh32,
    Rsh32,
    Neg32,
    Xor32,
    MovImm32,
    MovReg32,
    Arsh32,
    // Rare ALU opcodes.
    DivMod,
    ByteOrder,
    // Loads and stores, one per size so that each access has a fixed width.
    LdxW,
    LdxH,
    LdxB,
    LdxDw,
    LdxSx,
    StW,
    StH,
    StB,
    StDw,
    // JMP.
    Ja,
    Jeq,
    Jgt,
    Jge,
    Jset,
    Jne,
    Jsgt,
    Jsge,
    Jlt,
    Jle,
    Jslt,
    Jsle,
    // JMP32.
    Ja32,
    Jeq32,
    Jgt32,
    Jge32,
    Jset32,
    Jne32,
    Jsgt32,
    Jsge32,
    Jlt32,
    Jle32,
    Jslt32,
    Jsle32,
    // Everything else.
    Lddw,
    Atomic,
    Call,
    Exit,
}

/// [`Op`] of every opcode byte.
const DISPATCH: [Op; 256] = {
    let mut t = [Op::Invalid; 256];
    let ops: &[(Op, &[u8])] = &[
        (Op::Add64, &[0x07, 0x0f]),
        (Op::Sub64, &[0x17, 0x1f]),
        (Op::Mul64, &[0x27, 0x2f]),
        (Op::Or64, &[0x47, 0x4f]),
        (Op::And64, &[0x57, 0x5f]),
        (Op::Lsh64, &[0x67, 0x6f]),
        (Op::Rsh64, &[0x77, 0x7f]),
        (Op::Neg64, &[0x87]),
        (Op::Xor64, &[0xa7, 0xaf]),
        (Op::MovImm64, &[0xb7]),
        (Op::MovReg64, &[0xbf]),
        (Op::Arsh64, &[0xc7, 0xcf]),
        (Op::Add32, &[0x04, 0x0c]),
        (Op::Sub32, &[0x14, 0x1c]),
        (Op::Mul32, &[0x24, 0x2c]),
        (Op::Or32, &[0x44, 0x4c]),
        (Op::And32, &[0x54, 0x5c]),
        (Op::Lsh32, &[0x64, 0x6c]),
        (Op::Rsh32, &[0x74, 0x7c]),
        (Op::Neg32, &[0x84]),
        (Op::Xor32, &[0xa4, 0xac]),
        (Op::MovImm32, &[0xb4]),
        (Op::MovReg32, &[0xbc]),
        (Op::Arsh32, &[0xc4, 0xcc]),
        (Op::DivMod, &[0x34, 0x3c, 0x37, 0x3f, 0x94, 0x9c, 0x97, 0x9f]),
        (Op::ByteOrder, &[0xd4, 0xdc, 0xd7]),
        (Op::LdxW, &[0x61]),
        (Op::LdxH, &[0x69]),
        (Op::LdxB, &[0x71]),
        (Op::LdxDw, &[0x79]),
        (Op::LdxSx, &[0x81, 0x89, 0x91]),
        (Op::StW, &[0x62, 0x63]),
        (Op::StH, &[0x6a, 0x6b]),
        (Op::StB, &[0x72, 0x73]),
        (Op::StDw, &[0x7a, 0x7b]),
        (Op::Ja, &[0x05]),
        (Op::Jeq, &[0x15, 0x1d]),
        (Op::Jgt, &[0x25, 0x2d]),
        (Op::Jge, &[0x35, 0x3d]),
        (Op::Jset, &[0x45, 0x4d]),
        (Op::Jne, &[0x55, 0x5d]),
        (Op::Jsgt, &[0x65, 0x6d]),
        (Op::Jsge, &[0x75, 0x7d]),
        (Op::Jlt, &[0xa5, 0xad]),
        (Op::Jle, &[0xb5, 0xbd]),
        (Op::Jslt, &[0xc5, 0xcd]),
        (Op::Jsle, &[0xd5, 0xdd]),
        (Op::Ja32, &[0x06]),
        (Op::Jeq32, &[0x16, 0x1e]),
        (Op::Jgt32, &[0x26, 0x2e]),
        (Op::Jge32, &[0x36, 0x3e]),
        (Op::Jset32, &[0x46, 0x4e]),
        (Op::Jne32, &[0x56, 0x5e]),
        (Op::Jsgt32, &[0x66, 0x6e]),
        (Op::Jsge32, &[0x76, 0x7e]),
        (Op::Jlt32, &[0xa6, 0xae]),
        (Op::Jle32, &[0xb6, 0xbe]),
        (Op::Jslt32, &[0xc6, 0xce]),
        (Op::Jsle32, &[0xd6, 0xde]),
        (Op::Lddw, &[0x18]),
        (Op::Atomic, &[0xc3, 0xdb]),
        (Op::Call, &[0x85]),
        (Op::Exit, &[0x95]),
    ];
    let mut i = 0;
    while i < ops.len() {
        let (op, bytes) = ops[i];
        let mut j = 0;
        while j < bytes.len() {
            t[bytes[j] as usize] = op;
            j += 1;
        }
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::{Op, DISPATCH};
    use femtoc_isa::decode_at;

    /// Whether the decoder accepts some slot with opcode `op`, over the
    /// source, offset and immediate values opcodes constrain.
    fn decodes(op: u8) -> bool {
        (0..16u64).any(|src| {
            [0u64, 8, 16, 32].iter().any(|&off| {
                [0u64, 1, 16, 32, 64, 0xe1, 0xf1].iter().any(|&imm| {
                    let w = u64::from(op) | (src << 12) | (off << 16) | (imm << 32);
                    decode_at(&[w, 0], 0).is_ok()
                })
            })
        })
    }

    #[test]
    fn dispatch_knows_exactly_the_opcodes_the_decoder_accepts() {
        for op in 0..=255u8 {
            let known = DISPATCH[usize::from(op)] != Op::Invalid;
            // `callx` (0x8d) decodes, but the verifier rejects it.
            assert_eq!(known, decodes(op) && op != 0x8d, "opcode {op:#04x}");
        }
    }
}
