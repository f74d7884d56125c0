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

#[test]
fn loads_sharing_a_check_group_only_within_effect_free_stretches() {
    use femtoc_isa::decode::decode_all;
    let program = verified(
        "ldxb %r3, [%r1+1]\n lsh %r3, 8\n ldxb %r0, [%r1]\n stxb [%r10-1], %r0\n \
         ldxb %r4, [%r1+2]\n stxb [%r1+3], %r4\n ldxb %r5, [%r1+4]\n mov %r1, %r5\n \
         ldxb %r5, [%r1+5]\n exit",
    );
    let insns: Vec<_> = decode_all(&program.program.code)
        .map(|d| d.map(|d| (d.pc, d.insn)).expect("decodes"))
        .collect();
    let leaders = [0usize].into_iter().collect();
    let groups =
        crate::analysis::groups::load_groups(&insns, &leaders, |_, _| true, |_| true, u32::MAX);
    // Only pcs 0 and 2: the stores end stretches, and pc 8 reads a new r1.
    let heads: Vec<_> = groups.keys().copied().collect();
    assert_eq!(heads, vec![0]);
    let pcs: Vec<_> = groups[&0].iter().map(|&(pc, _, _)| pc).collect();
    assert_eq!(pcs, vec![0, 2]);
    assert_eq!(crate::analysis::groups::span(&groups[&0]), (0, 2));
}

/// Runs `src` natively and in the interpreter over a `ctx_len`-byte
/// context with `budget`; both must give the same outcome and budget use.
/// `budget_in_memory` forces where the native code keeps its budget
/// counter (`None`: where `compile` puts it).
#[cfg(target_arch = "x86_64")]
fn same_with(
    src: &str,
    ctx_len: usize,
    budget: Option<u64>,
    budget_in_memory: Option<bool>,
) -> Result<u64, femtoc_runtime::error::RunError> {
    use femtoc_runtime::helpers::NoHelpers;
    use femtoc_runtime::host_exec::{run_host, HostCode};
    use femtoc_runtime::interp::{self, RunArgs};
    use femtoc_runtime::native::NativeProgram;
    use femtoc_runtime::region::{MemRegion, RegionKind, Regions};
    let program = verified(src);
    let c = match budget_in_memory {
        None => compile(&program, Engine::X86_64),
        Some(m) => {
            let isa = super::target_isa(Engine::X86_64).expect("isa");
            super::compile_with(&program, Engine::X86_64, &*isa, m)
        }
    }
    .expect("compiles");
    let code = HostCode::new(Engine::X86_64, &c.code, c.entry).expect("maps");
    let ctx: Vec<u8> = (0..ctx_len).map(|i| i as u8).collect();
    let mut stack = vec![0u8; 512];
    let mut regions = Regions::new(&mut stack);
    regions.push(MemRegion::read_only(RegionKind::Context, &ctx)).expect("room");
    let args = RunArgs { r1: ctx.as_ptr() as u64, r2: ctx_len as u64, budget };
    let np = NativeProgram { stack_usage: program.stack_usage, min_ctx_len: program.min_ctx_len };
    let native = run_host(&code, np, &regions, args, &mut NoHelpers);
    let interp = interp::run(&program.as_ref(), &regions, args, &mut NoHelpers);
    type Outcome = Result<femtoc_runtime::error::RunOutcome, femtoc_runtime::error::RunError>;
    let used = |r: &Outcome| match r {
        Ok(o) => o.budget_used,
        Err(e) => e.budget_used,
    };
    assert_eq!(used(&native), used(&interp), "budget used: {src}");
    let (native, interp) = (native.map(|o| o.r0), interp.map(|o| o.r0));
    assert_eq!(native, interp, "{src}");
    native
}

/// [`same_with`] with 1000 budget events and the compiler's choices.
#[cfg(target_arch = "x86_64")]
fn same_as_interpreter(src: &str, ctx_len: usize) -> Result<u64, femtoc_runtime::error::RunError> {
    same_with(src, ctx_len, Some(1000), None)
}

