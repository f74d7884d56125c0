//! Errors of the executor.

use crate::classify::Forbidden;
use crate::Core;

/// The error a trap callback returns to stop the emulation; any error type fits.
pub type TrapError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why setting up or running emulated code failed.
#[derive(Debug, thiserror::Error)]
pub enum EmuError {
    /// Unicorn refused an operation outside of a run (engine creation, mapping, registers).
    #[error("{what} failed: Unicorn error {code:?}")]
    Unicorn {
        /// The operation.
        what: String,
        /// Unicorn's error code.
        code: unicorn_engine::uc_error,
    },
    /// A region cannot be mapped as asked.
    #[error("cannot map {size:#x} bytes at {addr:#010x}: {reason}")]
    Map {
        /// Start address.
        addr: u64,
        /// Size in bytes.
        size: u64,
        /// Why not.
        reason: String,
    },
    /// A host read or write of emulated memory hit an unmapped address.
    #[error("host access of {len} bytes at {addr:#010x} is outside mapped memory")]
    HostAccess {
        /// Start address.
        addr: u64,
        /// Length in bytes.
        len: usize,
    },
    /// A trap address is outside the trap page, misaligned, the return slot, or taken.
    #[error("cannot install a trap at {addr:#010x}: {reason}")]
    TrapAddress {
        /// The address asked for.
        addr: u32,
        /// Why not.
        reason: &'static str,
    },
    /// The called code returned with a register the C ABI says it must
    /// preserve changed.
    #[error("ABI violation: the call returned with callee-saved register x{reg} = {found:#010x}, not {expected:#010x}")]
    CalleeSaved {
        /// Register number (r0..r15 on Arm, x0..x31 on RISC-V).
        reg: u8,
        /// Its value at the call.
        expected: u32,
        /// Its value at the return.
        found: u32,
    },
    /// More arguments than the stack can hold.
    #[error("{count} call arguments do not fit the {size}-byte stack")]
    TooManyArgs {
        /// Arguments passed.
        count: usize,
        /// Stack size in bytes.
        size: u32,
    },
    /// A data access to unmapped memory or against the region's permissions.
    #[error("{} of {addr:#010x} at pc {pc:#010x} faults (unmapped or protected)", if *write { "write" } else { "read" })]
    MemoryFault {
        /// The accessed address.
        addr: u64,
        /// The instruction that accessed it.
        pc: u32,
        /// Whether it was a write.
        write: bool,
    },
    /// Execution reached unmapped or non-executable memory.
    #[error("instruction fetch from {addr:#010x} faults (unmapped or not executable)")]
    FetchFault {
        /// The fetch address.
        addr: u64,
    },
    /// The core does not decode the instruction.
    #[error("invalid instruction at pc {pc:#010x}")]
    InvalidInstruction {
        /// Its address.
        pc: u32,
    },
    /// Silicon would fault on a misaligned access that the emulator allows.
    #[error("misaligned {size}-byte {} of {addr:#010x} at pc {pc:#010x}: {core} needs {align}-byte alignment here", if *write { "write" } else { "read" })]
    Misaligned {
        /// The core.
        core: Core,
        /// The instruction.
        pc: u32,
        /// The accessed address.
        addr: u64,
        /// Access size in bytes.
        size: usize,
        /// Alignment the instruction needs.
        align: u8,
        /// Whether it was a write.
        write: bool,
    },
    /// Silicon lacks the instruction, though the emulator runs it.
    #[error("pc {pc:#010x}: instruction {insn:#x} is {kind}, which {core} does not have")]
    Forbidden {
        /// The core.
        core: Core,
        /// The instruction's address.
        pc: u32,
        /// Its encoding (first halfword in the low bits for Thumb-2).
        insn: u32,
        /// What it is.
        kind: Forbidden,
    },
    /// The CPU raised an exception (SVC, BKPT, ECALL, EBREAK, a usage fault, ...).
    #[error("cpu exception {intno} at pc {pc:#010x}")]
    Exception {
        /// Unicorn's interrupt number for the architecture.
        intno: u32,
        /// The pc when it was raised.
        pc: u32,
    },
    /// The run exceeded its instruction budget.
    #[error("instruction limit of {limit} reached at pc {pc:#010x}")]
    InstructionLimit {
        /// The limit.
        limit: u64,
        /// The next instruction that would have run.
        pc: u32,
    },
    /// Code jumped to an address of the trap page where no trap is installed.
    #[error("jump to {addr:#010x} in the trap page, where no trap is installed (return address {return_to:#010x})")]
    UnknownTrap {
        /// The address.
        addr: u32,
        /// The caller's return address (lr / ra).
        return_to: u32,
    },
    /// A trap callback stopped the run.
    #[error("trap at {addr:#010x} stopped the run: {source}")]
    Trap {
        /// The trap address.
        addr: u32,
        /// The callback's error.
        source: TrapError,
    },
    /// The run stopped without returning and without a recorded cause.
    #[error("emulation stopped at pc {pc:#010x} without returning: Unicorn error {code:?}")]
    Stopped {
        /// The pc where it stopped.
        pc: u32,
        /// Unicorn's error code, `OK` if it stopped cleanly.
        code: unicorn_engine::uc_error,
    },
}

impl EmuError {
    pub(crate) fn unicorn(what: impl Into<String>, code: unicorn_engine::uc_error) -> EmuError {
        EmuError::Unicorn { what: what.into(), code }
    }

    /// The error for a failure to install the `what` hook.
    pub(crate) fn hook(what: &str) -> impl FnOnce(unicorn_engine::uc_error) -> EmuError {
        let what = format!("installing the {what} hook");
        move |e| EmuError::unicorn(what, e)
    }

    /// What Unicorn's `outcome` of a call means once no hook recorded an error: success if
    /// it stopped cleanly `at_return` address, else why it stopped at `pc`.
    pub(crate) fn check_stop(
        outcome: Result<(), unicorn_engine::uc_error>,
        pc: u32,
        at_return: bool,
    ) -> Result<(), EmuError> {
        match outcome {
            Ok(()) if at_return => Ok(()),
            Ok(()) => Err(EmuError::Stopped { pc, code: unicorn_engine::uc_error::OK }),
            Err(unicorn_engine::uc_error::INSN_INVALID) => Err(EmuError::InvalidInstruction { pc }),
            Err(code) => Err(EmuError::Stopped { pc, code }),
        }
    }

    /// The fault for an access of `kind` to `addr` that Unicorn found unmapped or
    /// forbidden, by the instruction at `pc`.
    pub(crate) fn invalid_access(kind: unicorn_engine::MemType, addr: u64, pc: u32) -> EmuError {
        use unicorn_engine::MemType;
        match kind {
            MemType::FETCH_UNMAPPED | MemType::FETCH_PROT => EmuError::FetchFault { addr },
            MemType::WRITE_UNMAPPED | MemType::WRITE_PROT => {
                EmuError::MemoryFault { addr, pc, write: true }
            }
            _ => EmuError::MemoryFault { addr, pc, write: false },
        }
    }
}
