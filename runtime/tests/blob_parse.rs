//! The blob reader against blobs laid out by hand from the format table in
//! `femtoc_runtime::blob`'s documentation (not by the compiler's writer), so
//! a mistake shared by writer and reader cannot hide.

use femtoc_runtime::blob::{
    blob_len, crc32, Blob, BlobError, Place, RegionKind, RunMode, FORMAT_VERSION,
};
use femtoc_runtime::engine::{Engine, Features};

// Layout of the sample (offsets from the format table):
// header 0..48, helpers 48..56, regions 56..104, code table 104..152,
// rodata image 152..156, data image 160..164, thumbv7m code 168..174,
// riscv32imc code 176..180, bytecode 184..200, CRC 200..204.
const REGIONS: usize = 56;
const CODE: usize = 104;
const TOTAL: usize = 204;
const RODATA: [u8; 4] = *b"abcd";
const DATA: [u8; 4] = [1, 2, 3, 4];
const THUMB: [u8; 6] = [0x00, 0xbf, 0x70, 0x47, 0x00, 0xbf];
const RV: [u8; 4] = [0x01, 0x00, 0x82, 0x80];
const SLOTS: [u64; 2] = [0x0000_002a_0000_00b7, 0x95];

fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn get32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

/// Recomputes the CRC of an unsigned blob after a test changed it, so the
/// structural check under test is reached.
fn reseal(b: &mut [u8]) {
    let crc_off = b.len() - 4;
    let crc = crc32(&b[..crc_off]);
    put32(b, crc_off, crc);
}

fn sample() -> Vec<u8> {
    let mut b = vec![0u8; TOTAL];
    b[0..4].copy_from_slice(b"FCBL");
    put16(&mut b, 4, FORMAT_VERSION);
    put16(&mut b, 6, 48);
    put32(&mut b, 8, TOTAL as u32);
    put32(&mut b, 12, 1); // bytecode, unsigned
    put32(&mut b, 16, Features::UNALIGNED_ACCESS.bits());
    put32(&mut b, 20, 512);
    put32(&mut b, 24, 64);
    put32(&mut b, 28, 16);
    put16(&mut b, 32, 2);
    put16(&mut b, 34, 3);
    put16(&mut b, 36, 2);
    put32(&mut b, 40, 184);
    put32(&mut b, 44, 16);
    put32(&mut b, 48, 1);
    put32(&mut b, 52, 5);
    // rodata: 8 bytes, 4 of image
    b[REGIONS] = 0;
    put32(&mut b, REGIONS + 4, 8);
    put32(&mut b, REGIONS + 8, 152);
    put32(&mut b, REGIONS + 12, 4);
    // data: 4 bytes, all image
    b[REGIONS + 16] = 1;
    put32(&mut b, REGIONS + 20, 4);
    put32(&mut b, REGIONS + 24, 160);
    put32(&mut b, REGIONS + 28, 4);
    // bss: 16 bytes
    b[REGIONS + 32] = 2;
    put32(&mut b, REGIONS + 36, 16);
    // thumbv7m, entry 2, 64 bytes of stack
    put16(&mut b, CODE, 1);
    put32(&mut b, CODE + 4, Features::HW_DIVIDE.bits());
    put32(&mut b, CODE + 8, 2);
    put32(&mut b, CODE + 12, 64);
    put32(&mut b, CODE + 16, 168);
    put32(&mut b, CODE + 20, 6);
    // riscv32imc, entry 0, 32 bytes of stack
    put16(&mut b, CODE + 24, 3);
    put32(&mut b, CODE + 28, Features::COMPRESSED.bits());
    put32(&mut b, CODE + 36, 32);
    put32(&mut b, CODE + 40, 176);
    put32(&mut b, CODE + 44, 4);
    b[152..156].copy_from_slice(&RODATA);
    b[160..164].copy_from_slice(&DATA);
    b[168..174].copy_from_slice(&THUMB);
    b[176..180].copy_from_slice(&RV);
    b[184..192].copy_from_slice(&SLOTS[0].to_le_bytes());
    b[192..200].copy_from_slice(&SLOTS[1].to_le_bytes());
    reseal(&mut b);
    b
}

