//! A 64-bit application core (AArch64 or RV64GC) in Unicorn, for the host-ISA code of the
//! Cranelift backend: memory, traps and a call under the core's C ABI (AAPCS64 or LP64D).
//!
//! Much simpler than [`crate::Machine`]: application cores have no cycle model here (their
//! timing depends on caches and out-of-order execution), so the machine only counts executed
//! instructions, enforces an instruction limit and serves traps. Memory lies below 2^32 (the
//! fixed test layout), so every address an error names fits the 32-bit fields of
//! [`EmuError`].

use std::collections::HashMap;

use femtoc_runtime::engine::Engine;
use unicorn_engine::{
    uc_error, Arch, Arm64CpuModel, HookType, MemType, Mode, RegisterARM64, RegisterRISCV,
    Riscv64CpuModel, Unicorn,
};

use crate::error::{EmuError, TrapError};
use crate::Perms;

/// A 64-bit core model, named after the femtoc engine whose code it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa64 {
    /// ARMv8.0-A (Cortex-A72 model, no LSE atomics): engine `aarch64`.
    Aarch64,
    /// RV64GC (SiFive U54 model): engine `riscv64gc`.
    Riscv64gc,
}

impl Isa64 {
    /// Both cores, in a stable order.
    pub const ALL: [Isa64; 2] = [Isa64::Aarch64, Isa64::Riscv64gc];

    /// The femtoc engine.
    pub fn engine(self) -> Engine {
        match self {
            Isa64::Aarch64 => Engine::Aarch64,
            Isa64::Riscv64gc => Engine::Riscv64gc,
        }
    }

    /// The core for an engine name, if the executor models one.
    pub fn from_engine(name: &str) -> Option<Isa64> {
        Isa64::ALL.into_iter().find(|i| i.engine().name() == name)
    }

    fn arch(self) -> Arch {
        match self {
            Isa64::Aarch64 => Arch::ARM64,
            Isa64::Riscv64gc => Arch::RISCV,
        }
    }

    fn mode(self) -> Mode {
        match self {
            Isa64::Aarch64 => Mode::LITTLE_ENDIAN,
            Isa64::Riscv64gc => Mode::RISCV64,
        }
    }

    /// The baseline of each ISA, so that code relying on an extension the engine does not
    /// promise (LSE atomics, Zb*) fails here instead of on some host.
    fn cpu_model(self) -> i32 {
        match self {
            Isa64::Aarch64 => Arm64CpuModel::A72 as i32,
            Isa64::Riscv64gc => Riscv64CpuModel::SIFIVE_U54 as i32,
        }
    }

    /// Unicorn id of general register `n` (x0..x30 and sp = 31 on AArch64, x0..x31 on
    /// RISC-V).
    fn reg_id(self, n: u8) -> Option<i32> {
        match self {
            Isa64::Aarch64 => match n {
                0..=28 => Some(RegisterARM64::X0 as i32 + i32::from(n)),
                29 => Some(RegisterARM64::X29 as i32),
                30 => Some(RegisterARM64::X30 as i32),
                31 => Some(RegisterARM64::SP as i32),
                _ => None,
            },
            Isa64::Riscv64gc => (n < 32).then(|| RegisterRISCV::X0 as i32 + i32::from(n)),
        }
    }

    fn pc_id(self) -> i32 {
        match self {
            Isa64::Aarch64 => RegisterARM64::PC as i32,
            Isa64::Riscv64gc => RegisterRISCV::PC as i32,
        }
    }

    /// Register number of integer argument (and return value) `i`: x0..x7 or a0..a7.
    fn arg_reg(self, i: u8) -> u8 {
        match self {
            Isa64::Aarch64 => i,
            Isa64::Riscv64gc => 10 + i,
        }
    }

    /// Registers a call starts with junk in (see [`Machine64::call`]).
    fn poisoned_regs(self) -> impl Iterator<Item = u8> {
        let all = match self {
            Isa64::Aarch64 => 0..31u8,
            Isa64::Riscv64gc => 5..32u8,
        };
        all.filter(move |&r| r != self.sp_reg() && r != self.link_reg())
    }

    fn sp_reg(self) -> u8 {
        match self {
            Isa64::Aarch64 => 31,
            Isa64::Riscv64gc => 2,
        }
    }

    /// x30 (lr) or x1 (ra).
    fn link_reg(self) -> u8 {
        match self {
            Isa64::Aarch64 => 30,
            Isa64::Riscv64gc => 1,
        }
    }

