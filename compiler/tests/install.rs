//! DESIGN.md's install policy, end to end: blobs written by the compiler,
//! installed by the device runtime.

use femtoc_compiler::blob::{write_blob, BlobSpec, CodeSpec, SigningKey};
use femtoc_isa::verifier::{scratch_len, SlotScratch};
use femtoc_isa::FunctionInfo;
use femtoc_runtime::blob::BlobError;
use femtoc_runtime::engine::{Engine, Features};
use femtoc_runtime::helpers::NoHelpers;
use femtoc_runtime::install::{install, DeviceProfile, ExecMode, InstallError, Installed, RunPlan};
use femtoc_runtime::{interp, AlignedBytes, MemRegion, RegionKind, Regions, RunArgs, RunErrorKind};

/// Counts r0 up to r2 with one backward jump per step (pc 2).
fn counting_program() -> Vec<u64> {
    femtoc_isa::assemble("mov %r0, 0\nadd %r0, 1\njlt %r0, %r2, -2\nexit\n").unwrap().code
}

/// A Thumb `bx lr`: never run here, only selected.
const THUMB_CODE: &[u8] = &[0x70, 0x47];

fn blob(code: &[CodeSpec<'_>], bytecode: Option<&[u64]>, helpers: &[u32]) -> Vec<u8> {
    let spec = BlobSpec { ebpf_stack: 0, helpers, code, bytecode, ..BlobSpec::default() };
    write_blob(&spec, None).unwrap()
}

fn thumb_section(features: Features) -> CodeSpec<'static> {
    CodeSpec { engine: Engine::Thumbv7em, features, entry: 0, machine_stack: 64, code: THUMB_CODE }
}

fn device(engine: Engine, features: Features) -> DeviceProfile<'static> {
    DeviceProfile { engine, features, helpers: &[1, 2], stack_size: 512, public_key: None }
}

struct Scratch {
    slots: Vec<SlotScratch>,
    functions: Vec<FunctionInfo>,
}

impl Scratch {
    /// Installs `bytes` on `device` in this scratch.
    fn install<'a>(
        &'a mut self,
        bytes: &'a [u8],
        device: &DeviceProfile<'_>,
    ) -> Result<Installed<'a>, InstallError> {
        install(bytes, device, &mut self.slots, &mut self.functions)
    }

    fn new() -> Self {
        Scratch {
            slots: vec![SlotScratch::EMPTY; scratch_len(64)],
            functions: vec![FunctionInfo::default(); 8],
        }
    }
}

#[test]
fn native_code_for_the_engine_is_chosen() {
    let bytecode = counting_program();
    let bytes =
        AlignedBytes::copy_of(&blob(&[thumb_section(Features::default())], Some(&bytecode), &[]));
    let mut s = Scratch::new();
    let installed =
        s.install(bytes.bytes(), &device(Engine::Thumbv7em, Features::default())).unwrap();
    assert_eq!(installed.mode(), ExecMode::Native(Engine::Thumbv7em));
    match installed.plan {
        RunPlan::Native { code, .. } => assert_eq!(code.code, THUMB_CODE),
        RunPlan::Interpret(_) => panic!("expected native code"),
    }
}

#[test]
fn another_engine_verifies_and_interprets_the_bytecode() {
    let bytecode = counting_program();
    let bytes =
        AlignedBytes::copy_of(&blob(&[thumb_section(Features::default())], Some(&bytecode), &[]));
    let mut s = Scratch::new();
    let installed =
        s.install(bytes.bytes(), &device(Engine::Riscv32imc, Features::default())).unwrap();
    assert_eq!(installed.mode(), ExecMode::Interpreted);
    let RunPlan::Interpret(program) = installed.plan else { panic!("expected bytecode") };
    let mut stack = [0u8; 512];
    let regions = Regions::new(&mut stack);
    let out =
        interp::run(&program, &regions, RunArgs { r1: 0, r2: 7, budget: Some(10) }, &mut NoHelpers)
            .unwrap();
    assert_eq!((out.r0, out.budget_used), (7, 6));
    let err = interp::run(
        &program,
        &regions,
        RunArgs { r1: 0, r2: 100, budget: Some(3) },
        &mut NoHelpers,
    )
    .unwrap_err();
    assert_eq!((err.pc, err.kind), (2, RunErrorKind::BudgetExhausted));
}

#[test]
fn missing_features_fall_back_to_the_bytecode() {
    let bytecode = counting_program();
    let bytes = AlignedBytes::copy_of(&blob(&[thumb_section(Features::DSP)], Some(&bytecode), &[]));
    let mut s = Scratch::new();
    let installed =
        s.install(bytes.bytes(), &device(Engine::Thumbv7em, Features::default())).unwrap();
    assert_eq!(installed.mode(), ExecMode::Interpreted);
    let mut s = Scratch::new();
    let installed = s.install(bytes.bytes(), &device(Engine::Thumbv7em, Features::DSP)).unwrap();
    assert_eq!(installed.mode(), ExecMode::Native(Engine::Thumbv7em));
}

#[test]
fn a_corrupted_blob_is_rejected_not_interpreted() {
    let bytecode = counting_program();
    let good = blob(&[thumb_section(Features::default())], Some(&bytecode), &[]);
    // Flip one bit of every byte in turn: never installed, never interpreted.
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x10;
        let bad = AlignedBytes::copy_of(&bad);
        let mut s = Scratch::new();
        let result = s.install(bad.bytes(), &device(Engine::Riscv32imc, Features::default()));
        assert!(matches!(result, Err(InstallError::Blob(_))), "byte {i}: {result:?}");
    }
}

