//! How a run ends: its outcome, or the error with the eBPF pc it stopped at.

/// Why a run stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunErrorKind {
    /// An access outside every region, without the needed permission, or
    /// (for atomics, reported as writes) not naturally aligned.
    #[error("memory fault: {kind} of {size} byte(s) at {addr:#x}", kind = if *write { "write" } else { "read" })]
    MemoryFault {
        /// First byte of the access.
        addr: u64,
        /// Bytes accessed.
        size: u32,
        /// True for stores and atomics.
        write: bool,
    },
    /// The budget of backward jumps and local calls ran out.
    #[error("budget exhausted")]
    BudgetExhausted,
    /// A helper refused its arguments.
    #[error("helper {id:#x} failed with code {code}")]
    HelperFailed {
        /// Helper id.
        id: u32,
        /// Helper-specific code (see `helpers::fail`).
        code: u32,
    },
    /// A helper the host does not provide (a verified program never gets here:
    /// loading rejects it).
    #[error("helper {id:#x} is not provided by the host")]
    UnknownHelper {
        /// Helper id.
        id: u32,
    },
    /// The context is shorter than the program's proven minimum; refused
    /// before running.
    #[error("context of {got} byte(s) is shorter than the {needed} the program needs")]
    ContextTooShort {
        /// `VerifiedRef::min_ctx_len`.
        needed: u32,
        /// The context length given (r2).
        got: u64,
    },
    /// Code the verifier would have rejected (unknown opcode, pc out of the
    /// program, call depth over the limit, missing data region). Defensive:
    /// the interpreter never panics on such input.
    #[error("invalid program: {0}")]
    InvalidProgram(&'static str),
}

/// A run that stopped early, at eBPF pc `pc` (instruction-slot index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at pc {pc}: {kind}")]
pub struct RunError {
    /// Slot index of the instruction that stopped the run.
    pub pc: u32,
    /// What happened.
    pub kind: RunErrorKind,
    /// Budget events consumed before the stop (backward jumps taken plus
    /// local calls), as [`RunOutcome::budget_used`] counts them; 0 when
    /// the run was refused before it started.
    pub budget_used: u64,
}

/// A run that ended with `exit` from the entry function or a helper's stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// The program's result.
    pub r0: u64,
    /// Budget events consumed (backward jumps taken plus local calls).
    pub budget_used: u64,
    /// eBPF instructions started (`lddw` counts once).
    pub insns_executed: u64,
}
