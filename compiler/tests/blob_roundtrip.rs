//! What the writer lays out, the reader gives back field for field.

use femtoc_compiler::blob::{write_blob, BlobSpec, BlobWriteError, CodeSpec, SigningKey};
use femtoc_isa::program::{DataKind, DataRegion};
use femtoc_runtime::blob::{Blob, RegionKind, FLAG_SIGNATURE};
use femtoc_runtime::engine::{Engine, Features};
use proptest::prelude::*;

fn region(kind: DataKind, image: &[u8], size: u32) -> DataRegion {
    DataRegion { name: format!("{kind:?}"), kind, image: image.to_vec(), size }
}

fn kind_of(kind: DataKind) -> RegionKind {
    match kind {
        DataKind::ReadOnly => RegionKind::ReadOnly,
        DataKind::ReadWrite => RegionKind::ReadWrite,
        DataKind::Zeroed => RegionKind::Zeroed,
    }
}

/// Parses `bytes` and asserts every field equals what `spec` asked for.
fn assert_round_trip(spec: &BlobSpec<'_>, bytes: &[u8], signed: bool) {
    let blob = Blob::parse(bytes).unwrap();
    assert_eq!(blob.as_bytes().len(), bytes.len());
    assert_eq!(blob.features(), spec.features);
    assert_eq!(blob.ebpf_stack_size(), spec.ebpf_stack);
    assert_eq!(blob.min_ctx_len(), spec.min_ctx_len);

    let mut helpers = spec.helpers.to_vec();
    helpers.sort_unstable();
    helpers.dedup();
    assert_eq!(blob.helpers().collect::<Vec<_>>(), helpers);

    let regions: Vec<_> = blob.data_regions().collect();
    assert_eq!(regions.len(), spec.data.len());
    for (got, want) in regions.iter().zip(spec.data) {
        assert_eq!(got.kind, kind_of(want.kind));
        assert_eq!(got.size, want.size);
        assert_eq!(got.image, &want.image[..]);
    }

    assert_eq!(usize::from(blob.code_count()), spec.code.len());
    for want in spec.code {
        let got = blob.code_for(want.engine).unwrap();
        assert_eq!(got.own_features, want.features);
        assert_eq!(got.features, want.features | spec.features);
        assert_eq!(got.entry, want.entry);
        assert_eq!(got.machine_stack, want.machine_stack);
        assert_eq!(got.code, want.code);
        let offset = got.code.as_ptr() as usize - bytes.as_ptr() as usize;
        assert_eq!(offset % 8, 0, "{} code at {offset}", want.engine);
    }
    let engines: Vec<Engine> = blob.code_sections().map(|c| c.engine).collect();
    assert!(engines.windows(2).all(|w| w[0] < w[1]), "{engines:?}");
    assert_eq!(
        blob.machine_stack_size(),
        spec.code.iter().map(|c| c.machine_stack).max().unwrap_or(0)
    );

    match spec.bytecode {
        Some(slots) => {
            let bytes = blob.bytecode().unwrap();
            let got: Vec<u64> =
                bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
            assert_eq!(got, slots);
        }
        None => assert_eq!(blob.bytecode(), None),
    }
    assert_eq!(blob.signature().is_some(), signed);
}

const THUMB: [u8; 10] = [0x2d, 0xe9, 0xf0, 0x4f, 0x00, 0x20, 0xbd, 0xe8, 0xf0, 0x8f];
const RV: [u8; 6] = [0x13, 0x05, 0x00, 0x00, 0x82, 0x80];
const X86: [u8; 3] = [0x31, 0xc0, 0xc3];
const SLOTS: [u64; 3] = [0x0000_0007_0000_00b7, 0x0000_0001_0000_0085, 0x95];

fn code_specs() -> [CodeSpec<'static>; 3] {
    [
        CodeSpec {
            engine: Engine::X86_64,
            features: Features::NONE,
            entry: 1,
            machine_stack: 48,
            code: &X86,
        },
        CodeSpec {
            engine: Engine::Thumbv7em,
            features: Features::DSP,
            entry: 4,
            machine_stack: 96,
            code: &THUMB,
        },
        CodeSpec {
            engine: Engine::Riscv32imc,
            features: Features::COMPRESSED,
            entry: 0,
            machine_stack: 40,
            code: &RV,
        },
    ]
}

#[test]
fn empty_blob_round_trips() {
    let spec = BlobSpec::default();
    let bytes = write_blob(&spec, None).unwrap();
    assert_round_trip(&spec, &bytes, false);
    // Header and CRC only.
    assert_eq!(bytes.len(), 48 + 4);
}

