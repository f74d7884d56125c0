//! Every single-bit flip, every truncation and every extension of a blob is
//! rejected: by the reader (length, CRC and structure), or, for a signed
//! blob, by signature verification. A device must never install a damaged
//! blob or fall back to its bytecode.

use femtoc_compiler::blob::{write_blob, BlobSpec, CodeSpec, SigningKey};
use femtoc_isa::program::{DataKind, DataRegion};
use femtoc_runtime::blob::{Blob, BlobError};
use femtoc_runtime::engine::{Engine, Features};

const THUMB: [u8; 12] = [0x2d, 0xe9, 0xf0, 0x4f, 0x4f, 0xf0, 0x00, 0x00, 0xbd, 0xe8, 0xf0, 0x8f];
const RV: [u8; 10] = [0x41, 0x11, 0x06, 0xc6, 0x01, 0x45, 0xb2, 0x40, 0x41, 0x01];
const SLOTS: [u64; 4] = [0x0000_0007_0000_00b7, 0x0000_0000_0000_0118, 0x0000_0001_0000_0085, 0x95];

fn regions() -> Vec<DataRegion> {
    vec![
        DataRegion {
            name: ".rodata".into(),
            kind: DataKind::ReadOnly,
            image: b"femtoc\0".to_vec(),
            size: 8,
        },
        DataRegion {
            name: ".data".into(),
            kind: DataKind::ReadWrite,
            image: vec![1, 0, 0, 0],
            size: 4,
        },
        DataRegion { name: ".bss".into(), kind: DataKind::Zeroed, image: Vec::new(), size: 64 },
    ]
}

fn sample(key: Option<&SigningKey>) -> Vec<u8> {
    let data = regions();
    let code = [
        CodeSpec {
            engine: Engine::Thumbv7m,
            features: Features::NONE,
            entry: 0,
            machine_stack: 40,
            code: &THUMB,
        },
        CodeSpec {
            engine: Engine::Riscv32imc,
            features: Features::COMPRESSED,
            entry: 2,
            machine_stack: 16,
            code: &RV,
        },
    ];
    let spec = BlobSpec {
        features: Features::HW_DIVIDE,
        ebpf_stack: 512,
        min_ctx_len: 8,
        helpers: &[1, 2, 0x1000],
        data: &data,
        code: &code,
        bytecode: Some(&SLOTS),
    };
    write_blob(&spec, key).unwrap()
}

/// Accepted = parses and (when a key is given) verifies.
fn accepted(bytes: &[u8], key: Option<&[u8; 32]>) -> bool {
    match key {
        None => Blob::parse(bytes).is_ok(),
        Some(pk) => Blob::parse_signed(bytes, pk).is_ok(),
    }
}

fn check_every_mutation(original: &[u8], key: Option<&[u8; 32]>) -> usize {
    assert!(accepted(original, key), "the unmutated sample must be accepted");
    let mut tried = 0;
    let mut bytes = original.to_vec();
    for bit in 0..original.len() * 8 {
        bytes[bit / 8] ^= 1 << (bit % 8);
        assert!(
            !accepted(&bytes, key),
            "flipping bit {} of byte {} was accepted",
            bit % 8,
            bit / 8
        );
        bytes[bit / 8] ^= 1 << (bit % 8);
        tried += 1;
    }
    for len in 0..original.len() {
        assert!(!accepted(&original[..len], key), "truncation to {len} bytes was accepted");
        tried += 1;
    }
    for extra in [&[0u8][..], &[0xff], &[0; 4], &[0xff; 64], &original[..16]] {
        let mut longer = original.to_vec();
        longer.extend_from_slice(extra);
        assert!(!accepted(&longer, key), "appending {} bytes was accepted", extra.len());
        tried += 1;
    }
    tried
}

#[test]
fn unsigned_blob_rejects_every_bit_flip_truncation_and_extension() {
    let blob = sample(None);
    assert!(blob.len() > 200, "sample should exercise every section: {} bytes", blob.len());
    let tried = check_every_mutation(&blob, None);
    assert_eq!(tried, blob.len() * 9 + 5);
}

#[test]
fn signed_blob_rejects_every_bit_flip_truncation_and_extension() {
    let key = SigningKey::from_seed([0x5a; 32]).unwrap();
    let blob = sample(Some(&key));
    check_every_mutation(&blob, Some(&key.public_key()));
}

#[test]
fn signed_blob_flips_in_the_signature_pass_parse_but_fail_verification() {
    // The signature is outside the CRC: parse alone cannot catch these,
    // which is why a device that requires signatures must verify.
    let key = SigningKey::from_seed([0x5a; 32]).unwrap();
    let mut blob = sample(Some(&key));
    let last = blob.len() - 1;
    blob[last] ^= 1;
    let parsed = Blob::parse(&blob).unwrap();
    assert_eq!(parsed.verify_signature(&key.public_key()), Err(BlobError::BadSignature));
}
