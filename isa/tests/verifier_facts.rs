//! What the verifier proves about accepted programs: functions, frames,
//! stack usage, blocks, back-edges, the minimum context length, warnings.

use femtoc_isa::program::Program;
use femtoc_isa::verifier::{
    scratch_len, verify, verify_in, BasicBlock, SlotScratch, VerifiedProgram, VerifierConfig,
    Warning, WarningKind, SCRATCH_BYTES_PER_SLOT,
};
use femtoc_isa::{AluOp, FunctionInfo, Insn, JmpCond, MemSize, Reg, Source, Width};

const HELPERS: &[u32] = &[1, 2, 5];

fn code(insns: &[Insn]) -> Vec<u64> {
    insns.iter().flat_map(|i| i.encode().as_slice().to_vec()).collect()
}

fn ok(insns: &[Insn]) -> VerifiedProgram {
    match verify(&Program::from_code(code(insns)), &VerifierConfig::new(HELPERS)) {
        Ok(v) => v,
        Err(e) => panic!("rejected: {e}"),
    }
}

fn mov(dst: Reg, imm: i32) -> Insn {
    Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src: Source::Imm(imm) }
}

fn movr(dst: Reg, src: Reg) -> Insn {
    Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src: Source::Reg(src) }
}

fn alu(op: AluOp, dst: Reg, src: Source) -> Insn {
    Insn::Alu { width: Width::W64, op, dst, src }
}

fn add(dst: Reg, imm: i32) -> Insn {
    alu(AluOp::Add, dst, Source::Imm(imm))
}

fn st(size: MemSize, base: Reg, off: i16) -> Insn {
    Insn::Store { size, dst: base, off, src: Source::Imm(0) }
}

fn ld(size: MemSize, dst: Reg, base: Reg, off: i16) -> Insn {
    Insn::Load { size, dst, src: base, off }
}

fn jcond(cond: JmpCond, dst: Reg, imm: i32, off: i16) -> Insn {
    Insn::Jmp { width: Width::W64, cond, dst, src: Source::Imm(imm), off }
}

const EXIT: Insn = Insn::Exit;

#[test]
fn callee_saved_registers_survive_local_calls() {
    let v = ok(&[
        mov(Reg::R6, 1),
        mov(Reg::R7, 2),
        mov(Reg::R8, 3),
        mov(Reg::R9, 4),
        mov(Reg::R1, 7),
        Insn::CallLocal { off: 5 },
        alu(AluOp::Add, Reg::R0, Source::Reg(Reg::R6)),
        alu(AluOp::Add, Reg::R0, Source::Reg(Reg::R7)),
        alu(AluOp::Add, Reg::R0, Source::Reg(Reg::R8)),
        alu(AluOp::Add, Reg::R0, Source::Reg(Reg::R9)),
        EXIT,
        // The callee reads its argument and writes callee-saved registers of its own.
        movr(Reg::R0, Reg::R1),
        mov(Reg::R6, 9),
        alu(AluOp::Add, Reg::R0, Source::Reg(Reg::R6)),
        EXIT,
    ]);
    let starts: Vec<u32> = v.functions.iter().map(|f| f.start).collect();
    assert_eq!(starts, [0, 11]);
    assert_eq!(v.functions[0].end, 11);
    assert_eq!(v.functions[1].end, 15);
    assert!(v.warnings.is_empty());
    let r = v.as_ref();
    assert_eq!(r.function_at(13).map(|f| f.start), Some(11));
    assert_eq!(r.function_at(10).map(|f| f.start), Some(0));
}

#[test]
fn nested_frames_add_up() {
    // entry: 12 bytes deep (rounded to 16); f: 24 deep; g: 8 deep.
    let v = ok(&[
        st(MemSize::W, Reg::R10, -12),
        Insn::CallLocal { off: 1 },
        EXIT,
        // f at 3
        st(MemSize::DW, Reg::R10, -24),
        st(MemSize::B, Reg::R10, -1),
        Insn::CallLocal { off: 1 },
        EXIT,
        // g at 7
        st(MemSize::DW, Reg::R10, -8),
        mov(Reg::R0, 0),
        EXIT,
    ]);
    let f: Vec<(u32, u32, bool)> =
        v.functions.iter().map(|f| (f.frame_size, f.max_entry_depth, f.frame_tracked)).collect();
    assert_eq!(f, [(16, 0, true), (24, 16, true), (8, 40, true)]);
    assert_eq!(v.stack_usage, 48);
}

