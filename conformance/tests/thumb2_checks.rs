//! The Thumb-2 backend's cheaper bounds checks against the interpreter:
//! loads sharing one check (see `femtoc_compiler::thumb2::groups`), checks
//! against the windows cached at entry, narrow bases, and context loads
//! proven by the minimum context length. Each program runs with contexts
//! of several lengths, so that every member of a group is at some point
//! the first one out of bounds.
#![cfg(feature = "emu")]

use femtoc_conformance::engine::{Case, Engine, Interpreter};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_conformance::thumb::Thumb2;
use femtoc_isa::program::{DataKind, DataRegion};
use femtoc_runtime::engine::Engine as EngineId;

/// A data region of `size` bytes holding 1, 2, ..., `size`.
fn data_region(name: &str, kind: DataKind, size: u8) -> DataRegion {
    DataRegion { name: name.into(), kind, image: (1..=size).collect(), size: u32::from(size) }
}

fn agree(name: &str, src: &str, lengths: &[usize]) {
    let program = femtoc_isa::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut faults = 0;
    for &len in lengths {
        let context: Vec<u8> =
            (0..len).map(|i| (i as u8).wrapping_mul(37).wrapping_add(11)).collect();
        let case = Case { program: &verified, context: Some(&context), budget: Some(1000) };
        let reference = Interpreter.execute(&case).expect("interpreter runs");
        faults += usize::from(reference.result.is_err());
        for engine in [EngineId::Thumbv7m, EngineId::Thumbv7em] {
            let got = Thumb2::new(engine).execute(&case).expect("emulator runs");
            assert_eq!(got, reference, "{name}, context of {len} bytes, {engine}");
        }
    }
    // The lengths are chosen so that some runs fault and some do not.
    assert!(
        faults > 0 && faults < lengths.len(),
        "{name}: {faults} of {} runs fault",
        lengths.len()
    );
}

#[test]
fn grouped_loads_fault_at_the_first_load_out_of_bounds() {
    // r1 is written, so no load is proven by the context length; the four
    // loads share one check.
    agree(
        "ascending",
        "
        mov %r6, %r1
        add %r6, 0
        ldxb %r2, [%r6+0]
        ldxb %r3, [%r6+1]
        lsh32 %r3, 8
        ldxh %r4, [%r6+2]
        ldxw %r5, [%r6+4]
        mov %r0, %r2
        add %r0, %r3
        add %r0, %r4
        add %r0, %r5
        exit",
        &[0, 1, 2, 3, 4, 5, 7, 8, 16],
    );
}

#[test]
fn grouped_loads_out_of_order_and_below_the_base() {
    agree(
        "descending",
        "
        mov %r7, %r1
        add %r7, 6
        ldxh %r2, [%r7+0]
        ldxb %r3, [%r7-6]
        ldxdw %r4, [%r7-4]
        ldxb %r5, [%r7+2]
        mov %r0, %r2
        xor %r0, %r3
        xor %r0, %r4
        xor %r0, %r5
        exit",
        &[0, 1, 5, 6, 7, 8, 9, 12],
    );
}

#[test]
fn a_group_ends_where_its_base_is_written() {
    // The second load overwrites its base: the third goes through the new
    // value (the context address again, loaded from the context).
    agree(
        "rebased",
        "
        mov %r6, %r1
        stxdw [%r10-8], %r1
        ldxb %r2, [%r6+8]
        ldxdw %r6, [%r10-8]
        ldxb %r3, [%r6+9]
        ldxb %r4, [%r6+0]
        mov %r0, %r2
        add %r0, %r3
        add %r0, %r4
        exit",
        &[0, 8, 9, 10, 12],
    );
}

#[test]
fn loads_in_a_loop_through_a_moving_pointer() {
    agree(
        "loop",
        "
        mov %r0, 0
        mov %r6, %r1
        mov %r7, %r1
        add %r7, %r2
    next:
        jge %r6, %r7, done
        ldxb %r3, [%r6+1]
        ldxb %r4, [%r6+0]
        lsh %r3, 8
        or %r3, %r4
        add %r0, %r3
        add %r6, 2
        ja next
    done:
        exit",
        // Odd lengths read one byte past the end on the last pair.
        &[0, 1, 2, 5, 8, 33],
    );
}

#[test]
fn context_loads_below_the_minimum_length_need_no_check() {
    // r1 is never written: the loads before the first jump set the
    // minimum context length (8), the later ones are proven by it or
    // checked.
    agree(
        "minimum",
        "
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        jeq %r2, 0, skip
        ldxb %r4, [%r1+2]
        ldxw %r5, [%r1+8]
        add %r3, %r4
        add %r3, %r5
    skip:
        mov %r0, %r3
        exit",
        &[0, 4, 7, 8, 11, 12],
    );
}

