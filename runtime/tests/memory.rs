//! Loads, stores, faults and atomics through the region check.

mod common;
use common::*;
use femtoc_isa::{AtomicOp, FunctionInfo, Insn, MemSize, VerifiedRef};
use femtoc_runtime::helpers::NoHelpers;
use femtoc_runtime::region::RegionError;
use femtoc_runtime::{run, AlignedBytes, MemRegion, RegionKind, Regions, RunArgs, RunErrorKind};

fn with_ctx(insns: &[Insn], ctx: &mut [u8]) -> Result<u64, femtoc_runtime::RunError> {
    run_full(insns, Some(ctx), None, &mut NoHelpers).map(|o| o.r0)
}

fn atomic(size: MemSize, op: AtomicOp, fetch: bool, dst: u8, off: i16, src: u8) -> Insn {
    Insn::Atomic { size, op, fetch, dst: r(dst), src: r(src), off }
}

#[test]
fn unaligned_little_endian_loads_and_sign_extension() {
    let mut ctx = [0x10, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0xff];
    assert_eq!(with_ctx(&[ldx(MemSize::W, 0, 1, 1), EXIT], &mut ctx), Ok(0x8382_8180));
    assert_eq!(with_ctx(&[ldx(MemSize::H, 0, 1, 1), EXIT], &mut ctx), Ok(0x8180));
    assert_eq!(with_ctx(&[ldx(MemSize::DW, 0, 1, 1), EXIT], &mut ctx), Ok(0x8786_8584_8382_8180));
    assert_eq!(with_ctx(&[ldx(MemSize::B, 0, 1, 9), EXIT], &mut ctx), Ok(0xff));
    let sx = |size| Insn::LoadSx { size, dst: r(0), src: r(1), off: 1 };
    assert_eq!(with_ctx(&[sx(MemSize::B), EXIT], &mut ctx), Ok(0xffff_ffff_ffff_ff80));
    assert_eq!(with_ctx(&[sx(MemSize::H), EXIT], &mut ctx), Ok(0xffff_ffff_ffff_8180));
    assert_eq!(with_ctx(&[sx(MemSize::W), EXIT], &mut ctx), Ok(0xffff_ffff_8382_8180));
    assert_eq!(
        with_ctx(
            &[Insn::LoadSx { size: MemSize::B, dst: r(0), src: r(1), off: 0 }, EXIT],
            &mut ctx
        ),
        Ok(0x10)
    );
}

#[test]
fn stores_of_every_size_are_little_endian_and_unaligned() {
    let mut ctx = [0u8; 16];
    let prog = [
        st(MemSize::B, 1, 0, 0x1ab),
        st(MemSize::H, 1, 1, 0x1234),
        st(MemSize::W, 1, 3, -2),
        st(MemSize::DW, 1, 7, -1),
        lddw(2, 0x0102_0304_0506_0708),
        stx(MemSize::H, 1, 14, 2),
        EXIT,
    ];
    let mut prog = prog.to_vec();
    prog.insert(6, mov(0, 0));
    with_ctx(&prog, &mut ctx).unwrap();
    assert_eq!(
        ctx,
        [
            0xab, 0x34, 0x12, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x08, 0x07
        ]
    );
}

#[test]
fn stack_round_trip_and_r10_is_stack_top() {
    let prog =
        [lddw(1, 0xdead_beef_cafe), stx(MemSize::DW, 10, -8, 1), ldx(MemSize::DW, 0, 10, -8), EXIT];
    assert_eq!(r0(&prog), 0xdead_beef_cafe);
    // r10 points one past the stack: reading there faults.
    let err = run_plain(&[ldx(MemSize::B, 0, 10, 0), EXIT]).unwrap_err();
    assert_eq!(err.pc, 0);
    assert!(matches!(err.kind, RunErrorKind::MemoryFault { size: 1, write: false, .. }));
}

