//! The minimum context length: context bytes every run is certain to
//! access, so engines can refuse a shorter context up front and compiled
//! code can access those bytes without a check.

use crate::decode::decode_at;
use crate::insn::{AtomicOp, Insn, MemSize, Reg};

/// Largest `off + size` of accesses through the entry r1 (or a 64-bit
/// `mov` copy of it) with `off >= 0`, in the entry function's straight-line
/// prefix: the slots before its first jump, call or exit.
pub(crate) fn min_ctx_len(code: &[u64], entry_end: usize) -> u32 {
    let mut ctx = Reg::R1.bit();
    let mut len = 0u32;
    let mut touch = |ctx: u16, base: Reg, off: i16, size: MemSize| {
        if ctx & base.bit() != 0 && off >= 0 {
            len = len.max(off as u32 + size.bytes());
        }
    };
    let mut pc = 0;
    while pc < entry_end.min(code.len()) {
        let Ok(insn) = decode_at(code, pc) else { break };
        match insn {
            Insn::Ja { .. }
            | Insn::JaLong { .. }
            | Insn::Jmp { .. }
            | Insn::Call { .. }
            | Insn::CallLocal { .. }
            | Insn::CallReg { .. }
            | Insn::Exit => break,
            Insn::Load { size, dst, src, off } | Insn::LoadSx { size, dst, src, off } => {
                touch(ctx, src, off, size);
                ctx &= !dst.bit();
            }
            Insn::Store { size, dst, off, .. } => touch(ctx, dst, off, size),
            Insn::Atomic { size, op, fetch, dst, src, off } => {
                touch(ctx, dst, off, size);
                if op == AtomicOp::CmpXchg {
                    ctx &= !Reg::R0.bit();
                } else if fetch {
                    ctx &= !src.bit();
                }
            }
            Insn::Alu {
                width: crate::insn::Width::W64,
                op: crate::insn::AluOp::Mov,
                dst,
                src: crate::insn::Source::Reg(s),
            } => {
                if ctx & s.bit() != 0 {
                    ctx |= dst.bit();
                } else {
                    ctx &= !dst.bit();
                }
            }
            Insn::Alu { dst, .. }
            | Insn::Neg { dst, .. }
            | Insn::Endian { dst, .. }
            | Insn::LoadImm64 { dst, .. }
            | Insn::LoadDataAddr { dst, .. } => ctx &= !dst.bit(),
        }
        pc += insn.slots();
    }
    len
}
