//! Containers, hooks, the standard helpers and the fixed test layout.

mod common;
use std::cell::RefCell;

use common::*;
use femtoc_isa::{AluOp, Insn, MemSize, VerifiedRef};
use femtoc_runtime::helpers::fc::{id, Clock, FcEnv, FcHelpers, KvStore, Phydat, Sensors, KV_FULL};
use femtoc_runtime::helpers::testing::ConformanceHelpers;
use femtoc_runtime::helpers::{fmt_s16_dfp, fmt_u32_dec};
use femtoc_runtime::layout::{self, ArenaSpec, FixedArena};
use femtoc_runtime::{
    run, Container, ContainerConfig, Context, DataImage, HookRegistry, InstallError, MemRegion,
    RegionKind, Regions, RunArgs, RunErrorKind,
};

fn install<H: femtoc_runtime::Helpers>(
    insns: &[Insn],
    data: &[DataImage<'_>],
    helpers: H,
    budget: Option<u64>,
) -> Container<H> {
    let c = code(insns);
    let f = one_fn(&c);
    Container::install(
        verified(&c, &f),
        data,
        helpers,
        ContainerConfig { budget, ..Default::default() },
    )
    .unwrap()
}

const BSS: DataImage<'static> = DataImage { writable: true, image: &[], size: 4 };

/// Increments the u32 in data region 0 and returns it.
fn counter() -> Vec<Insn> {
    vec![
        Insn::LoadDataAddr { dst: r(1), region: 0, offset: 0 },
        ldx(MemSize::W, 0, 1, 0),
        alu64(AluOp::Add, 0, k(1)),
        stx(MemSize::W, 1, 0, 0),
        EXIT,
    ]
}

#[test]
fn data_persists_across_runs_and_rodata_is_initialised() {
    let mut c = install(&counter(), &[BSS], ConformanceHelpers, None);
    for want in 1..=3 {
        assert_eq!(c.run(Context::None).unwrap().r0, want);
    }
    assert_eq!(c.data(0), Some(&3u32.to_le_bytes()[..]));

    let ro = DataImage { writable: false, image: b"hi", size: 4 };
    let prog = [
        Insn::LoadDataAddr { dst: r(1), region: 0, offset: 1 },
        ldx(MemSize::H, 0, 1, 0),
        st(MemSize::B, 1, 0, 1),
        EXIT,
    ];
    let mut c = install(&prog, &[ro], ConformanceHelpers, None);
    let err = c.run(Context::None).unwrap_err();
    assert_eq!(err.pc, 3);
    assert!(matches!(err.kind, RunErrorKind::MemoryFault { write: true, size: 1, .. }));
    assert_eq!(c.data(0), Some(&b"hi\0\0"[..]));
}

#[test]
fn install_checks_helpers_images_and_stack() {
    let c = code(&[Insn::Call { id: 0x99 }, EXIT]);
    let f = one_fn(&c);
    let err =
        Container::install(verified(&c, &f), &[], ConformanceHelpers, ContainerConfig::default())
            .err();
    assert_eq!(err, Some(InstallError::UnknownHelper { pc: 0, id: 0x99 }));
    let c = code(&[mov(0, 0), EXIT]);
    let f = one_fn(&c);
    let big = DataImage { writable: true, image: b"12345", size: 4 };
    let err = Container::install(
        verified(&c, &f),
        &[big],
        ConformanceHelpers,
        ContainerConfig::default(),
    )
    .err();
    assert!(matches!(err, Some(InstallError::ImageTooLarge { index: 0, .. })));
    let small = ContainerConfig { stack_size: 256, budget: None };
    let err = Container::install(verified(&c, &f), &[], ConformanceHelpers, small).err();
    assert_eq!(err, Some(InstallError::StackTooSmall { needed: STACK as u32, got: 256 }));
}

#[test]
fn hook_runs_all_containers_in_order_and_isolates_faults() {
    let mut reg = HookRegistry::new();
    // 1: counts in its .bss.  2: writes its .bss, then the read-only hook
    // context (faults).  3: loops past its budget.  4: returns ctx[0].
    let a = reg.add(install(&counter(), &[BSS], ConformanceHelpers, None));
    let writer = [
        Insn::LoadDataAddr { dst: r(2), region: 0, offset: 0 },
        st(MemSize::W, 2, 0, 0x77),
        st(MemSize::B, 1, 0, 0x55),
        mov(0, 0),
        EXIT,
    ];
    let b = reg.add(install(&writer, &[BSS], ConformanceHelpers, None));
    let spin = [mov(0, 0), Insn::Ja { off: -1 }, EXIT];
    let c = reg.add(install(&spin, &[], ConformanceHelpers, Some(10)));
    let d = reg.add(install(&[ldx(MemSize::B, 0, 1, 0), EXIT], &[], ConformanceHelpers, None));
    for id in [a, b, c, d] {
        reg.attach("tick", id).unwrap();
    }
    let ctx = [9u8, 8, 7];
    let runs = reg.trigger("tick", Some(&ctx));
    assert_eq!(runs.iter().map(|r| r.container).collect::<Vec<_>>(), [a, b, c, d]);
    assert_eq!(runs[0].result.unwrap().r0, 1);
    let err = runs[1].result.unwrap_err();
    assert_eq!(err.pc, 3);
    assert_eq!(
        err.kind,
        RunErrorKind::MemoryFault { addr: ctx.as_ptr() as u64, size: 1, write: true }
    );
    assert_eq!(
        (runs[2].result.unwrap_err().pc, runs[2].result.unwrap_err().kind),
        (1, RunErrorKind::BudgetExhausted)
    );
    assert_eq!(runs[3].result.unwrap().r0, 9);
    assert_eq!(ctx, [9, 8, 7], "the hook context is read-only");
    // The faulting container's own writable memory keeps what it wrote.
    assert_eq!(reg.container(b).unwrap().data(0), Some(&0x77u32.to_le_bytes()[..]));
    assert_eq!(reg.container(a).unwrap().data(0), Some(&1u32.to_le_bytes()[..]));
    assert!(reg.trigger("other", Some(&ctx)).is_empty());
    assert!(reg.detach("tick", b));
    assert_eq!(reg.attached("tick"), [a, c, d]);
}

#[test]
fn own_context_is_writable_and_replaces_the_hook_context() {
    let mut reg = HookRegistry::new();
    let prog =
        [ldx(MemSize::B, 0, 1, 0), alu64(AluOp::Add, 0, k(1)), stx(MemSize::B, 1, 0, 0), EXIT];
    let id = reg.add(install(&prog, &[], ConformanceHelpers, None));
    reg.container_mut(id).unwrap().set_own_context(Some(vec![41, 0]));
    reg.attach("h", id).unwrap();
    let shared = [100u8];
    let runs = reg.trigger("h", Some(&shared));
    assert_eq!(runs[0].result.unwrap().r0, 42);
    assert_eq!(reg.container(id).unwrap().own_context(), Some(&[42u8, 0][..]));
    assert_eq!(shared, [100]);
}

fn fc_container<'h>(insns: &[Insn], env: FcEnv<'h>, out_len: usize) -> Container<FcHelpers<'h>> {
    let mut c = install(insns, &[], env.into_table().unwrap(), None);
    c.set_own_context(Some(vec![0; out_len]));
    c
}

