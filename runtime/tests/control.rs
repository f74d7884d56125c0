//! Control flow: budget rule, local calls, helpers, error kinds.

mod common;
use common::*;
use femtoc_isa::{AluOp, FunctionInfo, Insn, JmpCond, MemSize, VerifiedRef, Width};
use femtoc_runtime::helpers::fc::{id, FcEnv};
use femtoc_runtime::helpers::testing::{ConformanceHelpers, HelperCall, Recording};
use femtoc_runtime::helpers::{fail, HelperResult, HelperTable, MemoryAccess, NoHelpers};
use femtoc_runtime::{run, MemRegion, RegionKind, Regions, RunArgs, RunErrorKind};

/// r0 counts to `n` with a backward conditional jump: n - 1 budget events.
fn count_to(n: i32) -> Vec<Insn> {
    vec![mov(0, 0), alu64(AluOp::Add, 0, k(1)), jmp(Width::W64, JmpCond::Lt, 0, k(n), -2), EXIT]
}

#[test]
fn budget_allows_exactly_b_events() {
    let prog = count_to(10);
    let ok = run_full(&prog, None, Some(9), &mut NoHelpers).unwrap();
    assert_eq!((ok.r0, ok.budget_used), (10, 9));
    assert_eq!(ok.insns_executed, 1 + 10 * 2 + 1);
    let err = run_full(&prog, None, Some(8), &mut NoHelpers).unwrap_err();
    assert_eq!((err.pc, err.kind), (2, RunErrorKind::BudgetExhausted));
    let unlimited = run_full(&prog, None, None, &mut NoHelpers).unwrap();
    assert_eq!(unlimited.budget_used, 9);
}

#[test]
fn endless_loop_stops_at_its_budget() {
    let prog = [mov(0, 0), alu64(AluOp::Add, 0, k(1)), Insn::Ja { off: -2 }, EXIT];
    let err = run_full(&prog, None, Some(100), &mut NoHelpers).unwrap_err();
    assert_eq!((err.pc, err.kind), (2, RunErrorKind::BudgetExhausted));
    let self_loop = [Insn::Ja { off: -1 }, EXIT];
    let err = run_full(&self_loop, None, Some(3), &mut NoHelpers).unwrap_err();
    assert_eq!((err.pc, err.kind), (0, RunErrorKind::BudgetExhausted));
    let long = [mov(0, 1), Insn::JaLong { off: -2 }, EXIT];
    let err = run_full(&long, None, Some(0), &mut NoHelpers).unwrap_err();
    assert_eq!((err.pc, err.kind), (1, RunErrorKind::BudgetExhausted));
}

#[test]
fn forward_and_untaken_jumps_are_not_events() {
    let prog = [
        mov(0, 3),
        Insn::Ja { off: 0 },
        Insn::JaLong { off: 1 },
        mov(0, 99),
        jmp(Width::W64, JmpCond::Eq, 0, k(4), -4),
        EXIT,
    ];
    let out = run_full(&prog, None, Some(0), &mut NoHelpers).unwrap();
    assert_eq!((out.r0, out.budget_used), (3, 0));
}

#[test]
fn lddw_counts_once() {
    let out = run_plain(&[lddw(0, 5), EXIT]).unwrap();
    assert_eq!((out.r0, out.insns_executed), (5, 2));
}

/// Caller (frame 16) saves r1, sets r6..r9 and a slot, calls the callee
/// (frame 8), which clobbers r6..r9, writes its own slot and returns r10.
fn call_program() -> (Vec<u64>, Vec<FunctionInfo>) {
    let caller = [
        stx(MemSize::DW, 10, -16, 1),
        mov(6, 6),
        mov(7, 7),
        mov(8, 8),
        mov(9, 9),
        st(MemSize::DW, 10, -8, 0x11),
        Insn::CallLocal { off: 8 },
        ldx(MemSize::DW, 1, 10, -16),
        stx(MemSize::DW, 1, 0, 6),
        stx(MemSize::DW, 1, 8, 7),
        stx(MemSize::DW, 1, 16, 8),
        stx(MemSize::DW, 1, 24, 9),
        ldx(MemSize::DW, 2, 10, -8),
        stx(MemSize::DW, 1, 32, 2),
        EXIT,
    ];
    let callee = [
        mov(6, 60),
        mov(7, 70),
        mov(8, 80),
        mov(9, 90),
        st(MemSize::DW, 10, -8, 0x22),
        alu64(AluOp::Mov, 0, x(10)),
        EXIT,
    ];
    let mut insns = caller.to_vec();
    insns.extend(callee);
    let c = code(&insns);
    let f = vec![
        FunctionInfo { start: 0, end: 15, frame_size: 16, frame_tracked: true, max_entry_depth: 0 },
        FunctionInfo {
            start: 15,
            end: 22,
            frame_size: 8,
            frame_tracked: true,
            max_entry_depth: 16,
        },
    ];
    (c, f)
}

