//! `femtoc compile FILE -o OUT.fcb`: verify a program and write a blob.
//!
//! `--target` adds a code section per engine (Thumb-2: `thumbv7m`,
//! `thumbv7em`; Cranelift: `x86_64`, `aarch64`, `riscv64gc`). Without targets the blob carries the verified
//! bytecode for the device's interpreter; with targets it carries it too
//! if `--embed-bytecode` is given, so that devices of other engines can
//! fall back to interpreting it.

use std::path::{Path, PathBuf};

use femtoc_compiler::blob::{write_blob, BlobSpec, CodeSpec};
use femtoc_isa::verifier::VerifiedProgram;
use femtoc_runtime::engine::{Engine, Features};

use crate::commands::verify::{verify_loaded, VerifyArgs};
use crate::diag::{CliResult, Diagnostic};
use crate::input::{load_program, EntryArgs};

/// Options of `femtoc compile`.
#[derive(Clone, Debug, clap::Args)]
pub struct CompileArgs {
    /// Native engine to compile for (repeatable; one code section each).
    #[arg(long = "target", value_name = "ENGINE")]
    pub targets: Vec<String>,
    /// Output blob (default: FILE with extension .fcb).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Keep the verified bytecode in the blob (always on without targets).
    #[arg(long)]
    pub embed_bytecode: bool,
    /// What Thumb-2 code is built for (Cranelift code is always built
    /// for speed).
    #[arg(long = "opt", value_enum, default_value_t = OptGoal::Speed)]
    pub opt: OptGoal,
}

/// What native code is built for (`--opt`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OptGoal {
    /// Fast loops: counted loops checked once before they run, with a
    /// checked copy as their fallback; accesses in loops checked in line.
    #[default]
    Speed,
    /// Small code: every loop emitted once, every checked access through
    /// a shared checker (a few cycles more per access in loops).
    Size,
}

impl From<OptGoal> for femtoc_compiler::thumb2::Goal {
    fn from(goal: OptGoal) -> Self {
        match goal {
            OptGoal::Speed => Self::Speed,
            OptGoal::Size => Self::Size,
        }
    }
}

/// Engines this build has a backend for.
pub const NATIVE_TARGETS: &[Engine] =
    &[Engine::Thumbv7m, Engine::Thumbv7em, Engine::X86_64, Engine::Aarch64, Engine::Riscv64gc];

/// One compiled code section, whichever backend made it.
pub struct Section {
    /// The engine it runs on.
    pub engine: Engine,
    /// Machine code.
    pub code: Vec<u8>,
    /// Entry offset.
    pub entry: u32,
    /// Machine stack the code needs.
    pub machine_stack: u32,
    /// Features it relies on.
    pub features: Features,
}

/// Compiles `verified` for `engine` with the backend for that engine.
pub fn compile_for(
    verified: &VerifiedProgram,
    engine: Engine,
    goal: OptGoal,
) -> Result<Section, String> {
    let (code, entry, machine_stack, features) = match engine {
        Engine::Thumbv7m | Engine::Thumbv7em => {
            let c = femtoc_compiler::thumb2::compile_for(verified, engine, goal.into())
                .map_err(|e| e.to_string())?;
            (c.code, c.entry, c.machine_stack, c.features)
        }
        Engine::X86_64 | Engine::Aarch64 | Engine::Riscv64gc => {
            let c =
                femtoc_compiler::cranelift::compile(verified, engine).map_err(|e| e.to_string())?;
            (c.code, c.entry, c.machine_stack, c.features)
        }
        other => return Err(format!("femtoc cannot compile for `{other}` yet")),
    };
    Ok(Section { engine, code, entry, machine_stack, features })
}

/// Compiles `input` into a blob.
pub fn run(input: &Path, entry: &EntryArgs, verify: &VerifyArgs, args: &CompileArgs) -> CliResult {
    let mut engines = Vec::new();
    for name in &args.targets {
        let engine: Engine = name.parse().map_err(|e| Diagnostic::new(format!("--target: {e}")))?;
        if !NATIVE_TARGETS.contains(&engine) {
            return Err(Diagnostic::new(format!("femtoc cannot compile for `{engine}` yet")).note(
                "native targets in this build: thumbv7m, thumbv7em, x86_64, aarch64, riscv64gc",
            ));
        }
        engines.push(engine);
    }
    let loaded = load_program(input, entry)?;
    let verified = verify_loaded(&loaded, verify)?;
    let mut compiled = Vec::new();
    for engine in engines {
        compiled.push(
            compile_for(&verified, engine, args.opt)
                .map_err(|e| Diagnostic::new(format!("{engine}: {e}")).in_file(input))?,
        );
    }
    let code: Vec<CodeSpec<'_>> = compiled
        .iter()
        .map(|c| CodeSpec {
            engine: c.engine,
            features: c.features,
            entry: c.entry,
            machine_stack: c.machine_stack,
            code: &c.code,
        })
        .collect();
    let embed = args.embed_bytecode || code.is_empty();
    let spec = BlobSpec {
        features: Features::default(),
        ebpf_stack: verified.stack_usage,
        min_ctx_len: verified.min_ctx_len,
        helpers: &verified.helpers_used,
        data: &verified.program.data,
        code: &code,
        bytecode: embed.then_some(&verified.program.code[..]),
    };
    let blob =
        write_blob(&spec, None).map_err(|e| Diagnostic::new(e.to_string()).in_file(input))?;
    let output = args.output.clone().unwrap_or_else(|| input.with_extension("fcb"));
    std::fs::write(&output, &blob)
        .map_err(|e| Diagnostic::new(format!("cannot write the blob: {e}")).in_file(&output))?;
    let sections: Vec<String> =
        compiled.iter().map(|c| format!("{} {} bytes", c.engine, c.code.len())).collect();
    println!(
        "{}: {} bytes ({}; {})",
        output.display(),
        blob.len(),
        if embed {
            format!("{} bytecode slots", verified.program.code.len())
        } else {
            "no bytecode".into()
        },
        if sections.is_empty() { "no native code".into() } else { sections.join(", ") }
    );
    Ok(())
}
