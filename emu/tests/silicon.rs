//! The checks for what silicon faults on but Unicorn accepts.

mod common;

use common::{machine, rv, thumb, ARM, CODE, DATA, RV};
use femtoc_emu::{Core, EmuError, Forbidden};

fn expect_misaligned(result: Result<femtoc_emu::CallResult, EmuError>, addr: u32, write: bool) {
    match result {
        Err(EmuError::Misaligned { addr: a, write: w, pc, .. }) => {
            assert_eq!(a, u64::from(addr));
            assert_eq!(w, write);
            assert_eq!(pc, CODE);
        }
        other => panic!("expected a misaligned access at {addr:#x}, got {other:?}"),
    }
}

fn expect_forbidden(result: Result<femtoc_emu::CallResult, EmuError>, kind: Forbidden) {
    match result {
        Err(EmuError::Forbidden { kind: k, pc, .. }) => {
            assert_eq!(k, kind);
            assert_eq!(pc, CODE);
        }
        other => panic!("expected {kind}, got {other:?}"),
    }
}

#[test]
fn thumb_doubleword_and_multiple_need_word_alignment() {
    let cases = [
        ("ldrd r2, r3, [r0]\nadds r0, r2, r3\nbx lr", false),
        ("strd r1, r1, [r0]\nbx lr", true),
        ("ldm r0, {r2, r3}\nadds r0, r2, r3\nbx lr", false),
        ("ldmia.w r0, {r1, r2, r3}\nadds r0, r2, r3\nbx lr", false),
        ("stm r0!, {r1, r2}\nbx lr", true),
        ("ldrex r1, [r0]\nmov r0, r1\nbx lr", false),
        ("mov r2, r1\nstrex r3, r1, [r0]\nmov r0, r3\nbx lr", true),
    ];
    for core in ARM {
        for (src, write) in cases {
            let code = thumb(src);
            let mut m = machine(core, &code);
            m.write_u32(DATA + 4, 20).unwrap();
            m.write_u32(DATA + 8, 22).unwrap();
            // Word-aligned (not doubleword-aligned) is what silicon needs.
            m.call(CODE, &[DATA + 4, 5])
                .unwrap_or_else(|e| panic!("{core}: aligned `{src}` failed: {e}"));
            // The first instruction that accesses memory is at CODE unless it is `mov`.
            let first_access_pc = if src.starts_with("mov") { CODE + 2 } else { CODE };
            match m.call(CODE, &[DATA + 2, 5]) {
                Err(EmuError::Misaligned { addr, write: w, pc, align, .. }) => {
                    assert_eq!(
                        (addr, w, pc, align),
                        (u64::from(DATA + 2), write, first_access_pc, 4)
                    );
                }
                other => panic!("{core}: misaligned `{src}` gave {other:?}"),
            }
        }
    }
}

#[test]
fn thumb_aligned_ldrd_reads_both_words() {
    let code = thumb("ldrd r2, r3, [r0]\nadds r0, r2, r3\nbx lr");
    let mut m = machine(Core::CortexM3, &code);
    m.write_u32(DATA + 4, 20).unwrap();
    m.write_u32(DATA + 8, 22).unwrap();
    assert_eq!(m.call(CODE, &[DATA + 4]).unwrap().ret as u32, 42);
}

#[test]
fn thumb_exclusive_halfword_needs_halfword_alignment() {
    let code = thumb("ldrexh r1, [r0]\nmov r0, r1\nbx lr");
    let mut m = machine(Core::CortexM4, &code);
    m.write(DATA + 2, &[0x34, 0x12]).unwrap();
    assert_eq!(m.call(CODE, &[DATA + 2]).unwrap().ret as u32, 0x1234);
    expect_misaligned(m.call(CODE, &[DATA + 1]), DATA + 1, false);
    // Bytes have no alignment.
    let code = thumb("ldrexb r1, [r0]\nmov r0, r1\nbx lr");
    let mut m = machine(Core::CortexM4, &code);
    m.write(DATA + 3, &[0x77]).unwrap();
    assert_eq!(m.call(CODE, &[DATA + 3]).unwrap().ret as u32, 0x77);
}

#[test]
fn thumb_single_loads_and_stores_may_be_unaligned() {
    // ARMv7-M allows unaligned LDR/STR/LDRH/STRH (with CCR.UNALIGN_TRP clear).
    let code = thumb("str r1, [r0]\nldr r0, [r0]\nbx lr");
    for core in ARM {
        let r = machine(core, &code).call(CODE, &[DATA + 1, 0xA5A5_1234]).unwrap();
        assert_eq!(r.ret as u32, 0xA5A5_1234, "{core}");
    }
}