#[test]
fn key_value_stores_local_and_global() {
    let global = RefCell::new(KvStore::<16>::new());
    let env = FcEnv { global: Some(&global), ..FcEnv::default() };
    // store_local(1, 42); store_global(7, 99); fetch_local(1, ctx); fetch_local(2, ctx+4)
    let writer = [
        alu64(AluOp::Mov, 6, x(1)),
        mov(1, 1),
        mov(2, 42),
        Insn::Call { id: id::STORE_LOCAL },
        mov(1, 7),
        mov(2, 99),
        Insn::Call { id: id::STORE_GLOBAL },
        mov(1, 1),
        alu64(AluOp::Mov, 2, x(6)),
        Insn::Call { id: id::FETCH_LOCAL },
        mov(1, 2),
        alu64(AluOp::Mov, 2, x(6)),
        alu64(AluOp::Add, 2, k(4)),
        Insn::Call { id: id::FETCH_LOCAL },
        EXIT,
    ];
    let mut a = fc_container(&writer, env, 8);
    assert_eq!(a.run(Context::None).unwrap().r0, 0);
    assert_eq!(a.own_context(), Some(&[42, 0, 0, 0, 0, 0, 0, 0][..]));
    // Another container sees the global key but not the first one's local key.
    let reader = [
        alu64(AluOp::Mov, 6, x(1)),
        mov(1, 7),
        alu64(AluOp::Mov, 2, x(6)),
        Insn::Call { id: id::FETCH_GLOBAL },
        mov(1, 1),
        alu64(AluOp::Mov, 2, x(6)),
        alu64(AluOp::Add, 2, k(4)),
        Insn::Call { id: id::FETCH_LOCAL },
        EXIT,
    ];
    let mut b = fc_container(&reader, env, 8);
    b.run(Context::None).unwrap();
    assert_eq!(b.own_context(), Some(&[99, 0, 0, 0, 0, 0, 0, 0][..]));
    // A full store refuses new keys but still updates existing ones.
    let mut store = KvStore::<16>::new();
    for key in 0..16 {
        store.update(key, key).unwrap();
    }
    assert!(store.update(16, 0).is_err());
    assert!(store.update(3, 33).is_ok());
    assert_eq!(store.get(3), Some(33));
    let env_full = FcEnv { local: store, ..FcEnv::default() };
    let prog = [mov(1, 100), mov(2, 1), Insn::Call { id: id::STORE_LOCAL }, EXIT];
    let mut c = fc_container(&prog, env_full, 0);
    assert_eq!(c.run(Context::None).unwrap().r0, KV_FULL as u64);
    // A fetch into read-only memory fails the call.
    let prog = [
        mov(1, 1),
        Insn::LoadDataAddr { dst: r(2), region: 0, offset: 0 },
        Insn::Call { id: id::FETCH_LOCAL },
        EXIT,
    ];
    let ro = DataImage { writable: false, image: &[], size: 4 };
    let mut c = install(&prog, &[ro], FcEnv::default().into_table().unwrap(), None);
    assert!(matches!(
        c.run(Context::None).unwrap_err().kind,
        RunErrorKind::HelperFailed { code: 1, .. }
    ));
}

