//! A function's code under construction: instructions are appended, and
//! jumps and calls are emitted first and pointed at their targets once
//! those are known.

use femtoc_isa::{Insn, RawInsn};

/// Code of one function, with pcs local to it.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    /// The slots so far.
    pub code: Vec<u64>,
}

impl Builder {
    /// The pc the next instruction gets.
    pub fn pc(&self) -> usize {
        self.code.len()
    }

    /// Appends `insn`; returns its pc.
    pub fn emit(&mut self, insn: Insn) -> usize {
        let pc = self.pc();
        self.code.extend_from_slice(insn.encode().as_slice());
        pc
    }

    fn relative(at: usize, target: usize) -> i64 {
        target as i64 - (at as i64 + 1)
    }

    /// Points the 16-bit offset of the jump at `at` to `target`. A distance
    /// the field cannot hold leaves an invalid jump, which the verifier
    /// rejects (and the validity test counts); generated functions stay far
    /// below that size.
    pub fn patch_off(&mut self, at: usize, target: usize) {
        let off = i16::try_from(Self::relative(at, target)).unwrap_or(i16::MAX);
        if let Some(slot) = self.code.get_mut(at) {
            let mut raw = RawInsn::from_u64(*slot);
            raw.off = off;
            *slot = raw.to_u64();
        }
    }

    /// Points the 32-bit immediate of the `ja32` or local call at `at`,
    /// whose code starts at global pc `base`, to global pc `target`.
    pub fn patch_imm(&mut self, at: usize, base: usize, target: usize) {
        let imm = i32::try_from(Self::relative(base + at, target)).unwrap_or(i32::MAX);
        if let Some(slot) = self.code.get_mut(at) {
            let mut raw = RawInsn::from_u64(*slot);
            raw.imm = imm;
            *slot = raw.to_u64();
        }
    }
}
