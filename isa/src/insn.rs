//! The typed instruction: what an eBPF instruction *is*, independent of how
//! it is encoded (see [`crate::decode`] and [`crate::encode`]).

/// One 8-byte instruction slot, fields as RFC 9669 lays them out.
///
/// As a `u64` (the form `-- raw` vectors use) the opcode is the low byte,
/// `dst` the low nibble of the next, `src` its high nibble, then the
/// little-endian 16-bit offset and 32-bit immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct RawInsn {
    /// Opcode byte.
    pub opcode: u8,
    /// Destination register field (4 bits).
    pub dst: u8,
    /// Source register field (4 bits).
    pub src: u8,
    /// Signed 16-bit offset.
    pub off: i16,
    /// Signed 32-bit immediate.
    pub imm: i32,
}

impl RawInsn {
    /// Splits a slot given as a little-endian `u64`.
    pub const fn from_u64(word: u64) -> Self {
        RawInsn {
            opcode: word as u8,
            dst: (word >> 8) as u8 & 0x0f,
            src: (word >> 12) as u8 & 0x0f,
            off: (word >> 16) as u16 as i16,
            imm: (word >> 32) as u32 as i32,
        }
    }

    /// The slot as a little-endian `u64`.
    pub const fn to_u64(self) -> u64 {
        (self.opcode as u64)
            | ((self.dst as u64 & 0x0f) << 8)
            | ((self.src as u64 & 0x0f) << 12)
            | ((self.off as u16 as u64) << 16)
            | ((self.imm as u32 as u64) << 32)
    }

    /// Reads a slot from its eight bytes in memory order.
    pub const fn from_bytes(b: [u8; 8]) -> Self {
        Self::from_u64(u64::from_le_bytes(b))
    }

    /// The slot's eight bytes in memory order.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.to_u64().to_le_bytes()
    }
}

/// An eBPF register, `r0`..`r10`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

impl Reg {
    /// Return value and helper result.
    pub const R0: Reg = Reg(0);
    /// First argument; the context address at entry.
    pub const R1: Reg = Reg(1);
    /// Second argument; the context length at entry.
    pub const R2: Reg = Reg(2);
    /// Third argument.
    pub const R3: Reg = Reg(3);
    /// Fourth argument.
    pub const R4: Reg = Reg(4);
    /// Fifth argument.
    pub const R5: Reg = Reg(5);
    /// Callee-saved.
    pub const R6: Reg = Reg(6);
    /// Callee-saved.
    pub const R7: Reg = Reg(7);
    /// Callee-saved.
    pub const R8: Reg = Reg(8);
    /// Callee-saved.
    pub const R9: Reg = Reg(9);
    /// Read-only frame pointer.
    pub const R10: Reg = Reg(10);
    /// Number of registers.
    pub const COUNT: usize = 11;

    /// The register numbered `n`, if there is one.
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 {
            Some(Reg(n))
        } else {
            None
        }
    }

    /// The register's number, 0..=10.
    pub const fn num(self) -> u8 {
        self.0
    }

    /// The register's number as an index.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// A one-bit mask for register sets (`1 << n`).
    pub const fn bit(self) -> u16 {
        1 << self.0
    }

    /// Every register, r0 first.
    pub fn all() -> impl Iterator<Item = Reg> {
        (0..=10).map(Reg)
    }
}

impl core::fmt::Display for Reg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "%r{}", self.0)
    }
}

/// Operand width of arithmetic and conditional jumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// `ALU` / `JMP32`: 32-bit operands; ALU results zero the upper half.
    W32,
    /// `ALU64` / `JMP`.
    W64,
}

/// The second operand of an ALU operation, conditional jump or store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// A register (`X` source).
    Reg(Reg),
    /// The instruction's immediate (`K` source), sign-extended to 64 bits
    /// where the operation is 64-bit.
    Imm(i32),
}

