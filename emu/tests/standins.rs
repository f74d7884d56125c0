//! The native ABI, proven with C stand-ins for compiled containers on all four MCU engines.
//!
//! Each `emu/standins/*.c` is built with gcc at test time, packed into a blob with one code
//! section per engine, installed for each core and run through the runtime's real native
//! glue in the emulator. Results are what the interpreter semantics demand; for the stand-ins
//! whose comments give the eBPF program, the interpreter runs that program too and must agree.
//! Run with `--nocapture` to see the emulated instruction and cycle counts.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use object::{Object, ObjectSection, ObjectSymbol, SectionFlags};

use femtoc_compiler::blob::{write_blob, BlobSpec, CodeSpec};
use femtoc_emu::native::{engine_of, run_blob, EmuRunError, NativeInput, NativeRun};
use femtoc_emu::{Core, EmuError};
use femtoc_isa::program::{DataKind, DataRegion};
use femtoc_isa::VerifierConfig;
use femtoc_runtime::abi::ROUTINE_STACK_BYTES;
use femtoc_runtime::engine::{Engine, Features};
use femtoc_runtime::helpers::testing::{HelperCall, Recording};
use femtoc_runtime::install::ExecMode;
use femtoc_runtime::layout::CONTEXT_BASE;
use femtoc_runtime::{
    HelperResult, Helpers, MemoryAccess, Regions, RunArgs, RunError, RunErrorKind, RunOutcome,
};

const STANDINS: [&str; 4] = ["budget", "div_atomics", "fault", "helper_call"];
const HELPER_SUM: u32 = 0x7001;
const HELPER_SELECT: u32 = 0x7002;
/// The stand-ins' own frames are small; the rest is what the ABI reserves for routines.
const MACHINE_STACK: u32 = 64 + ROUTINE_STACK_BYTES;

/// The test host's helpers, as `helper_call.c` documents them: 0x7001 returns r1 + r2;
/// 0x7002 fails with code 9 when r1 is 1, else gives r1 + 1000, either as a stop (as the
/// stand-in documents) or, with `select_returns`, as a normal return.
#[derive(Default)]
struct TestHelpers {
    select_returns: bool,
}

impl Helpers for TestHelpers {
    fn call(&mut self, id: u32, args: [u64; 5], _: &mut MemoryAccess<'_, '_>) -> HelperResult {
        match id {
            HELPER_SUM => HelperResult::Return(args[0].wrapping_add(args[1])),
            HELPER_SELECT if args[0] == 1 => HelperResult::Fail(9),
            HELPER_SELECT if self.select_returns => HelperResult::Return(args[0] + 1000),
            HELPER_SELECT => HelperResult::Stop(args[0] + 1000),
            _ => HelperResult::Fail(1),
        }
    }

    fn provides(&self, id: u32) -> bool {
        matches!(id, HELPER_SUM | HELPER_SELECT)
    }
}

// ---------------------------------------------------------------------------------------
// Building the stand-ins

