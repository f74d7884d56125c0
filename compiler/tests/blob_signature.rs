//! Signature errors of the blob reader (feature `ed25519`), with blobs the
//! writer signed.

use femtoc_compiler::blob::{write_blob, BlobSpec, SigningKey};
use femtoc_runtime::blob::{Blob, BlobError};

const SLOTS: [u64; 2] = [0x0000_0000_0000_00b7, 0x95];

fn blob(key: Option<&SigningKey>) -> Vec<u8> {
    write_blob(&BlobSpec { bytecode: Some(&SLOTS), ebpf_stack: 64, ..BlobSpec::default() }, key)
        .unwrap()
}

#[test]
fn good_signature_verifies() {
    let key = SigningKey::from_seed([3; 32]).unwrap();
    let bytes = blob(Some(&key));
    assert_eq!(Blob::parse(&bytes).unwrap().verify_signature(&key.public_key()), Ok(()));
}

#[test]
fn missing_signature() {
    let key = SigningKey::from_seed([3; 32]).unwrap();
    let bytes = blob(None);
    let parsed = Blob::parse(&bytes).unwrap();
    assert_eq!(parsed.verify_signature(&key.public_key()), Err(BlobError::MissingSignature));
    assert_eq!(
        Blob::parse_signed(&bytes, &key.public_key()).unwrap_err(),
        BlobError::MissingSignature
    );
}

#[test]
fn signature_by_another_key() {
    let signer = SigningKey::from_seed([3; 32]).unwrap();
    let other = SigningKey::from_seed([4; 32]).unwrap();
    assert_ne!(signer.public_key(), other.public_key());
    let bytes = blob(Some(&signer));
    assert_eq!(
        Blob::parse_signed(&bytes, &other.public_key()).unwrap_err(),
        BlobError::BadSignature
    );
}

#[test]
fn weak_public_key() {
    let key = SigningKey::from_seed([3; 32]).unwrap();
    let bytes = blob(Some(&key));
    // The identity point (y = 1) has small order: no honest key is it.
    let mut weak = [0u8; 32];
    weak[0] = 1;
    assert_eq!(Blob::parse_signed(&bytes, &weak).unwrap_err(), BlobError::BadPublicKey);
}

#[test]
fn signatures_are_rfc8032_ed25519() {
    // RFC 8032 section 7.1, test 1: the empty message.
    let seed: [u8; 32] = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let key = SigningKey::from_seed(seed).unwrap();
    assert_eq!(
        key.public_key().to_vec(),
        hex::<32>("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").to_vec()
    );
    let expected: [u8; 64] = hex(concat!(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155",
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    ));
    assert_eq!(key.sign(b"").to_vec(), expected.to_vec());
}

fn hex<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn an_all_zero_seed_is_refused_not_a_panic() {
    assert_eq!(SigningKey::from_seed([0; 32]).err(), Some(femtoc_compiler::blob::WeakSeed));
}
