//! One test per rejection rule: each asserts the error kind and the pc.

use femtoc_isa::program::{DataKind, DataRegion, Program};
use femtoc_isa::verifier::{
    scratch_len, verify, verify_in, SlotScratch, VerifierConfig, VerifyError, VerifyErrorKind as K,
};
use femtoc_isa::{
    AluOp, AtomicOp, DecodeError, FunctionInfo, Insn, JmpCond, MemSize, Reg, Source, Width,
};

const HELPERS: &[u32] = &[1, 2, 5];

fn code(insns: &[Insn]) -> Vec<u64> {
    insns.iter().flat_map(|i| i.encode().as_slice().to_vec()).collect()
}

fn check(insns: &[Insn]) -> Result<(), VerifyError> {
    verify(&Program::from_code(code(insns)), &VerifierConfig::new(HELPERS)).map(|_| ())
}

fn fails(insns: &[Insn]) -> VerifyError {
    match check(insns) {
        Ok(()) => panic!("program was accepted: {insns:?}"),
        Err(e) => e,
    }
}

fn mov(dst: Reg, imm: i32) -> Insn {
    Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src: Source::Imm(imm) }
}

fn movr(dst: Reg, src: Reg) -> Insn {
    Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src: Source::Reg(src) }
}

fn add(dst: Reg, imm: i32) -> Insn {
    Insn::Alu { width: Width::W64, op: AluOp::Add, dst, src: Source::Imm(imm) }
}

fn stdw(base: Reg, off: i16, src: Reg) -> Insn {
    Insn::Store { size: MemSize::DW, dst: base, off, src: Source::Reg(src) }
}

fn jeq(dst: Reg, imm: i32, off: i16) -> Insn {
    Insn::Jmp { width: Width::W64, cond: JmpCond::Eq, dst, src: Source::Imm(imm), off }
}

const EXIT: Insn = Insn::Exit;

#[test]
fn empty_program() {
    let e = verify(&Program::from_code(vec![]), &VerifierConfig::new(HELPERS)).unwrap_err();
    assert_eq!(e, VerifyError { pc: 0, kind: K::Empty });
}

#[test]
fn too_many_slots() {
    let slots = femtoc_isa::MAX_INSNS + 1;
    let exit = code(&[EXIT])[0];
    let e =
        verify(&Program::from_code(vec![exit; slots]), &VerifierConfig::new(HELPERS)).unwrap_err();
    assert_eq!(e.kind, K::TooLong(slots));
}

#[test]
fn undecodable_slot() {
    let mut c = code(&[mov(Reg::R0, 0), EXIT]);
    c.insert(1, 0xff);
    let e = verify(&Program::from_code(c), &VerifierConfig::new(HELPERS)).unwrap_err();
    assert_eq!(e, VerifyError { pc: 1, kind: K::Decode(DecodeError::UnknownOpcode(0xff)) });
}

#[test]
fn callx_is_rejected() {
    let e = fails(&[mov(Reg::R0, 0), Insn::CallReg { reg: Reg::R1 }, EXIT]);
    assert_eq!(e, VerifyError { pc: 1, kind: K::CallxUnsupported });
    assert_eq!(e.to_string(), "pc 1: callx is not supported");
}

#[test]
fn writes_to_r10_are_rejected() {
    let e = fails(&[mov(Reg::R0, 0), mov(Reg::R10, 0), EXIT]);
    assert_eq!(e, VerifyError { pc: 1, kind: K::WriteToR10 });
    let load = Insn::Load { size: MemSize::W, dst: Reg::R10, src: Reg::R1, off: 0 };
    assert_eq!(fails(&[mov(Reg::R0, 0), load, EXIT]).pc, 1);
    let fetch = Insn::Atomic {
        size: MemSize::DW,
        op: AtomicOp::Add,
        fetch: true,
        dst: Reg::R1,
        src: Reg::R10,
        off: 0,
    };
    assert_eq!(fails(&[mov(Reg::R0, 0), mov(Reg::R0, 0), fetch, EXIT]).kind, K::WriteToR10);
    let lddw = Insn::LoadImm64 { dst: Reg::R10, imm: 7 };
    assert_eq!(fails(&[lddw, EXIT]), VerifyError { pc: 0, kind: K::WriteToR10 });
}

