//! `femtoc plugin --engine E [HEXMEM]`: the original suite's plugin protocol.

use std::io::Read;

use femtoc_conformance::engine::engine_by_name;
use femtoc_conformance::plugin::serve;

use crate::diag::{CliResult, Diagnostic};

/// Reads the program (hex) from standard input and prints r0 in hex.
pub fn run(engine: &str, memory: Option<&str>) -> CliResult {
    let mut engine = engine_by_name(engine).map_err(|e| Diagnostic::new(e.to_string()))?;
    let mut program = String::new();
    std::io::stdin().read_to_string(&mut program).map_err(|e| {
        Diagnostic::new(format!("cannot read the program from standard input: {e}"))
    })?;
    let r0 = serve(engine.as_mut(), &program, memory).map_err(Diagnostic::new)?;
    println!("{r0:x}");
    Ok(())
}
