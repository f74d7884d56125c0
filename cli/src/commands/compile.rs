//! `femtoc compile FILE -o OUT.fcb`: verify a program and write a blob.
//!
//! This build has no native backend yet, so a blob carries the verified
//! bytecode (always embedded here) for the device's interpreter; `--target`
//! names the native engines to add once their backends exist.

use std::path::{Path, PathBuf};

use femtoc_compiler::blob::{write_blob, BlobSpec};
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
}

/// Compiles `input` into a blob.
pub fn run(input: &Path, entry: &EntryArgs, verify: &VerifyArgs, args: &CompileArgs) -> CliResult {
    if let Some(name) = args.targets.first() {
        let engine: Engine = name.parse().map_err(|e| Diagnostic::new(format!("--target: {e}")))?;
        return Err(Diagnostic::new(format!("femtoc cannot compile for `{engine}` yet"))
            .note("this build writes blobs with bytecode only; devices interpret them"));
    }
    let loaded = load_program(input, entry)?;
    let verified = verify_loaded(&loaded, verify)?;
    let spec = BlobSpec {
        features: Features::default(),
        ebpf_stack: verified.stack_usage,
        min_ctx_len: verified.min_ctx_len,
        helpers: &verified.helpers_used,
        data: &verified.program.data,
        code: &[],
        bytecode: Some(&verified.program.code),
    };
    let blob =
        write_blob(&spec, None).map_err(|e| Diagnostic::new(e.to_string()).in_file(input))?;
    let output = args.output.clone().unwrap_or_else(|| input.with_extension("fcb"));
    std::fs::write(&output, &blob)
        .map_err(|e| Diagnostic::new(format!("cannot write the blob: {e}")).in_file(&output))?;
    println!(
        "{}: {} bytes ({} bytecode slots, no native code)",
        output.display(),
        blob.len(),
        verified.program.code.len()
    );
    Ok(())
}