#[test]
fn full_blob_round_trips() {
    let data = [
        region(DataKind::ReadOnly, b"hello, world\0", 16),
        region(DataKind::Zeroed, &[], 32),
        region(DataKind::ReadWrite, &[9; 5], 5),
        region(DataKind::ReadOnly, &[], 0),
        region(DataKind::ReadWrite, &[7; 3], 8),
    ];
    let code = code_specs();
    let spec = BlobSpec {
        features: Features::UNALIGNED_ACCESS | Features::HW_DIVIDE,
        ebpf_stack: 512,
        min_ctx_len: 24,
        helpers: &[7, 1, 3, 7],
        data: &data,
        code: &code,
        bytecode: Some(&SLOTS),
    };
    let bytes = write_blob(&spec, None).unwrap();
    assert_round_trip(&spec, &bytes, false);
}

#[test]
fn code_only_and_bytecode_only_blobs_round_trip() {
    let code = code_specs();
    let code_only = BlobSpec { code: &code[1..2], ebpf_stack: 64, ..BlobSpec::default() };
    assert_round_trip(&code_only, &write_blob(&code_only, None).unwrap(), false);
    let data = [region(DataKind::Zeroed, &[], 4)];
    let bytecode_only =
        BlobSpec { data: &data, bytecode: Some(&SLOTS[2..]), helpers: &[2], ..BlobSpec::default() };
    assert_round_trip(&bytecode_only, &write_blob(&bytecode_only, None).unwrap(), false);
}

#[test]
fn signed_blob_round_trips_and_verifies() {
    let key = SigningKey::from_seed([0x42; 32]).unwrap();
    let data = [region(DataKind::ReadWrite, &[1, 2, 3], 4)];
    let code = code_specs();
    let spec = BlobSpec { data: &data, code: &code, bytecode: Some(&SLOTS), ..BlobSpec::default() };
    let signed = write_blob(&spec, Some(&key)).unwrap();
    let unsigned = write_blob(&spec, None).unwrap();
    assert_round_trip(&spec, &signed, true);
    // The signature is appended; the bytes before the CRC differ only in
    // the total length and flags fields.
    assert_eq!(signed.len(), unsigned.len() + 64);
    assert_eq!(signed[16..unsigned.len() - 4], unsigned[16..unsigned.len() - 4]);
    let flags = u32::from_le_bytes(signed[12..16].try_into().unwrap());
    assert_ne!(flags & FLAG_SIGNATURE, 0);
    let blob = Blob::parse(&signed).unwrap();
    blob.verify_signature(&key.public_key()).unwrap();
    assert!(Blob::parse_signed(&signed, &key.public_key()).is_ok());
}

#[test]
fn writing_is_deterministic() {
    let key = SigningKey::from_seed([1; 32]).unwrap();
    let code = code_specs();
    let spec = BlobSpec { code: &code, bytecode: Some(&SLOTS), ..BlobSpec::default() };
    assert_eq!(write_blob(&spec, Some(&key)).unwrap(), write_blob(&spec, Some(&key)).unwrap());
    // Section order in the spec does not matter.
    let reversed: Vec<CodeSpec> = code.iter().rev().copied().collect();
    let spec2 = BlobSpec { code: &reversed, ..spec };
    assert_eq!(write_blob(&spec, None).unwrap(), write_blob(&spec2, None).unwrap());
}

fn write_err(spec: BlobSpec<'_>) -> BlobWriteError {
    write_blob(&spec, None).unwrap_err()
}

#[test]
fn two_sections_for_one_engine() {
    let code = [code_specs()[1], code_specs()[1]];
    assert_eq!(
        write_err(BlobSpec { code: &code, ..BlobSpec::default() }),
        BlobWriteError::DuplicateEngine(Engine::Thumbv7em)
    );
}

#[test]
fn code_for_the_interpreter() {
    let code = [CodeSpec { engine: Engine::Interp, ..code_specs()[0] }];
    assert_eq!(
        write_err(BlobSpec { code: &code, ..BlobSpec::default() }),
        BlobWriteError::NotNative
    );
}

#[test]
fn empty_code() {
    let code = [CodeSpec { code: &[], entry: 0, ..code_specs()[0] }];
    assert_eq!(
        write_err(BlobSpec { code: &code, ..BlobSpec::default() }),
        BlobWriteError::EmptyCode(Engine::X86_64)
    );
}

#[test]
fn entry_outside_the_code() {
    let code = [CodeSpec { entry: 10, ..code_specs()[1] }];
    assert_eq!(
        write_err(BlobSpec { code: &code, ..BlobSpec::default() }),
        BlobWriteError::EntryOutOfRange { engine: Engine::Thumbv7em, entry: 10, len: 10 }
    );
}

#[test]
fn misaligned_entry() {
    let code = [CodeSpec { entry: 3, ..code_specs()[1] }];
    assert_eq!(
        write_err(BlobSpec { code: &code, ..BlobSpec::default() }),
        BlobWriteError::EntryMisaligned { engine: Engine::Thumbv7em, entry: 3, align: 2 }
    );
}

