//! What a trap callback sees: the registers and memory of the stopped core.

use crate::machine::Engine;
use crate::{Core, EmuError};

/// Mutable access to the core while a trap callback runs. When the callback returns `Ok`,
/// execution continues at the return address, as if the trap address were a function.
pub struct TrapContext<'u> {
    pub(crate) uc: &'u mut dyn Engine,
    pub(crate) core: Core,
    pub(crate) addr: u32,
    /// The callback set a 64-bit return value (so r1 / a1 carries a result).
    pub(crate) wide_ret: bool,
}

impl TrapContext<'_> {
    /// The core being emulated.
    pub fn core(&self) -> Core {
        self.core
    }

    /// The trap address that was called (without the Thumb bit).
    pub fn address(&self) -> u32 {
        self.addr
    }

    /// General register `n`: r0..r15 on Arm, x0..x31 on RISC-V.
    pub fn reg(&self, n: u8) -> Result<u32, EmuError> {
        crate::machine::read_reg(self.uc, self.core, n)
    }

    /// Sets general register `n`.
    pub fn set_reg(&mut self, n: u8, value: u32) -> Result<(), EmuError> {
        crate::machine::write_reg(self.uc, self.core, n, value)
    }

    /// Integer argument `i` of the call, from registers or, past them, from the stack.
    pub fn arg(&self, i: usize) -> Result<u32, EmuError> {
        match self.core.arg_reg(i) {
            Some(r) => self.reg(r),
            None => {
                let sp = self.reg(self.core.sp_reg())?;
                let offset = (i - self.core.register_args()) * 4;
                let addr = u64::from(sp) + offset as u64;
                self.read_u32(addr)
            }
        }
    }

    /// Sets the 32-bit return value (r0 / a0).
    pub fn set_ret(&mut self, value: u32) -> Result<(), EmuError> {
        self.set_reg(self.ret_reg(0), value)
    }

    /// Sets a 64-bit return value (r0:r1 / a0:a1, low word first).
    pub fn set_ret64(&mut self, value: u64) -> Result<(), EmuError> {
        self.wide_ret = true;
        self.set_reg(self.ret_reg(0), value as u32)?;
        self.set_reg(self.ret_reg(1), (value >> 32) as u32)
    }

    /// Where the trap returns to (lr / ra, including the Thumb bit).
    pub fn return_address(&self) -> Result<u32, EmuError> {
        self.reg(self.core.link_reg())
    }

    /// Reads emulated memory.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), EmuError> {
        crate::machine::read_mem(self.uc, addr, buf)
    }

    /// Reads a little-endian word.
    pub fn read_u32(&self, addr: u64) -> Result<u32, EmuError> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Writes emulated memory (ignoring region permissions, like a debugger).
    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), EmuError> {
        crate::machine::write_mem(self.uc, addr, bytes)
    }

    /// Writes a little-endian word.
    pub fn write_u32(&mut self, addr: u64, value: u32) -> Result<(), EmuError> {
        self.write(addr, &value.to_le_bytes())
    }

    /// Charges cycles for the routine the trap stands for.
    pub fn add_cycles(&mut self, cycles: u64) {
        let st = self.uc.state();
        st.cycles = st.cycles.saturating_add(cycles);
    }

    fn ret_reg(&self, i: usize) -> u8 {
        // Return values use the first two argument registers on both ABIs.
        if self.core.is_arm() {
            i as u8
        } else {
            10 + i as u8
        }
    }
}
