//! The verifier's working memory: one fixed-size entry per instruction
//! slot, provided by the caller so that the core never allocates.
//!
//! An entry is [`SCRATCH_BYTES_PER_SLOT`] bytes (30: five `u16`s and ten
//! `i16`s). Besides per-slot flags and the abstract register state at block
//! leaders, the `work`, `order` and `depth` fields double as arrays indexed
//! by position (worklist, call-graph order) rather than by slot: both are
//! bounded by the slot count, which is what keeps the extra memory bounded.

/// Frame-pointer state of a register: not derived from r10.
pub(crate) const FRAME_NONE: i16 = i16::MIN;
/// Frame-pointer state of a register: r10-derived on some path but not
/// as one known offset; any use other than a copy escapes tracking.
pub(crate) const FRAME_MIXED: i16 = i16::MIN + 1;
/// Smallest frame offset that can be tracked (the two values below are the
/// sentinels above).
pub(crate) const FRAME_MIN: i64 = i16::MIN as i64 + 2;
/// Largest trackable frame offset.
pub(crate) const FRAME_MAX: i64 = i16::MAX as i64;

pub(crate) mod flag {
    /// First slot of an instruction.
    pub const INSN: u16 = 1 << 0;
    /// Second slot of an `lddw`.
    pub const LDDW_HI: u16 = 1 << 1;
    /// First slot of a function.
    pub const FN_START: u16 = 1 << 2;
    /// First slot of a basic block.
    pub const LEADER: u16 = 1 << 3;
    /// Reached by the data-flow walk; on a leader, its stored state is valid.
    pub const REACHED: u16 = 1 << 4;
    /// The leader is on the worklist.
    pub const QUEUED: u16 = 1 << 5;
    /// Call-graph search: on the current path (function start slots).
    pub const GRAY: u16 = 1 << 6;
    /// Call-graph search: finished (function start slots).
    pub const BLACK: u16 = 1 << 7;
}

/// One slot's share of the verifier's working memory. Create buffers with
/// `[SlotScratch::EMPTY; N]` (N from [`scratch_len`]); contents on entry do
/// not matter, and after a successful run the accessors below describe the
/// program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotScratch {
    pub(crate) flags: u16,
    /// Registers initialised at this leader (bit n = rn).
    pub(crate) init: u16,
    pub(crate) work: u16,
    pub(crate) order: u16,
    /// On a function start: frames on the longest call chain ending in it.
    pub(crate) depth: u16,
    /// Frame-pointer state of r0..r9 at this leader.
    pub(crate) frame: [i16; 10],
}

/// Bytes of scratch the verifier needs per instruction slot.
pub const SCRATCH_BYTES_PER_SLOT: usize = core::mem::size_of::<SlotScratch>();

/// Entries of [`SlotScratch`] needed to verify a program of `slots` slots.
pub const fn scratch_len(slots: usize) -> usize {
    slots
}

impl SlotScratch {
    /// A cleared entry.
    pub const EMPTY: SlotScratch =
        SlotScratch { flags: 0, init: 0, work: 0, order: 0, depth: 0, frame: [FRAME_NONE; 10] };

    pub(crate) const fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    /// True if the slot is the first slot of an instruction.
    pub const fn is_insn(&self) -> bool {
        self.has(flag::INSN)
    }

    /// True if the slot starts a basic block (after a successful run).
    pub const fn is_leader(&self) -> bool {
        self.has(flag::LEADER)
    }

    /// True if the slot starts a function (after a successful run).
    pub const fn is_function_start(&self) -> bool {
        self.has(flag::FN_START)
    }

    /// True if some path from the entry executes this instruction (after a
    /// successful run).
    pub const fn is_reachable(&self) -> bool {
        self.has(flag::REACHED)
    }
}

impl Default for SlotScratch {
    fn default() -> Self {
        Self::EMPTY
    }
}
