//! Encoder and assembler tests against capstone (an independent
//! disassembler), form by form, both widths, boundary immediates.

use capstone::arch::arm::{ArchExtraMode, ArchMode};
use capstone::prelude::*;

use super::assembler::Thumb2Assembler;
use super::encode::{encode, encode_branch, modified_imm};
use super::insn::*;

const BASE: u64 = 0x0100_0000;

fn capstone() -> Capstone {
    Capstone::new()
        .arm()
        .mode(ArchMode::Thumb)
        .extra_mode([ArchExtraMode::MClass].into_iter())
        .build()
        .expect("capstone")
}

/// Disassembles `bytes` into (normalised text, size) per instruction:
/// `.w` suffixes dropped (the size says the width) and hex immediates in
/// decimal.
fn disasm(bytes: &[u8]) -> Vec<(String, usize)> {
    let cs = capstone();
    let insns = cs.disasm_all(bytes, BASE).expect("disassembles");
    insns
        .iter()
        .map(|i| {
            let text = format!("{} {}", i.mnemonic().unwrap_or(""), i.op_str().unwrap_or(""));
            (normalise(&text), i.bytes().len())
        })
        .collect()
}

fn normalise(text: &str) -> String {
    let mut text = text.trim().replace(".w ", " ");
    for (alias, name) in [("sb", "r9"), ("sl", "r10"), ("fp", "r11"), ("ip", "r12")] {
        for (sep_before, sep_after) in
            [(" ", ","), (" ", "}"), (" ", "]"), ("[", ","), ("[", "]"), ("{", ",")]
        {
            text = text.replace(
                &format!("{sep_before}{alias}{sep_after}"),
                &format!("{sep_before}{name}{sep_after}"),
            );
        }
        if text.ends_with(&format!(" {alias}")) {
            text = format!("{}{name}", &text[..text.len() - alias.len()]);
        }
    }
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let hex: String = rest[i + 2..].chars().take_while(char::is_ascii_hexdigit).collect();
        let v = u64::from_str_radix(&hex, 16).expect("hex");
        out.push_str(&v.to_string());
        rest = &rest[i + 2 + hex.len()..];
    }
    out.push_str(rest);
    out
}

fn check(insn: Thumb2Insn, want: &str, size: usize) {
    let enc = encode(&insn).unwrap_or_else(|e| panic!("{e}"));
    let mut bytes = Vec::new();
    enc.write(&mut bytes);
    let got = disasm(&bytes);
    assert_eq!(got, vec![(want.to_string(), size)], "{insn:?} -> {bytes:02x?}");
}

use Reg as R;

fn dp(op: DpOp, s: SetFlags, rd: Reg, rn: Reg, rm: Reg) -> Thumb2Insn {
    Thumb2Insn::DpReg { op, s, rd, rn, rm, shift: Shift::Lsl, amount: 0 }
}

