//! What a Thumb-2 instruction *is*: the machine instructions the backend
//! emits, with typed operands. How they become bytes is [`super::encode`].

use core::fmt;

/// A core register, `r0`..`r15`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

impl Reg {
    /// r0
    pub const R0: Reg = Reg(0);
    /// r1
    pub const R1: Reg = Reg(1);
    /// r2
    pub const R2: Reg = Reg(2);
    /// r3
    pub const R3: Reg = Reg(3);
    /// r4
    pub const R4: Reg = Reg(4);
    /// r5
    pub const R5: Reg = Reg(5);
    /// r6
    pub const R6: Reg = Reg(6);
    /// r7
    pub const R7: Reg = Reg(7);
    /// r8
    pub const R8: Reg = Reg(8);
    /// r9 (platform register; the backend never touches it)
    pub const R9: Reg = Reg(9);
    /// r10
    pub const R10: Reg = Reg(10);
    /// r11
    pub const R11: Reg = Reg(11);
    /// r12 (ip)
    pub const R12: Reg = Reg(12);
    /// Stack pointer.
    pub const SP: Reg = Reg(13);
    /// Link register.
    pub const LR: Reg = Reg(14);
    /// Program counter.
    pub const PC: Reg = Reg(15);

    /// The register numbered `n` (0..=15).
    pub const fn new(n: u8) -> Option<Reg> {
        if n < 16 {
            Some(Reg(n))
        } else {
            None
        }
    }

    /// Its number.
    pub const fn num(self) -> u8 {
        self.0
    }

    /// True for r0..r7, which 16-bit encodings can name.
    pub const fn is_low(self) -> bool {
        self.0 < 8
    }

    /// Its bit in a PUSH/POP register list.
    pub const fn bit(self) -> u16 {
        1 << self.0
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            13 => f.write_str("sp"),
            14 => f.write_str("lr"),
            15 => f.write_str("pc"),
            n => write!(f, "r{n}"),
        }
    }
}

/// Condition codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// Equal (Z).
    Eq = 0,
    /// Not equal.
    Ne = 1,
    /// Carry set / unsigned >=.
    Hs = 2,
    /// Carry clear / unsigned <.
    Lo = 3,
    /// Negative.
    Mi = 4,
    /// Positive or zero.
    Pl = 5,
    /// Overflow.
    Vs = 6,
    /// No overflow.
    Vc = 7,
    /// Unsigned >.
    Hi = 8,
    /// Unsigned <=.
    Ls = 9,
    /// Signed >=.
    Ge = 10,
    /// Signed <.
    Lt = 11,
    /// Signed >.
    Gt = 12,
    /// Signed <=.
    Le = 13,
}

impl Cond {
    /// The 4-bit field.
    pub const fn bits(self) -> u32 {
        self as u32
    }

    /// The opposite condition.
    pub const fn invert(self) -> Cond {
        match self {
            Cond::Eq => Cond::Ne,
            Cond::Ne => Cond::Eq,
            Cond::Hs => Cond::Lo,
            Cond::Lo => Cond::Hs,
            Cond::Mi => Cond::Pl,
            Cond::Pl => Cond::Mi,
            Cond::Vs => Cond::Vc,
            Cond::Vc => Cond::Vs,
            Cond::Hi => Cond::Ls,
            Cond::Ls => Cond::Hi,
            Cond::Ge => Cond::Lt,
            Cond::Lt => Cond::Ge,
            Cond::Gt => Cond::Le,
            Cond::Le => Cond::Gt,
        }
    }
}

/// Whether a data-processing instruction updates the flags. Outside IT
/// blocks the 16-bit encodings always set them, so `Any` lets the encoder
/// pick a 16-bit form where the flags are dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetFlags {
    /// Must set N, Z, C, V (the `s` suffix).
    Set,
    /// Must leave the flags alone.
    Keep,
    /// Flags are dead: either is fine.
    Any,
}