    /// A return instruction: AArch64 `ret`, RISC-V `jalr x0, 0(ra)`.
    fn ret_insn(self) -> u32 {
        match self {
            Isa64::Aarch64 => 0xd65f_03c0,
            Isa64::Riscv64gc => 0x0000_8067,
        }
    }

    /// A 32-bit C value as the ABI holds it in a 64-bit register: AAPCS64 leaves the upper
    /// half unspecified (zero here), LP64 sign-extends every 32-bit type, `uint32_t`
    /// included.
    fn widen_u32(self, v: u32) -> u64 {
        match self {
            Isa64::Aarch64 => u64::from(v),
            Isa64::Riscv64gc => v as i32 as i64 as u64,
        }
    }

    /// Unicorn's exception number for an undefined instruction.
    fn illegal_insn_intno(self) -> u32 {
        match self {
            // EXCP_UDEF
            Isa64::Aarch64 => 1,
            // RISCV_EXCP_ILLEGAL_INST
            Isa64::Riscv64gc => 2,
        }
    }
}

impl std::fmt::Display for Isa64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.engine().name())
    }
}

/// What a trap callback returns to the code, as the C ABI holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapValue {
    /// A `uint32_t`.
    U32(u32),
    /// A `uint64_t`.
    U64(u64),
}

/// A trap callback: receives the eight argument registers, returns the call's result.
pub type Trap64Fn = Box<dyn FnMut(&[u64; 8]) -> Result<TrapValue, TrapError>>;

/// Size of the trap page.
const TRAP_PAGE_SIZE: u64 = 0x1000;
/// What a register carrying no argument holds when a call starts (xor its number).
pub const POISON_WORD64: u64 = 0xdead_beef_dead_be00;
/// Distance between trap addresses (room for one instruction).
pub const TRAP_STRIDE: u64 = 0x10;

/// Layout and limits of a [`Machine64`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine64Config {
    /// Base of the trap page (4 KiB, executable); its first slot is the return address of
    /// [`Machine64::call`].
    pub trap_base: u64,
    /// Lowest address of the machine stack.
    pub stack_base: u64,
    /// Size of the machine stack in bytes (a multiple of 4 KiB).
    pub stack_size: u64,
    /// Instructions one call may execute.
    pub max_insns: u64,
}

impl Default for Machine64Config {
    fn default() -> Self {
        Machine64Config {
            trap_base: 0x0FFF_F000,
            stack_base: 0x2FFF_0000,
            stack_size: 0x1_0000,
            max_insns: 100_000_000,
        }
    }
}

/// The outcome of a [`Machine64::call`] that returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call64Result {
    /// x0 / a0.
    pub ret: u64,
    /// Instructions executed outside the trap page.
    pub insns: u64,
    /// Trap callbacks invoked.
    pub trap_calls: u64,
}

/// What the hooks share with the machine.
struct State {
    isa: Isa64,
    trap_base: u64,
    traps: HashMap<u64, Trap64Fn>,
    max_insns: u64,
    insns: u64,
    trap_calls: u64,
    /// Last instruction counted, for fault reports.
    pc: u64,
    error: Option<EmuError>,
}

type Uc = Unicorn<'static, State>;

/// An emulated 64-bit core with its memory, machine stack and trap page.
pub struct Machine64 {
    uc: Uc,
    isa: Isa64,
    config: Machine64Config,
}

impl std::fmt::Debug for Machine64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine64").field("isa", &self.isa).field("config", &self.config).finish()
    }
}

/// Narrows an address the machine guarantees to be below 2^32 for an [`EmuError`] field.
fn low(addr: u64) -> u32 {
    addr as u32
}

impl Machine64 {
    /// A machine for `isa`: maps the trap page (filled with returns) and the machine stack.
    pub fn new(isa: Isa64, config: Machine64Config) -> Result<Machine64, EmuError> {
        let state = State {
            isa,
            trap_base: config.trap_base,
            traps: HashMap::new(),
            max_insns: config.max_insns,
            insns: 0,
            trap_calls: 0,
            pc: 0,
            error: None,
        };
        let mut uc = Unicorn::new_with_data(isa.arch(), isa.mode(), state)
            .map_err(|e| EmuError::unicorn(format!("creating a {isa} engine"), e))?;
        uc.ctl_set_cpu_model(isa.cpu_model())
            .map_err(|e| EmuError::unicorn(format!("selecting the {isa} cpu model"), e))?;
        let mut m = Machine64 { uc, isa, config };
        let page = isa.ret_insn().to_le_bytes().repeat((TRAP_PAGE_SIZE / 4) as usize);
        m.map(config.trap_base, TRAP_PAGE_SIZE, Perms::RX, &page)?;
        m.map(config.stack_base, config.stack_size, Perms::RW, &[])?;
        m.install_hooks()?;
        Ok(m)
    }