#[test]
fn local_calls_preserve_r6_to_r9_and_use_the_callers_frame_size() {
    let (c, f) = call_program();
    let prog = VerifiedRef { code: &c, functions: &f, stack_usage: 24, min_ctx_len: 0 };
    let mut stack = [0u8; 64];
    let top = stack.as_ptr() as u64 + 64;
    let mut ctx = [0u8; 40];
    let mut regions = Regions::new(&mut stack);
    let region = MemRegion::read_write(RegionKind::Context, &mut ctx);
    let args = RunArgs { r1: region.start(), r2: 40, budget: Some(1) };
    regions.push(region).unwrap();
    let out = run(&prog, &regions, args, &mut NoHelpers).unwrap();
    assert_eq!(out.r0, top - 16, "callee r10 = caller r10 - caller frame size");
    assert_eq!(out.budget_used, 1, "a local call is a budget event");
    let words: Vec<u64> =
        ctx.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(words, [6, 7, 8, 9, 0x11]);
    assert_eq!(
        u64::from_le_bytes(stack[40..48].try_into().unwrap()),
        0x22,
        "callee slot at top-24"
    );

    let regions = Regions::new(&mut stack);
    let err =
        run(&prog, &regions, RunArgs { budget: Some(0), ..args }, &mut NoHelpers).unwrap_err();
    assert_eq!((err.pc, err.kind), (6, RunErrorKind::BudgetExhausted));
}

#[test]
fn runaway_recursion_stops_without_panicking() {
    let c = code(&[Insn::CallLocal { off: -1 }, EXIT]);
    let f =
        [FunctionInfo { start: 0, end: 2, frame_size: 8, frame_tracked: true, max_entry_depth: 0 }];
    let prog = VerifiedRef { code: &c, functions: &f, stack_usage: 80, min_ctx_len: 0 };
    let mut stack = [0u8; 128];
    let regions = Regions::new(&mut stack);
    let err = run(&prog, &regions, RunArgs::default(), &mut NoHelpers).unwrap_err();
    assert_eq!(err.pc, 0);
    assert!(matches!(err.kind, RunErrorKind::InvalidProgram(_)));
}

#[test]
fn unknown_opcode_and_running_off_the_end_are_errors() {
    let f =
        [FunctionInfo { start: 0, end: 2, frame_size: 0, frame_tracked: true, max_entry_depth: 0 }];
    let c = [mov(0, 1).encode().as_slice()[0], 0xff];
    let mut stack = [0u8; 8];
    let regions = Regions::new(&mut stack);
    let prog = VerifiedRef { code: &c, functions: &f, stack_usage: 0, min_ctx_len: 0 };
    let err = run(&prog, &regions, RunArgs::default(), &mut NoHelpers).unwrap_err();
    assert_eq!(err.pc, 1);
    assert!(matches!(err.kind, RunErrorKind::InvalidProgram(_)));
    let c = code(&[mov(0, 1)]);
    let prog = VerifiedRef { code: &c, ..prog };
    assert_eq!(run(&prog, &regions, RunArgs::default(), &mut NoHelpers).unwrap_err().pc, 1);
}

#[test]
fn conformance_helper_5_returns_or_stops() {
    let stop = [mov(1, 0), Insn::Call { id: 5 }, mov(0, 99), EXIT];
    let out = run_full(&stop, None, None, &mut ConformanceHelpers).unwrap();
    assert_eq!((out.r0, out.insns_executed), (0, 2));
    let ret = [mov(1, 7), Insn::Call { id: 5 }, alu64(AluOp::Add, 0, k(1)), EXIT];
    assert_eq!(run_full(&ret, None, None, &mut ConformanceHelpers).unwrap().r0, 8);
}

