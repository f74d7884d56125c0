//! Properties tying the decoder, the encoder, the disassembler and the
//! assembler together: whatever decodes re-encodes to the same words, every
//! typed instruction survives encode/decode and print/assemble, and no
//! input makes any of them panic.

use femtoc_isa::asm::assemble;
use femtoc_isa::disasm::disassemble;
use femtoc_isa::program::Program;
use femtoc_isa::{
    decode_raw, AluOp, AtomicOp, ByteOrder, Insn, JmpCond, MemSize, RawInsn, Reg, Source, Width,
};
use proptest::prelude::*;

fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(|n| Reg::new(n).unwrap())
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![reg().prop_map(Source::Reg), any::<i32>().prop_map(Source::Imm)]
}

fn mem_size() -> impl Strategy<Value = MemSize> {
    prop_oneof![Just(MemSize::B), Just(MemSize::H), Just(MemSize::W), Just(MemSize::DW)]
}

fn alu_op() -> impl Strategy<Value = AluOp> {
    use AluOp::*;
    prop::sample::select(vec![
        Add, Sub, Mul, Div, SDiv, Or, And, Lsh, Rsh, Mod, SMod, Xor, Mov, Arsh,
    ])
}

fn jmp_cond() -> impl Strategy<Value = JmpCond> {
    use JmpCond::*;
    prop::sample::select(vec![Eq, Gt, Ge, Set, Ne, Sgt, Sge, Lt, Le, Slt, Sle])
}

/// Every valid instruction of the typed model (the combinations the
/// decoder accepts: movsx from 32 only in ALU64, register source only;
/// sign-extending loads not DW; atomics W or DW, xchg/cmpxchg fetching).
fn insn() -> impl Strategy<Value = Insn> {
    let alu = (width(), alu_op(), reg(), source()).prop_map(|(width, op, dst, src)| Insn::Alu {
        width,
        op,
        dst,
        src,
    });
    let movsx = (width(), prop::sample::select(vec![8u8, 16, 32]), reg(), reg()).prop_map(
        |(width, bits, dst, src)| {
            let width = if bits == 32 { Width::W64 } else { width };
            Insn::Alu { width, op: AluOp::MovSx(bits), dst, src: Source::Reg(src) }
        },
    );
    let neg = (width(), reg()).prop_map(|(width, dst)| Insn::Neg { width, dst });
    let endian = (
        prop::sample::select(vec![ByteOrder::ToLe, ByteOrder::ToBe, ByteOrder::Swap]),
        prop::sample::select(vec![16u8, 32, 64]),
        reg(),
    )
        .prop_map(|(order, bits, dst)| Insn::Endian { order, bits, dst });
    let lddw = (reg(), any::<u64>()).prop_map(|(dst, imm)| Insn::LoadImm64 { dst, imm });
    let data = (reg(), any::<u32>(), any::<u32>())
        .prop_map(|(dst, region, offset)| Insn::LoadDataAddr { dst, region, offset });
    let load = (mem_size(), reg(), reg(), any::<i16>())
        .prop_map(|(size, dst, src, off)| Insn::Load { size, dst, src, off });
    let load_sx = (
        prop::sample::select(vec![MemSize::B, MemSize::H, MemSize::W]),
        reg(),
        reg(),
        any::<i16>(),
    )
        .prop_map(|(size, dst, src, off)| Insn::LoadSx { size, dst, src, off });
    let store = (mem_size(), reg(), any::<i16>(), source())
        .prop_map(|(size, dst, off, src)| Insn::Store { size, dst, off, src });
    let atomic = (
        prop::sample::select(vec![MemSize::W, MemSize::DW]),
        prop::sample::select(vec![
            AtomicOp::Add,
            AtomicOp::Or,
            AtomicOp::And,
            AtomicOp::Xor,
            AtomicOp::Xchg,
            AtomicOp::CmpXchg,
        ]),
        any::<bool>(),
        reg(),
        reg(),
        any::<i16>(),
    )
        .prop_map(|(size, op, fetch, dst, src, off)| {
            let fetch = fetch || matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg);
            Insn::Atomic { size, op, fetch, dst, src, off }
        });
    let jmp = (width(), jmp_cond(), reg(), source(), any::<i16>())
        .prop_map(|(width, cond, dst, src, off)| Insn::Jmp { width, cond, dst, src, off });
    prop_oneof![
        4 => alu,
        1 => movsx,
        1 => neg,
        1 => endian,
        1 => lddw,
        1 => data,
        1 => load,
        1 => load_sx,
        2 => store,
        1 => atomic,
        1 => any::<i16>().prop_map(|off| Insn::Ja { off }),
        1 => any::<i32>().prop_map(|off| Insn::JaLong { off }),
        3 => jmp,
        1 => any::<u32>().prop_map(|id| Insn::Call { id }),
        1 => any::<i32>().prop_map(|off| Insn::CallLocal { off }),
        1 => reg().prop_map(|reg| Insn::CallReg { reg }),
        1 => Just(Insn::Exit),
    ]
}

