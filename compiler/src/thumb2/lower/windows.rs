//! Memory-check windows: the bounds an inline check compares against.
//!
//! A window is one region's bounds for one kind of access (read or write),
//! read from the region table once at entry (the table does not change
//! during a run) into eight frame words: the region's start, then for each
//! access size 1, 2, 4, .., 64 the number of offsets from the start at which
//! such an access may begin (`len - size + 1`). An inline check passes iff
//! `address - start < count`, unsigned and modulo 2^32: one subtraction and
//! one compare, since an address below the start wraps to a large offset.
//! Only the sizes the code uses are filled. A window that cannot be used
//! (no such region, no permission, a region that wraps, or one shorter than
//! the widest size) gets counts 0, which no address passes, so its checks
//! all go to the slow path.
//!
//! The entry fills the windows inline when they cover at most
//! [`INLINE_REGIONS`] regions, finding each region once for all its
//! windows (a region read and written has two); with more, one shared
//! routine called once per window is smaller (five instructions a window
//! against about twenty to thirty).

use femtoc_runtime::abi;

use super::super::insn::{Compare, Cond, DpOp, Label, Reg, Shift, Thumb2Insn as I};
use super::{dp, Any, CheckSite, Cold, Lowerer, Set};

use Reg as R;

/// Frame words per window: the start and seven counts.
const WORDS: u32 = 8;

/// Up to this many regions the entry fills their windows inline.
const INLINE_REGIONS: usize = 2;

/// The region a check expects an access to hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// This entry of the region table (0: the stack, 1: the context).
    Entry(u32),
    /// The table entry that starts at data region `n`'s base.
    Data(u32),
}

/// One window of the program.
pub(super) struct Window {
    region: Target,
    write: bool,
    /// Frame offset of the start word.
    slot: u32,
    /// Bit `i` set: the count for `2^i`-byte accesses is used.
    sizes: u32,
}

