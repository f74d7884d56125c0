//! Why a program was rejected, and where.

use crate::decode::DecodeError;
use crate::insn::Reg;

/// A rejected program: the slot at fault and the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("pc {pc}: {kind}")]
pub struct VerifyError {
    /// Slot index of the offending instruction (0 for whole-program problems).
    pub pc: usize,
    /// What is wrong.
    pub kind: VerifyErrorKind,
}

impl VerifyError {
    pub(crate) const fn new(pc: usize, kind: VerifyErrorKind) -> Self {
        VerifyError { pc, kind }
    }
}

/// The reasons a program can be rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyErrorKind {
    /// No instruction at all.
    #[error("the program is empty")]
    Empty,
    /// More slots than [`crate::MAX_INSNS`].
    #[error("{0} instruction slots exceed the limit of {max}", max = crate::MAX_INSNS)]
    TooLong(usize),
    /// The caller's scratch buffer has fewer entries than the program has slots.
    #[error("scratch buffer holds {given} entries, the program needs {needed}")]
    ScratchTooSmall {
        /// Entries needed (see `scratch_len`).
        needed: usize,
        /// Entries given.
        given: usize,
    },
    /// The caller's function table is shorter than the number of functions.
    #[error("function table holds {given} entries, the program has at least {needed} functions")]
    TooManyFunctions {
        /// Functions found so far (a lower bound on what is needed).
        needed: usize,
        /// Entries given.
        given: usize,
    },
    /// A slot is not a valid instruction.
    #[error("{0}")]
    Decode(DecodeError),
    /// `callx` (call through a register).
    #[error("callx is not supported")]
    CallxUnsupported,
    /// An instruction writes the read-only frame pointer.
    #[error("r10 is read-only")]
    WriteToR10,
    /// A helper id the host does not provide.
    #[error("unknown helper {0}")]
    UnknownHelper(u32),
    /// `lddw` src 6 names a data region the program does not have.
    #[error("data region {region} does not exist (the program has {count})")]
    NoSuchDataRegion {
        /// Region index named by the instruction.
        region: u32,
        /// Number of regions.
        count: usize,
    },
    /// `lddw` src 6 with an offset past the end of its region.
    #[error("offset {offset} lies outside data region {region} of {size} bytes")]
    DataOffsetOutOfRange {
        /// Region index.
        region: u32,
        /// Offset named by the instruction.
        offset: u32,
        /// Size of the region.
        size: u32,
    },
    /// A local call whose target lies outside the program.
    #[error("call target {0} lies outside the program")]
    CallOutOfProgram(i64),
    /// A local call into the second slot of an `lddw`.
    #[error("call target {0} is the second slot of an lddw")]
    CallIntoLddw(i64),
    /// A jump whose target lies outside the program.
    #[error("jump target {0} lies outside the program")]
    JumpOutOfProgram(i64),
    /// A jump into the second slot of an `lddw`.
    #[error("jump target {0} is the second slot of an lddw")]
    JumpIntoLddw(i64),
    /// A jump to another function.
    #[error("jump target {target} lies outside the function at {function}")]
    JumpOutOfFunction {
        /// The jump's target slot.
        target: i64,
        /// First slot of the function holding the jump.
        function: u32,
    },
    /// Execution can run past the last instruction of a function.
    #[error("execution falls off the end of the function at {0}")]
    FallsOffFunction(u32),
    /// A cycle in the local call graph; the error's pc is the call closing it.
    #[error("recursive call to the function at {0}")]
    Recursion(u32),
    /// A call chain with more frames than allowed (the entry counts as one).
    #[error("call chain of {frames} frames exceeds the limit of {max}")]
    CallTooDeep {
        /// Frames of the chain this call makes.
        frames: u32,
        /// `max_call_depth` of the configuration.
        max: u32,
    },
    /// A register read that is not written on every path to it.
    #[error("{0} is read before it is written on some path")]
    UninitRegister(Reg),
    /// A frame access touching bytes at or above r10.
    #[error("access above the frame (r10{offset:+}, {size} bytes)")]
    AccessAboveFrame {
        /// Offset of the first byte relative to r10.
        offset: i32,
        /// Access size in bytes.
        size: u32,
    },
    /// A frame access touching bytes below the whole stack.
    #[error("access below the stack (r10{offset:+}, stack of {stack_size} bytes)")]
    AccessBelowStack {
        /// Offset of the first byte relative to r10.
        offset: i32,
        /// Configured stack size.
        stack_size: u32,
    },
    /// A local call from a function whose frame pointer escaped tracking
    /// (such a function takes the rest of the stack, leaving none for callees).
    #[error("local call from a function whose frame pointer escapes tracking")]
    CallFromUntrackedFrame,
    /// The call tree needs more stack than configured; the pc is the
    /// start of the function whose frame ends deepest.
    #[error("call tree needs {needed} bytes of stack, {available} available")]
    StackOverflow {
        /// Bytes needed down to the end of this function's frame.
        needed: u32,
        /// Configured stack size.
        available: u32,
    },
}
