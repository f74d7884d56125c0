//! RFC 9669 arithmetic edge cases, each checked against values worked out
//! by hand.

mod common;
use common::*;
use femtoc_isa::{AluOp, ByteOrder, Insn, JmpCond, Width};

/// r0 = a; r1 = b; r0 op= (r1 or imm b); exit.
fn binop(width: Width, op: AluOp, a: u64, b: u64, imm: bool) -> u64 {
    let src = if imm { k(b as i32) } else { x(1) };
    let insn = Insn::Alu { width, op, dst: r(0), src };
    r0(&[lddw(0, a), lddw(1, b), insn, EXIT])
}

const MIN64: u64 = 0x8000_0000_0000_0000;
const NEG1: u64 = u64::MAX;

#[test]
fn division_by_zero_gives_zero() {
    for imm in [false, true] {
        assert_eq!(binop(Width::W64, AluOp::Div, 7, 0, imm), 0);
        assert_eq!(binop(Width::W32, AluOp::Div, 0xffff_ffff_0000_0007, 0, imm), 0);
        assert_eq!(binop(Width::W64, AluOp::SDiv, 7, 0, imm), 0);
        assert_eq!(binop(Width::W32, AluOp::SDiv, 7, 0, imm), 0);
    }
    // The 32-bit divisor is the low half only: 1 << 32 is zero.
    assert_eq!(binop(Width::W32, AluOp::Div, 9, 1 << 32, false), 0);
}

#[test]
fn modulo_by_zero_keeps_dst_and_32_bit_forms_zero_upper_half() {
    let a = 0x1234_5678_9abc_def0;
    for imm in [false, true] {
        assert_eq!(binop(Width::W64, AluOp::Mod, a, 0, imm), a);
        assert_eq!(binop(Width::W64, AluOp::SMod, a, 0, imm), a);
        assert_eq!(binop(Width::W32, AluOp::Mod, a, 0, imm), 0x9abc_def0);
        assert_eq!(binop(Width::W32, AluOp::SMod, a, 0, imm), 0x9abc_def0);
    }
}

#[test]
fn signed_overflow_cases() {
    assert_eq!(binop(Width::W64, AluOp::SDiv, MIN64, NEG1, false), MIN64);
    assert_eq!(binop(Width::W64, AluOp::SDiv, MIN64, NEG1, true), MIN64);
    assert_eq!(binop(Width::W64, AluOp::SMod, MIN64, NEG1, false), 0);
    assert_eq!(binop(Width::W32, AluOp::SDiv, 0x8000_0000, NEG1, true), 0x8000_0000);
    assert_eq!(binop(Width::W32, AluOp::SMod, 0x8000_0000, NEG1, false), 0);
}

#[test]
fn signed_division_truncates_toward_zero() {
    let m7 = (-7i64) as u64;
    assert_eq!(binop(Width::W64, AluOp::SDiv, m7, 2, true), (-3i64) as u64);
    assert_eq!(binop(Width::W64, AluOp::SMod, m7, 2, false), (-1i64) as u64);
    assert_eq!(binop(Width::W64, AluOp::SMod, 7, (-2i64) as u64, true), 1);
    assert_eq!(binop(Width::W32, AluOp::SDiv, m7, 2, true), 0xffff_fffd);
    assert_eq!(binop(Width::W32, AluOp::SMod, m7, 2, false), 0xffff_ffff);
    // Unsigned division sees the sign-extended immediate as a huge divisor.
    assert_eq!(binop(Width::W64, AluOp::Div, 100, (-1i64) as u64, true), 0);
    assert_eq!(binop(Width::W32, AluOp::Div, 0xffff_fffe, (-1i64) as u64, true), 0);
}

#[test]
fn shift_amounts_are_masked() {
    for imm in [false, true] {
        assert_eq!(binop(Width::W64, AluOp::Lsh, 1, 65, imm), 2);
        assert_eq!(binop(Width::W32, AluOp::Lsh, 1, 33, imm), 2);
        assert_eq!(binop(Width::W64, AluOp::Rsh, 0x100, 72, imm), 1);
        assert_eq!(binop(Width::W32, AluOp::Rsh, 0xdead_0000_0000_0100, 40, imm), 1);
        assert_eq!(binop(Width::W64, AluOp::Arsh, MIN64, 63, imm), NEG1);
        assert_eq!(binop(Width::W32, AluOp::Arsh, 0x8000_0000, 31, imm), 0xffff_ffff);
        assert_eq!(binop(Width::W32, AluOp::Arsh, 0x8000_0000, 33, imm), 0xc000_0000);
    }
}

#[test]
fn immediates_and_zero_extension() {
    assert_eq!(r0(&[mov(0, -1), EXIT]), NEG1);
    assert_eq!(r0(&[alu32(AluOp::Mov, 0, k(-1)), EXIT]), 0xffff_ffff);
    assert_eq!(r0(&[mov(0, 0), alu64(AluOp::Add, 0, k(-1)), EXIT]), NEG1);
    assert_eq!(binop(Width::W32, AluOp::Add, 0x1_ffff_ffff, 1, true), 0);
    assert_eq!(binop(Width::W32, AluOp::Mul, 0xffff_ffff, 2, false), 0xffff_fffe);
    assert_eq!(
        binop(Width::W32, AluOp::Or, 0xaaaa_0000_0000_0000, (-1i64) as u64, true),
        0xffff_ffff
    );
    assert_eq!(binop(Width::W64, AluOp::And, NEG1, (-2i64) as u64, true), (-2i64) as u64);
    assert_eq!(binop(Width::W32, AluOp::Xor, 0xffff_ffff_0000_000f, 0xff, true), 0xf0);
    assert_eq!(binop(Width::W32, AluOp::Sub, 0, 1, true), 0xffff_ffff);
    assert_eq!(binop(Width::W32, AluOp::Mov, 0, 0x1234_5678_9abc_def0, false), 0x9abc_def0);
}