/// A stand-in compiled for one core: flat position-independent code and its entry offset.
#[derive(Clone, Debug)]
struct Built {
    code: Vec<u8>,
    entry: u32,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn gcc(core: Core) -> (&'static str, Vec<&'static str>) {
    match core {
        Core::CortexM3 => {
            ("arm-none-eabi-gcc", vec!["-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"])
        }
        Core::CortexM4 => {
            ("arm-none-eabi-gcc", vec!["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"])
        }
        Core::Rv32imc => ("riscv64-unknown-elf-gcc", vec!["-march=rv32imc", "-mabi=ilp32"]),
        Core::Rv32imac => ("riscv64-unknown-elf-gcc", vec!["-march=rv32imac", "-mabi=ilp32"]),
    }
}

/// Compiles and links `name.c` for `core` with `.text` at `text_addr`; returns the ELF.
fn link(name: &str, core: Core, text_addr: u32) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("standins");
    std::fs::create_dir_all(&dir).expect("create the build directory");
    let out = dir.join(format!("{name}-{core}-{text_addr:x}.elf"));
    let (tool, arch) = gcc(core);
    let src = workspace().join("emu/standins").join(format!("{name}.c"));
    let include = workspace().join("runtime/include");
    let result = Command::new(tool)
        .args(arch)
        .args(["-O2", "-ffreestanding", "-nostdlib", "-fno-builtin", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(&include)
        .arg(&src)
        .args(["-Wl,-e,fc_entry", &format!("-Wl,-Ttext={text_addr:#x}"), "-o"])
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} (scripts/setup.sh installs it): {e}"));
    assert!(
        result.status.success() && result.stderr.is_empty(),
        "{tool} on {name}.c for {core}:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    std::fs::read(&out).expect("read the linked stand-in")
}

/// `.text` and `fc_entry`'s offset in it, after checking that nothing else is loaded.
fn flat_text(elf: &[u8], what: &str) -> (Vec<u8>, u64, u32) {
    let file = object::File::parse(elf).expect("parse the stand-in's ELF");
    for section in file.sections() {
        let alloc = match section.flags() {
            SectionFlags::Elf { sh_flags } => sh_flags & u64::from(object::elf::SHF_ALLOC) != 0,
            _ => false,
        };
        let name = section.name().unwrap_or("?");
        assert!(
            !alloc || name == ".text" || section.size() == 0,
            "{what}: section {name} would be loaded too; the code must be one flat .text"
        );
    }
    let text = file.section_by_name(".text").expect("a .text section");
    let entry =
        file.symbols().find(|s| s.name() == Ok("fc_entry")).expect("the stand-in defines fc_entry");
    let offset = entry.address() - text.address();
    // The Thumb bit is not part of the byte offset.
    let offset = (offset & !1) as u32;
    (text.data().expect(".text bytes").to_vec(), text.address(), offset)
}

fn build(name: &str, core: Core) -> Built {
    let what = format!("{name}.c for {core}");
    let (code, at0, entry) = flat_text(&link(name, core, 0), &what);
    let (moved, at1, entry1) = flat_text(&link(name, core, 0x1000), &what);
    assert_eq!((at0, at1), (0, 0x1000), "{what}: .text not where it was linked");
    // Code that is the same wherever it is linked holds no absolute address: it runs in place.
    assert_eq!(code, moved, "{what}: the code depends on its link address");
    assert_eq!(entry, entry1, "{what}: the entry moved");
    Built { code, entry }
}

/// Every stand-in for every core, built once per test process.
fn built(name: &str, core: Core) -> Built {
    static ALL: OnceLock<HashMap<(String, Core), Built>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        let mut map = HashMap::new();
        for name in STANDINS {
            for core in Core::ALL {
                map.insert((name.to_string(), core), build(name, core));
            }
        }
        map
    });
    all.get(&(name.to_string(), core)).cloned().expect("a stand-in that was built")
}

fn code_features(core: Core) -> Features {
    if core.is_arm() {
        Features::NONE
    } else {
        Features::COMPRESSED
    }
}

/// A blob with the stand-in's code for every core (so install must pick the right one).
fn blob_for(name: &str, data: &[DataRegion], bytecode: Option<&[u64]>) -> Vec<u8> {
    let builds: Vec<(Core, Built)> = Core::ALL.into_iter().map(|c| (c, built(name, c))).collect();
    let code: Vec<CodeSpec<'_>> = builds
        .iter()
        .map(|(core, b)| CodeSpec {
            engine: engine_of(*core),
            features: code_features(*core),
            entry: b.entry,
            machine_stack: MACHINE_STACK,
            code: &b.code,
        })
        .collect();
    let spec = BlobSpec {
        helpers: &[HELPER_SUM, HELPER_SELECT],
        data,
        code: &code,
        bytecode,
        ..BlobSpec::default()
    };
    write_blob(&spec, None).expect("write the blob")
}

// ---------------------------------------------------------------------------------------
// Running

