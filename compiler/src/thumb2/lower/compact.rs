//! Compact checks for code that runs once per run: a checked access
//! outside every loop (and outside functions called from one) does not
//! carry the inline window compare and its out-of-line stub (about 36
//! bytes); it loads the eBPF pc and the access into r0 and r1, forms the
//! address in r2 and calls the shared slow check (`access_check` through
//! the routine table): 8 to 12 bytes. Such code runs once, so a window
//! (filled at entry by a routine call, then compared against) would cost
//! more than it saves; a program whose checks are all compact fills no
//! window at all.
//!
//! A counted loop's checked copy (module `counted`) runs only when the
//! check before the loop failed, but then it runs every iteration: its
//! accesses call a *checker* shared by every access of one window and
//! size, which compares against the window and only on a miss joins the
//! slow check (`BL` + 16 bytes per checker instead of about 20 bytes in
//! line and a 16-byte stub per access). Built for size ([`Goal::Size`]),
//! every access in a loop calls a checker.
//!
//! A site enters right after the add that formed the address, so the
//! flags still hold its carry (or borrow): the slow check's entry for
//! positive offsets makes the upper word the carry, the entry for negative
//! offsets all ones after a borrow, so the runtime sees the exact 64-bit
//! address; a base kept as a register pair passes its upper word (plus
//! the carry) in r3. A checker tests the carry, or r3, before its compare;
//! a miss reaches the slow check with the exact address. Both leave r0
//! and r2 as they were and clobber r1, r3 and lr (temporaries, never live
//! across an eBPF instruction); an allowed access returns to the site, a
//! refused one leaves through the fault exit with the site's pc.

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_isa::{Decoded, Insn, Reg as EReg};

use super::super::insn::{Cond, Label, Reg, Thumb2Insn as I};
use super::{access_word, Any, Goal, Lowerer, Set};

use Reg as R;

/// One checker: the window words it compares against and the access it
/// reports to the slow check.
pub(super) struct Checker {
    /// Frame offsets of the window's start and of the count for the size.
    slot: u32,
    count: u32,
    /// `size | ACCESS_WRITE` as the slow check takes it.
    access: u32,
    /// Entry for an address whose upper half is zero.
    exact: Label,
    /// Entry right after `base + off` with `off > 0`: carry set means the
    /// address left the low 4 GiB.
    carry: Option<Label>,
    /// Entry right after `base + off` with `off < 0`: carry clear means a
    /// borrow.
    borrow: Option<Label>,
    /// Entry with the upper word in r3.
    pair: Option<Label>,
}

impl Checker {
    /// The entry for addresses formed as `formed` (`None`: the exact one).
    fn entry(&mut self, formed: Formed) -> Option<&mut Option<Label>> {
        match formed {
            Formed::Base => None,
            Formed::Up => Some(&mut self.carry),
            Formed::Down => Some(&mut self.borrow),
            Formed::Pair => Some(&mut self.pair),
        }
    }
}

/// How a site's address was formed, which picks the checker's entry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Formed {
    /// The base itself (upper half zero).
    Base,
    /// `base + off`, `off > 0`.
    Up,
    /// `base + off`, `off < 0`.
    Down,
    /// `base + off` of a base kept as a pair: r3 holds the upper word.
    Pair,
}