    fn install_hooks(&mut self) -> Result<(), EmuError> {
        // begin > end selects the whole address space.
        self.uc.add_code_hook(1, 0, on_code).map_err(EmuError::hook("code"))?;
        self.uc
            .add_mem_hook(HookType::MEM_INVALID, 1, 0, on_invalid)
            .map_err(EmuError::hook("invalid memory"))?;
        self.uc.add_intr_hook(on_interrupt).map_err(EmuError::hook("interrupt"))?;
        Ok(())
    }

    /// The core.
    pub fn isa(&self) -> Isa64 {
        self.isa
    }

    /// The layout.
    pub fn config(&self) -> &Machine64Config {
        &self.config
    }

    fn check_range(&self, addr: u64, size: u64) -> Result<(), EmuError> {
        let fail = |reason: String| EmuError::Map { addr, size, reason };
        if size == 0 || !addr.is_multiple_of(TRAP_PAGE_SIZE) || !size.is_multiple_of(TRAP_PAGE_SIZE)
        {
            return Err(fail("address and size must be non-zero multiples of 4 KiB".into()));
        }
        if addr.checked_add(size).is_none_or(|end| end > 1 << 32) {
            return Err(fail("the machine keeps all memory below 2^32".into()));
        }
        Ok(())
    }

    /// Maps `size` bytes at `addr` with `perms`, filled with `init` and then zeros.
    pub fn map(&mut self, addr: u64, size: u64, perms: Perms, init: &[u8]) -> Result<(), EmuError> {
        self.check_range(addr, size)?;
        let fail = |reason: String| EmuError::Map { addr, size, reason };
        if init.len() as u64 > size {
            return Err(fail(format!("{} initial bytes do not fit", init.len())));
        }
        self.uc
            .mem_map(addr, size, perms.prot())
            .map_err(|e| fail(format!("Unicorn refused ({e:?}); does it overlap a region?")))?;
        self.write(addr, init)
    }

    /// Maps `size` bytes of host memory at `host` to emulated address `addr`, so host code
    /// and emulated code share them.
    ///
    /// # Safety
    /// `host` must be valid for reads and writes of `size` bytes until the machine is
    /// dropped, and page aligned.
    pub unsafe fn map_host(
        &mut self,
        addr: u64,
        size: u64,
        perms: Perms,
        host: *mut u8,
    ) -> Result<(), EmuError> {
        self.check_range(addr, size)?;
        if !(host as usize).is_multiple_of(TRAP_PAGE_SIZE as usize) {
            let reason = "the host pointer must be 4 KiB aligned".into();
            return Err(EmuError::Map { addr, size, reason });
        }
        // SAFETY: the caller guarantees `host` stays valid for `size` bytes while the engine
        // (and so the mapping) lives.
        unsafe { self.uc.mem_map_ptr(addr, size, perms.prot(), host.cast()) }.map_err(|e| {
            EmuError::Map {
                addr,
                size,
                reason: format!("Unicorn refused ({e:?}); does it overlap a region?"),
            }
        })
    }

    /// Reads `len` bytes of emulated memory.
    pub fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>, EmuError> {
        let mut v = vec![0; len];
        if len > 0 {
            self.uc.mem_read(addr, &mut v).map_err(|_| EmuError::HostAccess { addr, len })?;
        }
        Ok(v)
    }

