//! The machine: Unicorn set up for one core, memory, traps and the C-ABI call.

use std::collections::HashMap;

use unicorn_engine::{uc_error, HookType, MemType, Prot, Unicorn};

use crate::classify::{self, Decoded, Forbidden, InsnClass};
use crate::cycles::CycleTable;
use crate::error::{EmuError, TrapError};
use crate::trap::TrapContext;
use crate::Core;

pub(crate) type Uc = Unicorn<'static, State>;

/// The engine operations trap callbacks need, as a trait object: Unicorn's hooks receive
/// the engine at an arbitrary lifetime, which a concrete type in `TrapContext` cannot name.
pub(crate) trait Engine {
    fn get_reg(&self, id: i32) -> Result<u64, uc_error>;
    fn put_reg(&mut self, id: i32, value: u64) -> Result<(), uc_error>;
    fn get_mem(&self, addr: u64, buf: &mut [u8]) -> Result<(), uc_error>;
    fn put_mem(&mut self, addr: u64, bytes: &[u8]) -> Result<(), uc_error>;
    fn state(&mut self) -> &mut State;
}

impl Engine for Unicorn<'_, State> {
    fn get_reg(&self, id: i32) -> Result<u64, uc_error> {
        self.reg_read(id)
    }

    fn put_reg(&mut self, id: i32, value: u64) -> Result<(), uc_error> {
        self.reg_write(id, value)
    }

    fn get_mem(&self, addr: u64, buf: &mut [u8]) -> Result<(), uc_error> {
        self.mem_read(addr, buf)
    }

    fn put_mem(&mut self, addr: u64, bytes: &[u8]) -> Result<(), uc_error> {
        self.mem_write(addr, bytes)
    }

    fn state(&mut self) -> &mut State {
        self.get_data_mut()
    }
}

/// What the hooks receive.
type Hooked<'a> = Unicorn<'a, State>;

type TrapFn = Box<dyn FnMut(&mut TrapContext<'_>) -> Result<(), TrapError>>;

/// Size of the trap page.
const TRAP_PAGE_SIZE: u32 = 0x1000;
/// What the machine stack below a call's arguments holds when the call starts.
pub const POISON_BYTE: u8 = 0xa5;
/// What a register carrying no argument holds when a call starts (xor its number).
pub const POISON_WORD: u32 = 0xdead_be00;

/// Layout and limits of a [`Machine`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineConfig {
    /// Base of the trap page (4 KiB, executable). Its first slot is the return address of
    /// [`Machine::call`]; traps go anywhere else in it. The default, 0x0FFF_F000, lies in
    /// the executable Code region of the M-profile default memory map.
    pub trap_base: u32,
    /// Lowest address of the stack region.
    pub stack_base: u32,
    /// Size of the stack region in bytes.
    pub stack_size: u32,
    /// Instruction budget of one call; exceeding it fails the run.
    pub max_insns: u64,
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            trap_base: 0x0FFF_F000,
            stack_base: 0x2FFF_0000,
            stack_size: 0x1_0000,
            max_insns: 100_000_000,
        }
    }
}

/// Access permissions of a mapped region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perms {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
}

impl Perms {
    /// Read-only data.
    pub const R: Perms = Perms { read: true, write: false, exec: false };
    /// Read-write data.
    pub const RW: Perms = Perms { read: true, write: true, exec: false };
    /// Code (flash).
    pub const RX: Perms = Perms { read: true, write: false, exec: true };
    /// Everything.
    pub const RWX: Perms = Perms { read: true, write: true, exec: true };

    pub(crate) fn prot(self) -> Prot {
        let mut p = Prot::NONE;
        if self.read {
            p |= Prot::READ;
        }
        if self.write {
            p |= Prot::WRITE;
        }
        if self.exec {
            p |= Prot::EXEC;
        }
        p
    }
}

/// Executed instructions per [`InsnClass`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassCounts([u64; InsnClass::ALL.len()]);

impl ClassCounts {
    /// Instructions of `class` executed.
    pub fn get(&self, class: InsnClass) -> u64 {
        self.0.get(class.index()).copied().unwrap_or(0)
    }

