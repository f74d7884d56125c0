//! Memory snippets: loads, stores and atomics of every width on the stack
//! (constant offsets inside the frame), the context (offsets computed at
//! run time, aimed inside, across and outside its edges) and a data region.

use femtoc_isa::{AluOp, AtomicOp, Insn, MemSize, Reg, Source, Width};

use super::{FnGen, ARGS, CTX_LEN_SLOT, CTX_PTR_SLOT, R, RESERVED_TOP};
use crate::differential::features::Feature;

pub(super) const SIZES: [MemSize; 4] = [MemSize::B, MemSize::H, MemSize::W, MemSize::DW];
const ATOMIC_OPS: [AtomicOp; 6] =
    [AtomicOp::Add, AtomicOp::Or, AtomicOp::And, AtomicOp::Xor, AtomicOp::Xchg, AtomicOp::CmpXchg];

/// Where a memory access lands relative to its region.
#[derive(Clone, Copy)]
pub(super) enum Aim {
    Inside,
    AcrossStart,
    AcrossEnd,
    OnePast,
    Negative,
    FarOutside,
}

/// Aims other than inside; each access misses with a small probability
/// (see `FnGen::aim`), so that most runs get past several accesses.
const MISSES: [Aim; 5] =
    [Aim::AcrossStart, Aim::AcrossEnd, Aim::OnePast, Aim::Negative, Aim::FarOutside];

/// The kind of access a memory snippet makes.
#[derive(Clone, Copy)]
enum Access {
    Load(MemSize),
    LoadSx(MemSize),
    StoreImm(MemSize),
    StoreReg(MemSize),
    Atomic {
        size: MemSize,
        op: AtomicOp,
        fetch: bool,
    },
    /// `p[0] | p[1] << 8` or `p[0] << 8 | p[1]` from byte loads, sometimes
    /// grown to a word: how C that reads at any address compiles
    /// (`femtoc_compiler::analysis::byte_pairs`).
    BytePair,
}

impl Access {
    pub(super) fn size(self) -> MemSize {
        match self {
            Access::Load(s)
            | Access::LoadSx(s)
            | Access::StoreImm(s)
            | Access::StoreReg(s)
            | Access::Atomic { size: s, .. } => s,
            Access::BytePair => MemSize::H,
        }
    }

    pub(super) fn writes(self) -> bool {
        matches!(self, Access::StoreImm(_) | Access::StoreReg(_) | Access::Atomic { .. })
    }
}

