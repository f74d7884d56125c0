//! eBPF instructions to Thumb-2 sequences. Every operand goes through the
//! [`RegMap`]; temporaries (r0..r3, r12, lr) never live across an eBPF
//! instruction, so each lowering starts from a clean slate.
//!
//! Memory: r10-relative accesses with a constant offset inside the
//! function's tracked frame go straight to `[r11, #off]`, and loads through
//! an unwritten r1 below the minimum context length go straight to
//! `[r1, #off]`. An access in code that runs at most once per run calls
//! the shared slow check directly, and with [`Goal::Size`] every access
//! calls a shared checker (module `compact`). Every other access is
//! checked inline against the window
//! (module `windows`) of the region its base most likely points into
//! ([`crate::analysis::regions`]): the address's upper half must be zero
//! and its offset from the window's start below the count for the size.
//! Loads through one base in a basic block share one check over their span
//! ([`crate::analysis::groups`]). A failed inline check calls the shared
//! slow path, which asks `routines.access_check` and on refusal leaves
//! through the fault exit. Atomics whose bytes are proven inside the frame
//! or a writable data region keep only their alignment check, and not that
//! where their offset from r10 or the region's base (both multiples of 8)
//! is exact and aligned. Word and
//! halfword accesses use LDR/STR/LDRH/STRH,
//! which need CCR.UNALIGN_TRP clear: the section then needs
//! `UNALIGNED_ACCESS`.
//!
//! Budget (module `budget`): the low word of `budget_left` lives in a core
//! register when the [`RegMap`] finds one worth it, else in a frame word,
//! while the code runs; an event decrements it, and a borrow from the high
//! word or the stop happens in a shared tail. Calls (module `calls`):
//! helpers and routines through the context, local calls and the
//! callees' save areas. A backward jump that is one conditional
//! branch becomes "skip unless taken; decrement; jump back if no borrow",
//! so an iteration with budget left costs one taken branch.

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_isa::{
    AluOp, AtomicOp, ByteOrder, Decoded, FunctionInfo, Insn, JmpCond, MemSize, Reg as EReg, Source,
    Width,
};
use femtoc_runtime::abi::{self, routine_offset, status};
use femtoc_runtime::engine::Features;

use super::assembler::Thumb2Assembler;
use std::collections::{BTreeMap, BTreeSet};

use super::insn::{Compare, Cond, DpOp, Label, MemOp, Reg, SetFlags, Shift, Thumb2Insn as I, UnOp};
use super::regmap::{self, Half, RegMap, CTX, SAVED};
use super::CompileError;
use crate::analysis::byte_pairs::{byte_pairs, BytePair};
use crate::analysis::groups::{self, Member};
use crate::analysis::regions::{self, Region};
use crate::analysis::webs::{low_word_webs_with, LowWords};
use crate::analysis::zext::may_write;
use windows::{Target, Window};

use Reg as R;
use SetFlags::{Any, Keep, Set};

/// Code emitted out of line, after the body.
enum Cold {
    /// Taken backward branch: budget check, then the jump.
    BackEdge { entry: Label, pc: u32, target: Label },
    /// Inline bounds check failed: ask the slow path, then resume.
    Check(CheckSite),
    /// Misaligned atomic at the address in `addr` (low word) and `hi`
    /// (high word; zero when `None`).
    Misaligned { entry: Label, pc: u32, size: u32, addr: Reg, hi: Option<Reg> },
}

/// One inline bounds check's way out to the slow path.
struct CheckSite {
    /// Entered with the address's low word in `addr` and its high word in
    /// `hi` (zero when `None`).
    entry: Label,
    /// Entered from a carry (or borrow) out of `base + off` on a narrow
    /// base: r2 holds the low word, the high word is this constant.
    carry: Option<(Label, u32)>,
    addr: Reg,
    hi: Option<Reg>,
    pc: u32,
    size: u32,
    write: bool,
    resume: Label,
    /// For a group's check: the base register; the slow path checks the
    /// group's loads (`Lowerer::groups` at `pc`) one by one.
    group: Option<EReg>,
}

mod budget;
mod calls;
mod compact;
mod counted;
mod pairs;
mod windows;

/// A function other than the entry function: its save area (see
/// [`regmap`]) and what its prologue saves there.
struct Callee {
    /// Frame offset of the save area.
    area: u32,
    /// eBPF registers among r6..r9 the function writes (bit per index).
    saved: u16,
    /// The function's one exit sequence; later exits branch to it.
    exit: Label,
    exit_bound: bool,
}

/// The callee-saved eBPF registers, in save-area order.
const CALLEE_SAVED: [EReg; 4] = [EReg::R6, EReg::R7, EReg::R8, EReg::R9];

/// Labels of the shared tails.
struct Shared {
    epilogue: Label,
    /// The epilogue when r3 already holds the context.
    epilogue_ctx: Label,
    check_slow: Label,
    /// The slow check of an address whose upper word is zero.
    check_slow_low: Label,
    /// The slow check right after `base + off` with `off > 0`, the carry
    /// in the flags: the upper word is the carry.
    check_carry: Label,
    /// The slow check right after `base + off` with `off < 0`, the borrow
    /// in the flags: the upper word is all ones after a borrow.
    check_borrow: Label,
    fault_exit: Label,
    misaligned_exit: Label,
    budget_exit: Label,
    budget_borrow: Label,
    /// Size build: r0 = pc; one budget event, borrowing if needed.
    budget_tick: Label,
    /// The `bx lr` of `budget_borrow` (the tick's return).
    budget_return: Label,
}

/// The lowering state of one program.
pub struct Lowerer<'p> {
    prog: &'p VerifiedProgram,
    map: RegMap,
    /// The assembler everything is emitted into.
    pub asm: Thumb2Assembler,
    pc_labels: Vec<Label>,
    /// Where local calls enter each function (before its prologue).
    fn_labels: Vec<(u32, Label)>,
    cold: Vec<Cold>,
    shared: Shared,
    /// Features the code needs.
    pub features: Features,
    /// Extra machine stack below the frame the code pushes at most.
    pub extra_stack: u32,
    windows: Vec<Window>,
    /// Frame words the windows and the budget use.
    window_words: u32,
    /// The frame word holding the low word of `budget_left` while the code
    /// runs, for programs with budget events (see [`Lowerer::budget`]).
    budget_slot: Option<u32>,
    /// Loads sharing one check ([`crate::analysis::groups`]), by the pc
    /// of the first, and the later ones.
    groups: BTreeMap<usize, Vec<Member>>,
    covered: BTreeSet<usize>,
    /// Runs of byte loads that assemble a halfword or word, by their
    /// first pc.
    pairs: BTreeMap<usize, BytePair>,
    /// Pcs where a basic block starts (jump targets, function starts).
    leaders: BTreeSet<usize>,
    /// How many `exit`s the entry function has.
    entry_exits: usize,
    /// By function: whether its call tree reads r10
    /// ([`crate::analysis::frame_readers`]).
    frame_readers: Vec<bool>,
    /// eBPF registers (bit per index) whose stored upper half is known to
    /// be zero here, within the current basic block: a 32-bit operation
    /// on them need not clear it again.
    hi_zero: u16,
    /// Set while lowering an add or subtract whose result a later
    /// `jeq`/`jne` against 0 in the same block tests: emit it flag-setting.
    flags_wanted: bool,
    /// The eBPF register whose low word the Z flag reflects here, if any
    /// (so that a `jeq`/`jne` against 0 needs no compare). Cleared by any
    /// emitted instruction that may write the flags, by a block leader,
    /// and by another write to the register.
    zero_flag_of: Option<EReg>,
    /// The instruction being lowered set [`Self::zero_flag_of`].
    zero_flag_set: bool,
    /// Counted loops whose pointer accesses are checked once before the
    /// loop (module `counted`), by header pc.
    counted: BTreeMap<usize, counted::CountedLoop>,
    /// Some cold stub calls the shared slow check (so it and the fault
    /// exit are emitted).
    uses_check_slow: bool,
    /// Some check's stub calls the slow check for an address below 2^32.
    uses_check_slow_low: bool,
    /// Some site calls [`Shared::check_carry`].
    uses_check_carry: bool,
    /// Some site calls [`Shared::check_borrow`].
    uses_check_borrow: bool,
    /// Some path reaches the epilogue without the context in r3.
    uses_epilogue: bool,
    /// The entry function's exit sequences so far: whether r0's upper
    /// half is zero there, and the sequence's label.
    exits: Vec<(bool, Label)>,
    /// Some cold stub leaves through the misaligned-atomic exit.
    uses_misaligned: bool,
    /// Some budget event calls `budget_tick`.
    uses_budget_tick: bool,
    /// How many local calls the program makes.
    local_calls: usize,
    /// Accesses proven inside their data region or frame
    /// ([`crate::analysis::proven`]).
    proven_data: BTreeSet<usize>,
    /// Atomics proven inside a writable data region or the frame, with
    /// whether their address is proven aligned too.
    proven_atomics: BTreeMap<usize, bool>,
    /// Register ranges before each pc (the analysis behind the low words
    /// and the proofs).
    ranges: crate::analysis::ranges::Ranges,
    /// While lowering a counted loop's unchecked copy: the pcs of the
    /// accesses its check covered.
    unchecked_sites: BTreeSet<usize>,
    /// While lowering a copy of a counted loop: its header pc and the
    /// copy's own head, where its back edge goes.
    head_override: Option<(usize, Label)>,
    /// For each checked access, the region its base likely points into
    /// ([`crate::analysis::regions`]).
    hints: BTreeMap<usize, Region>,
    /// Where the entry prologue starts (it is emitted last).
    pub entry: Label,
    /// eBPF registers the program never writes.
    unwritten: u16,
    /// Functions other than the entry function, by start pc.
    callees: BTreeMap<u32, Callee>,
    /// Which values are kept as a low word only, per web
    /// ([`crate::analysis::webs`]).
    low: LowWords,
    /// The pc being lowered ([`ENTRY_PC`] in the entry prologue): whose
    /// webs [`Lowerer::low_use`] and [`Lowerer::low_def`] ask about.
    cur_pc: usize,
    /// For each pc, whether its code may run more than once per run
    /// ([`compact::repeated_pcs`]).
    repeated: Vec<bool>,
    /// Set while lowering a counted loop's checked copy, which runs only
    /// when the check before the loop failed.
    cold_copy: bool,
    /// The shared checkers of compact checks (module `compact`).
    checkers: Vec<compact::Checker>,
    /// What the code is built for.
    goal: Goal,
    /// Frame words holding a data region's base, copied at entry, by
    /// region index (see [`Lowerer::plan_data_bases`]).
    data_slots: BTreeMap<u32, u32>,
}

/// What the Thumb-2 code is built for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Goal {
    /// Fast loops: a counted loop is emitted twice (checked once before
    /// the loop, with a checked copy as the fallback) and accesses in loops
    /// are checked in line. Code that runs once is still built small.
    #[default]
    Speed,
    /// Small code: every loop is emitted once and every checked access
    /// calls a shared checker, at a few cycles per access in loops.
    Size,
}

/// [`Lowerer::cur_pc`] while the entry prologue sets up the registers.
const ENTRY_PC: usize = usize::MAX;

/// The offset of data region `region`'s base in the table at
/// `data_bases`, if a load's immediate reaches it.
fn data_base_offset(region: u32) -> Option<u32> {
    region.checked_mul(8).filter(|&o| o < 4088)
}

/// The access word the slow check takes in r1: the size, with
/// `ACCESS_WRITE` for a store or atomic.
fn access_word(size: u32, write: bool) -> u32 {
    size | if write { abi::ACCESS_WRITE } else { 0 }
}

fn mem_error(pc: usize, why: &'static str) -> CompileError {
    CompileError::Unsupported { pc: pc as u32, why }
}

impl<'p> Lowerer<'p> {
    /// A lowerer for `prog` that builds code for `goal`.
    pub fn with_goal(prog: &'p VerifiedProgram, goal: Goal) -> Self {
        Lowerer { goal, ..Self::new(prog) }
    }