#[test]
fn out_of_bounds_write_leaves_neighbours_and_region_intact() {
    // [canary 8 | context 8 | canary 8]; the context region is the middle.
    let mut buf = [0xa5u8; 24];
    let (left, rest) = buf.split_at_mut(8);
    let (ctx, right) = rest.split_at_mut(8);
    ctx.fill(0x11);
    let base = ctx.as_ptr() as u64;
    let prog = [mov(0, 0), st(MemSize::DW, 1, 4, -1), EXIT];
    let err = with_ctx(&prog, ctx).unwrap_err();
    assert_eq!(err.pc, 1);
    assert_eq!(err.kind, RunErrorKind::MemoryFault { addr: base + 4, size: 8, write: true });
    assert_eq!(left, [0xa5; 8]);
    assert_eq!(right, [0xa5; 8]);
    assert_eq!(buf[8..16], [0x11; 8], "nothing of the faulting store is written");

    let mut ctx = [0u8; 8];
    let err = with_ctx(&[ldx(MemSize::W, 0, 1, -1), EXIT], &mut ctx).unwrap_err();
    assert!(matches!(err.kind, RunErrorKind::MemoryFault { size: 4, write: false, .. }));
}

#[test]
fn flipping_an_upper_address_bit_leaves_the_region() {
    // On a 64-bit host regions may lie above 4 GiB, so flip bit 32 rather
    // than set it: the address moves 4 GiB away from every region.
    let mut ctx = [7u8; 8];
    let prog =
        [lddw(2, 1 << 32), alu64(femtoc_isa::AluOp::Xor, 1, x(2)), ldx(MemSize::B, 0, 1, 0), EXIT];
    let err = with_ctx(&prog, &mut ctx).unwrap_err();
    assert_eq!(err.pc, 3);
}

#[test]
fn read_only_region_rejects_stores_and_atomics() {
    let ro = [1u8; 8];
    let c = code(&[st(MemSize::B, 1, 0, 9), EXIT]);
    let f = one_fn(&c);
    let mut stack = [0u8; STACK];
    let mut regions = Regions::new(&mut stack);
    let region = MemRegion::read_only(RegionKind::Context, &ro);
    let args = RunArgs { r1: region.start(), r2: 8, budget: None };
    regions.push(region).unwrap();
    let err = run(&verified(&c, &f), &regions, args, &mut NoHelpers).unwrap_err();
    assert_eq!(err.kind, RunErrorKind::MemoryFault { addr: args.r1, size: 1, write: true });

    let c = code(&[mov(2, 1), atomic(MemSize::W, AtomicOp::Add, true, 1, 0, 2), mov(0, 0), EXIT]);
    let f = one_fn(&c);
    let err = run(&verified(&c, &f), &regions, args, &mut NoHelpers).unwrap_err();
    assert_eq!(err.pc, 1);
    assert_eq!(ro, [1; 8]);
}

#[test]
fn misaligned_atomics_fault_as_writes() {
    let mut ctx = [0u8; 32];
    let base = ctx.as_ptr() as u64;
    let skew = (8 - base % 8) % 8; // offset of the first 8-aligned byte
    let off4 = skew as i16 + 2;
    let prog = [mov(2, 1), atomic(MemSize::W, AtomicOp::Add, false, 1, off4, 2), mov(0, 0), EXIT];
    let err = with_ctx(&prog, &mut ctx).unwrap_err();
    assert_eq!(err.pc, 1);
    assert_eq!(
        err.kind,
        RunErrorKind::MemoryFault { addr: base + off4 as u64, size: 4, write: true }
    );
    let off8 = skew as i16 + 4;
    let prog = [mov(2, 1), atomic(MemSize::DW, AtomicOp::Xchg, true, 1, off8, 2), mov(0, 0), EXIT];
    let err = with_ctx(&prog, &mut ctx).unwrap_err();
    assert_eq!(
        err.kind,
        RunErrorKind::MemoryFault { addr: base + off8 as u64, size: 8, write: true }
    );
    assert_eq!(ctx, [0; 32]);
}