    /// (class, count) for every class, in report order.
    pub fn iter(&self) -> impl Iterator<Item = (InsnClass, u64)> + '_ {
        InsnClass::ALL.into_iter().map(|c| (c, self.get(c)))
    }

    fn add(&mut self, class: InsnClass) {
        if let Some(n) = self.0.get_mut(class.index()) {
            *n += 1;
        }
    }
}

/// The outcome of a [`Machine::call`] that returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallResult {
    /// Return value: r0 | r1 << 32 on Arm, a0 | a1 << 32 on RISC-V.
    pub ret: u64,
    /// Instructions executed (trap-page instructions excluded).
    pub insns: u64,
    /// Estimated cycles ([`crate::cycles`]), plus what trap callbacks charged.
    pub cycles: u64,
    /// Instructions executed per class.
    pub classes: ClassCounts,
    /// Control transfers that did not fall through (taken branches, jumps, calls, returns).
    pub taken: u64,
    /// Trap callbacks invoked.
    pub trap_calls: u64,
}

/// A control-flow instruction whose cost waits for the next executed address.
#[derive(Clone, Copy)]
struct Pending {
    decoded: Decoded,
    fallthrough: u32,
}

/// Per-engine state the hooks share with the machine.
pub(crate) struct State {
    core: Core,
    table: &'static CycleTable,
    trap_base: u32,
    traps: HashMap<u32, TrapFn>,
    max_insns: u64,
    insns: u64,
    pub(crate) cycles: u64,
    classes: ClassCounts,
    taken: u64,
    trap_calls: u64,
    pending: Option<Pending>,
    after_single_ldst: bool,
    pc: u32,
    align: u8,
    it_block: ItBlock,
    error: Option<EmuError>,
}

/// The instructions of the current Thumb IT block. Unicorn emits no code hook for an
/// instruction whose IT condition fails, but silicon still spends a cycle on it, so the
/// executor counts those it sees skipped (as 1-cycle instructions of their class).
#[derive(Clone, Copy, Default)]
struct ItBlock {
    insns: [(u32, Option<InsnClass>); 4],
    len: usize,
    next: usize,
    end: u32,
}

impl State {
    fn in_trap_page(&self, addr: u32) -> bool {
        addr.wrapping_sub(self.trap_base) < TRAP_PAGE_SIZE
    }

    fn reset_run(&mut self) {
        self.insns = 0;
        self.cycles = 0;
        self.classes = ClassCounts::default();
        self.taken = 0;
        self.trap_calls = 0;
        self.pending = None;
        self.after_single_ldst = false;
        self.pc = 0;
        self.align = 1;
        self.it_block = ItBlock::default();
        self.error = None;
    }

    /// Counts the IT-block instructions between the last hooked one and `addr`.
    fn account_it_skips(&mut self, addr: u32) {
        while self.it_block.next < self.it_block.len {
            let Some(&(at, class)) = self.it_block.insns.get(self.it_block.next) else { break };
            if at == addr {
                self.it_block.next += 1;
                return;
            }
            if at > addr || addr > self.it_block.end {
                break;
            }
            self.it_block.next += 1;
            self.insns += 1;
            self.cycles += 1;
            self.after_single_ldst = false;
            if let Some(class) = class {
                self.classes.add(class);
            }
        }
        self.it_block = ItBlock::default();
    }

    fn charge(&mut self, d: &Decoded, taken: bool) {
        self.cycles += self.table.cost(d, taken, self.after_single_ldst);
        self.taken += u64::from(taken);
        self.after_single_ldst = matches!(d.class, InsnClass::Load | InsnClass::Store);
    }

    fn resolve_pending(&mut self, next: u32) {
        if let Some(p) = self.pending.take() {
            self.charge(&p.decoded, next != p.fallthrough);
        }
    }
}

/// An emulated core with its memory, stack, trap page and counters.
pub struct Machine {
    uc: Uc,
    core: Core,
    config: MachineConfig,
    page_size: u32,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine").field("core", &self.core).field("config", &self.config).finish()
    }
}

impl Machine {
    /// A machine for `core` with the default layout.
    pub fn new(core: Core) -> Result<Machine, EmuError> {
        Machine::with_config(core, MachineConfig::default())
    }

