//! `femtoc asm FILE.s -o FILE.bin`: assemble text into raw bytecode.

use std::path::{Path, PathBuf};

use crate::diag::{CliResult, Diagnostic};
use crate::input::{load_program, EntryArgs, InputKind};

/// Assembles `input` and writes its bytecode to `output` (default: the
/// input's name with `.bin`).
pub fn run(input: &Path, output: Option<&Path>) -> CliResult {
    let loaded = load_program(input, &EntryArgs::default())?;
    if loaded.kind != InputKind::Assembly {
        return Err(
            Diagnostic::new("`femtoc asm` takes assembler text (.s or .asm)").in_file(input)
        );
    }
    if !loaded.program.data.is_empty() {
        return Err(Diagnostic::new(
            "the program has data regions, which raw bytecode cannot carry",
        )
        .in_file(input));
    }
    let output: PathBuf =
        output.map(Path::to_path_buf).unwrap_or_else(|| input.with_extension("bin"));
    std::fs::write(&output, loaded.program.code_bytes())
        .map_err(|e| Diagnostic::new(format!("cannot write the output: {e}")).in_file(&output))?;
    Ok(())
}