#[test]
fn data_region_accesses_use_their_own_window() {
    // The pointer comes from `lddw data[..]`, so the inline check uses the
    // data region's window. The first context byte says how many words of
    // .data (16 bytes) to bump, walking off its end at 5; the second
    // whether to store to .rodata, which faults.
    let src = "
        ldxb %r6, [%r1+0]
        lddw %r7, data[0+0]
        mov %r0, 0
    next:
        jeq %r6, 0, done
        ldxw %r3, [%r7+0]
        add32 %r3, 1
        stxw [%r7+0], %r3
        add %r0, %r3
        add %r7, 4
        sub %r6, 1
        ja next
    done:
        lddw %r8, data[1+2]
        ldxh %r4, [%r8+0]
        add %r0, %r4
        ldxb %r9, [%r1+1]
        jeq %r9, 0, out
        stxb [%r8+0], %r4
    out:
        exit";
    let mut program = femtoc_isa::assemble(src).expect("assembles");
    program.data.push(data_region(".data", DataKind::ReadWrite, 16));
    program.data.push(data_region(".rodata", DataKind::ReadOnly, 8));
    let verified = verify_for_harness(&program).expect("verifies");
    let mut faults = 0;
    for count in [0u8, 1, 4, 5] {
        for flag in [0u8, 1] {
            let context = [count, flag];
            let case = Case { program: &verified, context: Some(&context), budget: Some(1000) };
            let reference = Interpreter.execute(&case).expect("interpreter runs");
            faults += usize::from(reference.result.is_err());
            for engine in [EngineId::Thumbv7m, EngineId::Thumbv7em] {
                let got = Thumb2::new(engine).execute(&case).expect("emulator runs");
                assert_eq!(got, reference, "count {count}, {engine}");
            }
        }
    }
    assert!(faults > 0 && faults < 8, "{faults} of 8 runs fault");
}

/// Runs `src` under budgets around 0 and 2^32 (so the counter's low word
/// runs out and borrows on the first events) on both Thumb-2 engines
/// against the interpreter; returns how many budgets stop the run.
fn budget_agrees(name: &str, src: &str) -> usize {
    let program = femtoc_isa::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut stops = 0;
    for budget in [0, 1, 4, 5, 6, 1 << 32, (1 << 32) + 1, (1 << 32) + 5, 3 << 32, u64::MAX] {
        let case = Case { program: &verified, context: None, budget: Some(budget) };
        let reference = Interpreter.execute(&case).expect("interpreter runs");
        stops += usize::from(reference.result.is_err());
        for engine in [EngineId::Thumbv7m, EngineId::Thumbv7em] {
            let got = Thumb2::new(engine).execute(&case).expect("emulator runs");
            assert_eq!(got, reference, "{name}: budget {budget:#x}, {engine}");
        }
    }
    stops
}

#[test]
fn budget_borrows_from_its_high_word_and_stops_exactly() {
    // Four backward jumps and a local call per run.
    let with_call = "
        mov %r6, 5
    again:
        sub %r6, 1
        jne %r6, 0, again
        call local f
        exit
    f:
        mov %r0, 7
        exit";
    assert_eq!(budget_agrees("with a call", with_call), 3, "budgets 0, 1 and 4 stop the run");
    // No r10 and no call, so r11 is free and the counter gets a core
    // register: back edges that are one conditional branch, an
    // unconditional jump, and a 64-bit compare of several branches.
    let loops = "
        mov %r6, 3
    outer:
        mov %r7, 2
    inner:
        sub %r7, 1
        jne %r7, 0, inner
        lddw %r8, 0x100000002
    wide:
        sub %r8, 1
        lddw %r9, 0x100000000
        jgt %r8, %r9, wide
        sub %r6, 1
        jeq %r6, 0, done
        ja outer
    done:
        mov %r0, %r8
        exit";
    let stops = budget_agrees("loops", loops);
    assert!(stops > 0 && stops < 10, "loops: {stops} stops");
    // Six hotter halves take r4..r8 and r10: the counter gets r11, which
    // holds the stack top during the entry in other programs.
    let seventh = "
        mov %r6, 0
        mov %r7, 0
        lddw %r9, 0x100000003
        lddw %r0, 0x100000000
    loop:
        add %r6, %r9
        add %r6, %r9
        add %r7, %r6
        add %r7, %r6
        sub %r9, 1
        jgt %r9, %r0, loop
        mov %r0, %r7
        exit";
    let stops = budget_agrees("seventh", seventh);
    assert!(stops > 0 && stops < 10, "seventh: {stops} stops");
    // Sixteen hot register halves: the counter stays in a frame word.
    let crowded = "
        mov %r0, 0
        mov %r2, 0
        mov %r3, 0
        mov %r4, 0
        mov %r5, 0
        mov %r6, 0
        mov %r7, 0
        mov %r8, 4
    loop:
        add %r0, 1
        add %r1, 1
        add %r2, 1
        add %r3, 1
        add %r4, 1
        add %r5, 1
        add %r6, 1
        add %r7, 1
        sub %r8, 1
        jne %r8, 0, loop
        add %r0, %r7
        exit";
    let stops = budget_agrees("crowded", crowded);
    assert!(stops > 0 && stops < 10, "crowded: {stops} stops");
}