/// Words that are likely to decode: any opcode, with register, offset and
/// immediate fields drawn mostly from the values instructions define.
fn plausible_word() -> impl Strategy<Value = u64> {
    let field4 = prop_oneof![4 => 0u8..=10, 1 => 11u8..=15];
    let off = prop_oneof![
        3 => Just(0i16),
        1 => prop::sample::select(vec![1i16, 8, 16, 32, -1]),
        2 => any::<i16>(),
    ];
    let imm = prop_oneof![
        3 => Just(0i32),
        2 => prop::sample::select(vec![16i32, 32, 64, 1, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1, 0xe0]),
        2 => any::<i32>(),
    ];
    (any::<u8>(), field4.clone(), field4, off, imm)
        .prop_map(|(opcode, dst, src, off, imm)| RawInsn { opcode, dst, src, off, imm }.to_u64())
}

fn second_slot() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => any::<u32>().prop_map(|hi| u64::from(hi) << 32),
        1 => any::<u64>(),
    ]
}

fn check_reencodes(word: u64, next: u64) -> Result<(), TestCaseError> {
    if let Ok(insn) = decode_raw(RawInsn::from_u64(word), Some(RawInsn::from_u64(next))) {
        let encoded = insn.encode();
        let slots = encoded.as_slice();
        prop_assert_eq!(slots[0], word, "{:?} re-encodes differently", insn);
        if insn.slots() == 2 {
            prop_assert_eq!(slots[1], next, "second slot of {:?}", insn);
        }
        prop_assert_eq!(slots.len(), insn.slots());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(30_000))]

    #[test]
    fn random_words_reencode(word in any::<u64>(), next in any::<u64>()) {
        check_reencodes(word, next)?;
    }

    #[test]
    fn plausible_words_reencode(word in plausible_word(), next in second_slot()) {
        check_reencodes(word, next)?;
    }

    #[test]
    fn decoding_a_last_slot_never_panics(word in plausible_word()) {
        let _ = decode_raw(RawInsn::from_u64(word), None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn typed_insns_round_trip(insn in insn()) {
        let encoded = insn.encode();
        let slots = encoded.as_slice();
        prop_assert_eq!(slots.len(), insn.slots());
        let next = slots.get(1).map(|w| RawInsn::from_u64(*w));
        let decoded = decode_raw(RawInsn::from_u64(slots[0]), next);
        prop_assert_eq!(decoded, Ok(insn));

        let text = format!("{insn}");
        let program = assemble(&text).map_err(|e| TestCaseError::fail(format!("`{text}`: {e}")))?;
        prop_assert_eq!(program.code.as_slice(), slots, "`{}`", text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Random programs, with jumps that land on instructions, in the middle
    /// of an `lddw`, at the end, or outside the program.
    #[test]
    fn programs_disassemble_and_reassemble(insns in prop::collection::vec(insn(), 1..40)) {
        let code: Vec<u64> = insns.iter().flat_map(|i| i.encode().as_slice().to_vec()).collect();
        let len = code.len() as i64;
        // Pull half of the jumps into the program so that labels appear.
        let mut pc = 0i64;
        let code: Vec<u64> = insns
            .iter()
            .enumerate()
            .flat_map(|(k, insn)| {
                let near = (k as i64 * 7) % (len + 1) - pc - 1;
                let insn = match *insn {
                    Insn::Ja { .. } if k % 2 == 0 => Insn::Ja { off: near as i16 },
                    Insn::Jmp { width, cond, dst, src, .. } if k % 2 == 0 => {
                        Insn::Jmp { width, cond, dst, src, off: near as i16 }
                    }
                    Insn::JaLong { .. } if k % 2 == 0 => Insn::JaLong { off: near as i32 },
                    Insn::CallLocal { .. } if k % 2 == 0 => Insn::CallLocal { off: near as i32 },
                    other => other,
                };
                pc += insn.slots() as i64;
                insn.encode().as_slice().to_vec()
            })
            .collect();
        let text = disassemble(&Program::from_code(code.clone()));
        let program = assemble(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(program.code, code, "{}", text);
    }
}

/// Characters the assembler cares about, so that random text gets deep
/// into the parser instead of failing on the first byte.
fn asm_like_text() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "mov",
        "mov32",
        "lddw",
        "ldxw",
        "stxdw",
        "stb",
        "lock",
        "fetch",
        "add32",
        "cmpxchg",
        "ja",
        "ja32",
        "jeq",
        "call",
        "local",
        "exit",
        "neg",
        "le16",
        "movsx864",
        "%r1",
        "%r10",
        "%r11",
        "r3",
        "[",
        "]",
        "+",
        "-",
        ",",
        ":",
        "#",
        " ",
        "\n",
        "0x",
        "ffffffff",
        "123",
        "-1",
        "99999999999999999999999",
        "data[",
        "label",
        "exit:",
        "\t",
        "é",
    ]);
    prop::collection::vec(token, 0..30).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn assembler_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = assemble(&text);
    }

    #[test]
    fn assembler_never_panics_on_asm_like_text(text in asm_like_text()) {
        let _ = assemble(&text);
    }

    #[test]
    fn disassembler_never_panics(code in prop::collection::vec(plausible_word(), 0..20)) {
        let _ = disassemble(&Program::from_code(code));
    }
}

