//! Calling functions through the C ABI: results, exact instruction counts, cycle estimates.

mod common;

use common::{machine, rv, thumb, ARM, CODE, DATA, RV};
use femtoc_emu::{Core, InsnClass};

const WORDS: [u32; 5] = [3, 0xFFFF_FFFF, 40, 7, 0x1000];

fn expected_sum() -> u32 {
    WORDS.iter().fold(0u32, |a, &w| a.wrapping_add(w))
}

fn load_words(m: &mut femtoc_emu::Machine) {
    for (i, w) in WORDS.iter().enumerate() {
        m.write_u32(DATA + 4 * i as u32, *w).unwrap();
    }
}

const THUMB_SUM: &str = "
sum:    movs r2, #0
        cbz r1, 2f
1:      ldr r3, [r0], #4
        adds r2, r2, r3
        subs r1, #1
        bne 1b
2:      mov r0, r2
        bx lr
";

#[test]
fn thumb_sum_counts_every_instruction() {
    let code = thumb(THUMB_SUM);
    let n = WORDS.len() as u64;
    for core in ARM {
        let mut m = machine(core, &code);
        load_words(&mut m);
        let r = m.call(CODE, &[DATA, n as u32]).unwrap();
        assert_eq!(r.ret as u32, expected_sum(), "{core}");
        // movs, cbz, 4 per iteration, mov, bx.
        assert_eq!(r.insns, 4 * n + 4, "{core}");
        assert_eq!(r.classes.get(InsnClass::Load), n);
        assert_eq!(r.classes.get(InsnClass::Branch), n + 1);
        assert_eq!(r.classes.get(InsnClass::Jump), 1);
        assert_eq!(r.classes.get(InsnClass::Alu), 2 * n + 2);
        // Taken: bne n-1 times, bx once.
        assert_eq!(r.taken, n);
        // movs 1, cbz not taken 1; per iteration ldr 2 + adds 1 + subs 1, bne 1+P (P = 2)
        // when taken and 1 the last time; mov 1; bx 1+P.
        assert_eq!(r.cycles, 2 + 4 * n + 3 * (n - 1) + 1 + 1 + 3, "{core}");
    }
}

#[test]
fn thumb_sum_of_nothing_skips_the_loop() {
    let code = thumb(THUMB_SUM);
    let mut m = machine(Core::CortexM3, &code);
    let r = m.call(CODE, &[DATA, 0]).unwrap();
    assert_eq!(r.ret as u32, 0);
    // movs, cbz (taken), mov, bx
    assert_eq!(r.insns, 4);
    assert_eq!(r.cycles, 1 + 3 + 1 + 3);
}

const RV_SUM: &str = "
sum:    li a2, 0
        beqz a1, 2f
1:      lw a3, 0(a0)
        add a2, a2, a3
        addi a0, a0, 4
        addi a1, a1, -1
        bnez a1, 1b
2:      mv a0, a2
        ret
";

#[test]
fn rv32_sum_counts_every_instruction() {
    let n = WORDS.len() as u64;
    // Compressed and uncompressed encodings execute the same instructions.
    for march in ["rv32imc", "rv32im"] {
        let code = rv(march, RV_SUM);
        for core in RV {
            let mut m = machine(core, &code);
            load_words(&mut m);
            let r = m.call(CODE, &[DATA, n as u32]).unwrap();
            assert_eq!(r.ret as u32, expected_sum(), "{core} {march}");
            assert_eq!(r.insns, 5 * n + 4, "{core} {march}");
            assert_eq!(r.classes.get(InsnClass::Load), n);
            assert_eq!(r.classes.get(InsnClass::Branch), n + 1);
            assert_eq!(r.classes.get(InsnClass::Jump), 1);
            // li 1, beqz 1; per iteration lw 2 + three ALU, bnez 3 taken / 1 last; mv 1, ret 2.
            assert_eq!(r.cycles, 2 + 5 * n + 3 * (n - 1) + 1 + 1 + 2, "{core} {march}");
        }
    }
}

