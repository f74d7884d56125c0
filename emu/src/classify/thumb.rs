//! Thumb-2 (ARMv7-M / ARMv7E-M) classifier, following the encoding tables of the ARMv7-M
//! Architecture Reference Manual (section A5: "The Thumb instruction set encoding").

use super::{Decoded, Forbidden, InsnClass};

/// Whether a first halfword starts a 32-bit instruction.
pub fn is_wide(hw1: u16) -> bool {
    matches!(hw1 >> 11, 0b11101..=0b11111)
}

/// Classifies the Thumb instruction starting with `hw1`; `hw2` is its second halfword
/// (ignored for 16-bit instructions).
pub fn classify(hw1: u16, hw2: u16) -> Decoded {
    if is_wide(hw1) {
        classify32(hw1, hw2)
    } else {
        classify16(hw1)
    }
}

fn bit(v: u16, n: u32) -> bool {
    (v >> n) & 1 != 0
}

fn count(v: u16) -> u8 {
    // A register list has at most 16 entries, so this always fits.
    v.count_ones() as u8
}

fn load_or_store(load: bool, len: u8) -> Decoded {
    Decoded::new(if load { InsnClass::Load } else { InsnClass::Store }, len)
}

fn multi(load: bool, len: u8, regs: u8) -> Decoded {
    let class = if load { InsnClass::LoadMulti } else { InsnClass::StoreMulti };
    Decoded::new(class, len).multi(regs).aligned(4)
}

fn classify16(hw: u16) -> Decoded {
    use InsnClass::*;
    match hw >> 12 {
        0b0000..=0b0011 => Decoded::new(Alu, 2),
        0b0100 => {
            if hw & 0xFFC0 == 0x4340 {
                Decoded::new(Mul, 2)
            } else if hw & 0xFF00 == 0x4700 {
                // BX / BLX register.
                Decoded::new(Jump, 2).branching()
            } else if hw & 0xFC00 == 0x4400 {
                // ADD/CMP/MOV on high registers: writing the PC is a branch.
                let rd = ((hw >> 4) & 0x8) | (hw & 0x7);
                let op = (hw >> 8) & 0x3;
                if op != 0b01 && rd == 15 {
                    Decoded::new(Jump, 2).branching()
                } else {
                    Decoded::new(Alu, 2)
                }
            } else if hw & 0xF800 == 0x4800 {
                Decoded::new(Load, 2)
            } else {
                Decoded::new(Alu, 2)
            }
        }
        // Register-offset forms: opB 011..111 are the loads.
        0b0101 => load_or_store((hw >> 9) & 0x7 >= 0b011, 2),
        0b0110..=0b1001 => load_or_store(bit(hw, 11), 2),
        0b1010 => Decoded::new(Alu, 2),
        0b1011 => classify16_misc(hw),
        0b1100 => multi(bit(hw, 11), 2, count(hw & 0xFF)),
        0b1101 => match (hw >> 8) & 0xF {
            // UDF and SVC.
            0xE | 0xF => Decoded::new(System, 2),
            _ => Decoded::new(Branch, 2).branching(),
        },
        _ => Decoded::new(Jump, 2).branching(),
    }
}

fn classify16_misc(hw: u16) -> Decoded {
    use InsnClass::*;
    if hw & 0xF500 == 0xB100 {
        Decoded::new(Branch, 2).branching()
    } else if hw & 0xFE00 == 0xB400 {
        multi(false, 2, count(hw & 0x1FF))
    } else if hw & 0xFE00 == 0xBC00 {
        let d = multi(true, 2, count(hw & 0x1FF));
        if bit(hw, 8) {
            d.branching()
        } else {
            d
        }
    } else if hw & 0xFE00 == 0xBE00 || hw & 0xFFE0 == 0xB660 {
        // BKPT, IT and hints, CPS.
        Decoded::new(System, 2)
    } else {
        Decoded::new(Alu, 2)
    }
}

