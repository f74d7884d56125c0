//! What can be wrong with assembler text, and where.

use alloc::string::String;

/// Why a line does not assemble.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AsmErrorKind {
    /// No instruction has this name.
    #[error("invalid mnemonic `{0}`")]
    UnknownMnemonic(String),
    /// Too few or too many operands.
    #[error("`{mnemonic}` takes {expected} operand(s), found {found}")]
    OperandCount {
        /// The instruction as written.
        mnemonic: String,
        /// Operands it takes.
        expected: usize,
        /// Operands on the line.
        found: usize,
    },
    /// Not one of `%r0`..`%r10`.
    #[error("invalid register {0}")]
    InvalidRegister(String),
    /// Not a decimal or `0x` hexadecimal integer.
    #[error("invalid number `{0}`")]
    InvalidNumber(String),
    /// A 32-bit immediate outside -2^31..=2^32-1.
    #[error("immediate {0} does not fit in 32 bits")]
    Imm32OutOfRange(String),
    /// A 64-bit immediate outside -2^63..=2^64-1.
    #[error("immediate {0} does not fit in 64 bits")]
    Imm64OutOfRange(String),
    /// A memory or jump offset outside -32768..=32767.
    #[error("offset {0} does not fit in 16 signed bits")]
    OffsetOutOfRange(String),
    /// A memory operand not of the form `[%rN]`, `[%rN+OFF]` or `[%rN-OFF]`.
    #[error("invalid memory operand `{0}` (expected [%rN+OFFSET])")]
    InvalidMemoryOperand(String),
    /// An operand that fits none of the forms this instruction takes.
    #[error("invalid operand `{operand}` (expected {expected})")]
    InvalidOperand {
        /// The operand as written.
        operand: String,
        /// What the instruction takes there.
        expected: &'static str,
    },
    /// A label name that is not an identifier.
    #[error("invalid label name `{0}`")]
    InvalidLabel(String),
    /// A label defined twice.
    #[error("label `{0}` is defined more than once")]
    DuplicateLabel(String),
    /// A jump or call to a label nobody defines.
    #[error("undefined label `{0}`")]
    UndefinedLabel(String),
    /// A label too far away for the instruction's offset field.
    #[error("label `{label}` is {offset} slots away, beyond the reach of this instruction")]
    TargetOutOfRange {
        /// The label.
        label: String,
        /// Its distance from the next slot.
        offset: i64,
    },
    /// More slots than [`crate::MAX_INSNS`].
    #[error("the program exceeds {max} instruction slots", max = crate::MAX_INSNS)]
    TooLong,
    /// The text holds no instruction.
    #[error("the program has no instructions")]
    Empty,
}

/// An assembler error with the line it is about.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct AsmError {
    /// 1-based line number in the assembled text.
    pub line: usize,
    /// The offending line, trimmed (empty for errors about the whole text).
    pub text: String,
    /// What is wrong.
    pub kind: AsmErrorKind,
}

impl AsmError {
    /// The same error with its line number counted from `first_line`
    /// instead of 1, for text cut out of a larger file.
    pub fn at_line_offset(mut self, first_line: usize) -> Self {
        self.line = self.line.saturating_add(first_line.saturating_sub(1));
        self
    }
}
