//! Shared test scaffolding: programs from typed instructions, one-function
//! facts, and runs over a 512-byte stack.
#![allow(dead_code)]

use femtoc_isa::{AluOp, FunctionInfo, Insn, JmpCond, MemSize, Reg, Source, VerifiedRef, Width};
use femtoc_runtime::helpers::Helpers;
use femtoc_runtime::{run, MemRegion, RegionKind, Regions, RunArgs, RunError, RunOutcome};

pub const STACK: usize = 512;

pub fn r(n: u8) -> Reg {
    Reg::new(n).unwrap()
}
pub fn k(v: i32) -> Source {
    Source::Imm(v)
}
pub fn x(n: u8) -> Source {
    Source::Reg(r(n))
}
pub fn alu64(op: AluOp, dst: u8, src: Source) -> Insn {
    Insn::Alu { width: Width::W64, op, dst: r(dst), src }
}
pub fn alu32(op: AluOp, dst: u8, src: Source) -> Insn {
    Insn::Alu { width: Width::W32, op, dst: r(dst), src }
}
pub fn mov(dst: u8, v: i32) -> Insn {
    alu64(AluOp::Mov, dst, k(v))
}
pub fn lddw(dst: u8, imm: u64) -> Insn {
    Insn::LoadImm64 { dst: r(dst), imm }
}
pub fn ldx(size: MemSize, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Load { size, dst: r(dst), src: r(src), off }
}
pub fn stx(size: MemSize, dst: u8, off: i16, src: u8) -> Insn {
    Insn::Store { size, dst: r(dst), off, src: x(src) }
}
pub fn st(size: MemSize, dst: u8, off: i16, imm: i32) -> Insn {
    Insn::Store { size, dst: r(dst), off, src: k(imm) }
}
pub fn jmp(width: Width, cond: JmpCond, dst: u8, src: Source, off: i16) -> Insn {
    Insn::Jmp { width, cond, dst: r(dst), src, off }
}
pub const EXIT: Insn = Insn::Exit;

pub fn code(insns: &[Insn]) -> Vec<u64> {
    insns.iter().flat_map(|i| i.encode().as_slice().to_vec()).collect()
}

/// Facts for a program that is one function using the whole stack.
pub fn one_fn(code: &[u64]) -> Vec<FunctionInfo> {
    vec![FunctionInfo {
        start: 0,
        end: code.len() as u32,
        frame_size: STACK as u32,
        frame_tracked: true,
        max_entry_depth: 0,
    }]
}

pub fn verified<'a>(code: &'a [u64], functions: &'a [FunctionInfo]) -> VerifiedRef<'a> {
    VerifiedRef { code, functions, stack_usage: STACK as u32, min_ctx_len: 0 }
}

/// Runs a one-function program with a fresh stack, an optional writable
/// context and the given helpers.
pub fn run_full(
    insns: &[Insn],
    ctx: Option<&mut [u8]>,
    budget: Option<u64>,
    helpers: &mut dyn Helpers,
) -> Result<RunOutcome, RunError> {
    let c = code(insns);
    let f = one_fn(&c);
    let mut stack = [0u8; STACK];
    let mut regions = Regions::new(&mut stack);
    let (mut r1, mut r2) = (0, 0);
    if let Some(ctx) = ctx {
        let region = MemRegion::read_write(RegionKind::Context, ctx);
        (r1, r2) = (region.start(), region.len());
        regions.push(region).unwrap();
    }
    run(&verified(&c, &f), &regions, RunArgs { r1, r2, budget }, helpers)
}

pub fn run_plain(insns: &[Insn]) -> Result<RunOutcome, RunError> {
    run_full(insns, None, None, &mut femtoc_runtime::helpers::NoHelpers)
}

/// r0 of a run that must succeed.
pub fn r0(insns: &[Insn]) -> u64 {
    run_plain(insns).expect("run failed").r0
}
