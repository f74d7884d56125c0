//! Ten runs of one benchmark program on femtoc's native code and ten in
//! femtoc's interpreter, each batch in its own function, for a
//! deterministic comparison under callgrind (timing on a shared machine
//! is noisy; instruction counts are not):
//!
//! ```sh
//! cargo build --release -p femtoc-benches --example callgrind_runs
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_*' \
//!     target/release/examples/callgrind_runs fletcher32
//! callgrind_annotate --inclusive=yes callgrind.out.* | grep measured_
//! ```
//!
//! Each function's inclusive count over 10 is the instructions of one run,
//! setup of the run (preparing the kept native frame, the stack zeroing)
//! included.

use femtoc_benches::input::load_input;
use femtoc_benches::{HostMemory, PROGRAMS};
use femtoc_compiler::cranelift::compile;
use femtoc_runtime::helpers::NoHelpers;
use femtoc_runtime::host_exec::{run_host_in, HostCode, HOST_ENGINE};
use femtoc_runtime::interp;
use femtoc_runtime::native::{NativeFrame, NativeProgram};

const RUNS: usize = 10;

#[inline(never)]
fn measured_native(run: &mut dyn FnMut() -> u64) -> u64 {
    (0..RUNS).fold(0, |acc, _| acc ^ run())
}

#[inline(never)]
fn measured_interp(run: &mut dyn FnMut() -> u64) -> u64 {
    (0..RUNS).fold(0, |acc, _| acc ^ run())
}

fn main() -> Result<(), String> {
    let name = std::env::args().nth(1).ok_or("usage: callgrind_runs PROGRAM")?;
    let program = PROGRAMS.iter().find(|p| p.name == name).ok_or("no such program")?;
    let input = load_input().map_err(|e| e.to_string())?;
    let verified = program.verified().map_err(|e| e.to_string())?;
    let engine = HOST_ENGINE.ok_or("no native engine for this host")?;
    let compiled = compile(&verified, engine).map_err(|e| e.to_string())?;
    let code = HostCode::new(engine, &compiled.code, compiled.entry).map_err(|e| e.to_string())?;
    let np = NativeProgram { stack_usage: verified.stack_usage, min_ctx_len: verified.min_ctx_len };
    let mut memory = HostMemory::new(&verified.program, &input.bytes);
    let args = memory.run_args();
    let regions = memory.regions().map_err(|e| e.to_string())?;
    let prog = verified.as_ref();
    let mut frame = Box::new(NativeFrame::default());
    let native = measured_native(&mut || {
        run_host_in(&mut frame, &code, np, &regions, args, &mut NoHelpers)
            .map_or(u64::MAX, |o| o.r0)
    });
    let interp = measured_interp(&mut || {
        interp::run(&prog, &regions, args, &mut NoHelpers).map_or(u64::MAX, |o| o.r0)
    });
    if native != interp {
        return Err(format!("{name}: native and interpreter results differ"));
    }
    Ok(())
}
