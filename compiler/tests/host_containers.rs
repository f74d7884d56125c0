//! Containers installed from compiler-written blobs: native code for the
//! host's ISA and the interpreter behind the same container and hook API.
//!
//! These live in the compiler crate because the runtime cannot depend on
//! the compiler (the compiler depends on the runtime).

use femtoc_compiler::blob::{write_blob, BlobSpec, CodeSpec, SigningKey};
use femtoc_compiler::cranelift::compile;
use femtoc_isa::program::{DataKind, DataRegion};
use femtoc_isa::verifier::{verify, VerifierConfig};
use femtoc_isa::VerifiedProgram;
use femtoc_runtime::blob::BlobError;
use femtoc_runtime::engine::Engine;
use femtoc_runtime::helpers::testing::{ConformanceHelpers, HelperCall, Recording, UNWIND};
use femtoc_runtime::helpers::NoHelpers;
use femtoc_runtime::host_exec::HOST_ENGINE;
use femtoc_runtime::install::{ExecMode, InstallError};
use femtoc_runtime::{
    BlobInstallError, Container, ContainerConfig, Context, HookRegistry, HostProfile, RunError,
    RunErrorKind, RunOutcome,
};

type Helpers = Recording<ConformanceHelpers>;

/// Counts runs in `.data`, accumulates ctx[0] * rodata[1] in `.bss`,
/// passes the sum through helper 5 and loops r2 times (budget events).
const STATEFUL: &str = "
    lddw %r6, data[0+0]
    ldxdw %r0, [%r6+0]
    add %r0, 1
    stxdw [%r6+0], %r0
    lddw %r7, data[1+0]
    ldxb %r3, [%r7+1]
    ldxb %r4, [%r1+0]
    mul %r3, %r4
    lddw %r8, data[2+0]
    ldxdw %r5, [%r8+8]
    add %r5, %r3
    stxdw [%r8+8], %r5
    mov %r9, 0
loop:
    add %r9, 1
    jlt %r9, %r2, loop
    mov %r1, %r0
    lsh %r1, 32
    add %r1, %r5
    add %r1, %r9
    call 5
    exit
";

/// Marks its `.bss`, then stores into the context: a fault when the
/// context is read-only, an increment of ctx[1] when it is writable.
const CTX_WRITER: &str = "
    lddw %r6, data[0+0]
    stw [%r6+0], 0x77
    ldxb %r3, [%r1+1]
    add %r3, 1
    stxb [%r1+1], %r3
    mov %r0, %r3
    exit
";

/// Stores into its read-only data region at pc 2.
const RODATA_WRITER: &str = "
    lddw %r6, data[0+0]
    stb [%r6+3], 1
    mov %r0, 0
    exit
";

fn region(kind: DataKind, image: &[u8], size: u32) -> DataRegion {
    DataRegion { name: format!("{kind:?}"), kind, image: image.to_vec(), size }
}

fn stateful_data() -> Vec<DataRegion> {
    vec![
        region(DataKind::ReadWrite, &40u64.to_le_bytes(), 8),
        region(DataKind::ReadOnly, &[3, 7, 11, 13], 4),
        region(DataKind::Zeroed, &[], 16),
    ]
}

fn verified(text: &str, data: Vec<DataRegion>) -> VerifiedProgram {
    let mut program = femtoc_isa::assemble(text).unwrap();
    program.data = data;
    verify(&program, &VerifierConfig::new(&[UNWIND])).unwrap()
}

/// The engine whose code this host runs natively.
fn host_engine() -> Engine {
    HOST_ENGINE.expect("these tests need a host with a native engine (x86_64, aarch64, riscv64)")
}

/// An engine other than the host's, for code the host cannot run.
fn foreign_engine() -> Engine {
    if host_engine() == Engine::Aarch64 {
        Engine::X86_64
    } else {
        Engine::Aarch64
    }
}