    /// A lowerer for `prog`.
    pub fn new(prog: &'p VerifiedProgram) -> Self {
        let mut asm = Thumb2Assembler::new();
        let n = prog.program.code.len();
        let pc_labels = (0..n).map(|_| asm.label()).collect();
        let fn_labels = prog.functions.iter().map(|f| (f.start, asm.label())).collect();
        let shared = Shared {
            epilogue: asm.label(),
            epilogue_ctx: asm.label(),
            check_slow: asm.label(),
            check_slow_low: asm.label(),
            check_carry: asm.label(),
            check_borrow: asm.label(),
            fault_exit: asm.label(),
            misaligned_exit: asm.label(),
            budget_exit: asm.label(),
            budget_borrow: asm.label(),
            budget_tick: asm.label(),
            budget_return: asm.label(),
        };
        // 32-bit target: the context address and length are below 2^32.
        let always = crate::analysis::narrow_registers(prog, EReg::R1.bit() | EReg::R2.bit());
        let floor = prog.functions.iter().map(|f| f.frame_size).min().unwrap_or(0);
        let cfg = crate::analysis::RangeConfig::device32(floor);
        // One range analysis serves the low words and the proofs.
        let ranges = crate::analysis::ranges::register_ranges(prog, &cfg);
        let low = low_word_webs_with(prog, &ranges, always);
        let entry = asm.label();
        let code: Vec<Decoded> = femtoc_isa::decode_all(&prog.program.code).flatten().collect();
        let levels = regmap::call_levels(prog);
        let callees = prog
            .functions
            .iter()
            .zip(levels)
            .filter(|(f, _)| f.start != 0)
            .map(|(f, level)| {
                let body = code.iter().filter(|d| (f.start..f.end).contains(&(d.pc as u32)));
                let saved = body.fold(0u16, |acc, d| {
                    CALLEE_SAVED
                        .iter()
                        .filter(|&&r| may_write(&d.insn, r))
                        .fold(acc, |acc, r| acc | r.bit())
                });
                let callee = Callee {
                    area: regmap::save_area(level),
                    saved,
                    exit: asm.label(),
                    exit_bound: false,
                };
                (f.start, callee)
            })
            .collect();
        Lowerer {
            prog,
            map: RegMap::with_upper_halves(prog, low.everywhere, |pc, insn, r| {
                let reads = crate::analysis::webs::reads(insn) & r.bit() != 0;
                let writes = crate::analysis::zext::written(insn).any(|w| w == r);
                (reads && !low.before(pc, r)) || (writes && !low.def(pc, r))
            }),
            asm,
            pc_labels,
            fn_labels,
            cold: Vec::new(),
            shared,
            features: Features::NONE,
            extra_stack: 32,
            windows: Vec::new(),
            window_words: 0,
            budget_slot: None,
            groups: BTreeMap::new(),
            covered: BTreeSet::new(),
            pairs: BTreeMap::new(),
            leaders: BTreeSet::new(),
            entry_exits: 0,
            frame_readers: crate::analysis::frame_readers(prog),
            hi_zero: 0,
            flags_wanted: false,
            zero_flag_of: None,
            zero_flag_set: false,
            counted: BTreeMap::new(),
            uses_check_slow: false,
            uses_check_slow_low: false,
            uses_check_carry: false,
            uses_check_borrow: false,
            uses_epilogue: false,
            exits: Vec::new(),
            uses_misaligned: false,
            uses_budget_tick: false,
            local_calls: 0,
            unchecked_sites: BTreeSet::new(),
            proven_data: crate::analysis::proven::proven_accesses_with(prog, &ranges),
            proven_atomics: crate::analysis::proven::proven_atomics_with(prog, &ranges),
            ranges,
            head_override: None,
            hints: BTreeMap::new(),
            entry,
            unwritten: crate::analysis::unwritten_registers(prog),
            callees,
            low,
            cur_pc: 0,
            repeated: Vec::new(),
            cold_copy: false,
            checkers: Vec::new(),
            goal: Goal::Speed,
            data_slots: BTreeMap::new(),
        }
    }

    /// The local functions (not the entry), for the pass that drops the
    /// lr saves of leaves.
    pub fn local_functions(&self) -> Vec<super::saves::LocalFunction> {
        self.prog
            .functions
            .iter()
            .filter_map(|f| {
                let c = self.callees.get(&f.start)?;
                let lr_slot = i32::try_from(c.area + 32).ok()?;
                Some(super::saves::LocalFunction { pcs: f.start..f.end, lr_slot })
            })
            .collect()
    }

    /// Bytes of machine stack below the pushed registers.
    pub fn frame(&self) -> u32 {
        (self.map.fixed + 4 * self.window_words).next_multiple_of(8)
    }

    fn e(&mut self, insn: I) {
        if insn.may_write_flags() {
            self.zero_flag_of = None;
        }
        self.asm.emit(insn);
    }

    fn label_at(&self, pc: usize) -> Result<Label, CompileError> {
        self.pc_labels.get(pc).copied().ok_or(mem_error(pc, "jump outside the program"))
    }

    /// Where a jump to `pc` goes: its label, or inside a copy of a counted
    /// loop, the copy's own head for the loop's header.
    fn jump_label(&self, pc: usize) -> Result<Label, CompileError> {
        match self.head_override {
            Some((head, label)) if head == pc => Ok(label),
            _ => self.label_at(pc),
        }
    }

    fn fn_label(&self, pc: usize) -> Result<Label, CompileError> {
        self.fn_labels
            .iter()
            .find(|&&(start, _)| start as usize == pc)
            .map(|&(_, l)| l)
            .ok_or(mem_error(pc, "call target is not a function start"))
    }

    // ----- constants and operands -----

    /// `rd = v` without touching the flags unless `flags_dead`.
    fn imm(&mut self, rd: Reg, v: u32, flags_dead: bool) {
        let s = if flags_dead { Any } else { Keep };
        if rd.is_low() && v < 256 && flags_dead {
            self.e(I::MovImm { s, rd, imm: v });
        } else if super::encode::modified_imm(v).is_some() {
            self.e(I::MovImm { s: Keep, rd, imm: v });
        } else if super::encode::modified_imm(!v).is_some() {
            self.e(I::MvnImm { rd, imm: !v });
        } else if rd.is_low() && flags_dead && !v <= 0xffff {
            // MOVW + 16-bit MVNS: six bytes where MOVW + MOVT take eight.
            self.e(I::Movw { rd, imm: !v as u16 });
            self.e(I::MvnReg { s: Any, rd, rm: rd });
        } else {
            self.e(I::Movw { rd, imm: v as u16 });
            if v >> 16 != 0 {
                self.e(I::Movt { rd, imm: (v >> 16) as u16 });
            }
        }
    }

    fn ldr(&mut self, rt: Reg, rn: Reg, off: u32) {
        self.e(I::Mem { op: MemOp::Ldr, rt, rn, off: off as i32 });
    }

    fn str(&mut self, rt: Reg, rn: Reg, off: u32) {
        self.e(I::Mem { op: MemOp::Str, rt, rn, off: off as i32 });
    }

    fn mov(&mut self, rd: Reg, rm: Reg) {
        if rd != rm {
            self.e(I::Mov { rd, rm });
        }
    }

    /// The low half of `r`, in its own register or loaded into `tmp`.
    fn lo(&mut self, r: EReg, tmp: Reg) -> Reg {
        match self.map.loc(r).lo {
            Half::Reg(lo) => lo,
            Half::Slot(off) => {
                self.ldr(tmp, R::SP, off);
                tmp
            }
        }
    }

    /// The high half of `r`; keeps the flags.
    fn hi(&mut self, r: EReg, tmp: Reg) -> Reg {
        match self.map.loc(r).hi {
            Some(Half::Reg(hi)) if !self.low_use(r) => hi,
            Some(Half::Slot(off)) if !self.low_use(r) => {
                self.ldr(tmp, R::SP, off);
                tmp
            }
            _ => {
                self.e(I::MovImm { s: Keep, rd: tmp, imm: 0 });
                tmp
            }
        }
    }

    /// The high half of `r` where the flags are dead (a zero upper half
    /// then takes a narrow MOVS).
    fn hi_flags_dead(&mut self, r: EReg, tmp: Reg) -> Reg {
        if self.low_use(r) {
            self.imm(tmp, 0, true);
            return tmp;
        }
        self.hi(r, tmp)
    }

    /// The register to compute the low half of `r` in.
    fn dlo(&self, r: EReg, tmp: Reg) -> Reg {
        match self.map.loc(r).lo {
            Half::Reg(lo) => lo,
            Half::Slot(_) => tmp,
        }
    }

    fn dhi(&self, r: EReg, tmp: Reg) -> Reg {
        match self.map.loc(r).hi {
            Some(Half::Reg(hi)) if !self.low_def(r) => hi,
            _ => tmp,
        }
    }

    /// True if the value of `r` read here is kept as a low word: where
    /// its upper half is needed it is zero.
    fn low_use(&self, r: EReg) -> bool {
        self.map.narrow(r) || self.low.before(self.cur_pc, r)
    }

    /// True if the value written to `r` here is kept as a low word: its
    /// upper half is not stored.
    fn low_def(&self, r: EReg) -> bool {
        self.map.narrow(r)
            || match self.cur_pc {
                ENTRY_PC => self.low.entry & r.bit() != 0,
                pc => self.low.def(pc, r),
            }
    }

    /// Stores a computed low half (a no-op when it was computed in place).
    fn put_lo(&mut self, r: EReg, v: Reg) {
        match self.map.loc(r).lo {
            Half::Reg(lo) => self.mov(lo, v),
            Half::Slot(off) => self.str(v, R::SP, off),
        }
    }

    /// Stores a computed high half; for a narrow register it is zero and
    /// has nowhere to go.
    fn put_hi(&mut self, r: EReg, v: Reg) {
        self.hi_zero &= !r.bit();
        if self.low_def(r) {
            return;
        }
        match self.map.loc(r).hi {
            Some(Half::Reg(hi)) => self.mov(hi, v),
            Some(Half::Slot(off)) => self.str(v, R::SP, off),
            None => {}
        }
    }

    /// Zeroes the high half of `r` (after a 32-bit operation), unless it
    /// is known to be zero already.
    fn zero_hi(&mut self, r: EReg) {
        if self.low_def(r) {
            // Not stored: the location no longer holds a known zero.
            self.hi_zero &= !r.bit();
            return;
        }
        if self.hi_zero & r.bit() != 0 {
            return;
        }
        self.hi_zero |= r.bit();
        match self.map.loc(r).hi {
            Some(Half::Reg(hi)) => self.imm(hi, 0, true),
            Some(Half::Slot(off)) => {
                self.imm(R::R3, 0, true);
                self.str(R::R3, R::SP, off);
            }
            None => {}
        }
    }

    /// Loads all of `r` into (lo, hi) temporaries.
    fn load64(&mut self, r: EReg, lo: Reg, hi: Reg) {
        let l = self.lo(r, lo);
        self.mov(lo, l);
        let h = self.hi(r, hi);
        self.mov(hi, h);
    }

    fn load_src64(&mut self, src: Source, lo: Reg, hi: Reg) {
        match src {
            Source::Reg(r) => self.load64(r, lo, hi),
            Source::Imm(k) => {
                self.imm(lo, k as u32, true);
                self.imm(hi, (k >> 31) as u32, true);
            }
        }
    }

    fn store64(&mut self, r: EReg, lo: Reg, hi: Reg) {
        self.put_lo(r, lo);
        self.put_hi(r, hi);
    }

    fn ctx(&mut self, rt: Reg) {
        self.ldr(rt, R::SP, CTX);
    }

    /// `rd = rn + k`, setting the carry when `flags`.
    fn add_imm(&mut self, rd: Reg, rn: Reg, k: i32, s: SetFlags) {
        let (op, v) = if k < 0 { (DpOp::Sub, k.unsigned_abs()) } else { (DpOp::Add, k as u32) };
        if super::encode::modified_imm(v).is_some() || (rd.is_low() && rn.is_low() && v < 8) {
            self.e(I::DpImm { op, s, rd, rn, imm: v });
        } else {
            let tmp = if rd == R::R12 || rn == R::R12 { R::LR } else { R::R12 };
            self.imm(tmp, v, true);
            self.e(I::DpReg { op, s, rd, rn, rm: tmp, shift: Shift::Lsl, amount: 0 });
        }
    }

    // ----- the program -----

    /// Lowers the whole program: entry prologue, every instruction, the
    /// cold stubs and the shared tails.
    pub fn lower(&mut self) -> Result<(), CompileError> {
        let code = &self.prog.program.code;
        let insns: Vec<Decoded> = femtoc_isa::decode_all(code)
            .collect::<Result<_, _>>()
            .map_err(|(pc, _)| mem_error(pc, "undecodable instruction"))?;
        self.plan_checks(&insns);
        self.repeated = compact::repeated_pcs(self.prog, &insns);
        let entry_end = self.prog.functions.first().map_or(0, |f| f.end as usize);
        self.entry_exits =
            insns.iter().filter(|d| d.pc < entry_end && d.insn == Insn::Exit).count();
        self.local_calls =
            insns.iter().filter(|d| matches!(d.insn, Insn::CallLocal { .. })).count();
        let events = !self.prog.back_edges.is_empty() || self.local_calls > 0;
        if events && self.map.budget.is_none() {
            self.budget_slot = Some(self.map.fixed + 4 * self.window_words);
            self.window_words += 1;
        }
        self.plan_data_bases(&insns);
        self.counted = self.find_counted_loops(&insns);
        if self.goal == Goal::Size {
            // Loops proven inside the frame are emitted once anyway.
            self.counted.retain(|_, lp| lp.is_frame_loop());
        }
        let mut fused = None;
        let mut i = 0;
        while let Some(&d) = insns.get(i) {
            self.asm.set_tag(d.pc as u32);
            let func = *self
                .prog
                .as_ref()
                .function_at(d.pc as u32)
                .ok_or(mem_error(d.pc, "instruction outside any function"))?;
            if func.start as usize == d.pc && d.pc != 0 {
                let entry = self.fn_label(d.pc)?;
                self.asm.bind(entry);
                self.callee_prologue(func.start);
            }
            let label = self.label_at(d.pc)?;
            self.asm.bind(label);
            if self.leaders.contains(&d.pc) {
                self.hi_zero = 0;
                self.zero_flag_of = None;
            }
            if let Some(lp) = self.counted.get(&d.pc).cloned() {
                let end = insns.iter().position(|x| x.pc > lp.back()).unwrap_or(insns.len());
                let body = insns.get(i..end).unwrap_or_default();
                self.counted_loop(&lp, body, &func)?;
                i = end;
                continue;
            }
            self.emit_insn(&insns, i, &func, &mut fused)?;
            i += 1;
        }
        self.emit_cold();
        // The entry is lowered last (only then are the windows known) but
        // placed first, where it falls into pc 0.
        let start = self.asm.len();
        self.prologue()?;
        self.asm.move_to_front(start);
        Ok(())
    }