fn classify32(hw1: u16, hw2: u16) -> Decoded {
    use InsnClass::*;
    if hw1 & 0xEC00 == 0xEC00 {
        // Coprocessor space (and Advanced SIMD, which M-profile lacks).
        let cp = (hw2 >> 8) & 0xF;
        let why =
            if cp == 10 || cp == 11 { Forbidden::FloatingPoint } else { Forbidden::Coprocessor };
        return Decoded::new(System, 4).forbid(why);
    }
    match hw1 & 0xF800 {
        0xE800 => classify32_ldst_multi_dual(hw1, hw2),
        0xF000 => {
            if !bit(hw2, 15) {
                return Decoded::new(Alu, 4);
            }
            match (hw2 >> 12) & 0b101 {
                0b000 if (hw1 >> 7) & 0x7 != 0b111 => Decoded::new(Branch, 4).branching(),
                0b001 | 0b101 => Decoded::new(Jump, 4).branching(),
                // MSR, MRS, hints, barriers; BLX immediate (undefined on M-profile).
                _ => Decoded::new(System, 4),
            }
        }
        _ => {
            if hw1 & 0xFF10 == 0xF800 {
                Decoded::new(Store, 4)
            } else if hw1 & 0xFE10 == 0xF810 {
                let word = (hw1 >> 5) & 0x3 == 0b10;
                let to_pc = hw2 >> 12 == 15;
                let d = Decoded::new(Load, 4);
                if word && to_pc {
                    d.branching()
                } else {
                    d
                }
            } else if hw1 & 0xFF00 == 0xFA00 {
                Decoded::new(Alu, 4)
            } else if hw1 & 0xFF80 == 0xFB00 {
                // Ra == PC selects the non-accumulating forms (MUL, SMULxy, ...).
                Decoded::new(if hw2 >> 12 == 15 { Mul } else { MulAcc }, 4)
            } else if hw1 & 0xFF80 == 0xFB80 {
                let op1 = (hw1 >> 4) & 0x7;
                Decoded::new(if op1 == 0b001 || op1 == 0b011 { Div } else { MulLong }, 4)
            } else {
                Decoded::new(System, 4)
            }
        }
    }
}

