//! Host benchmarks: femtoc's interpreter and femtoc's Cranelift code for
//! the host ISA against the `rbpf` crate's interpreter and JIT, one
//! criterion group per program and one function per engine, on the same
//! linked bytecode and the same 360-byte input.
//!
//! `rust-O` is no eBPF engine: it is the C source's algorithm written in
//! Rust and compiled by rustc with the bench profile's optimisation
//! (`femtoc_benches::baseline`), the floor a compiler of this code could
//! hope to reach. It checks no budget and, where rustc can prove them,
//! no bounds.
//!
//! femtoc's native code keeps every bounds check (inline, against a cached
//! region); rbpf's JIT checks no memory access; rbpf's Cranelift JIT (its
//! `cranelift` feature, on Cranelift 0.127 beside femtoc's 0.135) checks
//! each access against the stack and the input and traps on a bad one. It
//! has no local calls (it takes `call local` for a helper id).
//!
//! Before timing, every engine's r0 is checked against femtoc's and against
//! a plain Rust reference (and Fletcher-32 over the shared input against
//! the published 0x5bac8c3d). Setup (loading, verification, memory) stays
//! outside the timed closure, which is exactly one run.
//!
//! rbpf sets r1 to the context but leaves r2 at 0, so it runs the same code
//! behind one `mov64 r2, 360` (one extra instruction per run). rbpf has no
//! data regions, so it skips programs whose `lddw`s name `.rodata` & co.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use femtoc_benches::input::{load_input, BenchInput, InputSource, SHARED_FLETCHER32};
use femtoc_benches::programs::rbpf_code;
use femtoc_benches::{BenchProgram, HostMemory, PROGRAMS};
use femtoc_compiler::cranelift::compile;
use femtoc_isa::verifier::VerifiedProgram;
use femtoc_runtime::helpers::NoHelpers;
use femtoc_runtime::host_exec::{run_host_in, HostCode, HOST_ENGINE};
use femtoc_runtime::interp;
use femtoc_runtime::native::{NativeFrame, NativeProgram};

/// One program over one input, with the result every engine must give.
struct Case<'a> {
    program: &'a BenchProgram,
    verified: &'a VerifiedProgram,
    input: &'a [u8],
    expected_r0: u64,
}

/// Benches one engine on a case, or says why the engine cannot run it.
type EngineBench = fn(&mut BenchmarkGroup<'_, WallTime>, &Case<'_>) -> Result<(), String>;

/// The table's columns; a later native or JIT engine is one more entry.
const ENGINES: &[(&str, EngineBench)] = &[
    ("femtoc-interp", femtoc_interp),
    ("femtoc-native", femtoc_native),
    ("rbpf-interp", rbpf_interp),
    ("rbpf-jit", rbpf_jit),
    ("rbpf-cranelift", rbpf_cranelift),
    ("rust-O", rust_baseline),
];

fn rust_baseline(group: &mut BenchmarkGroup<'_, WallTime>, case: &Case<'_>) -> Result<(), String> {
    let baseline = case.program.baseline;
    let input = case.input;
    let got = baseline(input);
    assert!(case.program.same_result(got, case.expected_r0), "rust-O on {}", case.program.name);
    group.bench_function("rust-O", |b| b.iter(|| baseline(input)));
    Ok(())
}

fn femtoc_interp(group: &mut BenchmarkGroup<'_, WallTime>, case: &Case<'_>) -> Result<(), String> {
    let mut memory = HostMemory::new(&case.verified.program, case.input);
    let args = memory.run_args();
    let regions = memory.regions().map_err(|e| e.to_string())?;
    let prog = case.verified.as_ref();
    let run = || interp::run(&prog, &regions, args, &mut NoHelpers).map(|o| o.r0);
    assert_eq!(run(), Ok(case.expected_r0), "femtoc-interp on {}", case.program.name);
    group.bench_function("femtoc-interp", |b| b.iter(run));
    Ok(())
}

fn femtoc_native(group: &mut BenchmarkGroup<'_, WallTime>, case: &Case<'_>) -> Result<(), String> {
    let engine = HOST_ENGINE.ok_or("femtoc has no backend for this host's ISA")?;
    let compiled = compile(case.verified, engine).map_err(|e| e.to_string())?;
    let code = HostCode::new(engine, &compiled.code, compiled.entry).map_err(|e| e.to_string())?;
    let program = NativeProgram {
        stack_usage: case.verified.stack_usage,
        min_ctx_len: case.verified.min_ctx_len,
    };
    let mut memory = HostMemory::new(&case.verified.program, case.input);
    let args = memory.run_args();
    let regions = memory.regions().map_err(|e| e.to_string())?;
    // One frame for every run, as a container keeps it.
    let mut frame = Box::new(NativeFrame::default());
    let mut run =
        || run_host_in(&mut frame, &code, program, &regions, args, &mut NoHelpers).map(|o| o.r0);
    assert_eq!(run(), Ok(case.expected_r0), "femtoc-native on {}", case.program.name);
    group.bench_function("femtoc-native", |b| b.iter(&mut run));
    Ok(())
}