    /// A machine for `core` with a given layout: maps the trap page and the stack.
    pub fn with_config(core: Core, config: MachineConfig) -> Result<Machine, EmuError> {
        let state = State {
            core,
            table: CycleTable::for_core(core),
            trap_base: config.trap_base,
            traps: HashMap::new(),
            max_insns: config.max_insns,
            insns: 0,
            cycles: 0,
            classes: ClassCounts::default(),
            taken: 0,
            trap_calls: 0,
            pending: None,
            after_single_ldst: false,
            pc: 0,
            align: 1,
            it_block: ItBlock::default(),
            error: None,
        };
        let mut uc = Unicorn::new_with_data(core.arch(), core.mode(), state)
            .map_err(|e| EmuError::unicorn(format!("creating a {core} engine"), e))?;
        // The model must be chosen before anything initialises the engine.
        uc.ctl_set_cpu_model(core.cpu_model())
            .map_err(|e| EmuError::unicorn(format!("selecting the {core} cpu model"), e))?;
        let page_size =
            uc.ctl_get_page_size().map_err(|e| EmuError::unicorn("querying the page size", e))?;
        let mut m = Machine { uc, core, config, page_size };
        m.map(config.trap_base, TRAP_PAGE_SIZE, Perms::RX, &trap_page_code(core))?;
        m.map(config.stack_base, config.stack_size, Perms::RW, &[])?;
        m.install_hooks()?;
        Ok(m)
    }

    fn install_hooks(&mut self) -> Result<(), EmuError> {
        // begin > end selects the whole address space.
        self.uc.add_code_hook(1, 0, on_code).map_err(EmuError::hook("code"))?;
        self.uc
            .add_mem_hook(HookType::MEM_READ | HookType::MEM_WRITE, 1, 0, on_access)
            .map_err(EmuError::hook("memory access"))?;
        self.uc
            .add_mem_hook(HookType::MEM_INVALID, 1, 0, on_invalid)
            .map_err(EmuError::hook("invalid memory"))?;
        self.uc.add_intr_hook(on_interrupt).map_err(EmuError::hook("interrupt"))?;
        Ok(())
    }

    /// The core.
    pub fn core(&self) -> Core {
        self.core
    }

    /// The layout.
    pub fn config(&self) -> &MachineConfig {
        &self.config
    }

    /// Changes the instruction budget of later calls.
    pub fn set_max_insns(&mut self, max_insns: u64) {
        self.config.max_insns = max_insns;
        self.uc.get_data_mut().max_insns = max_insns;
    }

    /// Maps `size` bytes at `addr` with `perms`, filled with `init` and then zeros. Address
    /// and size must be multiples of the engine's page size (4 KiB suffices).
    pub fn map(&mut self, addr: u32, size: u32, perms: Perms, init: &[u8]) -> Result<(), EmuError> {
        let fail = |reason: String| EmuError::Map { addr: addr.into(), size: size.into(), reason };
        if size == 0 || !addr.is_multiple_of(self.page_size) || !size.is_multiple_of(self.page_size)
        {
            return Err(fail(format!(
                "address and size must be non-zero multiples of the {}-byte page",
                self.page_size
            )));
        }
        if u64::from(addr) + u64::from(size) > 1 << 32 {
            return Err(fail("the region passes the end of the 32-bit address space".into()));
        }
        if init.len() as u64 > u64::from(size) {
            return Err(fail(format!("{} initial bytes do not fit", init.len())));
        }
        self.uc
            .mem_map(addr.into(), size.into(), perms.prot())
            .map_err(|e| fail(format!("Unicorn refused ({e:?}); does it overlap a region?")))?;
        write_mem(&mut self.uc, addr.into(), init)
    }

