//! Instruction classification: what the code hook needs to know about each instruction
//! to count it, cost it and check it against what silicon allows.

mod rv32;
mod thumb;

pub use rv32::classify as classify_rv32;
pub use thumb::{classify as classify_thumb, is_wide as thumb_is_wide};

/// Cost classes of the cycle table ([`crate::cycles`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InsnClass {
    /// Data processing, moves, compares, address generation, bit-field and extend.
    Alu,
    /// 32-bit result multiply (Thumb MUL, RV32 MUL).
    Mul,
    /// Multiply-accumulate with a 32-bit result (MLA, MLS, DSP MACs).
    MulAcc,
    /// 64-bit result multiply (UMULL/SMULL/UMLAL/SMLAL, RV32 MULH/MULHU/MULHSU).
    MulLong,
    /// Integer division and remainder.
    Div,
    /// Single load (any size).
    Load,
    /// Single store (any size).
    Store,
    /// Load of several registers (LDM, POP, LDRD).
    LoadMulti,
    /// Store of several registers (STM, PUSH, STRD).
    StoreMulti,
    /// Conditional branch (Thumb `B<cond>`, CBZ/CBNZ; RV32 `B*`, C.BEQZ/C.BNEZ).
    Branch,
    /// Unconditional control transfer: jumps, calls, returns, indirect branches.
    Jump,
    /// Atomic read-modify-write (RV32 A extension; Thumb exclusives count as loads/stores).
    Atomic,
    /// System, hint, barrier and CSR instructions, and anything not classified above.
    System,
}

impl InsnClass {
    /// Every class, in report order.
    pub const ALL: [InsnClass; 13] = [
        InsnClass::Alu,
        InsnClass::Mul,
        InsnClass::MulAcc,
        InsnClass::MulLong,
        InsnClass::Div,
        InsnClass::Load,
        InsnClass::Store,
        InsnClass::LoadMulti,
        InsnClass::StoreMulti,
        InsnClass::Branch,
        InsnClass::Jump,
        InsnClass::Atomic,
        InsnClass::System,
    ];

    /// A short lower-case name for reports.
    pub fn name(self) -> &'static str {
        match self {
            InsnClass::Alu => "alu",
            InsnClass::Mul => "mul",
            InsnClass::MulAcc => "mul-acc",
            InsnClass::MulLong => "mul-long",
            InsnClass::Div => "div",
            InsnClass::Load => "load",
            InsnClass::Store => "store",
            InsnClass::LoadMulti => "load-multi",
            InsnClass::StoreMulti => "store-multi",
            InsnClass::Branch => "branch",
            InsnClass::Jump => "jump",
            InsnClass::Atomic => "atomic",
            InsnClass::System => "system",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Instructions the emulator executes but the modelled silicon would fault on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Forbidden {
    /// A floating-point instruction (Arm cp10/cp11, RV32 F/D, or an FP CSR access).
    FloatingPoint,
    /// A non-FPU coprocessor instruction (Arm coprocessor space other than cp10/cp11).
    Coprocessor,
    /// An A-extension instruction (AMO*, LR.W, SC.W) on a core without it.
    Atomic,
    /// LDREXD/STREXD, which ARMv7-M does not have.
    ExclusiveDoubleword,
}

impl std::fmt::Display for Forbidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Forbidden::FloatingPoint => "a floating-point instruction",
            Forbidden::Coprocessor => "a coprocessor instruction",
            Forbidden::Atomic => "an A-extension (atomic) instruction",
            Forbidden::ExclusiveDoubleword => "LDREXD/STREXD, absent from ARMv7-M",
        })
    }
}

/// What the executor needs to know about one instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Cost class.
    pub class: InsnClass,
    /// Encoded length in bytes (2 or 4).
    pub len: u8,
    /// Registers transferred by a multiple load/store (LDRD/STRD count 2); 0 otherwise.
    pub regs: u8,
    /// Whether the instruction may transfer control, so its cost depends on whether the
    /// next executed instruction is the fall-through one.
    pub may_branch: bool,
    /// Alignment every data access of this instruction needs on silicon (1: none).
    pub align: u8,
    /// Set when the modelled core would fault on this instruction.
    pub forbidden: Option<Forbidden>,
    /// For instructions whose address is a register plus a constant and that Unicorn
    /// checks itself, raising a bare exception before any memory hook runs (the Arm
    /// exclusives): (base register, offset), so the executor can check the address first.
    pub address: Option<(u8, u32)>,
}

impl Decoded {
    pub(crate) const fn new(class: InsnClass, len: u8) -> Decoded {
        Decoded { class, len, regs: 0, may_branch: false, align: 1, forbidden: None, address: None }
    }

    pub(crate) const fn branching(mut self) -> Decoded {
        self.may_branch = true;
        self
    }

    pub(crate) const fn aligned(mut self, align: u8) -> Decoded {
        self.align = align;
        self
    }

    pub(crate) const fn multi(mut self, regs: u8) -> Decoded {
        self.regs = regs;
        self
    }

    pub(crate) const fn at(mut self, base: u8, offset: u32) -> Decoded {
        self.address = Some((base, offset));
        self
    }

    pub(crate) const fn forbid(mut self, why: Forbidden) -> Decoded {
        self.forbidden = Some(why);
        self
    }
}