/// Binary ALU operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// `dst += src`
    Add,
    /// `dst -= src`
    Sub,
    /// `dst *= src`
    Mul,
    /// Unsigned division; by zero gives 0.
    Div,
    /// Signed division (offset 1); by zero gives 0, `MIN / -1` gives `MIN`.
    SDiv,
    /// `dst |= src`
    Or,
    /// `dst &= src`
    And,
    /// Left shift; the amount is masked to the width.
    Lsh,
    /// Logical right shift; masked amount.
    Rsh,
    /// Unsigned modulo; by zero leaves `dst` (32-bit forms zero its upper half).
    Mod,
    /// Signed modulo (offset 1); by zero leaves `dst`, `MIN % -1` gives 0.
    SMod,
    /// `dst ^= src`
    Xor,
    /// `dst = src`; a 64-bit move of an immediate sign-extends it.
    Mov,
    /// Sign-extending move from the low 8, 16 or 32 bits (offset 8/16/32;
    /// 32 only in ALU64). Register source only.
    MovSx(u8),
    /// Arithmetic right shift; masked amount.
    Arsh,
}

/// Byte-order operations (`le`, `be`, `bswap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Convert to little-endian (`ALU | K | END`): truncate to the size.
    ToLe,
    /// Convert to big-endian (`ALU | X | END`): swap within the size.
    ToBe,
    /// Unconditional swap (`ALU64 | K | END`).
    Swap,
}

/// Conditions of conditional jumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JmpCond {
    /// `==`
    Eq,
    /// unsigned `>`
    Gt,
    /// unsigned `>=`
    Ge,
    /// `dst & src != 0`
    Set,
    /// `!=`
    Ne,
    /// signed `>`
    Sgt,
    /// signed `>=`
    Sge,
    /// unsigned `<`
    Lt,
    /// unsigned `<=`
    Le,
    /// signed `<`
    Slt,
    /// signed `<=`
    Sle,
}

/// Read-modify-write operations of atomic instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    /// `*p += src`
    Add,
    /// `*p |= src`
    Or,
    /// `*p &= src`
    And,
    /// `*p ^= src`
    Xor,
    /// Exchange: `src = xchg(*p, src)` (always fetches).
    Xchg,
    /// Compare-exchange against r0: `r0 = cmpxchg(*p, r0, src)` (always fetches).
    CmpXchg,
}

/// Access size of loads, stores and atomics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemSize {
    /// 1 byte.
    B,
    /// 2 bytes.
    H,
    /// 4 bytes.
    W,
    /// 8 bytes.
    DW,
}

impl MemSize {
    /// Size in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            MemSize::B => 1,
            MemSize::H => 2,
            MemSize::W => 4,
            MemSize::DW => 8,
        }
    }

    /// Assembler suffix (`b`, `h`, `w`, `dw`).
    pub const fn suffix(self) -> &'static str {
        match self {
            MemSize::B => "b",
            MemSize::H => "h",
            MemSize::W => "w",
            MemSize::DW => "dw",
        }
    }
}

