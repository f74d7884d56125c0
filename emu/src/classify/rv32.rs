//! RV32IMC classifier (RISC-V unprivileged ISA, chapters RV32I, M, A, F/D and C), used for
//! both `Rv32imc` and `Rv32imac`; the A extension is flagged here and refused by the
//! machine only on cores without it.

use super::{Decoded, Forbidden, InsnClass};

/// Whether an instruction whose low halfword is `lo` is a 16-bit compressed one.
pub fn is_compressed(lo: u16) -> bool {
    lo & 0b11 != 0b11
}

/// Classifies the instruction `word` (for a compressed one only the low halfword counts).
pub fn classify(word: u32) -> Decoded {
    // The low halfword alone decides whether the instruction is compressed.
    let lo = (word & 0xFFFF) as u16;
    if is_compressed(lo) {
        classify16(lo)
    } else {
        classify32(word)
    }
}

fn fp(len: u8) -> Decoded {
    Decoded::new(InsnClass::System, len).forbid(Forbidden::FloatingPoint)
}

fn classify16(h: u16) -> Decoded {
    use InsnClass::*;
    let funct3 = h >> 13;
    match (h & 0b11, funct3) {
        // C.ADDI4SPN
        (0b00, 0b000) => Decoded::new(Alu, 2),
        // C.LW / C.SW
        (0b00, 0b010) => Decoded::new(Load, 2).aligned(4),
        (0b00, 0b110) => Decoded::new(Store, 2).aligned(4),
        // C.FLD, C.FLW, C.FSD, C.FSW
        (0b00, 0b001 | 0b011 | 0b101 | 0b111) => fp(2),
        // C.JAL (RV32), C.J
        (0b01, 0b001 | 0b101) => Decoded::new(Jump, 2).branching(),
        // C.BEQZ, C.BNEZ
        (0b01, 0b110 | 0b111) => Decoded::new(Branch, 2).branching(),
        (0b01, _) => Decoded::new(Alu, 2),
        // C.LWSP / C.SWSP
        (0b10, 0b010) => Decoded::new(Load, 2).aligned(4),
        (0b10, 0b110) => Decoded::new(Store, 2).aligned(4),
        // C.FLDSP, C.FLWSP, C.FSDSP, C.FSWSP
        (0b10, 0b001 | 0b011 | 0b101 | 0b111) => fp(2),
        (0b10, 0b100) => {
            let rs1 = (h >> 7) & 0x1F;
            let rs2 = (h >> 2) & 0x1F;
            match ((h >> 12) & 1, rs1, rs2) {
                // C.EBREAK
                (1, 0, 0) => Decoded::new(System, 2),
                // C.JR, C.JALR
                (_, _, 0) => Decoded::new(Jump, 2).branching(),
                // C.MV, C.ADD
                _ => Decoded::new(Alu, 2),
            }
        }
        // C.SLLI and the reserved quadrant-0 slot (Unicorn raises an illegal instruction).
        _ => Decoded::new(if h & 0b11 == 0b10 { Alu } else { System }, 2),
    }
}