impl Lowerer<'_> {
    /// The frame offsets of the start and of the count for `size`-byte
    /// accesses (a power of two up to 64) of the window for (`region`,
    /// `write`), made on first use.
    pub(super) fn window(&mut self, region: Target, write: bool, size: u32) -> (u32, u32) {
        let log = size.trailing_zeros().min(WORDS - 2);
        let i = match self.windows.iter().position(|w| w.region == region && w.write == write) {
            Some(i) => i,
            None => {
                let slot = self.map.fixed + 4 * self.window_words;
                self.window_words += WORDS;
                self.windows.push(Window { region, write, slot, sizes: 0 });
                self.windows.len() - 1
            }
        };
        let w = &mut self.windows[i];
        w.sizes |= 1 << log;
        (w.slot, w.slot + 4 + 4 * log)
    }

    /// The window part of a check: `site.addr`'s offset from the start of
    /// the likeliest region's window against the count for its size.
    /// Clobbers r0 and r1 (the address is computed before any operand).
    pub(super) fn window_check(&mut self, mut site: CheckSite, region: Target) {
        let (slot, count) = self.window(region, site.write, site.size);
        self.ldr(R::R0, R::SP, slot);
        self.e(dp(DpOp::Sub, Any, R::R0, site.addr, R::R0));
        self.ldr(R::R1, R::SP, count);
        self.e(I::CmpReg { kind: Compare::Cmp, rn: R::R0, rm: R::R1 });
        self.e(I::B { cond: Some(Cond::Hs), target: site.entry });
        site.resume = self.asm.label();
        self.asm.bind(site.resume);
        self.cold.push(Cold::Check(site));
    }

    /// True if the windows are filled by the shared routine.
    pub(super) fn windows_shared(&self) -> bool {
        let mut regions: Vec<Target> = self.windows.iter().map(|w| w.region).collect();
        regions.sort_by_key(|t| match *t {
            Target::Entry(e) => (0, e),
            Target::Data(n) => (1, n),
        });
        regions.dedup();
        regions.len() > INLINE_REGIONS
    }

    /// Fills every window; r0 holds the context. Clobbers r1..r8, r12 and
    /// lr, so it runs before the eBPF registers are set up.
    pub(super) fn fill_windows(&mut self) {
        let shared = self.windows_shared();
        let mut windows = core::mem::take(&mut self.windows);
        while let Some(first) = windows.first() {
            let region = first.region;
            let (group, rest): (Vec<Window>, Vec<Window>) =
                windows.into_iter().partition(|w| w.region == region);
            windows = rest;
            if shared {
                for w in &group {
                    self.window_call(w);
                }
            } else {
                self.window_group_inline(&group);
            }
        }
    }

    /// One call of the shared routine for `w`.
    fn window_call(&mut self, w: &Window) {
        let perm = if w.write { abi::REGION_WRITE } else { abi::REGION_READ };
        self.imm(R::R1, perm, true);
        self.imm(R::R2, w.slot, true);
        self.imm(R::R3, w.sizes, true);
        let (index, routine) = match w.region {
            Target::Entry(e) => (e, self.shared.window_entry),
            Target::Data(n) => (n, self.shared.window_data),
        };
        self.imm(R::R12, index, true);
        self.e(I::Bl { target: routine });
    }

    /// Fills the windows of one region inline: the region is found once,
    /// then each window checks its permission and widest size. r1..r5 are
    /// scratch (low registers: narrow loads from the region table).
    fn window_group_inline(&mut self, group: &[Window]) {
        let Some(first) = group.first() else { return };
        let none = self.asm.label();
        let done = self.asm.label();
        let at = match first.region {
            Target::Entry(e) => {
                self.ldr(R::R1, R::R0, abi::OFF_REGION_COUNT);
                self.e(I::CmpImm { kind: Compare::Cmp, rn: R::R1, imm: e });
                self.e(I::B { cond: Some(Cond::Ls), target: none });
                self.ldr(R::R5, R::R0, abi::OFF_REGIONS);
                24 * e
            }
            Target::Data(n) => {
                // Search the table for the entry starting at the data
                // region's base; r5 ends on it.
                let search = self.asm.label();
                let found = self.asm.label();
                self.ldr(R::R5, R::R0, abi::OFF_DATA_BASES);
                self.ldr(R::R2, R::R5, 8 * n);
                self.ldr(R::R1, R::R0, abi::OFF_REGION_COUNT);
                self.ldr(R::R5, R::R0, abi::OFF_REGIONS);
                self.asm.bind(search);
                self.e(I::DpImm { op: DpOp::Sub, s: Set, rd: R::R1, rn: R::R1, imm: 1 });
                self.e(I::B { cond: Some(Cond::Lo), target: none });
                self.ldr(R::R3, R::R5, 0);
                self.e(I::CmpReg { kind: Compare::Cmp, rn: R::R3, rm: R::R2 });
                self.e(I::B { cond: Some(Cond::Eq), target: found });
                self.e(I::DpImm { op: DpOp::Add, s: Any, rd: R::R5, rn: R::R5, imm: 24 });
                self.e(I::B { cond: None, target: search });
                self.asm.bind(found);
                0
            }
        };
        // r2 start, r3 length, r4 permissions. Low words suffice: on a
        // 32-bit target every region lies below 2^32 and holds no byte at
        // 0xFFFF_FFFF (native ABI), so start + length cannot wrap.
        self.ldr(R::R2, R::R5, at);
        self.ldr(R::R3, R::R5, at + 8);
        self.ldr(R::R4, R::R5, at + 16);
        // A lone window shares the region's refusal path.
        let lone = group.len() == 1;
        for w in group {
            let refused = if lone { none } else { self.asm.label() };
            let next = self.asm.label();
            let perm = if w.write { abi::REGION_WRITE } else { abi::REGION_READ };
            self.e(I::CmpImm { kind: Compare::Tst, rn: R::R4, imm: perm });
            self.e(I::B { cond: Some(Cond::Eq), target: refused });
            let widest = 1 << Self::used_sizes(w).max().unwrap_or(0);
            self.e(I::CmpImm { kind: Compare::Cmp, rn: R::R3, imm: widest });
            self.e(I::B { cond: Some(Cond::Lo), target: refused });
            self.str(R::R2, R::SP, w.slot);
            for i in Self::used_sizes(w) {
                // len - size + 1 offsets.
                let imm = (1 << i) - 1;
                self.e(I::DpImm { op: DpOp::Sub, s: Any, rd: R::R1, rn: R::R3, imm });
                self.str(R::R1, R::SP, w.slot + 4 + 4 * i);
            }
            if !lone {
                self.e(I::B { cond: None, target: next });
                self.asm.bind(refused);
                self.window_zero(w);
                self.asm.bind(next);
            }
        }
        self.e(I::B { cond: None, target: done });
        self.asm.bind(none);
        for w in group {
            self.window_zero(w);
        }
        self.asm.bind(done);
    }

    /// The sizes (as powers of two) whose counts `w` uses.
    fn used_sizes(w: &Window) -> impl Iterator<Item = u32> + Clone {
        let sizes = w.sizes;
        (0..WORDS - 1).filter(move |i| sizes & (1 << i) != 0)
    }

    /// Counts 0 for every size `w` uses: no address passes.
    fn window_zero(&mut self, w: &Window) {
        self.imm(R::R1, 0, true);
        for i in Self::used_sizes(w) {
            self.str(R::R1, R::SP, w.slot + 4 + 4 * i);
        }
    }

    /// The shared routine behind [`Lowerer::window_call`]. In: r0 context,
    /// r1 permission bit, r2 frame offset of the window (sp is the frame's
    /// while it runs), r3 the sizes to fill, r12 the table entry
    /// (`window_entry`) or data region (`window_data`).
    pub(super) fn window_routine(&mut self) {
        let (search, found, fill, next, none) = (
            self.asm.label(),
            self.asm.label(),
            self.asm.label(),
            self.asm.label(),
            self.asm.label(),
        );
        let entry_point = |this: &mut Self, label: Label| {
            this.asm.bind(label);
            // r8 = the window's address.
            this.e(I::Mov { rd: R::R8, rm: R::SP });
            this.e(dp(DpOp::Add, Any, R::R8, R::R8, R::R2));
            this.ldr(R::R4, R::R0, abi::OFF_REGION_COUNT);
            this.ldr(R::R5, R::R0, abi::OFF_REGIONS);
        };
        // window_data: find the entry that starts at data base r12.
        entry_point(self, self.shared.window_data);
        self.ldr(R::R6, R::R0, abi::OFF_DATA_BASES);
        self.e(I::DpReg {
            op: DpOp::Add,
            s: Any,
            rd: R::R6,
            rn: R::R6,
            rm: R::R12,
            shift: Shift::Lsl,
            amount: 3,
        });
        self.ldr(R::R6, R::R6, 0);
        self.asm.bind(search);
        self.e(I::DpImm { op: DpOp::Sub, s: Set, rd: R::R4, rn: R::R4, imm: 1 });
        self.e(I::B { cond: Some(Cond::Lo), target: none });
        self.ldr(R::R7, R::R5, 0);
        self.e(I::CmpReg { kind: Compare::Cmp, rn: R::R7, rm: R::R6 });
        self.e(I::B { cond: Some(Cond::Eq), target: found });
        self.e(I::DpImm { op: DpOp::Add, s: Any, rd: R::R5, rn: R::R5, imm: 24 });
        self.e(I::B { cond: None, target: search });
        // window_entry: table entry r12, if the table has it.
        entry_point(self, self.shared.window_entry);
        self.e(I::CmpReg { kind: Compare::Cmp, rn: R::R4, rm: R::R12 });
        self.e(I::B { cond: Some(Cond::Ls), target: none });
        self.imm(R::R6, 24, true);
        self.e(I::Mla { sub: false, rd: R::R5, rn: R::R12, rm: R::R6, ra: R::R5 });
        // r5 = the entry: permission, then start and length (low words
        // only: on a 32-bit target regions lie below 2^32 and hold no byte
        // at 0xFFFF_FFFF, so start + length cannot wrap).
        self.asm.bind(found);
        self.ldr(R::R6, R::R5, 16);
        self.e(I::CmpReg { kind: Compare::Tst, rn: R::R6, rm: R::R1 });
        self.e(I::B { cond: Some(Cond::Eq), target: none });
        self.ldr(R::R6, R::R5, 0);
        self.ldr(R::R7, R::R5, 8);
        self.str(R::R6, R::R8, 0);
        // r7 = len + 1 (a length of 2^32 - 1 gets no window).
        self.e(I::DpImm { op: DpOp::Add, s: Set, rd: R::R7, rn: R::R7, imm: 1 });
        self.e(I::B { cond: Some(Cond::Hs), target: none });
        // One count per size bit, r2 walking the count words.
        self.e(I::Mov { rd: R::R2, rm: R::R8 });
        self.imm(R::R6, 1, true);
        self.asm.bind(fill);
        self.e(I::DpImm { op: DpOp::Add, s: Any, rd: R::R2, rn: R::R2, imm: 4 });
        self.e(I::ShiftImm { kind: Shift::Lsr, s: Set, rd: R::R3, rm: R::R3, amount: 1 });
        self.e(I::B { cond: Some(Cond::Lo), target: next });
        self.e(dp(DpOp::Sub, Set, R::R4, R::R7, R::R6));
        self.e(I::B { cond: Some(Cond::Lo), target: none });
        self.str(R::R4, R::R2, 0);
        self.asm.bind(next);
        self.e(I::ShiftImm { kind: Shift::Lsl, s: Any, rd: R::R6, rm: R::R6, amount: 1 });
        self.e(I::CmpImm { kind: Compare::Cmp, rn: R::R3, imm: 0 });
        self.e(I::B { cond: Some(Cond::Ne), target: fill });
        self.e(I::Bx { rm: R::LR });
        self.asm.bind(none);
        self.imm(R::R4, 0, true);
        for i in 1..WORDS {
            self.str(R::R4, R::R8, 4 * i);
        }
        self.e(I::Bx { rm: R::LR });
    }
}