#[test]
fn atomic_operations() {
    // Stack slots are 8-aligned: r10 is the end of an 8-aligned array? Not
    // guaranteed, so use context memory at an aligned offset.
    let mut ctx = [0u8; 24];
    let skew = ((8 - ctx.as_ptr() as u64 % 8) % 8) as i16;
    let run_on = |ctx: &mut [u8; 24], init: u64, insns: &[Insn]| {
        ctx[skew as usize..skew as usize + 8].copy_from_slice(&init.to_le_bytes());
        let r0 = with_ctx(insns, ctx).unwrap();
        let mem = u64::from_le_bytes(ctx[skew as usize..skew as usize + 8].try_into().unwrap());
        (r0, mem)
    };
    // 32-bit fetch-add returns the old value zero-extended; upper word untouched.
    let (r0, mem) = run_on(
        &mut ctx,
        0x5555_5555_ffff_fffe,
        &[
            lddw(2, 0xffff_ffff_0000_0003),
            atomic(MemSize::W, AtomicOp::Add, true, 1, skew, 2),
            alu64(femtoc_isa::AluOp::Mov, 0, x(2)),
            EXIT,
        ],
    );
    assert_eq!((r0, mem), (0xffff_fffe, 0x5555_5555_0000_0001));
    // Non-fetch forms leave src alone.
    let (r0, mem) = run_on(
        &mut ctx,
        0b1100,
        &[
            mov(2, 0b1010),
            atomic(MemSize::DW, AtomicOp::Or, false, 1, skew, 2),
            alu64(femtoc_isa::AluOp::Mov, 0, x(2)),
            EXIT,
        ],
    );
    assert_eq!((r0, mem), (0b1010, 0b1110));
    let (r0, mem) = run_on(
        &mut ctx,
        0b1100,
        &[
            mov(2, 0b1010),
            atomic(MemSize::DW, AtomicOp::And, true, 1, skew, 2),
            alu64(femtoc_isa::AluOp::Mov, 0, x(2)),
            EXIT,
        ],
    );
    assert_eq!((r0, mem), (0b1100, 0b1000));
    let (r0, mem) = run_on(
        &mut ctx,
        0b1100,
        &[
            mov(2, 0b1010),
            atomic(MemSize::W, AtomicOp::Xor, true, 1, skew, 2),
            alu64(femtoc_isa::AluOp::Mov, 0, x(2)),
            EXIT,
        ],
    );
    assert_eq!((r0, mem), (0b1100, 0b0110));
    let (r0, mem) = run_on(
        &mut ctx,
        77,
        &[
            lddw(2, 1 << 40),
            atomic(MemSize::DW, AtomicOp::Xchg, true, 1, skew, 2),
            alu64(femtoc_isa::AluOp::Mov, 0, x(2)),
            EXIT,
        ],
    );
    assert_eq!((r0, mem), (77, 1 << 40));
    // cmpxchg: success stores src, failure stores nothing; r0 = old either way.
    let (r0, mem) = run_on(
        &mut ctx,
        5,
        &[mov(0, 5), mov(2, 9), atomic(MemSize::DW, AtomicOp::CmpXchg, true, 1, skew, 2), EXIT],
    );
    assert_eq!((r0, mem), (5, 9));
    let (r0, mem) = run_on(
        &mut ctx,
        6,
        &[mov(0, 5), mov(2, 9), atomic(MemSize::DW, AtomicOp::CmpXchg, true, 1, skew, 2), EXIT],
    );
    assert_eq!((r0, mem), (6, 6));
    // 32-bit cmpxchg compares the low half of r0 and zero-extends the old value.
    let (r0, mem) = run_on(
        &mut ctx,
        0xaaaa_aaaa_8000_0005,
        &[
            lddw(0, 0x7777_0000_8000_0005),
            mov(2, 9),
            atomic(MemSize::W, AtomicOp::CmpXchg, true, 1, skew, 2),
            EXIT,
        ],
    );
    assert_eq!((r0, mem), (0x8000_0005, 0xaaaa_aaaa_0000_0009));
}

#[test]
fn context_too_short_is_refused_before_running() {
    let c = code(&[ldx(MemSize::DW, 0, 1, 0), EXIT]);
    let f = one_fn(&c);
    let prog = VerifiedRef { min_ctx_len: 8, ..verified(&c, &f) };
    let mut stack = [0u8; STACK];
    let mut ctx = [0u8; 4];
    let mut regions = Regions::new(&mut stack);
    let region = MemRegion::read_write(RegionKind::Context, &mut ctx);
    let args = RunArgs { r1: region.start(), r2: 4, budget: None };
    regions.push(region).unwrap();
    let err = run(&prog, &regions, args, &mut NoHelpers).unwrap_err();
    assert_eq!(err.pc, 0);
    assert_eq!(err.kind, RunErrorKind::ContextTooShort { needed: 8, got: 4 });
}

#[test]
fn stack_is_zeroed_for_its_used_part_at_run_start() {
    let c = code(&[
        ldx(MemSize::DW, 0, 10, -8),
        ldx(MemSize::B, 1, 10, -17),
        alu64(femtoc_isa::AluOp::Lsh, 1, k(8)),
        alu64(femtoc_isa::AluOp::Or, 0, x(1)),
        EXIT,
    ]);
    let f: Vec<FunctionInfo> = one_fn(&c);
    let prog = VerifiedRef { stack_usage: 16, ..verified(&c, &f) };
    let mut stack = [0xeeu8; STACK];
    let regions = Regions::new(&mut stack);
    let out = run(&prog, &regions, RunArgs::default(), &mut NoHelpers).unwrap();
    // The top 16 bytes are zeroed; byte 17 below the top is beyond the usage.
    assert_eq!(out.r0, 0xee00);
}