/// Parses `sample()` after `change` and a reseal.
fn parse_changed(change: impl FnOnce(&mut Vec<u8>)) -> Result<(), BlobError> {
    let mut b = sample();
    change(&mut b);
    reseal(&mut b);
    Blob::parse(&b).map(|_| ())
}

#[test]
fn crc_is_the_ieee_crc32() {
    // The standard check value of CRC-32/ISO-HDLC.
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
}

#[test]
fn sample_parses_with_every_field() {
    let b = sample();
    let blob = Blob::parse(&b).unwrap();
    assert_eq!(blob.features(), Features::UNALIGNED_ACCESS);
    assert_eq!(blob.ebpf_stack_size(), 512);
    assert_eq!(blob.machine_stack_size(), 64);
    assert_eq!(blob.min_ctx_len(), 16);
    assert_eq!(blob.crc(), get32(&b, 200));
    assert_eq!(blob.helpers().collect::<Vec<_>>(), [1, 5]);
    let regions: Vec<_> = blob.data_regions().collect();
    assert_eq!(regions.len(), 3);
    assert_eq!(
        (regions[0].kind, regions[0].size, regions[0].image),
        (RegionKind::ReadOnly, 8, &RODATA[..])
    );
    assert_eq!(
        (regions[1].kind, regions[1].size, regions[1].image),
        (RegionKind::ReadWrite, 4, &DATA[..])
    );
    assert_eq!(
        (regions[2].kind, regions[2].size, regions[2].image),
        (RegionKind::Zeroed, 16, &[][..])
    );
    let code: Vec<_> = blob.code_sections().collect();
    assert_eq!(code.len(), 2);
    assert_eq!(code[0].engine, Engine::Thumbv7m);
    assert_eq!(code[0].own_features, Features::HW_DIVIDE);
    assert_eq!(code[0].features, Features::HW_DIVIDE | Features::UNALIGNED_ACCESS);
    assert_eq!((code[0].entry, code[0].machine_stack, code[0].code), (2, 64, &THUMB[..]));
    assert_eq!(code[1].engine, Engine::Riscv32imc);
    assert_eq!((code[1].entry, code[1].machine_stack, code[1].code), (0, 32, &RV[..]));
    assert_eq!(blob.code_for(Engine::Riscv32imc), Some(code[1]));
    assert_eq!(blob.code_for(Engine::Thumbv7em), None);
    let slots: Vec<u64> = blob
        .bytecode()
        .unwrap()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(slots, SLOTS);
    assert_eq!(blob.signature(), None);
    assert_eq!(blob.signed_bytes(), &b[..TOTAL]);
}

#[test]
fn code_is_eight_aligned_relative_to_the_blob() {
    let b = sample();
    let blob = Blob::parse(&b).unwrap();
    for c in blob.code_sections() {
        let offset = c.code.as_ptr() as usize - b.as_ptr() as usize;
        assert_eq!(offset % 8, 0, "{} at {offset}", c.engine);
    }
}

#[test]
fn run_mode_prefers_native_code_the_device_can_run() {
    let b = sample();
    let blob = Blob::parse(&b).unwrap();
    let all = Features::ALL;
    match blob.run_mode(Engine::Thumbv7m, all).unwrap() {
        RunMode::Native(c) => assert_eq!(c.engine, Engine::Thumbv7m),
        other => panic!("expected native, got {other:?}"),
    }
    // Missing the blob-wide feature: fall back to the bytecode.
    assert!(matches!(
        blob.run_mode(Engine::Thumbv7m, Features::HW_DIVIDE),
        Ok(RunMode::Interpret(_))
    ));
    assert!(matches!(blob.run_mode(Engine::X86_64, all), Ok(RunMode::Interpret(_))));
    assert!(matches!(blob.run_mode(Engine::Interp, Features::NONE), Ok(RunMode::Interpret(_))));
}

