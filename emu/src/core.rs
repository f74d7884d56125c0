//! The cores the executor models and how Unicorn is set up for each.

use unicorn_engine::{Arch, ArmCpuModel, Mode, Riscv32CpuModel};

/// A core model, named after the femtoc engine whose code it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Core {
    /// ARMv7-M Cortex-M3: engine `thumbv7m`.
    CortexM3,
    /// ARMv7E-M Cortex-M4 (DSP, no FPU use allowed): engine `thumbv7em`.
    CortexM4,
    /// RV32IMC, e.g. ESP32-C3: engine `riscv32imc`. A-extension instructions are refused.
    Rv32imc,
    /// RV32IMAC, e.g. FE310 or GD32VF103: engine `riscv32imac`.
    Rv32imac,
}

impl Core {
    /// Every core, in a stable order.
    pub const ALL: [Core; 4] = [Core::CortexM3, Core::CortexM4, Core::Rv32imc, Core::Rv32imac];

    /// The femtoc engine name (the architecture part of the Rust target triple).
    pub fn engine(self) -> &'static str {
        match self {
            Core::CortexM3 => "thumbv7m",
            Core::CortexM4 => "thumbv7em",
            Core::Rv32imc => "riscv32imc",
            Core::Rv32imac => "riscv32imac",
        }
    }

    /// The core for an engine name, if the executor models one.
    pub fn from_engine(engine: &str) -> Option<Core> {
        Core::ALL.into_iter().find(|c| c.engine() == engine)
    }

    /// Whether this is an Arm M-profile core (Thumb-2 code, AAPCS).
    pub fn is_arm(self) -> bool {
        matches!(self, Core::CortexM3 | Core::CortexM4)
    }

    /// Whether the core implements the RISC-V A extension.
    pub fn has_atomics(self) -> bool {
        !matches!(self, Core::Rv32imc)
    }

    /// Required stack pointer alignment at a call boundary (AAPCS: 8, RISC-V ILP32: 16).
    pub fn stack_align(self) -> u32 {
        if self.is_arm() {
            8
        } else {
            16
        }
    }

    /// Number of integer arguments passed in registers.
    pub fn register_args(self) -> usize {
        if self.is_arm() {
            4
        } else {
            8
        }
    }

    pub(crate) fn arch(self) -> Arch {
        if self.is_arm() {
            Arch::ARM
        } else {
            Arch::RISCV
        }
    }

    /// The Unicorn mode. `Mode::MCLASS` is deliberately absent for Cortex-M: Unicorn 2.1
    /// forces the Cortex-M33 model whenever that flag is set and ignores the requested
    /// model, so the M3/M4 models are selected through `ctl_set_cpu_model` alone (their
    /// init functions give the CPU the M-profile feature).
    pub(crate) fn mode(self) -> Mode {
        if self.is_arm() {
            Mode::THUMB
        } else {
            Mode::RISCV32
        }
    }

    /// The Unicorn CPU model. RV32: SiFive E31 is RV32IMAC without F/D; the executor
    /// refuses A-extension instructions itself for `Rv32imc`.
    pub(crate) fn cpu_model(self) -> i32 {
        match self {
            Core::CortexM3 => ArmCpuModel::CORTEX_M3 as i32,
            Core::CortexM4 => ArmCpuModel::CORTEX_M4 as i32,
            Core::Rv32imc | Core::Rv32imac => Riscv32CpuModel::SIFIVE_E31 as i32,
        }
    }
}

impl std::fmt::Display for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.engine())
    }
}

/// Unicorn register ids by architectural role.
impl Core {
    /// The Unicorn id of general register `n` (r0..r15 on Arm, x0..x31 on RISC-V).
    pub(crate) fn reg_id(self, n: u8) -> Option<i32> {
        use unicorn_engine::{RegisterARM, RegisterRISCV};
        if self.is_arm() {
            match n {
                0..=12 => Some(RegisterARM::R0 as i32 + i32::from(n)),
                13 => Some(RegisterARM::SP as i32),
                14 => Some(RegisterARM::LR as i32),
                15 => Some(RegisterARM::PC as i32),
                _ => None,
            }
        } else if n < 32 {
            Some(RegisterRISCV::X0 as i32 + i32::from(n))
        } else {
            None
        }
    }

    /// Register number of integer argument `i` (r0..r3; a0..a7 = x10..x17).
    pub(crate) fn arg_reg(self, i: usize) -> Option<u8> {
        if i >= self.register_args() {
            return None;
        }
        // register_args() is at most 8, so the index fits.
        let i = i as u8;
        Some(if self.is_arm() { i } else { 10 + i })
    }

    /// Register numbers of the stack pointer and of the link register.
    /// Registers a call starts with junk in: every general register but the arguments,
    /// sp, the link register and (RISC-V) zero, gp and tp, which C code may rely on.
    pub(crate) fn poisoned_regs(self) -> impl Iterator<Item = u8> {
        let (all, args) = if self.is_arm() { (0..13u8, 0..4u8) } else { (5..32u8, 10..18u8) };
        all.filter(move |r| !args.contains(r))
    }

    /// Registers a C function may leave changed besides its return value:
    /// r1..r3, r12 on Arm; t0..t6, a1..a7 on RISC-V (r1 / a1 only when the
    /// result is 32-bit).
    pub(crate) fn call_clobbered(self, wide_ret: bool) -> impl Iterator<Item = u8> {
        let list: &'static [u8] = if self.is_arm() {
            &[1, 2, 3, 12]
        } else {
            &[11, 5, 6, 7, 12, 13, 14, 15, 16, 17, 28, 29, 30, 31]
        };
        list.iter().copied().skip(usize::from(wide_ret))
    }

    /// Registers a C function must preserve, besides sp: r4..r11 on Arm,
    /// s0..s11 on RISC-V.
    pub(crate) fn callee_saved(self) -> impl Iterator<Item = u8> {
        let list: &'static [u8] = if self.is_arm() {
            &[4, 5, 6, 7, 8, 9, 10, 11]
        } else {
            &[8, 9, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]
        };
        list.iter().copied()
    }

    pub(crate) fn sp_reg(self) -> u8 {
        if self.is_arm() {
            13
        } else {
            2
        }
    }

    pub(crate) fn link_reg(self) -> u8 {
        if self.is_arm() {
            14
        } else {
            1
        }
    }

    /// The bit a code address carries to select the instruction set (Thumb on M-profile).
    pub(crate) fn code_bit(self) -> u32 {
        u32::from(self.is_arm())
    }

    pub(crate) fn pc_id(self) -> i32 {
        use unicorn_engine::{RegisterARM, RegisterRISCV};
        if self.is_arm() {
            RegisterARM::PC as i32
        } else {
            RegisterRISCV::PC as i32
        }
    }
}
