//! Accesses proven in bounds at compile time (`femtoc_compiler::analysis::
//! proven`: a data table or a stack-frame array indexed by a value the
//! range analysis bounds) carry no check on Thumb-2 and Cranelift code.
//! Each program also makes a like access the analysis cannot prove, which
//! faults for some inputs, and every native engine must agree with the
//! interpreter on every input.
#![cfg(feature = "emu")]

use femtoc_compiler::analysis::proven::proven_accesses;
use femtoc_compiler::analysis::RangeConfig;
use femtoc_conformance::engine::{run_on_every_engine, Case};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_isa::program::{DataKind, DataRegion, Program};

/// Runs `program` on every engine for each one-byte context; `proven` are
/// the pcs the analysis must prove (on both the 32-bit and the 64-bit
/// configuration). Returns how many inputs fault.
fn agree(name: &str, program: &Program, inputs: &[u8], proven: &[usize]) -> usize {
    let verified = verify_for_harness(program).unwrap_or_else(|e| panic!("{name}: {e}"));
    for cfg in [RangeConfig::device32(0), RangeConfig::host64()] {
        let got: Vec<usize> = proven_accesses(&verified, &cfg).into_iter().collect();
        assert_eq!(got, proven, "{name}: proven accesses");
    }
    let mut faults = 0;
    for &x in inputs {
        let context = [x, 0, 0, 0];
        let case = Case { program: &verified, context: Some(&context), budget: Some(1000) };
        let reference =
            run_on_every_engine(&case).unwrap_or_else(|e| panic!("{name}, x = {x}: {e}"));
        faults += usize::from(reference.result.is_err());
    }
    faults
}

#[test]
fn table_lookups_with_a_bounded_index() {
    // A table of 16 words read at 4 * (x & 15) (pc 6: proven) and at
    // 4 * (x & 31) (pc 12: not; indexes past 15 fault).
    let src = "
        ldxb %r4, [%r1+0]
        mov %r6, %r4
        and %r4, 15
        lsh %r4, 2
        lddw %r5, data[0+0]
        add %r5, %r4
        ldxw %r0, [%r5+0]
        and %r6, 31
        lsh %r6, 2
        lddw %r7, data[0+0]
        add %r7, %r6
        ldxw %r3, [%r7+0]
        add %r0, %r3
        exit";
    let mut program = femtoc_isa::assemble(src).expect("assembles");
    program.data.push(DataRegion {
        name: ".rodata".into(),
        kind: DataKind::ReadOnly,
        image: (0..64).map(|i| (i * 7) as u8).collect(),
        size: 64,
    });
    let faults = agree("table", &program, &[0, 5, 15, 16, 31, 47], &[7]);
    assert_eq!(faults, 2, "x = 16 and 31 index past the table");
}

#[test]
fn frame_arrays_with_a_bounded_index() {
    // A 64-byte array at r10 - 64: a word written at 4 * (x & 15) (pc 5:
    // proven, inside the frame) and read back at 4 * (x & 31) (pc 10: not
    // proven; indexes past 15 reach r10 and fault).
    let src = "
        ldxb %r4, [%r1+0]
        stdw [%r10-64], 0
        mov %r6, %r4
        and %r4, 15
        lsh %r4, 2
        mov %r5, %r10
        add %r5, -64
        add %r5, %r4
        stxw [%r5+0], %r6
        and %r6, 31
        lsh %r6, 2
        mov %r7, %r10
        add %r7, -64
        add %r7, %r6
        ldxw %r0, [%r7+0]
        exit";
    let program = femtoc_isa::assemble(src).expect("assembles");
    let faults = agree("frame", &program, &[0, 3, 15, 16, 17, 31], &[8]);
    assert_eq!(faults, 3, "x = 16, 17 and 31 index past the frame");
}

#[test]
fn accesses_covered_by_an_earlier_one_agree_wherever_the_pointer_starts() {
    // Bytes stored and then loaded back through the same pointer, which
    // starts x = ctx[0] bytes into an 8-byte context: the loads are proven
    // by the stores. As x grows, each store in turn faults, at its own
    // pc, before the load that relies on it.
    let src = "
        ldxb %r2, [%r1+0]
        mov %r0, %r1
        add %r0, %r2
        ldxb %r9, [%r0+0]
        stxb [%r0+1], %r9
        ldxb %r8, [%r0+1]
        stxb [%r0+2], %r8
        ldxb %r7, [%r0+2]
        stxh [%r0+3], %r7
        ldxb %r6, [%r0+4]
        ldxh %r0, [%r0+3]
        add %r0, %r6
        exit";
    let program = femtoc_isa::assemble(src).expect("assembles");
    let verified = verify_for_harness(&program).expect("verifies");
    let got: Vec<usize> =
        proven_accesses(&verified, &RangeConfig::device32(0)).into_iter().collect();
    assert_eq!(got, [5, 7, 9, 10]);
    let mut faults = Vec::new();
    for x in 0..=8u8 {
        let context = [x, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37];
        let case = Case { program: &verified, context: Some(&context), budget: None };
        let reference = run_on_every_engine(&case).unwrap_or_else(|e| panic!("x = {x}: {e}"));
        faults.push(reference.result.as_ref().err().map(|e| e.pc));
    }
    let ok = None;
    assert_eq!(faults, [ok, ok, ok, ok, Some(8), Some(8), Some(6), Some(4), Some(3)]);
}
