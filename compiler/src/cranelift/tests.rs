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