#[test]
fn data_processing_register() {
    use SetFlags::*;
    check(dp(DpOp::Add, Any, R::R0, R::R1, R::R2), "adds r0, r1, r2", 2);
    check(dp(DpOp::Add, Keep, R::R0, R::R1, R::R2), "add r0, r1, r2", 4);
    check(dp(DpOp::Add, Any, R::R8, R::R8, R::R3), "add r8, r3", 2);
    check(dp(DpOp::Add, Keep, R::R12, R::R12, R::SP), "add r12, sp, r12", 2);
    check(dp(DpOp::Add, Keep, R::R1, R::R1, R::SP), "add r1, sp, r1", 2);
    check(dp(DpOp::Add, Set, R::R8, R::R9, R::R3), "adds r8, r9, r3", 4);
    check(dp(DpOp::Sub, Set, R::R7, R::R6, R::R5), "subs r7, r6, r5", 2);
    check(dp(DpOp::Sub, Keep, R::R11, R::R12, R::LR), "sub r11, r12, lr", 4);
    check(dp(DpOp::Adc, Any, R::R1, R::R1, R::R3), "adcs r1, r3", 2);
    check(dp(DpOp::Adc, Any, R::R1, R::R3, R::R1), "adcs r1, r3", 2);
    check(dp(DpOp::Adc, Keep, R::R1, R::R3, R::R5), "adc r1, r3, r5", 4);
    check(dp(DpOp::Sbc, Set, R::R2, R::R2, R::R4), "sbcs r2, r4", 2);
    check(dp(DpOp::Sbc, Any, R::R2, R::R4, R::R2), "sbc r2, r4, r2", 4);
    check(dp(DpOp::And, Any, R::R0, R::R0, R::R7), "ands r0, r7", 2);
    check(dp(DpOp::Orr, Any, R::R0, R::R0, R::R7), "orrs r0, r7", 2);
    check(dp(DpOp::Eor, Any, R::R0, R::R0, R::R7), "eors r0, r7", 2);
    check(dp(DpOp::Bic, Any, R::R0, R::R0, R::R7), "bics r0, r7", 2);
    check(dp(DpOp::Orr, Keep, R::R10, R::R11, R::R12), "orr r10, r11, r12", 4);
    check(dp(DpOp::Eor, Keep, R::R10, R::R11, R::R12), "eor r10, r11, r12", 4);
    check(dp(DpOp::And, Keep, R::R10, R::R11, R::R12), "and r10, r11, r12", 4);
    check(dp(DpOp::Bic, Keep, R::R10, R::R11, R::R12), "bic r10, r11, r12", 4);
    check(dp(DpOp::Orn, Keep, R::R10, R::R11, R::R12), "orn r10, r11, r12", 4);
    check(dp(DpOp::Rsb, Keep, R::R10, R::R11, R::R12), "rsb r10, r11, r12", 4);
    let shifted = |shift, amount| Thumb2Insn::DpReg {
        op: DpOp::Orr,
        s: Keep,
        rd: R::R0,
        rn: R::R1,
        rm: R::R2,
        shift,
        amount,
    };
    check(shifted(Shift::Lsl, 31), "orr r0, r1, r2, lsl #31", 4);
    check(shifted(Shift::Lsr, 1), "orr r0, r1, r2, lsr #1", 4);
    check(shifted(Shift::Asr, 17), "orr r0, r1, r2, asr #17", 4);
}

#[test]
fn data_processing_immediate() {
    use SetFlags::*;
    let imm = |op, s, rd, rn, imm| Thumb2Insn::DpImm { op, s, rd, rn, imm };
    check(imm(DpOp::Add, Any, R::R0, R::R1, 7), "adds r0, r1, #7", 2);
    check(imm(DpOp::Add, Any, R::R0, R::R1, 8), "add r0, r1, #8", 4);
    check(imm(DpOp::Add, Any, R::R3, R::R3, 255), "adds r3, #255", 2);
    check(imm(DpOp::Add, Any, R::R3, R::R3, 256), "add r3, r3, #256", 4);
    check(imm(DpOp::Sub, Any, R::R3, R::R3, 255), "subs r3, #255", 2);
    check(imm(DpOp::Sub, Set, R::R3, R::R4, 0), "subs r3, r4, #0", 2);
    check(imm(DpOp::Sub, Keep, R::R3, R::R4, 1), "sub r3, r4, #1", 4);
    check(imm(DpOp::Rsb, Any, R::R3, R::R4, 0), "rsbs r3, r4, #0", 2);
    check(imm(DpOp::Rsb, Keep, R::R3, R::R4, 32), "rsb r3, r4, #32", 4);
    check(imm(DpOp::And, Keep, R::R8, R::R9, 0xff00_ff00), "and r8, r9, #4278255360", 4);
    check(imm(DpOp::Orr, Keep, R::R8, R::R9, 0x00ab_00ab), "orr r8, r9, #11206827", 4);
    check(imm(DpOp::Eor, Set, R::R8, R::R9, 0x5555_5555), "eors r8, r9, #1431655765", 4);
    check(imm(DpOp::Bic, Keep, R::R0, R::R0, 0x8000_0000), "bic r0, r0, #2147483648", 4);
    check(imm(DpOp::Adc, Keep, R::R0, R::R1, 0x3fc), "adc r0, r1, #1020", 4);
    check(imm(DpOp::Sbc, Keep, R::R0, R::R1, 0xff), "sbc r0, r1, #255", 4);
    check(imm(DpOp::Orn, Keep, R::R0, R::R1, 1), "orn r0, r1, #1", 4);
    assert!(encode(&imm(DpOp::And, Keep, R::R0, R::R1, 0x101)).is_err());
    check(
        Thumb2Insn::AddW { sub: false, rd: R::R0, rn: R::R1, imm: 4095 },
        "addw r0, r1, #4095",
        4,
    );
    check(
        Thumb2Insn::AddW { sub: true, rd: R::R11, rn: R::R11, imm: 257 },
        "subw r11, r11, #257",
        4,
    );
}