#[test]
fn fmt_functions() {
    let s = |v, d| {
        let (b, n) = fmt_s16_dfp(v, d).unwrap();
        String::from_utf8(b[..n].to_vec()).unwrap()
    };
    assert_eq!(s(-1234, -2), "-12.34");
    assert_eq!(s(1234, 0), "1234");
    assert_eq!(s(12, 2), "1200");
    assert_eq!(s(5, -3), "0.005");
    assert_eq!(s(-5, -1), "-0.5");
    assert_eq!(s(-32768, 7), "-327680000000");
    assert_eq!(s(-32768, -7), "-0.0032768");
    assert_eq!(s(0, -2), "0.00");
    assert!(fmt_s16_dfp(1, 8).is_none());
    let (b, n) = fmt_u32_dec(u32::MAX);
    assert_eq!(&b[..n], b"4294967295");
    let (b, n) = fmt_u32_dec(0);
    assert_eq!(&b[..n], b"0");
}

#[test]
fn fmt_helpers_write_into_program_memory() {
    let prog = [
        alu64(AluOp::Mov, 6, x(1)),
        mov(2, -1234),
        mov(3, -2),
        Insn::Call { id: id::FMT_S16_DFP },
        alu64(AluOp::Mov, 7, x(0)),
        alu64(AluOp::Mov, 1, x(6)),
        alu64(AluOp::Add, 1, x(0)),
        mov(2, 4096),
        Insn::Call { id: id::FMT_U32_DEC },
        alu64(AluOp::Lsh, 0, k(8)),
        alu64(AluOp::Or, 0, x(7)),
        EXIT,
    ];
    let mut c = fc_container(&prog, FcEnv::default(), 12);
    assert_eq!(c.run(Context::None).unwrap().r0, (4 << 8) | 6);
    assert_eq!(c.own_context(), Some(&b"-12.344096\0\0"[..]));
    // A buffer one byte too short fails without writing.
    let mut c = fc_container(
        &[mov(2, 12345), Insn::Call { id: id::FMT_U32_DEC }, EXIT],
        FcEnv::default(),
        4,
    );
    assert!(matches!(
        c.run(Context::None).unwrap_err().kind,
        RunErrorKind::HelperFailed { code: 1, .. }
    ));
    assert_eq!(c.own_context(), Some(&[0u8; 4][..]));
    // A NULL buffer only measures.
    let mut c = fc_container(
        &[mov(1, 0), mov(2, 12345), Insn::Call { id: id::FMT_U32_DEC }, EXIT],
        FcEnv::default(),
        0,
    );
    assert_eq!(c.run(Context::None).unwrap().r0, 5);
}

