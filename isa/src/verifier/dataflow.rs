//! Data flow over one function's control-flow graph, to a fixpoint:
//! which registers are initialised on every path, and which hold
//! "r10 + constant" (so that frame accesses can be bounded).
//!
//! States live at basic-block leaders in the scratch entries; a block is
//! re-walked whenever its leader's state shrinks. Both lattices are finite
//! and only move down (an init bit is cleared, a frame offset becomes
//! "mixed"), so the walk terminates.

use super::error::{VerifyError, VerifyErrorKind as K};
use super::scratch::{flag, SlotScratch, FRAME_MAX, FRAME_MIN, FRAME_MIXED, FRAME_NONE};
use super::structure::{decode, target_in};
use super::VerifierConfig;
use crate::facts::FunctionInfo;
use crate::insn::{AluOp, AtomicOp, Insn, MemSize, Reg, Source, Width};

/// r1..r5: the argument registers a call clobbers.
const ARGS: u16 = 0b11_1110;

/// Abstract register state at one point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct State {
    /// Bit n set: rn is initialised on every path.
    pub init: u16,
    /// Frame-pointer state of r0..r9 (r10 is always offset 0).
    pub frame: [i16; 10],
}

impl State {
    /// The state at program entry: r1 (context), r2 (its length) and r10.
    pub(crate) const ENTRY: State =
        State { init: Reg::R1.bit() | Reg::R2.bit() | Reg::R10.bit(), frame: [FRAME_NONE; 10] };

    fn frame_of(&self, r: Reg) -> i16 {
        self.frame.get(r.index()).copied().unwrap_or(0)
    }

    fn write(&mut self, r: Reg, frame: i16) {
        self.init |= r.bit();
        if let Some(f) = self.frame.get_mut(r.index()) {
            *f = frame;
        }
    }

    /// After any call: r0 holds the result, r1..r5 are clobbered.
    fn clobber_after_call(&mut self) {
        self.init = (self.init & !ARGS) | Reg::R0.bit();
        for f in self.frame.iter_mut().take(6) {
            *f = FRAME_NONE;
        }
    }
}

/// Merges `st` into the leader entry `e`; true if `e` changed.
pub(crate) fn merge_into(e: &mut SlotScratch, st: &State) -> bool {
    if !e.has(flag::REACHED) {
        e.flags |= flag::REACHED;
        e.init = st.init;
        e.frame = st.frame;
        return true;
    }
    let init = e.init & st.init;
    let mut changed = init != e.init;
    e.init = init;
    for (mine, theirs) in e.frame.iter_mut().zip(st.frame) {
        if *mine != theirs && *mine != FRAME_MIXED {
            *mine = FRAME_MIXED;
            changed = true;
        }
    }
    changed
}

/// What the walk learned about one function.
pub(crate) struct FnFacts {
    /// Some r10-derived pointer escaped constant tracking.
    pub untracked: bool,
    /// Deepest byte below r10 touched through a tracked pointer.
    pub deepest: u32,
    /// The first reachable local call, if any.
    pub first_local_call: Option<usize>,
}

struct Walk<'a, 'c> {
    code: &'a [u64],
    cfg: &'a VerifierConfig<'c>,
    s: &'a mut [SlotScratch],
    func: FunctionInfo,
    is_entry: bool,
    queued: usize,
    facts: FnFacts,
}

/// Walks the function `func`, whose start slot already holds its entry
/// state. Call sites merge their argument state into their callees' start
/// slots.
pub(crate) fn analyse(
    code: &[u64],
    cfg: &VerifierConfig,
    s: &mut [SlotScratch],
    func: FunctionInfo,
    is_entry: bool,
) -> Result<FnFacts, VerifyError> {
    let mut w = Walk {
        code,
        cfg,
        s,
        func,
        is_entry,
        queued: 0,
        facts: FnFacts { untracked: false, deepest: 0, first_local_call: None },
    };
    w.enqueue(func.start as usize);
    while let Some(top) = w.queued.checked_sub(1) {
        w.queued = top;
        let leader = w.s[top].work as usize;
        let e = &mut w.s[leader];
        e.flags &= !flag::QUEUED;
        let st = State { init: e.init, frame: e.frame };
        w.block(leader, st)?;
    }
    Ok(w.facts)
}