fn classify32_ldst_multi_dual(hw1: u16, hw2: u16) -> Decoded {
    use InsnClass::*;
    let load = bit(hw1, 4);
    if hw1 & 0xFE40 == 0xE800 {
        let d = multi(load, 4, count(hw2));
        return if load && bit(hw2, 15) { d.branching() } else { d };
    }
    if hw1 & 0xFE40 == 0xE840 {
        if bit(hw1, 8) || bit(hw1, 5) {
            // LDRD/STRD (immediate or literal).
            return multi(load, 4, 2);
        }
        // The base register of the exclusives and table branches.
        let rn = (hw1 & 0xF) as u8;
        if !bit(hw1, 7) {
            // LDREX/STREX word: Rn + imm8 * 4.
            return load_or_store(load, 4).aligned(4).at(rn, u32::from(hw2 & 0xFF) * 4);
        }
        return match (hw2 >> 4) & 0xF {
            0b0000 | 0b0001 if load => Decoded::new(Jump, 4).branching(),
            0b0100 => load_or_store(load, 4),
            0b0101 => load_or_store(load, 4).aligned(2).at(rn, 0),
            0b0111 => load_or_store(load, 4).forbid(Forbidden::ExclusiveDoubleword),
            _ => Decoded::new(System, 4),
        };
    }
    // Data processing (shifted register).
    Decoded::new(Alu, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_prefixes() {
        assert!(!is_wide(0x4770));
        assert!(is_wide(0xE8BD));
        assert!(is_wide(0xF000));
        assert!(is_wide(0xF8D0));
    }

    #[test]
    fn sixteen_bit_classes() {
        // bx lr
        let d = classify(0x4770, 0);
        assert_eq!((d.class, d.may_branch), (InsnClass::Jump, true));
        // muls r0, r1, r0
        assert_eq!(classify(0x4348, 0).class, InsnClass::Mul);
        // push {r4, lr}: two registers, word alignment
        let d = classify(0xB510, 0);
        assert_eq!((d.class, d.regs, d.align), (InsnClass::StoreMulti, 2, 4));
        // pop {r4, pc} branches
        let d = classify(0xBD10, 0);
        assert_eq!((d.class, d.regs, d.may_branch), (InsnClass::LoadMulti, 2, true));
        // ldr r2, [r0, #0]; str r2, [r0, #0]
        assert_eq!(classify(0x6802, 0).class, InsnClass::Load);
        assert_eq!(classify(0x6002, 0).class, InsnClass::Store);
        // ldrsh r0, [r1, r2] is a load, strh r0, [r1, r2] a store
        assert_eq!(classify(0x5E88, 0).class, InsnClass::Load);
        assert_eq!(classify(0x5288, 0).class, InsnClass::Store);
        // bne . / cbz r0, .
        assert_eq!(classify(0xD1FE, 0).class, InsnClass::Branch);
        assert_eq!(classify(0xB100, 0).class, InsnClass::Branch);
        // svc 0 is not a branch
        assert_eq!(classify(0xDF00, 0).class, InsnClass::System);
        // mov pc, lr
        assert_eq!(classify(0x46F7, 0).class, InsnClass::Jump);
    }

    #[test]
    fn thirty_two_bit_classes() {
        // ldrd r2, r3, [r0]
        let d = classify(0xE9D0, 0x2300);
        assert_eq!((d.class, d.regs, d.align), (InsnClass::LoadMulti, 2, 4));
        // ldrex r1, [r0]
        let d = classify(0xE850, 0x1F00);
        assert_eq!((d.class, d.align, d.address), (InsnClass::Load, 4, Some((0, 0))));
        // strex r3, r1, [r2, #8]
        let d = classify(0xE842, 0x1302);
        assert_eq!((d.class, d.align, d.address), (InsnClass::Store, 4, Some((2, 8))));
        // ldrexh r1, [r0]
        let d = classify(0xE8D0, 0x1F5F);
        assert_eq!((d.class, d.align), (InsnClass::Load, 2));
        // ldrexb r1, [r0]
        assert_eq!(classify(0xE8D0, 0x1F4F).align, 1);
        // tbb [r0, r1]
        assert_eq!(classify(0xE8D0, 0xF001).class, InsnClass::Jump);
        // udiv r0, r0, r1 / sdiv
        assert_eq!(classify(0xFBB0, 0xF0F1).class, InsnClass::Div);
        assert_eq!(classify(0xFB90, 0xF0F1).class, InsnClass::Div);
        // umull r0, r1, r2, r3
        assert_eq!(classify(0xFBA2, 0x0103).class, InsnClass::MulLong);
        // mul.w r0, r1, r2 / mla r0, r1, r2, r3
        assert_eq!(classify(0xFB01, 0xF002).class, InsnClass::Mul);
        assert_eq!(classify(0xFB01, 0x3002).class, InsnClass::MulAcc);
        // bl
        assert_eq!(classify(0xF000, 0xF800).class, InsnClass::Jump);
        // beq.w
        assert_eq!(classify(0xF000, 0x8000).class, InsnClass::Branch);
        // ldr.w r0, [r1, #4] / str.w
        assert_eq!(classify(0xF8D1, 0x0004).class, InsnClass::Load);
        assert_eq!(classify(0xF8C1, 0x0004).class, InsnClass::Store);
        // pop.w {r4-r11, pc}
        let d = classify(0xE8BD, 0x8FF0);
        assert_eq!((d.class, d.regs, d.may_branch), (InsnClass::LoadMulti, 9, true));
        // vadd.f32 s0, s0, s1 (cp10) / mrc p15
        assert_eq!(classify(0xEE30, 0x0A20).forbidden, Some(Forbidden::FloatingPoint));
        assert_eq!(classify(0xEE10, 0x0F10).forbidden, Some(Forbidden::Coprocessor));
        // add.w r0, r1, r2
        assert_eq!(classify(0xEB01, 0x0002).class, InsnClass::Alu);
    }
}
