//! Random slot sequences never make the verifier panic, and what it
//! accepts satisfies the facts' own invariants.

use femtoc_isa::program::{DataKind, DataRegion, Program};
use femtoc_isa::verifier::{verify, verify_in, SlotScratch, VerifierConfig};
use femtoc_isa::{AluOp, FunctionInfo, Insn, JmpCond, MemSize, Reg, Source, Width};
use proptest::prelude::*;

fn reg(max: u8) -> impl Strategy<Value = Reg> {
    (0..=max).prop_map(|n| Reg::new(n).unwrap_or(Reg::R0))
}

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![reg(10).prop_map(Source::Reg), (-16i32..16).prop_map(Source::Imm)]
}

fn size() -> impl Strategy<Value = MemSize> {
    prop_oneof![Just(MemSize::B), Just(MemSize::H), Just(MemSize::W), Just(MemSize::DW)]
}

/// Typed instructions with small offsets, so that random programs are
/// often accepted and exercise the data flow, not just the decoder.
fn insn() -> impl Strategy<Value = Insn> {
    let width = prop_oneof![3 => Just(Width::W64), 1 => Just(Width::W32)];
    let op = prop_oneof![
        Just(AluOp::Mov),
        Just(AluOp::Add),
        Just(AluOp::Sub),
        Just(AluOp::Mul),
        Just(AluOp::Div),
        Just(AluOp::And),
        Just(AluOp::Lsh),
    ];
    let cond = prop_oneof![Just(JmpCond::Eq), Just(JmpCond::Ne), Just(JmpCond::Slt)];
    let base = prop_oneof![2 => Just(Reg::R10), 1 => Just(Reg::R1), 1 => reg(10)];
    let off = (-9i16..3).prop_map(|k| k * 8);
    prop_oneof![
        4 => (width, op, reg(9), source())
            .prop_map(|(width, op, dst, src)| Insn::Alu { width, op, dst, src }),
        2 => (reg(9), reg(10)).prop_map(|(dst, src)| Insn::Alu {
            width: Width::W64, op: AluOp::Mov, dst, src: Source::Reg(src)
        }),
        1 => (reg(9), -64i32..64).prop_map(|(dst, k)| Insn::Alu {
            width: Width::W64, op: AluOp::Add, dst, src: Source::Imm(k)
        }),
        2 => (size(), reg(9), base.clone(), off.clone())
            .prop_map(|(size, dst, src, off)| Insn::Load { size, dst, src, off }),
        2 => (size(), base, off, source())
            .prop_map(|(size, dst, off, src)| Insn::Store { size, dst, off, src }),
        2 => (cond, reg(10), source(), -4i16..4).prop_map(|(cond, dst, src, off)| Insn::Jmp {
            width: Width::W64, cond, dst, src, off
        }),
        1 => (-4i16..4).prop_map(|off| Insn::Ja { off }),
        1 => (0u32..7).prop_map(|id| Insn::Call { id }),
        1 => (-8i32..8).prop_map(|off| Insn::CallLocal { off }),
        1 => (reg(9), any::<u64>()).prop_map(|(dst, imm)| Insn::LoadImm64 { dst, imm }),
        1 => (reg(9), 0u32..2, 0u32..20)
            .prop_map(|(dst, region, offset)| Insn::LoadDataAddr { dst, region, offset }),
        2 => Just(Insn::Exit),
    ]
}

fn program(len: core::ops::Range<usize>) -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        prop::collection::vec(insn(), len.clone()).prop_map(|insns| {
            insns.iter().flat_map(|i| i.encode().as_slice().to_vec()).collect()
        }),
        prop::collection::vec(insn(), len).prop_map(|body| with_prologue(&body)),
    ]
}

fn check_invariants(code: &[u64]) -> bool {
    let cfg = VerifierConfig { data_sizes: &[16], ..VerifierConfig::new(&[0, 1, 2, 3, 4, 5]) };
    let mut program = Program::from_code(code.to_vec());
    program.data =
        vec![DataRegion { name: ".bss".into(), kind: DataKind::Zeroed, image: vec![], size: 16 }];
    let result = verify(&program, &cfg);
    let mut scratch = vec![SlotScratch::EMPTY; code.len()];
    let mut functions = vec![FunctionInfo::default(); code.len()];
    let core = verify_in(code, &cfg, &mut scratch, &mut functions);
    match (result, core) {
        (Ok(v), Ok(s)) => {
            assert_eq!(v.functions.as_slice(), &functions[..s.functions]);
            assert_eq!((v.stack_usage, v.min_ctx_len), (s.stack_usage, s.min_ctx_len));
            assert!(v.stack_usage <= cfg.stack_size);
            assert_eq!(v.functions.first().map(|f| f.start), Some(0));
            for f in &v.functions {
                assert!(f.start < f.end && f.end as usize <= code.len());
                assert!(f.max_entry_depth + f.frame_size <= v.stack_usage);
                if f.frame_tracked {
                    assert_eq!(f.frame_size % 8, 0);
                }
            }
            let covered: u32 = v.blocks.iter().map(|b| b.end - b.start).sum();
            assert_eq!(covered as usize, code.len());
            true
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            // Display never panics and always names the pc.
            assert!(a.to_string().starts_with(&format!("pc {}: ", a.pc)));
            false
        }
        (a, b) => panic!("front door and core disagree: {:?} vs {:?}", a.err(), b.err()),
    }
}

/// A prologue that initialises r0..r9, so that random bodies are often accepted.
fn with_prologue(body: &[Insn]) -> Vec<u64> {
    let init = (0..10).filter_map(Reg::new).map(|dst| Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Source::Imm(0),
    });
    init.chain(body.iter().copied())
        .chain([Insn::Exit])
        .flat_map(|i| i.encode().as_slice().to_vec())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_slots_never_panic(code in prop::collection::vec(any::<u64>(), 1..48)) {
        check_invariants(&code);
    }

    #[test]
    fn random_programs_never_panic(code in program(1..40)) {
        check_invariants(&code);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn longer_programs_never_panic(
        code in program(200..600)
    ) {
        check_invariants(&code);
    }
}