#[test]
fn data_region_addresses_from_lddw_src6() {
    let ro = AlignedBytes::with_image(b"ABCDEFGH", 8);
    let mut rw = AlignedBytes::zeroed(8);
    let c = code(&[
        Insn::LoadDataAddr { dst: r(1), region: 0, offset: 3 },
        ldx(MemSize::B, 0, 1, 0),
        Insn::LoadDataAddr { dst: r(2), region: 1, offset: 5 },
        stx(MemSize::B, 2, 0, 0),
        Insn::LoadDataAddr { dst: r(3), region: 0, offset: 0 },
        st(MemSize::B, 3, 0, 0),
        EXIT,
    ]);
    let f = one_fn(&c);
    let mut stack = [0u8; STACK];
    let mut regions = Regions::new(&mut stack);
    let ro_region = MemRegion::read_only(RegionKind::Rodata, &ro);
    let ro_base = ro_region.start();
    regions.push_data(ro_region).unwrap();
    regions.push_data(MemRegion::read_write(RegionKind::Data, &mut rw)).unwrap();
    let err = run(&verified(&c, &f), &regions, RunArgs::default(), &mut NoHelpers).unwrap_err();
    // The store into .rodata faults at its pc after the .data store happened.
    assert_eq!(err.pc, 8); // lddw takes two slots
    assert_eq!(err.kind, RunErrorKind::MemoryFault { addr: ro_base, size: 1, write: true });
    assert_eq!(rw[..], [0, 0, 0, 0, 0, b'D', 0, 0]);
}

#[test]
fn the_stack_ends_on_a_multiple_of_8() {
    // A stack slice whose end is not 8-aligned: r10 starts at the last
    // multiple of 8 inside it, and an 8-byte atomic just below r10 is
    // aligned (it would fault as misaligned otherwise).
    let prog = [
        mov(2, 5),
        stx(MemSize::DW, 10, -8, 2),
        atomic(MemSize::DW, AtomicOp::Add, true, 10, -8, 2),
        alu64(femtoc_isa::AluOp::Mov, 0, x(10)),
        EXIT,
    ];
    let c = code(&prog);
    let f = one_fn(&c);
    let mut buf = [0u8; STACK + 16];
    for skew in 0..8 {
        let stack = &mut buf[skew..skew + STACK + 3];
        let end = stack.as_ptr() as u64 + stack.len() as u64;
        let regions = Regions::new(stack);
        assert_eq!(regions.stack().end() % 8, 0);
        assert!(end - regions.stack().end() < 8);
        let args = RunArgs { r1: 0, r2: 0, budget: None };
        let out = run(&verified(&c, &f), &regions, args, &mut NoHelpers).expect("runs");
        assert_eq!(out.r0, regions.stack().end(), "skew {skew}");
    }
}

#[test]
fn a_data_region_starts_on_a_multiple_of_8() {
    // Code may decide an atomic's alignment from its offset in a data
    // region, so the table refuses a non-empty data region that would
    // make such an offset misaligned; an empty one is never accessed.
    let mut words = [0u64; 4];
    // SAFETY: u64 storage viewed as its bytes.
    let buf = unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), 32) };
    let (aligned, rest) = buf.split_at_mut(8);
    let (skewed, last) = rest.split_at_mut(16);
    let skewed = &skewed[1..9];
    let start = skewed.as_ptr() as u64;
    let mut stack = [0u8; STACK];
    let mut regions = Regions::new(&mut stack);
    regions.push_data(MemRegion::read_write(RegionKind::Data, aligned)).unwrap();
    regions.push_data(MemRegion::read_write(RegionKind::Data, &mut [])).unwrap();
    assert_eq!(
        regions.push_data(MemRegion::read_only(RegionKind::Rodata, skewed)),
        Err(RegionError::MisalignedData { index: 2, start })
    );
    // The refused region took no slot: the next aligned one is index 2.
    regions.push_data(MemRegion::read_write(RegionKind::Data, &mut last[..8])).unwrap();
    assert_eq!(regions.data_bases().len(), 3);
}