/// A load or store of `size` bytes whose offset adds `k` (the first
/// context byte, 0 or 1) in one region: its last in-bounds start, or one
/// byte past it.
fn edge_access(target: &str, size: u32) -> String {
    let suffix = match size {
        1 => "b",
        2 => "h",
        4 => "w",
        _ => "dw",
    };
    match target {
        "ctx-read" => format!(
            "mov %r7, %r1\nadd %r7, %r2\nsub %r7, {size}\nadd %r7, %r6\nldx{suffix} %r0, [%r7+0]\n"
        ),
        "ctx-write" => format!(
            "mov %r7, %r1\nadd %r7, %r2\nsub %r7, {size}\nadd %r7, %r6\nstx{suffix} [%r7+0], %r6\n"
        ),
        "data-read" => format!(
            "lddw %r8, data[0+0]\nadd %r8, {}\nadd %r8, %r6\nldx{suffix} %r3, [%r8+0]\n",
            16 - size
        ),
        // Derived from r10 at run time, so checked against the stack
        // window (the verifier rejects constant offsets past the frame).
        _ => format!("mov %r5, %r10\nsub %r5, {size}\nadd %r5, %r6\nldx{suffix} %r4, [%r5+0]\n"),
    }
}

/// `body` as a program that runs it once: accesses in code that runs once
/// get compact checks (no window).
fn run_once(body: &str) -> String {
    format!("mov %r9, 0\n{body}exit\n")
}

/// `body` inside a loop whose back edge is never taken (r9 stays 0): its
/// accesses are checked in line against the windows.
fn looped(body: &str) -> String {
    let slots = femtoc_isa::assemble(body).expect("body assembles").code.len();
    format!("mov %r9, 0\n{body}jne %r9, 0, -{}\nexit\n", slots + 1)
}

