//! Fletcher-32 over the papers' 360-byte input, on the interpreter and on
//! both Thumb-2 engines: the known result, and (printed, not asserted) the
//! native instruction and cycle counts for the benchmark table.
#![cfg(feature = "emu")]

use femtoc_conformance::engine::{Case, Engine, Interpreter};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_conformance::shared_dir;
use femtoc_conformance::thumb::Thumb2;
use femtoc_runtime::engine::Engine as EngineId;

const FLETCHER32: &str = "
mov %r3, 0xffff
mov %r4, 0xffff
mov %r5, %r1
add %r5, %r2
ldxh %r0, [%r1]
add %r3, %r0
add %r4, %r3
add %r1, 2
jlt %r1, %r5, -5
mov %r0, %r3
and %r0, 0xffff
rsh %r3, 16
add %r3, %r0
mov %r0, %r3
and %r0, 0xffff
rsh %r3, 16
add %r3, %r0
mov %r0, %r4
and %r0, 0xffff
rsh %r4, 16
add %r4, %r0
mov %r0, %r4
and %r0, 0xffff
rsh %r4, 16
add %r4, %r0
mov %r0, %r4
lsh %r0, 16
or %r0, %r3
exit
";

#[test]
fn fletcher32_on_every_thumb_engine() {
    let input = std::fs::read(shared_dir().join("bench/fletcher32-360.txt")).expect("input");
    assert_eq!(input.len(), 360);
    let program = femtoc_isa::assemble(FLETCHER32).expect("assembles");
    let verified = verify_for_harness(&program).expect("verifies");
    let case = Case { program: &verified, context: Some(&input), budget: None };
    let reference = Interpreter.execute(&case).expect("runs");
    assert_eq!(reference.result, Ok(0x5bac_8c3d));
    for engine in [EngineId::Thumbv7m, EngineId::Thumbv7em] {
        let mut thumb = Thumb2::new(engine);
        let got = thumb.execute(&case).expect("runs");
        assert_eq!(got, reference, "{engine}");
        let code = femtoc_compiler::thumb2::compile(&verified, engine).expect("compiles");
        println!(
            "{engine}: fletcher32-360: {} instructions, {} cycles; {} code bytes for {} eBPF slots",
            thumb.stats.insns,
            thumb.stats.cycles,
            code.code.len(),
            verified.program.code.len()
        );
        assert!(thumb.stats.insns > 0);
    }
}