    /// Writes emulated memory, regardless of the region's permissions.
    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), EmuError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.uc.mem_write(addr, bytes).map_err(|_| EmuError::HostAccess { addr, len: bytes.len() })
    }

    /// The trap address of slot `i` (slot 0 is the return address of calls).
    pub fn trap_slot(&self, i: u64) -> u64 {
        self.config.trap_base + TRAP_STRIDE * (i + 1)
    }

    /// Installs `callback` at `addr` in the trap page (not the first slot, 4-byte aligned).
    /// Code that calls `addr` like a C function gets the callback's value in x0 / a0; a
    /// callback returning `Err` stops the run with [`EmuError::Trap`].
    pub fn add_trap<F>(&mut self, addr: u64, callback: F) -> Result<u64, EmuError>
    where
        F: FnMut(&[u64; 8]) -> Result<TrapValue, TrapError> + 'static,
    {
        let fail = |reason| EmuError::TrapAddress { addr: low(addr), reason };
        let state = self.uc.get_data_mut();
        if addr.wrapping_sub(state.trap_base) >= TRAP_PAGE_SIZE {
            return Err(fail("outside the trap page"));
        }
        if !addr.is_multiple_of(4) {
            return Err(fail("not 4-byte aligned"));
        }
        if addr == state.trap_base {
            return Err(fail("the first slot is the return address of calls"));
        }
        if state.traps.contains_key(&addr) {
            return Err(fail("a trap is already installed there"));
        }
        state.traps.insert(addr, Box::new(callback));
        Ok(addr)
    }

    /// Calls the function at `entry` with up to eight integer `args` in x0..x7 / a0..a7,
    /// a 16-byte aligned stack at the top of the machine stack and the return address in
    /// x30 / ra, and runs until it returns.
    pub fn call(&mut self, entry: u64, args: &[u64]) -> Result<Call64Result, EmuError> {
        let isa = self.isa;
        if args.len() > 8 {
            return Err(EmuError::TooManyArgs {
                count: args.len(),
                size: self.config.stack_size as u32,
            });
        }
        let state = self.uc.get_data_mut();
        state.insns = 0;
        state.trap_calls = 0;
        state.pc = entry;
        state.error = None;
        // As on the 32-bit machine: code must not rely on what it did not
        // set, so the stack and every register but the arguments, sp, the
        // link register (and RISC-V's zero, gp, tp) start as junk.
        for r in isa.poisoned_regs() {
            self.set_reg(r, POISON_WORD64 ^ u64::from(r))?;
        }
        for (i, &a) in (0u8..).zip(args) {
            self.set_reg(isa.arg_reg(i), a)?;
        }
        let top = (self.config.stack_base + self.config.stack_size) & !15;
        let poison = vec![crate::machine::POISON_BYTE; (top - self.config.stack_base) as usize];
        self.write(self.config.stack_base, &poison)?;
        self.set_reg(isa.sp_reg(), top)?;
        let return_addr = self.config.trap_base;
        self.set_reg(isa.link_reg(), return_addr)?;

        let outcome = self.uc.emu_start(entry, return_addr, 0, 0);
        let pc = self.uc.reg_read(isa.pc_id()).map_err(|e| EmuError::unicorn("reading pc", e))?;
        let state = self.uc.get_data_mut();
        if let Some(e) = state.error.take() {
            return Err(e);
        }
        EmuError::check_stop(outcome, low(pc), pc == return_addr)?;
        let (insns, trap_calls) = (state.insns, state.trap_calls);
        let ret = self.reg(isa.arg_reg(0))?;
        Ok(Call64Result { ret, insns, trap_calls })
    }

    /// General register `n` (see [`Isa64`] for the numbering).
    pub fn reg(&self, n: u8) -> Result<u64, EmuError> {
        let what = || format!("reading register {n}");
        let id = self.isa.reg_id(n).ok_or_else(|| EmuError::unicorn(what(), uc_error::ARG))?;
        self.uc.reg_read(id).map_err(|e| EmuError::unicorn(what(), e))
    }

    /// Sets general register `n`.
    pub fn set_reg(&mut self, n: u8, value: u64) -> Result<(), EmuError> {
        write_reg(&mut self.uc, self.isa, n, value)
    }
}

fn write_reg(uc: &mut Unicorn<'_, State>, isa: Isa64, n: u8, value: u64) -> Result<(), EmuError> {
    let what = || format!("writing register {n}");
    let id = isa.reg_id(n).ok_or_else(|| EmuError::unicorn(what(), uc_error::ARG))?;
    uc.reg_write(id, value).map_err(|e| EmuError::unicorn(what(), e))
}

/// Records the first error of a run and stops it.
fn fail(uc: &mut Unicorn<'_, State>, error: EmuError) {
    let state = uc.get_data_mut();
    if state.error.is_none() {
        state.error = Some(error);
    }
    // Stopping can only fail if the engine is not running, in which case it is stopped.
    let _ = uc.emu_stop();
}