#[test]
fn call_target_outside_program() {
    let e = fails(&[mov(Reg::R0, 0), Insn::CallLocal { off: 5 }, EXIT]);
    assert_eq!(e, VerifyError { pc: 1, kind: K::CallOutOfProgram(7) });
    let e = fails(&[Insn::CallLocal { off: -2 }, EXIT]);
    assert_eq!(e, VerifyError { pc: 0, kind: K::CallOutOfProgram(-1) });
}

#[test]
fn call_into_second_slot_of_lddw() {
    // slots: 0 call, 1 exit, 2-3 lddw, 4 exit; the call targets slot 3.
    let e =
        fails(&[Insn::CallLocal { off: 2 }, EXIT, Insn::LoadImm64 { dst: Reg::R0, imm: 1 }, EXIT]);
    assert_eq!(e, VerifyError { pc: 0, kind: K::CallIntoLddw(3) });
}

#[test]
fn jump_target_outside_program() {
    let e = fails(&[mov(Reg::R0, 0), Insn::Ja { off: 3 }, EXIT]);
    assert_eq!(e, VerifyError { pc: 1, kind: K::JumpOutOfProgram(5) });
    let e = fails(&[mov(Reg::R0, 0), jeq(Reg::R0, 0, -3), EXIT]);
    assert_eq!(e, VerifyError { pc: 1, kind: K::JumpOutOfProgram(-1) });
}

#[test]
fn jump_into_second_slot_of_lddw() {
    let e = fails(&[Insn::Ja { off: 1 }, Insn::LoadImm64 { dst: Reg::R0, imm: 1 }, EXIT]);
    assert_eq!(e, VerifyError { pc: 0, kind: K::JumpIntoLddw(2) });
}

#[test]
fn jump_into_another_function() {
    // entry: 0 call +2 (-> 3), 1 ja +1 (-> 3, the callee), 2 exit; callee 3..5.
    let e = fails(&[Insn::CallLocal { off: 2 }, Insn::Ja { off: 1 }, EXIT, mov(Reg::R0, 1), EXIT]);
    assert_eq!(e, VerifyError { pc: 1, kind: K::JumpOutOfFunction { target: 3, function: 0 } });
}

#[test]
fn falling_off_the_end() {
    assert_eq!(fails(&[mov(Reg::R0, 0)]), VerifyError { pc: 0, kind: K::FallsOffFunction(0) });
    // The callee at 3 falls through into the function at 5.
    let e = fails(&[
        Insn::CallLocal { off: 2 },
        Insn::CallLocal { off: 3 },
        EXIT,
        mov(Reg::R0, 1),
        mov(Reg::R0, 2),
        mov(Reg::R0, 3),
        EXIT,
    ]);
    assert_eq!(e, VerifyError { pc: 4, kind: K::FallsOffFunction(3) });
}

#[test]
fn unknown_helper() {
    let e = fails(&[Insn::Call { id: 1 }, Insn::Call { id: 3 }, EXIT]);
    assert_eq!(e, VerifyError { pc: 1, kind: K::UnknownHelper(3) });
}

fn with_data(insns: &[Insn], sizes: &[u32]) -> Result<(), VerifyError> {
    let mut p = Program::from_code(code(insns));
    p.data = sizes
        .iter()
        .map(|&size| DataRegion {
            name: ".bss".into(),
            kind: DataKind::Zeroed,
            image: vec![],
            size,
        })
        .collect();
    verify(&p, &VerifierConfig::new(HELPERS)).map(|_| ())
}