#[test]
fn a_helper_the_device_lacks_is_refused() {
    let bytecode = counting_program();
    let bytes = AlignedBytes::copy_of(&blob(&[], Some(&bytecode), &[1, 0x99]));
    let mut s = Scratch::new();
    let err =
        s.install(bytes.bytes(), &device(Engine::Riscv32imc, Features::default())).unwrap_err();
    assert_eq!(err, InstallError::MissingHelper { id: 0x99 });
}

#[test]
fn nothing_to_run_is_refused() {
    let bytes = AlignedBytes::copy_of(&blob(&[thumb_section(Features::default())], None, &[]));
    let mut s = Scratch::new();
    let err =
        s.install(bytes.bytes(), &device(Engine::Riscv32imac, Features::default())).unwrap_err();
    assert_eq!(err, InstallError::NothingToRun { engine: Engine::Riscv32imac });
}

#[test]
fn bytecode_that_fails_verification_is_refused() {
    // Reads r0 before writing it.
    let bad = femtoc_isa::assemble("add %r0, 1\nexit\n").unwrap().code;
    let bytes = AlignedBytes::copy_of(&blob(&[], Some(&bad), &[]));
    let mut s = Scratch::new();
    let err =
        s.install(bytes.bytes(), &device(Engine::Riscv32imc, Features::default())).unwrap_err();
    assert!(matches!(err, InstallError::Verify(e) if e.pc == 0), "{err:?}");
}

#[test]
fn misaligned_bytecode_is_refused_with_a_reason() {
    let bytecode = counting_program();
    let raw = blob(&[], Some(&bytecode), &[]);
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(&raw);
    let buffer = AlignedBytes::copy_of(&shifted);
    let mut s = Scratch::new();
    let err = s
        .install(&buffer.bytes()[1..], &device(Engine::Riscv32imc, Features::default()))
        .unwrap_err();
    assert_eq!(err, InstallError::MisalignedBytecode);
}

#[test]
fn a_stack_too_small_for_the_blob_is_refused() {
    let spec = BlobSpec {
        ebpf_stack: 1024,
        code: &[thumb_section(Features::default())],
        ..BlobSpec::default()
    };
    let bytes = AlignedBytes::copy_of(&write_blob(&spec, None).unwrap());
    let mut s = Scratch::new();
    let err =
        s.install(bytes.bytes(), &device(Engine::Thumbv7em, Features::default())).unwrap_err();
    assert_eq!(err, InstallError::StackTooSmall { needed: 1024, available: 512 });
}

#[test]
fn a_device_that_requires_signatures_checks_them() {
    let key = SigningKey::from_seed([7; 32]).unwrap();
    let other = SigningKey::from_seed([8; 32]).unwrap();
    let public = key.public_key();
    let spec = BlobSpec { code: &[thumb_section(Features::default())], ..BlobSpec::default() };
    let signed = AlignedBytes::copy_of(&write_blob(&spec, Some(&key)).unwrap());
    let wrong = AlignedBytes::copy_of(&write_blob(&spec, Some(&other)).unwrap());
    let unsigned = AlignedBytes::copy_of(&write_blob(&spec, None).unwrap());
    let profile = DeviceProfile {
        public_key: Some(&public),
        ..device(Engine::Thumbv7em, Features::default())
    };

    let mut s = Scratch::new();
    assert!(s.install(signed.bytes(), &profile).is_ok());
    let err = s.install(wrong.bytes(), &profile).unwrap_err();
    assert!(matches!(err, InstallError::Signature(_)), "{err:?}");
    let err = s.install(unsigned.bytes(), &profile).unwrap_err();
    assert_eq!(err, InstallError::Signature(BlobError::MissingSignature));
}

#[test]
fn interpreted_data_regions_come_from_the_blob() {
    // lddw src 6 reaches data region 0; the blob carries its image.
    let program = femtoc_isa::assemble("lddw %r1, data[0+0]\nldxw %r0, [%r1+4]\nexit\n").unwrap();
    let data = [femtoc_isa::program::DataRegion {
        name: ".rodata".into(),
        kind: femtoc_isa::program::DataKind::ReadOnly,
        image: vec![1, 2, 3, 4, 0x78, 0x56, 0x34, 0x12],
        size: 8,
    }];
    let spec = BlobSpec { data: &data, bytecode: Some(&program.code), ..BlobSpec::default() };
    let bytes = AlignedBytes::copy_of(&write_blob(&spec, None).unwrap());
    let mut s = Scratch::new();
    let installed =
        s.install(bytes.bytes(), &device(Engine::Riscv32imc, Features::default())).unwrap();
    let RunPlan::Interpret(verified) = installed.plan else { panic!("expected bytecode") };
    let image = installed.blob.data_regions().next().unwrap().image;
    let mut stack = [0u8; 512];
    let mut regions = Regions::new(&mut stack);
    regions.push_data(MemRegion::read_only(RegionKind::Rodata, image)).unwrap();
    let out = interp::run(&verified, &regions, RunArgs::default(), &mut NoHelpers).unwrap();
    assert_eq!(out.r0, 0x1234_5678);
}
