//! The one Thumb-2 encoder: [`Thumb2Insn`] to bytes, choosing a 16-bit
//! encoding wherever one exists for the operands (and, for data
//! processing, wherever the flags allow it: outside IT blocks the 16-bit
//! forms set the flags).

use super::insn::{Compare, DpOp, MemOp, Reg, SetFlags, Shift, Thumb2Insn, UnOp};

/// An encoded instruction: one or two halfwords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enc {
    /// A 16-bit instruction.
    Narrow(u16),
    /// A 32-bit instruction (first halfword first).
    Wide(u16, u16),
}

impl Enc {
    /// Size in bytes.
    pub const fn size(self) -> u32 {
        match self {
            Enc::Narrow(_) => 2,
            Enc::Wide(..) => 4,
        }
    }

    /// Appends the little-endian bytes to `out`.
    pub fn write(self, out: &mut Vec<u8>) {
        match self {
            Enc::Narrow(h) => out.extend_from_slice(&h.to_le_bytes()),
            Enc::Wide(a, b) => {
                out.extend_from_slice(&a.to_le_bytes());
                out.extend_from_slice(&b.to_le_bytes());
            }
        }
    }
}

/// An instruction whose operands no encoding can express.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode {insn:?}: {why}")]
pub struct EncodeError {
    /// The instruction.
    pub insn: Thumb2Insn,
    /// What is out of range.
    pub why: &'static str,
}

/// `ThumbExpandImm` in reverse: the 12-bit `i:imm3:imm8` field for `v`.
pub fn modified_imm(v: u32) -> Option<u32> {
    if v < 0x100 {
        return Some(v);
    }
    let b = v & 0xff;
    if v == b | b << 16 {
        return Some(0x100 | b);
    }
    let b1 = (v >> 8) & 0xff;
    if v == (b1 << 8) | (b1 << 24) {
        return Some(0x200 | b1);
    }
    if v == b * 0x0101_0101 {
        return Some(0x300 | b);
    }
    // An 8-bit value with its top bit set, rotated right by 8..=31.
    (8..32u32).find_map(|rot| {
        let unrot = v.rotate_left(rot);
        (unrot & !0xff == 0 && unrot & 0x80 != 0).then_some((rot << 7) | (unrot & 0x7f))
    })
}

const fn r(x: Reg) -> u16 {
    x.num() as u16
}

fn wide_imm12(hw1: u16, imm12: u32, rd: Reg) -> Enc {
    let i = ((imm12 >> 11) & 1) as u16;
    let imm3 = ((imm12 >> 8) & 7) as u16;
    Enc::Wide(hw1 | i << 10, imm3 << 12 | r(rd) << 8 | (imm12 & 0xff) as u16)
}

fn dp_code(op: DpOp) -> u16 {
    match op {
        DpOp::And => 0,
        DpOp::Bic => 1,
        DpOp::Orr => 2,
        DpOp::Orn => 3,
        DpOp::Eor => 4,
        DpOp::Add => 8,
        DpOp::Adc => 10,
        DpOp::Sbc => 11,
        DpOp::Sub => 13,
        DpOp::Rsb => 14,
    }
}

/// The 16-bit "data processing (register)" opcode of `op`, if it has one.
fn narrow_dp_reg(op: DpOp) -> Option<u16> {
    Some(match op {
        DpOp::And => 0,
        DpOp::Eor => 1,
        DpOp::Adc => 5,
        DpOp::Sbc => 6,
        DpOp::Orr => 12,
        DpOp::Bic => 14,
        _ => return None,
    })
}

const fn shift_code(s: Shift) -> u16 {
    match s {
        Shift::Lsl => 0,
        Shift::Lsr => 1,
        Shift::Asr => 2,
        Shift::Ror => 3,
    }
}

const fn sbit(s: SetFlags) -> u16 {
    matches!(s, SetFlags::Set) as u16
}

/// True if a 16-bit, flag-setting form is acceptable.
const fn narrow_ok(s: SetFlags) -> bool {
    !matches!(s, SetFlags::Keep)
}

fn no_pc_sp(regs: &[Reg]) -> bool {
    regs.iter().all(|x| x.num() != 13 && x.num() != 15)
}