impl FnGen<'_> {
    fn access_kind(&mut self) -> Access {
        if self.rng.chance(8) {
            return Access::BytePair;
        }
        match self.rng.below(5) {
            0 => Access::Load(self.rng.pick(&SIZES, MemSize::B)),
            1 => Access::LoadSx(self.rng.pick(&[MemSize::B, MemSize::H, MemSize::W], MemSize::B)),
            2 => Access::StoreImm(self.rng.pick(&SIZES, MemSize::B)),
            3 => Access::StoreReg(self.rng.pick(&SIZES, MemSize::B)),
            _ => {
                let size = self.rng.pick(&[MemSize::W, MemSize::DW], MemSize::W);
                let op = self.rng.pick(&ATOMIC_OPS, AtomicOp::Add);
                let fetch = matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg) || self.rng.chance(50);
                Access::Atomic { size, op, fetch }
            }
        }
    }

    /// Emits `access` at `base + off`.
    fn access(&mut self, access: Access, base: Reg, off: i16) {
        let insn = match access {
            Access::Load(size) => Insn::Load { size, dst: self.dst(), src: base, off },
            Access::LoadSx(size) => Insn::LoadSx { size, dst: self.dst(), src: base, off },
            Access::StoreImm(size) => {
                Insn::Store { size, dst: base, off, src: Source::Imm(self.imm()) }
            }
            Access::StoreReg(size) => {
                Insn::Store { size, dst: base, off, src: Source::Reg(self.any()) }
            }
            Access::Atomic { size, op, fetch } => {
                // The operand is written back by fetching forms.
                let src = if fetch && op != AtomicOp::CmpXchg { self.dst() } else { self.any() };
                Insn::Atomic { size, op, fetch, dst: base, src, off }
            }
            Access::BytePair => return self.byte_pair(base, off),
        };
        self.emit(insn);
    }

    /// The four instructions of a byte pair at `base + off` in one of three
    /// orders, high byte and halfword in one register and the low byte in
    /// another (neither the base), sometimes grown to a word.
    fn byte_pair(&mut self, base: Reg, off: i16) {
        self.feature(Feature::BytePair);
        let free: Vec<Reg> =
            R.into_iter().filter(|r| *r != base && self.reserved & r.bit() == 0).collect();
        if free.len() < 2 || off >= i16::MAX - 1 {
            let dst = self.dst();
            self.emit(Insn::Load { size: MemSize::B, dst, src: base, off });
            return;
        }
        let high = self.rng.pick(&free, free[0]);
        let rest: Vec<Reg> = free.into_iter().filter(|r| *r != high).collect();
        let low = self.rng.pick(&rest, rest[0]);
        let width = |g: &mut Self| if g.rng.chance(50) { Width::W32 } else { Width::W64 };
        // Little-endian (the high byte after the low one) or network order.
        let (high_off, low_off) = if self.rng.chance(50) { (off + 1, off) } else { (off, off + 1) };
        let load_high = Insn::Load { size: MemSize::B, dst: high, src: base, off: high_off };
        let load_low = Insn::Load { size: MemSize::B, dst: low, src: base, off: low_off };
        let shift =
            Insn::Alu { width: width(self), op: AluOp::Lsh, dst: high, src: Source::Imm(8) };
        let merge =
            Insn::Alu { width: width(self), op: AluOp::Or, dst: high, src: Source::Reg(low) };
        let order = match self.rng.below(3) {
            0 => [load_high, shift, load_low, merge],
            1 => [load_low, load_high, shift, merge],
            _ => [load_high, load_low, shift, merge],
        };
        for insn in order {
            self.emit(insn);
        }
        // A network-order word accumulated as `v = v << 8 | p[k]`, which
        // leaves the earlier bytes' registers out of place.
        if high_off == off && off <= i16::MAX - 3 && self.rng.chance(40) {
            for k in [2, 3] {
                let lane = self.rng.pick(&rest, low);
                let (shift_width, or_width) = (width(self), width(self));
                let eight = Source::Imm(8);
                self.emit(Insn::Alu { width: shift_width, op: AluOp::Lsh, dst: high, src: eight });
                self.emit(Insn::Load { size: MemSize::B, dst: lane, src: base, off: off + k });
                let lane = Source::Reg(lane);
                self.emit(Insn::Alu { width: or_width, op: AluOp::Or, dst: high, src: lane });
            }
        }
        // A little-endian word: the third and fourth bytes shifted by 16
        // and 24 and or-ed in, in registers that may repeat the low one.
        if high_off == off + 1 && off <= i16::MAX - 3 && self.rng.chance(40) {
            for (k, amount) in [(2, 16), (3, 24)] {
                let lane = self.rng.pick(&rest, low);
                let (shift_width, or_width) = (width(self), width(self));
                self.emit(Insn::Load { size: MemSize::B, dst: lane, src: base, off: off + k });
                let amount = Source::Imm(amount);
                self.emit(Insn::Alu { width: shift_width, op: AluOp::Lsh, dst: lane, src: amount });
                let lane = Source::Reg(lane);
                self.emit(Insn::Alu { width: or_width, op: AluOp::Or, dst: high, src: lane });
            }
        }
    }

    pub(super) fn stack_access(&mut self) {
        let access = self.access_kind();
        let size = i64::from(access.size().bytes());
        let lowest = -self.frame;
        let highest = -RESERVED_TOP - 2 * size;
        let mut lo = self.rng.range(lowest, highest);
        if let Access::Atomic { .. } = access {
            lo = lo.div_euclid(size) * size;
            if self.rng.chance(5) {
                lo += self.rng.range(1, size - 1);
                self.feature(Feature::MisalignedAtomic);
            } else {
                self.feature(Feature::AlignedAtomic);
            }
        }
        self.feature(Feature::StackAccess);
        if self.rng.chance(25) {
            // Through a copy of r10 moved by a constant, then dropped at
            // once so that it never mixes with other values.
            let base = self.dst();
            let shift = self.rng.range(-32, 0);
            self.feature(Feature::StackViaCopy);
            self.emit(Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: base,
                src: Source::Reg(Reg::R10),
            });
            self.emit(Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: base,
                src: Source::Imm(shift as i32),
            });
            self.access(access, base, (lo - shift) as i16);
            let imm = self.imm();
            self.emit(Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: base,
                src: Source::Imm(imm),
            });
        } else {
            self.access(access, Reg::R10, lo as i16);
        }
    }

    pub(super) fn aim(&mut self) -> Aim {
        if self.rng.chance(95) {
            Aim::Inside
        } else {
            self.rng.pick(&MISSES, Aim::OnePast)
        }
    }

    /// Where an access of `size` bytes aimed `aim` at a region of `len`
    /// bytes starts, relative to the region.
    pub(super) fn aim_offset(&mut self, aim: Aim, len: i64, size: i64) -> i64 {
        match aim {
            Aim::Inside if len >= size => {
                if self.rng.chance(50) {
                    self.rng.range(0, (len - size).min(8))
                } else {
                    self.rng.range((len - size - 8).max(0), len - size)
                }
            }
            Aim::Inside => 0,
            Aim::AcrossStart => -self.rng.range(1, (size - 1).max(1)),
            Aim::AcrossEnd => len - size + self.rng.range(1, (size - 1).max(1)),
            Aim::OnePast => len,
            Aim::Negative => -size - self.rng.range(0, 16),
            Aim::FarOutside => {
                self.rng.pick(&[len + 64, 0x1000, 0x1000_0000, -0x1000_0000, 1 << 40], len + 64)
            }
        }
    }

    pub(super) fn aim_feature(&mut self, aim: Aim, start: i64, len: i64, size: i64) {
        let f = match aim {
            Aim::Inside if start >= 0 && start + size <= len => Feature::CtxInside,
            Aim::AcrossStart if size > 1 => Feature::CtxAcrossStart,
            Aim::AcrossEnd if size > 1 && len >= size => Feature::CtxAcrossEnd,
            Aim::OnePast => Feature::CtxOnePast,
            Aim::Negative => Feature::CtxNegative,
            Aim::FarOutside => Feature::CtxFarOutside,
            _ => return,
        };
        self.feature(f);
    }

    /// A context access at an offset computed at run time from the saved
    /// context pointer and length.
    pub(super) fn ctx_access(&mut self) {
        if self.env.context.is_none() && self.rng.chance(70) {
            // Every context access faults without a context: fewer of them.
            return self.stack_access();
        }
        let access = self.access_kind();
        let size = i64::from(access.size().bytes());
        let len = self.env.ctx_len();
        let aim = self.aim();
        let mut start = self.aim_offset(aim, len, size);
        if let Access::Atomic { .. } = access {
            if self.rng.chance(95) {
                start = start.div_euclid(size) * size;
            }
            if start.rem_euclid(size) == 0 {
                self.feature(Feature::AlignedAtomic);
            } else {
                self.feature(Feature::MisalignedAtomic);
            }
        }
        if self.env.context.is_some() {
            self.aim_feature(aim, start, len, size);
        }
        let off = self.rng.pick(&[0i16, 0, 0, 1, -1, 4, -8], 0);
        let (base, index) = self.two_dsts();
        self.load_slot(base, CTX_PTR_SLOT);
        let want = start - i64::from(off);
        if self.rng.chance(50) {
            self.load_slot(index, CTX_LEN_SLOT);
            self.add_const(index, base, want - len);
        } else {
            self.emit(Insn::LoadImm64 { dst: index, imm: want as u64 });
        }
        self.emit(Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: base,
            src: Source::Reg(index),
        });
        self.access(access, base, off);
    }

    /// `dst += k` for any 64-bit `k`, in one or two instructions; a wide
    /// `k` goes through a scratch register other than `dst` and `keep`.
    pub(super) fn add_const(&mut self, dst: Reg, keep: Reg, k: i64) {
        if let Ok(k) = i32::try_from(k) {
            self.emit(Insn::Alu { width: Width::W64, op: AluOp::Add, dst, src: Source::Imm(k) });
            return;
        }
        let tmp = ARGS
            .into_iter()
            .chain([Reg::R0])
            .find(|r| *r != dst && *r != keep && self.reserved & r.bit() == 0)
            .unwrap_or(Reg::R0);
        self.emit(Insn::LoadImm64 { dst: tmp, imm: k as u64 });
        self.emit(Insn::Alu { width: Width::W64, op: AluOp::Add, dst, src: Source::Reg(tmp) });
    }

    pub(super) fn data_access(&mut self) {
        let Some(region) = &self.env.data else { return self.ctx_access() };
        let (len, writable) = (i64::from(region.size), region.kind.writable());
        let mut access = self.access_kind();
        if access.writes() && !writable && !self.rng.chance(25) {
            // Writes to read-only data always fault: keep them rare.
            access = Access::Load(access.size());
        }
        let size = i64::from(access.size().bytes());
        let aim = self.aim();
        let start = self.aim_offset(aim, len, size);
        let base = self.dst();
        let at = self.rng.range(0, len);
        self.emit(Insn::LoadDataAddr { dst: base, region: 0, offset: at as u32 });
        self.feature(Feature::DataAccess);
        if access.writes() && !writable {
            self.feature(Feature::RodataWrite);
        }
        match i16::try_from(start - at) {
            Ok(off) => self.access(access, base, off),
            Err(_) => {
                self.add_const(base, base, start - at);
                self.access(access, base, 0);
            }
        }
    }
}