fn on_code(uc: &mut Unicorn<'_, State>, addr: u64, _size: u32) {
    let state = uc.get_data_mut();
    if state.error.is_some() {
        let _ = uc.emu_stop();
        return;
    }
    if addr.wrapping_sub(state.trap_base) < TRAP_PAGE_SIZE {
        on_trap(uc, addr);
        return;
    }
    if state.insns >= state.max_insns {
        let limit = state.max_insns;
        fail(uc, EmuError::InstructionLimit { limit, pc: low(addr) });
        return;
    }
    state.insns += 1;
    state.pc = addr;
}

fn on_trap(uc: &mut Unicorn<'_, State>, addr: u64) {
    let state = uc.get_data_mut();
    if addr == state.trap_base {
        // Returned to the caller of `call`; `until` normally stops before this.
        let _ = uc.emu_stop();
        return;
    }
    let isa = state.isa;
    let Some(mut callback) = state.traps.remove(&addr) else {
        let return_to = isa.reg_id(isa.link_reg()).and_then(|id| uc.reg_read(id).ok());
        let return_to = low(return_to.unwrap_or(0));
        fail(uc, EmuError::UnknownTrap { addr: low(addr), return_to });
        return;
    };
    state.trap_calls += 1;
    let mut args = [0u64; 8];
    let mut read = Ok(());
    for (i, slot) in (0u8..).zip(args.iter_mut()) {
        match isa.reg_id(isa.arg_reg(i)).map(|id| uc.reg_read(id)) {
            Some(Ok(v)) => *slot = v,
            _ => read = Err(EmuError::unicorn(format!("reading argument {i}"), uc_error::ARG)),
        }
    }
    let result = read.map_err(|e| Box::new(e) as TrapError).and_then(|()| callback(&args));
    uc.get_data_mut().traps.insert(addr, callback);
    let value = match result {
        Ok(TrapValue::U32(v)) => isa.widen_u32(v),
        Ok(TrapValue::U64(v)) => v,
        Err(source) => {
            fail(uc, EmuError::Trap { addr: low(addr), source });
            return;
        }
    };
    if let Err(e) = write_reg(uc, isa, isa.arg_reg(0), value) {
        fail(uc, e);
    }
}

fn on_invalid(
    uc: &mut Unicorn<'_, State>,
    kind: MemType,
    addr: u64,
    _size: usize,
    _value: i64,
) -> bool {
    let pc = low(uc.get_data().pc);
    fail(uc, EmuError::invalid_access(kind, addr, pc));
    false
}

