//! `femtoc run FILE`: run a program at the fixed test layout and print r0.
//!
//! A blob goes through the device install path (`femtoc_runtime::install`)
//! with the host as the device: native code for the host's engine would run
//! natively; otherwise the bytecode is verified by the device verifier and
//! interpreted. The chosen mode is printed with `--stats`.

use std::path::{Path, PathBuf};

use femtoc_conformance::memory::TestMemory;
use femtoc_isa::program::Program;
use femtoc_isa::verifier::{scratch_len, SlotScratch};
use femtoc_isa::{FunctionInfo, VerifiedRef};
use femtoc_runtime::engine::{Engine, Features};
use femtoc_runtime::host_exec::{run_host, HostCode, HOST_ENGINE};
use femtoc_runtime::install::{install, DeviceProfile, RunPlan};
use femtoc_runtime::native::NativeProgram;
use femtoc_runtime::{interp, RunArgs};

use crate::commands::verify::{verify_loaded, VerifyArgs};
use crate::diag::{CliResult, Diagnostic};
use crate::host::{helper_ids, HostServices};
use crate::input::{
    data_from_blob, detect_kind, insn_text, load_program, program_from_blob, read_file,
    AlignedBytes, EntryArgs, InputKind,
};

/// Options of `femtoc run`.
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgsCli {
    /// Engine to run on (default: the best one available for FILE).
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Input memory (the context) as hex bytes.
    #[arg(long, value_name = "HEX", conflicts_with = "mem_file")]
    pub mem: Option<String>,
    /// Input memory (the context) from a file.
    #[arg(long, value_name = "FILE")]
    pub mem_file: Option<PathBuf>,
    /// Budget: backward jumps and local calls allowed (default: none).
    #[arg(long, value_name = "N")]
    pub budget: Option<u64>,
    /// Also print the engine, instructions executed and budget used.
    #[arg(long)]
    pub stats: bool,
    /// What Thumb-2 code compiled from FILE is built for.
    #[arg(long = "opt", value_enum, default_value_t = crate::commands::compile::OptGoal::Speed)]
    pub opt: crate::commands::compile::OptGoal,
}

fn context_bytes(args: &RunArgsCli) -> CliResult<Option<Vec<u8>>> {
    if let Some(hex) = &args.mem {
        return femtoc_conformance::plugin::parse_hex(hex)
            .map(Some)
            .map_err(|e| Diagnostic::new(format!("--mem: {e}")));
    }
    args.mem_file.as_deref().map(read_file).transpose()
}

/// The engine name of the machine this command runs on.
fn host_engine() -> Engine {
    if cfg!(target_arch = "aarch64") {
        Engine::Aarch64
    } else if cfg!(target_arch = "riscv64") {
        Engine::Riscv64gc
    } else {
        Engine::X86_64
    }
}

/// The engine `--engine` names: the interpreter, or native code for the
/// host's ISA.
fn check_engine(args: &RunArgsCli) -> CliResult<Option<Engine>> {
    match args.engine.as_deref() {
        None | Some("interp") => Ok(None),
        Some(name) => match name.parse::<Engine>() {
            Ok(engine) if HOST_ENGINE == Some(engine) => Ok(Some(engine)),
            _ => Err(Diagnostic::new(format!("engine `{name}` is not available on this host"))
                .note(format!("available engines: {}", available_engines().join(", ")))),
        },
    }
}

/// What `--engine` accepts in this build on this host.
fn available_engines() -> Vec<&'static str> {
    let mut names = vec!["interp", host_engine().name()];
    if cfg!(feature = "emu") {
        names.extend(["thumbv7m", "thumbv7em"]);
        for isa in [Engine::Aarch64, Engine::Riscv64gc] {
            if isa != host_engine() {
                names.push(isa.name());
            }
        }
    }
    names
}

/// How a program runs: interpreted, or native code installed on the host.
enum Exec<'a> {
    Interp(VerifiedRef<'a>),
    Native(HostCode, NativeProgram),
}

/// Loads and runs `input`.
pub fn run(input: &Path, entry: &EntryArgs, verify: &VerifyArgs, args: &RunArgsCli) -> CliResult {
    #[cfg(feature = "emu")]
    if let Some(target) = emulated_target(args.engine.as_deref()) {
        return run_emulated(input, entry, verify, args, target);
    }
    let native = check_engine(args)?;
    let bytes = read_file(input)?;
    if detect_kind(input, &bytes)? == InputKind::Blob {
        return run_blob(input, &bytes, verify, args);
    }
    let loaded = load_program(input, entry)?;
    let verified = verify_loaded(&loaded, verify)?;
    let Some(engine) = native else {
        let exec = Exec::Interp(verified.as_ref());
        return execute(input, exec, &verified.program, verify.stack_size, args, "interp");
    };
    let compiled = femtoc_compiler::cranelift::compile(&verified, engine)
        .map_err(|e| Diagnostic::new(e.to_string()).in_file(input))?;
    let code = HostCode::new(engine, &compiled.code, compiled.entry)
        .map_err(|e| Diagnostic::new(e.to_string()).in_file(input))?;
    let program =
        NativeProgram { stack_usage: verified.stack_usage, min_ctx_len: verified.min_ctx_len };
    let exec = Exec::Native(code, program);
    execute(input, exec, &verified.program, verify.stack_size, args, engine.name())
}