    /// True if `first` is an add or subtract whose result a later
    /// instruction of the same block compares with zero for equality on
    /// the low word alone (a 32-bit compare, or a register kept as a low
    /// word), with no other write to it in between.
    fn tested_for_zero(&self, first: Decoded, rest: &[Decoded]) -> bool {
        let Insn::Alu { width, op: AluOp::Add | AluOp::Sub, dst, .. } = first.insn else {
            return false;
        };
        let low_def = width == Width::W32 || self.map.narrow(dst) || self.low.def(first.pc, dst);
        if !low_def {
            return false;
        }
        for n in rest {
            if self.leaders.contains(&n.pc) {
                return false;
            }
            match n.insn {
                Insn::Jmp {
                    width,
                    cond: JmpCond::Eq | JmpCond::Ne,
                    dst: d,
                    src: Source::Imm(0),
                    ..
                } if d == dst => {
                    return width == Width::W32
                        || self.map.narrow(dst)
                        || self.low.before(n.pc, dst);
                }
                Insn::Jmp { .. } | Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Exit => {
                    return false
                }
                i if may_write(&i, dst) => return false,
                _ => {}
            }
        }
        false
    }

    /// Lowers instruction `i` of `insns` (a slice of consecutive
    /// instructions): a move fused with the next instruction, a run of byte
    /// loads loaded as one halfword or word (`fused` then holds the last pc
    /// done), flags kept
    /// for a later zero test, the upper halves known zero.
    fn emit_insn(
        &mut self,
        insns: &[Decoded],
        i: usize,
        func: &FunctionInfo,
        fused: &mut Option<usize>,
    ) -> Result<(), CompileError> {
        let Some(&d) = insns.get(i) else { return Ok(()) };
        if fused.is_some_and(|last| d.pc <= last) {
            return Ok(());
        }
        if let Some(last) = self.assembled_load(d.pc, func) {
            *fused = Some(last);
            return Ok(());
        }
        if let Some(&next) = insns.get(i + 1) {
            if self.fuse_move(d, next) || self.fuse_exit(d, next, func) {
                *fused = Some(next.pc);
                return Ok(());
            }
        }
        self.flags_wanted = self.tested_for_zero(d, insns.get(i + 1..).unwrap_or_default());
        self.zero_flag_set = false;
        self.insn(d.pc, d.insn, func)?;
        self.flags_wanted = false;
        if !self.zero_flag_set && self.zero_flag_of.is_some_and(|r| may_write(&d.insn, r)) {
            self.zero_flag_of = None;
        }
        if let Insn::CallLocal { .. } = d.insn {
            // The callee may have left anything in any register.
            self.hi_zero = 0;
        }
        Ok(())
    }