#[test]
fn run_mode_without_bytecode_or_code_rejects() {
    let mut b = sample();
    put32(&mut b, 12, 0);
    put32(&mut b, 40, 0);
    put32(&mut b, 44, 0);
    reseal(&mut b);
    let blob = Blob::parse(&b).unwrap();
    assert_eq!(blob.bytecode(), None);
    assert_eq!(
        blob.run_mode(Engine::Aarch64, Features::ALL),
        Err(BlobError::NothingToRun { engine: Engine::Aarch64 })
    );
    assert!(matches!(blob.run_mode(Engine::Riscv32imc, Features::ALL), Ok(RunMode::Native(_))));
}

#[test]
fn truncated() {
    let b = sample();
    assert_eq!(Blob::parse(&b[..47]).unwrap_err(), BlobError::Truncated { needed: 48, got: 47 });
    assert_eq!(
        Blob::parse(&b[..100]).unwrap_err(),
        BlobError::Truncated { needed: TOTAL, got: 100 }
    );
    assert_eq!(Blob::parse(&[]).unwrap_err(), BlobError::Truncated { needed: 48, got: 0 });
}

#[test]
fn trailing_bytes() {
    let mut b = sample();
    b.extend_from_slice(&[0xff; 3]);
    assert_eq!(
        Blob::parse(&b).unwrap_err(),
        BlobError::TrailingBytes { total_len: TOTAL, got: TOTAL + 3 }
    );
    // A loader cuts such a blob out by its declared length.
    assert_eq!(blob_len(&b), Ok(TOTAL));
    assert!(Blob::parse(&b[..blob_len(&b).unwrap()]).is_ok());
}

#[test]
fn bad_magic() {
    let mut b = sample();
    b[3] = b'X';
    assert_eq!(Blob::parse(&b).unwrap_err(), BlobError::BadMagic { found: *b"FCBX" });
}

#[test]
fn unsupported_version() {
    let err = parse_changed(|b| put16(b, 4, FORMAT_VERSION + 1)).unwrap_err();
    assert_eq!(err, BlobError::UnsupportedVersion { found: FORMAT_VERSION + 1 });
    assert_eq!(
        parse_changed(|b| put16(b, 4, 0)).unwrap_err(),
        BlobError::UnsupportedVersion { found: 0 }
    );
}

#[test]
fn bad_header_length() {
    assert_eq!(
        parse_changed(|b| put16(b, 6, 52)).unwrap_err(),
        BlobError::BadHeaderLength { found: 52 }
    );
}

#[test]
fn bad_total_length() {
    let mut b = sample()[..50].to_vec();
    put32(&mut b, 8, 50);
    assert_eq!(Blob::parse(&b).unwrap_err(), BlobError::BadTotalLength { total_len: 50, min: 52 });
    // A signature flag raises the minimum by 64.
    let mut b = sample()[..100].to_vec();
    put32(&mut b, 8, 100);
    put32(&mut b, 12, 2);
    assert_eq!(
        Blob::parse(&b).unwrap_err(),
        BlobError::BadTotalLength { total_len: 100, min: 116 }
    );
}

#[test]
fn unknown_flags() {
    assert_eq!(
        parse_changed(|b| put32(b, 12, 1 | 8)).unwrap_err(),
        BlobError::UnknownFlags { bits: 8 }
    );
}

#[test]
fn bad_crc() {
    let mut b = sample();
    let stored = get32(&b, 200);
    b[170] ^= 0x10;
    let computed = crc32(&b[..200]);
    assert_ne!(stored, computed);
    assert_eq!(Blob::parse(&b).unwrap_err(), BlobError::BadCrc { stored, computed });
}

#[test]
fn reserved_fields_must_be_zero() {
    assert_eq!(
        parse_changed(|b| put16(b, 38, 1)).unwrap_err(),
        BlobError::ReservedNotZero { place: Place::Header }
    );
    assert_eq!(
        parse_changed(|b| b[REGIONS + 16 + 2] = 1).unwrap_err(),
        BlobError::ReservedNotZero { place: Place::DataRegion(1) }
    );
    assert_eq!(
        parse_changed(|b| put16(b, CODE + 24 + 2, 7)).unwrap_err(),
        BlobError::ReservedNotZero { place: Place::Code(1) }
    );
    // Without the bytecode flag, the bytecode fields must be zero.
    assert_eq!(
        parse_changed(|b| put32(b, 12, 0)).unwrap_err(),
        BlobError::ReservedNotZero { place: Place::Bytecode }
    );
}