#[test]
fn modified_immediates_round_trip() {
    // ThumbExpandImm, written from the architecture manual independently
    // of the encoder's search.
    fn expand(imm12: u32) -> u32 {
        let b = imm12 & 0xff;
        if imm12 >> 10 == 0 {
            match (imm12 >> 8) & 3 {
                0 => b,
                1 => b | b << 16,
                2 => (b << 8) | (b << 24),
                _ => b * 0x0101_0101,
            }
        } else {
            (0x80 | (imm12 & 0x7f)).rotate_right(imm12 >> 7)
        }
    }
    for v in [
        0,
        1,
        255,
        256,
        0x3fc,
        0xff0,
        0x8000_0000,
        0xff00_ff00,
        0x00ff_00ff,
        0x1234_5678,
        0xffff_ffff,
        511,
    ] {
        match modified_imm(v) {
            Some(m) => assert_eq!(expand(m), v, "{v:#x}"),
            None => assert!((0..4096).all(|m| expand(m) != v), "{v:#x} is encodable"),
        }
    }
}

#[test]
fn moves_and_compares() {
    use SetFlags::*;
    check(Thumb2Insn::Mov { rd: R::R8, rm: R::R1 }, "mov r8, r1", 2);
    check(Thumb2Insn::Mov { rd: R::R1, rm: R::SP }, "mov r1, sp", 2);
    check(Thumb2Insn::MovImm { s: Any, rd: R::R7, imm: 255 }, "movs r7, #255", 2);
    check(Thumb2Insn::MovImm { s: Keep, rd: R::R7, imm: 255 }, "mov r7, #255", 4);
    check(Thumb2Insn::MovImm { s: Any, rd: R::R7, imm: 256 }, "mov r7, #256", 4);
    check(Thumb2Insn::MovImm { s: Any, rd: R::R12, imm: 0 }, "mov r12, #0", 4);
    check(Thumb2Insn::MvnImm { rd: R::R2, imm: 0 }, "mvn r2, #0", 4);
    check(Thumb2Insn::MvnReg { s: Any, rd: R::R2, rm: R::R3 }, "mvns r2, r3", 2);
    check(Thumb2Insn::MvnReg { s: Keep, rd: R::R2, rm: R::R3 }, "mvn r2, r3", 4);
    check(Thumb2Insn::Movw { rd: R::R3, imm: 0xffff }, "movw r3, #65535", 4);
    check(Thumb2Insn::Movw { rd: R::R10, imm: 0x0801 }, "movw r10, #2049", 4);
    check(Thumb2Insn::Movt { rd: R::R3, imm: 0x8001 }, "movt r3, #32769", 4);
    let cmp = |kind, rn, rm| Thumb2Insn::CmpReg { kind, rn, rm };
    check(cmp(Compare::Cmp, R::R1, R::R2), "cmp r1, r2", 2);
    check(cmp(Compare::Cmp, R::R1, R::R10), "cmp r1, r10", 2);
    check(cmp(Compare::Cmp, R::R10, R::R1), "cmp r10, r1", 2);
    check(cmp(Compare::Cmn, R::R1, R::R2), "cmn r1, r2", 2);
    check(cmp(Compare::Cmn, R::R8, R::R2), "cmn r8, r2", 4);
    check(cmp(Compare::Tst, R::R1, R::R2), "tst r1, r2", 2);
    check(cmp(Compare::Tst, R::R1, R::R12), "tst r1, r12", 4);
    let cmpi = |kind, rn, imm| Thumb2Insn::CmpImm { kind, rn, imm };
    check(cmpi(Compare::Cmp, R::R1, 255), "cmp r1, #255", 2);
    check(cmpi(Compare::Cmp, R::R1, 256), "cmp r1, #256", 4);
    check(cmpi(Compare::Cmp, R::R12, 0), "cmp r12, #0", 4);
    check(cmpi(Compare::Cmn, R::R1, 1), "cmn r1, #1", 4);
    check(cmpi(Compare::Tst, R::R1, 3), "tst r1, #3", 4);
}