#[test]
fn printf_formats_into_the_sink() {
    let sink = RefCell::new(String::new());
    let env = FcEnv { trace: Some(&sink), ..FcEnv::default() };
    let fmt = b"v=%d u=%u x=%x %s|%ld%%";
    let text = b"abc\0zzz";
    let prog = [
        Insn::LoadDataAddr { dst: r(1), region: 0, offset: 0 },
        mov(2, fmt.len() as i32),
        mov(3, -5),
        mov(4, -1),
        mov(5, 255),
        Insn::Call { id: id::PRINTF },
        EXIT,
    ];
    let data = [DataImage { writable: false, image: fmt, size: fmt.len() as u32 }];
    let mut c = install(&prog, &data, env.into_table().unwrap(), None);
    // %s and %ld need more than three arguments: the call fails cleanly.
    assert!(matches!(
        c.run(Context::None).unwrap_err().kind,
        RunErrorKind::HelperFailed { code: 2, .. }
    ));

    let fmt = b"v=%d u=%u %s!";
    let prog = [
        Insn::LoadDataAddr { dst: r(1), region: 0, offset: 0 },
        mov(2, fmt.len() as i32),
        mov(3, -5),
        mov(4, -1),
        Insn::LoadDataAddr { dst: r(5), region: 1, offset: 0 },
        Insn::Call { id: id::PRINTF },
        EXIT,
    ];
    sink.borrow_mut().clear();
    let data = [
        DataImage { writable: false, image: fmt, size: fmt.len() as u32 },
        DataImage { writable: false, image: text, size: text.len() as u32 },
    ];
    let mut c = install(&prog, &data, env.into_table().unwrap(), None);
    let out = c.run(Context::None).unwrap();
    assert_eq!(sink.borrow().as_str(), "v=-5 u=4294967295 abc!");
    assert_eq!(out.r0, "v=-5 u=4294967295 abc!".len() as u64);
    // A format pointer outside the regions fails.
    let bad = [mov(1, 16), mov(2, 4), Insn::Call { id: id::PRINTF }, EXIT];
    let mut c = install(&bad, &[], env.into_table().unwrap(), None);
    assert!(matches!(
        c.run(Context::None).unwrap_err().kind,
        RunErrorKind::HelperFailed { code: 1, .. }
    ));
}

struct FixedClock;
impl Clock for FixedClock {
    fn now_ms(&self) -> u64 {
        0x1_0000_0123
    }
}

struct TwoSensors;
impl Sensors for TwoSensors {
    fn count(&self) -> usize {
        2
    }
    fn device_type(&self, n: usize) -> Option<u8> {
        [0x82, 0x83].get(n).copied()
    }
    fn read(&self, n: usize, out: &mut Phydat) -> Result<u8, i32> {
        *out = Phydat { val: [n as i16 * 100 - 50, 2, 3], unit: 2, scale: -2 };
        Ok(1)
    }
}