fn run_blob(input: &Path, bytes: &[u8], verify: &VerifyArgs, args: &RunArgsCli) -> CliResult {
    let aligned = AlignedBytes::copy_of(bytes);
    let slots = femtoc_runtime::blob::Blob::parse(aligned.bytes())
        .ok()
        .and_then(|b| b.bytecode())
        .map_or(0, |code| code.len() / 8);
    let helpers = helper_ids();
    // `--engine interp` asks for the bytecode: a device whose engine no code
    // section targets.
    let engine =
        if args.engine.as_deref() == Some("interp") { Engine::Interp } else { host_engine() };
    let device = DeviceProfile {
        engine,
        features: Features::default(),
        helpers: &helpers,
        stack_size: verify.stack_size,
        public_key: None,
    };
    let mut scratch = vec![SlotScratch::EMPTY; scratch_len(slots)];
    let mut functions = vec![FunctionInfo::default(); slots.max(1)];
    let installed = install(aligned.bytes(), &device, &mut scratch, &mut functions)
        .map_err(|e| Diagnostic::new(e.to_string()).in_file(input))?;
    match installed.plan {
        RunPlan::Native { code, program } => {
            let host = HostCode::new(code.engine, code.code, code.entry)
                .map_err(|e| Diagnostic::new(e.to_string()).in_file(input))?;
            // Faults name eBPF pcs; show the instruction when the blob has bytecode.
            let data = program_from_blob(&installed.blob)
                .unwrap_or_else(|| data_from_blob(&installed.blob));
            let mode = format!("{} (native)", code.engine);
            execute(input, Exec::Native(host, program), &data, verify.stack_size, args, &mode)
        }
        RunPlan::Interpret(verified) => {
            let program = program_from_blob(&installed.blob)
                .ok_or_else(|| Diagnostic::new("the blob carries no bytecode").in_file(input))?;
            let mode = if engine == Engine::Interp {
                "interp".to_string()
            } else {
                format!("interp (blob has no code for {engine})")
            };
            execute(input, Exec::Interp(verified), &program, verify.stack_size, args, &mode)
        }
    }
}

fn execute(
    input: &Path,
    exec: Exec<'_>,
    program: &Program,
    stack_size: u32,
    args: &RunArgsCli,
    engine: &str,
) -> CliResult {
    let context = context_bytes(args)?;
    let mut memory = TestMemory::new(program, context.as_deref(), stack_size as usize)
        .map_err(|e| Diagnostic::new(e.to_string()))?;
    let (r1, r2) = memory.entry_args();
    let services = HostServices::new();
    let mut helpers = services.helpers();
    let result = {
        let regions =
            memory.regions().map_err(|e| Diagnostic::new(e.to_string()).in_file(input))?;
        let run_args = RunArgs { r1, r2, budget: args.budget };
        match &exec {
            Exec::Interp(verified) => interp::run(verified, &regions, run_args, &mut helpers),
            Exec::Native(code, native) => run_host(code, *native, &regions, run_args, &mut helpers),
        }
    };
    let mut stats = vec![format!("engine: {engine}")];
    if let (Exec::Interp(_), Ok(outcome)) = (&exec, &result) {
        stats.push(format!("ebpf instructions executed: {}", outcome.insns_executed));
    }
    report(input, result, Some(program), &services, args, stats)
}

/// Prints a run's result like every engine does: r0 first, then the trace
/// helper's output, then (with `--stats`) `stats` and the budget used; a
/// stop becomes a diagnostic at its eBPF pc.
fn report(
    input: &Path,
    result: Result<femtoc_runtime::RunOutcome, femtoc_runtime::RunError>,
    program: Option<&Program>,
    services: &HostServices,
    args: &RunArgsCli,
    stats: Vec<String>,
) -> CliResult {
    match result {
        Ok(outcome) => {
            println!("{:#x}", outcome.r0);
            let trace = services.trace.borrow();
            if !trace.is_empty() {
                print!("{trace}");
                if !trace.ends_with('\n') {
                    println!();
                }
            }
            if args.stats {
                for line in stats {
                    println!("{line}");
                }
                println!("budget used: {}", outcome.budget_used);
            }
            Ok(())
        }
        Err(e) => {
            let pc = e.pc as usize;
            Err(Diagnostic::new(format!("the run stopped: {}", e.kind))
                .in_file(input)
                .at_pc(pc, program.and_then(|p| insn_text(p, pc))))
        }
    }
}