#[test]
fn shifts_multiplies_divides_extends() {
    use SetFlags::*;
    let si = |kind, s, rd, rm, amount| Thumb2Insn::ShiftImm { kind, s, rd, rm, amount };
    check(si(Shift::Lsl, Any, R::R0, R::R1, 1), "lsls r0, r1, #1", 2);
    check(si(Shift::Lsl, Any, R::R0, R::R1, 31), "lsls r0, r1, #31", 2);
    check(si(Shift::Lsr, Any, R::R0, R::R1, 32), "lsrs r0, r1, #32", 2);
    check(si(Shift::Asr, Any, R::R0, R::R1, 32), "asrs r0, r1, #32", 2);
    check(si(Shift::Asr, Keep, R::R0, R::R1, 31), "asr r0, r1, #31", 4);
    check(si(Shift::Lsr, Any, R::R8, R::R1, 3), "lsr r8, r1, #3", 4);
    check(si(Shift::Lsl, Set, R::R8, R::R1, 3), "lsls r8, r1, #3", 4);
    check(si(Shift::Ror, Any, R::R0, R::R1, 8), "ror r0, r1, #8", 4);
    assert!(encode(&si(Shift::Lsl, Any, R::R0, R::R1, 32)).is_err());
    let sr = |kind, s, rd, rn, rm| Thumb2Insn::ShiftReg { kind, s, rd, rn, rm };
    check(sr(Shift::Lsl, Any, R::R0, R::R0, R::R1), "lsls r0, r1", 2);
    check(sr(Shift::Lsr, Any, R::R0, R::R0, R::R1), "lsrs r0, r1", 2);
    check(sr(Shift::Asr, Any, R::R0, R::R0, R::R1), "asrs r0, r1", 2);
    check(sr(Shift::Ror, Any, R::R0, R::R0, R::R1), "rors r0, r1", 2);
    check(sr(Shift::Lsl, Keep, R::R0, R::R2, R::R1), "lsl r0, r2, r1", 4);
    check(sr(Shift::Asr, Any, R::R8, R::R12, R::LR), "asr r8, r12, lr", 4);
    check(Thumb2Insn::Mul { s: Any, rd: R::R0, rn: R::R1, rm: R::R0 }, "muls r0, r1, r0", 2);
    check(Thumb2Insn::Mul { s: Any, rd: R::R0, rn: R::R0, rm: R::R1 }, "muls r0, r1, r0", 2);
    check(Thumb2Insn::Mul { s: Keep, rd: R::R0, rn: R::R1, rm: R::R2 }, "mul r0, r1, r2", 4);
    check(
        Thumb2Insn::Mla { sub: false, rd: R::R0, rn: R::R1, rm: R::R2, ra: R::R3 },
        "mla r0, r1, r2, r3",
        4,
    );
    check(
        Thumb2Insn::Mla { sub: true, rd: R::R0, rn: R::R1, rm: R::R2, ra: R::R12 },
        "mls r0, r1, r2, r12",
        4,
    );
    check(
        Thumb2Insn::Umull { rdlo: R::R0, rdhi: R::R1, rn: R::R2, rm: R::R3 },
        "umull r0, r1, r2, r3",
        4,
    );
    check(Thumb2Insn::Div { signed: false, rd: R::R0, rn: R::R1, rm: R::R2 }, "udiv r0, r1, r2", 4);
    check(Thumb2Insn::Div { signed: true, rd: R::R8, rn: R::R1, rm: R::R2 }, "sdiv r8, r1, r2", 4);
    for (op, name) in [
        (UnOp::Uxtb, "uxtb"),
        (UnOp::Uxth, "uxth"),
        (UnOp::Sxtb, "sxtb"),
        (UnOp::Sxth, "sxth"),
        (UnOp::Rev, "rev"),
        (UnOp::Rev16, "rev16"),
    ] {
        check(Thumb2Insn::Unary { op, rd: R::R1, rm: R::R2 }, &format!("{name} r1, r2"), 2);
        check(Thumb2Insn::Unary { op, rd: R::R8, rm: R::R2 }, &format!("{name} r8, r2"), 4);
    }
}