/// For each pc, whether its code may run more than once per run: it lies
/// between a back edge's target and the jump, or in a function called
/// from such code (transitively).
pub(super) fn repeated_pcs(prog: &VerifiedProgram, insns: &[Decoded]) -> Vec<bool> {
    let n = prog.program.code.len();
    let mut in_loop = vec![false; n];
    for &(jump, target) in &prog.back_edges {
        for h in in_loop.iter_mut().take(jump as usize + 1).skip(target as usize) {
            *h = true;
        }
    }
    let funcs = &prog.functions;
    // The function each pc belongs to.
    let mut owner: Vec<Option<usize>> = vec![None; n];
    for (i, f) in funcs.iter().enumerate() {
        for o in owner.iter_mut().take(f.end as usize).skip(f.start as usize) {
            *o = Some(i);
        }
    }
    let mut called_hot = vec![false; funcs.len()];
    let hot_at = |called_hot: &[bool], pc: usize| {
        in_loop.get(pc).copied().unwrap_or(true)
            || owner.get(pc).copied().flatten().is_some_and(|i| called_hot[i])
    };
    // Each round marks at least one more function, or stops.
    for _ in 0..=funcs.len() {
        let mut changed = false;
        for d in insns {
            let Insn::CallLocal { off } = d.insn else { continue };
            // The verifier makes every call target a function's start.
            let target = usize::try_from(d.pc as i64 + 1 + i64::from(off)).ok();
            let Some(i) = target.and_then(|t| owner.get(t).copied().flatten()) else {
                continue;
            };
            if !called_hot[i] && hot_at(&called_hot, d.pc) {
                called_hot[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    (0..n).map(|pc| hot_at(&called_hot, pc)).collect()
}

impl Lowerer<'_> {
    /// True if the access at `pc` gets a compact check (see the module
    /// documentation).
    pub(super) fn wants_compact_check(&self, pc: usize) -> bool {
        self.goal == Goal::Size || self.cold_copy || !self.repeated(pc)
    }

    /// True if the code at `pc` may run more than once per run.
    pub(super) fn repeated(&self, pc: usize) -> bool {
        self.repeated.get(pc).copied().unwrap_or(true)
    }

    /// Forms the address `base + off` in r2 (or uses the base itself when
    /// `off` is 0) and calls the checker for its window and size; returns
    /// the register holding the address.
    pub(super) fn compact_check(
        &mut self,
        pc: usize,
        base: EReg,
        off: i16,
        size: u32,
        write: bool,
    ) -> Reg {
        // The pc and access first, so that nothing after the add touches
        // the carry; a windowed checker takes the access from its own code.
        self.imm(R::R0, pc as u32, true);
        let windowed = self.cold_copy || (self.goal == Goal::Size && self.repeated(pc));
        if !windowed {
            self.imm(R::R1, access_word(size, write), true);
        }
        let (addr, formed) = if !self.low_use(base) {
            // A pair: r3 takes the upper half plus the carry of the add.
            self.address64(base, off);
            (R::R2, Formed::Pair)
        } else {
            let lo = self.lo(base, R::R2);
            if off == 0 {
                self.mov(R::R2, lo);
                (lo, Formed::Base)
            } else {
                self.add_imm(R::R2, lo, i32::from(off), Set);
                (R::R2, if off > 0 { Formed::Up } else { Formed::Down })
            }
        };
        let target = if windowed {
            let region = self.target(pc, base);
            self.checker(region, write, size, formed)
        } else {
            self.uses_check_slow = true;
            match formed {
                Formed::Base => {
                    self.uses_check_slow_low = true;
                    self.shared.check_slow_low
                }
                Formed::Up => {
                    self.uses_check_carry = true;
                    self.shared.check_carry
                }
                Formed::Down => {
                    self.uses_check_borrow = true;
                    self.shared.check_borrow
                }
                Formed::Pair => self.shared.check_slow,
            }
        };
        self.e(I::Bl { target });
        addr
    }

    /// The entry of the checker for (`region`, `write`, `size`) that takes
    /// an address formed as `formed`, made on first use.
    fn checker(
        &mut self,
        region: super::windows::Target,
        write: bool,
        size: u32,
        formed: Formed,
    ) -> Label {
        let (slot, count) = self.window(region, write, size);
        let access = access_word(size, write);
        let i = match self.checkers.iter().position(|c| c.slot == slot && c.count == count) {
            Some(i) => i,
            None => {
                let exact = self.asm.label();
                self.checkers.push(Checker {
                    slot,
                    count,
                    access,
                    exact,
                    carry: None,
                    borrow: None,
                    pair: None,
                });
                self.checkers.len() - 1
            }
        };
        match self.checkers[i].entry(formed) {
            None => self.checkers[i].exact,
            Some(Some(label)) => *label,
            Some(None) => {
                let label = self.asm.label();
                if let Some(slot) = self.checkers[i].entry(formed) {
                    *slot = Some(label);
                }
                label
            }
        }
    }

    /// Emits every checker; they branch to the shared slow checks, which
    /// must be emitted too.
    pub(super) fn emit_checkers(&mut self) {
        let checkers = core::mem::take(&mut self.checkers);
        for c in &checkers {
            let slow = self.asm.label();
            let high = self.asm.label();
            let carried = self.asm.label();
            let borrowed = self.asm.label();
            if let Some(borrow) = c.borrow {
                self.asm.bind(borrow);
                self.e(I::B { cond: Some(Cond::Lo), target: borrowed });
                self.e(I::B { cond: None, target: c.exact });
            }
            if let Some(carry) = c.carry {
                self.asm.bind(carry);
                self.e(I::B { cond: Some(Cond::Hs), target: carried });
                self.e(I::B { cond: None, target: c.exact });
            }
            if let Some(pair) = c.pair {
                self.asm.bind(pair);
                self.e(I::Cbz { nonzero: true, rn: R::R3, target: high });
            }
            self.asm.bind(c.exact);
            // r0 (the pc) and r2 (the address) must survive.
            self.window_compare(R::R2, (R::R1, R::R3), (c.slot, c.count), slow);
            self.e(I::Bx { rm: R::LR });
            self.asm.bind(slow);
            self.imm(R::R1, c.access, true);
            self.uses_check_slow = true;
            self.uses_check_slow_low = true;
            self.e(I::B { cond: None, target: self.shared.check_slow_low });
            if c.carry.is_some() {
                self.asm.bind(carried);
                self.imm(R::R3, 1, true);
                self.e(I::B { cond: None, target: high });
            }
            if c.borrow.is_some() {
                self.asm.bind(borrowed);
                self.imm(R::R3, 0, true);
                self.e(I::MvnReg { s: Any, rd: R::R3, rm: R::R3 });
            }
            if c.carry.is_some() || c.borrow.is_some() || c.pair.is_some() {
                self.asm.bind(high);
                self.imm(R::R1, c.access, true);
                self.e(I::B { cond: None, target: self.shared.check_slow });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::repeated_pcs;
    use femtoc_isa::asm::assemble;
    use femtoc_isa::verifier::{verify, VerifierConfig};

    /// The pcs `repeated_pcs` marks in `src`.
    fn repeated(src: &str) -> Vec<usize> {
        let program = assemble(src).expect("assembles");
        let verified = verify(&program, &VerifierConfig::new(&[])).expect("verifies");
        let insns: Vec<_> = femtoc_isa::decode_all(&verified.program.code).flatten().collect();
        let hot = repeated_pcs(&verified, &insns);
        (0..hot.len()).filter(|&pc| hot[pc]).collect()
    }

    #[test]
    fn loops_and_what_they_call_repeat() {
        // pc 0 runs once; 1..=4 are the loop (its call repeats f); 5 and
        // 6 run once and call g once; f starts with its own loop, which
        // must not hide that all of f repeats; g runs once.
        let src = "
            mov %r6, 0
        top:
            mov %r1, 0
            call local f
            add %r6, 1
            jlt %r6, 3, top
            mov %r0, 0
            call local g
            exit
        f:
            add %r1, 1
            jlt %r1, 2, f
            mov %r0, %r1
            exit
        g:
            mov %r0, 1
            exit
        ";
        assert_eq!(repeated(src), vec![1, 2, 3, 4, 8, 9, 10, 11]);
    }
}