/// A core the emulator models: an MCU, or a 64-bit host ISA.
#[cfg(feature = "emu")]
#[derive(Clone, Copy, Debug)]
enum EmulatedTarget {
    Mcu(femtoc_emu::Core),
    Host64(femtoc_emu::Isa64),
}

#[cfg(feature = "emu")]
impl EmulatedTarget {
    fn engine(self) -> Engine {
        match self {
            EmulatedTarget::Mcu(core) => femtoc_emu::native::engine_of(core),
            EmulatedTarget::Host64(isa) => isa.engine(),
        }
    }
}

/// Runs `input` on an emulated engine: compiled in memory (or taken from a
/// blob) and installed and run by the device runtime in Unicorn.
#[cfg(feature = "emu")]
fn run_emulated(
    input: &Path,
    entry: &EntryArgs,
    verify: &VerifyArgs,
    args: &RunArgsCli,
    target: EmulatedTarget,
) -> CliResult {
    use femtoc_compiler::blob::{write_blob, BlobSpec, CodeSpec};
    use femtoc_emu::native::{run_blob, NativeInput};

    let bytes = read_file(input)?;
    let (blob, program) = if detect_kind(input, &bytes)? == InputKind::Blob {
        let aligned = AlignedBytes::copy_of(&bytes);
        let program = femtoc_runtime::blob::Blob::parse(aligned.bytes())
            .ok()
            .and_then(|b| program_from_blob(&b));
        (bytes, program)
    } else {
        let loaded = load_program(input, entry)?;
        let verified = verify_loaded(&loaded, verify)?;
        let engine = target.engine();
        let section = crate::commands::compile::compile_for(&verified, engine, args.opt)
            .map_err(|e| Diagnostic::new(format!("{engine}: {e}")).in_file(input))?;
        let code = [CodeSpec {
            engine,
            features: section.features,
            entry: section.entry,
            machine_stack: section.machine_stack,
            code: &section.code,
        }];
        let spec = BlobSpec {
            features: Features::default(),
            ebpf_stack: verified.stack_usage,
            min_ctx_len: verified.min_ctx_len,
            helpers: &verified.helpers_used,
            data: &verified.program.data,
            code: &code,
            bytecode: None,
        };
        let blob =
            write_blob(&spec, None).map_err(|e| Diagnostic::new(e.to_string()).in_file(input))?;
        (blob, Some(verified.program))
    };
    let context = context_bytes(args)?;
    let services = HostServices::new();
    let mut helpers = services.helpers();
    let native_input = NativeInput {
        context: context.as_deref(),
        budget: args.budget,
        stack_size: verify.stack_size,
        ..NativeInput::default()
    };
    let fail = |e: &dyn std::fmt::Display| Diagnostic::new(e.to_string()).in_file(input);
    let (run, on) = match target {
        EmulatedTarget::Mcu(core) => (
            run_blob(core, &blob, &native_input, &mut helpers).map_err(|e| fail(&e))?,
            core.to_string(),
        ),
        EmulatedTarget::Host64(isa) => (
            femtoc_emu::run_blob64(isa, &blob, &native_input, &mut helpers)
                .map_err(|e| fail(&e))?,
            format!("{isa} (emulated)"),
        ),
    };
    let mut stats = vec![format!("engine: {:?} on {on}", run.mode)];
    if let Some(s) = run.stats {
        stats.push(format!("native instructions executed: {}", s.insns));
        // Only the MCU cores have a cycle model.
        if let EmulatedTarget::Mcu(_) = target {
            stats.push(format!("estimated cycles: {}", s.cycles));
        }
    }
    report(input, run.outcome, program.as_ref(), &services, args, stats)
}

/// The emulated core `--engine` names, if it names one. A 64-bit ISA is
/// emulated unless it is this host's own.
#[cfg(feature = "emu")]
fn emulated_target(engine: Option<&str>) -> Option<EmulatedTarget> {
    match engine? {
        "thumbv7m" => Some(EmulatedTarget::Mcu(femtoc_emu::Core::CortexM3)),
        "thumbv7em" => Some(EmulatedTarget::Mcu(femtoc_emu::Core::CortexM4)),
        name => femtoc_emu::Isa64::from_engine(name)
            .filter(|isa| HOST_ENGINE != Some(isa.engine()))
            .map(EmulatedTarget::Host64),
    }
}