/// Data-processing operations with a register or modified-immediate operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DpOp {
    /// `rd = rn & op2`
    And,
    /// `rd = rn & !op2`
    Bic,
    /// `rd = rn | op2`
    Orr,
    /// `rd = rn | !op2`
    Orn,
    /// `rd = rn ^ op2`
    Eor,
    /// `rd = rn + op2`
    Add,
    /// `rd = rn + op2 + C`
    Adc,
    /// `rd = rn - op2 - !C`
    Sbc,
    /// `rd = rn - op2`
    Sub,
    /// `rd = op2 - rn`
    Rsb,
}

/// Shift kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shift {
    /// Logical left.
    Lsl,
    /// Logical right.
    Lsr,
    /// Arithmetic right.
    Asr,
    /// Rotate right.
    Ror,
}

/// Access kinds of loads and stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemOp {
    /// LDR (word).
    Ldr,
    /// LDRH (zero-extended halfword).
    Ldrh,
    /// LDRB (zero-extended byte).
    Ldrb,
    /// LDRSH.
    Ldrsh,
    /// LDRSB.
    Ldrsb,
    /// STR.
    Str,
    /// STRH.
    Strh,
    /// STRB.
    Strb,
}

impl MemOp {
    /// True for STR, STRH and STRB.
    pub const fn is_store(self) -> bool {
        matches!(self, MemOp::Str | MemOp::Strh | MemOp::Strb)
    }

    /// Access size in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            MemOp::Ldr | MemOp::Str => 4,
            MemOp::Ldrh | MemOp::Ldrsh | MemOp::Strh => 2,
            MemOp::Ldrb | MemOp::Ldrsb | MemOp::Strb => 1,
        }
    }
}

/// Extend/byte-reverse operations on one register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// Zero-extend the low byte.
    Uxtb,
    /// Zero-extend the low halfword.
    Uxth,
    /// Sign-extend the low byte.
    Sxtb,
    /// Sign-extend the low halfword.
    Sxth,
    /// Reverse the four bytes.
    Rev,
    /// Reverse the bytes in each halfword.
    Rev16,
}

/// A position in the code, bound by the assembler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(pub u32);

