//! Atomics through bases of every kind, on every native engine against the
//! interpreter: a low-word base at offset 0 (the Thumb-2 backend uses it
//! where it lives, without computing an upper half), a pair base with an
//! offset, 32- and 64-bit, fetch and compare-exchange, aligned and
//! misaligned (a fault that reports the address), inside and past a data
//! region.
#![cfg(feature = "emu")]

use femtoc_conformance::engine::{run_on_every_engine, Case};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_isa::program::{DataKind, DataRegion};

/// Runs `src` (with a 64-byte writable data region) for every context
/// byte in `inputs`; returns how many runs fault in the interpreter.
fn agree(name: &str, src: &str, inputs: &[u8]) -> usize {
    let mut program = femtoc_isa::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    program.data.push(DataRegion {
        name: ".data".into(),
        kind: DataKind::ReadWrite,
        image: (0..64).map(|i| i as u8 * 3).collect(),
        size: 64,
    });
    let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut faults = 0;
    for &x in inputs {
        let context = [x, 0, 0, 0, 0, 0, 0, 0];
        let case = Case { program: &verified, context: Some(&context), budget: Some(1000) };
        let reference =
            run_on_every_engine(&case).unwrap_or_else(|e| panic!("{name}: x = {x}: {e}"));
        faults += usize::from(reference.result.is_err());
    }
    faults
}

const INPUTS: [u8; 8] = [0, 1, 2, 4, 6, 8, 12, 15];

#[test]
fn atomics_through_a_low_word_base_at_offset_zero() {
    // r3 = data + (x & 15): below 2^32, kept as one word.
    let body = |op: &str| {
        format!(
            "
        ldxb %r2, [%r1+0]
        and %r2, 15
        lddw %r3, data[0+0]
        add %r3, %r2
        mov %r4, 0x55
        mov %r0, 7
        {op}
        ldxdw %r5, [%r3+0]
        add %r0, %r5
        add %r0, %r4
        exit"
        )
    };
    for (op, align) in [
        ("lock add32 [%r3+0], %r4", 4),
        ("lock fetch or32 [%r3+0], %r4", 4),
        ("lock cmpxchg32 [%r3+0], %r4", 4),
        ("lock fetch add [%r3+0], %r4", 8),
        ("lock xchg [%r3+0], %r4", 8),
        ("lock cmpxchg [%r3+0], %r4", 8),
    ] {
        let faults = agree(op, &body(op), &INPUTS);
        let misaligned = INPUTS.iter().filter(|&&x| x % align != 0).count();
        assert_eq!(faults, misaligned, "{op}: misaligned inputs fault");
    }
}

#[test]
fn atomics_through_a_pair_base_with_an_offset() {
    // r3 = data + 8 * x (a pair: the analysis cannot bound it), offset 8:
    // past the region from x = 7 on.
    let src = "
        ldxb %r2, [%r1+0]
        lsh %r2, 3
        lddw %r3, data[0+0]
        add %r3, %r2
        mov %r4, 3
        mov %r0, 1
        lock fetch add [%r3+8], %r4
        lock add32 [%r3+12], %r4
        add %r0, %r4
        exit";
    let faults = agree("pair base", src, &[0, 1, 6, 7, 8, 200]);
    assert_eq!(faults, 3, "x = 7, 8 and 200 reach past the region");
}
