//! Ten runs of one benchmark program on femtoc's native code, ten in
//! femtoc's interpreter, ten on rbpf's JIT, ten on rbpf's Cranelift JIT
//! (`measured_rbpf_cranelift`; it checks every access) and ten of the same algorithm
//! compiled by rustc (`femtoc_benches::baseline`), each batch in its own
//! function, for a deterministic comparison under callgrind (timing on a
//! shared machine is noisy; instruction counts are not):
//!
//! ```sh
//! cargo build --release -p femtoc-benches --example callgrind_runs
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.fletcher32 \
//!     --collect-atstart=no --toggle-collect='*measured_*' \
//!     target/release/examples/callgrind_runs fletcher32
//! callgrind_annotate --inclusive=yes /tmp/cg.fletcher32 | grep measured_
//! ```
//!
//! Each function's inclusive count over 10 is the instructions of one run:
//! `measured_native`, `measured_interp`, `measured_rbpf_jit` and
//! `measured_rust`. For femtoc's engines the setup of the run (preparing
//! the kept native frame, the stack zeroing) is included. rbpf's JIT runs
//! the program as `benches/interp.rs` does (one `mov64 r2, len` in front,
//! no bounds checks); it has no batch for programs that read data regions,
//! which rbpf cannot map. The rust batch calls the out-of-line baseline
//! function, so it counts the call and nothing else besides the algorithm.

use femtoc_benches::input::load_input;
use femtoc_benches::programs::rbpf_code;
use femtoc_benches::{HostMemory, PROGRAMS};
use femtoc_compiler::cranelift::compile;
use femtoc_runtime::helpers::NoHelpers;
use femtoc_runtime::host_exec::{run_host_in, HostCode, HOST_ENGINE};
use femtoc_runtime::interp;
use femtoc_runtime::native::{NativeFrame, NativeProgram};

const RUNS: usize = 10;

// Each batch returns its last run's result. (An xor over an even number of
// equal results would be 0 whatever the engine computed, so comparing
// batches would check nothing.)

/// One `#[inline(never)]` batch function per name, so that each engine's
/// runs have their own symbol for `--toggle-collect`.
macro_rules! batches {
    ($($name:ident),*) => {$(
        #[inline(never)]
        fn $name(run: &mut dyn FnMut() -> u64) -> u64 {
            (0..RUNS).fold(0, |_, _| run())
        }
    )*};
}

batches!(
    measured_native,
    measured_interp,
    measured_rbpf_jit,
    measured_rbpf_cranelift,
    measured_rust
);

/// Runs the rbpf JIT batch, or says why rbpf cannot run the program.
fn rbpf_jit_batch(
    verified: &femtoc_isa::verifier::VerifiedProgram,
    input: &[u8],
) -> Result<u64, String> {
    let code = rbpf_code(verified, input.len())?;
    let mut vm = rbpf::EbpfVmRaw::new(Some(&code)).map_err(|e| e.to_string())?;
    vm.jit_compile().map_err(|e| e.to_string())?;
    let mut memory = input.to_vec();
    // SAFETY: the program was verified by femtoc, and its result is
    // compared with the interpreter's below; it runs over `memory`.
    Ok(measured_rbpf_jit(&mut || {
        unsafe { vm.execute_program_jit(&mut memory) }.unwrap_or(u64::MAX)
    }))
}

/// Runs the batch on rbpf's Cranelift JIT (which checks every access), or
/// says why it cannot run the program.
fn rbpf_cranelift_batch(
    verified: &femtoc_isa::verifier::VerifiedProgram,
    input: &[u8],
) -> Result<u64, String> {
    let code = rbpf_code(verified, input.len())?;
    let mut memory = input.to_vec();
    let (ptr, n) = (memory.as_mut_ptr(), memory.len());
    let mut vm = rbpf::EbpfVmRaw::new(Some(&code)).map_err(|e| e.to_string())?;
    vm.cranelift_compile().map_err(|e| e.to_string())?;
    // SAFETY: each run borrows `memory` (which outlives the VM) afresh and
    // nothing else touches it meanwhile; see `benches/interp.rs`.
    let result = measured_rbpf_cranelift(&mut || {
        let mem = unsafe { std::slice::from_raw_parts_mut(ptr, n) };
        vm.execute_program_cranelift(mem).unwrap_or(u64::MAX)
    });
    drop(vm);
    drop(memory);
    Ok(result)
}

fn main() -> Result<(), String> {
    let name = std::env::args().nth(1).ok_or("usage: callgrind_runs PROGRAM")?;
    let program = PROGRAMS.iter().find(|p| p.name == name).ok_or("no such program")?;
    let input = load_input().map_err(|e| e.to_string())?;
    let verified = program.verified().map_err(|e| e.to_string())?;
    let engine = HOST_ENGINE.ok_or("no native engine for this host")?;
    let compiled = compile(&verified, engine).map_err(|e| e.to_string())?;
    if let Some(path) = std::env::var_os("CALLGRIND_RUNS_CODE") {
        // For a listing: `objdump -D -b binary -m i386:x86-64 -M intel PATH`.
        std::fs::write(path, &compiled.code).map_err(|e| e.to_string())?;
    }
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
    if !program.same_result(native, interp) {
        return Err(format!("{name}: native and interpreter results differ"));
    }
    match rbpf_jit_batch(&verified, &input.bytes) {
        Ok(jit) if !program.same_result(jit, interp) => {
            return Err(format!("{name}: rbpf's JIT differs"))
        }
        Ok(_) => {}
        Err(why) => eprintln!("{name}: no rbpf JIT batch: {why}"),
    }
    match rbpf_cranelift_batch(&verified, &input.bytes) {
        Ok(jit) if !program.same_result(jit, interp) => {
            return Err(format!("{name}: rbpf's Cranelift JIT differs"))
        }
        Ok(_) => {}
        Err(why) => eprintln!("{name}: no rbpf Cranelift JIT batch: {why}"),
    }
    let baseline = program.baseline;
    let rust = measured_rust(&mut || baseline(&input.bytes));
    if !program.same_result(rust, interp) {
        return Err(format!("{name}: the rustc baseline differs"));
    }
    Ok(())
}
