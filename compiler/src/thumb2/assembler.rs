//! The Thumb-2 assembler: a list of instructions and labels, laid out once
//! all of them are known. Branches start in their short form and are
//! widened (a CBZ/CBNZ becomes `CMP rn, #0` + `B<c>.W`) until every one
//! reaches; widening only ever grows code, so the loop ends.

use super::encode::{encode, encode_branch, EncodeError};
use std::collections::BTreeSet;

use super::insn::{Compare, Cond, Label, Thumb2Insn};

/// Why assembly failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AsmError {
    /// An instruction has no encoding.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A branch names a label that was never bound.
    #[error("label {0} is used but never bound")]
    Unbound(u32),
}

#[derive(Clone, Copy, Debug)]
enum Item {
    Insn { insn: Thumb2Insn, tag: u32 },
    Bind(Label),
}

/// Collects instructions and labels; [`Thumb2Assembler::finish`] lays them out.
#[derive(Clone, Debug, Default)]
pub struct Thumb2Assembler {
    items: Vec<Item>,
    labels: u32,
    tag: u32,
}

/// Assembled code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assembled {
    /// The bytes.
    pub code: Vec<u8>,
    /// For each change of tag, (byte offset, tag), in order.
    pub tags: Vec<(u32, u32)>,
    /// Byte offset of each label, by label number.
    pub labels: Vec<u32>,
}

const UNBOUND: u32 = u32::MAX;

impl Thumb2Assembler {
    /// An empty assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh, unbound label.
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    /// Binds `label` to the current position.
    pub fn bind(&mut self, label: Label) {
        self.items.push(Item::Bind(label));
    }

    /// Instructions emitted from now on carry `tag` (an eBPF pc) in the
    /// resulting map.
    pub fn set_tag(&mut self, tag: u32) {
        self.tag = tag;
    }

    /// Appends one instruction.
    pub fn emit(&mut self, insn: Thumb2Insn) {
        self.items.push(Item::Insn { insn, tag: self.tag });
    }

    /// Keeps the instructions for which `keep(insn, joined)` is true, in
    /// order; `joined` says that since the previous instruction a label was
    /// bound that some branch targets or that is in `entries` (reached
    /// from outside), so another path may arrive there.
    pub fn retain_insns(
        &mut self,
        entries: &[Label],
        mut keep: impl FnMut(&Thumb2Insn, bool) -> bool,
    ) {
        let targets = self.referred_labels(entries);
        let mut bound = false;
        self.retain_items(|insn, label| match (insn, label) {
            (Some(insn), _) => {
                let k = keep(insn, bound);
                bound = false;
                k
            }
            (None, Some(l)) => {
                bound |= targets.contains(&l);
                true
            }
            (None, None) => true,
        });
    }

    /// Keeps the items for which `keep(insn, label)` is true: an
    /// instruction comes as `(Some(insn), None)`, a bound label as
    /// `(None, Some(label))`.
    pub(crate) fn retain_items(
        &mut self,
        mut keep: impl FnMut(Option<&Thumb2Insn>, Option<Label>) -> bool,
    ) {
        self.items.retain(|item| match item {
            Item::Insn { insn, .. } => keep(Some(insn), None),
            Item::Bind(l) => keep(None, Some(*l)),
        });
    }

