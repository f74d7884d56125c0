//! `femtoc disasm FILE`: show a program's instructions with their pcs.

use std::path::Path;

use crate::diag::CliResult;
use crate::input::{load_program, EntryArgs};

/// Prints the disassembly of `input` on standard output.
pub fn run(input: &Path, entry: &EntryArgs) -> CliResult {
    let loaded = load_program(input, entry)?;
    for (i, region) in loaded.program.data.iter().enumerate() {
        println!("; data[{i}] {} ({:?}, {} bytes)", region.name, region.kind, region.size);
    }
    print!("{}", femtoc_isa::disasm::disassemble_with_pcs(&loaded.program));
    Ok(())
}