fn classify32(w: u32) -> Decoded {
    use InsnClass::*;
    let funct3 = (w >> 12) & 0x7;
    match w & 0x7F {
        // LOAD: LB, LH, LW, LBU, LHU; alignment is the access size.
        0x03 => Decoded::new(Load, 4).aligned(1 << (funct3 & 0x3)),
        // STORE: SB, SH, SW.
        0x23 => Decoded::new(Store, 4).aligned(1 << (funct3 & 0x3)),
        0x13 | 0x17 | 0x37 => Decoded::new(Alu, 4),
        0x33 => {
            if w >> 25 == 0b000_0001 {
                Decoded::new(
                    match funct3 {
                        0 => Mul,
                        1..=3 => MulLong,
                        _ => Div,
                    },
                    4,
                )
            } else {
                Decoded::new(Alu, 4)
            }
        }
        0x63 => Decoded::new(Branch, 4).branching(),
        0x67 | 0x6F => Decoded::new(Jump, 4).branching(),
        // AMO, LR.W, SC.W: word-aligned on every core, forbidden on RV32IMC by the machine.
        0x2F => Decoded::new(Atomic, 4).aligned(4),
        // LOAD-FP, STORE-FP, FMADD/FMSUB/FNMSUB/FNMADD, OP-FP.
        0x07 | 0x27 | 0x43 | 0x47 | 0x4B | 0x4F | 0x53 => fp(4),
        0x73 => {
            // fflags, frm and fcsr exist only with F.
            let csr = w >> 20;
            if funct3 != 0 && (1..=3).contains(&csr) {
                fp(4)
            } else {
                Decoded::new(System, 4)
            }
        }
        _ => Decoded::new(System, 4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_and_m() {
        // lw a0, 0(a1); sh a0, 2(a1); lbu a0, 0(a1)
        let d = classify(0x0005_A503);
        assert_eq!((d.class, d.align, d.len), (InsnClass::Load, 4, 4));
        assert_eq!(classify(0x00A5_9123).align, 2);
        assert_eq!(classify(0x0005_C503).align, 1);
        // mul / mulhu / divu a0, a0, a1
        assert_eq!(classify(0x02B5_0533).class, InsnClass::Mul);
        assert_eq!(classify(0x02B5_3533).class, InsnClass::MulLong);
        assert_eq!(classify(0x02B5_5533).class, InsnClass::Div);
        // add a0, a0, a1
        assert_eq!(classify(0x00B5_0533).class, InsnClass::Alu);
        // bne a0, a1, . / jal ra / jalr ra
        assert_eq!(classify(0x00B5_1063).class, InsnClass::Branch);
        assert_eq!(classify(0x0000_00EF).class, InsnClass::Jump);
        assert_eq!(classify(0x0000_80E7).class, InsnClass::Jump);
        // amoadd.w a0, a1, (a2)
        assert_eq!(classify(0x00B6_252F).class, InsnClass::Atomic);
        // flw fa0, 0(a0); fadd.s; csrr a0, fcsr
        assert_eq!(classify(0x0005_2507).forbidden, Some(Forbidden::FloatingPoint));
        assert_eq!(classify(0x00B5_7553).forbidden, Some(Forbidden::FloatingPoint));
        assert_eq!(classify(0x0030_2573).forbidden, Some(Forbidden::FloatingPoint));
        // csrr a0, mcycle is allowed
        assert_eq!(classify(0xB000_2573).forbidden, None);
    }

    #[test]
    fn compressed() {
        // c.lw a0, 0(a1); c.sw a0, 0(a1); c.lwsp a0, 0(sp); c.swsp a0, 0(sp)
        for (h, class) in [
            (0x4188, InsnClass::Load),
            (0xC188, InsnClass::Store),
            (0x4502, InsnClass::Load),
            (0xC02A, InsnClass::Store),
        ] {
            let d = classify(h);
            assert_eq!((d.class, d.align, d.len), (class, 4, 2), "{h:#06x}");
        }
        // c.jr ra, c.jalr a0, c.mv a0, a1, c.add a0, a1, c.ebreak
        assert_eq!(classify(0x8082).class, InsnClass::Jump);
        assert_eq!(classify(0x9502).class, InsnClass::Jump);
        assert_eq!(classify(0x852E).class, InsnClass::Alu);
        assert_eq!(classify(0x952E).class, InsnClass::Alu);
        assert_eq!(classify(0x9002).class, InsnClass::System);
        // c.beqz a0, . / c.j .
        assert_eq!(classify(0xC101).class, InsnClass::Branch);
        assert_eq!(classify(0xA001).class, InsnClass::Jump);
        // c.fld fa0, 0(a1)
        assert_eq!(classify(0x2188).forbidden, Some(Forbidden::FloatingPoint));
    }
}
