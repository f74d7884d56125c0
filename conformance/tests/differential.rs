//! The differential tester: generator validity and coverage, the reference
//! reaching every error kind, every native engine against the interpreter,
//! and the blob install path against the plain interpreter.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use femtoc_conformance::differential::{
    compare, first_difference, generate, run_cases, BlobInterpreter, Difference, Feature,
    FeatureSet, GeneratedCase,
};
use femtoc_conformance::engine::{
    engine_by_name, Case, Engine, EngineError, Interpreter, Observation, ENGINE_NAMES, MIX, PEEK,
};
use femtoc_isa::{decode_all, AluOp, AtomicOp, ByteOrder, Insn, JmpCond, MemSize, Source, Width};
use femtoc_runtime::helpers::testing::UNWIND;
use femtoc_runtime::RunErrorKind;

const SEED: u64 = 0x0fe7_70c0;
const GENERATED: u64 = 2_000;
/// Cases per native engine (the blob path runs the same number).
const DIFFERENTIAL: u64 = 2_000;
/// Cases each simulated miscompilation must be caught within.
const MUTATION_CASES: u64 = 1_000;

fn cases() -> &'static [GeneratedCase] {
    static CASES: OnceLock<Vec<GeneratedCase>> = OnceLock::new();
    CASES.get_or_init(|| (0..GENERATED).map(|i| generate(SEED, i)).collect())
}

#[test]
fn generation_is_reproducible_from_seed_and_index() {
    for index in [0, 1, 17, 1_999] {
        let (a, b) = (generate(SEED, index), generate(SEED, index));
        assert_eq!(a.program, b.program);
        assert_eq!(a.context, b.context);
        assert_eq!(a.budget, b.budget);
    }
    assert_ne!(generate(SEED, 0).program, generate(SEED, 1).program);
    assert_ne!(generate(SEED, 5).program, generate(SEED + 1, 5).program);
}

#[test]
fn at_least_99_percent_of_generated_programs_verify() {
    let rejected: Vec<_> =
        cases().iter().filter_map(|c| c.verified.as_ref().err().map(|e| (c.index, *e))).collect();
    let valid = cases().len() - rejected.len();
    println!("{valid} of {} generated programs verify", cases().len());
    assert!(
        valid * 100 >= cases().len() * 99,
        "{} of {} rejected, e.g. {:?}",
        rejected.len(),
        cases().len(),
        &rejected[..rejected.len().min(5)]
    );
}

#[test]
fn generator_reports_every_feature_class() {
    let mut all = FeatureSet::default();
    for c in cases() {
        all.union(c.features);
    }
    assert_eq!(all.missing(), Vec::<Feature>::new(), "features never generated");
}

#[test]
fn generated_byte_pairs_are_ones_the_backends_combine() {
    let mut with_feature = 0;
    let mut found = 0;
    let mut words = [0; 2];
    for c in cases().iter().filter(|c| c.features.contains(Feature::BytePair)) {
        let Ok(verified) = &c.verified else { continue };
        with_feature += 1;
        let insns: Vec<(usize, Insn)> =
            decode_all(&c.program.code).flatten().map(|d| (d.pc, d.insn)).collect();
        let pairs = femtoc_compiler::analysis::byte_pairs::byte_pairs(verified, &insns);
        found += usize::from(!pairs.is_empty());
        for p in pairs.values().filter(|p| p.bytes() == 4) {
            words[usize::from(p.big_endian)] += 1;
        }
    }
    assert!(with_feature >= 50, "{with_feature} cases with byte pairs");
    assert!(words.iter().all(|&n| n >= 10), "{words:?} little-endian and network-order words");
    assert_eq!(found, with_feature, "every generated pair is recognized");
}