    /// Every instruction with its tag (the eBPF pc it came from).
    pub(crate) fn tagged_insns(&self) -> impl Iterator<Item = (Thumb2Insn, u32)> + '_ {
        self.items.iter().filter_map(|i| match *i {
            Item::Insn { insn, tag } => Some((insn, tag)),
            Item::Bind(_) => None,
        })
    }

    /// Keeps the instructions for which `keep(insn, tag)` is true, and
    /// every label.
    pub(crate) fn retain_tagged(&mut self, mut keep: impl FnMut(&Thumb2Insn, u32) -> bool) {
        self.items.retain(|item| match item {
            Item::Insn { insn, tag } => keep(insn, *tag),
            Item::Bind(_) => true,
        });
    }

    /// Replaces every instruction by `f` of it.
    pub(crate) fn map_insns(&mut self, mut f: impl FnMut(&Thumb2Insn) -> Thumb2Insn) {
        for item in &mut self.items {
            if let Item::Insn { insn, .. } = item {
                *insn = f(insn);
            }
        }
    }

    /// The labels some branch targets, and `entries`.
    fn referred_labels(&self, entries: &[Label]) -> BTreeSet<Label> {
        let targets = self.items.iter().filter_map(|i| match i {
            Item::Insn { insn, .. } => insn.target(),
            Item::Bind(_) => None,
        });
        entries.iter().copied().chain(targets).collect()
    }

    /// For each label (by number), the target of the unconditional `B`
    /// that is the first instruction after its binding, if it is one.
    pub(crate) fn label_forwards(&self) -> Vec<Option<Label>> {
        let mut out = vec![None; self.labels as usize];
        let mut pending: Vec<Label> = Vec::new();
        for item in &self.items {
            match item {
                Item::Bind(l) => pending.push(*l),
                Item::Insn { insn, .. } => {
                    let to = match *insn {
                        Thumb2Insn::B { cond: None, target } => Some(target),
                        _ => None,
                    };
                    for l in pending.drain(..) {
                        if let Some(slot) = out.get_mut(l.0 as usize) {
                            *slot = to;
                        }
                    }
                }
            }
        }
        out
    }

    /// For each item (by index), the labels bound after it and before
    /// the next instruction.
    pub(crate) fn labels_before_next_insn(&self) -> Vec<Vec<Label>> {
        let mut out = vec![Vec::new(); self.items.len()];
        let mut pending: Vec<Label> = Vec::new();
        for (i, item) in self.items.iter().enumerate().rev() {
            if let Some(slot) = out.get_mut(i) {
                slot.clone_from(&pending);
            }
            match item {
                Item::Bind(l) => pending.push(*l),
                Item::Insn { .. } => pending.clear(),
            }
        }
        out
    }

    /// Items so far (instructions and bound labels).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True if nothing was emitted or bound yet.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Moves the items from index `from` on to the front (the entry,
    /// lowered last, goes first so that it falls into pc 0).
    pub fn move_to_front(&mut self, from: usize) {
        let from = from.min(self.items.len());
        self.items.rotate_left(from);
    }

    /// The instructions so far, without labels.
    pub fn insns(&self) -> Vec<Thumb2Insn> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Insn { insn, .. } => Some(*insn),
                Item::Bind(_) => None,
            })
            .collect()
    }

    /// Lays the code out, relaxing branches until all reach.
    pub fn finish(&self) -> Result<Assembled, AsmError> {
        let n = self.items.len();
        let mut wide = vec![false; n];
        let mut positions = vec![UNBOUND; self.labels as usize];
        loop {
            // Sizes under the current choice of widths.
            let mut at = 0u32;
            let mut sizes = vec![0u32; n];
            for (i, item) in self.items.iter().enumerate() {
                match *item {
                    Item::Bind(l) => positions[l.0 as usize] = at,
                    Item::Insn { insn, .. } => {
                        sizes[i] = match (insn, wide[i]) {
                            (Thumb2Insn::Cbz { .. }, true) => 6,
                            (Thumb2Insn::B { .. }, w) => 2 + 2 * u32::from(w),
                            (Thumb2Insn::Cbz { .. }, false) => 2,
                            (Thumb2Insn::Bl { .. }, _) => 4,
                            (insn, _) => encode(&insn)?.size(),
                        };
                        at += sizes[i];
                    }
                }
            }
            // Widen what does not reach.
            let mut changed = false;
            let mut at = 0u32;
            for (i, item) in self.items.iter().enumerate() {
                if let Item::Insn { insn, .. } = *item {
                    if let (Some(t), false) = (insn.target(), wide[i]) {
                        let target = *positions.get(t.0 as usize).unwrap_or(&UNBOUND);
                        if target == UNBOUND {
                            return Err(AsmError::Unbound(t.0));
                        }
                        let offset = target as i64 - (at as i64 + 4);
                        if encode_branch(&insn, offset as i32, false).is_err() {
                            wide[i] = true;
                            changed = true;
                        }
                    }
                    at += sizes[i];
                }
            }
            if !changed {
                return self.emit_all(&wide, &positions);
            }
        }
    }

    fn emit_all(&self, wide: &[bool], positions: &[u32]) -> Result<Assembled, AsmError> {
        let mut out = Assembled { labels: positions.to_vec(), ..Assembled::default() };
        let code = &mut out.code;
        for (i, item) in self.items.iter().enumerate() {
            let Item::Insn { insn, tag } = *item else { continue };
            if out.tags.last().is_none_or(|&(_, t)| t != tag) {
                out.tags.push((code.len() as u32, tag));
            }
            let at = code.len() as i64;
            match insn.target() {
                None => encode(&insn)?.write(code),
                Some(t) => {
                    let target = i64::from(positions[t.0 as usize]);
                    match insn {
                        Thumb2Insn::Cbz { nonzero, rn, target: l } if wide[i] => {
                            encode(&Thumb2Insn::CmpImm { kind: Compare::Cmp, rn, imm: 0 })?
                                .write(code);
                            let cond = if nonzero { Cond::Ne } else { Cond::Eq };
                            let b = Thumb2Insn::B { cond: Some(cond), target: l };
                            encode_branch(&b, (target - (at + 2 + 4)) as i32, true)?.write(code);
                        }
                        _ => encode_branch(&insn, (target - (at + 4)) as i32, wide[i])?.write(code),
                    }
                }
            }
        }
        Ok(out)
    }
}
