//! Cycle estimates per instruction class.
//!
//! Emulation counts instructions exactly; cycles are an *estimate* from the tables below,
//! good for comparing code generators on the same core, not for predicting wall time.
//! They assume zero-wait-state memory, no interrupts and no cache misses.
//!
//! # Cortex-M3 / Cortex-M4
//!
//! From the Cortex-M3 and Cortex-M4 Technical Reference Manuals, "Instruction set summary"
//! (processor timings; `P` is the pipeline refill after a taken branch, 1–3 cycles,
//! taken here as 2):
//!
//! | class | M3 | M4 | notes |
//! |---|---|---|---|
//! | ALU, moves, shifts, compares, IT, hints | 1 | 1 | |
//! | MUL | 1 | 1 | |
//! | MLA, MLS, DSP multiply-accumulate | 2 | 1 | |
//! | UMULL/SMULL/UMLAL/SMLAL | 5 | 1 | M3: 3–5 (long MAC up to 7); upper bound of the plain form |
//! | UDIV/SDIV | 12 | 12 | 2–12 with early termination; upper bound |
//! | LDR (any size) | 2 | 2 | 1 when it directly follows another single load or store, whose data phase it overlaps |
//! | STR (any size) | 1 | 1 | the write buffer hides the data phase |
//! | LDM/STM/PUSH/POP, LDRD/STRD | 1+N | 1+N | N registers; +P if the PC is loaded |
//! | `B<cond>`, CBZ/CBNZ | 1 / 1+P | 1 / 1+P | not taken / taken |
//! | B, BL, BX, BLX, TBB/TBH, MOV/ADD to PC | 1+P | 1+P | an instruction skipped by IT costs 1 |
//! | LDREX/STREX | 2 / 1 | 2 / 1 | as loads and stores |
//! | SVC, BKPT, MSR/MRS, barriers | 1 | 1 | |
//!
//! # RV32IMC / RV32IMAC
//!
//! One table for both, after the SiFive E31 core (FE310) manual, "Execution Pipeline": a
//! single-issue in-order 5-stage pipeline, fully bypassed. Result latencies are charged as
//! if the next instruction depended on them, and the branch predictor is not modelled:
//!
//! | class | cycles | notes |
//! |---|---|---|
//! | ALU, LUI, AUIPC | 1 | |
//! | MUL, MULH* | 5 | E31: 8 bits per cycle, 5-cycle result latency |
//! | DIV*, REM* | 33 | E31: 2–33 (1 bit per cycle); upper bound |
//! | loads | 2 | E31: LW result latency 2 (LH/LB: 3, not distinguished) |
//! | stores | 1 | |
//! | conditional branch | 1 / 3 | not taken / taken: fetch redirected from execute |
//! | JAL, JALR, C.J, C.JR, ... | 2 | |
//! | AMO*, LR.W, SC.W | 3 | a load and a store |
//! | ECALL, EBREAK, FENCE, CSR | 1 | |
//!
//! Calls to host traps are not instructions of the program; a trap callback may charge
//! cycles for the routine it stands for ([`crate::TrapContext::add_cycles`]).

use crate::classify::{Decoded, InsnClass};
use crate::Core;

/// Cycle costs of the instruction classes for one core (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CycleTable {
    /// Data processing.
    pub alu: u32,
    /// Multiply with a 32-bit result.
    pub mul: u32,
    /// Multiply-accumulate with a 32-bit result.
    pub mul_acc: u32,
    /// Multiply with a 64-bit result.
    pub mul_long: u32,
    /// Division and remainder.
    pub div: u32,
    /// Single load.
    pub load: u32,
    /// Single load directly after another single load or store.
    pub load_pipelined: u32,
    /// Single store.
    pub store: u32,
    /// Fixed part of a multiple load/store (plus one cycle per register).
    pub multi_base: u32,
    /// Conditional branch, not taken.
    pub branch: u32,
    /// Added to a conditional branch that is taken.
    pub branch_taken_penalty: u32,
    /// Unconditional control transfer, before its refill penalty.
    pub jump: u32,
    /// Added when a jump, or a load that writes the PC, does transfer control.
    pub jump_taken_penalty: u32,
    /// Atomic read-modify-write.
    pub atomic: u32,
    /// System, hint and barrier instructions.
    pub system: u32,
}