/// The instruction classes one decoded instruction belongs to.
fn classes(pc: usize, insn: &Insn) -> Vec<String> {
    let src = |s: &Source| if matches!(s, Source::Reg(_)) { "reg" } else { "imm" };
    match insn {
        Insn::Alu { width, op, src: s, .. } => vec![format!("alu {width:?} {op:?} {}", src(s))],
        Insn::Neg { width, .. } => vec![format!("neg {width:?}")],
        Insn::Endian { order, bits, .. } => vec![format!("endian {order:?} {bits}")],
        Insn::LoadImm64 { .. } => vec!["lddw".into()],
        Insn::LoadDataAddr { .. } => vec!["lddw data".into()],
        Insn::Load { size, .. } => vec![format!("ldx {size:?}")],
        Insn::LoadSx { size, .. } => vec![format!("ldxs {size:?}")],
        Insn::Store { size, src: s, .. } => vec![format!("st {size:?} {}", src(s))],
        Insn::Atomic { size, op, fetch, .. } => vec![format!("atomic {size:?} {op:?} {fetch}")],
        Insn::Ja { off } => vec![format!("ja {}", if *off < 0 { "back" } else { "fwd" })],
        Insn::JaLong { off } => vec![format!("ja32 {}", if *off < 0 { "back" } else { "fwd" })],
        Insn::Jmp { width, cond, src: s, .. } => {
            let back = insn.branch_target(pc).is_some_and(|t| t <= pc as i64);
            let dir = if back { "back" } else { "fwd" };
            vec![
                format!("jmp {width:?} {cond:?} {}", src(s)),
                format!("jmp {width:?} {cond:?} {dir}"),
            ]
        }
        Insn::Call { id } => vec![format!("call {id}")],
        Insn::CallLocal { .. } => vec!["call local".into()],
        Insn::CallReg { .. } => vec!["callx".into()],
        Insn::Exit => vec!["exit".into()],
    }
}

fn expected_classes() -> BTreeSet<String> {
    let widths = [Width::W32, Width::W64];
    let mut out = BTreeSet::new();
    let ops = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::Arsh,
    ];
    for w in widths {
        for op in ops {
            for s in ["reg", "imm"] {
                out.insert(format!("alu {w:?} {op:?} {s}"));
            }
        }
        out.insert(format!("neg {w:?}"));
        for cond in [
            JmpCond::Eq,
            JmpCond::Gt,
            JmpCond::Ge,
            JmpCond::Set,
            JmpCond::Ne,
            JmpCond::Sgt,
            JmpCond::Sge,
            JmpCond::Lt,
            JmpCond::Le,
            JmpCond::Slt,
            JmpCond::Sle,
        ] {
            for k in ["reg", "imm", "fwd", "back"] {
                out.insert(format!("jmp {w:?} {cond:?} {k}"));
            }
        }
    }
    for bits in [8, 16, 32] {
        out.insert(format!("alu W64 MovSx({bits}) reg"));
    }
    for bits in [8, 16] {
        out.insert(format!("alu W32 MovSx({bits}) reg"));
    }
    for order in [ByteOrder::ToLe, ByteOrder::ToBe, ByteOrder::Swap] {
        for bits in [16, 32, 64] {
            out.insert(format!("endian {order:?} {bits}"));
        }
    }
    for size in [MemSize::B, MemSize::H, MemSize::W, MemSize::DW] {
        out.insert(format!("ldx {size:?}"));
        out.insert(format!("st {size:?} reg"));
        out.insert(format!("st {size:?} imm"));
    }
    for size in [MemSize::B, MemSize::H, MemSize::W] {
        out.insert(format!("ldxs {size:?}"));
    }
    for size in [MemSize::W, MemSize::DW] {
        for op in [AtomicOp::Add, AtomicOp::Or, AtomicOp::And, AtomicOp::Xor] {
            out.insert(format!("atomic {size:?} {op:?} false"));
            out.insert(format!("atomic {size:?} {op:?} true"));
        }
        out.insert(format!("atomic {size:?} Xchg true"));
        out.insert(format!("atomic {size:?} CmpXchg true"));
    }
    for s in
        ["lddw", "lddw data", "ja fwd", "ja back", "ja32 fwd", "ja32 back", "call local", "exit"]
    {
        out.insert(s.into());
    }
    for id in [UNWIND, MIX, PEEK] {
        out.insert(format!("call {id}"));
    }
    out
}

#[test]
fn generated_programs_cover_every_instruction_class() {
    let mut seen = BTreeSet::new();
    for c in cases() {
        for d in decode_all(&c.program.code).flatten() {
            seen.extend(classes(d.pc, &d.insn));
        }
    }
    let missing: Vec<_> = expected_classes().difference(&seen).cloned().collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
    assert!(!seen.contains("callx"), "callx is outside femtoc's feature set");
}

#[derive(Debug, Default)]
struct Outcomes {
    returned: usize,
    memory_fault: usize,
    budget_exhausted: usize,
    helper_stop: usize,
    helper_failed: usize,
    context_too_short: usize,
    other: usize,
}

