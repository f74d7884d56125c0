//! Zero-extension: which eBPF registers never hold a value with a non-zero
//! upper half. A 32-bit backend keeps such a register in one machine
//! register instead of a pair and skips the upper half of every operation
//! on it.
//!
//! The fact is flow-insensitive, over the whole program: register `r` is
//! *narrow* if its value at entry is below 2^32 and every instruction that
//! writes `r` writes a value below 2^32 whenever its narrow inputs are. The
//! largest such set is found by starting from all of r0..r9 and dropping a
//! register as soon as one of its writers can produce a wide value, until
//! nothing changes. By induction over a run's steps every value a narrow
//! register takes is then below 2^32. r10 is not a candidate: it is never
//! written and its value is the frame address the backend provides.

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_isa::{AluOp, AtomicOp, ByteOrder, Insn, MemSize, Reg, Source, Width};

/// Registers r0..r9 written nowhere in the program, as a bit set
/// ([`Reg::bit`]). Such a register holds its entry value all run long
/// (helper and local calls do not change a register the program never
/// writes), so an unwritten r1 is the context address everywhere.
pub fn unwritten_registers(prog: &VerifiedProgram) -> u16 {
    let mut unwritten = 0x3ffu16;
    for d in femtoc_isa::decode_all(&prog.program.code).flatten() {
        for r in written(&d.insn) {
            unwritten &= !r.bit();
        }
    }
    unwritten
}

/// Registers among r3..r5 that a helper call may receive still holding
/// their entry value, as a bit set: only these need the zero the native
/// ABI starts them at (see [`entry_values_read`]).
pub fn entry_values_seen_by_helpers(prog: &VerifiedProgram) -> u16 {
    entry_values_read(prog) & (Reg::R3.bit() | Reg::R4.bit() | Reg::R5.bit())
}

/// Registers r1..r5 whose entry value some path may read, as a bit set:
/// the entry need not set up the others.
///
/// The verifier lets no register be read before it is written, except as
/// a helper's argument (r1..r5: a helper's arity is unknown), and r1 and
/// r2 start with the context. A forward pass tracks the registers some
/// path has not written yet; a local call flows into its callee and, not
/// counting what the callee writes, on to its return point (so the
/// callee's reads count, and the call itself reads nothing).
pub fn entry_values_read(prog: &VerifiedProgram) -> u16 {
    let insns: Vec<(usize, Insn)> =
        femtoc_isa::decode_all(&prog.program.code).flatten().map(|d| (d.pc, d.insn)).collect();
    let index: std::collections::BTreeMap<usize, usize> =
        insns.iter().enumerate().map(|(i, &(pc, _))| (pc, i)).collect();
    let entry = 0x3ffu16;
    let mut unwritten: Vec<Option<u16>> = vec![None; insns.len()];
    let mut work = vec![0usize];
    if let Some(first) = unwritten.first_mut() {
        *first = Some(entry);
    }
    let mut seen = 0u16;
    while let Some(i) = work.pop() {
        let (Some(&(pc, insn)), Some(Some(before))) = (insns.get(i), unwritten.get(i).copied())
        else {
            continue;
        };
        // A local call reads nothing itself: its callee's reads count.
        let callee = match insn {
            Insn::CallLocal { .. } => insn.branch_target(pc).and_then(|t| usize::try_from(t).ok()),
            _ => {
                seen |= before & super::webs::reads(&insn);
                None
            }
        };
        let after = written(&insn).fold(before, |set, r| set & !r.bit());
        for s in super::successors(pc, &insn).chain(callee) {
            let Some(&j) = index.get(&s) else { continue };
            let Some(slot) = unwritten.get_mut(j) else { continue };
            let joined = slot.map_or(after, |old| old | after);
            if *slot != Some(joined) {
                *slot = Some(joined);
                work.push(j);
            }
        }
    }
    seen & 0b11_1110
}