#[test]
fn thumb_fpu_and_coprocessor_instructions_fail() {
    for core in ARM {
        for src in ["vadd.f32 s0, s0, s1\nbx lr", "vmov s0, r0\nbx lr", "vldr s0, [r0]\nbx lr"] {
            let code = thumb(src);
            expect_forbidden(machine(core, &code).call(CODE, &[DATA]), Forbidden::FloatingPoint);
        }
        let code = thumb("mrc p15, 0, r0, c0, c0, 0\nbx lr");
        expect_forbidden(machine(core, &code).call(CODE, &[]), Forbidden::Coprocessor);
    }
}

#[test]
fn thumb_dsp_instructions_need_the_m4() {
    // This also shows that the Cortex-M3 model, not the M33 that Unicorn's MCLASS mode
    // forces, is the one running.
    let code = thumb("sadd8 r0, r0, r1\nbx lr");
    let r = machine(Core::CortexM4, &code).call(CODE, &[0x0102_0304, 0x1010_1010]).unwrap();
    assert_eq!(r.ret as u32, 0x1112_1314);
    match machine(Core::CortexM3, &code).call(CODE, &[0, 0]) {
        Err(EmuError::InvalidInstruction { pc }) => assert_eq!(pc, CODE),
        other => panic!("sadd8 on the M3 gave {other:?}"),
    }
}

#[test]
fn rv32_halfword_and_word_accesses_need_natural_alignment() {
    let cases = [
        (".option norvc\nlw a0, 0(a0)\nret", 4, false),
        (".option norvc\nlh a0, 0(a0)\nret", 2, false),
        (".option norvc\nlhu a0, 0(a0)\nret", 2, false),
        (".option norvc\nsw a1, 0(a0)\nret", 4, true),
        (".option norvc\nsh a1, 0(a0)\nret", 2, true),
        ("c.lw a0, 0(a0)\nret", 4, false),
        ("c.sw a1, 0(a0)\nret", 4, true),
        ("mv t0, sp\nmv sp, a0\nc.lwsp a0, 0(sp)\nmv sp, t0\nret", 4, false),
    ];
    for core in RV {
        for (src, size, write) in cases {
            let code = rv("rv32imc", src);
            let mut m = machine(core, &code);
            m.call(CODE, &[DATA + size, 7])
                .unwrap_or_else(|e| panic!("{core}: aligned `{src}` failed: {e}"));
            let addr = DATA + size / 2 + 4;
            match m.call(CODE, &[addr, 7]) {
                Err(EmuError::Misaligned { addr: a, write: w, align, .. }) => {
                    assert_eq!((a, w, u32::from(align)), (u64::from(addr), write, size), "{src}");
                }
                other => panic!("{core}: misaligned `{src}` gave {other:?}"),
            }
        }
    }
}

#[test]
fn rv32_bytes_have_no_alignment() {
    let code = rv("rv32imc", "sb a1, 0(a0)\nlbu a0, 0(a0)\nret");
    let r = machine(Core::Rv32imc, &code).call(CODE, &[DATA + 3, 0x1A5]).unwrap();
    assert_eq!(r.ret as u32, 0xA5);
}

#[test]
fn rv32_atomics_need_the_a_extension() {
    let code = rv("rv32imac", "amoadd.w a0, a1, (a0)\nret");
    let mut m = machine(Core::Rv32imac, &code);
    m.write_u32(DATA, 40).unwrap();
    let r = m.call(CODE, &[DATA, 2]).unwrap();
    assert_eq!(r.ret as u32, 40);
    assert_eq!(m.read_u32(DATA).unwrap(), 42);
    expect_forbidden(machine(Core::Rv32imc, &code).call(CODE, &[DATA, 2]), Forbidden::Atomic);
    let code = rv("rv32imac", "lr.w a0, (a0)\nret");
    expect_forbidden(machine(Core::Rv32imc, &code).call(CODE, &[DATA]), Forbidden::Atomic);
}

#[test]
fn rv32_floating_point_fails_on_every_core() {
    for src in ["fadd.s fa0, fa0, fa1\nret", "flw fa0, 0(a0)\nret", "c.fld fa0, 0(a0)\nret"] {
        let code = rv("rv32imafdc", src);
        for core in RV {
            expect_forbidden(machine(core, &code).call(CODE, &[DATA]), Forbidden::FloatingPoint);
        }
    }
    let code = rv("rv32imafc_zicsr", "csrr a0, fcsr\nret");
    expect_forbidden(machine(Core::Rv32imac, &code).call(CODE, &[]), Forbidden::FloatingPoint);
}