    /// Maps `size` bytes of host memory at `host` to emulated address `addr`, so that host
    /// code (trap callbacks, the runtime's routines) and emulated code share them without
    /// copies. Address, size and `host` must be multiples of the engine's page size.
    ///
    /// # Safety
    /// `host` must be valid for reads and writes of `size` bytes until the machine is dropped,
    /// and host code must not hold references into them while emulated code runs other than
    /// the ones it reads and writes through deliberately, as with memory shared with a device.
    pub unsafe fn map_host(
        &mut self,
        addr: u32,
        size: u32,
        perms: Perms,
        host: *mut u8,
    ) -> Result<(), EmuError> {
        let fail = |reason: String| EmuError::Map { addr: addr.into(), size: size.into(), reason };
        let page = self.page_size;
        if size == 0
            || !addr.is_multiple_of(page)
            || !size.is_multiple_of(page)
            || !(host as usize).is_multiple_of(page as usize)
        {
            return Err(fail(format!(
                "address, size and host pointer must be non-zero multiples of the {page}-byte page"
            )));
        }
        if u64::from(addr) + u64::from(size) > 1 << 32 {
            return Err(fail("the region passes the end of the 32-bit address space".into()));
        }
        // SAFETY: the caller guarantees `host` stays valid for `size` bytes while the engine
        // (and so the mapping) lives.
        unsafe { self.uc.mem_map_ptr(addr.into(), size.into(), perms.prot(), host.cast()) }
            .map_err(|e| fail(format!("Unicorn refused ({e:?}); does it overlap a region?")))
    }

    /// Copies code (or data) to `addr`, which must be mapped.
    pub fn load(&mut self, addr: u32, bytes: &[u8]) -> Result<(), EmuError> {
        self.write(addr, bytes)
    }

    /// Reads emulated memory.
    pub fn read(&self, addr: u32, buf: &mut [u8]) -> Result<(), EmuError> {
        read_mem(&self.uc, addr.into(), buf)
    }