/// Registers r0..r9 whose upper half is zero at every point of every run,
/// as a bit set. `entry_narrow` names the registers whose entry value is
/// known to be below 2^32 besides the ones the native ABI starts at zero:
/// on a 32-bit target, r1 (an address) and r2 (a length).
pub fn narrow_registers(prog: &VerifiedProgram, entry_narrow: u16) -> u16 {
    // Every register other than r1 and r2 starts at zero (native ABI).
    let entry = 0x3ffu16 & !(Reg::R1.bit() | Reg::R2.bit()) | (entry_narrow & 0x3ff);
    let insns: Vec<Insn> =
        femtoc_isa::decode_all(&prog.program.code).flatten().map(|d| d.insn).collect();
    let mut narrow = entry;
    loop {
        let mut next = narrow;
        for insn in &insns {
            for r in written(insn) {
                if !writes_narrow(insn, narrow) {
                    next &= !r.bit();
                }
            }
        }
        if next == narrow {
            return narrow;
        }
        narrow = next;
    }
}

/// The registers `insn` writes (a helper call writes r0 only: r1..r5 keep
/// their values in every femtoc engine and are dead to the verifier).
pub(crate) fn written(insn: &Insn) -> impl Iterator<Item = Reg> {
    let (a, b) = match *insn {
        Insn::Alu { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::Endian { dst, .. }
        | Insn::LoadImm64 { dst, .. }
        | Insn::LoadDataAddr { dst, .. }
        | Insn::Load { dst, .. }
        | Insn::LoadSx { dst, .. } => (Some(dst), None),
        Insn::Atomic { op: AtomicOp::CmpXchg, .. } => (Some(Reg::R0), None),
        Insn::Atomic { fetch: true, src, .. } | Insn::Atomic { op: AtomicOp::Xchg, src, .. } => {
            (Some(src), None)
        }
        Insn::Call { .. } | Insn::CallReg { .. } => (Some(Reg::R0), None),
        _ => (None, None),
    };
    a.into_iter().chain(b).filter(|r| r.index() < 10)
}

/// True if `insn` may change `r`: what it writes, and after any call the
/// caller-saved r0..r5 (a local callee may leave anything in them; r6..r9
/// and r10 survive every call).
pub(crate) fn may_write(insn: &Insn, r: Reg) -> bool {
    match insn {
        Insn::Call { .. } | Insn::CallReg { .. } | Insn::CallLocal { .. } => r.index() <= 5,
        _ => written(insn).any(|w| w == r),
    }
}

/// True if `insn`'s write to `r` is below 2^32 whenever the registers in
/// `narrow` are.
fn writes_narrow(insn: &Insn, narrow: u16) -> bool {
    let is = |x: Reg| narrow & x.bit() != 0;
    let src_narrow = |s: Source| match s {
        Source::Reg(x) => is(x),
        Source::Imm(k) => k >= 0,
    };
    match *insn {
        Insn::Alu { width: Width::W32, .. } | Insn::Neg { width: Width::W32, .. } => true,
        Insn::Alu { width: Width::W64, op, dst, src } => match op {
            AluOp::Mov => src_narrow(src),
            AluOp::And => is(dst) || src_narrow(src),
            AluOp::Or | AluOp::Xor => is(dst) && src_narrow(src),
            // Quotient and remainder are at most the dividend (a zero
            // divisor gives 0 or the dividend); signed forms agree with
            // unsigned on non-negative operands.
            AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod => is(dst) && src_narrow(src),
            AluOp::Rsh => is(dst) || matches!(src, Source::Imm(k) if k & 63 >= 32),
            // A narrow value is non-negative: arithmetic shift = logical.
            AluOp::Arsh => is(dst),
            AluOp::Add | AluOp::Sub | AluOp::Mul | AluOp::Lsh | AluOp::MovSx(_) => false,
        },
        Insn::Neg { width: Width::W64, .. } => false,
        Insn::Endian { order, bits, dst } => match (order, bits) {
            (ByteOrder::ToLe, 64) => is(dst),
            (_, 64) => false,
            _ => true,
        },
        Insn::LoadImm64 { imm, .. } => imm >> 32 == 0,
        Insn::LoadDataAddr { .. } => false,
        Insn::Load { size, .. } => size != MemSize::DW,
        Insn::LoadSx { .. } => false,
        // The old value, zero-extended for 32-bit atomics.
        Insn::Atomic { size, .. } => size != MemSize::DW,
        Insn::Call { .. } | Insn::CallReg { .. } => false,
        // Jumps, stores, exits and local calls write no register.
        _ => true,
    }
}
