//! Branch clean-up before layout: jumps to jumps, jumps to the next
//! instruction, and code no path reaches.
//!
//! The lowering places a label wherever a later decision may need one, and
//! some of those labels end up bound to an unconditional `B` (a loop's
//! exit that leaves past its checked copy, for example). A `B` to such a
//! label goes straight to the final target instead, the pad left behind is
//! unreachable once nothing refers to it, and a `B` to the label that
//! follows it is dropped. Only `B` is retargeted: a CBZ/CBNZ reaches
//! forward only and `BL` returns, so neither may skip a pad.

use super::assembler::Thumb2Assembler;
use super::insn::{Label, Reg, Thumb2Insn as I};

/// Ends the path through it: nothing after it runs unless a label is bound there.
fn ends_path(insn: &I) -> bool {
    match *insn {
        I::B { cond: None, .. } | I::Bx { .. } => true,
        I::Pop { regs } => regs & Reg::PC.bit() != 0,
        _ => false,
    }
}

impl Thumb2Assembler {
    /// Threads `B`s through pads, drops unreachable code and `B`s to the
    /// next instruction, until nothing changes. `entries` are the labels
    /// code outside jumps to.
    pub fn tidy_branches(&mut self, entries: &[Label]) {
        // Each round removes at least one instruction or stops. The passes
        // keep every bound label, so the item count measures progress.
        loop {
            let before = self.len();
            self.thread_jumps();
            self.drop_unreachable(entries);
            self.drop_jumps_to_next();
            if self.len() == before {
                break;
            }
        }
    }

    /// Retargets every `B` whose label is bound right before an
    /// unconditional `B`, following chains.
    fn thread_jumps(&mut self) {
        let forward = self.label_forwards();
        let last = |start: Label| {
            // A chain visits each label once; a cycle (jumps that only
            // jump to each other) keeps its original target.
            let mut l = start;
            for _ in 0..forward.len() {
                match forward.get(l.0 as usize).copied().flatten() {
                    Some(next) if next == start => return start,
                    Some(next) => l = next,
                    None => return l,
                }
            }
            start
        };
        self.map_insns(|insn| match *insn {
            I::B { cond, target } => I::B { cond, target: last(target) },
            other => other,
        });
    }

    /// Removes instructions after a path's end up to the next label that
    /// something refers to.
    fn drop_unreachable(&mut self, entries: &[Label]) {
        let mut live = true;
        self.retain_insns(entries, |insn, joined| {
            live |= joined;
            let keep = live;
            if ends_path(insn) {
                live = false;
            }
            keep
        });
    }

    /// Removes each `B` to a label bound before the next instruction.
    fn drop_jumps_to_next(&mut self) {
        let next = self.labels_before_next_insn();
        let mut i = 0usize;
        self.retain_items(|insn, label| {
            if label.is_some() {
                i += 1;
                return true;
            }
            let at = i;
            i += 1;
            match insn {
                Some(I::B { cond: None, target }) => {
                    !next.get(at).is_some_and(|ls| ls.contains(target))
                }
                _ => true,
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thumb2::insn::Cond;

    fn nop(n: u32) -> I {
        I::MovImm { s: crate::thumb2::insn::SetFlags::Any, rd: Reg::R0, imm: n }
    }

    #[test]
    fn a_jump_to_a_jump_goes_to_the_end_and_the_pad_goes() {
        let mut a = Thumb2Assembler::new();
        let (pad, end, out) = (a.label(), a.label(), a.label());
        a.emit(I::B { cond: Some(Cond::Eq), target: pad });
        a.emit(I::B { cond: None, target: out });
        a.bind(pad);
        a.emit(I::B { cond: None, target: end });
        a.bind(out);
        a.emit(nop(1));
        a.bind(end);
        a.emit(nop(2));
        a.tidy_branches(&[]);
        // The pad goes, and then the B to `out` jumps to the next instruction.
        assert_eq!(a.insns(), vec![I::B { cond: Some(Cond::Eq), target: end }, nop(1), nop(2)]);
    }

    #[test]
    fn a_jump_to_the_next_instruction_goes_and_entries_stay() {
        let mut a = Thumb2Assembler::new();
        let (next, entry) = (a.label(), a.label());
        a.emit(I::B { cond: None, target: next });
        a.bind(next);
        a.emit(nop(1));
        a.emit(I::Bx { rm: Reg::LR });
        a.bind(entry);
        a.emit(nop(2));
        a.emit(I::B { cond: None, target: next });
        let mut b = a.clone();
        a.tidy_branches(&[entry]);
        assert_eq!(
            a.insns(),
            vec![nop(1), I::Bx { rm: Reg::LR }, nop(2), I::B { cond: None, target: next }]
        );
        // Without the entry, the code after BX is unreachable.
        b.tidy_branches(&[]);
        assert_eq!(b.insns(), vec![nop(1), I::Bx { rm: Reg::LR }]);
    }

    #[test]
    fn a_loop_of_jumps_is_left_alone() {
        let mut a = Thumb2Assembler::new();
        let (x, y) = (a.label(), a.label());
        a.bind(x);
        a.emit(I::B { cond: None, target: y });
        a.bind(y);
        a.emit(I::B { cond: None, target: x });
        a.tidy_branches(&[x]);
        assert_eq!(a.insns().len(), 1, "{:?}", a.insns());
    }
}