#[test]
fn unknown_features() {
    assert_eq!(
        parse_changed(|b| put32(b, 16, 1 << 31)).unwrap_err(),
        BlobError::UnknownFeatures { place: Place::Header, bits: 1 << 31 }
    );
    assert_eq!(
        parse_changed(|b| put32(b, CODE + 4, Features::DSP.bits() | 1 << 20)).unwrap_err(),
        BlobError::UnknownFeatures { place: Place::Code(0), bits: 1 << 20 }
    );
}

#[test]
fn out_of_range() {
    // Tables that reach into the CRC.
    assert!(matches!(
        parse_changed(|b| put16(b, 32, 40)).unwrap_err(),
        BlobError::OutOfRange { place: Place::Tables, offset: 48, len, limit: 200 } if len == 4 * 40 + 48 + 48
    ));
    assert_eq!(
        parse_changed(|b| {
            put32(b, REGIONS + 20, 100);
            put32(b, REGIONS + 28, 44);
        })
        .unwrap_err(),
        BlobError::OutOfRange { place: Place::DataRegion(1), offset: 160, len: 44, limit: 200 }
    );
    assert_eq!(
        parse_changed(|b| put32(b, CODE + 44, 28)).unwrap_err(),
        BlobError::OutOfRange { place: Place::Code(1), offset: 176, len: 28, limit: 200 }
    );
    assert_eq!(
        parse_changed(|b| put32(b, 44, 24)).unwrap_err(),
        BlobError::OutOfRange { place: Place::Bytecode, offset: 184, len: 24, limit: 200 }
    );
    // An offset near u32::MAX must not wrap around.
    assert!(matches!(
        parse_changed(|b| put32(b, CODE + 40, 0xffff_fff8)).unwrap_err(),
        BlobError::OutOfRange { place: Place::Code(1), .. }
    ));
}

#[test]
fn overlap() {
    // riscv32imc code placed on top of the thumbv7m code.
    assert_eq!(
        parse_changed(|b| put32(b, CODE + 40, 168)).unwrap_err(),
        BlobError::Overlap { place: Place::Code(1), offset: 168, previous_end: 174 }
    );
    // The first image inside the tables.
    assert_eq!(
        parse_changed(|b| put32(b, REGIONS + 8, 144)).unwrap_err(),
        BlobError::Overlap { place: Place::DataRegion(0), offset: 144, previous_end: 152 }
    );
}

#[test]
fn misaligned() {
    assert_eq!(
        parse_changed(|b| put32(b, CODE + 16, 172)).unwrap_err(),
        BlobError::Misaligned { place: Place::Code(0), offset: 172 }
    );
    assert_eq!(
        parse_changed(|b| put32(b, 40, 188)).unwrap_err(),
        BlobError::Misaligned { place: Place::Bytecode, offset: 188 }
    );
}

#[test]
fn helpers_not_ascending() {
    assert_eq!(
        parse_changed(|b| put32(b, 52, 1)).unwrap_err(),
        BlobError::HelpersNotAscending { index: 1, id: 1 }
    );
    assert_eq!(
        parse_changed(|b| put32(b, 48, 9)).unwrap_err(),
        BlobError::HelpersNotAscending { index: 1, id: 5 }
    );
}

#[test]
fn unknown_region_kind() {
    assert_eq!(
        parse_changed(|b| b[REGIONS] = 3).unwrap_err(),
        BlobError::UnknownRegionKind { index: 0, kind: 3 }
    );
}

#[test]
fn zeroed_with_image() {
    assert_eq!(
        parse_changed(|b| put32(b, REGIONS + 44, 1)).unwrap_err(),
        BlobError::ZeroedWithImage { index: 2 }
    );
    assert_eq!(
        parse_changed(|b| put32(b, REGIONS + 40, 8)).unwrap_err(),
        BlobError::ZeroedWithImage { index: 2 }
    );
}