/// A blob of `v` with code for `engines` and, if asked, its bytecode.
fn blob(v: &VerifiedProgram, engines: &[Engine], bytecode: bool) -> Vec<u8> {
    let compiled: Vec<_> = engines.iter().map(|&e| compile(v, e).unwrap()).collect();
    let code: Vec<CodeSpec<'_>> = compiled
        .iter()
        .map(|c| CodeSpec {
            engine: c.engine,
            features: c.features,
            entry: c.entry,
            machine_stack: c.machine_stack,
            code: &c.code,
        })
        .collect();
    let spec = BlobSpec {
        ebpf_stack: v.stack_usage,
        min_ctx_len: v.min_ctx_len,
        helpers: &v.helpers_used,
        data: &v.program.data,
        code: &code,
        bytecode: bytecode.then_some(&v.program.code[..]),
        ..BlobSpec::default()
    };
    write_blob(&spec, None).unwrap()
}

fn install(
    bytes: &[u8],
    profile: &HostProfile<'_>,
) -> Result<Container<Helpers>, BlobInstallError> {
    let helpers = Recording::new(ConformanceHelpers);
    Container::install_blob(bytes, helpers, ContainerConfig::default(), profile)
}

/// The same program as a native and as an interpreted container.
fn pair(text: &str, data: Vec<DataRegion>) -> (Container<Helpers>, Container<Helpers>) {
    let v = verified(text, data);
    let bytes = blob(&v, &[host_engine()], true);
    let native = install(&bytes, &HostProfile::host()).unwrap();
    let interp = install(&bytes, &HostProfile::interpreter()).unwrap();
    assert_eq!(native.mode(), ExecMode::Native(host_engine()));
    assert_eq!(interp.mode(), ExecMode::Interpreted);
    assert!(native.program().is_none());
    assert!(interp.program().is_some());
    (native, interp)
}

/// What a run shows, minus `insns_executed`, which native code does not count.
fn observable(r: Result<RunOutcome, RunError>) -> Result<(u64, u64), RunError> {
    r.map(|o| (o.r0, o.budget_used))
}

#[test]
fn native_and_interpreted_containers_agree_across_runs() {
    let (mut native, mut interp) = pair(STATEFUL, stateful_data());
    let ctx = [5u8, 1, 2, 3];
    for (run, loops) in [1u64, 4, 2].into_iter().enumerate() {
        let mut results = Vec::new();
        for c in [&mut native, &mut interp] {
            let r = c.run(Context::Shared(&ctx[..loops as usize]));
            results.push(observable(r));
        }
        let n = results[0].unwrap();
        assert_eq!(results[0], results[1], "run {run}");
        // .data counts runs from 40; .bss adds ctx[0] * rodata[1] = 35 per run.
        let count = 41 + run as u64;
        let acc = 35 * (run as u64 + 1);
        assert_eq!(n, ((count << 32) + acc + loops, loops - 1), "run {run}");
        for i in 0..3 {
            assert_eq!(native.data(i), interp.data(i), "run {run}, data region {i}");
        }
        assert_eq!(native.data(0), Some(&count.to_le_bytes()[..]));
        assert_eq!(native.data(2).map(|d| &d[8..]), Some(&acc.to_le_bytes()[..]));
    }
    assert_eq!(native.data(1), Some(&[3u8, 7, 11, 13][..]), "rodata never changes");
    let calls = &native.helpers().calls;
    assert_eq!(calls.len(), 3);
    assert_eq!(calls, &interp.helpers().calls);
    assert!(calls.iter().all(|c: &HelperCall| c.id == UNWIND));
}

#[test]
fn budget_and_short_context_stop_both_alike() {
    let (mut native, mut interp) = pair(STATEFUL, stateful_data());
    let ctx = [2u8; 50];
    native.set_budget(Some(10));
    interp.set_budget(Some(10));
    let n = native.run(Context::Shared(&ctx)).unwrap_err();
    let i = interp.run(Context::Shared(&ctx)).unwrap_err();
    assert_eq!(n, i);
    assert_eq!(n.kind, RunErrorKind::BudgetExhausted);
    // A stop keeps what the run wrote before it.
    assert_eq!(native.data(0), interp.data(0));
    assert_eq!(native.data(0), Some(&41u64.to_le_bytes()[..]));

    let n = native.run(Context::None).unwrap_err();
    let i = interp.run(Context::None).unwrap_err();
    assert_eq!(n, i);
    assert!(matches!(n.kind, RunErrorKind::ContextTooShort { needed: 1, got: 0 }));
}

