//! The assembler against encodings taken from RFC 9669's field layout.

use femtoc_isa::asm::{assemble, AsmErrorKind};
use femtoc_isa::disasm::disassemble;
use femtoc_isa::RawInsn;

/// One slot from its fields, packed as RFC 9669 section 3 lays them out.
fn w(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    RawInsn { opcode, dst, src, off, imm }.to_u64()
}

fn code(text: &str) -> Vec<u64> {
    match assemble(text) {
        Ok(p) => p.code,
        Err(e) => panic!("`{text}` does not assemble: {e}"),
    }
}

fn kind(text: &str) -> AsmErrorKind {
    match assemble(text) {
        Ok(p) => panic!("`{text}` assembled to {:x?}", p.code),
        Err(e) => e.kind,
    }
}

#[test]
fn single_instructions_encode_per_rfc() {
    let cases: &[(&str, &[u64])] = &[
        ("mov %r0, 1", &[w(0xb7, 0, 0, 0, 1)]),
        ("mov32 %r1, -1", &[w(0xb4, 1, 0, 0, -1)]),
        ("mov32 %r1, 0xffffffff", &[w(0xb4, 1, 0, 0, -1)]),
        ("add %r0, %r1", &[w(0x0f, 0, 1, 0, 0)]),
        ("sdiv32 %r0, 3", &[w(0x34, 0, 0, 1, 3)]),
        ("smod %r2, %r3", &[w(0x9f, 2, 3, 1, 0)]),
        ("neg %r1", &[w(0x87, 1, 0, 0, 0)]),
        ("neg32 %r1", &[w(0x84, 1, 0, 0, 0)]),
        ("le16 %r1", &[w(0xd4, 1, 0, 0, 16)]),
        ("be32 %r1", &[w(0xdc, 1, 0, 0, 32)]),
        ("swap64 %r1", &[w(0xd7, 1, 0, 0, 64)]),
        ("bswap16 %r1", &[w(0xd7, 1, 0, 0, 16)]),
        ("movsx864 %r0, %r1", &[w(0xbf, 0, 1, 8, 0)]),
        ("movsx1632 %r0, %r1", &[w(0xbc, 0, 1, 16, 0)]),
        ("movsx3264 %r0, %r1", &[w(0xbf, 0, 1, 32, 0)]),
        ("lddw %r0, 0x1122334455667788", &[0x5566_7788_0000_0018, 0x1122_3344_0000_0000]),
        ("lddw %r2, -1", &[w(0x18, 2, 0, 0, -1), w(0, 0, 0, 0, -1)]),
        ("lddw %r1, data[2+16]", &[w(0x18, 1, 6, 0, 2), w(0, 0, 0, 0, 16)]),
        ("ldxw %r0, [%r1+4]", &[w(0x61, 0, 1, 4, 0)]),
        ("ldxdw %r0, [%r10-8]", &[w(0x79, 0, 10, -8, 0)]),
        ("ldxb %r0, [%r1]", &[w(0x71, 0, 1, 0, 0)]),
        ("ldxsh %r0, [%r10-2]", &[w(0x89, 0, 10, -2, 0)]),
        ("ldxsw %r0, [%r10-4]", &[w(0x81, 0, 10, -4, 0)]),
        ("stw [%r1+2], 5", &[w(0x62, 1, 0, 2, 5)]),
        ("sth [%r0], 0x1234", &[w(0x6a, 0, 0, 0, 0x1234)]),
        ("stxdw [%r10-8], %r1", &[w(0x7b, 10, 1, -8, 0)]),
        ("lock add [%r1+0], %r2", &[w(0xdb, 1, 2, 0, 0)]),
        ("lock fetch add32 [%r1+0], %r2", &[w(0xc3, 1, 2, 0, 1)]),
        ("lock fetch xor [%r1+8], %r2", &[w(0xdb, 1, 2, 8, 0xa1)]),
        ("lock xchg [%r10-8], %r3", &[w(0xdb, 10, 3, -8, 0xe1)]),
        ("lock cmpxchg32 [%r10-8], %r1", &[w(0xc3, 10, 1, -8, 0xf1)]),
        ("ja +3", &[w(0x05, 0, 0, 3, 0)]),
        ("ja -2", &[w(0x05, 0, 0, -2, 0)]),
        ("ja32 +100000", &[w(0x06, 0, 0, 0, 100_000)]),
        ("jeq %r1, 5, +3", &[w(0x15, 1, 0, 3, 5)]),
        ("jne32 %r1, %r2, -4", &[w(0x5e, 1, 2, -4, 0)]),
        ("jsle %r1, -1, +0", &[w(0xd5, 1, 0, 0, -1)]),
        ("call 5", &[w(0x85, 0, 0, 0, 5)]),
        ("call local +7", &[w(0x85, 0, 1, 0, 7)]),
        ("call %r2", &[w(0x8d, 2, 0, 0, 0)]),
        ("exit", &[w(0x95, 0, 0, 0, 0)]),
    ];
    for (text, expected) in cases {
        assert_eq!(code(text), *expected, "`{text}`");
    }
}