/// Encodes every instruction except branches to labels (see
/// [`encode_branch`]).
pub fn encode(insn: &Thumb2Insn) -> Result<Enc, EncodeError> {
    let fail = |why| Err(EncodeError { insn: *insn, why });
    use Thumb2Insn as I;
    Ok(match *insn {
        I::DpReg { op, s, rd, rn, rm, shift, amount } => {
            if amount > 31 {
                return fail("shift amount over 31");
            }
            // ADD rdn, sp (the only data processing with sp this backend uses).
            if op == DpOp::Add && amount == 0 && s != SetFlags::Set && rd == rn && rm == Reg::SP {
                if !no_pc_sp(&[rd]) {
                    return fail("sp or pc operand");
                }
                let d = r(rd);
                return Ok(Enc::Narrow(0x4468 | (d >> 3) << 7 | (d & 7)));
            }
            if !no_pc_sp(&[rd, rn, rm]) {
                return fail("sp or pc operand");
            }
            let low = rd.is_low() && rn.is_low() && rm.is_low();
            let plain = amount == 0;
            if plain && low && narrow_ok(s) {
                match op {
                    DpOp::Add => return Ok(Enc::Narrow(0x1800 | r(rm) << 6 | r(rn) << 3 | r(rd))),
                    DpOp::Sub => return Ok(Enc::Narrow(0x1a00 | r(rm) << 6 | r(rn) << 3 | r(rd))),
                    _ => {}
                }
                if let Some(code) = narrow_dp_reg(op) {
                    let commutes = matches!(op, DpOp::And | DpOp::Eor | DpOp::Orr | DpOp::Adc);
                    if rd == rn {
                        return Ok(Enc::Narrow(0x4000 | code << 6 | r(rm) << 3 | r(rd)));
                    }
                    if rd == rm && commutes {
                        return Ok(Enc::Narrow(0x4000 | code << 6 | r(rn) << 3 | r(rd)));
                    }
                }
            }
            if plain && op == DpOp::Add && s != SetFlags::Set && rd == rn {
                let d = r(rd);
                return Ok(Enc::Narrow(0x4400 | (d >> 3) << 7 | r(rm) << 3 | (d & 7)));
            }
            let kind = if amount == 0 { 0 } else { shift_code(shift) };
            let a = u16::from(amount);
            Enc::Wide(
                0xea00 | dp_code(op) << 5 | sbit(s) << 4 | r(rn),
                (a >> 2) << 12 | r(rd) << 8 | (a & 3) << 6 | kind << 4 | r(rm),
            )
        }
        I::DpImm { op, s, rd, rn, imm } => {
            if !no_pc_sp(&[rd, rn]) {
                return fail("sp or pc operand");
            }
            let low = rd.is_low() && rn.is_low();
            if low && narrow_ok(s) && matches!(op, DpOp::Add | DpOp::Sub) {
                let base3 = if op == DpOp::Add { 0x1c00 } else { 0x1e00 };
                let base8 = if op == DpOp::Add { 0x3000 } else { 0x3800 };
                if imm < 8 {
                    return Ok(Enc::Narrow(base3 | (imm as u16) << 6 | r(rn) << 3 | r(rd)));
                }
                if imm < 256 && rd == rn {
                    return Ok(Enc::Narrow(base8 | r(rd) << 8 | imm as u16));
                }
            }
            if low && narrow_ok(s) && op == DpOp::Rsb && imm == 0 {
                return Ok(Enc::Narrow(0x4240 | r(rn) << 3 | r(rd)));
            }
            let Some(m) = modified_imm(imm) else { return fail("not a modified immediate") };
            wide_imm12(0xf000 | dp_code(op) << 5 | sbit(s) << 4 | r(rn), m, rd)
        }
        I::AddW { sub, rd, rn, imm } => {
            if imm > 4095 || rd.num() == 15 || rn.num() == 15 {
                return fail("imm12 over 4095 or pc operand");
            }
            let hw1 = if sub { 0xf2a0 } else { 0xf200 } | r(rn);
            wide_imm12(hw1, u32::from(imm), rd)
        }
        I::Mov { rd, rm } => {
            if rd.num() == 15 || rm.num() == 15 {
                return fail("pc operand");
            }
            let d = r(rd);
            Enc::Narrow(0x4600 | (d >> 3) << 7 | r(rm) << 3 | (d & 7))
        }
        I::MovImm { s, rd, imm } => {
            if matches!(rd.num(), 13 | 15) {
                return fail("sp or pc destination");
            }
            if rd.is_low() && imm < 256 && narrow_ok(s) {
                return Ok(Enc::Narrow(0x2000 | r(rd) << 8 | imm as u16));
            }
            let Some(m) = modified_imm(imm) else { return fail("not a modified immediate") };
            wide_imm12(0xf04f | sbit(s) << 4, m, rd)
        }
        I::MvnImm { rd, imm } => {
            let Some(m) = modified_imm(imm) else { return fail("not a modified immediate") };
            if matches!(rd.num(), 13 | 15) {
                return fail("sp or pc destination");
            }
            wide_imm12(0xf06f, m, rd)
        }
        I::MvnReg { s, rd, rm } => {
            if !no_pc_sp(&[rd, rm]) {
                return fail("sp or pc operand");
            }
            if rd.is_low() && rm.is_low() && narrow_ok(s) {
                return Ok(Enc::Narrow(0x43c0 | r(rm) << 3 | r(rd)));
            }
            Enc::Wide(0xea6f | sbit(s) << 4, r(rd) << 8 | r(rm))
        }
        I::Movw { rd, imm } | I::Movt { rd, imm } => {
            if matches!(rd.num(), 13 | 15) {
                return fail("sp or pc destination");
            }
            let base = if matches!(insn, I::Movw { .. }) { 0xf240 } else { 0xf2c0 };
            let imm = u32::from(imm);
            let i = ((imm >> 11) & 1) as u16;
            Enc::Wide(
                base | i << 10 | (imm >> 12) as u16,
                (((imm >> 8) & 7) as u16) << 12 | r(rd) << 8 | (imm & 0xff) as u16,
            )
        }
        I::CmpReg { kind, rn, rm } => {
            if !no_pc_sp(&[rn, rm]) {
                return fail("sp or pc operand");
            }
            let low = rn.is_low() && rm.is_low();
            match kind {
                Compare::Cmp if low => Enc::Narrow(0x4280 | r(rm) << 3 | r(rn)),
                Compare::Cmp => {
                    let n = r(rn);
                    Enc::Narrow(0x4500 | (n >> 3) << 7 | r(rm) << 3 | (n & 7))
                }
                Compare::Cmn if low => Enc::Narrow(0x42c0 | r(rm) << 3 | r(rn)),
                Compare::Tst if low => Enc::Narrow(0x4200 | r(rm) << 3 | r(rn)),
                Compare::Cmn => Enc::Wide(0xeb10 | r(rn), 0x0f00 | r(rm)),
                Compare::Tst => Enc::Wide(0xea10 | r(rn), 0x0f00 | r(rm)),
            }
        }
        I::CmpImm { kind, rn, imm } => {
            if !no_pc_sp(&[rn]) {
                return fail("sp or pc operand");
            }
            if kind == Compare::Cmp && rn.is_low() && imm < 256 {
                return Ok(Enc::Narrow(0x2800 | r(rn) << 8 | imm as u16));
            }
            let Some(m) = modified_imm(imm) else { return fail("not a modified immediate") };
            let op = match kind {
                Compare::Cmp => DpOp::Sub,
                Compare::Cmn => DpOp::Add,
                Compare::Tst => DpOp::And,
            };
            wide_imm12(0xf010 | dp_code(op) << 5 | r(rn), m, Reg::PC)
        }
        I::ShiftImm { kind, s, rd, rm, amount } => {
            let max = if matches!(kind, Shift::Lsr | Shift::Asr) { 32 } else { 31 };
            if amount == 0 || amount > max || kind == Shift::Ror && amount > 31 {
                return fail("shift amount out of range");
            }
            if !no_pc_sp(&[rd, rm]) {
                return fail("sp or pc operand");
            }
            let a = u16::from(amount & 31);
            if rd.is_low() && rm.is_low() && narrow_ok(s) && kind != Shift::Ror {
                let base = [0x0000, 0x0800, 0x1000][shift_code(kind) as usize];
                return Ok(Enc::Narrow(base | a << 6 | r(rm) << 3 | r(rd)));
            }
            Enc::Wide(
                0xea4f | sbit(s) << 4,
                (a >> 2) << 12 | r(rd) << 8 | (a & 3) << 6 | shift_code(kind) << 4 | r(rm),
            )
        }
        I::ShiftReg { kind, s, rd, rn, rm } => {
            if !no_pc_sp(&[rd, rn, rm]) {
                return fail("sp or pc operand");
            }
            if rd == rn && rd.is_low() && rm.is_low() && narrow_ok(s) {
                let code = [2, 3, 4, 7][shift_code(kind) as usize];
                return Ok(Enc::Narrow(0x4000 | code << 6 | r(rm) << 3 | r(rd)));
            }
            Enc::Wide(
                0xfa00 | shift_code(kind) << 5 | sbit(s) << 4 | r(rn),
                0xf000 | r(rd) << 8 | r(rm),
            )
        }
        I::Mul { s, rd, rn, rm } => {
            if !no_pc_sp(&[rd, rn, rm]) {
                return fail("sp or pc operand");
            }
            if rd.is_low() && rn.is_low() && rm.is_low() && narrow_ok(s) {
                if rd == rm {
                    return Ok(Enc::Narrow(0x4340 | r(rn) << 3 | r(rd)));
                }
                if rd == rn {
                    return Ok(Enc::Narrow(0x4340 | r(rm) << 3 | r(rd)));
                }
            }
            if s == SetFlags::Set {
                return fail("MULS needs low registers and rd == rn or rm");
            }
            Enc::Wide(0xfb00 | r(rn), 0xf000 | r(rd) << 8 | r(rm))
        }
        I::Mla { sub, rd, rn, rm, ra } => {
            if !no_pc_sp(&[rd, rn, rm, ra]) {
                return fail("sp or pc operand");
            }
            Enc::Wide(0xfb00 | r(rn), r(ra) << 12 | r(rd) << 8 | u16::from(sub) << 4 | r(rm))
        }
        I::Umull { rdlo, rdhi, rn, rm } => {
            if !no_pc_sp(&[rdlo, rdhi, rn, rm]) || rdlo == rdhi {
                return fail("sp or pc operand, or rdlo == rdhi");
            }
            Enc::Wide(0xfba0 | r(rn), r(rdlo) << 12 | r(rdhi) << 8 | r(rm))
        }
        I::Div { signed, rd, rn, rm } => {
            if !no_pc_sp(&[rd, rn, rm]) {
                return fail("sp or pc operand");
            }
            Enc::Wide(if signed { 0xfb90 } else { 0xfbb0 } | r(rn), 0xf0f0 | r(rd) << 8 | r(rm))
        }
        I::Unary { op, rd, rm } => {
            if !no_pc_sp(&[rd, rm]) {
                return fail("sp or pc operand");
            }
            let (narrow, hw1, hw2) = match op {
                UnOp::Sxth => (0xb200, 0xfa0f, 0xf080),
                UnOp::Sxtb => (0xb240, 0xfa4f, 0xf080),
                UnOp::Uxth => (0xb280, 0xfa1f, 0xf080),
                UnOp::Uxtb => (0xb2c0, 0xfa5f, 0xf080),
                UnOp::Rev => (0xba00, 0xfa90 | r(rm), 0xf080),
                UnOp::Rev16 => (0xba40, 0xfa90 | r(rm), 0xf090),
            };
            if rd.is_low() && rm.is_low() {
                return Ok(Enc::Narrow(narrow | r(rm) << 3 | r(rd)));
            }
            Enc::Wide(hw1, hw2 | r(rd) << 8 | r(rm))
        }
        I::Mem { op, rt, rn, off } => encode_mem(insn, op, rt, rn, off)?,
        I::MemReg { op, rt, rn, rm } => {
            if !no_pc_sp(&[rt, rn, rm]) {
                return fail("sp or pc operand");
            }
            if rt.is_low() && rn.is_low() && rm.is_low() {
                let base = match op {
                    MemOp::Str => 0x5000,
                    MemOp::Strh => 0x5200,
                    MemOp::Strb => 0x5400,
                    MemOp::Ldrsb => 0x5600,
                    MemOp::Ldr => 0x5800,
                    MemOp::Ldrh => 0x5a00,
                    MemOp::Ldrb => 0x5c00,
                    MemOp::Ldrsh => 0x5e00,
                };
                return Ok(Enc::Narrow(base | r(rm) << 6 | r(rn) << 3 | r(rt)));
            }
            Enc::Wide(mem_wide_base(op) | r(rn), r(rt) << 12 | r(rm))
        }
        I::Ldrex { rt, rn } => {
            if !no_pc_sp(&[rt]) || rn.num() == 15 {
                return fail("bad register");
            }
            Enc::Wide(0xe850 | r(rn), r(rt) << 12 | 0x0f00)
        }
        I::Strex { rd, rt, rn } => {
            if !no_pc_sp(&[rd, rt]) || rn.num() == 15 || rd == rt || rd == rn {
                return fail("bad register");
            }
            Enc::Wide(0xe840 | r(rn), r(rt) << 12 | r(rd) << 8)
        }
        I::Clrex => Enc::Wide(0xf3bf, 0x8f2f),
        I::Push { regs } | I::Pop { regs } => {
            let pop = matches!(insn, I::Pop { .. });
            let extra = if pop { 1 << 15 } else { 1 << 14 };
            // POP may also name lr (32-bit form only), but not with pc.
            let allowed = if pop { 0x1fff | 0xc000 } else { 0x1fff | extra };
            if regs & !allowed != 0 || regs == 0 || regs & 0xc000 == 0xc000 {
                return fail("register list");
            }
            if regs & !(0xff | extra) == 0 {
                let m = u16::from(regs & extra != 0) << 8;
                return Ok(Enc::Narrow(if pop { 0xbc00 } else { 0xb400 } | m | (regs & 0xff)));
            }
            if regs.count_ones() < 2 {
                return fail("a single high register");
            }
            Enc::Wide(if pop { 0xe8bd } else { 0xe92d }, regs)
        }
        I::SpAdjust { sub, imm } => {
            if imm % 4 != 0 {
                return fail("not a multiple of 4");
            }
            if imm <= 508 {
                return Ok(Enc::Narrow(if sub { 0xb080 } else { 0xb000 } | (imm / 4) as u16));
            }
            if imm > 4095 {
                return fail("over 4095");
            }
            wide_imm12(if sub { 0xf2ad } else { 0xf20d }, imm, Reg::SP)
        }
        I::AddSpImm { rd, imm } => {
            if rd.num() == 15 || imm > 4095 {
                return fail("pc destination or over 4095");
            }
            if rd.is_low() && imm % 4 == 0 && imm <= 1020 {
                return Ok(Enc::Narrow(0xa800 | r(rd) << 8 | (imm / 4) as u16));
            }
            wide_imm12(0xf20d, imm, rd)
        }
        I::Blx { rm } => Enc::Narrow(0x4780 | r(rm) << 3),
        I::Bx { rm } => Enc::Narrow(0x4700 | r(rm) << 3),
        I::B { .. } | I::Cbz { .. } | I::Bl { .. } => {
            return fail("branches to labels are encoded by encode_branch")
        }
    })
}

