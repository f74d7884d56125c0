//! `femtoc verify FILE`: run the verifier and report what it proved.

use std::path::Path;

use femtoc_isa::verifier::{verify, VerifiedProgram, VerifierConfig};

use crate::diag::{CliResult, Diagnostic};
use crate::input::{insn_text, load_program, EntryArgs, LoadedProgram};

/// Options shared by every command that verifies a program.
#[derive(Clone, Debug, clap::Args)]
pub struct VerifyArgs {
    /// eBPF stack size of the container in bytes.
    #[arg(long, default_value_t = 512, value_name = "BYTES")]
    pub stack_size: u32,
}

/// Verifies a loaded program against the host's helper set.
pub fn verify_loaded(loaded: &LoadedProgram, args: &VerifyArgs) -> CliResult<VerifiedProgram> {
    let data_sizes: Vec<u32> = loaded.program.data.iter().map(|d| d.size).collect();
    let helpers = crate::host::helper_ids();
    let config = VerifierConfig {
        helpers: &helpers,
        stack_size: args.stack_size,
        max_call_depth: 8,
        data_sizes: &data_sizes,
    };
    verify(&loaded.program, &config).map_err(|e| {
        Diagnostic::new(e.kind.to_string())
            .in_file(&loaded.path)
            .at_pc(e.pc, insn_text(&loaded.program, e.pc))
    })
}

/// Loads, verifies and summarises `input`.
pub fn run(input: &Path, entry: &EntryArgs, args: &VerifyArgs) -> CliResult {
    let loaded = load_program(input, entry)?;
    let verified = verify_loaded(&loaded, args)?;
    for warning in &verified.warnings {
        eprintln!("warning: {}: pc {}: {}", input.display(), warning.pc, warning.kind);
    }
    println!(
        "{}: ok: {} instruction slots, {} function(s), stack {} of {} bytes, minimum context {} bytes",
        input.display(),
        verified.program.code.len(),
        verified.functions.len(),
        verified.stack_usage,
        args.stack_size,
        verified.min_ctx_len
    );
    for f in &verified.functions {
        let name = loaded.program.symbol_at(f.start as usize).unwrap_or("");
        println!("  function {name} at pc {}..{}: frame {} bytes", f.start, f.end, f.frame_size);
    }
    if !verified.helpers_used.is_empty() {
        let ids: Vec<String> = verified.helpers_used.iter().map(|id| format!("{id:#x}")).collect();
        println!("  helpers: {}", ids.join(", "));
    }
    Ok(())
}