/// One eBPF instruction, fully decoded and validated.
///
/// Every value of this type encodes to exactly one slot sequence and decodes
/// back to itself; offsets of jumps and local calls are relative to the next
/// slot, as in the encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Insn {
    /// Binary ALU operation.
    Alu {
        /// 32- or 64-bit.
        width: Width,
        /// The operation.
        op: AluOp,
        /// Destination (and first operand).
        dst: Reg,
        /// Second operand.
        src: Source,
    },
    /// `dst = -dst`.
    Neg {
        /// 32- or 64-bit.
        width: Width,
        /// Operand and result.
        dst: Reg,
    },
    /// Byte-order conversion of the low `bits` (16, 32 or 64) of `dst`;
    /// the result is zero-extended.
    Endian {
        /// Conversion kind.
        order: ByteOrder,
        /// 16, 32 or 64.
        bits: u8,
        /// Operand and result.
        dst: Reg,
    },
    /// `lddw dst, imm` (two slots).
    LoadImm64 {
        /// Destination.
        dst: Reg,
        /// The 64-bit value.
        imm: u64,
    },
    /// `lddw` with src 6 (two slots): the address of byte `offset` of the
    /// program's data region number `region`.
    LoadDataAddr {
        /// Destination.
        dst: Reg,
        /// Index into the program's data regions.
        region: u32,
        /// Byte offset inside the region.
        offset: u32,
    },
    /// `dst = *(size *)(src + off)`, zero-extended.
    Load {
        /// Access size.
        size: MemSize,
        /// Destination.
        dst: Reg,
        /// Base address register.
        src: Reg,
        /// Signed displacement.
        off: i16,
    },
    /// `dst = *(signed size *)(src + off)`, sign-extended (B, H or W).
    LoadSx {
        /// Access size (never DW).
        size: MemSize,
        /// Destination.
        dst: Reg,
        /// Base address register.
        src: Reg,
        /// Signed displacement.
        off: i16,
    },
    /// `*(size *)(dst + off) = src` (`ST` with an immediate, `STX` with a register).
    Store {
        /// Access size.
        size: MemSize,
        /// Base address register.
        dst: Reg,
        /// Signed displacement.
        off: i16,
        /// Stored value.
        src: Source,
    },
    /// Atomic read-modify-write at `dst + off` (W or DW).
    Atomic {
        /// W or DW.
        size: MemSize,
        /// The operation.
        op: AtomicOp,
        /// For add/or/and/xor: return the old value in `src`.
        /// Always true for xchg and cmpxchg.
        fetch: bool,
        /// Base address register.
        dst: Reg,
        /// Operand (and fetch destination).
        src: Reg,
        /// Signed displacement.
        off: i16,
    },
    /// `ja off` (16-bit offset, class JMP).
    Ja {
        /// Slots to skip, relative to the next slot.
        off: i16,
    },
    /// `ja32 imm` (32-bit offset, class JMP32).
    JaLong {
        /// Slots to skip, relative to the next slot.
        off: i32,
    },
    /// Conditional jump.
    Jmp {
        /// 32-bit (`JMP32`) or 64-bit comparison.
        width: Width,
        /// The condition.
        cond: JmpCond,
        /// First operand.
        dst: Reg,
        /// Second operand.
        src: Source,
        /// Slots to skip when taken, relative to the next slot.
        off: i16,
    },
    /// Call helper number `id` (src 0).
    Call {
        /// Helper id.
        id: u32,
    },
    /// Call a function of this program (src 1).
    CallLocal {
        /// Function start relative to the next slot.
        off: i32,
    },
    /// `callx reg`: call through a register (opcode 0x8d, register in `dst`).
    /// Decoded so that it can be named in errors; femtoc does not run it.
    CallReg {
        /// Register holding the target.
        reg: Reg,
    },
    /// Return r0 from the current function.
    Exit,
}

impl Insn {
    /// Number of 8-byte slots the instruction takes (2 for `lddw`).
    pub const fn slots(&self) -> usize {
        match self {
            Insn::LoadImm64 { .. } | Insn::LoadDataAddr { .. } => 2,
            _ => 1,
        }
    }

    /// The target slot of a jump or local call at `pc`, as a signed value
    /// (it may lie outside the program; the verifier checks that).
    pub fn branch_target(&self, pc: usize) -> Option<i64> {
        let next = pc as i64 + 1;
        match *self {
            Insn::Ja { off } => Some(next + off as i64),
            Insn::JaLong { off } => Some(next + off as i64),
            Insn::Jmp { off, .. } => Some(next + off as i64),
            Insn::CallLocal { off } => Some(next + off as i64),
            _ => None,
        }
    }

    /// True for instructions after which control never falls through
    /// (`exit` and unconditional jumps).
    pub const fn ends_block_unconditionally(&self) -> bool {
        matches!(self, Insn::Exit | Insn::Ja { .. } | Insn::JaLong { .. })
    }
}