/// A loop whose backward jump (pc 4) is taken 4 times, then a local call
/// (pc 5): five budget events.
#[cfg(target_arch = "x86_64")]
const FIVE_EVENTS: &str = "mov %r7, 0\n mov %r6, 5\n add %r7, %r6\n \
     add %r6, -1\n jne %r6, 0, -3\n call local f\n add %r0, %r7\n exit\n \
     f:\n mov %r0, 100\n exit";

#[cfg(target_arch = "x86_64")]
#[test]
fn the_budget_stops_at_the_same_event_in_memory_and_in_a_register() {
    for in_memory in [false, true] {
        let run = |budget| same_with(FIVE_EVENTS, 4, budget, Some(in_memory));
        assert_eq!(run(Some(5)), Ok(115), "in memory: {in_memory}");
        assert_eq!(run(Some(6)), Ok(115), "in memory: {in_memory}");
        assert_eq!(run(None), Ok(115), "in memory: {in_memory}");
        let e = run(Some(4)).expect_err("the call is one event too many");
        assert_eq!(e.pc, 5, "in memory: {in_memory}");
        for b in 0..4 {
            let e = run(Some(b)).expect_err("out of budget in the loop");
            assert_eq!(e.pc, 4, "in memory: {in_memory}");
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn one_stack_limit_serves_loads_and_stores_up_to_the_stack_edges() {
    // r2 = r10 - (ctx[k] + c), which no analysis bounds: a 4-byte store
    // and load there are both checked against the stack's one limit.
    let at = |k: u8, c: u32| {
        format!(
            "mov %r2, %r10\n ldxb %r3, [%r1+{k}]\n add %r3, {c}\n sub %r2, %r3\n \
             stw [%r2], 7\n ldxw %r0, [%r2]\n exit"
        )
    };
    for in_memory in [None, Some(false), Some(true)] {
        let run = |k, c| same_with(&at(k, c), 16, Some(10), in_memory);
        // Four bytes below the top fit; three cross it; zero is past it.
        assert_eq!(run(4, 0), Ok(7));
        assert_eq!(run(3, 0).expect_err("crosses the top").pc, 4);
        assert_eq!(run(0, 0).expect_err("past the top").pc, 4);
        // The 512-byte stack's lowest word fits; one byte lower does not.
        assert_eq!(run(4, 508), Ok(7));
        assert_eq!(run(5, 508).expect_err("below the stack").pc, 4);
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn a_grouped_load_faults_at_its_own_pc() {
    // A jump first, so that min_ctx_len does not cover the loads.
    let src = "ja +0\n ldxb %r3, [%r1+1]\n ldxb %r4, [%r1+9]\n ldxb %r0, [%r1]\n \
               add %r0, %r4\n add %r0, %r3\n exit";
    assert_eq!(same_as_interpreter(src, 16), Ok(1 + 9));
    let e = same_as_interpreter(src, 8).expect_err("the second load is past the end");
    assert_eq!(e.pc, 2);
    let e = same_as_interpreter(src, 1).expect_err("the first load is past the end");
    assert_eq!(e.pc, 1);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn a_mispredicted_region_still_passes_its_check() {
    // r2 points into the stack, but the callee cannot tell: its loads are
    // predicted to hit the context, miss, and find the stack by search.
    let src = "stb [%r10-8], 7\n mov %r2, %r10\n add %r2, -8\n call local f\n exit\n\
               f:\n ldxb %r0, [%r2]\n ldxb %r3, [%r1]\n add %r0, %r3\n exit";
    assert_eq!(same_as_interpreter(src, 4), Ok(7));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn offsets_fold_into_the_check_and_the_access_at_both_ends_of_a_region() {
    // r2 = ctx + ctx[k] = ctx + k; a 4-byte load at r2 + off, whose check
    // adds the offset after the region's negated start.
    let at = |k: u8, off: i16| {
        format!("mov %r2, %r1\n ldxb %r3, [%r1+{k}]\n add %r2, %r3\n ldxw %r0, [%r2{off:+}]\n exit")
    };
    // Bytes are their index in the 16-byte context.
    let word = |from: u8| u64::from(u32::from_le_bytes([0, 1, 2, 3].map(|i| from + i)));
    for (k, off, first) in
        [(8, 4, Some(12)), (9, 4, None), (4, -4, Some(0)), (3, -4, None), (15, -4, Some(11))]
    {
        let r = same_as_interpreter(&at(k, off), 16);
        match first {
            Some(b) => assert_eq!(r, Ok(word(b)), "k {k} off {off}"),
            None => assert_eq!(r.expect_err("outside the context").pc, 3, "k {k} off {off}"),
        }
    }
}

/// The inner loops of the benchmark programs are checked once before they
/// run: a byte sum (counted, pointer up), an insertion sort's shift
/// (counted, pointer down, early exit) and two index loops.
#[test]
fn benchmark_loops_are_checked_once() {
    use femtoc_isa::elf::{load_elf, EntrySelector};
    let cases: [(&str, &[u8], &[u32]); 4] = [
        ("fletcher32", include_bytes!("../../../examples/obj/fletcher32.v3.o"), &[7]),
        ("sort", include_bytes!("../../../examples/obj/sort.v3.o"), &[8, 31, 63]),
        ("hash", include_bytes!("../../../examples/obj/hash.v3.o"), &[39]),
        ("crc32", include_bytes!("../../../examples/obj/crc32.v3.o"), &[4]),
    ];
    for (name, object, heads) in cases {
        let program = load_elf(object, EntrySelector::Default).expect("loads");
        let program = verify(&program, &VerifierConfig::new(&[])).expect("verifies");
        for engine in HOSTS {
            let c = compile(&program, engine).unwrap_or_else(|e| panic!("{name}, {engine}: {e}"));
            assert_eq!(c.hoisted_loops, heads, "{name}, {engine}");
        }
    }
}

/// Loops over context bytes (each byte is its index) checked once before
/// they run, with their sum: a counted and an index loop over 8 bytes;
/// and a counted loop over 9 bytes that leaves early, before the back
/// edge, at the byte 7 (so bytes 0 to 6). Each takes seven back edges.
#[cfg(target_arch = "x86_64")]
const HOISTED_LOOPS: [(&str, u64); 3] = [
    (
        "ja +0\n mov %r0, 0\n mov %r2, %r1\n mov %r3, 8\n ldxb %r4, [%r2]\n add %r0, %r4\n \
         add %r2, 1\n add %r3, -1\n jne %r3, 0, -5\n exit",
        28,
    ),
    (
        "ja +0\n mov %r0, 0\n mov %r3, 0\n mov %r2, %r1\n add %r2, %r3\n ldxb %r4, [%r2]\n \
         add %r0, %r4\n add %r3, 1\n jlt %r3, 8, -6\n exit",
        28,
    ),
    (
        "ja +0\n mov %r0, 0\n mov %r2, %r1\n mov %r3, 9\n ldxb %r4, [%r2]\n jeq %r4, 7, +4\n \
         add %r0, %r4\n add %r2, 1\n add %r3, -1\n jne %r3, 0, -6\n exit",
        21,
    ),
];

#[cfg(target_arch = "x86_64")]
#[test]
fn a_hoisted_loop_stops_at_the_same_back_edge_as_the_interpreter() {
    for (src, sum) in HOISTED_LOOPS {
        let c = compile(&verified(src), Engine::X86_64).expect("compiles");
        assert_eq!(c.hoisted_loops.len(), 1, "{src}");
        for in_memory in [false, true] {
            let run = |budget| same_with(src, 9, budget, Some(in_memory));
            for budget in [None, Some(7), Some(8), Some(u64::MAX)] {
                assert_eq!(run(budget), Ok(sum), "{src}: budget {budget:?}");
            }
            for b in 0..7 {
                let e = run(Some(b)).expect_err("out of budget in the loop");
                assert_eq!(e.budget_used, b, "{src}: budget {b}");
            }
        }
    }
}