#[test]
fn faults_report_the_same_pc_and_kind() {
    let ro = vec![region(DataKind::ReadOnly, b"abcd", 4)];
    let (mut native, mut interp) = pair(RODATA_WRITER, ro);
    for c in [&mut native, &mut interp] {
        let base = c.data(0).unwrap().as_ptr() as u64;
        let err = c.run(Context::None).unwrap_err();
        assert_eq!(err.pc, 2, "{:?}", c.mode());
        assert_eq!(
            err.kind,
            RunErrorKind::MemoryFault { addr: base + 3, size: 1, write: true },
            "{:?}",
            c.mode()
        );
        assert_eq!(c.data(0), Some(&b"abcd"[..]));
    }
}

#[test]
fn own_context_is_writable_and_a_shared_one_is_not() {
    let bss = vec![region(DataKind::Zeroed, &[], 4)];
    let (mut native, mut interp) = pair(CTX_WRITER, bss);
    let shared = [1u8, 2, 3];
    for c in [&mut native, &mut interp] {
        let err = c.run(Context::Shared(&shared)).unwrap_err();
        let addr = shared.as_ptr() as u64 + 1;
        assert_eq!(err.pc, 5);
        assert_eq!(err.kind, RunErrorKind::MemoryFault { addr, size: 1, write: true });
        assert_eq!(c.data(0), Some(&0x77u32.to_le_bytes()[..]));

        let mut writable = [1u8, 9];
        assert_eq!(c.run(Context::Writable(&mut writable)).unwrap().r0, 10);
        assert_eq!(writable, [1, 10]);

        c.set_own_context(Some(vec![0, 100, 0]));
        // The hook's context is not visible: the own one is used, writable.
        for want in 101..=103 {
            assert_eq!(c.run(Context::Shared(&shared)).unwrap().r0, want);
        }
        assert_eq!(c.own_context(), Some(&[0u8, 103, 0][..]));
    }
    assert_eq!(shared, [1, 2, 3]);
}

#[test]
fn a_hook_isolates_a_faulting_native_container() {
    let v = verified(STATEFUL, stateful_data());
    let both = blob(&v, &[host_engine()], true);
    let writer = blob(
        &verified(CTX_WRITER, vec![region(DataKind::Zeroed, &[], 4)]),
        &[host_engine()],
        false,
    );

    let mut reg = HookRegistry::new();
    let a = reg.add(install(&both, &HostProfile::host()).unwrap());
    let b = reg.add(install(&both, &HostProfile::interpreter()).unwrap());
    let f = reg.add(install(&writer, &HostProfile::host()).unwrap());
    for id in [a, f, b] {
        reg.attach("tick", id).unwrap();
    }
    assert_eq!(reg.container(f).unwrap().mode(), ExecMode::Native(host_engine()));
    // The same program alone, as the reference for a and b.
    let mut alone = install(&both, &HostProfile::host()).unwrap();

    let ctx = [5u8, 6, 7];
    for round in 0..3 {
        let want = observable(alone.run(Context::Shared(&ctx)));
        let runs = reg.trigger("tick", Some(&ctx));
        assert_eq!(runs.iter().map(|r| r.container).collect::<Vec<_>>(), [a, f, b]);
        assert_eq!(observable(runs[0].result), want, "round {round}");
        assert_eq!(observable(runs[2].result), want, "round {round}");
        let err = runs[1].result.unwrap_err();
        assert_eq!(err.pc, 5);
        let addr = ctx.as_ptr() as u64 + 1;
        assert_eq!(err.kind, RunErrorKind::MemoryFault { addr, size: 1, write: true });
        for id in [a, b] {
            let c = reg.container(id).unwrap();
            for i in 0..3 {
                assert_eq!(c.data(i), alone.data(i), "round {round}, region {i}");
            }
            assert_eq!(c.helpers().calls, alone.helpers().calls);
        }
    }
    assert_eq!(ctx, [5, 6, 7]);
    assert_eq!(reg.container(f).unwrap().data(0), Some(&0x77u32.to_le_bytes()[..]));
    assert!(reg.container(f).unwrap().helpers().calls.is_empty());
}