fn run_on(
    core: Core,
    blob: &[u8],
    input: &NativeInput<'_>,
    helpers: TestHelpers,
) -> (NativeRun, Vec<HelperCall>) {
    let mut helpers = Recording::new(helpers);
    let run = run_blob(core, blob, input, &mut helpers)
        .unwrap_or_else(|e| panic!("{core}: the run did not complete: {e}"));
    (run, helpers.calls)
}

fn report(name: &str, case: &str, core: Core, run: &NativeRun) {
    if let Some(s) = run.stats {
        println!(
            "{name:12} {case:24} {:12} {:>6} insns {:>6} cycles {:>3} routine calls {:>4} B machine stack",
            core.engine(),
            s.insns,
            s.cycles,
            s.trap_calls,
            s.machine_stack_used
        );
    }
}

fn assert_native(core: Core, run: &NativeRun) {
    assert_eq!(
        run.mode,
        ExecMode::Native(engine_of(core)),
        "{core}: install did not pick its code"
    );
    assert!(run.stats.is_some(), "{core}: nothing was emulated");
}

fn ok(r0: u64, budget_used: u64) -> Result<(u64, u64), RunError> {
    Ok((r0, budget_used))
}

fn summary(outcome: &Result<RunOutcome, RunError>) -> Result<(u64, u64), RunError> {
    outcome.map(|o| (o.r0, o.budget_used))
}

/// Assembles, verifies and interprets `text` with the same input the native run had.
fn interpret(
    text: &str,
    context: &[u8],
    budget: Option<u64>,
    helpers: TestHelpers,
) -> (Result<RunOutcome, RunError>, Vec<HelperCall>) {
    let program = femtoc_isa::assemble(text).expect("assemble the eBPF program");
    let verified = femtoc_isa::verify(&program, &VerifierConfig::new(&[HELPER_SUM, HELPER_SELECT]))
        .expect("verify the eBPF program");
    let mut stack = [0u8; 512];
    let mut ctx = context.to_vec();
    let mut regions = Regions::new(&mut stack);
    let args = if ctx.is_empty() {
        RunArgs { budget, ..RunArgs::default() }
    } else {
        let r1 = ctx.as_mut_ptr() as usize as u64;
        let r2 = ctx.len() as u64;
        regions
            .push(femtoc_runtime::MemRegion::read_write(
                femtoc_runtime::RegionKind::Context,
                &mut ctx,
            ))
            .expect("push the context");
        RunArgs { r1, r2, budget }
    };
    let mut helpers = Recording::new(helpers);
    let outcome = femtoc_runtime::run(&verified.as_ref(), &regions, args, &mut helpers);
    (outcome, helpers.calls)
}

// ---------------------------------------------------------------------------------------
// helper_call.c

const HELPER_CALL_EBPF: &str = "
    mov %r1, 7
    mov %r2, 35
    call 0x7001
    mul %r0, 2
    exit
";

fn call(id: u32, r1: u64, r2: u64) -> HelperCall {
    HelperCall { id, args: [r1, r2, 0, 0, 0] }
}

/// The trace without the arguments the program leaves unset: r2 of the second call is
/// uninitialised in eBPF (r1..r5 die at a call), so the stand-in may pass anything there.
fn set_args(trace: &[HelperCall]) -> Vec<(u32, u64, Option<u64>)> {
    trace.iter().map(|c| (c.id, c.args[0], (c.id == HELPER_SUM).then_some(c.args[1]))).collect()
}

#[test]
fn helper_call_without_context_returns_the_doubled_sum() {
    let blob = blob_for("helper_call", &[], None);
    let (want, want_trace) = interpret(HELPER_CALL_EBPF, &[], None, TestHelpers::default());
    assert_eq!(summary(&want), ok(84, 0), "the interpreter disagrees with the stand-in's comment");
    for core in Core::ALL {
        let (run, trace) = run_on(core, &blob, &NativeInput::default(), TestHelpers::default());
        report("helper_call", "no context", core, &run);
        assert_native(core, &run);
        assert_eq!(summary(&run.outcome), summary(&want), "{core}");
        assert_eq!(trace, vec![call(HELPER_SUM, 7, 35)], "{core}");
        // The interpreter passes the uninitialised r3..r5 as they are; compare what the
        // program set.
        let set: Vec<_> = want_trace.iter().map(|c| (c.id, c.args[0], c.args[1])).collect();
        assert_eq!(set, vec![(HELPER_SUM, 7, 35)], "{core}");
    }
}