impl Walk<'_, '_> {
    fn enqueue(&mut self, leader: usize) {
        if self.s[leader].has(flag::QUEUED) {
            return;
        }
        self.s[leader].flags |= flag::QUEUED;
        // A leader is queued at most once at a time, so the queue never
        // holds more entries than the program has slots.
        self.s[self.queued].work = leader as u16;
        self.queued += 1;
    }

    fn flow_to(&mut self, target: usize, st: &State) {
        if merge_into(&mut self.s[target], st) {
            self.enqueue(target);
        }
    }

    fn block(&mut self, leader: usize, mut st: State) -> Result<(), VerifyError> {
        let n = self.code.len();
        let mut pc = leader;
        loop {
            self.s[pc].flags |= flag::REACHED;
            let insn = decode(self.code, pc)?;
            self.transfer(pc, &insn, &mut st).map_err(|k| VerifyError::new(pc, k))?;
            match insn {
                Insn::Exit => return Ok(()),
                Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Jmp { .. } => {
                    let t = target_in(&insn, pc, n).ok_or(VerifyError::new(
                        pc,
                        K::JumpOutOfProgram(insn.branch_target(pc).unwrap_or(-1)),
                    ))?;
                    self.flow_to(t, &st);
                    if insn.ends_block_unconditionally() {
                        return Ok(());
                    }
                }
                _ => {}
            }
            let next = pc + insn.slots();
            if next >= self.func.end as usize {
                return Err(VerifyError::new(pc, K::FallsOffFunction(self.func.start)));
            }
            if self.s[next].has(flag::LEADER) {
                self.flow_to(next, &st);
                return Ok(());
            }
            pc = next;
        }
    }

    fn read(&self, st: &State, r: Reg) -> Result<(), K> {
        if st.init & r.bit() == 0 {
            return Err(K::UninitRegister(r));
        }
        Ok(())
    }

    /// `r` is used in a way constant tracking cannot follow.
    fn escape(&mut self, st: &State, r: Reg) {
        if st.frame_of(r) != FRAME_NONE {
            self.facts.untracked = true;
        }
    }

    fn access(&mut self, st: &State, base: Reg, off: i16, size: MemSize) -> Result<(), K> {
        let v = st.frame_of(base);
        if v == FRAME_NONE {
            return Ok(());
        }
        if v == FRAME_MIXED {
            self.facts.untracked = true;
            return Ok(());
        }
        let size = size.bytes();
        let lo = i64::from(v) + i64::from(off);
        if lo + i64::from(size) > 0 {
            return Err(K::AccessAboveFrame { offset: lo as i32, size });
        }
        if lo < -i64::from(self.cfg.stack_size) {
            return Err(K::AccessBelowStack { offset: lo as i32, stack_size: self.cfg.stack_size });
        }
        self.facts.deepest = self.facts.deepest.max((-lo) as u32);
        Ok(())
    }

    /// A frame pointer leaves the function's own accesses (passed to a
    /// call, stored to memory): whatever it points at lives in this frame,
    /// and C objects extend upwards from their address, so the pointer's
    /// own depth bounds the frame. Where it is used later, the access is
    /// checked at run time against the stack region like any other.
    fn publish(&mut self, st: &State, r: Reg) {
        match st.frame_of(r) {
            FRAME_NONE => {}
            FRAME_MIXED => self.facts.untracked = true,
            v => {
                if v < 0 {
                    self.facts.deepest = self.facts.deepest.max(u32::from(v.unsigned_abs()));
                }
            }
        }
    }

    fn publish_call_args(&mut self, st: &State) {
        for r in [Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5] {
            if st.init & r.bit() != 0 {
                self.publish(st, r);
            }
        }
    }

