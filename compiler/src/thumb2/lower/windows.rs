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
//! The entry fills each window with one call of the runtime routine
//! `fill_window` (see `femtoc_runtime::abi::window`): three instructions a
//! window instead of the twenty to thirty it takes to find, test and
//! measure a region inline, which every program would carry.

use femtoc_runtime::abi::{self, routine_offset};

use super::super::insn::{Compare, Cond, DpOp, Label, Reg, Thumb2Insn as I};
use super::{dp, Any, CheckSite, Cold, Lowerer};

use Reg as R;

/// Frame words per window: the start and seven counts.
const WORDS: u32 = abi::window::WORDS as u32;

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
        self.window_compare(site.addr, (R::R0, R::R1), (slot, count), site.entry);
        site.resume = self.asm.label();
        self.asm.bind(site.resume);
        self.cold.push(Cold::Check(site));
    }

    /// Branches to `miss` unless `addr`'s offset from the window start at
    /// frame offset `words.0` is below the count at `words.1`; clobbers
    /// the two `scratch` registers.
    pub(super) fn window_compare(
        &mut self,
        addr: Reg,
        scratch: (Reg, Reg),
        words: (u32, u32),
        miss: Label,
    ) {
        let (offset, count) = scratch;
        self.ldr(offset, R::SP, words.0);
        self.e(dp(DpOp::Sub, Any, offset, addr, offset));
        self.ldr(count, R::SP, words.1);
        self.e(I::CmpReg { kind: Compare::Cmp, rn: offset, rm: count });
        self.e(I::B { cond: Some(Cond::Hs), target: miss });
    }

    /// Fills every window through the runtime's `fill_window`, one call
    /// each; r0 holds the context (the routine returns it). Clobbers r1..r4,
    /// r12 and lr, so it runs before the eBPF registers are set up.
    pub(super) fn fill_windows(&mut self) {
        if self.windows.is_empty() {
            return;
        }
        // r4 is callee-saved: the routine's address survives the calls.
        self.ldr(R::R4, R::R0, abi::OFF_ROUTINES);
        self.ldr(R::R4, R::R4, routine_offset::FILL_WINDOW);
        let calls: Vec<(u32, u32)> =
            self.windows.iter().map(|w| (w.slot, w.descriptor())).collect();
        for (slot, desc) in calls {
            self.e(I::AddSpImm { rd: R::R1, imm: slot });
            self.imm(R::R2, desc, true);
            self.e(I::Blx { rm: R::R4 });
        }
    }
}

impl Window {
    /// The routine's descriptor of this window. An index that does not fit
    /// names no entry, which leaves the window unusable (every check takes
    /// the exact slow path) rather than wrong.
    fn descriptor(&self) -> u32 {
        let (index, data) = match self.region {
            Target::Entry(e) => (e, false),
            Target::Data(n) => (n, true),
        };
        abi::window::descriptor(
            u8::try_from(index).unwrap_or(u8::MAX),
            data,
            self.write,
            self.sizes,
        )
    }
}