#[test]
fn window_limits_are_exact_at_every_region_end() {
    // Each crossing access alone (one window), after an in-bounds access
    // to the other window of the same region (read and write windows of
    // one entry), and after in-bounds accesses to three other windows (so
    // the routine fills four, of table entries and of a data region);
    // every access size.
    let targets = ["ctx-read", "ctx-write", "data-read", "stack"];
    let sibling = |t: &str| match t {
        "ctx-read" => Some("ctx-write"),
        "ctx-write" => Some("ctx-read"),
        _ => None,
    };
    for size in [1u32, 2, 4, 8] {
        for target in targets {
            for others in ["none", "sibling", "all"] {
                let mut src = String::from("ldxb %r6, [%r1+0]\nmov %r0, 0\n");
                let before: Vec<&str> = match others {
                    "all" => targets.iter().copied().filter(|&t| t != target).collect(),
                    "sibling" => sibling(target).into_iter().collect(),
                    _ => Vec::new(),
                };
                for other in before {
                    // k = 0 here: in bounds.
                    src += &edge_access(other, size).replace("%r6", "%r9");
                }
                src += &edge_access(target, size);
                for src in [run_once(&src), looped(&src)] {
                    let mut program = femtoc_isa::assemble(&src).expect("assembles");
                    program.data.push(data_region(".data", DataKind::ReadWrite, 16));
                    let verified = verify_for_harness(&program).expect("verifies");
                    for k in [0u8, 1] {
                        let mut context = [7u8; 24];
                        context[0] = k;
                        let case =
                            Case { program: &verified, context: Some(&context), budget: Some(9) };
                        let reference = Interpreter.execute(&case).expect("interpreter runs");
                        // Crossing by one byte must fault.
                        assert_eq!(reference.result.is_err(), k == 1, "{target} {size} {k}");
                        for engine in [EngineId::Thumbv7m, EngineId::Thumbv7em] {
                            let got = Thumb2::new(engine).execute(&case).expect("emulator runs");
                            assert_eq!(got, reference, "{target}, size {size}, k {k}, {engine}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_move_and_the_operation_after_it_agree_when_fused() {
    // `mov32 D, S; op32 D, X` becomes one instruction; also when X is S,
    // when D is wide or lives in a stack slot (nine registers in use), and
    // not when a jump lands between the two.
    for op in ["add32", "sub32", "and32", "or32", "xor32", "lsh32", "rsh32", "arsh32"] {
        for x in ["%r5", "%r4", "7", "-3", "33"] {
            if x.starts_with('%') && op.ends_with("sh32") {
                continue;
            }
            let src = format!(
                "
                ldxdw %r4, [%r1+0]
                ldxdw %r5, [%r1+8]
                lddw %r6, 0x123456789
                mov %r7, %r4
                mov %r8, %r5
                mov %r9, %r6
                mov32 %r3, %r4
                {op} %r3, {x}
                mov32 %r6, %r5
                {op} %r6, {x}
                jeq %r4, 0, join
                mov32 %r9, %r5
            join:
                {op} %r9, {x}
                mov %r0, %r3
                xor %r0, %r6
                lsh %r9, 7
                xor %r0, %r9
                xor %r0, %r7
                xor %r0, %r8
                exit"
            );
            let program = femtoc_isa::assemble(&src).expect("assembles");
            let verified = verify_for_harness(&program).expect("verifies");
            for seed in [0u8, 1, 0x80, 0xff] {
                let context: Vec<u8> = (0..16u8)
                    .map(|i| if seed == 0 { 0 } else { i.wrapping_mul(seed) ^ seed })
                    .collect();
                let case = Case { program: &verified, context: Some(&context), budget: None };
                let reference = Interpreter.execute(&case).expect("interpreter runs");
                for engine in [EngineId::Thumbv7m, EngineId::Thumbv7em] {
                    let got = Thumb2::new(engine).execute(&case).expect("emulator runs");
                    assert_eq!(got, reference, "{op} {x}, seed {seed}, {engine}");
                }
            }
        }
    }
}

#[test]
fn a_zero_test_reuses_the_flags_of_the_add_only_while_they_hold() {
    // Each loop decrements a counter and tests it for zero later in the
    // block. In between: nothing, register moves (flags kept), a compare
    // inside a checked load, a constant move, a 32-bit operation that
    // clears an upper half, and a helper-free store: each of the latter
    // writes the flags, so the jump must compare again. The counter starts
    // at the context byte, so runs differ in trip count.
    let between = [
        "",
        "mov32 %r3, %r4\n mov32 %r4, %r3",
        "ldxb %r3, [%r1+0]",
        "mov %r3, 0",
        "mov %r8, -1\n and32 %r8, 7",
        "stxb [%r10-1], %r7",
    ];
    for (i, middle) in between.iter().enumerate() {
        let src = format!(
            "
            ldxb %r7, [%r1+0]
            add32 %r7, 1
            mov %r0, 0
            mov %r4, 0
        loop:
            add %r0, %r7
            add32 %r7, -1
            {middle}
            jne32 %r7, 0, loop
            exit"
        );
        let program = femtoc_isa::assemble(&src).unwrap_or_else(|e| panic!("{i}: {e}"));
        let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{i}: {e}"));
        for first in [0u8, 1, 2, 7] {
            let context = [first, 9, 9, 9];
            let case = Case { program: &verified, context: Some(&context), budget: Some(100) };
            let reference = Interpreter.execute(&case).expect("interpreter runs");
            assert!(reference.result.is_ok(), "{i}: {reference:?}");
            for engine in [EngineId::Thumbv7m, EngineId::Thumbv7em] {
                let got = Thumb2::new(engine).execute(&case).expect("emulator runs");
                assert_eq!(got, reference, "case {i}, counter {first}, {engine}");
            }
        }
    }
}

#[test]
fn a_read_only_region_read_and_written_gets_only_a_read_window() {
    // One region, two windows filled from one lookup: the read window is
    // usable, the write window refused (counts 0), so the store goes to
    // the slow path and faults at its pc.
    let src = "
        ldxb %r6, [%r1+0]
        lddw %r8, data[0+0]
        add %r8, %r6
        ldxb %r4, [%r8+0]
        mov %r0, %r4
        ldxb %r9, [%r1+1]
        jeq %r9, 0, out
        stxb [%r8+0], %r4
    out:
        exit";
    let mut program = femtoc_isa::assemble(src).expect("assembles");
    program.data.push(data_region(".rodata", DataKind::ReadOnly, 16));
    let verified = verify_for_harness(&program).expect("verifies");
    let mut faults = 0;
    for index in [0u8, 15, 16] {
        for flag in [0u8, 1] {
            let context = [index, flag];
            let case = Case { program: &verified, context: Some(&context), budget: None };
            let reference = Interpreter.execute(&case).expect("interpreter runs");
            faults += usize::from(reference.result.is_err());
            for engine in [EngineId::Thumbv7m, EngineId::Thumbv7em] {
                let got = Thumb2::new(engine).execute(&case).expect("emulator runs");
                assert_eq!(got, reference, "index {index}, flag {flag}, {engine}");
            }
        }
    }
    assert_eq!(faults, 4, "index 16 reads past the region; every store faults");
}