#[test]
fn loads_and_stores() {
    let m = |op, rt, rn, off| Thumb2Insn::Mem { op, rt, rn, off };
    check(m(MemOp::Ldr, R::R0, R::R1, 124), "ldr r0, [r1, #124]", 2);
    check(m(MemOp::Ldr, R::R0, R::R1, 128), "ldr r0, [r1, #128]", 4);
    check(m(MemOp::Ldr, R::R0, R::R1, 2), "ldr r0, [r1, #2]", 4);
    check(m(MemOp::Ldr, R::R0, R::R1, 0), "ldr r0, [r1]", 2);
    check(m(MemOp::Str, R::R0, R::SP, 1020), "str r0, [sp, #1020]", 2);
    check(m(MemOp::Ldr, R::R7, R::SP, 1024), "ldr r7, [sp, #1024]", 4);
    check(m(MemOp::Ldr, R::R8, R::SP, 4), "ldr r8, [sp, #4]", 4);
    check(m(MemOp::Strb, R::R0, R::R1, 31), "strb r0, [r1, #31]", 2);
    check(m(MemOp::Ldrb, R::R0, R::R1, 32), "ldrb r0, [r1, #32]", 4);
    check(m(MemOp::Strh, R::R0, R::R1, 62), "strh r0, [r1, #62]", 2);
    check(m(MemOp::Ldrh, R::R0, R::R1, 63), "ldrh r0, [r1, #63]", 4);
    check(m(MemOp::Ldrsb, R::R0, R::R1, 0), "ldrsb r0, [r1]", 4);
    check(m(MemOp::Ldrsh, R::R0, R::R1, 4095), "ldrsh r0, [r1, #4095]", 4);
    check(m(MemOp::Str, R::R0, R::R11, -255), "str r0, [r11, #-255]", 4);
    check(m(MemOp::Ldrb, R::R0, R::R11, -1), "ldrb r0, [r11, #-1]", 4);
    check(m(MemOp::Ldrsh, R::R0, R::R11, -2), "ldrsh r0, [r11, #-2]", 4);
    check(m(MemOp::Strh, R::R12, R::R11, -8), "strh r12, [r11, #-8]", 4);
    check(m(MemOp::Strb, R::LR, R::R11, 4095), "strb lr, [r11, #4095]", 4);
    assert!(encode(&m(MemOp::Ldr, R::R0, R::R1, -256)).is_err());
    assert!(encode(&m(MemOp::Ldr, R::R0, R::R1, 4096)).is_err());
    let mr = |op, rt, rn, rm| Thumb2Insn::MemReg { op, rt, rn, rm };
    for (op, name) in [
        (MemOp::Ldr, "ldr"),
        (MemOp::Ldrh, "ldrh"),
        (MemOp::Ldrb, "ldrb"),
        (MemOp::Ldrsh, "ldrsh"),
        (MemOp::Ldrsb, "ldrsb"),
        (MemOp::Str, "str"),
        (MemOp::Strh, "strh"),
        (MemOp::Strb, "strb"),
    ] {
        check(mr(op, R::R0, R::R1, R::R2), &format!("{name} r0, [r1, r2]"), 2);
        check(mr(op, R::R0, R::R1, R::R12), &format!("{name} r0, [r1, r12]"), 4);
    }
    check(Thumb2Insn::Ldrex { rt: R::R0, rn: R::R2 }, "ldrex r0, [r2]", 4);
    check(Thumb2Insn::Strex { rd: R::R12, rt: R::R1, rn: R::R2 }, "strex r12, r1, [r2]", 4);
    check(Thumb2Insn::Clrex, "clrex", 4);
}