#[test]
fn clock_and_sensor_helpers() {
    let env = FcEnv { clock: Some(&FixedClock), sensors: Some(&TwoSensors), ..FcEnv::default() };
    let mut c = fc_container(&[Insn::Call { id: id::NOW_MS }, EXIT], env, 0);
    assert_eq!(c.run(Context::None).unwrap().r0, 0x1_0000_0123);
    let mut c = fc_container(&[Insn::Call { id: id::ZTIMER_NOW }, EXIT], env, 0);
    assert_eq!(c.run(Context::None).unwrap().r0, 0x123);
    // find_type(0x83) -> handle 2; read it into the context.
    let prog = [
        alu64(AluOp::Mov, 6, x(1)),
        mov(1, 0x83),
        Insn::Call { id: id::SAUL_REG_FIND_TYPE },
        alu64(AluOp::Mov, 1, x(0)),
        alu64(AluOp::Mov, 2, x(6)),
        Insn::Call { id: id::SAUL_REG_READ },
        EXIT,
    ];
    let mut c = fc_container(&prog, env, 8);
    assert_eq!(c.run(Context::None).unwrap().r0, 1);
    assert_eq!(c.own_context(), Some(&[50, 0, 2, 0, 3, 0, 2, 0xfe][..]));
    let mut c = fc_container(&[mov(1, 2), Insn::Call { id: id::SAUL_REG_FIND_NTH }, EXIT], env, 0);
    assert_eq!(c.run(Context::None).unwrap().r0, 0, "only devices 0 and 1 exist");
    let mut c = fc_container(
        &[
            mov(1, 9),
            alu64(AluOp::Mov, 2, x(10)),
            alu64(AluOp::Sub, 2, k(8)),
            Insn::Call { id: id::SAUL_REG_READ },
            EXIT,
        ],
        env,
        0,
    );
    assert_eq!(c.run(Context::None).unwrap().r0, -19i64 as u64);
    // Without a clock the helper is not provided: install rejects the program.
    let c = code(&[Insn::Call { id: id::NOW_MS }, EXIT]);
    let f = one_fn(&c);
    let table = FcEnv::default().into_table().unwrap();
    assert!(Container::install(verified(&c, &f), &[], table, ContainerConfig::default()).is_err());
}

#[test]
fn fixed_arena_places_regions_at_the_documented_addresses() {
    let spec = ArenaSpec { stack: 512, context: 16, data: vec![8, 0], host: vec![4] };
    let mut arena = FixedArena::new(&spec).unwrap();
    let s = arena.slices();
    assert_eq!(s.stack.as_ptr() as u64, layout::STACK_BASE);
    assert_eq!(s.context.as_ptr() as u64, layout::CONTEXT_BASE);
    assert_eq!(s.data[0].as_ptr() as u64, layout::data_addr(0));
    assert_eq!(s.data[0].len(), 8);
    assert_eq!(s.host[0].as_ptr() as u64, layout::HOST_BASE);
    assert!(s.context.iter().all(|b| *b == 0));
    // A program sees r1 = CONTEXT_BASE and r10 = STACK_BASE + 512, and a
    // fault reports the fixed address.
    let c = code(&[
        alu64(AluOp::Mov, 0, x(10)),
        alu64(AluOp::Sub, 0, x(1)),
        st(MemSize::B, 1, 16, 1),
        EXIT,
    ]);
    let f = one_fn(&c);
    let prog = VerifiedRef { ..verified(&c, &f) };
    let mut regions = Regions::new(s.stack);
    regions.push(MemRegion::read_write(RegionKind::Context, s.context)).unwrap();
    let args = RunArgs { r1: layout::CONTEXT_BASE, r2: 16, budget: None };
    let err = run(&prog, &regions, args, &mut ConformanceHelpers).unwrap_err();
    assert_eq!(
        err.kind,
        RunErrorKind::MemoryFault { addr: layout::CONTEXT_BASE + 16, size: 1, write: true }
    );
    drop(arena);
    // Dropping unmaps: the same addresses can be mapped again, also from
    // another thread.
    std::thread::spawn(move || FixedArena::new(&spec).map(|_| ()).unwrap()).join().unwrap();
}