#[test]
fn helper_call_failure_stops_at_the_second_call() {
    let blob = blob_for("helper_call", &[], None);
    let input =
        NativeInput { context: Some(&[1]), context_writable: false, ..NativeInput::default() };
    for core in Core::ALL {
        let (run, trace) = run_on(core, &blob, &input, TestHelpers::default());
        report("helper_call", "context [1]: fails", core, &run);
        assert_native(core, &run);
        let want = RunError {
            pc: 5,
            kind: RunErrorKind::HelperFailed { id: HELPER_SELECT, code: 9 },
            budget_used: 0,
        };
        assert_eq!(run.outcome, Err(want), "{core}");
        assert_eq!(
            set_args(&trace),
            vec![(HELPER_SUM, 7, Some(35)), (HELPER_SELECT, 1, None)],
            "{core}"
        );
        assert_eq!(run.context, vec![1], "{core}: a read-only context changed");
    }
}

#[test]
fn helper_call_stop_ends_the_run_with_the_helpers_value() {
    let blob = blob_for("helper_call", &[], None);
    let input = NativeInput { context: Some(&[2]), ..NativeInput::default() };
    for core in Core::ALL {
        let (run, trace) = run_on(core, &blob, &input, TestHelpers::default());
        report("helper_call", "context [2]: stop", core, &run);
        assert_native(core, &run);
        assert_eq!(summary(&run.outcome), ok(1002, 0), "{core}");
        assert_eq!(
            set_args(&trace),
            vec![(HELPER_SUM, 7, Some(35)), (HELPER_SELECT, 2, None)],
            "{core}"
        );
    }
}

#[test]
fn helper_call_return_continues_with_the_helpers_value() {
    let blob = blob_for("helper_call", &[], None);
    let input = NativeInput { context: Some(&[2]), ..NativeInput::default() };
    for core in Core::ALL {
        let helpers = TestHelpers { select_returns: true };
        let (run, trace) = run_on(core, &blob, &input, helpers);
        report("helper_call", "context [2]: return", core, &run);
        assert_eq!(summary(&run.outcome), ok(84 + 1002, 0), "{core}");
        assert_eq!(trace.len(), 2, "{core}");
    }
}

// ---------------------------------------------------------------------------------------
// fault.c

fn fault_data() -> Vec<DataRegion> {
    let region = |name: &str, kind, size, image: &[u8]| DataRegion {
        name: name.to_string(),
        kind,
        size,
        image: image.to_vec(),
    };
    vec![
        region(".rodata", DataKind::ReadOnly, 8, &[1, 2, 3, 4]),
        region(".data", DataKind::ReadWrite, 16, &[9; 4]),
        region(".bss", DataKind::Zeroed, 32, &[]),
    ]
}

#[test]
fn fault_reports_the_refused_store_and_changes_nothing_else() {
    let data = fault_data();
    let blob = blob_for("fault", &data, None);
    let context: Vec<u8> = (1..=16).collect();
    let input = NativeInput { context: Some(&context), ..NativeInput::default() };
    for core in Core::ALL {
        let (run, trace) = run_on(core, &blob, &input, TestHelpers::default());
        report("fault", "store outside", core, &run);
        assert_native(core, &run);
        let addr = CONTEXT_BASE + context.len() as u64 + 1000;
        let want = RunError {
            pc: 4,
            kind: RunErrorKind::MemoryFault { addr, size: 4, write: true },
            budget_used: 0,
        };
        assert_eq!(run.outcome, Err(want), "{core}");
        assert!(trace.is_empty(), "{core}");
        // The in-bounds store happened; nothing else changed anywhere.
        let mut want_context = context.clone();
        want_context[0] = 0x5a;
        assert_eq!(run.context, want_context, "{core}");
        assert!(run.stack.iter().all(|&b| b == 0), "{core}: the eBPF stack changed");
        for (i, region) in data.iter().enumerate() {
            let mut want = region.image.clone();
            want.resize(region.size as usize, 0);
            assert_eq!(run.data.get(i), Some(&want), "{core}: data region {i} changed");
        }
        // Two checks, two routine calls.
        assert_eq!(run.stats.map(|s| s.trap_calls), Some(2), "{core}");
    }
}

