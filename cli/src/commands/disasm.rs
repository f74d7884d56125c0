//! `femtoc disasm FILE`: show a program's instructions with their pcs.

use std::path::Path;

use crate::diag::{CliResult, Diagnostic};
use crate::input::{load_program, EntryArgs};

/// Prints the disassembly of `input` on standard output. Slots that do not
/// decode are shown as comments, and the first of them is then reported as
/// an error: the listing stays useful, the exit status tells the truth.
pub fn run(input: &Path, entry: &EntryArgs) -> CliResult {
    let loaded = load_program(input, entry)?;
    for (i, region) in loaded.program.data.iter().enumerate() {
        println!("; data[{i}] {} ({:?}, {} bytes)", region.name, region.kind, region.size);
    }
    print!("{}", femtoc_isa::disassemble_with_pcs(&loaded.program));
    let first_error = femtoc_isa::decode_all(&loaded.program.code).find_map(Result::err);
    match first_error {
        Some((pc, e)) => Err(Diagnostic::new(format!("slot does not decode: {e}"))
            .in_file(input)
            .at_pc(pc, Some(format!("{:#018x}", loaded.program.code[pc])))),
        None => Ok(()),
    }
}