#[test]
fn whitespace_and_comments_are_lenient() {
    let text =
        "\n  # a comment line\n\tmov   %r0 ,1   # trailing\n\nldxw %r0,[ %r1 + 4 ]\r\nexit#done\n";
    assert_eq!(code(text), [w(0xb7, 0, 0, 0, 1), w(0x61, 0, 1, 4, 0), w(0x95, 0, 0, 0, 0)]);
}

#[test]
fn labels_resolve_relative_to_the_next_slot() {
    let text = "
        start:
        mov %r0, 0
        lddw %r1, 5          # two slots: pcs 1 and 2
        jeq %r1, 0, done     # pc 3, target 5
        call local f         # pc 4, target 6
        done:
        exit                 # pc 5
        f:
        ja start             # pc 6, target 0
    ";
    let program = assemble(text).unwrap();
    assert_eq!(program.code[3], w(0x15, 1, 0, 1, 0));
    assert_eq!(program.code[4], w(0x85, 0, 1, 0, 1));
    assert_eq!(program.code[6], w(0x05, 0, 0, -7, 0));
    let symbols: Vec<(usize, &str)> =
        program.symbols.iter().map(|s| (s.pc, s.name.as_str())).collect();
    assert_eq!(symbols, [(0, "start"), (5, "done"), (6, "f")]);
}

#[test]
fn exit_names_the_first_exit_unless_defined() {
    // Implicit: the first exit instruction (pc 2), not the later one.
    let implicit = code("ja exit\nmov %r0, 1\nexit\nexit\n");
    assert_eq!(implicit[0], w(0x05, 0, 0, 1, 0));
    // Forward references work too.
    let forward = code("jne %r0, 0, exit\nja exit\nexit");
    assert_eq!(forward[..2], [w(0x55, 0, 0, 1, 0), w(0x05, 0, 0, 0, 0)]);
    // An explicit label wins.
    let explicit = code("ja exit\nexit\nexit:\nexit\n");
    assert_eq!(explicit[0], w(0x05, 0, 0, 1, 0));
    // Without any exit instruction, `exit` is just undefined.
    assert_eq!(kind("ja exit\nmov %r0, 0"), AsmErrorKind::UndefinedLabel("exit".into()));
}

#[test]
fn immediates_cover_signed_and_unsigned_32_bits() {
    assert_eq!(code("mov %r0, -2147483648"), [w(0xb7, 0, 0, 0, i32::MIN)]);
    assert_eq!(code("mov %r0, 4294967295"), [w(0xb7, 0, 0, 0, -1)]);
    assert_eq!(code("mov %r0, 0x80000000"), [w(0xb7, 0, 0, 0, i32::MIN)]);
    assert_eq!(code("mov %r0, -0x10"), [w(0xb7, 0, 0, 0, -16)]);
    assert!(matches!(kind("mov %r0, 4294967296"), AsmErrorKind::Imm32OutOfRange(_)));
    assert!(matches!(kind("mov %r0, -2147483649"), AsmErrorKind::Imm32OutOfRange(_)));
    assert!(matches!(kind("mov32 %r0, 0x100000000"), AsmErrorKind::Imm32OutOfRange(_)));
    assert!(matches!(kind("lddw %r0, 0x10000000000000000"), AsmErrorKind::Imm64OutOfRange(_)));
    assert_eq!(code("lddw %r0, -9223372036854775808")[1], w(0, 0, 0, 0, i32::MIN));
    assert!(matches!(kind("mov %r0, 12z"), AsmErrorKind::InvalidNumber(_)));
    assert!(matches!(kind("mov %r0, 0x"), AsmErrorKind::InvalidNumber(_)));
}

#[test]
fn offsets_are_signed_16_bits() {
    assert_eq!(code("ldxb %r0, [%r1+32767]"), [w(0x71, 0, 1, 32767, 0)]);
    assert_eq!(code("ldxb %r0, [%r1-32768]"), [w(0x71, 0, 1, i16::MIN, 0)]);
    for bad in ["ldxb %r0, [%r1+0x10000]", "ldxb %r0, [%r1+32768]", "ja +32768", "ja -32769"] {
        assert!(matches!(kind(bad), AsmErrorKind::OffsetOutOfRange(_)), "{bad}");
    }
}

/// A predicate over the error kind a text must produce.
type KindCheck = fn(&AsmErrorKind) -> bool;