// ---------------------------------------------------------------------------------------
// budget.c

const BUDGET_EBPF: &str = "
    mov %r0, 0
    add %r0, 1
    jlt %r0, %r2, -2
    exit
";

fn budget_cases() -> Vec<(&'static str, usize, Option<u64>)> {
    vec![
        ("len 100, budget 10", 100, Some(10)),
        ("len 5, budget 10", 5, Some(10)),
        ("len 100, no budget", 100, None),
    ]
}

#[test]
fn budget_matches_the_interpreter() {
    let blob = blob_for("budget", &[], None);
    for (case, len, budget) in budget_cases() {
        let context = vec![0u8; len];
        let (want, _) = interpret(BUDGET_EBPF, &context, budget, TestHelpers::default());
        let input = NativeInput { context: Some(&context), budget, ..NativeInput::default() };
        for core in Core::ALL {
            let (run, _) = run_on(core, &blob, &input, TestHelpers::default());
            report("budget", case, core, &run);
            assert_native(core, &run);
            assert_eq!(summary(&run.outcome), summary(&want), "{core}, {case}");
        }
    }
}

#[test]
fn budget_values_follow_the_semantics() {
    let blob = blob_for("budget", &[], None);
    for core in Core::ALL {
        let context = [0u8; 100];
        let input =
            NativeInput { context: Some(&context), budget: Some(10), ..NativeInput::default() };
        let (run, _) = run_on(core, &blob, &input, TestHelpers::default());
        assert_eq!(
            run.outcome,
            Err(RunError { pc: 2, kind: RunErrorKind::BudgetExhausted, budget_used: 10 }),
            "{core}"
        );
        // All ten events were spent before the eleventh stopped the run.
        assert_eq!(run.final_ctx.map(|c| c.budget_left), Some(0), "{core}");

        let input = NativeInput {
            context: Some(&context[..5]),
            budget: Some(10),
            ..NativeInput::default()
        };
        let (run, _) = run_on(core, &blob, &input, TestHelpers::default());
        assert_eq!(summary(&run.outcome), ok(5, 4), "{core}");

        let input = NativeInput { context: Some(&context[..77]), ..NativeInput::default() };
        let (run, _) = run_on(core, &blob, &input, TestHelpers::default());
        assert_eq!(run.outcome.map(|o| o.r0), Ok(77), "{core}");
    }
}

// ---------------------------------------------------------------------------------------
// div_atomics.c

#[test]
fn div_atomics_gives_ebpf_results_through_the_routines() {
    let blob = blob_for("div_atomics", &[], None);
    let context = [0u8; 64];
    let input = NativeInput { context: Some(&context), ..NativeInput::default() };
    let min = 1u64 << 63;
    let want = [
        0xffff_ffff_ffff_fff0u64 / 3,
        0,                  // divide by zero
        min,                // MIN / -1
        0,                  // MIN % -1
        777,                // modulo by zero keeps the dividend
        (-7i64 % 2) as u64, // -1: the sign of the dividend
        42,                 // the atomic target after add and compare-exchange
    ];
    for core in Core::ALL {
        let (run, _) = run_on(core, &blob, &input, TestHelpers::default());
        report("div_atomics", "routines", core, &run);
        assert_native(core, &run);
        assert_eq!(summary(&run.outcome), ok(0xffff_ffff, 0), "{core}");
        let got: Vec<u64> = run
            .context
            .chunks(8)
            .take(want.len())
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        assert_eq!(got, want, "{core}");
        assert!(
            run.context[56..].iter().all(|&b| b == 0),
            "{core}: bytes past the results changed"
        );
        // Six divisions and two atomics.
        assert_eq!(run.stats.map(|s| s.trap_calls), Some(8), "{core}");
    }
}