fn observe(engine: &mut dyn Engine, case: &GeneratedCase) -> Option<Observation> {
    let program = case.verified.as_ref().ok()?;
    let run = Case { program, context: case.context.as_deref(), budget: case.budget };
    Some(engine.execute(&run).unwrap_or_else(|e| panic!("case {}: {e}", case.index)))
}

#[test]
fn the_interpreter_reaches_every_error_kind() {
    let mut n = Outcomes::default();
    for case in cases() {
        let Some(obs) = observe(&mut Interpreter, case) else { continue };
        match obs.result {
            Ok(r0) => {
                let last = obs.helper_calls.last();
                if r0 == 0 && last.is_some_and(|c| c.id == UNWIND && c.args[0] == 0) {
                    n.helper_stop += 1;
                } else {
                    n.returned += 1;
                }
            }
            Err(e) => match e.kind {
                RunErrorKind::MemoryFault { .. } => n.memory_fault += 1,
                RunErrorKind::BudgetExhausted => n.budget_exhausted += 1,
                RunErrorKind::HelperFailed { .. } => n.helper_failed += 1,
                RunErrorKind::ContextTooShort { .. } => n.context_too_short += 1,
                _ => n.other += 1,
            },
        }
    }
    println!("outcomes over {} cases: {n:?}", cases().len());
    assert!(n.returned > 0, "{n:?}");
    assert!(n.memory_fault > 0, "{n:?}");
    assert!(n.budget_exhausted > 0, "{n:?}");
    assert!(n.helper_stop > 0, "{n:?}");
    assert!(n.helper_failed > 0, "{n:?}");
    assert!(n.context_too_short > 0, "{n:?}");
    assert_eq!(n.other, 0, "verified programs never stop as invalid: {n:?}");
}

fn assert_no_mismatch(engine: &mut dyn Engine, cases: u64) {
    let summary = run_cases(engine, &mut Interpreter, SEED, cases, |m| eprintln!("{m}"));
    println!("{}: {}", engine.name(), summary.line());
    assert!(summary.mismatches.is_empty(), "{} vs interp: {}", engine.name(), summary.line());
    assert!(summary.passed as u64 * 100 >= cases * 99, "{}", summary.line());
}

/// The Cranelift engines of other hosts, run in the emulator; tested one per test so that
/// they run in parallel and a mismatch names its ISA.
const EMULATED_HOST_ISAS: [&str; 2] = ["aarch64", "riscv64gc"];

/// Thumb-2 code built for size, tested on its own (in parallel).
const BUILT_FOR_SIZE: [&str; 2] = ["thumbv7m-size", "thumbv7em-size"];

#[test]
fn every_native_engine_matches_the_interpreter() {
    let others = ENGINE_NAMES.iter().filter(|n| {
        **n != "interp" && !EMULATED_HOST_ISAS.contains(n) && !BUILT_FOR_SIZE.contains(n)
    });
    for name in others {
        let mut engine = engine_by_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_no_mismatch(engine.as_mut(), DIFFERENTIAL);
    }
}

#[cfg(feature = "emu")]
fn registered_engine_matches_the_interpreter(name: &str) {
    assert!(ENGINE_NAMES.contains(&name), "{name} is not a registered engine");
    let mut engine = engine_by_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_no_mismatch(engine.as_mut(), DIFFERENTIAL);
}

#[cfg(feature = "emu")]
#[test]
fn thumb2_built_for_size_matches_the_interpreter() {
    for name in BUILT_FOR_SIZE {
        registered_engine_matches_the_interpreter(name);
    }
}

#[cfg(feature = "emu")]
#[test]
fn aarch64_in_the_emulator_matches_the_interpreter() {
    registered_engine_matches_the_interpreter("aarch64");
}

#[cfg(feature = "emu")]
#[test]
fn riscv64gc_in_the_emulator_matches_the_interpreter() {
    registered_engine_matches_the_interpreter("riscv64gc");
}

#[test]
fn the_blob_install_path_matches_the_interpreter() {
    assert_no_mismatch(&mut BlobInterpreter, DIFFERENTIAL);
}

/// The interpreter with one observed field tampered with, to check that the
/// comparison notices each kind of difference.
struct Tampered(fn(&mut Observation));

impl Engine for Tampered {
    fn name(&self) -> &'static str {
        "tampered"
    }
    fn execute(&mut self, case: &Case<'_>) -> Result<Observation, EngineError> {
        let mut obs = Interpreter.execute(case)?;
        (self.0)(&mut obs);
        Ok(obs)
    }
}