#[test]
fn data_region_checks() {
    let load = |region, offset| Insn::LoadDataAddr { dst: Reg::R0, region, offset };
    assert!(with_data(&[load(1, 16), EXIT], &[4, 16]).is_ok());
    let e = with_data(&[mov(Reg::R0, 0), load(2, 0), EXIT], &[4, 16]).unwrap_err();
    assert_eq!(e, VerifyError { pc: 1, kind: K::NoSuchDataRegion { region: 2, count: 2 } });
    let e = with_data(&[load(0, 5), EXIT], &[4, 16]).unwrap_err();
    assert_eq!(
        e,
        VerifyError { pc: 0, kind: K::DataOffsetOutOfRange { region: 0, offset: 5, size: 4 } }
    );
}

#[test]
fn recursion() {
    // entry calls f (2); f calls g (4); g calls f.
    let e = fails(&[
        Insn::CallLocal { off: 1 },
        EXIT,
        Insn::CallLocal { off: 1 },
        EXIT,
        Insn::CallLocal { off: -3 },
        EXIT,
    ]);
    assert_eq!(e, VerifyError { pc: 4, kind: K::Recursion(2) });
    let e = fails(&[Insn::CallLocal { off: 1 }, EXIT, Insn::CallLocal { off: -1 }, EXIT]);
    assert_eq!(e, VerifyError { pc: 2, kind: K::Recursion(2) });
}

/// A chain of `n` functions, each calling the next: function k starts at 2k.
fn chain(n: usize) -> Vec<Insn> {
    let mut v = Vec::new();
    for k in 0..n {
        v.push(if k + 1 < n { Insn::CallLocal { off: 1 } } else { mov(Reg::R0, 0) });
        v.push(EXIT);
    }
    v
}

#[test]
fn call_chain_too_deep() {
    assert!(check(&chain(8)).is_ok());
    let e = fails(&chain(9));
    assert_eq!(e, VerifyError { pc: 14, kind: K::CallTooDeep { frames: 9, max: 8 } });
}

#[test]
fn uninitialised_reads() {
    let e = fails(&[movr(Reg::R0, Reg::R3), EXIT]);
    assert_eq!(e, VerifyError { pc: 0, kind: K::UninitRegister(Reg::R3) });
    assert_eq!(fails(&[EXIT]), VerifyError { pc: 0, kind: K::UninitRegister(Reg::R0) });
    // r1 is clobbered by a helper call.
    let e = fails(&[Insn::Call { id: 1 }, movr(Reg::R0, Reg::R1), EXIT]);
    assert_eq!(e, VerifyError { pc: 1, kind: K::UninitRegister(Reg::R1) });
    // r4 is written on one path only.
    let e = fails(&[jeq(Reg::R1, 0, 1), mov(Reg::R4, 1), movr(Reg::R0, Reg::R4), EXIT]);
    assert_eq!(e, VerifyError { pc: 2, kind: K::UninitRegister(Reg::R4) });
    // Non-mov ALU reads its destination.
    let add_r5 = Insn::Alu { width: Width::W32, op: AluOp::Add, dst: Reg::R5, src: Source::Imm(1) };
    assert_eq!(fails(&[add_r5, EXIT]).kind, K::UninitRegister(Reg::R5));
    // cmpxchg reads r0.
    let cas = Insn::Atomic {
        size: MemSize::W,
        op: AtomicOp::CmpXchg,
        fetch: true,
        dst: Reg::R10,
        src: Reg::R1,
        off: -8,
    };
    assert_eq!(fails(&[cas, EXIT]), VerifyError { pc: 0, kind: K::UninitRegister(Reg::R0) });
}

#[test]
fn callee_sees_intersection_of_call_sites() {
    // Site 0 passes r3, site 2 does not; the callee at 4 reads r3.
    let e = fails(&[
        mov(Reg::R3, 1),
        Insn::CallLocal { off: 2 },
        Insn::CallLocal { off: 1 },
        EXIT,
        movr(Reg::R0, Reg::R3),
        EXIT,
    ]);
    assert_eq!(e, VerifyError { pc: 4, kind: K::UninitRegister(Reg::R3) });
    // Callee-saved registers are not initialised in the callee.
    let e =
        fails(&[mov(Reg::R6, 1), Insn::CallLocal { off: 1 }, EXIT, movr(Reg::R0, Reg::R6), EXIT]);
    assert_eq!(e, VerifyError { pc: 3, kind: K::UninitRegister(Reg::R6) });
}