#[test]
fn image_larger_than_region() {
    assert_eq!(
        parse_changed(|b| put32(b, REGIONS + 4, 3)).unwrap_err(),
        BlobError::ImageLargerThanRegion { index: 0, image_len: 4, size: 3 }
    );
}

#[test]
fn unknown_engine() {
    assert_eq!(
        parse_changed(|b| put16(b, CODE + 24, 99)).unwrap_err(),
        BlobError::UnknownEngine { index: 1, id: 99 }
    );
}

#[test]
fn code_for_the_interpreter_is_rejected() {
    assert_eq!(
        parse_changed(|b| put16(b, CODE, 0)).unwrap_err(),
        BlobError::NotNative { index: 0 }
    );
}

#[test]
fn engines_must_ascend() {
    assert_eq!(
        parse_changed(|b| put16(b, CODE + 24, 1)).unwrap_err(),
        BlobError::EnginesNotAscending { index: 1, engine: Engine::Thumbv7m }
    );
    assert_eq!(
        parse_changed(|b| put16(b, CODE, 4)).unwrap_err(),
        BlobError::EnginesNotAscending { index: 1, engine: Engine::Riscv32imc }
    );
}

#[test]
fn empty_code() {
    assert_eq!(
        parse_changed(|b| {
            put32(b, CODE + 32, 0);
            put32(b, CODE + 44, 0);
        })
        .unwrap_err(),
        BlobError::EmptyCode { index: 1 }
    );
}

#[test]
fn entry_out_of_range() {
    assert_eq!(
        parse_changed(|b| put32(b, CODE + 8, 6)).unwrap_err(),
        BlobError::EntryOutOfRange { index: 0, entry: 6, code_len: 6 }
    );
}

#[test]
fn entry_misaligned() {
    assert_eq!(
        parse_changed(|b| put32(b, CODE + 8, 3)).unwrap_err(),
        BlobError::EntryMisaligned { index: 0, entry: 3, align: 2 }
    );
}

#[test]
fn machine_stack_mismatch() {
    assert_eq!(
        parse_changed(|b| put32(b, 24, 32)).unwrap_err(),
        BlobError::MachineStackMismatch { header: 32, sections: 64 }
    );
    assert_eq!(
        parse_changed(|b| put32(b, CODE + 36, 128)).unwrap_err(),
        BlobError::MachineStackMismatch { header: 64, sections: 128 }
    );
}

#[test]
fn bytecode_empty() {
    assert_eq!(parse_changed(|b| put32(b, 44, 0)).unwrap_err(), BlobError::BytecodeEmpty);
}

#[test]
fn bytecode_partial_slot() {
    assert_eq!(
        parse_changed(|b| put32(b, 44, 12)).unwrap_err(),
        BlobError::BytecodePartialSlot { len: 12 }
    );
}

#[test]
fn bytecode_too_long() {
    let slots = femtoc_isa::MAX_INSNS as u32 + 1;
    assert_eq!(
        parse_changed(|b| put32(b, 44, slots * 8)).unwrap_err(),
        BlobError::BytecodeTooLong { slots }
    );
}

#[test]
fn unsigned_blob_has_no_signature() {
    let b = sample();
    assert_eq!(Blob::parse(&b).unwrap().signature(), None);
}

#[test]
fn signature_is_the_last_64_bytes() {
    let mut b = sample();
    put32(&mut b, 8, (TOTAL + 64) as u32);
    put32(&mut b, 12, 3);
    reseal(&mut b);
    b.extend((0..64).map(|i| i as u8));
    let blob = Blob::parse(&b).unwrap();
    let expected: Vec<u8> = (0..64).collect();
    assert_eq!(&blob.signature().unwrap()[..], &expected[..]);
    assert_eq!(blob.signed_bytes(), &b[..TOTAL]);
}

#[test]
fn errors_name_the_place() {
    let err = parse_changed(|b| put32(b, CODE + 16, 172)).unwrap_err();
    assert_eq!(err.to_string(), "code section 0: payload offset 172 is not a multiple of 8");
}