    /// Lowers `mov32 D, S` followed by `op32 D, X` as one three-operand
    /// instruction `D = S op X`, when nothing can jump in between. The code
    /// is tagged with the second pc; the first has none of its own.
    fn fuse_move(&mut self, first: Decoded, next: Decoded) -> bool {
        let Insn::Alu { width: Width::W32, op: AluOp::Mov, dst, src: Source::Reg(s) } = first.insn
        else {
            return false;
        };
        let Insn::Alu { width: Width::W32, op, dst: d2, src: x } = next.insn else { return false };
        let dp_op = match op {
            AluOp::Add => DpOp::Add,
            AluOp::Sub => DpOp::Sub,
            AluOp::And => DpOp::And,
            AluOp::Or => DpOp::Orr,
            AluOp::Xor => DpOp::Eor,
            // Shifts by an immediate: the op is unused.
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => DpOp::Orr,
            _ => return false,
        };
        let shift = matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh);
        if d2 != dst
            || x == Source::Reg(dst)
            || (shift && !matches!(x, Source::Imm(_)))
            || self.leaders.contains(&next.pc)
        {
            return false;
        }
        self.asm.set_tag(next.pc as u32);
        // One web: the move's value reaches the operation.
        self.cur_pc = next.pc;
        let d = self.dlo(dst, R::R0);
        let a = self.lo(s, R::R0);
        match x {
            Source::Imm(k) if shift => {
                let kind = match op {
                    AluOp::Lsh => Shift::Lsl,
                    AluOp::Rsh => Shift::Lsr,
                    _ => Shift::Asr,
                };
                match (k & 31) as u8 {
                    0 => self.mov(d, a),
                    amount => self.e(I::ShiftImm { kind, s: Any, rd: d, rm: a, amount }),
                }
            }
            Source::Imm(k) => self.dp_imm(dp_op, Any, d, a, k as u32, false),
            Source::Reg(b) => {
                let b = self.lo(b, R::R2);
                self.e(dp(dp_op, Any, d, a, b));
            }
        }
        self.put_lo(dst, d);
        self.zero_hi(dst);
        true
    }

    /// `mov r0, x; exit` as the entry function's only exit: the exit stores
    /// `x` as the result, without first moving it into r0's home (which
    /// costs a stack slot's store and load when r0 lives there).
    fn fuse_exit(&mut self, first: Decoded, next: Decoded, func: &FunctionInfo) -> bool {
        let Insn::Alu { width, op: AluOp::Mov, dst: EReg::R0, src: Source::Reg(x) } = first.insn
        else {
            return false;
        };
        if func.start != 0
            || next.insn != Insn::Exit
            || self.leaders.contains(&next.pc)
            || self.entry_exits != 1
            || x == EReg::R0
            || x == EReg::R10
        {
            return false;
        }
        self.asm.set_tag(next.pc as u32);
        // x is not written in between: its facts before the move hold.
        self.cur_pc = first.pc;
        self.exit_with(x, width == Width::W32);
        true
    }

    /// The entry function's exit with `x` as the result (its upper half
    /// zero if `low_word`, else as `x` has it): stores it in the context
    /// and leaves with `EXIT`.
    fn exit_with(&mut self, x: EReg, low_word: bool) {
        // A low register for the context: narrow stores.
        self.ctx(R::R3);
        let lo = self.lo(x, R::R0);
        self.str(lo, R::R3, abi::OFF_R0);
        let hi = if low_word {
            self.imm(R::R1, 0, true);
            R::R1
        } else {
            self.hi_flags_dead(x, R::R1)
        };
        self.str(hi, R::R3, abi::OFF_R0 + 4);
        self.imm(R::R0, status::EXIT, true);
        self.e(I::B { cond: None, target: self.shared.epilogue_ctx });
    }

    /// Plans the checks: the likeliest region of each access and the loads
    /// that share a check (both shared with the other backends).
    fn plan_checks(&mut self, insns: &[Decoded]) {
        let insns: Vec<(usize, Insn)> = insns.iter().map(|d| (d.pc, d.insn)).collect();
        let starts: Vec<usize> = self.prog.functions.iter().map(|f| f.start as usize).collect();
        // The verifier's block starts: entry, function starts, jump
        // targets and the slots after jumps and exits.
        self.leaders = self.prog.blocks.iter().map(|b| b.start as usize).collect();
        self.hints = regions::regions(&insns, &starts);
        self.pairs = byte_pairs(self.prog, &insns);
        let leaders = &self.leaders;
        let prog = self.prog.as_ref();
        let checked = |pc: usize, insn: &Insn| {
            let (Insn::Load { size, src, off, .. } | Insn::LoadSx { size, src, off, .. }) = *insn
            else {
                return true;
            };
            let in_frame =
                prog.function_at(pc as u32).is_some_and(|f| Self::in_frame(f, src, off, size));
            !in_frame && !self.in_context(src, off, size) && !self.proven_data.contains(&pc)
        };
        // Every member's access uses an immediate offset from the base;
        // windows have counts for spans up to 64 bytes.
        let fits = |m: &Member| (-255..=4087).contains(&m.1);
        // Built for size, every access calls a checker: a group's inline
        // check and its members' slow checks would take more bytes.
        if self.goal == Goal::Size {
            return;
        }
        self.groups = groups::load_groups(&insns, leaders, checked, fits, 64);
        self.covered = groups::covered(&self.groups);
    }

    /// Gives a frame word to the base of each data region that `lddw`
    /// loads more than once, or in a loop: one load from the frame then
    /// replaces the three (context, table, entry) of each such `lddw`.
    fn plan_data_bases(&mut self, insns: &[Decoded]) {
        let mut uses: BTreeMap<u32, (u32, bool)> = BTreeMap::new();
        for d in insns {
            if let Insn::LoadDataAddr { region, .. } = d.insn {
                let repeated = self.repeated(d.pc);
                let u = uses.entry(region).or_default();
                *u = (u.0 + 1, u.1 || repeated);
            }
        }
        for (region, (count, repeated)) in uses {
            if (count > 1 || repeated) && data_base_offset(region).is_some() {
                self.data_slots.insert(region, self.map.fixed + 4 * self.window_words);
                self.window_words += 1;
            }
        }
    }

    /// Copies the cached data region bases into their frame words; r0
    /// holds the context. Clobbers r1 and r2.
    fn copy_data_bases(&mut self) {
        if self.data_slots.is_empty() {
            return;
        }
        self.ldr(R::R1, R::R0, abi::OFF_DATA_BASES);
        let slots: Vec<(u32, u32)> = self.data_slots.iter().map(|(&r, &s)| (r, s)).collect();
        for (region, slot) in slots {
            // Only regions with an offset got a frame word.
            self.ldr(R::R2, R::R1, data_base_offset(region).unwrap_or(0));
            self.str(R::R2, R::SP, slot);
        }
    }

    /// The entry: saves, frame, eBPF registers, check windows, then a jump
    /// to pc 0 (dropped once the entry is moved in front of it). It is
    /// lowered last because only then the windows are known.
    fn prologue(&mut self) -> Result<(), CompileError> {
        self.asm.set_tag(u32::MAX);
        self.cur_pc = ENTRY_PC;
        self.hi_zero = 0;
        self.asm.bind(self.entry);
        self.e(I::Push { regs: SAVED | R::LR.bit() });
        self.e(I::SpAdjust { sub: true, imm: self.frame() });
        self.str(R::R0, R::SP, CTX);
        if let Some(slot) = self.budget_slot {
            self.ldr(R::R1, R::R0, abi::OFF_BUDGET_LEFT);
            self.str(R::R1, R::SP, slot);
        }
        // Before the eBPF registers and the budget register: the window
        // routine's calls clobber r1..r4.
        self.fill_windows();
        self.copy_data_bases();
        if self.map.frame_pointer {
            self.ldr(R::R11, R::R0, abi::OFF_STACK_TOP);
        }
        // Only the entry values some path reads.
        let read = crate::analysis::entry_values_read(self.prog);
        for (r, off) in [(EReg::R1, abi::OFF_R1), (EReg::R2, abi::OFF_R2)] {
            if read & r.bit() == 0 {
                continue;
            }
            let l = self.dlo(r, R::R1);
            self.ldr(l, R::R0, off);
            self.put_lo(r, l);
            if !self.low_def(r) {
                let h = self.dhi(r, R::R2);
                self.ldr(h, R::R0, off + 4);
                self.put_hi(r, h);
            }
        }
        // Registers the program has not written yet still reach helpers as
        // arguments (the verifier cannot know a helper's arity), so every
        // engine starts them at zero, as the interpreter does. No other
        // read of an unwritten register passes the verifier.
        let zeroed = read & (EReg::R3.bit() | EReg::R4.bit() | EReg::R5.bit());
        if zeroed != 0 {
            self.imm(R::R1, 0, true);
            self.imm(R::R2, 0, true);
            for r in [EReg::R3, EReg::R4, EReg::R5].into_iter().filter(|r| zeroed & r.bit() != 0) {
                self.store64(r, R::R1, R::R2);
            }
        }
        // Last: the budget may have r11, which held the stack top above.
        if let Some(b) = self.map.budget {
            self.ldr(b, R::R0, abi::OFF_BUDGET_LEFT);
        }
        let start = self.label_at(0)?;
        self.e(I::B { cond: None, target: start });
        Ok(())
    }

    fn insn(&mut self, pc: usize, insn: Insn, func: &FunctionInfo) -> Result<(), CompileError> {
        self.cur_pc = pc;
        match insn {
            Insn::Alu { width: Width::W64, op, dst, src } => self.alu64(pc, op, dst, src),
            Insn::Alu { width: Width::W32, op, dst, src } => self.alu32(pc, op, dst, src),
            Insn::Neg { width, dst } => {
                let lo = self.lo(dst, R::R0);
                let d = self.dlo(dst, R::R0);
                if width == Width::W32 {
                    self.e(I::DpImm { op: DpOp::Rsb, s: Any, rd: d, rn: lo, imm: 0 });
                    self.put_lo(dst, d);
                    self.zero_hi(dst);
                } else {
                    self.e(I::DpImm { op: DpOp::Rsb, s: Set, rd: d, rn: lo, imm: 0 });
                    self.put_lo(dst, d);
                    let hi = self.hi(dst, R::R1);
                    let dh = self.dhi(dst, R::R1);
                    self.e(I::MvnReg { s: Keep, rd: dh, rm: hi });
                    self.e(I::DpImm { op: DpOp::Adc, s: Keep, rd: dh, rn: dh, imm: 0 });
                    self.put_hi(dst, dh);
                }
                Ok(())
            }
            Insn::Endian { order, bits, dst } => {
                self.endian(order, bits, dst);
                Ok(())
            }
            Insn::LoadImm64 { dst, imm } => {
                let (l, h) = (self.dlo(dst, R::R0), self.dhi(dst, R::R1));
                self.imm(l, imm as u32, true);
                self.put_lo(dst, l);
                if !self.low_def(dst) {
                    self.imm(h, (imm >> 32) as u32, true);
                    self.put_hi(dst, h);
                }
                Ok(())
            }
            Insn::LoadDataAddr { dst, region, offset } => {
                // Device addresses are below 2^32, and the verifier keeps
                // the offset within the region, which ends below 2^32 (no
                // region holds 0xFFFF_FFFF): the upper half is zero and the
                // table entry's upper word need not be read.
                let slot = data_base_offset(region);
                let slot = slot.ok_or(mem_error(pc, "data region index too large"))?;
                let d = self.dlo(dst, R::R0);
                if let Some(&cached) = self.data_slots.get(&region) {
                    self.ldr(d, R::SP, cached);
                } else {
                    self.ctx(R::R0);
                    self.ldr(R::R0, R::R0, abi::OFF_DATA_BASES);
                    self.ldr(d, R::R0, slot);
                }
                if offset != 0 {
                    let k = i32::try_from(offset).map_err(|_| mem_error(pc, "data offset"))?;
                    self.add_imm(d, d, k, Any);
                }
                self.put_lo(dst, d);
                self.zero_hi(dst);
                Ok(())
            }
            Insn::Load { size, dst, src, off } => self.load(pc, size, false, dst, src, off, func),
            Insn::LoadSx { size, dst, src, off } => self.load(pc, size, true, dst, src, off, func),
            Insn::Store { size, dst, off, src } => self.store(pc, size, dst, off, src, func),
            Insn::Atomic { size, op, fetch, dst, src, off } => {
                let framed = Self::in_frame(func, dst, off, size);
                let proof = self.proven_atomics.get(&pc).copied();
                let proven = framed || proof.is_some();
                // r10 is a multiple of 8 (the stack's end is, and frames
                // are), so a frame offset decides the alignment; a data
                // offset does too (see `proven_atomics_with`).
                let aligned = (framed && i32::from(off).rem_euclid(size.bytes() as i32) == 0)
                    || proof == Some(true);
                self.atomic(pc, size, op, fetch, dst, src, off, proven, aligned)
            }
            Insn::Ja { off } => self.jump(pc, pc as i64 + 1 + i64::from(off)),
            Insn::JaLong { off } => self.jump(pc, pc as i64 + 1 + i64::from(off)),
            Insn::Jmp { width, cond, dst, src, off } => {
                let t = pc as i64 + 1 + i64::from(off);
                self.cond_jump(pc, width, cond, dst, src, t)
            }
            Insn::Call { id } => {
                self.helper(pc, id);
                Ok(())
            }
            Insn::CallLocal { off } => {
                let t = pc as i64 + 1 + i64::from(off);
                self.local_call(pc, t, func)
            }
            Insn::CallReg { .. } => Err(mem_error(pc, "callx is not supported")),
            Insn::Exit => {
                if func.start == 0 {
                    // Exits with the same kind of r0 (upper half zero or
                    // not) store it the same way: all but the first jump
                    // to the first one's sequence.
                    let narrow = self.low_use(EReg::R0);
                    if let Some(&(_, shared)) = self.exits.iter().find(|(n, _)| *n == narrow) {
                        self.e(I::B { cond: None, target: shared });
                        return Ok(());
                    }
                    let here = self.asm.label();
                    self.asm.bind(here);
                    self.exits.push((narrow, here));
                    self.exit_with(EReg::R0, false);
                } else {
                    self.callee_exit(func.start);
                }
                Ok(())
            }
        }
    }

    // ----- ALU -----

    fn alu64(&mut self, pc: usize, op: AluOp, dst: EReg, src: Source) -> Result<(), CompileError> {
        if self.low_def(dst) {
            if let Some(done) = self.alu64_narrow(pc, op, dst, src) {
                return done;
            }
        }
        let simple = match op {
            AluOp::Add => Some((DpOp::Add, DpOp::Adc)),
            AluOp::Sub => Some((DpOp::Sub, DpOp::Sbc)),
            AluOp::And => Some((DpOp::And, DpOp::And)),
            AluOp::Or => Some((DpOp::Orr, DpOp::Orr)),
            AluOp::Xor => Some((DpOp::Eor, DpOp::Eor)),
            _ => None,
        };
        if let Some((op_lo, op_hi)) = simple {
            let carry = matches!(op, AluOp::Add | AluOp::Sub);
            let s_lo = if carry { Set } else { Any };
            let s_hi = if carry { Keep } else { Any };
            // A zero upper half is made before the low word's flag-setting
            // operation, where a 16-bit MOVS may still set the flags.
            let zero_hi = carry && self.low_use(dst);
            if zero_hi {
                self.imm(R::R1, 0, true);
            }
            let a = self.lo(dst, R::R0);
            let d = self.dlo(dst, R::R0);
            match src {
                Source::Reg(s) => {
                    let b = self.lo(s, R::R2);
                    self.e(dp(op_lo, s_lo, d, a, b));
                }
                Source::Imm(k) => self.dp_imm(op_lo, s_lo, d, a, k as u32, carry),
            }
            self.put_lo(dst, d);
            let a = if zero_hi { R::R1 } else { self.hi(dst, R::R1) };
            let d = self.dhi(dst, R::R1);
            // A narrow source register has a zero upper half, like a
            // non-negative constant.
            let src = match src {
                Source::Reg(s) if self.low_use(s) => Source::Imm(0),
                src => src,
            };
            match src {
                Source::Reg(s) => {
                    let b = self.hi(s, R::R3);
                    self.e(dp(op_hi, s_hi, d, a, b));
                }
                Source::Imm(k) => {
                    let v = (k >> 31) as u32;
                    match (op, v) {
                        (AluOp::Or | AluOp::Xor, 0) | (AluOp::And, u32::MAX) => {
                            self.mov(d, a);
                        }
                        _ => self.dp_imm(op_hi, s_hi, d, a, v, carry),
                    }
                }
            }
            self.put_hi(dst, d);
            return Ok(());
        }
        match op {
            AluOp::Mov => {
                // A narrow destination only ever receives narrow values:
                // no upper half to move.
                let narrow = self.low_def(dst);
                match src {
                    Source::Reg(s) => {
                        // Straight from the source's home to the destination's.
                        let d = self.dlo(dst, R::R0);
                        let l = self.lo(s, d);
                        self.put_lo(dst, l);
                        if narrow {
                        } else if self.low_use(s) {
                            self.zero_hi(dst);
                        } else {
                            let d = self.dhi(dst, R::R1);
                            let h = self.hi(s, d);
                            self.put_hi(dst, h);
                        }
                    }
                    Source::Imm(k) => {
                        let (l, h) = (self.dlo(dst, R::R0), self.dhi(dst, R::R1));
                        self.imm(l, k as u32, true);
                        self.put_lo(dst, l);
                        if !narrow {
                            self.imm(h, (k >> 31) as u32, true);
                            self.put_hi(dst, h);
                        }
                    }
                }
                Ok(())
            }
            AluOp::MovSx(bits) => {
                let Source::Reg(s) = src else { return Err(mem_error(pc, "movsx immediate")) };
                let d = self.dlo(dst, R::R0);
                let l = self.lo(s, R::R0);
                match bits {
                    8 => self.e(I::Unary { op: UnOp::Sxtb, rd: d, rm: l }),
                    16 => self.e(I::Unary { op: UnOp::Sxth, rd: d, rm: l }),
                    _ => self.mov(d, l),
                }
                self.put_lo(dst, d);
                let h = self.dhi(dst, R::R1);
                self.e(I::ShiftImm { kind: Shift::Asr, s: Any, rd: h, rm: d, amount: 31 });
                self.put_hi(dst, h);
                Ok(())
            }
            AluOp::Mul => {
                // lo(a*b) = lo(al*bl); hi = hi(al*bl) + al*bh + ah*bl (a
                // zero upper half drops its product).
                let al = self.lo(dst, R::R0);
                let ah = (!self.low_use(dst)).then(|| self.hi(dst, R::R1));
                let (bl, bh) = match src {
                    Source::Reg(s) if self.low_use(s) => (self.lo(s, R::R2), None),
                    Source::Reg(s) => (self.lo(s, R::R2), Some(self.hi(s, R::R3))),
                    Source::Imm(k) => {
                        self.imm(R::R2, k as u32, true);
                        if k < 0 {
                            self.imm(R::R3, u32::MAX, true);
                        }
                        (R::R2, (k < 0).then_some(R::R3))
                    }
                };
                self.e(I::Umull { rdlo: R::R12, rdhi: R::LR, rn: al, rm: bl });
                if let Some(bh) = bh {
                    self.e(I::Mla { sub: false, rd: R::LR, rn: al, rm: bh, ra: R::LR });
                }
                if let Some(ah) = ah {
                    self.e(I::Mla { sub: false, rd: R::LR, rn: ah, rm: bl, ra: R::LR });
                }
                self.store64(dst, R::R12, R::LR);
                Ok(())
            }
            AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod => {
                let routine = match op {
                    AluOp::Div => routine_offset::UDIV64,
                    AluOp::SDiv => routine_offset::SDIV64,
                    AluOp::Mod => routine_offset::UMOD64,
                    _ => routine_offset::SMOD64,
                };
                self.load64(dst, R::R0, R::R1);
                self.load_src64(src, R::R2, R::R3);
                self.call_routine(routine);
                self.store64(dst, R::R0, R::R1);
                Ok(())
            }
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => {
                // In place when the halves live in core registers.
                let (lo, hi) = (self.dlo(dst, R::R0), self.dhi(dst, R::R1));
                let k = match src {
                    Source::Imm(k) => (k & 63) as u8,
                    Source::Reg(_) => 0,
                };
                if op == AluOp::Lsh && (1..32).contains(&k) && self.low_use(dst) {
                    // A zero upper half: the new one is the bits shifted
                    // out of the low word, two shifts in all.
                    let l = self.lo(dst, lo);
                    self.e(I::ShiftImm { kind: Shift::Lsr, s: Any, rd: hi, rm: l, amount: 32 - k });
                    self.e(I::ShiftImm { kind: Shift::Lsl, s: Any, rd: lo, rm: l, amount: k });
                    self.store64(dst, lo, hi);
                    return Ok(());
                }
                if k >= 32 {
                    // One half of the source makes the whole result.
                    self.shift64_by_32_or_more(op, k, dst, lo, hi);
                    self.store64(dst, lo, hi);
                    return Ok(());
                }
                let l = self.lo(dst, lo);
                self.mov(lo, l);
                let h = self.hi(dst, hi);
                self.mov(hi, h);
                match src {
                    Source::Imm(_) => self.shift64_imm(op, k, lo, hi),
                    Source::Reg(s) => {
                        let n = self.lo(s, R::R2);
                        self.e(I::DpImm { op: DpOp::And, s: Any, rd: R::R2, rn: n, imm: 63 });
                        self.shift64_reg(op, lo, hi);
                    }
                }
                self.store64(dst, lo, hi);
                Ok(())
            }
            _ => Err(mem_error(pc, "ALU operation")),
        }
    }

    /// A 64-bit operation on a narrow destination done on low words, where
    /// that gives the same result (the analysis guarantees the result is
    /// narrow; see [`crate::analysis::zext`] and [`crate::analysis::ranges`]).
    fn alu64_narrow(
        &mut self,
        pc: usize,
        op: AluOp,
        dst: EReg,
        src: Source,
    ) -> Option<Result<(), CompileError>> {
        let src_narrow = match src {
            Source::Reg(s) => self.low_use(s),
            Source::Imm(k) => k >= 0,
        };
        let dst_narrow = self.low_use(dst);
        match op {
            // The low word of a sum, difference or product depends only on
            // the operands' low words.
            AluOp::And | AluOp::Or | AluOp::Xor | AluOp::Add | AluOp::Sub | AluOp::Mul => {
                Some(self.alu32(pc, op, dst, src))
            }
            AluOp::Lsh => Some(self.shift_low_word(Shift::Lsl, dst, src)),
            // Non-negative operands: signed division is unsigned division.
            // The dividend and the shifted value need all their bits: only
            // when the value read is narrow too (its web may be wide even
            // though the result's is not).
            AluOp::Div | AluOp::SDiv if src_narrow && dst_narrow => {
                Some(self.alu32(pc, AluOp::Div, dst, src))
            }
            AluOp::Mod | AluOp::SMod if src_narrow && dst_narrow => {
                Some(self.alu32(pc, AluOp::Mod, dst, src))
            }
            // A narrow value is non-negative: arithmetic shift = logical.
            AluOp::Rsh | AluOp::Arsh if dst_narrow => {
                Some(self.shift_low_word(Shift::Lsr, dst, src))
            }
            _ => None,
        }
    }

    /// The register holding shift amount `s` masked with `mask` (31 or
    /// 63): `s` itself where the range analysis bounds it by the mask,
    /// else r2.
    fn shift_amount(&mut self, s: EReg, mask: u32) -> Reg {
        let n = self.lo(s, R::R2);
        let fits = self.ranges.get(&self.cur_pc).is_some_and(|r| r[s.index()].hi <= mask.into());
        if !fits {
            self.e(I::DpImm { op: DpOp::And, s: Any, rd: R::R2, rn: n, imm: mask });
            return R::R2;
        }
        n
    }

    /// A 64-bit shift (`kind` LSL or LSR) of a register kept as a low word,
    /// by an amount taken mod 64: amounts 32..63 give 0 in the low word
    /// (LSL/LSR by register take the amount's low byte, so they do too).
    fn shift_low_word(&mut self, kind: Shift, dst: EReg, src: Source) -> Result<(), CompileError> {
        let d = self.dlo(dst, R::R0);
        let a = self.lo(dst, R::R0);
        match src {
            Source::Imm(k) if k & 63 >= 32 => self.imm(d, 0, true),
            Source::Imm(k) if k & 63 == 0 => self.mov(d, a),
            Source::Imm(k) => {
                let amount = (k & 31) as u8;
                self.e(I::ShiftImm { kind, s: Any, rd: d, rm: a, amount });
            }
            Source::Reg(s) => {
                let n = self.shift_amount(s, 63);
                self.e(I::ShiftReg { kind, s: Any, rd: d, rn: a, rm: n });
            }
        }
        self.put_lo(dst, d);
        Ok(())
    }

    /// `d = a op k`, materialising `k` when no immediate form takes it.
    fn dp_imm(&mut self, op: DpOp, s: SetFlags, d: Reg, a: Reg, k: u32, flags_live: bool) {
        let alt = match op {
            DpOp::Add => Some((DpOp::Sub, k.wrapping_neg())),
            DpOp::Sub => Some((DpOp::Add, k.wrapping_neg())),
            DpOp::And => Some((DpOp::Bic, !k)),
            DpOp::Orr => Some((DpOp::Orn, !k)),
            DpOp::Adc => Some((DpOp::Sbc, !k)),
            DpOp::Sbc => Some((DpOp::Adc, !k)),
            _ => None,
        };
        let fits = |v: u32| {
            super::encode::modified_imm(v).is_some() || (d.is_low() && a.is_low() && v < 8)
        };
        if fits(k) {
            self.e(I::DpImm { op, s, rd: d, rn: a, imm: k });
        } else if let Some((op2, k2)) =
            alt.filter(|&(o, v)| fits(v) && !(matches!(o, DpOp::Add | DpOp::Sub) && k == 0))
        {
            self.e(I::DpImm { op: op2, s, rd: d, rn: a, imm: k2 });
        } else if let Some((first, second, n)) =
            Self::mask_as_shifts(k).filter(|_| op == DpOp::And && s == Any && !flags_live)
        {
            // Clearing the low or high bits: two shifts (16-bit encodings
            // for low registers) instead of MOVW/MOVT and an AND.
            self.e(I::ShiftImm { kind: first, s: Any, rd: d, rm: a, amount: n });
            self.e(I::ShiftImm { kind: second, s: Any, rd: d, rm: d, amount: n });
        } else {
            let tmp = if a == R::R12 || d == R::R12 { R::LR } else { R::R12 };
            self.imm(tmp, k, !flags_live);
            self.e(dp(op, s, d, a, tmp));
        }
    }

    /// An AND mask that keeps only the high or only the low bits, as the
    /// two shifts that apply it and their amount: high bits kept are
    /// `x >> n << n`, low bits kept `x << n >> n`.
    fn mask_as_shifts(k: u32) -> Option<(Shift, Shift, u8)> {
        let clear_low = (!k).trailing_ones();
        let keep_low = k.trailing_ones();
        if (1..32).contains(&clear_low) && k == u32::MAX << clear_low {
            Some((Shift::Lsr, Shift::Lsl, clear_low as u8))
        } else if (1..32).contains(&keep_low) && k == u32::MAX >> (32 - keep_low) {
            Some((Shift::Lsl, Shift::Lsr, (32 - keep_low) as u8))
        } else {
            None
        }
    }

    /// `lo:hi` = `src` shifted by `k` (32..=63): only the half that is
    /// shifted into the other is read.
    fn shift64_by_32_or_more(&mut self, op: AluOp, k: u8, src: EReg, lo: Reg, hi: Reg) {
        let sh = |kind, rd, rm, amount| I::ShiftImm { kind, s: Any, rd, rm, amount };
        let (from, to, kind) = match op {
            AluOp::Lsh => (self.lo(src, lo), hi, Shift::Lsl),
            AluOp::Rsh => (self.hi(src, hi), lo, Shift::Lsr),
            _ => (self.hi(src, hi), lo, Shift::Asr),
        };
        if k == 32 {
            self.mov(to, from);
        } else {
            self.e(sh(kind, to, from, k - 32));
        }
        match op {
            AluOp::Lsh => self.imm(lo, 0, true),
            AluOp::Rsh => self.imm(hi, 0, true),
            _ => self.e(sh(Shift::Asr, hi, from, 31)),
        }
    }

    /// `hi:lo` shifted by `k` (0..=31), in place; shifts by 32 or more
    /// go through [`Lowerer::shift64_by_32_or_more`].
    fn shift64_imm(&mut self, op: AluOp, k: u8, lo: Reg, hi: Reg) {
        if k == 0 {
            return;
        }
        debug_assert!(k < 32, "shift by {k}");
        let sh = |kind, rd, rm, amount| I::ShiftImm { kind, s: Any, rd, rm, amount };
        let orr = |rd, rn, rm, shift, amount| I::DpReg {
            op: DpOp::Orr,
            s: Any,
            rd,
            rn,
            rm,
            shift,
            amount,
        };
        if op == AluOp::Lsh {
            self.e(sh(Shift::Lsl, hi, hi, k));
            self.e(orr(hi, hi, lo, Shift::Lsr, 32 - k));
            self.e(sh(Shift::Lsl, lo, lo, k));
        } else {
            self.e(sh(Shift::Lsr, lo, lo, k));
            self.e(orr(lo, lo, hi, Shift::Lsl, 32 - k));
            let kind = if op == AluOp::Arsh { Shift::Asr } else { Shift::Lsr };
            self.e(sh(kind, hi, hi, k));
        }
    }

    /// `hi:lo` shifted by r2 (0..=63) in place; r3 is scratch.
    fn shift64_reg(&mut self, op: AluOp, lo: Reg, hi: Reg) {
        let big = self.asm.label();
        let done = self.asm.label();
        let (n, t) = (R::R2, R::R3);
        let shr = |kind, rd, rn, rm| I::ShiftReg { kind, s: Any, rd, rn, rm };
        self.e(I::DpImm { op: DpOp::Sub, s: Set, rd: t, rn: n, imm: 32 });
        self.e(I::B { cond: Some(Cond::Pl), target: big });
        self.e(I::DpImm { op: DpOp::Rsb, s: Any, rd: t, rn: n, imm: 32 });
        let orr = |rd, rm| dp(DpOp::Orr, Any, rd, rd, rm);
        match op {
            AluOp::Lsh => {
                self.e(shr(Shift::Lsr, t, lo, t));
                self.e(shr(Shift::Lsl, hi, hi, n));
                self.e(orr(hi, t));
                self.e(shr(Shift::Lsl, lo, lo, n));
            }
            _ => {
                self.e(shr(Shift::Lsl, t, hi, t));
                self.e(shr(Shift::Lsr, lo, lo, n));
                self.e(orr(lo, t));
                let kind = if op == AluOp::Arsh { Shift::Asr } else { Shift::Lsr };
                self.e(shr(kind, hi, hi, n));
            }
        }
        self.e(I::B { cond: None, target: done });
        self.asm.bind(big);
        match op {
            AluOp::Lsh => {
                self.e(shr(Shift::Lsl, hi, lo, t));
                self.imm(lo, 0, true);
            }
            AluOp::Rsh => {
                self.e(shr(Shift::Lsr, lo, hi, t));
                self.imm(hi, 0, true);
            }
            _ => {
                self.e(shr(Shift::Asr, lo, hi, t));
                self.e(I::ShiftImm { kind: Shift::Asr, s: Any, rd: hi, rm: hi, amount: 31 });
            }
        }
        self.asm.bind(done);
    }

    fn alu32(&mut self, pc: usize, op: AluOp, dst: EReg, src: Source) -> Result<(), CompileError> {
        let d = self.dlo(dst, R::R0);
        let simple = match op {
            AluOp::Add => Some(DpOp::Add),
            AluOp::Sub => Some(DpOp::Sub),
            AluOp::And => Some(DpOp::And),
            AluOp::Or => Some(DpOp::Orr),
            AluOp::Xor => Some(DpOp::Eor),
            _ => None,
        };
        match (op, src) {
            (_, _) if simple.is_some() => {
                let o = simple.unwrap_or(DpOp::Add);
                let a = self.lo(dst, R::R0);
                // Flags for the `jeq`/`jne` after it (add and sub only: the
                // and-forms below may become UXTB/UXTH, which set none).
                let flags =
                    if self.flags_wanted && matches!(o, DpOp::Add | DpOp::Sub) { Set } else { Any };
                match src {
                    Source::Reg(s) => {
                        let b = self.lo(s, R::R2);
                        self.e(dp(o, flags, d, a, b));
                    }
                    Source::Imm(0xff) if op == AluOp::And => {
                        self.e(I::Unary { op: UnOp::Uxtb, rd: d, rm: a });
                    }
                    Source::Imm(0xffff) if op == AluOp::And => {
                        self.e(I::Unary { op: UnOp::Uxth, rd: d, rm: a });
                    }
                    Source::Imm(k) => self.dp_imm(o, flags, d, a, k as u32, false),
                }
                if flags == Set {
                    // Z now reflects the result, unless storing it to its
                    // home or clearing the upper half writes the flags
                    // (`e` then forgets it).
                    self.zero_flag_of = Some(dst);
                    self.zero_flag_set = true;
                    self.put_lo(dst, d);
                    self.zero_hi(dst);
                    return Ok(());
                }
            }
            (AluOp::Mov, Source::Reg(s)) => {
                // Straight from the source's home to the destination's.
                let l = self.lo(s, d);
                self.put_lo(dst, l);
                self.zero_hi(dst);
                return Ok(());
            }
            (AluOp::Mov, Source::Imm(k)) => self.imm(d, k as u32, true),
            (AluOp::MovSx(bits), Source::Reg(s)) => {
                let l = self.lo(s, R::R0);
                let u = if bits == 8 { UnOp::Sxtb } else { UnOp::Sxth };
                self.e(I::Unary { op: u, rd: d, rm: l });
            }
            (AluOp::Mul, _) => {
                let a = self.lo(dst, R::R0);
                let b = self.src_lo(src, R::R2);
                self.e(I::Mul { s: Any, rd: d, rn: a, rm: b });
            }
            (AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod, _) => {
                let a = self.lo(dst, R::R0);
                let b = self.src_lo(src, R::R2);
                self.features |= Features::HW_DIVIDE;
                let signed = matches!(op, AluOp::SDiv | AluOp::SMod);
                let is_mod = matches!(op, AluOp::Mod | AluOp::SMod);
                let zero = self.asm.label();
                let done = self.asm.label();
                let known_nonzero = matches!(src, Source::Imm(k) if k != 0);
                if matches!(src, Source::Imm(0)) {
                    if is_mod {
                        self.mov(d, a);
                    } else {
                        self.imm(d, 0, true);
                    }
                } else {
                    if !known_nonzero {
                        self.e(I::CmpImm { kind: Compare::Cmp, rn: b, imm: 0 });
                        self.e(I::B { cond: Some(Cond::Eq), target: zero });
                    }
                    if is_mod {
                        self.e(I::Div { signed, rd: R::R3, rn: a, rm: b });
                        self.e(I::Mla { sub: true, rd: d, rn: R::R3, rm: b, ra: a });
                    } else {
                        self.e(I::Div { signed, rd: d, rn: a, rm: b });
                    }
                    if !known_nonzero {
                        self.e(I::B { cond: None, target: done });
                        self.asm.bind(zero);
                        if is_mod {
                            self.mov(d, a);
                        } else {
                            self.imm(d, 0, true);
                        }
                        self.asm.bind(done);
                    }
                }
            }
            (AluOp::Lsh | AluOp::Rsh | AluOp::Arsh, _) => {
                let kind = match op {
                    AluOp::Lsh => Shift::Lsl,
                    AluOp::Rsh => Shift::Lsr,
                    _ => Shift::Asr,
                };
                let a = self.lo(dst, R::R0);
                match src {
                    Source::Imm(k) => {
                        let k = (k & 31) as u8;
                        if k == 0 {
                            self.mov(d, a);
                        } else {
                            self.e(I::ShiftImm { kind, s: Any, rd: d, rm: a, amount: k });
                        }
                    }
                    Source::Reg(s) => {
                        let n = self.shift_amount(s, 31);
                        self.e(I::ShiftReg { kind, s: Any, rd: d, rn: a, rm: n });
                    }
                }
            }
            _ => return Err(mem_error(pc, "ALU32 operation")),
        }
        self.put_lo(dst, d);
        self.zero_hi(dst);
        Ok(())
    }

    fn src_lo(&mut self, src: Source, tmp: Reg) -> Reg {
        match src {
            Source::Reg(s) => self.lo(s, tmp),
            Source::Imm(k) => {
                self.imm(tmp, k as u32, true);
                tmp
            }
        }
    }

    fn endian(&mut self, order: ByteOrder, bits: u8, dst: EReg) {
        let d = self.dlo(dst, R::R0);
        match (order, bits) {
            // A no-op, except that the value may leave a low-word web for
            // a web that keeps its upper half (zero: the value fits).
            (ByteOrder::ToLe, 64) => {
                if self.low_use(dst) && !self.low_def(dst) {
                    self.zero_hi(dst);
                }
            }
            (ByteOrder::ToLe, _) => {
                let a = self.lo(dst, R::R0);
                if bits == 16 {
                    self.e(I::Unary { op: UnOp::Uxth, rd: d, rm: a });
                } else {
                    self.mov(d, a);
                }
                self.put_lo(dst, d);
                self.zero_hi(dst);
            }
            (_, 16) => {
                let a = self.lo(dst, R::R0);
                self.e(I::Unary { op: UnOp::Rev16, rd: d, rm: a });
                self.e(I::Unary { op: UnOp::Uxth, rd: d, rm: d });
                self.put_lo(dst, d);
                self.zero_hi(dst);
            }
            (_, 32) => {
                let a = self.lo(dst, R::R0);
                self.e(I::Unary { op: UnOp::Rev, rd: d, rm: a });
                self.put_lo(dst, d);
                self.zero_hi(dst);
            }
            _ => {
                self.load64(dst, R::R0, R::R1);
                self.e(I::Unary { op: UnOp::Rev, rd: R::R2, rm: R::R1 });
                self.e(I::Unary { op: UnOp::Rev, rd: R::R3, rm: R::R0 });
                self.store64(dst, R::R2, R::R3);
            }
        }
    }

    // ----- jumps -----

    fn jump(&mut self, pc: usize, target: i64) -> Result<(), CompileError> {
        let t = usize::try_from(target).map_err(|_| mem_error(pc, "jump target"))?;
        let label = self.jump_label(t)?;
        if t <= pc {
            self.budget_then_jump(pc as u32, label);
        } else {
            self.e(I::B { cond: None, target: label });
        }
        Ok(())
    }

    fn cond_jump(
        &mut self,
        pc: usize,
        width: Width,
        cond: JmpCond,
        dst: EReg,
        src: Source,
        target: i64,
    ) -> Result<(), CompileError> {
        let t = usize::try_from(target).map_err(|_| mem_error(pc, "jump target"))?;
        let target_label = self.jump_label(t)?;
        let backward = t <= pc;
        // Two narrow operands compare like their low words, and being
        // non-negative, signed like unsigned.
        let src_narrow = match src {
            Source::Reg(s) => self.low_use(s),
            Source::Imm(k) => k >= 0,
        };
        let narrow64 = width == Width::W64 && self.low_use(dst) && src_narrow;
        if width == Width::W32 || narrow64 {
            let a = self.lo(dst, R::R0);
            let flags_ready = self.zero_flag_of == Some(dst)
                && matches!(cond, JmpCond::Eq | JmpCond::Ne)
                && src == Source::Imm(0);
            match (cond, src) {
                _ if flags_ready => {}
                (JmpCond::Set, _) => {
                    let b = self.src_lo(src, R::R2);
                    self.e(I::CmpReg { kind: Compare::Tst, rn: a, rm: b });
                }
                (_, Source::Imm(k)) => self.cmp_imm(a, k as u32),
                (_, Source::Reg(s)) => {
                    let b = self.lo(s, R::R2);
                    self.e(I::CmpReg { kind: Compare::Cmp, rn: a, rm: b });
                }
            }
            let cc = match cond {
                JmpCond::Eq => Cond::Eq,
                JmpCond::Ne | JmpCond::Set => Cond::Ne,
                JmpCond::Gt => Cond::Hi,
                JmpCond::Ge => Cond::Hs,
                JmpCond::Lt => Cond::Lo,
                JmpCond::Le => Cond::Ls,
                JmpCond::Sgt if narrow64 => Cond::Hi,
                JmpCond::Sge if narrow64 => Cond::Hs,
                JmpCond::Slt if narrow64 => Cond::Lo,
                JmpCond::Sle if narrow64 => Cond::Ls,
                JmpCond::Sgt => Cond::Gt,
                JmpCond::Sge => Cond::Ge,
                JmpCond::Slt => Cond::Lt,
                JmpCond::Sle => Cond::Le,
            };
            if backward {
                // Skip unless taken, then the budget and the jump.
                let skip = self.asm.label();
                self.e(I::B { cond: Some(cc.invert()), target: skip });
                self.budget_then_jump(pc as u32, target_label);
                self.asm.bind(skip);
            } else {
                self.e(I::B { cond: Some(cc), target: target_label });
            }
            return Ok(());
        }
        // Multi-branch compares: a taken backward jump goes out of line
        // for its budget.
        let mut label = target_label;
        if backward {
            let entry = self.asm.label();
            self.cold.push(Cold::BackEdge { entry, pc: pc as u32, target: label });
            label = entry;
        }
        let c = |c: Cond| I::B { cond: Some(c), target: label };
        if let (JmpCond::Eq | JmpCond::Ne, Source::Imm(k)) = (cond, src) {
            let al = self.lo(dst, R::R0);
            let ah = self.hi(dst, R::R1);
            let cc = if cond == JmpCond::Eq { Cond::Eq } else { Cond::Ne };
            if k == 0 {
                self.e(dp(DpOp::Orr, Set, R::R12, al, ah));
                self.e(c(cc));
                return Ok(());
            }
            let skip = self.asm.label();
            self.cmp_imm(al, k as u32);
            if cond == JmpCond::Eq {
                self.e(I::B { cond: Some(Cond::Ne), target: skip });
            } else {
                self.e(c(Cond::Ne));
            }
            self.cmp_imm(ah, (k >> 31) as u32);
            self.e(c(cc));
            self.asm.bind(skip);
            return Ok(());
        }
        let against = match src {
            Source::Imm(k) => ordered_against_constant(cond, k),
            Source::Reg(_) => None,
        };
        if let Some((cc, k)) = against {
            // CMP (or CMN) low, SBCS high against the constant's high word
            // (0 or all ones: both immediates).
            let al = self.lo(dst, R::R0);
            let ah = self.hi(dst, R::R1);
            self.cmp_imm(al, k as u32);
            let imm = (k >> 32) as u32;
            self.e(I::DpImm { op: DpOp::Sbc, s: Set, rd: R::R12, rn: ah, imm });
            self.e(c(cc));
            return Ok(());
        }
        if let (Source::Reg(s), Some(cc)) = (src, ordered_cond(cond)) {
            if self.low_use(s) {
                // CMP low, SBCS high against the source's zero upper half.
                let al = self.lo(dst, R::R0);
                let ah = self.hi(dst, R::R1);
                let bl = self.lo(s, R::R2);
                self.e(I::CmpReg { kind: Compare::Cmp, rn: al, rm: bl });
                self.e(I::DpImm { op: DpOp::Sbc, s: Set, rd: R::R12, rn: ah, imm: 0 });
                self.e(c(cc));
                return Ok(());
            }
        }
        // 64-bit: operands in r1:r0 (dst) and r3:r2 (src).
        let al = self.lo(dst, R::R0);
        let ah = self.hi(dst, R::R1);
        let (bl, bh) = match src {
            Source::Reg(s) => {
                let l = self.lo(s, R::R2);
                (l, self.hi(s, R::R3))
            }
            Source::Imm(k) => {
                self.imm(R::R2, k as u32, true);
                self.imm(R::R3, (k >> 31) as u32, true);
                (R::R2, R::R3)
            }
        };
        let cmp = |rn, rm| I::CmpReg { kind: Compare::Cmp, rn, rm };
        match cond {
            JmpCond::Eq => {
                let skip = self.asm.label();
                self.e(cmp(al, bl));
                self.e(I::B { cond: Some(Cond::Ne), target: skip });
                self.e(cmp(ah, bh));
                self.e(c(Cond::Eq));
                self.asm.bind(skip);
            }
            JmpCond::Ne => {
                self.e(cmp(al, bl));
                self.e(c(Cond::Ne));
                self.e(cmp(ah, bh));
                self.e(c(Cond::Ne));
            }
            JmpCond::Set => {
                self.e(I::CmpReg { kind: Compare::Tst, rn: al, rm: bl });
                self.e(c(Cond::Ne));
                self.e(I::CmpReg { kind: Compare::Tst, rn: ah, rm: bh });
                self.e(c(Cond::Ne));
            }
            _ => {
                // A full 64-bit compare: CMP low, SBCS high (into r12).
                let (swap, cc) = match cond {
                    JmpCond::Lt => (false, Cond::Lo),
                    JmpCond::Ge => (false, Cond::Hs),
                    JmpCond::Gt => (true, Cond::Lo),
                    JmpCond::Le => (true, Cond::Hs),
                    JmpCond::Slt => (false, Cond::Lt),
                    JmpCond::Sge => (false, Cond::Ge),
                    JmpCond::Sgt => (true, Cond::Lt),
                    _ => (true, Cond::Ge),
                };
                let (xl, xh, yl, yh) = if swap { (bl, bh, al, ah) } else { (al, ah, bl, bh) };
                self.e(cmp(xl, yl));
                self.e(dp(DpOp::Sbc, Set, R::R12, xh, yh));
                self.e(c(cc));
            }
        }
        Ok(())
    }

    fn cmp_imm(&mut self, a: Reg, k: u32) {
        if super::encode::modified_imm(k).is_some() {
            self.e(I::CmpImm { kind: Compare::Cmp, rn: a, imm: k });
        } else if super::encode::modified_imm(k.wrapping_neg()).is_some() {
            self.e(I::CmpImm { kind: Compare::Cmn, rn: a, imm: k.wrapping_neg() });
        } else {
            self.imm(R::R2, k, true);
            self.e(I::CmpReg { kind: Compare::Cmp, rn: a, rm: R::R2 });
        }
    }

    // ----- memory -----

    /// True if `[r10 + off, +size)` lies in the function's verified frame.
    fn in_frame(func: &FunctionInfo, base: EReg, off: i16, size: MemSize) -> bool {
        base == EReg::R10
            && func.frame_tracked
            && i32::from(off) >= -(func.frame_size as i32)
            && i32::from(off) + size.bytes() as i32 <= 0
    }

    /// True if a load of `[base + off, +size)` is proven inside the
    /// context: `base` is r1, which the program never writes (so it is the
    /// context address everywhere), and every engine refuses a context
    /// shorter than `min_ctx_len`. Stores still get checked: a hook's
    /// context may be read-only.
    fn in_context(&self, base: EReg, off: i16, size: MemSize) -> bool {
        base == EReg::R1
            && self.unwritten & EReg::R1.bit() != 0
            && off >= 0
            && off as u32 + size.bytes() <= self.prog.min_ctx_len
            && off < 4088
    }

    /// Computes and checks the address `base + off` for an access of
    /// `size` bytes. Returns the register and displacement to use.
    #[allow(clippy::too_many_arguments)]
    fn address(
        &mut self,
        pc: usize,
        func: &FunctionInfo,
        base: EReg,
        off: i16,
        size: MemSize,
        write: bool,
    ) -> (Reg, i32) {
        if Self::in_frame(func, base, off, size) {
            if off >= -255 {
                return (R::R11, i32::from(off));
            }
            self.add_imm(R::R2, R::R11, i32::from(off), Any);
            return (R::R2, 0);
        }
        if !write && self.in_context(base, off, size) {
            let b = self.lo(base, R::R2);
            return (b, i32::from(off));
        }
        if self.unchecked_sites.contains(&pc)
            || (self.proven_data.contains(&pc) && (-255..=4087).contains(&off))
        {
            // Checked for the whole loop before it started.
            let b = self.lo(base, R::R12);
            return (b, i32::from(off));
        }
        let group = if write { None } else { self.groups.get(&pc).cloned() };
        if let Some(members) = group {
            // Window counts exist for powers of two; checking a wider span
            // only sends more runs to the exact slow path.
            let (start, span) = groups::span(&members);
            self.checked_address(
                pc,
                base,
                start as i16,
                span.next_power_of_two(),
                false,
                Some(base),
            );
        } else if write || !self.covered.contains(&pc) {
            let addr = self.checked_address(pc, base, off, size.bytes(), write, None);
            return (addr, 0);
        }
        // Checked with its group: the whole span lies in one region below
        // 2^32, so the low word plus the offset is the address.
        let b = self.lo(base, R::R12);
        (b, i32::from(off))
    }

    /// Emits the check of `[base + off, +size)` and returns the register
    /// holding the address (its upper half is then zero). For a group's
    /// leader, `group` makes the slow path check each member instead.
    ///
    /// The check: the upper half of the address must be zero (a narrow
    /// base only needs the carry of `+ off`), and the low word must lie
    /// at an offset from the window's start below its count for `size`; anything else
    /// goes to the slow path, which searches the whole region table.
    fn checked_address(
        &mut self,
        pc: usize,
        base: EReg,
        off: i16,
        size: u32,
        write: bool,
        group: Option<EReg>,
    ) -> Reg {
        // In a counted loop's checked copy, a checker for a pair costs more
        // than the inline check unless the code is built for size.
        let pair_in_copy = self.cold_copy && !self.low_use(base) && self.goal == Goal::Speed;
        if group.is_none() && self.wants_compact_check(pc) && !pair_in_copy {
            return self.compact_check(pc, base, off, size, write);
        }
        let entry = self.asm.label();
        let lo = self.lo(base, R::R2);
        let (addr, carry, hi) = if self.low_use(base) {
            if off == 0 {
                (lo, None, None)
            } else {
                let carry = self.asm.label();
                self.add_imm(R::R2, lo, i32::from(off), Set);
                // Carry out of an add, or borrow (carry clear) out of a
                // subtract: the address left the low 4 GiB.
                let (cond, hi) = if off > 0 { (Cond::Hs, 1) } else { (Cond::Lo, u32::MAX) };
                self.e(I::B { cond: Some(cond), target: carry });
                (R::R2, Some((carry, hi)), None)
            }
        } else if off == 0 {
            let hi = self.hi(base, R::R3);
            self.e(I::CmpImm { kind: Compare::Cmp, rn: hi, imm: 0 });
            self.e(I::B { cond: Some(Cond::Ne), target: entry });
            (lo, None, Some(hi))
        } else {
            self.add_imm(R::R2, lo, i32::from(off), Set);
            let hi = self.hi(base, R::R3);
            let ext = if off < 0 { u32::MAX } else { 0 };
            self.e(I::DpImm { op: DpOp::Adc, s: Set, rd: R::R3, rn: hi, imm: ext });
            self.e(I::B { cond: Some(Cond::Ne), target: entry });
            (R::R2, None, Some(R::R3))
        };
        let region = self.target(pc, base);
        let site =
            CheckSite { entry, carry, addr, hi, pc: pc as u32, size, write, resume: entry, group };
        self.window_check(site, region);
        addr
    }

    /// The likeliest region for an access at `pc` through `base`: the
    /// stack for r10, else what [`Lowerer::plan_checks`] guessed, else the
    /// context.
    fn target(&self, pc: usize, base: EReg) -> Target {
        match self.hints.get(&pc) {
            _ if base == EReg::R10 => Target::Entry(0),
            Some(Region::Stack) => Target::Entry(0),
            Some(&Region::Data(n)) => Target::Data(n),
            Some(Region::Ctx) | None => Target::Entry(1),
        }
    }

    /// `r3:r2 = base + off`, 64-bit.
    fn address64(&mut self, base: EReg, off: i16) {
        if self.low_use(base) {
            // The upper half is the carry out of the low word (minus one
            // for a negative offset): MOVS, ADCS/SBCS r3, r3 take 16 bits
            // each where out-of-line code may clobber the flags.
            self.imm(R::R3, 0, true);
            let lo = self.lo(base, R::R2);
            self.add_imm(R::R2, lo, i32::from(off), Set);
            let op = if off < 0 { DpOp::Sbc } else { DpOp::Adc };
            self.e(dp(op, Any, R::R3, R::R3, R::R3));
            return;
        }
        let lo = self.lo(base, R::R2);
        if off == 0 {
            self.mov(R::R2, lo);
            let hi = self.hi(base, R::R3);
            self.mov(R::R3, hi);
            return;
        }
        self.add_imm(R::R2, lo, i32::from(off), Set);
        let hi = self.hi(base, R::R3);
        let ext = if off < 0 { u32::MAX } else { 0 };
        self.e(I::DpImm { op: DpOp::Adc, s: Keep, rd: R::R3, rn: hi, imm: ext });
    }

    #[allow(clippy::too_many_arguments)]
    fn load(
        &mut self,
        pc: usize,
        size: MemSize,
        signed: bool,
        dst: EReg,
        src: EReg,
        off: i16,
        func: &FunctionInfo,
    ) -> Result<(), CompileError> {
        let (base, disp) = self.address(pc, func, src, off, size, false);
        if size != MemSize::B {
            self.features |= Features::UNALIGNED_ACCESS;
        }
        let l = self.dlo(dst, R::R0);
        let h = self.dhi(dst, R::R1);
        let op = match (size, signed) {
            (MemSize::B, false) => MemOp::Ldrb,
            (MemSize::B, true) => MemOp::Ldrsb,
            (MemSize::H, false) => MemOp::Ldrh,
            (MemSize::H, true) => MemOp::Ldrsh,
            _ => MemOp::Ldr,
        };
        if size == MemSize::DW && l == base {
            // The low word would overwrite the base: load the high first.
            self.e(I::Mem { op: MemOp::Ldr, rt: h, rn: base, off: disp + 4 });
            self.e(I::Mem { op, rt: l, rn: base, off: disp });
            self.store64(dst, l, h);
            return Ok(());
        }
        self.e(I::Mem { op, rt: l, rn: base, off: disp });
        match (size, signed) {
            (MemSize::DW, _) => self.e(I::Mem { op: MemOp::Ldr, rt: h, rn: base, off: disp + 4 }),
            (_, true) => self.e(I::ShiftImm { kind: Shift::Asr, s: Any, rd: h, rm: l, amount: 31 }),
            _ => {
                // Zero-extending: like a 32-bit operation.
                self.put_lo(dst, l);
                self.zero_hi(dst);
                return Ok(());
            }
        }
        self.store64(dst, l, h);
        Ok(())
    }

    fn store(
        &mut self,
        pc: usize,
        size: MemSize,
        dst: EReg,
        off: i16,
        src: Source,
        func: &FunctionInfo,
    ) -> Result<(), CompileError> {
        let (base, disp) = self.address(pc, func, dst, off, size, true);
        if size != MemSize::B {
            self.features |= Features::UNALIGNED_ACCESS;
        }
        let op = match size {
            MemSize::B => MemOp::Strb,
            MemSize::H => MemOp::Strh,
            _ => MemOp::Str,
        };
        let l = self.src_lo(src, R::R0);
        self.e(I::Mem { op, rt: l, rn: base, off: disp });
        if size == MemSize::DW {
            let h = match src {
                Source::Reg(s) => self.hi(s, R::R1),
                Source::Imm(k) => {
                    self.imm(R::R1, (k >> 31) as u32, true);
                    R::R1
                }
            };
            self.e(I::Mem { op: MemOp::Str, rt: h, rn: base, off: disp + 4 });
        }
        Ok(())
    }

    /// An atomic on `[dst + off]`; `proven`: the verifier or the range
    /// analysis proved those bytes inside the function's frame or a
    /// writable data region (both below 2^32), so only the alignment is
    /// checked; `aligned`: the alignment is known too.
    #[allow(clippy::too_many_arguments)]
    fn atomic(
        &mut self,
        pc: usize,
        size: MemSize,
        op: AtomicOp,
        fetch: bool,
        dst: EReg,
        src: EReg,
        off: i16,
        proven: bool,
        aligned: bool,
    ) -> Result<(), CompileError> {
        let bytes = size.bytes();
        // The address (a low-word base at offset 0 is used where it lives;
        // a proven address is the base's low word plus the offset; anything else
        // is computed into r3:r2), alignment, then the bounds check.
        let (addr, hi) = if off == 0 && self.low_use(dst) {
            (self.lo(dst, R::R2), None)
        } else if proven {
            let lo = self.lo(dst, R::R2);
            self.add_imm(R::R2, lo, i32::from(off), Any);
            (R::R2, None)
        } else {
            self.address64(dst, off);
            (R::R2, Some(R::R3))
        };
        if !aligned {
            let mis = self.asm.label();
            let site = Cold::Misaligned { entry: mis, pc: pc as u32, size: bytes, addr, hi };
            self.cold.push(site);
            self.e(I::CmpImm { kind: Compare::Tst, rn: addr, imm: bytes - 1 });
            self.e(I::B { cond: Some(Cond::Ne), target: mis });
        }
        let entry = self.asm.label();
        if let Some(hi) = hi {
            self.e(I::CmpImm { kind: Compare::Cmp, rn: hi, imm: 0 });
            self.e(I::B { cond: Some(Cond::Ne), target: entry });
        }
        let site = CheckSite {
            entry,
            carry: None,
            addr,
            hi,
            pc: pc as u32,
            size: bytes,
            write: true,
            resume: entry,
            group: None,
        };
        if proven {
            self.asm.bind(entry);
        } else {
            let region = self.target(pc, dst);
            self.window_check(site, region);
        }
        let code = match op {
            AtomicOp::Add => abi::atomic_op::ADD,
            AtomicOp::Or => abi::atomic_op::OR,
            AtomicOp::And => abi::atomic_op::AND,
            AtomicOp::Xor => abi::atomic_op::XOR,
            AtomicOp::Xchg => abi::atomic_op::XCHG,
            AtomicOp::CmpXchg => abi::atomic_op::CMPXCHG,
        };
        if size == MemSize::DW {
            // The routine takes the address in r3:r2.
            self.mov(R::R2, addr);
            if hi.is_none() {
                self.imm(R::R3, 0, true);
            }
            // The value and, for compare-exchange only (the routine reads
            // it for no other operation), the expected value go on the
            // stack as the routine's last arguments.
            let l = self.lo(src, R::R0);
            self.mov(R::R0, l);
            let h = self.hi_flags_dead(src, R::R1);
            self.mov(R::R1, h);
            let cmpxchg = op == AtomicOp::CmpXchg;
            if cmpxchg {
                self.load64(EReg::R0, R::R12, R::LR);
            }
            // PUSH stores lower registers at lower addresses: the value's
            // low word first, as the routine reads it. Both sizes keep sp
            // 8-aligned at the call; the routine reads no budget.
            let words = if cmpxchg {
                R::R0.bit() | R::R1.bit() | R::R12.bit() | R::LR.bit()
            } else {
                R::R0.bit() | R::R1.bit()
            };
            let pushed = 4 * words.count_ones();
            self.e(I::Push { regs: words });
            self.ldr(R::R0, R::SP, pushed + CTX);
            self.imm(R::R1, code, true);
            self.ldr(R::R12, R::R0, abi::OFF_ROUTINES);
            self.ldr(R::R12, R::R12, routine_offset::ATOMIC64);
            self.e(I::Blx { rm: R::R12 });
            self.e(I::SpAdjust { sub: false, imm: pushed });
            self.extra_stack = self.extra_stack.max(pushed);
            match op {
                AtomicOp::CmpXchg => self.store64(EReg::R0, R::R0, R::R1),
                _ if fetch => self.store64(src, R::R0, R::R1),
                _ => {}
            }
            return Ok(());
        }
        // 32-bit: an exclusive loop at `addr`: r0 old, r3 new, the operand
        // where it lives (or r1), the status in a low register unless the
        // address took r2.
        let v = self.lo(src, R::R1);
        let status = if addr == R::R2 { R::R12 } else { R::R2 };
        let retry = self.asm.label();
        let done = self.asm.label();
        if op == AtomicOp::CmpXchg {
            let fail = self.asm.label();
            let expected = self.lo(EReg::R0, R::R3);
            self.asm.bind(retry);
            self.e(I::Ldrex { rt: R::R0, rn: addr });
            self.e(I::CmpReg { kind: Compare::Cmp, rn: R::R0, rm: expected });
            self.e(I::B { cond: Some(Cond::Ne), target: fail });
            self.e(I::Strex { rd: status, rt: v, rn: addr });
            self.e(I::CmpImm { kind: Compare::Cmp, rn: status, imm: 0 });
            self.e(I::B { cond: Some(Cond::Ne), target: retry });
            self.e(I::B { cond: None, target: done });
            self.asm.bind(fail);
            self.e(I::Clrex);
            self.asm.bind(done);
            self.put_lo(EReg::R0, R::R0);
            self.zero_hi(EReg::R0);
            return Ok(());
        }
        self.asm.bind(retry);
        self.e(I::Ldrex { rt: R::R0, rn: addr });
        let new = match op {
            AtomicOp::Add => Some(DpOp::Add),
            AtomicOp::Or => Some(DpOp::Orr),
            AtomicOp::And => Some(DpOp::And),
            AtomicOp::Xor => Some(DpOp::Eor),
            _ => None,
        };
        let stored = match new {
            Some(dp_op) => {
                self.e(dp(dp_op, Any, R::R3, R::R0, v));
                R::R3
            }
            // Exchange stores the operand itself.
            None => v,
        };
        self.e(I::Strex { rd: status, rt: stored, rn: addr });
        self.e(I::CmpImm { kind: Compare::Cmp, rn: status, imm: 0 });
        self.e(I::B { cond: Some(Cond::Ne), target: retry });
        self.asm.bind(done);
        if fetch || op == AtomicOp::Xchg {
            self.put_lo(src, R::R0);
            self.zero_hi(src);
        }
        Ok(())
    }

    // ----- out of line -----

    fn emit_cold(&mut self) {
        let cold = core::mem::take(&mut self.cold);
        for stub in cold {
            match stub {
                Cold::BackEdge { entry, pc, target } => {
                    self.asm.set_tag(pc);
                    self.asm.bind(entry);
                    self.budget_then_jump(pc, target);
                }
                Cold::Check(site) if site.group.is_some() => {
                    self.uses_check_slow = true;
                    self.asm.set_tag(site.pc);
                    if let Some((carry, _)) = site.carry {
                        self.asm.bind(carry);
                    }
                    self.asm.bind(site.entry);
                    let members = self.groups.get(&(site.pc as usize)).cloned().unwrap_or_default();
                    self.cur_pc = site.pc as usize;
                    for (pc, off, size) in members {
                        let mut check = self.shared.check_slow;
                        match site.group {
                            // A 32-bit base plus nothing: no carry into r3.
                            Some(base) if off == 0 && self.low_use(base) => {
                                let lo = self.lo(base, R::R2);
                                self.mov(R::R2, lo);
                                self.uses_check_slow_low = true;
                                check = self.shared.check_slow_low;
                            }
                            Some(base) => self.address64(base, off),
                            None => {}
                        }
                        self.imm(R::R0, pc as u32, true);
                        self.imm(R::R1, size, true);
                        self.e(I::Bl { target: check });
                    }
                    self.e(I::B { cond: None, target: site.resume });
                }
                Cold::Check(site) => {
                    self.uses_check_slow = true;
                    self.asm.set_tag(site.pc);
                    let join = self.asm.label();
                    if let Some((carry, hi)) = site.carry {
                        self.asm.bind(carry);
                        self.imm(R::R3, hi, true);
                        self.e(I::B { cond: None, target: join });
                    }
                    self.asm.bind(site.entry);
                    // Neither register can be the other's target: the low
                    // word is in r2 or a core register, the high in r3 or one.
                    self.mov(R::R2, site.addr);
                    let check = match site.hi {
                        Some(hi) => {
                            self.mov(R::R3, hi);
                            self.shared.check_slow
                        }
                        // The carry path joins below with its own r3.
                        None if site.carry.is_some() => {
                            self.imm(R::R3, 0, true);
                            self.shared.check_slow
                        }
                        None => {
                            self.uses_check_slow_low = true;
                            self.shared.check_slow_low
                        }
                    };
                    self.asm.bind(join);
                    self.imm(R::R0, site.pc, true);
                    self.imm(R::R1, access_word(site.size, site.write), true);
                    self.e(I::Bl { target: check });
                    self.e(I::B { cond: None, target: site.resume });
                }
                Cold::Misaligned { entry, pc, size, addr, hi } => {
                    self.uses_misaligned = true;
                    self.asm.set_tag(pc);
                    self.asm.bind(entry);
                    self.mov(R::R2, addr);
                    match hi {
                        Some(hi) => self.mov(R::R3, hi),
                        None => self.imm(R::R3, 0, true),
                    }
                    self.imm(R::R0, pc, true);
                    self.imm(R::R1, size, true);
                    self.e(I::B { cond: None, target: self.shared.misaligned_exit });
                }
            }
        }
        // Cold stubs may have queued stubs of their own.
        if !self.cold.is_empty() {
            self.emit_cold();
            return;
        }
        self.shared_tails();
    }

    /// The shared slow check: r1 = size | `ACCESS_WRITE` for a store,
    /// r3:r2 address (already `access_check`'s arguments after the
    /// context), r0 = pc. Returns if the access is allowed; otherwise falls
    /// into the fault exit, which must follow it.
    fn check_slow_tail(&mut self, check_slow: Label) {
        let refused = self.asm.label();
        // r0..r3 hold the pc, the access and the address, and the address
        // register is used again after the check; r12 is never live across
        // one. r4 carries the routine's address and makes six words, which
        // keep sp 8-aligned at the call; only low registers and pc/lr:
        // 16-bit PUSH and POP.
        let kept = R::R0.bit() | R::R1.bit() | R::R2.bit() | R::R3.bit() | R::R4.bit();
        // SBCS r3, r3 gives C - 1: 0, or all ones without the carry.
        if self.uses_check_carry {
            self.asm.bind(self.shared.check_carry);
            self.e(dp(DpOp::Sbc, Any, R::R3, R::R3, R::R3));
            self.e(I::DpImm { op: DpOp::Add, s: Any, rd: R::R3, rn: R::R3, imm: 1 });
            self.e(I::B { cond: None, target: check_slow });
        }
        if self.uses_check_borrow {
            self.asm.bind(self.shared.check_borrow);
            self.e(dp(DpOp::Sbc, Any, R::R3, R::R3, R::R3));
            self.e(I::B { cond: None, target: check_slow });
        }
        if self.uses_check_slow_low {
            self.asm.bind(self.shared.check_slow_low);
            self.imm(R::R3, 0, true);
        }
        self.asm.bind(check_slow);
        self.e(I::Push { regs: kept | R::LR.bit() });
        self.ldr(R::R0, R::SP, 24 + CTX);
        self.ldr(R::R4, R::R0, abi::OFF_ROUTINES);
        self.ldr(R::R4, R::R4, routine_offset::ACCESS_CHECK);
        self.e(I::Blx { rm: R::R4 });
        self.e(I::Cbz { nonzero: true, rn: R::R0, target: refused });
        self.e(I::Pop { regs: kept | R::PC.bit() });
        // Refused: r0 (the pc) back for the fault exit, lr dropped.
        self.asm.bind(refused);
        self.e(I::Pop { regs: kept });
        self.e(I::SpAdjust { sub: false, imm: 4 });
    }

    fn shared_tails(&mut self) {
        let sh = &self.shared;
        let (epilogue, check_slow, fault_exit, misaligned_exit, budget_exit) =
            (sh.epilogue, sh.check_slow, sh.fault_exit, sh.misaligned_exit, sh.budget_exit);
        let stop = self.asm.label();
        self.asm.set_tag(u32::MAX);
        self.emit_checkers();
        if self.uses_misaligned {
            // misaligned_exit: r0 = pc, r1 = size, r3:r2 = address.
            // The context goes in r3 (the high word waits in r12): stores
            // through a low register take 16 bits.
            self.asm.bind(misaligned_exit);
            self.mov(R::R12, R::R3);
            self.ctx(R::R3);
            self.str(R::R2, R::R3, abi::OFF_FAULT_ADDR);
            self.mov(R::R2, R::R12);
            self.str(R::R2, R::R3, abi::OFF_FAULT_ADDR + 4);
            self.str(R::R1, R::R3, abi::OFF_FAULT_SIZE);
            self.imm(R::R1, 1, true);
            self.str(R::R1, R::R3, abi::OFF_FAULT_WRITE);
            self.e(I::B { cond: None, target: fault_exit });
        }
        if self.uses_check_slow {
            // Falls into fault_exit.
            self.check_slow_tail(check_slow);
        }
        // The stops: r0 = pc, r1 = status; the pc goes to the record.
        let stops = self.uses_check_slow || self.uses_misaligned;
        if stops {
            self.asm.bind(fault_exit);
            self.imm(R::R1, status::MEMORY_FAULT, true);
        }
        if self.has_budget() {
            if stops {
                self.e(I::B { cond: None, target: stop });
            }
            if self.uses_budget_tick {
                // budget_tick: r0 = pc, lr = the event's return. Falls
                // into budget_borrow on a borrow.
                self.asm.bind(self.shared.budget_tick);
                self.budget_decrement();
                self.e(I::B { cond: Some(Cond::Hs), target: self.shared.budget_return });
            }
            // budget_borrow: r0 = pc; the budget copy's low word went from
            // 0 to all ones. Borrow from the high word and return, or stop
            // (budget_left = 0) when there is nothing to borrow.
            let out = self.asm.label();
            // Temporaries are dead at budget events: low registers keep
            // the context accesses narrow.
            self.asm.bind(self.shared.budget_borrow);
            self.ctx(R::R2);
            self.ldr(R::R1, R::R2, abi::OFF_BUDGET_LEFT + 4);
            self.e(I::Cbz { nonzero: false, rn: R::R1, target: out });
            self.e(I::DpImm { op: DpOp::Sub, s: Any, rd: R::R1, rn: R::R1, imm: 1 });
            self.str(R::R1, R::R2, abi::OFF_BUDGET_LEFT + 4);
            self.asm.bind(self.shared.budget_return);
            self.e(I::Bx { rm: R::LR });
            self.asm.bind(out);
            match (self.map.budget, self.budget_slot) {
                (Some(b), _) => self.imm(b, 0, true),
                (None, slot) => {
                    self.imm(R::R1, 0, true);
                    self.str(R::R1, R::SP, slot.unwrap_or(0));
                }
            }
            // Falls into budget_exit.
            self.asm.bind(budget_exit);
            self.imm(R::R1, status::BUDGET, true);
        }
        if stops || self.has_budget() {
            self.asm.bind(stop);
            self.ctx(R::R3);
            self.str(R::R0, R::R3, abi::OFF_EXIT_PC);
            self.mov(R::R0, R::R1);
        }
        // epilogue: r0 = status; epilogue_ctx: r3 = the context too (the
        // stops above and every exit have it there already).
        self.asm.bind(epilogue);
        if self.has_budget() && self.uses_epilogue {
            self.ctx(R::R3);
        }
        self.asm.bind(self.shared.epilogue_ctx);
        if self.has_budget() {
            self.budget_store(R::R3, R::R1);
        }
        self.e(I::SpAdjust { sub: false, imm: self.frame() });
        self.e(I::Pop { regs: SAVED | R::PC.bit() });
    }
}