const fn mem_wide_base(op: MemOp) -> u16 {
    match op {
        MemOp::Ldr => 0xf850,
        MemOp::Str => 0xf840,
        MemOp::Ldrb => 0xf810,
        MemOp::Strb => 0xf800,
        MemOp::Ldrh => 0xf830,
        MemOp::Strh => 0xf820,
        MemOp::Ldrsb => 0xf910,
        MemOp::Ldrsh => 0xf930,
    }
}

fn encode_mem(
    insn: &Thumb2Insn,
    op: MemOp,
    rt: Reg,
    rn: Reg,
    off: i32,
) -> Result<Enc, EncodeError> {
    let fail = |why| Err(EncodeError { insn: *insn, why });
    if !no_pc_sp(&[rt]) || rn.num() == 15 {
        return fail("bad register");
    }
    let scale = op.bytes() as i32;
    let store = matches!(op, MemOp::Str | MemOp::Strh | MemOp::Strb);
    if off >= 0 && off % scale == 0 {
        let units = off / scale;
        if rn == Reg::SP && op.bytes() == 4 && rt.is_low() && units < 256 {
            let base = if store { 0x9000 } else { 0x9800 };
            return Ok(Enc::Narrow(base | r(rt) << 8 | units as u16));
        }
        let narrow = match op {
            MemOp::Str => Some(0x6000),
            MemOp::Ldr => Some(0x6800),
            MemOp::Strb => Some(0x7000),
            MemOp::Ldrb => Some(0x7800),
            MemOp::Strh => Some(0x8000),
            MemOp::Ldrh => Some(0x8800),
            MemOp::Ldrsb | MemOp::Ldrsh => None,
        };
        if let (Some(base), true) = (narrow, rt.is_low() && rn.is_low() && units < 32) {
            return Ok(Enc::Narrow(base | (units as u16) << 6 | r(rn) << 3 | r(rt)));
        }
    }
    let base = mem_wide_base(op) | r(rn);
    match off {
        0..=4095 => Ok(Enc::Wide(base + 0x80, r(rt) << 12 | off as u16)),
        -255..=-1 => Ok(Enc::Wide(base, r(rt) << 12 | 0x0c00 | (-off) as u16)),
        _ => fail("offset outside -255..=4095"),
    }
}