/// Every opcode with every register pair and the offsets and immediates
/// that select instruction variants: whatever decodes re-encodes exactly.
#[test]
fn small_fields_reencode_exhaustively() {
    let offs = [0i16, 1, 8, 16, 32, -1];
    let imms =
        [0i32, 1, 16, 32, 64, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe0, 0xe1, 0xf0, 0xf1, -1];
    let mut decodable_opcodes = std::collections::BTreeSet::new();
    for opcode in 0..=255u8 {
        for dst in 0..16u8 {
            for src in 0..16u8 {
                for &off in &offs {
                    for &imm in &imms {
                        let word = RawInsn { opcode, dst, src, off, imm }.to_u64();
                        let next = 0x1234_5678u64 << 32;
                        let raw = RawInsn::from_u64(word);
                        if let Ok(insn) = decode_raw(raw, Some(RawInsn::from_u64(next))) {
                            decodable_opcodes.insert(opcode);
                            let encoded = insn.encode();
                            assert_eq!(encoded.as_slice()[0], word, "{insn:?}");
                            if insn.slots() == 2 {
                                assert_eq!(encoded.as_slice()[1], next, "{insn:?}");
                            }
                        }
                    }
                }
            }
        }
    }
    // The grid reaches every class; RFC 9669 defines well over a hundred
    // opcodes, so a small count means the grid missed whole families.
    assert!(decodable_opcodes.len() > 100, "only {} opcodes decoded", decodable_opcodes.len());
}