#[test]
fn deepest_call_path_decides_entry_depth() {
    // entry (frame 64) calls g directly and through f (frame 8): g's entry
    // depth is the deeper path, 72.
    let v = ok(&[
        st(MemSize::DW, Reg::R10, -64),
        Insn::CallLocal { off: 2 },
        Insn::CallLocal { off: 4 },
        EXIT,
        // f at 4
        st(MemSize::DW, Reg::R10, -8),
        Insn::CallLocal { off: 1 },
        EXIT,
        // g at 7
        mov(Reg::R0, 0),
        EXIT,
    ]);
    assert_eq!(v.functions[2].max_entry_depth, 72);
    assert_eq!(v.functions[2].frame_size, 0);
    assert_eq!(v.stack_usage, 72);
}

#[test]
fn frame_pointer_copies_are_tracked() {
    let v = ok(&[
        movr(Reg::R3, Reg::R10),
        add(Reg::R3, -32),
        alu(AluOp::Sub, Reg::R3, Source::Imm(8)),
        st(MemSize::DW, Reg::R3, 0),
        movr(Reg::R4, Reg::R3),
        ld(MemSize::W, Reg::R0, Reg::R4, 4),
        EXIT,
    ]);
    assert!(v.functions[0].frame_tracked);
    assert_eq!(v.functions[0].frame_size, 40);
    assert_eq!(v.stack_usage, 40);
}

#[test]
fn frame_pointer_passed_to_a_helper_counts_its_depth() {
    let v = ok(&[
        movr(Reg::R1, Reg::R10),
        add(Reg::R1, -16),
        mov(Reg::R2, 16),
        Insn::Call { id: 2 },
        EXIT,
    ]);
    assert!(v.functions[0].frame_tracked);
    assert_eq!(v.functions[0].frame_size, 16);
    assert_eq!(v.stack_usage, 16);
}

#[test]
fn escaping_frame_pointer_takes_the_rest_of_the_stack() {
    // r10 plus a run-time value: tracking cannot know the deepest byte.
    let v = ok(&[
        movr(Reg::R1, Reg::R10),
        alu(AluOp::Add, Reg::R1, Source::Reg(Reg::R2)),
        mov(Reg::R2, 16),
        Insn::Call { id: 2 },
        EXIT,
    ]);
    assert!(!v.functions[0].frame_tracked);
    assert_eq!(v.functions[0].frame_size, 512);
    assert_eq!(v.stack_usage, 512);
}

#[test]
fn conflicting_offsets_make_a_used_pointer_untracked() {
    // r2 is r10-8 or r10-16 at the join.
    let body = |tail: &[Insn]| {
        let mut v = vec![
            movr(Reg::R2, Reg::R10),
            add(Reg::R2, -8),
            jcond(JmpCond::Eq, Reg::R1, 0, 1),
            add(Reg::R2, -8),
        ];
        v.extend_from_slice(tail);
        v
    };
    let used = ok(&body(&[ld(MemSize::DW, Reg::R0, Reg::R2, 0), EXIT]));
    assert!(!used.functions[0].frame_tracked);
    // Overwritten without being read: the function stays tracked.
    let dead = ok(&body(&[mov(Reg::R2, 0), mov(Reg::R0, 0), EXIT]));
    assert!(dead.functions[0].frame_tracked);
    assert_eq!(dead.functions[0].frame_size, 0);
}

#[test]
fn back_edges_and_blocks() {
    let v = ok(&[
        mov(Reg::R0, 0),                     // 0
        add(Reg::R0, 1),                     // 1: loop head
        jcond(JmpCond::Lt, Reg::R0, 10, -2), // 2: back to 1
        jcond(JmpCond::Eq, Reg::R0, 3, 1),   // 3: forward to 5
        Insn::Ja { off: -5 },                // 4: back to 0
        EXIT,                                // 5
    ]);
    assert_eq!(v.back_edges, [(2, 1), (4, 0)]);
    let b: Vec<(u32, u32)> = v.blocks.iter().map(|b| (b.start, b.end)).collect();
    assert_eq!(b, [(0, 1), (1, 3), (3, 4), (4, 5), (5, 6)]);
    assert_eq!(v.blocks.first(), Some(&BasicBlock { start: 0, end: 1 }));
}

#[test]
fn unreachable_code_is_a_warning() {
    let v = ok(&[
        mov(Reg::R0, 0),
        Insn::Ja { off: 3 },
        Insn::LoadImm64 { dst: Reg::R0, imm: 1 },
        mov(Reg::R0, 2),
        EXIT,
    ]);
    assert_eq!(v.warnings, [Warning { pc: 2, kind: WarningKind::Unreachable { slots: 3 } }]);
}