#[test]
fn unknown_and_failing_helpers() {
    let err =
        run_full(&[mov(0, 0), Insn::Call { id: 9 }, EXIT], None, None, &mut NoHelpers).unwrap_err();
    assert_eq!((err.pc, err.kind), (1, RunErrorKind::UnknownHelper { id: 9 }));
    fn failing(_: &mut (), _: [u64; 5], _: &mut MemoryAccess<'_, '_>) -> HelperResult {
        HelperResult::Fail(42)
    }
    let mut table: HelperTable<()> = HelperTable::new(()).with(0x77, failing).unwrap();
    let err =
        run_full(&[mov(1, 1), Insn::Call { id: 0x77 }, EXIT], None, None, &mut table).unwrap_err();
    assert_eq!((err.pc, err.kind), (1, RunErrorKind::HelperFailed { id: 0x77, code: 42 }));
    assert!(table.register(0x77, failing).is_err(), "duplicate ids are refused");
}

#[test]
fn recording_keeps_ids_and_arguments_in_order() {
    let mut rec = Recording::new(ConformanceHelpers);
    let prog = [
        mov(1, 3),
        mov(2, -2),
        mov(3, 4),
        mov(4, 5),
        mov(5, 6),
        Insn::Call { id: 5 },
        alu64(AluOp::Mov, 1, x(0)),
        alu64(AluOp::Sub, 1, k(3)),
        Insn::Call { id: 5 },
        EXIT,
    ];
    let out = run_full(&prog, None, None, &mut rec).unwrap();
    assert_eq!(out.r0, 0);
    assert_eq!(
        rec.calls,
        [
            HelperCall { id: 5, args: [3, u64::MAX - 1, 4, 5, 6] },
            HelperCall { id: 5, args: [0, u64::MAX - 1, 4, 5, 6] },
        ]
    );
}

#[test]
fn helper_pointer_outside_regions_fails_without_touching_memory() {
    let mut table = FcEnv::default().into_table().unwrap();
    let mut buf = [0xa5u8; 24];
    let (_, rest) = buf.split_at_mut(8);
    let (ctx, _) = rest.split_at_mut(8);
    ctx.copy_from_slice(b"01234567");
    // memcpy(r1 + 8, r1, 4): the destination is just past the context.
    let prog = [
        alu64(AluOp::Mov, 2, x(1)),
        alu64(AluOp::Add, 1, k(8)),
        mov(3, 4),
        Insn::Call { id: id::MEMCPY },
        EXIT,
    ];
    let err = run_full(&prog, Some(ctx), None, &mut table).unwrap_err();
    assert_eq!(
        (err.pc, err.kind),
        (3, RunErrorKind::HelperFailed { id: id::MEMCPY, code: fail::BAD_POINTER })
    );
    // memcpy(r1, r1 - 2, 4): the source starts before the context.
    let prog = [
        alu64(AluOp::Mov, 2, x(1)),
        alu64(AluOp::Sub, 2, k(2)),
        mov(3, 4),
        Insn::Call { id: id::MEMCPY },
        EXIT,
    ];
    let (_, rest) = buf.split_at_mut(8);
    let err = run_full(&prog, Some(&mut rest[..8]), None, &mut table).unwrap_err();
    assert_eq!(err.kind, RunErrorKind::HelperFailed { id: id::MEMCPY, code: fail::BAD_POINTER });
    assert_eq!(&buf[..8], &[0xa5; 8]);
    assert_eq!(&buf[8..16], b"01234567");
    assert_eq!(&buf[16..], &[0xa5; 8]);
}

#[test]
fn memcpy_copies_overlapping_ranges_like_memmove() {
    let mut table = FcEnv::default().into_table().unwrap();
    let mut ctx = *b"abcdefgh";
    let prog = [
        alu64(AluOp::Mov, 2, x(1)),
        alu64(AluOp::Add, 1, k(2)),
        mov(3, 5),
        Insn::Call { id: id::MEMCPY },
        mov(0, 0),
        EXIT,
    ];
    run_full(&prog, Some(&mut ctx), None, &mut table).unwrap();
    assert_eq!(&ctx, b"ababcdeh");
}
