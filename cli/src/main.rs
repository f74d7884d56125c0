//! The `femtoc` command: assemble, disassemble, verify, run and test eBPF
//! femto-containers.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod diag;
mod host;
mod input;
mod listing;

use input::EntryArgs;

#[derive(Parser)]
#[command(
    name = "femtoc",
    version,
    about = "Ahead-of-time compiler and runtime for eBPF femto-containers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assemble text (conformance syntax) into raw bytecode.
    Asm {
        /// Assembler text (.s or .asm).
        file: PathBuf,
        /// Output file (default: FILE with extension .bin).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Disassemble a BPF ELF object, raw bytecode, assembler text, or a
    /// blob's native code interleaved with its eBPF instructions.
    Disasm {
        /// The program or blob.
        file: PathBuf,
        #[command(flatten)]
        entry: EntryArgs,
        #[command(flatten)]
        blob: commands::disasm::BlobArgs,
    },
    /// Verify a program and show what the verifier proved.
    Verify {
        /// The program.
        file: PathBuf,
        #[command(flatten)]
        entry: EntryArgs,
        #[command(flatten)]
        verify: commands::verify::VerifyArgs,
    },
    /// Verify a program and write a blob (.fcb) for devices.
    Compile {
        /// The program.
        file: PathBuf,
        #[command(flatten)]
        entry: EntryArgs,
        #[command(flatten)]
        verify: commands::verify::VerifyArgs,
        #[command(flatten)]
        compile: commands::compile::CompileArgs,
    },
    /// Run a program with its input at the fixed test layout; prints r0 first.
    Run {
        /// The program.
        file: PathBuf,
        #[command(flatten)]
        entry: EntryArgs,
        #[command(flatten)]
        verify: commands::verify::VerifyArgs,
        #[command(flatten)]
        run: commands::run::RunArgsCli,
    },
    /// Run conformance vectors on an engine.
    Conformance {
        /// Engine to test.
        #[arg(long, default_value = "interp")]
        engine: String,
        /// Vector files or folders (default: ../shared/conformance, or $FEMTOC_SHARED/conformance).
        paths: Vec<PathBuf>,
    },
    /// Compare an engine with the interpreter on generated programs.
    Differential {
        #[command(flatten)]
        args: commands::differential::DifferentialArgs,
    },
    /// Show what a blob (.fcb) holds, after the checks a device makes.
    Inspect {
        /// The blob.
        file: PathBuf,
    },
    /// Serve the original conformance suite's plugin protocol.
    Plugin {
        /// Engine to run on.
        #[arg(long, default_value = "interp")]
        engine: String,
        /// Input memory as hex.
        memory: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Asm { file, output } => commands::asm::run(file, output.as_deref()),
        Command::Disasm { file, entry, blob } => commands::disasm::run(file, entry, blob),
        Command::Verify { file, entry, verify } => commands::verify::run(file, entry, verify),
        Command::Compile { file, entry, verify, compile } => {
            commands::compile::run(file, entry, verify, compile)
        }
        Command::Run { file, entry, verify, run } => commands::run::run(file, entry, verify, run),
        Command::Conformance { engine, paths } => commands::conformance::run(engine, paths),
        Command::Differential { args } => commands::differential::run(args),
        Command::Inspect { file } => commands::inspect::run(file),
        Command::Plugin { engine, memory } => commands::plugin::run(engine, memory.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(diagnostic) => {
            eprint!("{diagnostic}");
            ExitCode::FAILURE
        }
    }
}
