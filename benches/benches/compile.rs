//! Compile time of the Cranelift backend per program, with the program's
//! instruction count as criterion's throughput, so that the report's
//! "elements/s" is eBPF instructions compiled per second (its inverse is
//! the time per instruction). One function per host engine, since
//! aarch64 and riscv64gc code is compiled on this host too.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use femtoc_benches::PROGRAMS;
use femtoc_compiler::cranelift::compile;
use femtoc_isa::decode_all;
use femtoc_runtime::engine::Engine;

fn benches(c: &mut Criterion) {
    for program in PROGRAMS {
        let verified = program.verified().unwrap_or_else(|e| panic!("{e}"));
        let insns = decode_all(&verified.program.code).count() as u64;
        let mut group = c.benchmark_group(format!("compile-{}", program.name));
        group.throughput(Throughput::Elements(insns));
        for engine in [Engine::X86_64, Engine::Aarch64, Engine::Riscv64gc] {
            let code = compile(&verified, engine).unwrap_or_else(|e| panic!("{engine}: {e}"));
            assert!(!code.code.is_empty());
            group.bench_function(engine.name(), |b| b.iter(|| compile(&verified, engine)));
        }
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! {
    name = compile_benches;
    config = config();
    targets = benches
}
criterion_main!(compile_benches);