/// Branch forms: the 16-bit one unless `wide` (an error if the offset does
/// not fit it); BL is always 32-bit and CBZ/CBNZ always 16-bit.
/// `offset` is `target - (address of the branch + 4)`.
pub fn encode_branch(insn: &Thumb2Insn, offset: i32, wide: bool) -> Result<Enc, EncodeError> {
    let fail = |why| Err(EncodeError { insn: *insn, why });
    if offset % 2 != 0 {
        return fail("odd branch offset");
    }
    match *insn {
        Thumb2Insn::B { cond: Some(c), .. } => {
            if !wide {
                if !(-256..=254).contains(&offset) {
                    return fail("B<c> reaches -256..=254 bytes");
                }
                return Ok(Enc::Narrow(
                    0xd000 | (c.bits() as u16) << 8 | ((offset >> 1) & 0xff) as u16,
                ));
            }
            if !(-(1 << 20)..(1 << 20)).contains(&offset) {
                return fail("conditional branch beyond 1 MiB");
            }
            let o = offset as u32;
            let (s, j2, j1) = ((o >> 20) & 1, (o >> 19) & 1, (o >> 18) & 1);
            Ok(Enc::Wide(
                (0xf000 | s << 10 | c.bits() << 6 | ((o >> 12) & 0x3f)) as u16,
                (0x8000 | j1 << 13 | j2 << 11 | ((o >> 1) & 0x7ff)) as u16,
            ))
        }
        Thumb2Insn::B { cond: None, .. } => {
            if !wide {
                if !(-2048..=2046).contains(&offset) {
                    return fail("B reaches -2048..=2046 bytes");
                }
                return Ok(Enc::Narrow(0xe000 | ((offset >> 1) & 0x7ff) as u16));
            }
            long_branch(insn, offset, 0x9000)
        }
        Thumb2Insn::Bl { .. } => long_branch(insn, offset, 0xd000),
        Thumb2Insn::Cbz { nonzero, rn, .. } => {
            if wide || !(0..=126).contains(&offset) || !rn.is_low() {
                return fail("CBZ reaches 0..=126 bytes forward from a low register");
            }
            let o = offset as u16;
            Ok(Enc::Narrow(
                0xb100 | u16::from(nonzero) << 11 | (o >> 6) << 9 | ((o >> 1) & 0x1f) << 3 | r(rn),
            ))
        }
        _ => fail("not a branch"),
    }
}

fn long_branch(insn: &Thumb2Insn, offset: i32, hw2: u32) -> Result<Enc, EncodeError> {
    if !(-(1 << 24)..(1 << 24)).contains(&offset) {
        return Err(EncodeError { insn: *insn, why: "branch beyond 16 MiB" });
    }
    let o = offset as u32;
    let s = (o >> 24) & 1;
    let i1 = (o >> 23) & 1;
    let i2 = (o >> 22) & 1;
    let j1 = (!(i1 ^ s)) & 1;
    let j2 = (!(i2 ^ s)) & 1;
    Ok(Enc::Wide(
        (0xf000 | s << 10 | ((o >> 12) & 0x3ff)) as u16,
        (hw2 | j1 << 13 | j2 << 11 | ((o >> 1) & 0x7ff)) as u16,
    ))
}