#[test]
fn stack_and_calls() {
    check(Thumb2Insn::Push { regs: R::R4.bit() | R::LR.bit() }, "push {r4, lr}", 2);
    check(
        Thumb2Insn::Push { regs: 0x0df0 | R::LR.bit() },
        "push {r4, r5, r6, r7, r8, r10, r11, lr}",
        4,
    );
    check(
        Thumb2Insn::Pop { regs: 0x0df0 | R::PC.bit() },
        "pop {r4, r5, r6, r7, r8, r10, r11, pc}",
        4,
    );
    check(Thumb2Insn::Pop { regs: 0x000f | R::PC.bit() }, "pop {r0, r1, r2, r3, pc}", 2);
    check(Thumb2Insn::Pop { regs: 0x100f | R::LR.bit() }, "pop {r0, r1, r2, r3, r12, lr}", 4);
    assert!(encode(&Thumb2Insn::Pop { regs: R::LR.bit() | R::PC.bit() }).is_err());
    check(Thumb2Insn::SpAdjust { sub: true, imm: 508 }, "sub sp, #508", 2);
    check(Thumb2Insn::SpAdjust { sub: false, imm: 8 }, "add sp, #8", 2);
    check(Thumb2Insn::SpAdjust { sub: true, imm: 512 }, "subw sp, sp, #512", 4);
    check(Thumb2Insn::SpAdjust { sub: false, imm: 4092 }, "addw sp, sp, #4092", 4);
    check(Thumb2Insn::AddSpImm { rd: R::R1, imm: 1020 }, "add r1, sp, #1020", 2);
    check(Thumb2Insn::AddSpImm { rd: R::R12, imm: 8 }, "addw r12, sp, #8", 4);
    check(Thumb2Insn::Blx { rm: R::R12 }, "blx r12", 2);
    check(Thumb2Insn::Bx { rm: R::LR }, "bx lr", 2);
}

fn branch(insn: Thumb2Insn, offset: i32, wide: bool) -> Vec<(String, usize)> {
    let mut bytes = Vec::new();
    encode_branch(&insn, offset, wide).expect("encodes").write(&mut bytes);
    disasm(&bytes)
}

#[test]
fn branches_at_their_limits() {
    let l = Label(0);
    let pc = BASE as i64 + 4;
    let at = |o: i32| (pc + i64::from(o)).to_string();
    let b = Thumb2Insn::B { cond: None, target: l };
    let beq = Thumb2Insn::B { cond: Some(Cond::Eq), target: l };
    let bgt = Thumb2Insn::B { cond: Some(Cond::Gt), target: l };
    for o in [-256, 254] {
        assert_eq!(branch(beq, o, false), vec![(format!("beq #{}", at(o)), 2)]);
    }
    for o in [-2048, 2046] {
        assert_eq!(branch(b, o, false), vec![(format!("b #{}", at(o)), 2)]);
    }
    for o in [256, -258, (1 << 20) - 2, -(1 << 20) + 4096] {
        assert_eq!(branch(bgt, o, true), vec![(format!("bgt #{}", at(o)), 4)]);
    }
    assert!(encode_branch(&beq, 256, false).is_err());
    assert!(encode_branch(&beq, 1 << 20, true).is_err());
    for o in [2048, -2050, 0x7f_fffe, -0x10_0000 + 4096] {
        assert_eq!(branch(b, o, true), vec![(format!("b #{}", at(o)), 4)]);
    }
    let bl = Thumb2Insn::Bl { target: l };
    for o in [-4096, 8, 0xff_fffe] {
        assert_eq!(branch(bl, o, true), vec![(format!("bl #{}", at(o)), 4)]);
    }
    let cbz = Thumb2Insn::Cbz { nonzero: false, rn: R::R3, target: l };
    let cbnz = Thumb2Insn::Cbz { nonzero: true, rn: R::R7, target: l };
    for o in [0, 64, 126] {
        assert_eq!(branch(cbz, o, false), vec![(format!("cbz r3, #{}", at(o)), 2)]);
        assert_eq!(branch(cbnz, o, false), vec![(format!("cbnz r7, #{}", at(o)), 2)]);
    }
    assert!(encode_branch(&cbz, -2, false).is_err());
    assert!(encode_branch(&cbz, 128, false).is_err());
}

