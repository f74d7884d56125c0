//! The original suite's plugin protocol: program as hex on standard input,
//! input memory as hex in the first argument, r0 in hex on standard output.

use femtoc_isa::program::code_from_bytes;
use femtoc_isa::program::Program;

use crate::engine::{Case, Engine};
use crate::runner::verify_for_harness;

/// Decodes a hex string (whitespace ignored; an optional `0x` prefix).
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text.split_whitespace().collect();
    let digits = digits.strip_prefix("0x").unwrap_or(&digits);
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .map_err(|_| format!("`{}` is not a hex byte", &digits[i..i + 2]))
        })
        .collect()
}

/// Runs one plugin request: returns r0 or a message for standard error.
pub fn serve(
    engine: &mut dyn Engine,
    program_hex: &str,
    memory_hex: Option<&str>,
) -> Result<u64, String> {
    let bytes = parse_hex(program_hex)?;
    let code = code_from_bytes(&bytes).map_err(|e| e.to_string())?;
    let verified = verify_for_harness(&Program::from_code(code)).map_err(|e| e.to_string())?;
    let memory = memory_hex.map(parse_hex).transpose()?;
    let observation = engine
        .execute(&Case { program: &verified, context: memory.as_deref(), budget: None })
        .map_err(|e| e.to_string())?;
    observation.result.map_err(|e| e.to_string())
}