    /// Reads `len` bytes of emulated memory.
    pub fn read_vec(&self, addr: u32, len: usize) -> Result<Vec<u8>, EmuError> {
        let mut v = vec![0; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    /// Reads a little-endian word.
    pub fn read_u32(&self, addr: u32) -> Result<u32, EmuError> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Writes emulated memory, regardless of the region's permissions.
    pub fn write(&mut self, addr: u32, bytes: &[u8]) -> Result<(), EmuError> {
        write_mem(&mut self.uc, addr.into(), bytes)
    }

    /// Writes a little-endian word.
    pub fn write_u32(&mut self, addr: u32, value: u32) -> Result<(), EmuError> {
        self.write(addr, &value.to_le_bytes())
    }

    /// General register `n` (r0..r15 on Arm, x0..x31 on RISC-V).
    pub fn reg(&self, n: u8) -> Result<u32, EmuError> {
        read_reg(&self.uc, self.core, n)
    }

    /// Sets general register `n`; values survive into the next [`Machine::call`] unless
    /// the call sets them (arguments, stack pointer, link register).
    pub fn set_reg(&mut self, n: u8, value: u32) -> Result<(), EmuError> {
        write_reg(&mut self.uc, self.core, n, value)
    }

    /// The trap page as (base, size).
    pub fn trap_page(&self) -> (u32, u32) {
        (self.config.trap_base, TRAP_PAGE_SIZE)
    }

    /// Installs `callback` at `addr` in the trap page (2-byte aligned, not the first slot,
    /// which is the return address). Returns the function pointer to hand to the code
    /// (with the Thumb bit on Arm). A callback that returns `Err` stops the run with
    /// [`EmuError::Trap`].
    pub fn add_trap<F>(&mut self, addr: u32, callback: F) -> Result<u32, EmuError>
    where
        F: FnMut(&mut TrapContext<'_>) -> Result<(), TrapError> + 'static,
    {
        let addr = addr & !self.core.code_bit();
        let fail = |reason| EmuError::TrapAddress { addr, reason };
        let state = self.uc.get_data_mut();
        if !state.in_trap_page(addr) {
            return Err(fail("outside the trap page"));
        }
        if !addr.is_multiple_of(2) {
            return Err(fail("not 2-byte aligned"));
        }
        if addr == state.trap_base {
            return Err(fail("the first slot is the return address of calls"));
        }
        if state.traps.contains_key(&addr) {
            return Err(fail("a trap is already installed there"));
        }
        state.traps.insert(addr, Box::new(callback));
        Ok(addr | self.core.code_bit())
    }

    /// Calls the function at `entry` with `args` following the C ABI of the core (AAPCS
    /// or RISC-V ILP32; arguments past the registers go on the stack) on a fresh stack, and
    /// runs until it returns. The stack below the arguments and the registers that carry
    /// none start as junk ([`POISON_BYTE`], [`POISON_WORD`]).
    pub fn call(&mut self, entry: u32, args: &[u32]) -> Result<CallResult, EmuError> {
        let core = self.core;
        let return_addr = self.config.trap_base;
        self.uc.get_data_mut().reset_run();

        let align = core.stack_align();
        let top = self.config.stack_base.wrapping_add(self.config.stack_size) & !(align - 1);
        let stacked = args.get(core.register_args()..).unwrap_or(&[]);
        let stacked_bytes = (stacked.len() as u64 * 4).next_multiple_of(u64::from(align));
        if stacked_bytes > u64::from(self.config.stack_size / 2) {
            return Err(EmuError::TooManyArgs { count: args.len(), size: self.config.stack_size });
        }
        // Fits: at most half of a u32-sized stack.
        let sp = top - stacked_bytes as u32;
        // Code must not rely on what it did not set: the stack below sp and
        // every register that is not an argument start as junk, not the
        // zeros a fresh emulator would hold (a missed initialisation would
        // otherwise pass unnoticed).
        let below = sp.wrapping_sub(self.config.stack_base) as usize;
        self.write(self.config.stack_base, &vec![POISON_BYTE; below])?;
        for r in core.poisoned_regs() {
            self.set_reg(r, POISON_WORD ^ u32::from(r))?;
        }
        let words: Vec<u8> = stacked.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.write(sp, &words)?;
        for (i, &a) in args.iter().enumerate().take(core.register_args()) {
            if let Some(r) = core.arg_reg(i) {
                self.set_reg(r, a)?;
            }
        }
        self.set_reg(core.sp_reg(), sp)?;
        self.set_reg(core.link_reg(), return_addr | core.code_bit())?;

        let begin = u64::from((entry & !core.code_bit()) | core.code_bit());
        let outcome = self.uc.emu_start(begin, return_addr.into(), 0, 0);
        let pc = self.pc()?;
        let state = self.uc.get_data_mut();
        state.resolve_pending(pc);
        if let Some(e) = state.error.take() {
            return Err(e);
        }
        EmuError::check_stop(outcome, pc, pc == return_addr)?;
        // What the call was given in the registers it must preserve (junk,
        // set above) must come back unchanged, sp included.
        for (reg, expected) in core
            .callee_saved()
            .map(|r| (r, POISON_WORD ^ u32::from(r)))
            .chain([(core.sp_reg(), sp)])
        {
            let found = self.reg(reg)?;
            if found != expected {
                return Err(EmuError::CalleeSaved { reg, expected, found });
            }
        }
        let state = self.uc.get_data();
        let result = CallResult {
            ret: 0,
            insns: state.insns,
            cycles: state.cycles,
            classes: state.classes,
            taken: state.taken,
            trap_calls: state.trap_calls,
        };
        let (r0, r1) = if core.is_arm() { (0, 1) } else { (10, 11) };
        let ret = u64::from(self.reg(r0)?) | u64::from(self.reg(r1)?) << 32;
        Ok(CallResult { ret, ..result })
    }

    fn pc(&self) -> Result<u32, EmuError> {
        self.uc
            .reg_read(self.core.pc_id())
            .map(|v| v as u32)
            .map_err(|e| EmuError::unicorn("reading the pc", e))
    }
}

/// The trap page is filled with returns, so that reaching any trap address runs the
/// callback in the code hook and then returns to the caller.
fn trap_page_code(core: Core) -> Vec<u8> {
    // Thumb `bx lr`; RVC `c.jr ra` (both cores have the C extension).
    let ret: u16 = if core.is_arm() { 0x4770 } else { 0x8082 };
    ret.to_le_bytes().repeat((TRAP_PAGE_SIZE / 2) as usize)
}

pub(crate) fn read_reg(uc: &(impl Engine + ?Sized), core: Core, n: u8) -> Result<u32, EmuError> {
    let what = || format!("reading register {n}");
    let id = core.reg_id(n).ok_or_else(|| EmuError::unicorn(what(), uc_error::ARG))?;
    uc.get_reg(id).map(|v| v as u32).map_err(|e| EmuError::unicorn(what(), e))
}

pub(crate) fn write_reg(
    uc: &mut (impl Engine + ?Sized),
    core: Core,
    n: u8,
    value: u32,
) -> Result<(), EmuError> {
    let what = || format!("writing register {n}");
    let id = core.reg_id(n).ok_or_else(|| EmuError::unicorn(what(), uc_error::ARG))?;
    uc.put_reg(id, value.into()).map_err(|e| EmuError::unicorn(what(), e))
}

pub(crate) fn read_mem(
    uc: &(impl Engine + ?Sized),
    addr: u64,
    buf: &mut [u8],
) -> Result<(), EmuError> {
    if buf.is_empty() {
        return Ok(());
    }
    uc.get_mem(addr, buf).map_err(|_| EmuError::HostAccess { addr, len: buf.len() })
}

pub(crate) fn write_mem(
    uc: &mut (impl Engine + ?Sized),
    addr: u64,
    bytes: &[u8],
) -> Result<(), EmuError> {
    if bytes.is_empty() {
        return Ok(());
    }
    uc.put_mem(addr, bytes).map_err(|_| EmuError::HostAccess { addr, len: bytes.len() })
}

/// Records the first error of a run and stops it.
fn fail(uc: &mut Hooked<'_>, error: EmuError) {
    let state = uc.get_data_mut();
    if state.error.is_none() {
        state.error = Some(error);
    }
    // Stopping can only fail if the engine is not running, in which case it is stopped.
    let _ = uc.emu_stop();
}

fn on_code(uc: &mut Hooked<'_>, addr: u64, size: u32) {
    let addr = addr as u32;
    let state = uc.get_data_mut();
    if state.error.is_some() {
        let _ = uc.emu_stop();
        return;
    }
    state.resolve_pending(addr);
    if state.it_block.len > 0 {
        state.account_it_skips(addr);
    }
    if state.in_trap_page(addr) {
        on_trap(uc, addr);
        return;
    }
    if state.insns >= state.max_insns {
        let limit = state.max_insns;
        fail(uc, EmuError::InstructionLimit { limit, pc: addr });
        return;
    }
    let core = state.core;
    let mut bytes = [0u8; 4];
    let len = (size as usize).min(4);
    if uc.mem_read(addr.into(), &mut bytes[..len]).is_err() {
        fail(uc, EmuError::FetchFault { addr: addr.into() });
        return;
    }
    let word = u32::from_le_bytes(bytes);
    let decoded = if core.is_arm() {
        classify::classify_thumb(word as u16, (word >> 16) as u16)
    } else {
        classify::classify_rv32(word)
    };
    let forbidden = decoded.forbidden.or_else(|| {
        (decoded.class == InsnClass::Atomic && !core.has_atomics()).then_some(Forbidden::Atomic)
    });
    if let Some(kind) = forbidden {
        let insn = if len == 2 { word & 0xFFFF } else { word };
        fail(uc, EmuError::Forbidden { core, pc: addr, insn, kind });
        return;
    }
    if let Some((base, offset)) = decoded.address {
        let target = read_reg(uc, core, base).unwrap_or(0).wrapping_add(offset);
        if !target.is_multiple_of(u32::from(decoded.align)) {
            let write = decoded.class == InsnClass::Store;
            let size = usize::from(decoded.align);
            let align = decoded.align;
            let error =
                EmuError::Misaligned { core, pc: addr, addr: target.into(), size, align, write };
            fail(uc, error);
            return;
        }
    }
    let it_mask = word & 0xF;
    if core.is_arm() && len == 2 && word & 0xFF00 == 0xBF00 && it_mask != 0 {
        let block = read_it_block(uc, addr.wrapping_add(2), 4 - it_mask.trailing_zeros());
        uc.get_data_mut().it_block = block;
    }
    let state = uc.get_data_mut();
    state.insns += 1;
    state.classes.add(decoded.class);
    state.pc = addr;
    state.align = decoded.align;
    if decoded.may_branch {
        // `size` is 2 or 4, so this cannot overflow meaningfully.
        state.pending = Some(Pending { decoded, fallthrough: addr.wrapping_add(size) });
    } else {
        state.charge(&decoded, false);
    }
}

/// Decodes the `count` instructions of an IT block starting at `addr`.
fn read_it_block(uc: &Hooked<'_>, mut addr: u32, count: u32) -> ItBlock {
    let mut block = ItBlock::default();
    for slot in block.insns.iter_mut().take(count as usize) {
        let mut b = [0u8; 4];
        // An unreadable instruction ends the block early; fetching it will fault anyway.
        if uc.mem_read(addr.into(), &mut b[..2]).is_err() {
            break;
        }
        let hw1 = u16::from_le_bytes([b[0], b[1]]);
        let wide = classify::thumb_is_wide(hw1);
        if wide && uc.mem_read(u64::from(addr) + 2, &mut b[2..]).is_err() {
            break;
        }
        let d = classify::classify_thumb(hw1, u16::from_le_bytes([b[2], b[3]]));
        *slot = (addr, Some(d.class));
        block.len += 1;
        addr = addr.wrapping_add(if wide { 4 } else { 2 });
    }
    block.end = addr;
    block
}

fn on_trap(uc: &mut Hooked<'_>, addr: u32) {
    let state = uc.get_data_mut();
    state.align = 1;
    state.after_single_ldst = false;
    if addr == state.trap_base {
        // Returned to the caller of `Machine::call`; `until` normally stops before this.
        let _ = uc.emu_stop();
        return;
    }
    let core = state.core;
    let Some(mut callback) = state.traps.remove(&addr) else {
        let return_to = read_reg(uc, core, core.link_reg()).unwrap_or(0);
        fail(uc, EmuError::UnknownTrap { addr, return_to });
        return;
    };
    state.trap_calls += 1;
    let mut t = TrapContext { uc, core, addr, wide_ret: false };
    let result = callback(&mut t);
    let wide_ret = t.wide_ret;
    uc.get_data_mut().traps.insert(addr, callback);
    match result {
        // A real routine may leave junk in every call-clobbered register:
        // code that relies on one surviving fails here, not on a device.
        Ok(()) => {
            for r in core.call_clobbered(wide_ret) {
                let _ = write_reg(uc, core, r, POISON_WORD ^ 0x80 ^ u32::from(r));
            }
        }
        Err(source) => fail(uc, EmuError::Trap { addr, source }),
    }
}

fn on_access(uc: &mut Hooked<'_>, kind: MemType, addr: u64, size: usize, _value: i64) -> bool {
    let state = uc.get_data_mut();
    let align = state.align;
    if align > 1 && !addr.is_multiple_of(u64::from(align)) {
        let error = EmuError::Misaligned {
            core: state.core,
            pc: state.pc,
            addr,
            size,
            align,
            write: kind == MemType::WRITE,
        };
        fail(uc, error);
    }
    true
}

fn on_invalid(uc: &mut Hooked<'_>, kind: MemType, addr: u64, _size: usize, _value: i64) -> bool {
    let pc = uc.get_data().pc;
    fail(uc, EmuError::invalid_access(kind, addr, pc));
    false
}

/// Arm `EXCP_UDEF` and RISC-V "illegal instruction": the core does not decode the
/// instruction. Arm `EXCP_PREFETCH_ABORT`: the M-profile default memory map forbids
/// execution there (0x4000_0000.., 0xA000_0000..), before Unicorn looks for a mapping.
const ARM_EXCP_UDEF: u32 = 1;
const ARM_EXCP_PREFETCH_ABORT: u32 = 3;
const RISCV_EXCP_ILLEGAL_INST: u32 = 2;

fn on_interrupt(uc: &mut Hooked<'_>, intno: u32) {
    let state = uc.get_data();
    let (core, pc) = (state.core, state.pc);
    let error = match (core.is_arm(), intno) {
        (true, ARM_EXCP_UDEF) | (false, RISCV_EXCP_ILLEGAL_INST) => {
            EmuError::InvalidInstruction { pc }
        }
        (true, ARM_EXCP_PREFETCH_ABORT) => {
            // The code hook never saw the instruction, so the pc register is the address.
            let addr = uc.reg_read(core.pc_id()).unwrap_or(0);
            EmuError::FetchFault { addr }
        }
        _ => EmuError::Exception { intno, pc },
    };
    fail(uc, error);
}