#[test]
fn too_many_helpers() {
    let helpers: Vec<u32> = (0..=u32::from(u16::MAX)).collect();
    assert_eq!(
        write_err(BlobSpec { helpers: &helpers, ..BlobSpec::default() }),
        BlobWriteError::TooMany { what: "helpers", count: 65_536 }
    );
    // Repeats are dropped before counting.
    let repeated = vec![5u32; 70_000];
    assert!(write_blob(&BlobSpec { helpers: &repeated, ..BlobSpec::default() }, None).is_ok());
}

#[test]
fn bss_with_an_image() {
    let data = [region(DataKind::Zeroed, &[1], 4)];
    assert!(matches!(
        write_err(BlobSpec { data: &data, ..BlobSpec::default() }),
        BlobWriteError::ZeroedWithImage { index: 0, .. }
    ));
}

#[test]
fn image_larger_than_its_region() {
    let data = [region(DataKind::ReadOnly, &[], 0), region(DataKind::ReadWrite, &[1, 2, 3], 2)];
    assert!(matches!(
        write_err(BlobSpec { data: &data, ..BlobSpec::default() }),
        BlobWriteError::ImageLargerThanRegion { index: 1, image_len: 3, size: 2, .. }
    ));
}

#[test]
fn empty_bytecode() {
    assert_eq!(
        write_err(BlobSpec { bytecode: Some(&[]), ..BlobSpec::default() }),
        BlobWriteError::BytecodeEmpty
    );
}

#[test]
fn bytecode_too_long() {
    let slots = vec![0x95u64; femtoc_isa::MAX_INSNS + 1];
    assert_eq!(
        write_err(BlobSpec { bytecode: Some(&slots), ..BlobSpec::default() }),
        BlobWriteError::BytecodeTooLong(femtoc_isa::MAX_INSNS + 1)
    );
}

#[test]
fn blob_over_four_gib_is_refused() {
    // Seven sections sharing one 640 MiB buffer need offsets past u32. The
    // buffer is zeroed lazily by the allocator and the writer checks the
    // layout before copying anything, so this costs no real memory.
    let big = vec![0u8; 640 << 20];
    let code: Vec<CodeSpec> = Engine::ALL
        .into_iter()
        .filter(|e| e.is_native())
        .map(|engine| CodeSpec {
            engine,
            features: Features::NONE,
            entry: 0,
            machine_stack: 0,
            code: &big,
        })
        .collect();
    assert!(
        matches!(write_err(BlobSpec { code: &code, ..BlobSpec::default() }), BlobWriteError::TooLarge { len } if len > u64::from(u32::MAX))
    );
}

fn data_kind() -> impl Strategy<Value = DataKind> {
    prop_oneof![Just(DataKind::ReadOnly), Just(DataKind::ReadWrite), Just(DataKind::Zeroed)]
}

fn arb_region() -> impl Strategy<Value = DataRegion> {
    (data_kind(), proptest::collection::vec(any::<u8>(), 0..24), 0u32..8).prop_map(
        |(kind, image, extra)| {
            let image = if kind == DataKind::Zeroed { Vec::new() } else { image };
            let size = image.len() as u32 + extra;
            region(kind, &image, size)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_specs_round_trip(
        data in proptest::collection::vec(arb_region(), 0..5),
        helpers in proptest::collection::vec(any::<u32>(), 0..6),
        code_lens in proptest::collection::vec(1usize..40, 3),
        which in proptest::collection::vec(any::<bool>(), 3),
        slots in proptest::option::of(proptest::collection::vec(any::<u64>(), 1..6)),
        stacks in (any::<u32>(), any::<u32>(), any::<u32>()),
        features in 0u32..32,
        sign in any::<bool>(),
    ) {
        let engines = [Engine::Aarch64, Engine::Riscv32imac, Engine::Thumbv7m];
        let bodies: Vec<Vec<u8>> = code_lens.iter().map(|&n| (0..n * 4).map(|i| i as u8).collect()).collect();
        let code: Vec<CodeSpec> = (0..3)
            .filter(|&i| which[i])
            .map(|i| CodeSpec {
                engine: engines[i],
                features: Features::from_bits_truncate(features >> i),
                entry: 4 * (code_lens[i] as u32 - 1),
                machine_stack: (i as u32 + 1) * 16,
                code: &bodies[i],
            })
            .collect();
        let spec = BlobSpec {
            features: Features::from_bits_truncate(features),
            ebpf_stack: stacks.0,
            min_ctx_len: stacks.1,
            helpers: &helpers,
            data: &data,
            code: &code,
            bytecode: slots.as_deref(),
        };
        let key = SigningKey::from_seed([stacks.2 as u8 | 1; 32]).unwrap();
        let bytes = write_blob(&spec, sign.then_some(&key)).unwrap();
        assert_round_trip(&spec, &bytes, sign);
    }
}
