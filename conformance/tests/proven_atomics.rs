//! Atomics proven in bounds: on constant r10 offsets inside the verified
//! frame, and at offsets from a writable data region's base that the range
//! analysis bounds inside it. The Thumb-2 backend skips their bounds check,
//! and their alignment check too where the offset from the frame or the
//! data region's base (both multiples of 8) is known exactly and is a
//! multiple of the size. Every engine must agree with the
//! interpreter on aligned ones at the edges, on misaligned ones (which
//! fault with the same pc and address everywhere), and on atomics into
//! `.rodata`, which are not proven and fault.
#![cfg(feature = "emu")]

use femtoc_conformance::engine::{run_on_every_engine, Case, Observation};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_isa::program::{DataKind, DataRegion};
use femtoc_runtime::RunErrorKind;

fn run(src: &str) -> Observation {
    run_with(src, &[], None)
}

/// Runs `src` with `data` regions and `context` on every engine.
fn run_with(src: &str, data: &[DataRegion], context: Option<&[u8]>) -> Observation {
    let mut program = femtoc_isa::assemble(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    program.data.extend(data.iter().cloned());
    let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{src}: {e}"));
    let case = Case { program: &verified, context, budget: Some(100) };
    run_on_every_engine(&case).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn region(name: &str, kind: DataKind, size: u8) -> DataRegion {
    DataRegion { name: name.into(), kind, image: (1..=size).collect(), size: u32::from(size) }
}

#[test]
fn aligned_frame_atomics_agree_at_both_ends_of_the_frame() {
    for off in [-8, -16, -512] {
        let src = format!(
            "lddw %r1, 0x1122334455667788\nstxdw [%r10{off}], %r1\nmov %r2, 7\n\
             lock add32 [%r10{off}], %r2\nmov %r3, 5\nlock fetch add [%r10{off}], %r3\n\
             mov %r0, %r1\nmov %r4, 9\nlock cmpxchg [%r10{off}], %r4\n\
             ldxdw %r5, [%r10{off}]\nmul %r0, 31\nadd %r0, %r5\nadd %r0, %r3\nexit\n"
        );
        let got = run(&src);
        assert!(got.result.is_ok(), "{src}: {:?}", got.result);
    }
}

#[test]
fn misaligned_frame_atomics_fault_on_every_engine() {
    for (width, off) in [("add32", -6), ("add32", -511), ("add", -12), ("add", -4 - 8 - 2)] {
        let src = format!(
            "mov %r2, 1\nstdw [%r10-16], 0\nlock {width} [%r10{off}], %r2\nmov %r0, 0\nexit\n"
        );
        let got = run(&src);
        let err = got.result.as_ref().expect_err("a misaligned atomic faults");
        assert_eq!(err.pc, 2, "{src}");
        assert!(
            matches!(err.kind, RunErrorKind::MemoryFault { write: true, .. }),
            "{src}: {err:?}"
        );
    }
}

#[test]
fn data_region_atomics_agree_and_misaligned_or_read_only_ones_fault() {
    // Context byte 0 picks the last atomic: 0 none, 1 a misaligned one
    // inside .data, 2 one into .rodata, 3 one at the last word of .data,
    // 4 one just past its end.
    let src = "
        ldxb %r6, [%r1+0]
        lddw %r7, data[0+0]
        mov %r2, 3
        lock add32 [%r7+4], %r2
        lock fetch add [%r7+8], %r2
        lock xor32 [%r7+0], %r2
        jeq %r6, 1, misaligned
        jeq %r6, 2, rodata
        jeq %r6, 3, last
        jeq %r6, 4, past
        ja out
    past:
        lddw %r8, data[0+16]
        lock or32 [%r8+0], %r2
        ja out
    misaligned:
        lddw %r8, data[0+6]
        lock add32 [%r8+0], %r2
        ja out
    rodata:
        lddw %r9, data[1+0]
        lock add32 [%r9+0], %r2
        ja out
    last:
        lddw %r8, data[0+12]
        lock or32 [%r8+0], %r2
    out:
        ldxdw %r0, [%r7+8]
        ldxw %r3, [%r7+4]
        mul %r0, 31
        add %r0, %r3
        ldxw %r3, [%r7+12]
        add %r0, %r3
        add %r0, %r2
        exit";
    let data = [region(".data", DataKind::ReadWrite, 16), region(".rodata", DataKind::ReadOnly, 8)];
    let mut results = Vec::new();
    for pick in 0u8..5 {
        let got = run_with(src, &data, Some(&[pick]));
        results.push(got.result);
    }
    assert!(results[0].is_ok() && results[3].is_ok(), "{results:?}");
    assert_ne!(results[0], results[3], "the last word's atomic counts");
    for (pick, pc) in [(1usize, 18u32), (2, 22), (4, 14)] {
        let err = results[pick].as_ref().expect_err("faults");
        assert_eq!(err.pc, pc, "pick {pick}");
        assert!(matches!(err.kind, RunErrorKind::MemoryFault { write: true, .. }), "{err:?}");
    }
}

#[test]
fn a_data_atomic_at_an_aligned_offset_needs_no_alignment_check() {
    use femtoc_compiler::thumb2;
    use femtoc_runtime::engine::Engine as EngineId;
    // The same program with the atomic at data offset 16 (aligned, as the
    // region starts at a multiple of 8) and at 18 (misaligned: faults).
    let src = |off: u32| {
        format!(
            "lddw %r1, data[0+{off}]\nmov %r2, 3\nlock add32 [%r1+0], %r2\n\
             ldxw %r0, [%r1+0]\nexit\n"
        )
    };
    let data = [region(".data", DataKind::ReadWrite, 24)];
    let mut sizes = Vec::new();
    let mut host_sizes = Vec::new();
    for off in [16u32, 18] {
        let mut program = femtoc_isa::assemble(&src(off)).expect("assembles");
        program.data.extend(data.iter().cloned());
        let verified = verify_for_harness(&program).expect("verifies");
        let code = thumb2::compile(&verified, EngineId::Thumbv7em).expect("compiles");
        sizes.push(code.code.len());
        let host = femtoc_compiler::cranelift::compile(&verified, EngineId::X86_64)
            .expect("compiles for x86-64");
        host_sizes.push(host.code.len());
        let got = run_with(&src(off), &data, None);
        match off {
            16 => assert_eq!(got.result.as_ref().ok(), Some(&(0x1413_1211 + 3))),
            _ => assert!(
                matches!(got.result, Err(ref e) if e.pc == 3
                    && matches!(e.kind, RunErrorKind::MemoryFault { write: true, .. })),
                "{:?}",
                got.result
            ),
        }
    }
    assert!(sizes[0] < sizes[1], "the aligned atomic carries no check: {sizes:?}");
    assert!(host_sizes[0] < host_sizes[1], "nor on x86-64: {host_sizes:?}");
}