/// One Thumb-2 instruction the backend emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Thumb2Insn {
    /// `rd = rn op rm` (optionally `rm` shifted by a constant).
    DpReg {
        /// The operation.
        op: DpOp,
        /// Flag update.
        s: SetFlags,
        /// Destination.
        rd: Reg,
        /// First operand.
        rn: Reg,
        /// Second operand.
        rm: Reg,
        /// Constant shift of `rm` (amount 0 = none).
        shift: Shift,
        /// Shift amount 0..=31.
        amount: u8,
    },
    /// `rd = rn op #imm` with a modified immediate (or the 16-bit imm3/imm8
    /// forms of ADD/SUB).
    DpImm {
        /// The operation.
        op: DpOp,
        /// Flag update.
        s: SetFlags,
        /// Destination.
        rd: Reg,
        /// First operand.
        rn: Reg,
        /// The constant.
        imm: u32,
    },
    /// ADDW/SUBW `rd = rn +/- imm12` (no flags).
    AddW {
        /// Subtract instead of add.
        sub: bool,
        /// Destination.
        rd: Reg,
        /// Source.
        rn: Reg,
        /// 0..=4095.
        imm: u16,
    },
    /// `rd = rm` (no flags).
    Mov {
        /// Destination.
        rd: Reg,
        /// Source.
        rm: Reg,
    },
    /// `rd = #imm` (MOVS imm8, MOV.W or MVN with a modified immediate).
    MovImm {
        /// Flag update.
        s: SetFlags,
        /// Destination.
        rd: Reg,
        /// The constant.
        imm: u32,
    },
    /// `rd = !#imm` with a modified immediate.
    MvnImm {
        /// Destination.
        rd: Reg,
        /// The constant before inversion.
        imm: u32,
    },
    /// `rd = !rm`.
    MvnReg {
        /// Flag update.
        s: SetFlags,
        /// Destination.
        rd: Reg,
        /// Source.
        rm: Reg,
    },
    /// MOVW: `rd = imm16`.
    Movw {
        /// Destination.
        rd: Reg,
        /// The constant.
        imm: u16,
    },
    /// MOVT: `rd[31:16] = imm16`.
    Movt {
        /// Destination.
        rd: Reg,
        /// The constant.
        imm: u16,
    },
    /// CMP/CMN/TST with a register.
    CmpReg {
        /// CMP, CMN (add) or TST.
        kind: Compare,
        /// First operand.
        rn: Reg,
        /// Second operand.
        rm: Reg,
    },
    /// CMP/CMN/TST with an immediate.
    CmpImm {
        /// CMP, CMN or TST.
        kind: Compare,
        /// First operand.
        rn: Reg,
        /// The constant.
        imm: u32,
    },
    /// `rd = rm shift #amount` (amount 1..=31; 32 for LSR/ASR).
    ShiftImm {
        /// LSL, LSR or ASR.
        kind: Shift,
        /// Flag update.
        s: SetFlags,
        /// Destination.
        rd: Reg,
        /// Source.
        rm: Reg,
        /// Amount.
        amount: u8,
    },
    /// `rd = rn shift rm` (the low byte of `rm` is the amount).
    ShiftReg {
        /// The shift.
        kind: Shift,
        /// Flag update.
        s: SetFlags,
        /// Destination.
        rd: Reg,
        /// Value.
        rn: Reg,
        /// Amount.
        rm: Reg,
    },
    /// `rd = rn * rm` (low 32 bits).
    Mul {
        /// Flag update (16-bit MULS sets them).
        s: SetFlags,
        /// Destination.
        rd: Reg,
        /// First operand.
        rn: Reg,
        /// Second operand.
        rm: Reg,
    },
    /// MLA `rd = ra + rn * rm` or MLS `rd = ra - rn * rm`.
    Mla {
        /// MLS instead of MLA.
        sub: bool,
        /// Destination.
        rd: Reg,
        /// Multiplicand.
        rn: Reg,
        /// Multiplier.
        rm: Reg,
        /// Accumulator.
        ra: Reg,
    },
    /// UMULL `rdhi:rdlo = rn * rm`.
    Umull {
        /// Low result.
        rdlo: Reg,
        /// High result.
        rdhi: Reg,
        /// First operand.
        rn: Reg,
        /// Second operand.
        rm: Reg,
    },
    /// UDIV/SDIV `rd = rn / rm`.
    Div {
        /// SDIV instead of UDIV.
        signed: bool,
        /// Quotient.
        rd: Reg,
        /// Dividend.
        rn: Reg,
        /// Divisor.
        rm: Reg,
    },
    /// Extension or byte reversal.
    Unary {
        /// The operation.
        op: UnOp,
        /// Destination.
        rd: Reg,
        /// Source.
        rm: Reg,
    },
    /// Load or store `[rn, #off]`.
    Mem {
        /// Kind and size.
        op: MemOp,
        /// Transferred register.
        rt: Reg,
        /// Base.
        rn: Reg,
        /// Displacement, -255..=4095.
        off: i32,
    },
    /// Load or store `[rn, rm]`.
    MemReg {
        /// Kind and size.
        op: MemOp,
        /// Transferred register.
        rt: Reg,
        /// Base.
        rn: Reg,
        /// Index.
        rm: Reg,
    },
    /// LDREX `rt = [rn]` (word, exclusive).
    Ldrex {
        /// Loaded register.
        rt: Reg,
        /// Address.
        rn: Reg,
    },
    /// STREX `rd = status, [rn] = rt`.
    Strex {
        /// 0 on success.
        rd: Reg,
        /// Stored register.
        rt: Reg,
        /// Address.
        rn: Reg,
    },
    /// CLREX.
    Clrex,
    /// PUSH a register list (r0..r12, lr).
    Push {
        /// Bit n = rn.
        regs: u16,
    },
    /// POP a register list (r0..r12, pc).
    Pop {
        /// Bit n = rn.
        regs: u16,
    },
    /// `sp = sp +/- imm` (multiple of 4).
    SpAdjust {
        /// Subtract instead of add.
        sub: bool,
        /// Bytes.
        imm: u32,
    },
    /// `rd = sp + imm` (multiple of 4).
    AddSpImm {
        /// Destination.
        rd: Reg,
        /// Bytes.
        imm: u32,
    },
    /// Branch, conditional unless `cond` is `None`.
    B {
        /// Condition.
        cond: Option<Cond>,
        /// Target.
        target: Label,
    },
    /// CBZ/CBNZ (forward only, 0..=126 bytes; relaxed into CMP + `B<c>.W`).
    Cbz {
        /// CBNZ instead of CBZ.
        nonzero: bool,
        /// Tested register (r0..r7).
        rn: Reg,
        /// Target.
        target: Label,
    },
    /// BL to a label.
    Bl {
        /// Target.
        target: Label,
    },
    /// BLX to a register.
    Blx {
        /// Target address (Thumb bit set).
        rm: Reg,
    },
    /// BX to a register.
    Bx {
        /// Target address.
        rm: Reg,
    },
}

