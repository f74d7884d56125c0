//! Prints the Markdown table of criterion's results for the host benches.
//! Usage: bench-table [CRITERION_DIR] (default: the workspace's
//! target/criterion, or $CARGO_TARGET_DIR/criterion).

use std::path::PathBuf;
use std::process::ExitCode;

use femtoc_benches::report::Table;
use femtoc_benches::PROGRAMS;

fn main() -> ExitCode {
    let dir = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")))
            .join("criterion"),
    };
    let order: Vec<&str> = PROGRAMS.iter().map(|p| p.name).collect();
    match Table::from_criterion_dir(&dir, &order) {
        Ok(table) => {
            print!("{}", table.to_markdown());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-table: {e}");
            ExitCode::FAILURE
        }
    }
}