fn filler(asm: &mut Thumb2Assembler, bytes: u32) {
    // 16-bit `movs r0, #0`s.
    for _ in 0..bytes / 2 {
        asm.emit(Thumb2Insn::MovImm { s: SetFlags::Any, rd: R::R0, imm: 0 });
    }
}

#[test]
fn assembler_relaxes_branches_that_do_not_reach() {
    let mut asm = Thumb2Assembler::new();
    let near = asm.label();
    let far = asm.label();
    let back = asm.label();
    asm.bind(back);
    asm.emit(Thumb2Insn::B { cond: Some(Cond::Ne), target: near });
    asm.emit(Thumb2Insn::B { cond: Some(Cond::Ne), target: far });
    asm.emit(Thumb2Insn::Cbz { nonzero: false, rn: R::R1, target: far });
    asm.emit(Thumb2Insn::Cbz { nonzero: true, rn: R::R1, target: near });
    filler(&mut asm, 2);
    asm.bind(near);
    filler(&mut asm, 300);
    asm.bind(far);
    asm.emit(Thumb2Insn::B { cond: None, target: back });
    let out = asm.finish().expect("assembles");
    let got = disasm(&out.code);
    let (near_at, far_at) = (BASE + u64::from(out.labels[0]), BASE + u64::from(out.labels[1]));
    assert_eq!(got[0], (format!("bne #{near_at}"), 2));
    assert_eq!(got[1], (format!("bne #{far_at}"), 4));
    assert_eq!(got[2], ("cmp r1, #0".to_string(), 2));
    assert_eq!(got[3], (format!("beq #{far_at}"), 4));
    assert_eq!(got[4], (format!("cbnz r1, #{near_at}"), 2));
    assert_eq!(near_at, BASE + 2 + 4 + 6 + 2 + 2);
    assert_eq!(far_at, near_at + 300);
    assert_eq!(got.last(), Some(&(format!("b #{BASE}"), 2)));
}

#[test]
fn assembler_relaxes_in_cascade_and_reports_unbound_labels() {
    // The first branch only goes out of range once the second is widened.
    let mut asm = Thumb2Assembler::new();
    let t1 = asm.label();
    let t2 = asm.label();
    asm.emit(Thumb2Insn::B { cond: Some(Cond::Eq), target: t1 });
    asm.emit(Thumb2Insn::B { cond: Some(Cond::Eq), target: t2 });
    filler(&mut asm, 254);
    asm.bind(t1);
    filler(&mut asm, 10);
    asm.bind(t2);
    let out = asm.finish().expect("assembles");
    let got = disasm(&out.code);
    assert_eq!(got[0].1, 4, "{got:?}");
    assert_eq!(got[1].1, 4);
    assert_eq!(out.labels[0], 8 + 254);

    let mut asm = Thumb2Assembler::new();
    let never = asm.label();
    asm.emit(Thumb2Insn::B { cond: None, target: never });
    assert!(asm.finish().is_err());
}