impl Thumb2Insn {
    /// True if the instruction may change the condition flags (calls
    /// count: the callee may), so a flag result computed before it is lost.
    pub fn may_write_flags(&self) -> bool {
        use Thumb2Insn as I;
        match *self {
            I::DpReg { s, .. }
            | I::DpImm { s, .. }
            | I::MovImm { s, .. }
            | I::MvnReg { s, .. }
            | I::ShiftImm { s, .. }
            | I::ShiftReg { s, .. }
            | I::Mul { s, .. } => s != SetFlags::Keep,
            I::AddW { .. }
            | I::Mov { .. }
            | I::Movw { .. }
            | I::Movt { .. }
            | I::Mla { .. }
            | I::Umull { .. }
            | I::Div { .. }
            | I::Unary { .. }
            | I::Mem { .. }
            | I::MemReg { .. }
            | I::Ldrex { .. }
            | I::Strex { .. }
            | I::Clrex
            | I::Push { .. }
            | I::Pop { .. }
            | I::SpAdjust { .. }
            | I::AddSpImm { .. }
            | I::B { .. }
            | I::Cbz { .. } => false,
            _ => true,
        }
    }
}

impl Thumb2Insn {
    /// The registers the instruction writes (bit n: rn), loads and POP
    /// included, sp and calls not: a callee preserves r4..r11, and which
    /// caller-saved registers it changes is the caller's concern.
    pub fn defs(&self) -> u16 {
        use Thumb2Insn as I;
        match *self {
            I::DpReg { rd, .. }
            | I::DpImm { rd, .. }
            | I::AddW { rd, .. }
            | I::Mov { rd, .. }
            | I::MovImm { rd, .. }
            | I::MvnImm { rd, .. }
            | I::MvnReg { rd, .. }
            | I::Movw { rd, .. }
            | I::Movt { rd, .. }
            | I::ShiftImm { rd, .. }
            | I::ShiftReg { rd, .. }
            | I::Mul { rd, .. }
            | I::Mla { rd, .. }
            | I::Div { rd, .. }
            | I::Unary { rd, .. }
            | I::AddSpImm { rd, .. }
            | I::Strex { rd, .. } => rd.bit(),
            I::Umull { rdlo, rdhi, .. } => rdlo.bit() | rdhi.bit(),
            I::Ldrex { rt, .. } => rt.bit(),
            I::Mem { op, rt, .. } | I::MemReg { op, rt, .. } => {
                if op.is_store() {
                    0
                } else {
                    rt.bit()
                }
            }
            I::Pop { regs } => regs,
            I::CmpReg { .. }
            | I::CmpImm { .. }
            | I::Clrex
            | I::Push { .. }
            | I::SpAdjust { .. }
            | I::B { .. }
            | I::Cbz { .. }
            | I::Bl { .. }
            | I::Blx { .. }
            | I::Bx { .. } => 0,
        }
    }
}

/// Comparison kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compare {
    /// `rn - op2`
    Cmp,
    /// `rn + op2`
    Cmn,
    /// `rn & op2`
    Tst,
}

impl Thumb2Insn {
    /// The label a branch refers to.
    pub const fn target(&self) -> Option<Label> {
        match *self {
            Thumb2Insn::B { target, .. }
            | Thumb2Insn::Cbz { target, .. }
            | Thumb2Insn::Bl { target } => Some(target),
            _ => None,
        }
    }
}
