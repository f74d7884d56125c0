//! Engine names and the machine features that native code may rely on.
//!
//! An engine is one way of running a program: the interpreter, or native code
//! for one architecture. Its name is the architecture part of the Rust target
//! triple and is what the CLI, the blob header and the conformance harness
//! use. Its numeric id is stable: it is stored in blobs.

use core::fmt;
use core::str::FromStr;

/// One way of running a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// The bytecode interpreter (runs anywhere).
    Interp,
    /// Thumb-2 for ARMv7-M and ARMv8-M mainline (Cortex-M3/M4/M7/M33).
    Thumbv7m,
    /// Thumb-2 with the DSP extension (Cortex-M4/M7/M33).
    Thumbv7em,
    /// RV32IMC (ESP32-C3 and any RV32IMC core).
    Riscv32imc,
    /// RV32IMAC (FE310, GD32VF103).
    Riscv32imac,
    /// x86-64 hosts.
    X86_64,
    /// AArch64 hosts.
    Aarch64,
    /// RV64GC hosts.
    Riscv64gc,
}

impl Engine {
    /// Every engine, in id order.
    pub const ALL: [Engine; 8] = [
        Engine::Interp,
        Engine::Thumbv7m,
        Engine::Thumbv7em,
        Engine::Riscv32imc,
        Engine::Riscv32imac,
        Engine::X86_64,
        Engine::Aarch64,
        Engine::Riscv64gc,
    ];

    /// The engine's name (the architecture part of its Rust target triple).
    pub const fn name(self) -> &'static str {
        match self {
            Engine::Interp => "interp",
            Engine::Thumbv7m => "thumbv7m",
            Engine::Thumbv7em => "thumbv7em",
            Engine::Riscv32imc => "riscv32imc",
            Engine::Riscv32imac => "riscv32imac",
            Engine::X86_64 => "x86_64",
            Engine::Aarch64 => "aarch64",
            Engine::Riscv64gc => "riscv64gc",
        }
    }

    /// The stable id stored in blob code sections. Never renumber: blobs in
    /// the field carry these values.
    pub const fn id(self) -> u16 {
        match self {
            Engine::Interp => 0,
            Engine::Thumbv7m => 1,
            Engine::Thumbv7em => 2,
            Engine::Riscv32imc => 3,
            Engine::Riscv32imac => 4,
            Engine::X86_64 => 5,
            Engine::Aarch64 => 6,
            Engine::Riscv64gc => 7,
        }
    }

    /// The engine with stable id `id`, if there is one.
    pub const fn from_id(id: u16) -> Option<Engine> {
        match id {
            0 => Some(Engine::Interp),
            1 => Some(Engine::Thumbv7m),
            2 => Some(Engine::Thumbv7em),
            3 => Some(Engine::Riscv32imc),
            4 => Some(Engine::Riscv32imac),
            5 => Some(Engine::X86_64),
            6 => Some(Engine::Aarch64),
            7 => Some(Engine::Riscv64gc),
            _ => None,
        }
    }

    /// True if the engine runs machine code (everything but the interpreter).
    pub const fn is_native(self) -> bool {
        !matches!(self, Engine::Interp)
    }

    /// Byte alignment every instruction of this engine's code has, so the
    /// loader can reject an entry point the core could not branch to.
    /// The interpreter's unit is a bytecode slot.
    pub const fn insn_align(self) -> u32 {
        match self {
            Engine::Interp => 8,
            // Thumb-2 and the C extension both use 16-bit instruction parcels.
            Engine::Thumbv7m
            | Engine::Thumbv7em
            | Engine::Riscv32imc
            | Engine::Riscv32imac
            | Engine::Riscv64gc => 2,
            Engine::X86_64 => 1,
            Engine::Aarch64 => 4,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An engine name that is not one of [`Engine::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown engine name; valid engines are interp, thumbv7m, thumbv7em, riscv32imc, \
     riscv32imac, x86_64, aarch64, riscv64gc"
)]
pub struct UnknownEngineName;

impl FromStr for Engine {
    type Err = UnknownEngineName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Engine::ALL.into_iter().find(|e| e.name() == s).ok_or(UnknownEngineName)
    }
}

/// Machine features that native code relies on, as a set of bits.
///
/// A device runs a code section natively only if it has every feature the
/// section needs; otherwise it falls back to the bytecode. Bits not defined
/// here are invalid in a blob: a device cannot promise a feature it does not
/// know, so it must not guess.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Features(u32);

impl Features {
    /// No feature needed.
    pub const NONE: Features = Features(0);
    /// The code uses LDR/STR/LDRH/STRH (or RISC-V LW/SW/LH/SH) on addresses
    /// that may be misaligned and relies on the core handling them: on Arm,
    /// CCR.UNALIGN_TRP must be clear; on RISC-V, misaligned accesses must be
    /// supported by the hardware (not trapped to an emulation handler).
    pub const UNALIGNED_ACCESS: Features = Features(1 << 0);
    /// The code uses ARMv7E-M DSP instructions (SMULL variants, SSAT, packing
    /// and saturating arithmetic): Cortex-M4/M7/M33 with DSP.
    pub const DSP: Features = Features(1 << 1);
    /// The code uses hardware division (SDIV/UDIV on Arm, DIV/REM of the
    /// RISC-V M extension). Every ARMv7-M core has it; ARMv8-M baseline and
    /// RV32E/RV32I cores without M do not.
    pub const HW_DIVIDE: Features = Features(1 << 2);
    /// The code uses the RISC-V A extension (LR/SC, AMO*.W).
    pub const ATOMIC_EXT: Features = Features(1 << 3);
    /// The code uses RISC-V C extension (16-bit) instructions.
    pub const COMPRESSED: Features = Features(1 << 4);
    /// Every bit this version of the runtime defines.
    pub const ALL: Features = Features(0x1f);

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The set with exactly `bits`, or `Err` with the bits this runtime does
    /// not define.
    pub const fn from_bits(bits: u32) -> Result<Features, u32> {
        let unknown = bits & !Features::ALL.0;
        if unknown == 0 {
            Ok(Features(bits))
        } else {
            Err(unknown)
        }
    }

    /// The set with `bits`, dropping bits this runtime does not define.
    pub const fn from_bits_truncate(bits: u32) -> Features {
        Features(bits & Features::ALL.0)
    }

    /// True if every feature of `other` is in `self`.
    pub const fn contains(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if no feature is in the set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The features in either set.
    pub const fn union(self, other: Features) -> Features {
        Features(self.0 | other.0)
    }
}

impl core::ops::BitOr for Features {
    type Output = Features;

    fn bitor(self, rhs: Features) -> Features {
        self.union(rhs)
    }
}

impl core::ops::BitOrAssign for Features {
    fn bitor_assign(&mut self, rhs: Features) {
        *self = self.union(rhs);
    }
}