/// The flags condition after `a - b` (CMP low, SBCS high) under which the
/// ordering `a cond b` holds, for the orderings that need no swap.
fn ordered_cond(cond: JmpCond) -> Option<Cond> {
    match cond {
        JmpCond::Lt => Some(Cond::Lo),
        JmpCond::Ge => Some(Cond::Hs),
        JmpCond::Slt => Some(Cond::Lt),
        JmpCond::Sge => Some(Cond::Ge),
        _ => None,
    }
}

/// An ordering jump `r cond k` (64-bit, `k` sign-extended) as `r - k'`
/// tested by the flags of a subtraction: `>` and `<=` become `>=` and `<`
/// against `k + 1` (the constant is a sign-extended 32-bit value, so
/// `k + 1` never wraps in 64 bits; unsigned against all ones has no such
/// constant and keeps the register form).
fn ordered_against_constant(cond: JmpCond, k: i32) -> Option<(Cond, i64)> {
    let k = i64::from(k);
    let unsigned_max = k == -1;
    let (cond, k) = match cond {
        JmpCond::Gt if !unsigned_max => (JmpCond::Ge, k + 1),
        JmpCond::Le if !unsigned_max => (JmpCond::Lt, k + 1),
        JmpCond::Sgt => (JmpCond::Sge, k + 1),
        JmpCond::Sle => (JmpCond::Slt, k + 1),
        c => (c, k),
    };
    ordered_cond(cond).map(|cc| (cc, k))
}

fn dp(op: DpOp, s: SetFlags, rd: Reg, rn: Reg, rm: Reg) -> I {
    I::DpReg { op, s, rd, rn, rm, shift: Shift::Lsl, amount: 0 }
}
