//! Which functions can observe r10. A local call moves r10 below the
//! caller's frame, which costs code at every call site; when neither the
//! callee nor anything it calls reads r10, nothing can tell where r10
//! points, and the backend may leave it alone.

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_isa::{Insn, Reg, Source};

/// True if `insn` reads r10 (as an operand, a base or a stored value).
fn reads_r10(insn: &Insn) -> bool {
    let r10 = |r: Reg| r == Reg::R10;
    let src = |s: Source| matches!(s, Source::Reg(r) if r10(r));
    match *insn {
        Insn::Alu { dst, src: s, .. } => r10(dst) || src(s),
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => r10(dst),
        Insn::Load { src, .. } | Insn::LoadSx { src, .. } => r10(src),
        Insn::Store { dst, src: s, .. } => r10(dst) || src(s),
        Insn::Atomic { dst, src, .. } => r10(dst) || r10(src),
        Insn::Jmp { dst, src: s, .. } => r10(dst) || src(s),
        // An indirect call may reach any function.
        Insn::CallReg { .. } => true,
        _ => false,
    }
}

/// By function index: true if the function, or any function it calls
/// directly or indirectly, reads r10.
pub fn frame_readers(prog: &VerifiedProgram) -> Vec<bool> {
    let fns = &prog.functions;
    let owner =
        |pc: usize| fns.iter().position(|f| (f.start as usize..f.end as usize).contains(&pc));
    let mut reads = vec![false; fns.len()];
    let mut calls: Vec<Vec<usize>> = vec![Vec::new(); fns.len()];
    for d in femtoc_isa::decode_all(&prog.program.code).flatten() {
        let Some(f) = owner(d.pc) else { continue };
        if reads_r10(&d.insn) {
            if let Some(r) = reads.get_mut(f) {
                *r = true;
            }
        }
        if let Insn::CallLocal { .. } = d.insn {
            let callee = d
                .insn
                .branch_target(d.pc)
                .and_then(|t| usize::try_from(t).ok())
                .and_then(|t| fns.iter().position(|g| g.start as usize == t));
            match (callee, calls.get_mut(f)) {
                (Some(g), Some(list)) => list.push(g),
                // A call the table cannot place: assume the worst.
                _ => {
                    if let Some(r) = reads.get_mut(f) {
                        *r = true;
                    }
                }
            }
        }
    }
    // Calls form a DAG (no recursion) at most MAX_CALL_DEPTH deep, so a
    // few rounds settle; iterate to a fixed point anyway.
    loop {
        let mut changed = false;
        for f in 0..fns.len() {
            let via_callee = calls
                .get(f)
                .is_some_and(|list| list.iter().any(|&g| reads.get(g).copied().unwrap_or(true)));
            if via_callee && !reads.get(f).copied().unwrap_or(true) {
                if let Some(r) = reads.get_mut(f) {
                    *r = true;
                }
                changed = true;
            }
        }
        if !changed {
            return reads;
        }
    }
}