#[test]
fn code_for_another_isa_falls_back_to_the_bytecode() {
    let v = verified(STATEFUL, stateful_data());
    let foreign = blob(&v, &[foreign_engine()], true);
    let mut fallback = install(&foreign, &HostProfile::host()).unwrap();
    assert_eq!(fallback.mode(), ExecMode::Interpreted);
    let mut native = install(&blob(&v, &[host_engine()], false), &HostProfile::host()).unwrap();
    let ctx = [4u8, 0, 0];
    for _ in 0..2 {
        let want = observable(native.run(Context::Shared(&ctx)));
        assert_eq!(observable(fallback.run(Context::Shared(&ctx))), want);
    }
    for i in 0..3 {
        assert_eq!(fallback.data(i), native.data(i));
    }
    assert_eq!(fallback.helpers().calls, native.helpers().calls);
}

#[test]
fn code_for_another_isa_without_bytecode_is_refused() {
    let v = verified(STATEFUL, stateful_data());
    let foreign = blob(&v, &[foreign_engine()], false);
    let err = install(&foreign, &HostProfile::host()).err();
    assert!(
        matches!(
            err,
            Some(BlobInstallError::Blob(InstallError::NothingToRun { engine }))
                if engine == host_engine()
        ),
        "{err:?}"
    );
    // Code for the host but a profile that only interprets: nothing to run either.
    let native_only = blob(&v, &[host_engine()], false);
    let err = install(&native_only, &HostProfile::interpreter()).err();
    assert!(matches!(err, Some(BlobInstallError::Blob(InstallError::NothingToRun { .. }))));
}

#[test]
fn a_corrupted_or_badly_signed_blob_is_refused_not_interpreted() {
    let v = verified(STATEFUL, stateful_data());
    let good = blob(&v, &[host_engine()], true);
    let mut bad = good.clone();
    let last = bad.len() - 5;
    bad[last] ^= 1;
    let err = install(&bad, &HostProfile::host()).err();
    assert!(matches!(err, Some(BlobInstallError::Blob(InstallError::Blob(_)))), "{err:?}");

    let key = SigningKey::from_seed([7; 32]).unwrap();
    let other = SigningKey::from_seed([8; 32]).unwrap().public_key();
    let code = compile(&v, host_engine()).unwrap();
    let section = [CodeSpec {
        engine: code.engine,
        features: code.features,
        entry: code.entry,
        machine_stack: code.machine_stack,
        code: &code.code,
    }];
    let spec = BlobSpec {
        ebpf_stack: v.stack_usage,
        min_ctx_len: v.min_ctx_len,
        helpers: &v.helpers_used,
        data: &v.program.data,
        code: &section,
        bytecode: Some(&v.program.code),
        ..BlobSpec::default()
    };
    let signed = write_blob(&spec, Some(&key)).unwrap();
    let public = key.public_key();
    let trusting = HostProfile { public_key: Some(&public), ..HostProfile::host() };
    assert_eq!(install(&signed, &trusting).unwrap().mode(), ExecMode::Native(host_engine()));
    let wary = HostProfile { public_key: Some(&other), ..HostProfile::host() };
    let err = install(&signed, &wary).err();
    assert!(
        matches!(
            err,
            Some(BlobInstallError::Blob(InstallError::Signature(BlobError::BadSignature)))
        ),
        "{err:?}"
    );
}

#[test]
fn a_helper_the_container_lacks_is_refused() {
    let v = verified(STATEFUL, stateful_data());
    let bytes = blob(&v, &[host_engine()], true);
    for profile in [HostProfile::host(), HostProfile::interpreter()] {
        let err =
            Container::install_blob(&bytes, NoHelpers, ContainerConfig::default(), &profile).err();
        assert!(
            matches!(err, Some(BlobInstallError::Blob(InstallError::MissingHelper { id: UNWIND }))),
            "{err:?}"
        );
    }
    let small = ContainerConfig { stack_size: 0, budget: None };
    let v = verified("mov %r1, 1\nstxdw [%r10-8], %r1\nldxdw %r0, [%r10-8]\nexit\n", vec![]);
    let bytes = blob(&v, &[host_engine()], true);
    let helpers = Recording::new(ConformanceHelpers);
    let err = Container::install_blob(&bytes, helpers, small, &HostProfile::host()).err();
    assert!(
        matches!(err, Some(BlobInstallError::Blob(InstallError::StackTooSmall { needed: 8, .. }))),
        "{err:?}"
    );
}
