use femtoc_isa::asm::assemble;
use femtoc_isa::verifier::{verify, VerifiedProgram, VerifierConfig};
use femtoc_runtime::engine::Engine;

use super::{compile, CompileError};

const HOSTS: [Engine; 3] = [Engine::X86_64, Engine::Aarch64, Engine::Riscv64gc];

fn verified(src: &str) -> VerifiedProgram {
    let program = assemble(src).expect("assembles");
    verify(&program, &VerifierConfig::new(&[5])).expect("verifies")
}

/// Every kind of instruction that needs a guard, a routine or a call.
const EVERYTHING: &str = "
    mov %r6, %r1
    mov %r0, 7
    mov %r2, 0
    div %r0, %r2
    sdiv32 %r0, %r2
    mod %r0, %r2
    smod %r0, %r2
    stxdw [%r10-8], %r0
    lock add [%r10-8], %r0
    ldxdw %r3, [%r10-8]
    call local func
    call 5
    exit
func:
    mov %r0, 1
    exit
";

#[test]
fn every_host_engine_compiles_without_relocations() {
    let program = verified(EVERYTHING);
    for engine in HOSTS {
        let c = compile(&program, engine).unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert_eq!(c.engine, engine);
        assert!(!c.code.is_empty());
        assert!((c.entry as usize) < c.code.len());
        assert!(c.machine_stack >= femtoc_runtime::abi::ROUTINE_STACK_BYTES);
    }
}

#[test]
fn engines_get_their_own_machine_code() {
    let program = verified(EVERYTHING);
    let x86 = compile(&program, Engine::X86_64).expect("x86_64");
    let arm = compile(&program, Engine::Aarch64).expect("aarch64");
    assert_ne!(x86.code, arm.code);
    // AArch64 instructions are whole 32-bit words.
    assert_eq!(arm.code.len() % 4, 0);
}

#[test]
fn mcu_engines_are_not_this_backends() {
    let program = verified("mov %r0, 1\nexit");
    for engine in [Engine::Interp, Engine::Thumbv7m, Engine::Riscv32imc] {
        assert_eq!(compile(&program, engine), Err(CompileError::UnsupportedEngine(engine)));
    }
}

#[test]
fn pc_map_is_ordered_inside_the_code_and_names_every_pc() {
    let program = verified(EVERYTHING);
    let pcs: Vec<u32> = femtoc_isa::decode::decode_all(&program.program.code)
        .map(|d| d.expect("decodes").pc as u32)
        .collect();
    for engine in HOSTS {
        let c = compile(&program, engine).expect("compiles");
        let map = &c.pc_map;
        assert!(!map.is_empty(), "{engine}");
        assert!(map.windows(2).all(|w| w[0].0 <= w[1].0), "{engine}: offsets decrease: {map:?}");
        assert!(map.iter().all(|&(off, _)| (off as usize) < c.code.len()), "{engine}");
        for pc in &pcs {
            assert!(map.iter().any(|&(_, p)| p == *pc), "{engine}: pc {pc} missing from {map:?}");
        }
        let known = |p: u32| p == u32::MAX || pcs.contains(&p);
        assert!(map.iter().all(|&(_, p)| known(p)), "{engine}: unknown pc in {map:?}");
        // The entry's prologue has no pc.
        assert_eq!(map[0], (0, u32::MAX), "{engine}");
    }
}

#[test]
fn pc_map_fills_gaps_and_places_codeless_pcs_before_their_successor() {
    // pc 0 at 4..8, pc 2 at 8..12 (pc 1 has no code), a tail without pc.
    let ranges = [(4, 8, 0), (8, 12, 2), (12, 16, u32::MAX)];
    let map = super::pc_map(&ranges, &[0, 1, 2], 16);
    assert_eq!(map, vec![(0, u32::MAX), (4, 0), (8, 1), (8, 2), (12, u32::MAX)]);
}