#[test]
fn access_above_the_frame() {
    let e = fails(&[mov(Reg::R0, 0), stdw(Reg::R10, -4, Reg::R0), EXIT]);
    assert_eq!(e, VerifyError { pc: 1, kind: K::AccessAboveFrame { offset: -4, size: 8 } });
    let e = fails(&[
        movr(Reg::R2, Reg::R10),
        add(Reg::R2, 8),
        mov(Reg::R0, 0),
        stdw(Reg::R2, -8, Reg::R0),
        EXIT,
    ]);
    assert_eq!(e, VerifyError { pc: 3, kind: K::AccessAboveFrame { offset: 0, size: 8 } });
}

#[test]
fn access_below_the_stack() {
    let stb = Insn::Store { size: MemSize::B, dst: Reg::R10, off: -513, src: Source::Imm(0) };
    let e = fails(&[mov(Reg::R0, 0), stb, EXIT]);
    assert_eq!(
        e,
        VerifyError { pc: 1, kind: K::AccessBelowStack { offset: -513, stack_size: 512 } }
    );
    let ok = Insn::Store { size: MemSize::B, dst: Reg::R10, off: -512, src: Source::Imm(0) };
    assert!(check(&[mov(Reg::R0, 0), ok, EXIT]).is_ok());
}

#[test]
fn local_call_from_untracked_frame() {
    // A frame pointer offset by a run-time value, then a local call.
    let e = fails(&[
        movr(Reg::R1, Reg::R10),
        Insn::Alu { width: Width::W64, op: AluOp::Add, dst: Reg::R1, src: Source::Reg(Reg::R2) },
        Insn::Call { id: 1 },
        Insn::CallLocal { off: 1 },
        EXIT,
        mov(Reg::R0, 0),
        EXIT,
    ]);
    assert_eq!(e, VerifyError { pc: 3, kind: K::CallFromUntrackedFrame });
}

#[test]
fn call_tree_exceeding_the_stack() {
    // entry: frame 400; callee at 4: frame 200.
    let e = fails(&[
        mov(Reg::R0, 0),
        stdw(Reg::R10, -400, Reg::R0),
        Insn::CallLocal { off: 1 },
        EXIT,
        mov(Reg::R0, 0),
        stdw(Reg::R10, -200, Reg::R0),
        EXIT,
    ]);
    assert_eq!(e, VerifyError { pc: 4, kind: K::StackOverflow { needed: 600, available: 512 } });
    assert_eq!(e.to_string(), "pc 4: call tree needs 600 bytes of stack, 512 available");
}

#[test]
fn scratch_too_small_is_an_error() {
    let c = code(&[mov(Reg::R0, 0), mov(Reg::R0, 1), EXIT]);
    let mut scratch = [SlotScratch::EMPTY; 2];
    let mut functions = [FunctionInfo::default(); 1];
    let e = verify_in(&c, &VerifierConfig::new(HELPERS), &mut scratch, &mut functions).unwrap_err();
    assert_eq!(e.kind, K::ScratchTooSmall { needed: scratch_len(3), given: 2 });
}

#[test]
fn function_table_too_small_is_an_error() {
    let c = code(&chain(3));
    let mut scratch = [SlotScratch::EMPTY; 6];
    let mut functions = [FunctionInfo::default(); 2];
    let e = verify_in(&c, &VerifierConfig::new(HELPERS), &mut scratch, &mut functions).unwrap_err();
    assert_eq!(e, VerifyError { pc: 4, kind: K::TooManyFunctions { needed: 3, given: 2 } });
}
