//! `femtoc run FILE`: run a program at the fixed test layout and print r0.

use std::path::{Path, PathBuf};

use femtoc_conformance::memory::TestMemory;
use femtoc_runtime::{interp, RunArgs};

use crate::commands::verify::{verify_loaded, VerifyArgs};
use crate::diag::{CliResult, Diagnostic};
use crate::host::HostServices;
use crate::input::{insn_text, load_program, read_file, EntryArgs};

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
    /// Also print instructions executed and budget used.
    #[arg(long)]
    pub stats: bool,
}

fn context_bytes(args: &RunArgsCli) -> CliResult<Option<Vec<u8>>> {
    if let Some(hex) = &args.mem {
        return femtoc_conformance::plugin::parse_hex(hex)
            .map(Some)
            .map_err(|e| Diagnostic::new(format!("--mem: {e}")));
    }
    args.mem_file.as_deref().map(read_file).transpose()
}

/// Loads, verifies and runs `input`.
pub fn run(input: &Path, entry: &EntryArgs, verify: &VerifyArgs, args: &RunArgsCli) -> CliResult {
    let engine = args.engine.as_deref().unwrap_or("interp");
    if engine != "interp" {
        return Err(Diagnostic::new(format!("engine `{engine}` is not available in this build"))
            .note("available engines: interp"));
    }
    let loaded = load_program(input, entry)?;
    let verified = verify_loaded(&loaded, verify)?;
    let context = context_bytes(args)?;
    let mut memory =
        TestMemory::new(&verified.program, context.as_deref(), verify.stack_size as usize)
            .map_err(|e| Diagnostic::new(e.to_string()))?;
    let (r1, r2) = memory.entry_args();
    let services = HostServices::new();
    let mut helpers = services.helpers();
    let result = {
        let regions =
            memory.regions().map_err(|e| Diagnostic::new(e.to_string()).in_file(input))?;
        interp::run(
            &verified.as_ref(),
            &regions,
            RunArgs { r1, r2, budget: args.budget },
            &mut helpers,
        )
    };
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
                println!("engine: {engine}");
                println!("ebpf instructions executed: {}", outcome.insns_executed);
                println!("budget used: {}", outcome.budget_used);
            }
            Ok(())
        }
        Err(e) => {
            let pc = e.pc as usize;
            Err(Diagnostic::new(format!("the run stopped: {}", e.kind))
                .in_file(input)
                .at_pc(pc, insn_text(&verified.program, pc)))
        }
    }
}