#[test]
fn bad_text_is_rejected_with_its_line() {
    let err = assemble("mov %r0, 1\nor %r0, %r11\nexit").unwrap_err();
    assert_eq!(err.line, 2);
    assert_eq!(err.to_string(), "line 2: invalid register %r11");
    assert_eq!(err.text, "or %r0, %r11");
    let cases: &[(&str, KindCheck)] = &[
        ("ldxq %r0, %r1", |k| matches!(k, AsmErrorKind::UnknownMnemonic(_))),
        ("movsx3232 %r0, %r1", |k| matches!(k, AsmErrorKind::UnknownMnemonic(_))),
        ("ldxsdw %r0, [%r1]", |k| matches!(k, AsmErrorKind::UnknownMnemonic(_))),
        ("lock nand [%r1], %r2", |k| matches!(k, AsmErrorKind::UnknownMnemonic(_))),
        ("lddw %r0", |k| matches!(k, AsmErrorKind::OperandCount { expected: 2, found: 1, .. })),
        ("exit %r0", |k| matches!(k, AsmErrorKind::OperandCount { expected: 0, found: 1, .. })),
        ("mov %r0, 1, 2", |k| matches!(k, AsmErrorKind::OperandCount { .. })),
        ("lock", |k| matches!(k, AsmErrorKind::OperandCount { .. })),
        ("lock fetch", |k| matches!(k, AsmErrorKind::OperandCount { .. })),
        ("lock or [%r10-8]", |k| matches!(k, AsmErrorKind::OperandCount { .. })),
        ("call", |k| matches!(k, AsmErrorKind::OperandCount { .. })),
        ("call local", |k| matches!(k, AsmErrorKind::OperandCount { .. })),
        ("or %r0, %r50", |k| matches!(k, AsmErrorKind::InvalidRegister(_))),
        ("mov %r15, 1", |k| matches!(k, AsmErrorKind::InvalidRegister(_))),
        ("call %r11", |k| matches!(k, AsmErrorKind::InvalidRegister(_))),
        ("ldxw %r0, %r1", |k| matches!(k, AsmErrorKind::InvalidMemoryOperand(_))),
        ("ldxw %r0, [%r1+]", |k| matches!(k, AsmErrorKind::InvalidMemoryOperand(_))),
        ("stxw [%r1], 5", |k| matches!(k, AsmErrorKind::InvalidOperand { .. })),
        ("movsx864 %r0, 5", |k| matches!(k, AsmErrorKind::InvalidOperand { .. })),
        ("ja nowhere", |k| matches!(k, AsmErrorKind::UndefinedLabel(_))),
        ("ja 3", |k| matches!(k, AsmErrorKind::InvalidLabel(_))),
        ("9lives:\nexit", |k| matches!(k, AsmErrorKind::InvalidLabel(_))),
        ("a:\na:\nexit", |k| matches!(k, AsmErrorKind::DuplicateLabel(_))),
        ("", |k| matches!(k, AsmErrorKind::Empty)),
        ("# only a comment\nlabel:\n", |k| matches!(k, AsmErrorKind::Empty)),
    ];
    for (text, check) in cases {
        let k = kind(text);
        assert!(check(&k), "`{text}` gave {k:?}");
    }
}

#[test]
fn slot_limit_is_65536() {
    let full = "exit\n".repeat(femtoc_isa::MAX_INSNS);
    assert_eq!(code(&full).len(), femtoc_isa::MAX_INSNS);
    let err = assemble(&format!("{full}exit\n")).unwrap_err();
    assert_eq!(err.kind, AsmErrorKind::TooLong);
    assert_eq!(err.line, femtoc_isa::MAX_INSNS + 1);
    // An lddw may not straddle the limit either.
    let almost = "exit\n".repeat(femtoc_isa::MAX_INSNS - 1);
    assert_eq!(
        assemble(&format!("{almost}lddw %r0, 1\n")).unwrap_err().kind,
        AsmErrorKind::TooLong
    );
}

#[test]
fn labels_beyond_a_16_bit_offset_need_ja32() {
    let body = "mov %r0, 0\n".repeat(40_000);
    let far = format!("ja far\n{body}far:\nexit\n");
    assert!(matches!(kind(&far), AsmErrorKind::TargetOutOfRange { offset: 40_000, .. }));
    let long = format!("ja32 far\n{body}far:\nexit\n");
    assert_eq!(code(&long)[0], w(0x06, 0, 0, 0, 40_000));
}

#[test]
fn disassembly_uses_symbols_and_generated_labels() {
    let text = "mov %r0, 0\nloop:\nadd %r0, 1\njlt %r0, 10, loop\njeq %r0, 10, +1\nmov %r0, 7\ncall local helper_fn\nexit\nhelper_fn:\nexit\n";
    let program = assemble(text).unwrap();
    let listing = disassemble(&program);
    assert!(listing.contains("loop:\n"), "{listing}");
    assert!(listing.contains("jlt %r0, 10, loop"), "{listing}");
    assert!(listing.contains("call local helper_fn"), "{listing}");
    // The +1 jump from pc 3 lands on pc 5, which has no symbol.
    assert!(listing.contains("L5:\n") && listing.contains("jeq %r0, 10, L5"), "{listing}");
    assert_eq!(assemble(&listing).unwrap().code, program.code);
}
