//! Which registers a 32-bit backend may keep as a low word only, from the
//! ranges of [`super::ranges`]: a register qualifies if every read that
//! needs its upper half sees a value below 2^32, even if the value is wide
//! in between.

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_isa::{AluOp, AtomicOp, ByteOrder, Insn, MemSize, Reg, Source, Width};

use super::ranges::{register_ranges, RangeConfig};

/// The registers a 32-bit backend may keep as a low word only, as a bit set
/// ([`Reg::bit`]): every read of such a register that needs its upper half
/// happens where its range fits in 32 bits. Elsewhere the value may be wide
/// for a while (`mov r4, r2` before `jlt r2, 359` narrows it) as long as
/// only its low word is used, which every writer computes exactly.
///
/// A read needs the upper half unless it is an operand of a 32-bit
/// operation, of a 64-bit operation whose low word depends only on its
/// operands' low words (add, sub, mul, and, or, xor, left shift, moves, neg)
/// writing a register of the set, or the value of a store or atomic of at
/// most 32 bits. Every memory base, 64-bit compare, helper argument and
/// the entry function's result needs it. The set is the largest one closed
/// under that rule; `always` are registers known narrow at every point
/// (such as [`super::narrow_registers`]), which never violate it.
pub fn low_word_registers(prog: &VerifiedProgram, cfg: &RangeConfig, always: u16) -> u16 {
    let ranges = register_ranges(prog, cfg);
    let insns: Vec<(usize, Insn)> =
        femtoc_isa::decode_all(&prog.program.code).flatten().map(|d| (d.pc, d.insn)).collect();
    let in_entry = |pc: usize| prog.functions.get(1).is_none_or(|f| pc < f.start as usize);
    let mut set = 0x3ffu16;
    loop {
        let mut next = set;
        for &(pc, insn) in &insns {
            let Some(state) = ranges.get(&pc) else { continue };
            for r in full_reads(&insn, set, in_entry(pc)) {
                let wide = state.get(r.index()).is_none_or(|v| !v.is_narrow());
                if wide && always & r.bit() == 0 {
                    next &= !r.bit();
                }
            }
        }
        if next == set {
            return set;
        }
        set = next;
    }
}

/// The registers `insn` reads in full (upper half included) when the
/// registers in `low` are kept as low words.
pub(super) fn full_reads(insn: &Insn, low: u16, in_entry: bool) -> Vec<Reg> {
    let keeps_low = |dst: Reg| low & dst.bit() != 0;
    let reg = |s: Source| match s {
        Source::Reg(r) => Some(r),
        Source::Imm(_) => None,
    };
    let mut out = Vec::with_capacity(5);
    match *insn {
        Insn::Alu { width: Width::W32, .. } | Insn::Neg { width: Width::W32, .. } => {}
        Insn::Alu { width: Width::W64, op, dst, src } => {
            let low_closed = matches!(
                op,
                AluOp::Add
                    | AluOp::Sub
                    | AluOp::Mul
                    | AluOp::And
                    | AluOp::Or
                    | AluOp::Xor
                    | AluOp::Lsh
                    | AluOp::Mov
                    | AluOp::MovSx(_)
            );
            if !(low_closed && keeps_low(dst)) {
                if op != AluOp::Mov && !matches!(op, AluOp::MovSx(_)) {
                    out.push(dst);
                }
                out.extend(reg(src));
            }
        }
        Insn::Neg { width: Width::W64, dst } if !keeps_low(dst) => out.push(dst),
        Insn::Endian { order, bits, dst } => match (order, bits) {
            (ByteOrder::ToLe, 64) if keeps_low(dst) => {}
            (_, 64) => out.push(dst),
            _ => {}
        },
        Insn::Load { src, .. } | Insn::LoadSx { src, .. } => out.push(src),
        Insn::Store { size, dst, src, .. } => {
            out.push(dst);
            if size == MemSize::DW {
                out.extend(reg(src));
            }
        }
        Insn::Atomic { size, op, dst, src, .. } => {
            out.push(dst);
            if size == MemSize::DW {
                out.push(src);
                if op == AtomicOp::CmpXchg {
                    out.push(Reg::R0);
                }
            }
        }
        Insn::Jmp { width: Width::W64, dst, src, .. } => {
            out.push(dst);
            out.extend(reg(src));
        }
        Insn::Call { .. } | Insn::CallReg { .. } => {
            out.extend([Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5]);
        }
        Insn::Exit if in_entry => out.push(Reg::R0),
        _ => {}
    }
    out.retain(|r| r.index() < 10);
    out
}