// ---------------------------------------------------------------------------------------
// Install policy

#[test]
fn install_runs_native_code_where_it_matches_and_interprets_elsewhere() {
    let program = femtoc_isa::assemble(BUDGET_EBPF).expect("assemble");
    let m4 = built("budget", Core::CortexM4);
    let code = [CodeSpec {
        engine: Engine::Thumbv7em,
        features: Features::NONE,
        entry: m4.entry,
        machine_stack: MACHINE_STACK,
        code: &m4.code,
    }];
    let spec =
        BlobSpec { code: &code, bytecode: Some(program.code.as_slice()), ..BlobSpec::default() };
    let blob = write_blob(&spec, None).expect("write the blob");
    for (case, len, budget) in budget_cases() {
        let context = vec![0u8; len];
        let input = NativeInput { context: Some(&context), budget, ..NativeInput::default() };
        let (native, _) = run_on(Core::CortexM4, &blob, &input, TestHelpers::default());
        assert_eq!(native.mode, ExecMode::Native(Engine::Thumbv7em), "{case}");
        for core in [Core::Rv32imc, Core::CortexM3] {
            let (interp, _) = run_on(core, &blob, &input, TestHelpers::default());
            assert_eq!(interp.mode, ExecMode::Interpreted, "{core}, {case}");
            assert!(interp.stats.is_none(), "{core}, {case}");
            assert_eq!(summary(&interp.outcome), summary(&native.outcome), "{core}, {case}");
        }
    }
}

#[test]
fn code_needing_a_missing_feature_falls_back_to_the_bytecode() {
    let program = femtoc_isa::assemble(BUDGET_EBPF).expect("assemble");
    let m4 = built("budget", Core::CortexM4);
    let code = [CodeSpec {
        engine: Engine::Thumbv7em,
        features: Features::DSP,
        entry: m4.entry,
        machine_stack: MACHINE_STACK,
        code: &m4.code,
    }];
    let spec =
        BlobSpec { code: &code, bytecode: Some(program.code.as_slice()), ..BlobSpec::default() };
    let blob = write_blob(&spec, None).expect("write the blob");
    let context = [0u8; 9];
    let without_dsp = Features::HW_DIVIDE | Features::UNALIGNED_ACCESS;
    let input = NativeInput {
        context: Some(&context),
        features: Some(without_dsp),
        ..NativeInput::default()
    };
    let (run, _) = run_on(Core::CortexM4, &blob, &input, TestHelpers::default());
    assert_eq!(run.mode, ExecMode::Interpreted);
    assert_eq!(run.outcome.map(|o| o.r0), Ok(9));
}

// ---------------------------------------------------------------------------------------
// Errors of the harness, kept apart from the program's own stops

fn single_section(core: Core, code: &[u8], machine_stack: u32, min_ctx_len: u32) -> Vec<u8> {
    let code = [CodeSpec {
        engine: engine_of(core),
        features: Features::NONE,
        entry: 0,
        machine_stack,
        code,
    }];
    write_blob(&BlobSpec { code: &code, min_ctx_len, ..BlobSpec::default() }, None).expect("blob")
}

fn emulator_error(result: Result<NativeRun, EmuRunError>) -> EmuError {
    match result {
        Err(EmuRunError::Emulator { source, .. }) => source,
        Err(other) => panic!("expected an emulator error, got {other}"),
        Ok(run) => panic!("expected an emulator error, got {:?}", run.outcome),
    }
}

#[test]
fn the_instruction_limit_is_an_emulator_error() {
    let blob = blob_for("budget", &[], None);
    let context = vec![0u8; 4096];
    let input = NativeInput { context: Some(&context), max_insns: 1000, ..NativeInput::default() };
    for core in Core::ALL {
        let mut helpers = TestHelpers::default();
        let error = emulator_error(run_blob(core, &blob, &input, &mut helpers));
        assert!(matches!(error, EmuError::InstructionLimit { limit: 1000, .. }), "{core}: {error}");
    }
}