fn first_tampered_difference(tamper: fn(&mut Observation)) -> Difference {
    for case in cases() {
        if let Err(m) = compare(&mut Tampered(tamper), &mut Interpreter, case) {
            assert_eq!(m.index, case.index);
            let text = m.to_string();
            assert!(text.contains(&format!("case {}", case.index)), "{text}");
            assert!(text.contains("exit"), "the report shows the program: {text}");
            return *m.difference;
        }
    }
    panic!("no case showed the tampering");
}

#[test]
fn comparison_reports_the_first_differing_field() {
    let d = first_tampered_difference(|o| o.result = o.result.map(|r0| r0 ^ 1));
    assert!(matches!(d, Difference::Result { .. }), "{d:?}");

    let d = first_tampered_difference(|o| {
        if let Some(b) = o.regions.last_mut().and_then(|r| r.bytes.get_mut(3)) {
            *b ^= 0x80;
        }
    });
    assert!(matches!(d, Difference::RegionByte { offset: 3, .. }), "{d:?}");

    let d = first_tampered_difference(|o| {
        if let Some(c) = o.helper_calls.get_mut(1) {
            c.args[4] = c.args[4].wrapping_add(1);
        }
    });
    assert!(matches!(d, Difference::HelperCall { index: 1, .. }), "{d:?}");

    let d = first_tampered_difference(|o| o.helper_calls.clear());
    assert!(matches!(d, Difference::HelperCall { index: 0, engine: None, .. }), "{d:?}");

    let d = first_tampered_difference(|o| o.budget_used = o.budget_used.map(|b| b + 1));
    assert!(matches!(d, Difference::Budget { .. }), "{d:?}");

    // A budget only one side reports is not compared (runs that stop early
    // do not report it yet).
    let theirs = observe(&mut Interpreter, &cases()[0]).expect("case 0 verifies");
    let mut mine = theirs.clone();
    mine.budget_used = None;
    assert_eq!(first_difference(&mine, &theirs), None);
}

#[test]
fn a_rejected_program_is_reported_not_run() {
    let mut case = generate(SEED, 3);
    case.program.code.truncate(1);
    case.verified = femtoc_conformance::runner::verify_for_harness(&case.program);
    let err = compare(&mut Interpreter, &mut Interpreter, &case).expect_err("must not pass");
    assert!(matches!(*err.difference, Difference::NotVerified(_)), "{err}");
}

/// The interpreter running a deliberately miscompiled program: every slot
/// with opcode `from` gets opcode `to` (and `off` cleared if `clear_off`),
/// standing in for a backend bug.
struct Miscompiled {
    from: u8,
    to: u8,
    clear_off: bool,
}

impl Engine for Miscompiled {
    fn name(&self) -> &'static str {
        "miscompiled"
    }
    fn execute(&mut self, case: &Case<'_>) -> Result<Observation, EngineError> {
        let mut program = case.program.clone();
        for slot in program.program.code.iter_mut() {
            // lddw's second slot has opcode 0, never a mutated one.
            if *slot as u8 == self.from {
                *slot = (*slot & !0xff) | u64::from(self.to);
                if self.clear_off {
                    *slot &= !(0xffff << 16);
                }
            }
        }
        Interpreter.execute(&Case { program: &program, ..*case })
    }
}

#[test]
fn generated_cases_catch_miscompilations() {
    let bugs = [
        ("arsh32 as rsh32", 0xc4, 0x74, false),
        ("arsh64 reg as rsh64", 0xcf, 0x7f, false),
        ("sdiv64 as div64", 0x3f, 0x3f, true),
        ("smod32 imm as mod32", 0x94, 0x94, true),
        ("jsgt as jgt", 0x65, 0x25, false),
        ("jslt32 reg as jlt32", 0xce, 0xae, false),
        ("ldxsb as ldxb", 0x91, 0x71, false),
        ("movsx as mov", 0xbf, 0xbf, true),
        ("be as le", 0xdc, 0xd4, false),
        ("xadd32 as stxw", 0xc3, 0x63, false),
    ];
    for (what, from, to, clear_off) in bugs {
        let mut engine = Miscompiled { from, to, clear_off };
        let summary = run_cases(&mut engine, &mut Interpreter, SEED, MUTATION_CASES, |_| {});
        println!("{what}: {}", summary.line());
        assert!(!summary.mismatches.is_empty(), "{what} went unnoticed in {MUTATION_CASES} cases");
    }
}