impl CycleTable {
    /// Cortex-M3 (ARMv7-M).
    pub const CORTEX_M3: CycleTable = CycleTable {
        alu: 1,
        mul: 1,
        mul_acc: 2,
        mul_long: 5,
        div: 12,
        load: 2,
        load_pipelined: 1,
        store: 1,
        multi_base: 1,
        branch: 1,
        branch_taken_penalty: 2,
        jump: 1,
        jump_taken_penalty: 2,
        atomic: 3,
        system: 1,
    };

    /// Cortex-M4 (ARMv7E-M): single-cycle multiplier for every form.
    pub const CORTEX_M4: CycleTable =
        CycleTable { mul_acc: 1, mul_long: 1, ..CycleTable::CORTEX_M3 };

    /// RV32IMC and RV32IMAC (SiFive E31-like in-order pipeline).
    pub const RV32: CycleTable = CycleTable {
        alu: 1,
        mul: 5,
        mul_acc: 5,
        mul_long: 5,
        div: 33,
        load: 2,
        load_pipelined: 2,
        store: 1,
        multi_base: 1,
        branch: 1,
        branch_taken_penalty: 2,
        jump: 1,
        jump_taken_penalty: 1,
        atomic: 3,
        system: 1,
    };

    /// The table the executor uses for `core`.
    pub fn for_core(core: Core) -> &'static CycleTable {
        match core {
            Core::CortexM3 => &CycleTable::CORTEX_M3,
            Core::CortexM4 => &CycleTable::CORTEX_M4,
            Core::Rv32imc | Core::Rv32imac => &CycleTable::RV32,
        }
    }

    /// Cycles of one executed instruction. `taken`: control did not fall through to the
    /// next instruction; `after_single_ldst`: the previous instruction was a single load
    /// or store.
    pub fn cost(&self, d: &Decoded, taken: bool, after_single_ldst: bool) -> u64 {
        use InsnClass::*;
        let base = match d.class {
            Alu => self.alu,
            Mul => self.mul,
            MulAcc => self.mul_acc,
            MulLong => self.mul_long,
            Div => self.div,
            Load if after_single_ldst => self.load_pipelined,
            Load => self.load,
            Store => self.store,
            LoadMulti | StoreMulti => self.multi_base + u32::from(d.regs),
            Branch => self.branch,
            Jump => self.jump,
            Atomic => self.atomic,
            System => self.system,
        };
        let penalty = match (taken, d.class) {
            (false, _) => 0,
            (true, Branch) => self.branch_taken_penalty,
            (true, _) => self.jump_taken_penalty,
        };
        u64::from(base) + u64::from(penalty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumb_costs_follow_the_trm() {
        let t = CycleTable::for_core(Core::CortexM4);
        let pop_pc = Decoded::new(InsnClass::LoadMulti, 2).multi(3).branching();
        // POP {r4, r5, pc}: 1 + N + P
        assert_eq!(t.cost(&pop_pc, true, false), 1 + 3 + 2);
        let b = Decoded::new(InsnClass::Branch, 2).branching();
        assert_eq!(t.cost(&b, false, false), 1);
        assert_eq!(t.cost(&b, true, false), 3);
        let ldr = Decoded::new(InsnClass::Load, 2);
        assert_eq!(t.cost(&ldr, false, false), 2);
        assert_eq!(t.cost(&ldr, false, true), 1);
        let mla = Decoded::new(InsnClass::MulAcc, 4);
        assert_eq!(CycleTable::for_core(Core::CortexM3).cost(&mla, false, false), 2);
        assert_eq!(t.cost(&mla, false, false), 1);
    }

    #[test]
    fn rv32_jumps_and_branches() {
        let t = CycleTable::for_core(Core::Rv32imc);
        let jal = Decoded::new(InsnClass::Jump, 4).branching();
        assert_eq!(t.cost(&jal, true, false), 2);
        let beq = Decoded::new(InsnClass::Branch, 4).branching();
        assert_eq!(t.cost(&beq, true, false), 3);
        assert_eq!(t.cost(&beq, false, false), 1);
        // RV32 loads do not pipeline.
        assert_eq!(t.cost(&Decoded::new(InsnClass::Load, 2), false, true), 2);
    }
}