fn on_interrupt(uc: &mut Unicorn<'_, State>, intno: u32) {
    let state = uc.get_data();
    let (isa, pc) = (state.isa, low(state.pc));
    let error = if intno == isa.illegal_insn_intno() {
        EmuError::InvalidInstruction { pc }
    } else {
        EmuError::Exception { intno, pc }
    };
    fail(uc, error);
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: u64 = 0x0800_0000;

    /// Hand-assembled programs, per ISA.
    struct Programs {
        /// x0 / a0 = 42; return.
        ret42: Vec<u32>,
        /// Save the link register, call the function whose address is argument 1, restore
        /// and return its result.
        call_arg1: Vec<u32>,
        /// Store argument 0 at the address in argument 1; return.
        store: Vec<u32>,
        /// Jump to itself forever.
        spin: Vec<u32>,
    }

    fn programs(isa: Isa64) -> Programs {
        match isa {
            Isa64::Aarch64 => Programs {
                // movz x0, #42; ret
                ret42: vec![0xd280_0540, 0xd65f_03c0],
                // stp x29, x30, [sp, #-16]!; blr x1; ldp x29, x30, [sp], #16; ret
                call_arg1: vec![0xa9bf_7bfd, 0xd63f_0020, 0xa8c1_7bfd, 0xd65f_03c0],
                // str x0, [x1]; ret
                store: vec![0xf900_0020, 0xd65f_03c0],
                // b .
                spin: vec![0x1400_0000],
            },
            Isa64::Riscv64gc => Programs {
                // addi a0, zero, 42; ret
                ret42: vec![0x02a0_0513, 0x0000_8067],
                // addi sp, sp, -16; sd ra, 8(sp); jalr ra, 0(a1); ld ra, 8(sp);
                // addi sp, sp, 16; ret
                call_arg1: vec![
                    0xff01_0113,
                    0x0011_3423,
                    0x0005_80e7,
                    0x0081_3083,
                    0x0101_0113,
                    0x0000_8067,
                ],
                // sd a0, 0(a1); ret
                store: vec![0x00a5_b023, 0x0000_8067],
                // jal zero, 0
                spin: vec![0x0000_006f],
            },
        }
    }

    fn machine(isa: Isa64, code: &[u32]) -> Machine64 {
        let config = Machine64Config { max_insns: 1_000, ..Machine64Config::default() };
        let mut m = Machine64::new(isa, config).expect("machine");
        let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
        m.map(CODE, 0x1000, Perms::RX, &bytes).expect("code maps");
        m
    }

    #[test]
    fn a_call_returns_x0_and_counts_instructions() {
        for isa in Isa64::ALL {
            let mut m = machine(isa, &programs(isa).ret42);
            let r = m.call(CODE, &[7]).expect("returns");
            assert_eq!((r.ret, r.insns, r.trap_calls), (42, 2, 0), "{isa}");
        }
    }

    #[test]
    fn a_trap_gets_the_arguments_and_returns_to_the_caller() {
        for isa in Isa64::ALL {
            let mut m = machine(isa, &programs(isa).call_arg1);
            let trap = m.trap_slot(3);
            m.add_trap(trap, |a| Ok(TrapValue::U64(a[0].wrapping_mul(3) ^ a[1])))
                .expect("trap installs");
            let r = m.call(CODE, &[0x1_0000_0005, trap]).expect("returns");
            assert_eq!(r.ret, 0x3_0000_000f ^ trap, "{isa}");
            assert_eq!(r.trap_calls, 1, "{isa}");
            // The trap page's return instruction is not the code's.
            assert_eq!(r.insns, programs(isa).call_arg1.len() as u64, "{isa}");
        }
    }

    #[test]
    fn a_32_bit_result_is_held_as_the_abi_says() {
        for (isa, want) in
            [(Isa64::Aarch64, 0x8000_0000), (Isa64::Riscv64gc, 0xffff_ffff_8000_0000)]
        {
            let mut m = machine(isa, &programs(isa).call_arg1);
            let trap = m.trap_slot(0);
            m.add_trap(trap, |_| Ok(TrapValue::U32(0x8000_0000))).expect("trap installs");
            assert_eq!(m.call(CODE, &[0, trap]).expect("returns").ret, want, "{isa}");
        }
    }

    #[test]
    fn a_failing_trap_or_a_missing_one_stops_the_run() {
        for isa in Isa64::ALL {
            let mut m = machine(isa, &programs(isa).call_arg1);
            let trap = m.trap_slot(1);
            m.add_trap(trap, |_| Err("refused".into())).expect("trap installs");
            let e = m.call(CODE, &[0, trap]).expect_err("stops");
            assert!(matches!(e, EmuError::Trap { .. }), "{isa}: {e}");
            let e = m.call(CODE, &[0, m.trap_slot(2)]).expect_err("stops");
            assert!(matches!(e, EmuError::UnknownTrap { .. }), "{isa}: {e}");
        }
    }

    #[test]
    fn code_is_not_writable() {
        for isa in Isa64::ALL {
            let mut m = machine(isa, &programs(isa).store);
            let e = m.call(CODE, &[1, CODE]).expect_err("faults");
            assert!(
                matches!(e, EmuError::MemoryFault { addr: CODE, write: true, .. }),
                "{isa}: {e}"
            );
            // The same store to the stack is fine.
            let stack = m.config().stack_base;
            m.call(CODE, &[1, stack]).expect("stores");
            assert_eq!(m.read_vec(stack, 8).expect("reads"), 1u64.to_le_bytes(), "{isa}");
        }
    }

    #[test]
    fn an_endless_loop_hits_the_instruction_limit() {
        for isa in Isa64::ALL {
            let mut m = machine(isa, &programs(isa).spin);
            let e = m.call(CODE, &[]).expect_err("limit");
            assert!(matches!(e, EmuError::InstructionLimit { limit: 1_000, .. }), "{isa}: {e}");
        }
    }

    #[test]
    fn traps_must_be_in_the_trap_page_and_not_its_return_slot() {
        let mut m = machine(Isa64::Aarch64, &[]);
        let base = m.config().trap_base;
        assert!(m.add_trap(base, |_| Ok(TrapValue::U32(0))).is_err());
        assert!(m.add_trap(base + 0x1000, |_| Ok(TrapValue::U32(0))).is_err());
        assert!(m.add_trap(base + 0x12, |_| Ok(TrapValue::U32(0))).is_err());
        assert!(m.add_trap(base + 0x10, |_| Ok(TrapValue::U32(0))).is_ok());
        assert!(m.add_trap(base + 0x10, |_| Ok(TrapValue::U32(0))).is_err());
    }
}