#[test]
fn movsx_widths() {
    let sx = |width, bits, v: u64| {
        r0(&[lddw(1, v), Insn::Alu { width, op: AluOp::MovSx(bits), dst: r(0), src: x(1) }, EXIT])
    };
    assert_eq!(sx(Width::W64, 8, 0x80), 0xffff_ffff_ffff_ff80);
    assert_eq!(sx(Width::W64, 8, 0x17f), 0x7f);
    assert_eq!(sx(Width::W64, 16, 0x8000), 0xffff_ffff_ffff_8000);
    assert_eq!(sx(Width::W64, 32, 0x8000_0000), 0xffff_ffff_8000_0000);
    assert_eq!(sx(Width::W64, 32, 0xffff_ffff_7fff_ffff), 0x7fff_ffff);
    assert_eq!(sx(Width::W32, 8, 0x180), 0xffff_ff80);
    assert_eq!(sx(Width::W32, 16, 0xffff_8000), 0xffff_8000);
    assert_eq!(sx(Width::W32, 16, 0x1_7fff), 0x7fff);
}

#[test]
fn negation() {
    assert_eq!(r0(&[mov(0, 1), Insn::Neg { width: Width::W64, dst: r(0) }, EXIT]), NEG1);
    assert_eq!(r0(&[mov(0, 1), Insn::Neg { width: Width::W32, dst: r(0) }, EXIT]), 0xffff_ffff);
    assert_eq!(r0(&[lddw(0, 1 << 32), Insn::Neg { width: Width::W32, dst: r(0) }, EXIT]), 0);
}

#[test]
fn byte_order() {
    let v = 0x1122_3344_5566_7788;
    let e = |order, bits| r0(&[lddw(0, v), Insn::Endian { order, bits, dst: r(0) }, EXIT]);
    assert_eq!(e(ByteOrder::ToLe, 16), 0x7788);
    assert_eq!(e(ByteOrder::ToLe, 32), 0x5566_7788);
    assert_eq!(e(ByteOrder::ToLe, 64), v);
    assert_eq!(e(ByteOrder::ToBe, 16), 0x8877);
    assert_eq!(e(ByteOrder::ToBe, 32), 0x8877_6655);
    assert_eq!(e(ByteOrder::ToBe, 64), 0x8877_6655_4433_2211);
    assert_eq!(e(ByteOrder::Swap, 16), 0x8877);
    assert_eq!(e(ByteOrder::Swap, 32), 0x8877_6655);
    assert_eq!(e(ByteOrder::Swap, 64), 0x8877_6655_4433_2211);
}

/// 1 if `dst cond src` jumps, 2 if not.
fn taken(width: Width, cond: JmpCond, a: u64, b: u64, imm: bool) -> u64 {
    let src = if imm { k(b as i32) } else { x(2) };
    r0(&[lddw(1, a), lddw(2, b), jmp(width, cond, 1, src, 2), mov(0, 2), EXIT, mov(0, 1), EXIT])
}

#[test]
fn jump_conditions() {
    use JmpCond::*;
    let (w64, w32) = (Width::W64, Width::W32);
    assert_eq!(taken(w64, Eq, NEG1, NEG1, true), 1, "imm is sign-extended");
    assert_eq!(taken(w64, Eq, 0xffff_ffff, NEG1, true), 2);
    assert_eq!(taken(w32, Eq, 0x1_0000_0005, 5, true), 1, "JMP32 compares low halves");
    assert_eq!(taken(w64, Eq, 0x1_0000_0005, 5, true), 2);
    assert_eq!(taken(w32, Sgt, 0xffff_ffff, 0, true), 2, "-1 as i32");
    assert_eq!(taken(w64, Sgt, 0xffff_ffff, 0, true), 1);
    assert_eq!(taken(w64, Gt, NEG1, 1, false), 1);
    assert_eq!(taken(w64, Sgt, NEG1, 1, false), 2);
    assert_eq!(taken(w64, Ge, 3, 3, false), 1);
    assert_eq!(taken(w64, Lt, 2, 3, true), 1);
    assert_eq!(taken(w64, Le, 4, 3, true), 2);
    assert_eq!(taken(w64, Slt, NEG1, 0, true), 1);
    assert_eq!(taken(w64, Sle, 0, NEG1, true), 2);
    assert_eq!(taken(w64, Sge, NEG1, NEG1, false), 1);
    assert_eq!(taken(w64, Set, 0b1010, 0b0100, true), 2);
    assert_eq!(taken(w64, Set, 0b1010, 0b0010, true), 1);
    assert_eq!(taken(w32, Set, 1 << 32, 1 << 32, false), 2);
    assert_eq!(taken(w64, Ne, 1, 2, false), 1);
    assert_eq!(taken(w32, Ne, 1 << 32, 0, true), 2);
    assert_eq!(taken(w32, Lt, 0x1_0000_0000, 1, true), 1);
    assert_eq!(taken(w32, Slt, 0x8000_0000, 0, true), 1);
    assert_eq!(taken(w32, Sge, 0x8000_0000, 0, false), 2);
    assert_eq!(taken(w32, Le, 0xffff_ffff, NEG1, true), 1);
    assert_eq!(taken(w32, Sle, 0x7fff_ffff, 0, true), 2);
    assert_eq!(taken(w32, Gt, 0x2_0000_0001, 0x1_0000_0000, false), 1);
    assert_eq!(taken(w32, Ge, 0, 0x1_0000_0000, false), 1);
}