fn rbpf_jit(group: &mut BenchmarkGroup<'_, WallTime>, case: &Case<'_>) -> Result<(), String> {
    let code = rbpf_code(case.verified, case.input.len())?;
    // The raw VM's JIT passes the memory's address in r1 (the mbuff VM's
    // JIT would pass the metadata buffer's).
    let mut vm = rbpf::EbpfVmRaw::new(Some(&code)).map_err(|e| format!("rbpf rejects it: {e}"))?;
    vm.jit_compile().map_err(|e| format!("rbpf's JIT rejects it: {e}"))?;
    let mut memory = case.input.to_vec();
    // SAFETY: the program was verified by femtoc and checked against the
    // reference below; rbpf's JIT runs it over `memory`, which it may write.
    let mut run = || unsafe { vm.execute_program_jit(&mut memory) }.map_err(|e| e.to_string());
    assert_eq!(run(), Ok(case.expected_r0), "rbpf-jit on {}", case.program.name);
    group.bench_function("rbpf-jit", |b| b.iter(&mut run));
    Ok(())
}

fn rbpf_cranelift(group: &mut BenchmarkGroup<'_, WallTime>, case: &Case<'_>) -> Result<(), String> {
    let code = rbpf_code(case.verified, case.input.len())?;
    let mut memory = case.input.to_vec();
    let (ptr, n) = (memory.as_mut_ptr(), memory.len());
    let mut vm = rbpf::EbpfVmRaw::new(Some(&code)).map_err(|e| format!("rbpf rejects it: {e}"))?;
    vm.cranelift_compile().map_err(|e| format!("rbpf's Cranelift JIT rejects it: {e}"))?;
    // SAFETY: `execute_program_cranelift` wants the memory borrowed for the
    // VM's whole lifetime; each run gets its own borrow of `memory`, which
    // outlives the VM and is touched by nothing else meanwhile.
    let run = || {
        let mem = unsafe { std::slice::from_raw_parts_mut(ptr, n) };
        vm.execute_program_cranelift(mem).map_err(|e| e.to_string())
    };
    assert_eq!(run(), Ok(case.expected_r0), "rbpf-cranelift on {}", case.program.name);
    group.bench_function("rbpf-cranelift", |b| b.iter(run));
    drop(vm);
    drop(memory);
    Ok(())
}

fn rbpf_interp(group: &mut BenchmarkGroup<'_, WallTime>, case: &Case<'_>) -> Result<(), String> {
    let code = rbpf_code(case.verified, case.input.len())?;
    let vm = rbpf::EbpfVmMbuff::new(Some(&code)).map_err(|e| format!("rbpf rejects it: {e}"))?;
    let memory = case.input.to_vec();
    // An empty metadata buffer makes rbpf pass the memory's address in r1.
    let run = || vm.execute_program(&memory, &[]).map_err(|e| e.to_string());
    assert_eq!(run(), Ok(case.expected_r0), "rbpf-interp on {}", case.program.name);
    group.bench_function("rbpf-interp", |b| b.iter(run));
    Ok(())
}

/// The case for `program`: verified, and femtoc's result checked against
/// the reference (and the published value where there is one).
fn prepare<'a>(
    program: &'a BenchProgram,
    verified: &'a VerifiedProgram,
    input: &'a BenchInput,
) -> Case<'a> {
    let mut memory = HostMemory::new(&verified.program, &input.bytes);
    let args = memory.run_args();
    let regions = memory.regions().expect("region table");
    let r0 = interp::run(&verified.as_ref(), &regions, args, &mut NoHelpers)
        .unwrap_or_else(|e| panic!("{}: {e}", program.name))
        .r0;
    assert!(program.matches_reference(r0, &input.bytes), "{}: r0 = {r0:#x}", program.name);
    if program.name == "fletcher32" && matches!(input.source, InputSource::Shared(_)) {
        assert_eq!(r0 as u32, SHARED_FLETCHER32, "fletcher32 over the shared input");
    }
    Case { program, verified, input: &input.bytes, expected_r0: r0 }
}

fn benches(c: &mut Criterion) {
    let input = load_input().unwrap_or_else(|e| panic!("{e}"));
    match &input.source {
        InputSource::Shared(path) => eprintln!("input: {}", path.display()),
        InputSource::Own => eprintln!("input: benches/data/input-360.txt (no shared input)"),
    }
    for program in PROGRAMS {
        let verified = program.verified().unwrap_or_else(|e| panic!("{e}"));
        let case = prepare(program, &verified, &input);
        let mut group = c.benchmark_group(program.name);
        group.throughput(Throughput::Bytes(input.bytes.len() as u64));
        for (name, bench) in ENGINES {
            if let Err(why) = bench(&mut group, &case) {
                eprintln!("{}: {name} skipped: {why}", program.name);
            }
        }
        group.finish();
    }
}

fn config() -> Criterion {
    // Short defaults: the machine is shared; the command line overrides them.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = interp_benches;
    config = config();
    targets = benches
}
criterion_main!(interp_benches);