#[test]
fn an_a_extension_instruction_on_rv32imc_is_an_emulator_error() {
    let code = common::rv("rv32imac", "amoadd.w a0, a1, (a0)\nret");
    let blob = single_section(Core::Rv32imc, &code, 16, 0);
    let error = emulator_error(run_blob(
        Core::Rv32imc,
        &blob,
        &NativeInput::default(),
        &mut TestHelpers::default(),
    ));
    assert!(matches!(error, EmuError::Forbidden { core: Core::Rv32imc, .. }), "{error}");
}

#[test]
fn a_fault_of_the_code_itself_is_an_emulator_error() {
    let code = common::thumb("movs r1, #0\nstr r1, [r1]\nbx lr");
    let blob = single_section(Core::CortexM3, &code, 8, 0);
    let error = emulator_error(run_blob(
        Core::CortexM3,
        &blob,
        &NativeInput::default(),
        &mut TestHelpers::default(),
    ));
    assert!(matches!(error, EmuError::MemoryFault { addr: 0, write: true, .. }), "{error}");
}

#[test]
fn an_atomic64_on_an_unchecked_address_is_refused() {
    // atomic64(ctx, ADD, 8, value, expected): address 8 is in no region.
    let code = common::thumb(
        "push {r4, lr}
         sub sp, #16
         ldr r4, [r0, #24]
         ldr r4, [r4, #48]
         movs r1, #0
         movs r2, #8
         movs r3, #0
         blx r4
         add sp, #16
         movs r0, #0
         pop {r4, pc}",
    );
    let blob = single_section(Core::CortexM4, &code, 32, 0);
    let error = emulator_error(run_blob(
        Core::CortexM4,
        &blob,
        &NativeInput::default(),
        &mut TestHelpers::default(),
    ));
    assert!(matches!(error, EmuError::Trap { .. }), "{error}");
    assert!(error.to_string().contains("ABI violation"), "{error}");
}

#[test]
fn more_machine_stack_than_declared_is_an_error() {
    let div = built("div_atomics", Core::CortexM3);
    let code = [CodeSpec {
        engine: Engine::Thumbv7m,
        features: Features::NONE,
        entry: div.entry,
        machine_stack: 8,
        code: &div.code,
    }];
    let blob = write_blob(&BlobSpec { code: &code, ..BlobSpec::default() }, None).expect("blob");
    let context = [0u8; 64];
    let input = NativeInput { context: Some(&context), ..NativeInput::default() };
    match run_blob(Core::CortexM3, &blob, &input, &mut TestHelpers::default()) {
        Err(EmuRunError::MachineStack { used, declared: 8, .. }) => assert!(used > 8),
        other => panic!("expected a machine stack error, got {:?}", other.map(|r| r.outcome)),
    }
}

#[test]
fn a_short_context_is_refused_before_the_code_runs() {
    let code = common::thumb("movs r1, #0\nstr r1, [r1]\nbx lr");
    let blob = single_section(Core::CortexM3, &code, 8, 8);
    let input = NativeInput { context: Some(&[0; 4]), ..NativeInput::default() };
    let (run, _) = run_on(Core::CortexM3, &blob, &input, TestHelpers::default());
    let want = RunError {
        pc: 0,
        kind: RunErrorKind::ContextTooShort { needed: 8, got: 4 },
        budget_used: 0,
    };
    assert_eq!(run.outcome, Err(want));
    assert!(run.stats.is_none());
}

#[test]
fn a_missing_helper_is_an_install_error() {
    let blob = blob_for("helper_call", &[], None);
    let result = run_blob(
        Core::Rv32imac,
        &blob,
        &NativeInput::default(),
        &mut femtoc_runtime::helpers::NoHelpers,
    );
    assert!(matches!(result, Err(EmuRunError::Install { .. })), "{:?}", result.map(|r| r.outcome));
}