#[test]
fn sixty_four_bit_results_use_two_registers() {
    let (a, b) = (0xDEAD_BEEFu32, 0x1234_5678u32);
    let want = u64::from(a) * u64::from(b);
    let code = thumb("umull r0, r1, r0, r1\nbx lr");
    for core in ARM {
        let r = machine(core, &code).call(CODE, &[a, b]).unwrap();
        assert_eq!(r.ret, want, "{core}");
        assert_eq!(r.classes.get(InsnClass::MulLong), 1);
    }
    let code = rv("rv32imc", "mul a2, a0, a1\nmulhu a1, a0, a1\nmv a0, a2\nret");
    for core in RV {
        let r = machine(core, &code).call(CODE, &[a, b]).unwrap();
        assert_eq!(r.ret, want, "{core}");
        assert_eq!(r.classes.get(InsnClass::Mul), 1);
        assert_eq!(r.classes.get(InsnClass::MulLong), 1);
    }
}

#[test]
fn stack_is_aligned_at_entry() {
    let arm = thumb("mov r0, sp\nbx lr");
    for core in ARM {
        let r = machine(core, &arm).call(CODE, &[]).unwrap();
        assert_eq!(r.ret as u32 % 8, 0, "{core}");
    }
    let code = rv("rv32imc", "mv a0, sp\nret");
    for core in RV {
        let r = machine(core, &code).call(CODE, &[]).unwrap();
        assert_eq!(r.ret as u32 % 16, 0, "{core}");
    }
}

#[test]
fn stack_arguments_follow_the_register_ones() {
    // f(a, b, c, d, e, f) = e - f on Arm, where e and f are on the stack.
    let code = thumb("ldr r0, [sp]\nldr r1, [sp, #4]\nsubs r0, r0, r1\nbx lr");
    let r = machine(Core::CortexM4, &code).call(CODE, &[1, 2, 3, 4, 50, 8]).unwrap();
    assert_eq!(r.ret as u32, 42);
    // The ninth and tenth arguments on RV32.
    let code = rv("rv32imc", "lw a0, 0(sp)\nlw a1, 4(sp)\nsub a0, a0, a1\nret");
    let r = machine(Core::Rv32imc, &code).call(CODE, &[0, 1, 2, 3, 4, 5, 6, 7, 50, 8]).unwrap();
    assert_eq!(r.ret as u32, 42);
}

#[test]
fn machine_can_be_called_again() {
    let code = thumb(THUMB_SUM);
    let mut m = machine(Core::CortexM4, &code);
    load_words(&mut m);
    let first = m.call(CODE, &[DATA, 2]).unwrap();
    let second = m.call(CODE, &[DATA, 2]).unwrap();
    assert_eq!(first, second);
    assert_eq!(first.ret as u32, WORDS[0].wrapping_add(WORDS[1]));
}

#[test]
fn engine_names_round_trip() {
    for core in Core::ALL {
        assert_eq!(Core::from_engine(core.engine()), Some(core));
    }
    assert_eq!(Core::CortexM3.engine(), "thumbv7m");
    assert_eq!(Core::CortexM4.engine(), "thumbv7em");
    assert_eq!(Core::from_engine("interp"), None);
}

#[test]
fn instructions_skipped_by_it_still_count() {
    // Silicon spends a cycle on each instruction of an IT block, executed or not.
    let code = thumb("cmp r0, #0\nite eq\nmoveq r0, #1\nmovne r0, #2\nbx lr");
    for (arg, want) in [(0, 1), (5, 2)] {
        let r = machine(Core::CortexM4, &code).call(CODE, &[arg]).unwrap();
        assert_eq!(r.ret as u32, want);
        assert_eq!(r.insns, 5);
        // cmp 1, it 1, two moves 1 each, bx 1+P.
        assert_eq!(r.cycles, 4 + 3);
    }
}