#[test]
fn helpers_used_are_sorted_and_unique() {
    let v = ok(&[Insn::Call { id: 5 }, Insn::Call { id: 1 }, Insn::Call { id: 5 }, EXIT]);
    assert_eq!(v.helpers_used, [1, 5]);
}

#[test]
fn masked_shifts_and_constant_division_by_zero_are_accepted() {
    let v = ok(&[
        mov(Reg::R0, 5),
        alu(AluOp::Lsh, Reg::R0, Source::Imm(99)),
        alu(AluOp::Div, Reg::R0, Source::Imm(0)),
        alu(AluOp::Mod, Reg::R0, Source::Imm(0)),
        EXIT,
    ]);
    assert_eq!(v.stack_usage, 0);
}

#[test]
fn min_ctx_len_counts_the_straight_line_prefix() {
    let v = ok(&[
        ld(MemSize::W, Reg::R0, Reg::R1, 4), // bytes 4..8
        movr(Reg::R3, Reg::R1),
        ld(MemSize::H, Reg::R4, Reg::R3, 18), // bytes 18..20 through a copy
        jcond(JmpCond::Eq, Reg::R0, 0, 1),
        ld(MemSize::DW, Reg::R0, Reg::R1, 100), // after a branch: not counted
        EXIT,
    ]);
    assert_eq!(v.min_ctx_len, 20);
    assert_eq!(v.as_ref().min_ctx_len, 20);
}

#[test]
fn min_ctx_len_ignores_other_bases_and_negative_offsets() {
    let v = ok(&[
        ld(MemSize::DW, Reg::R0, Reg::R1, -8), // negative offset
        movr(Reg::R3, Reg::R1),
        add(Reg::R3, 4),
        ld(MemSize::DW, Reg::R0, Reg::R3, 0), // r3 is no longer exactly r1
        ld(MemSize::W, Reg::R1, Reg::R1, 0),  // bytes 0..4, then r1 is a loaded value
        ld(MemSize::DW, Reg::R0, Reg::R1, 40),
        EXIT,
    ]);
    assert_eq!(v.min_ctx_len, 4);
    let none = ok(&[Insn::Call { id: 1 }, mov(Reg::R1, 0), EXIT]);
    assert_eq!(none.min_ctx_len, 0);
}

#[test]
fn no_alloc_core_agrees_with_the_front_door() {
    let insns = [
        ld(MemSize::B, Reg::R6, Reg::R1, 2),
        st(MemSize::DW, Reg::R10, -16),
        Insn::CallLocal { off: 2 },
        movr(Reg::R0, Reg::R6),
        EXIT,
        st(MemSize::W, Reg::R10, -4),
        mov(Reg::R0, 0),
        EXIT,
    ];
    let c = code(&insns);
    let mut scratch = [SlotScratch::EMPTY; 8];
    assert!(scratch.len() >= scratch_len(c.len()));
    let mut functions = [FunctionInfo::default(); 4];
    let cfg = VerifierConfig::new(HELPERS);
    let summary = verify_in(&c, &cfg, &mut scratch, &mut functions).unwrap();
    let v = ok(&insns);
    assert_eq!(summary.functions, v.functions.len());
    assert_eq!(&functions[..summary.functions], v.functions.as_slice());
    assert_eq!(summary.stack_usage, v.stack_usage);
    assert_eq!(summary.min_ctx_len, v.min_ctx_len);
    assert_eq!(summary.min_ctx_len, 3);
    assert_eq!(summary.unreachable_insns, 0);
    assert!(scratch[5].is_function_start() && scratch[5].is_leader());
    // A reused buffer gives the same answer.
    let again = verify_in(&c, &cfg, &mut scratch, &mut functions).unwrap();
    assert_eq!(again, summary);
    // The per-slot cost stays small enough for a device.
    const { assert!(SCRATCH_BYTES_PER_SLOT <= 32) };
}

#[test]
fn custom_stack_size_and_depth() {
    let insns =
        [st(MemSize::DW, Reg::R10, -64), Insn::CallLocal { off: 1 }, EXIT, mov(Reg::R0, 0), EXIT];
    let p = Program::from_code(code(&insns));
    let small = VerifierConfig { stack_size: 32, ..VerifierConfig::new(HELPERS) };
    assert!(verify(&p, &small).is_err());
    let shallow = VerifierConfig { max_call_depth: 1, ..VerifierConfig::new(HELPERS) };
    assert!(verify(&p, &shallow).is_err());
    assert!(verify(&p, &VerifierConfig::new(HELPERS)).is_ok());
}
