use femtoc_isa::{decode_at, Insn};

#[test]
fn lddw_vector_words_round_trip() {
    let code = [0x5566778800000018u64, 0x1122334400000000, 0x95];
    let insn = decode_at(&code, 0).unwrap();
    assert_eq!(insn, Insn::LoadImm64 { dst: femtoc_isa::Reg::R0, imm: 0x1122334455667788 });
    assert_eq!(insn.encode().as_slice(), &code[..2]);
    assert_eq!(decode_at(&code, 2).unwrap(), Insn::Exit);
}

#[test]
fn ja_with_imm_is_rejected() {
    let code = [u64::from_le_bytes([0x05, 0, 0, 0, 1, 0, 0, 0])];
    assert!(decode_at(&code, 0).is_err());
}
