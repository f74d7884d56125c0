//! The reader never panics, and whenever it accepts a blob its views are
//! complete: every table entry decodes and every slice lies inside the blob.

use femtoc_runtime::blob::{crc32, Blob, FORMAT_VERSION};
use femtoc_runtime::engine::{Engine, Features};
use proptest::prelude::*;

/// A small valid blob: header, one helper, one rodata region, one
/// riscv32imc section, two bytecode slots.
fn seed_blob() -> Vec<u8> {
    let mut b = vec![0u8; 48 + 4 + 16 + 24];
    b[0..4].copy_from_slice(b"FCBL");
    let put =
        |b: &mut Vec<u8>, off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    b[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    b[6] = 48;
    put(&mut b, 12, 1);
    put(&mut b, 24, 8);
    b[32] = 1;
    b[34] = 1;
    b[36] = 1;
    put(&mut b, 48, 9);
    // rodata at 96, 4 bytes
    put(&mut b, 56, 4);
    put(&mut b, 60, 96);
    put(&mut b, 64, 4);
    // riscv32imc code at 104, 4 bytes
    b[68] = 3;
    put(&mut b, 80, 8);
    put(&mut b, 84, 104);
    put(&mut b, 88, 4);
    b.resize(112, 0);
    b[96..100].copy_from_slice(b"data");
    b[104..108].copy_from_slice(&[0x82, 0x80, 0x01, 0x00]);
    // bytecode at 112, 16 bytes
    put(&mut b, 40, 112);
    put(&mut b, 44, 16);
    b.resize(128, 0);
    b[112] = 0xb7;
    b[120] = 0x95;
    let total = b.len() as u32 + 4;
    put(&mut b, 8, total);
    let crc = crc32(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

fn reseal(b: &mut [u8]) {
    if b.len() >= 4 {
        let at = b.len() - 4;
        let crc = crc32(&b[..at]);
        b[at..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Everything an accepted blob offers must be there.
fn check_views(bytes: &[u8]) {
    let Ok(blob) = Blob::parse(bytes) else { return };
    let range = bytes.as_ptr_range();
    let inside = |s: &[u8]| range.start <= s.as_ptr() && s.as_ptr_range().end <= range.end;
    assert_eq!(blob.helpers().count(), usize::from(blob.helper_count()));
    assert_eq!(blob.data_regions().count(), usize::from(blob.region_count()));
    for r in blob.data_regions() {
        assert!(inside(r.image) && r.image.len() as u64 <= u64::from(r.size));
    }
    assert_eq!(blob.code_sections().count(), usize::from(blob.code_count()));
    for c in blob.code_sections() {
        assert!(inside(c.code) && (c.entry as usize) < c.code.len());
        assert_eq!(blob.code_for(c.engine), Some(c));
    }
    if let Some(code) = blob.bytecode() {
        assert!(inside(code) && !code.is_empty() && code.len() % 8 == 0);
    }
    for engine in Engine::ALL {
        let _ = blob.run_mode(engine, Features::ALL);
    }
}

#[test]
fn seed_is_valid() {
    let b = seed_blob();
    let blob = Blob::parse(&b).unwrap();
    assert_eq!(blob.code_count(), 1);
    check_views(&b);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Blob::parse(&bytes);
    }

    #[test]
    fn resealed_mutations_never_panic_and_stay_consistent(
        edits in proptest::collection::vec((0usize..132, any::<u8>()), 1..6),
    ) {
        // Resealing makes the CRC pass, so the structural checks are what
        // stands between the mutated tables and the accessors.
        let mut b = seed_blob();
        for (at, value) in edits {
            b[at] = value;
        }
        reseal(&mut b);
        check_views(&b);
    }
}