    fn alu(
        &mut self,
        st: &mut State,
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Source,
    ) -> Result<(), K> {
        match (op, width, src) {
            (AluOp::Mov, Width::W64, Source::Reg(s)) => {
                self.read(st, s)?;
                st.write(dst, st.frame_of(s));
            }
            (AluOp::Mov, _, Source::Imm(_)) => st.write(dst, FRAME_NONE),
            (AluOp::Add | AluOp::Sub, Width::W64, Source::Imm(k)) => {
                self.read(st, dst)?;
                let v = st.frame_of(dst);
                let k = if op == AluOp::Add { i64::from(k) } else { -i64::from(k) };
                let out = if v == FRAME_NONE {
                    FRAME_NONE
                } else if v == FRAME_MIXED {
                    self.facts.untracked = true;
                    FRAME_MIXED
                } else {
                    let c = i64::from(v) + k;
                    if (FRAME_MIN..=FRAME_MAX).contains(&c) {
                        c as i16
                    } else {
                        self.facts.untracked = true;
                        FRAME_MIXED
                    }
                };
                st.write(dst, out);
            }
            _ => {
                if !matches!(op, AluOp::Mov | AluOp::MovSx(_)) {
                    self.read(st, dst)?;
                    self.escape(st, dst);
                }
                if let Source::Reg(s) = src {
                    self.read(st, s)?;
                    self.escape(st, s);
                }
                st.write(dst, FRAME_NONE);
            }
        }
        Ok(())
    }

    fn transfer(&mut self, pc: usize, insn: &Insn, st: &mut State) -> Result<(), K> {
        match *insn {
            Insn::Alu { width, op, dst, src } => self.alu(st, width, op, dst, src)?,
            Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => {
                self.read(st, dst)?;
                self.escape(st, dst);
                st.write(dst, FRAME_NONE);
            }
            Insn::LoadImm64 { dst, .. } | Insn::LoadDataAddr { dst, .. } => {
                st.write(dst, FRAME_NONE)
            }
            Insn::Load { size, dst, src, off } | Insn::LoadSx { size, dst, src, off } => {
                self.read(st, src)?;
                self.access(st, src, off, size)?;
                st.write(dst, FRAME_NONE);
            }
            Insn::Store { size, dst, off, src } => {
                self.read(st, dst)?;
                if let Source::Reg(s) = src {
                    self.read(st, s)?;
                    self.publish(st, s);
                }
                self.access(st, dst, off, size)?;
            }
            Insn::Atomic { size, op, fetch, dst, src, off } => {
                self.read(st, dst)?;
                self.read(st, src)?;
                if op == AtomicOp::CmpXchg {
                    self.read(st, Reg::R0)?;
                }
                self.publish(st, src);
                self.access(st, dst, off, size)?;
                if op == AtomicOp::CmpXchg {
                    st.write(Reg::R0, FRAME_NONE);
                } else if fetch {
                    st.write(src, FRAME_NONE);
                }
            }
            Insn::Ja { .. } | Insn::JaLong { .. } => {}
            Insn::Jmp { dst, src, .. } => {
                self.read(st, dst)?;
                if let Source::Reg(s) = src {
                    self.read(st, s)?;
                }
            }
            Insn::Call { .. } => {
                self.publish_call_args(st);
                st.clobber_after_call();
            }
            Insn::CallLocal { .. } => {
                self.publish_call_args(st);
                self.facts.first_local_call.get_or_insert(pc);
                let n = self.code.len();
                let t = target_in(insn, pc, n)
                    .ok_or(K::CallOutOfProgram(insn.branch_target(pc).unwrap_or(-1)))?;
                let entry =
                    State { init: (st.init & ARGS) | Reg::R10.bit(), frame: [FRAME_NONE; 10] };
                // The callee is analysed later (callers come first), so its
                // start is merged but not queued here.
                merge_into(&mut self.s[t], &entry);
                st.clobber_after_call();
            }
            Insn::CallReg { .. } => return Err(K::CallxUnsupported),
            Insn::Exit => {
                self.read(st, Reg::R0)?;
                if !self.is_entry {
                    // A callee's frame pointer handed back to the caller.
                    self.escape(st, Reg::R0);
                }
            }
        }
        Ok(())
    }
}
