//! The static shape of a program: every slot decodes, each instruction
//! passes the checks that need no data flow, and the functions, jump
//! targets and basic-block leaders are known.

use super::error::{VerifyError, VerifyErrorKind as K};
use super::scratch::{flag, SlotScratch};
use super::VerifierConfig;
use crate::decode::decode_at;
use crate::facts::FunctionInfo;
use crate::insn::{AtomicOp, Insn, Reg};

/// Decodes the instruction at `pc` (which must be below `code.len()`).
pub(crate) fn decode(code: &[u64], pc: usize) -> Result<Insn, VerifyError> {
    if pc >= code.len() {
        // Callers only pass pcs they checked; this keeps a slip from panicking.
        return Err(VerifyError::new(pc, K::FallsOffFunction(pc as u32)));
    }
    decode_at(code, pc).map_err(|e| VerifyError::new(pc, K::Decode(e)))
}

/// The target of a jump or local call, as a slot index inside the program.
pub(crate) fn target_in(insn: &Insn, pc: usize, n: usize) -> Option<usize> {
    let t = insn.branch_target(pc)?;
    usize::try_from(t).ok().filter(|&t| t < n)
}

fn writes_r10(insn: &Insn) -> bool {
    match *insn {
        Insn::Alu { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::Endian { dst, .. }
        | Insn::LoadImm64 { dst, .. }
        | Insn::LoadDataAddr { dst, .. }
        | Insn::Load { dst, .. }
        | Insn::LoadSx { dst, .. } => dst == Reg::R10,
        Insn::Atomic { op, fetch, src, .. } => fetch && op != AtomicOp::CmpXchg && src == Reg::R10,
        _ => false,
    }
}

fn check_insn(insn: &Insn, cfg: &VerifierConfig) -> Result<(), K> {
    if writes_r10(insn) {
        return Err(K::WriteToR10);
    }
    match *insn {
        Insn::CallReg { .. } => Err(K::CallxUnsupported),
        Insn::Call { id } if !cfg.helpers.contains(&id) => Err(K::UnknownHelper(id)),
        Insn::LoadDataAddr { region, offset, .. } => {
            let count = cfg.data_sizes.len();
            let size = usize::try_from(region)
                .ok()
                .and_then(|r| cfg.data_sizes.get(r))
                .ok_or(K::NoSuchDataRegion { region, count })?;
            if offset > *size {
                return Err(K::DataOffsetOutOfRange { region, offset, size: *size });
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Pass 1: decodes every slot, runs the per-instruction checks and marks
/// instruction starts, `lddw` second slots and function starts.
pub(crate) fn scan(
    code: &[u64],
    cfg: &VerifierConfig,
    s: &mut [SlotScratch],
) -> Result<(), VerifyError> {
    let n = code.len();
    let mut pc = 0;
    while pc < n {
        let insn = decode(code, pc)?;
        check_insn(&insn, cfg).map_err(|k| VerifyError::new(pc, k))?;
        s[pc].flags |= flag::INSN;
        if insn.slots() == 2 {
            s[pc + 1].flags |= flag::LDDW_HI;
        }
        if let Insn::CallLocal { .. } = insn {
            let t = target_in(&insn, pc, n).ok_or_else(|| {
                VerifyError::new(pc, K::CallOutOfProgram(insn.branch_target(pc).unwrap_or(-1)))
            })?;
            s[t].flags |= flag::FN_START;
        }
        pc += insn.slots();
    }
    s[0].flags |= flag::FN_START;
    Ok(())
}

/// Pass 2: fills the function table and returns the number of functions,
/// checks call and jump targets, and marks basic-block leaders.
pub(crate) fn layout(
    code: &[u64],
    s: &mut [SlotScratch],
    functions: &mut [FunctionInfo],
) -> Result<usize, VerifyError> {
    let n = code.len();
    // Call targets first: a call into an lddw's second slot would otherwise
    // surface as a confusing function boundary.
    for_each_insn(code, s, 0, n, |pc, insn, s| {
        if let (Insn::CallLocal { .. }, Some(t)) = (insn, target_in(insn, pc, n)) {
            if s[t].has(flag::LDDW_HI) {
                return Err(VerifyError::new(pc, K::CallIntoLddw(t as i64)));
            }
        }
        Ok(())
    })?;

    let mut count = 0;
    for pc in 0..n {
        if !s[pc].has(flag::FN_START) {
            continue;
        }
        s[pc].flags |= flag::LEADER;
        let given = functions.len();
        if count >= given {
            let needed = s[pc..].iter().filter(|e| e.has(flag::FN_START)).count() + count;
            return Err(VerifyError::new(pc, K::TooManyFunctions { needed, given }));
        }
        if let Some(prev) = count.checked_sub(1) {
            functions[prev].end = pc as u32;
        }
        functions[count] = FunctionInfo {
            start: pc as u32,
            end: n as u32,
            frame_size: 0,
            frame_tracked: true,
            max_entry_depth: 0,
        };
        count += 1;
    }

    let functions = &functions[..count];
    let mut f = 0;
    for_each_insn(code, s, 0, n, |pc, insn, s| {
        while functions.get(f + 1).is_some_and(|next| next.start as usize <= pc) {
            f += 1;
        }
        let Some(func) = functions.get(f) else { return Ok(()) };
        match insn {
            Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Jmp { .. } => {
                let raw = insn.branch_target(pc).unwrap_or(-1);
                let t = target_in(insn, pc, n)
                    .ok_or_else(|| VerifyError::new(pc, K::JumpOutOfProgram(raw)))?;
                if s[t].has(flag::LDDW_HI) {
                    return Err(VerifyError::new(pc, K::JumpIntoLddw(raw)));
                }
                if t < func.start as usize || t >= func.end as usize {
                    return Err(VerifyError::new(
                        pc,
                        K::JumpOutOfFunction { target: raw, function: func.start },
                    ));
                }
                s[t].flags |= flag::LEADER;
                if let Some(e) = s.get_mut(pc + 1) {
                    e.flags |= flag::LEADER;
                }
            }
            Insn::Exit => {
                if let Some(e) = s.get_mut(pc + 1) {
                    e.flags |= flag::LEADER;
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(count)
}

/// Calls `f` for each instruction in slots `from..to`, in order.
pub(crate) fn for_each_insn(
    code: &[u64],
    s: &mut [SlotScratch],
    from: usize,
    to: usize,
    mut f: impl FnMut(usize, &Insn, &mut [SlotScratch]) -> Result<(), VerifyError>,
) -> Result<(), VerifyError> {
    let mut pc = from;
    while pc < to {
        let insn = decode(code, pc)?;
        f(pc, &insn, s)?;
        pc += insn.slots();
    }
    Ok(())
}
