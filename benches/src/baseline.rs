//! What rustc -O makes of the benchmark programs: each `examples/c/*.c`
//! transcribed with the same algorithm, loop structure and table, so that
//! the benches can put femtoc's engines next to ordinary compiled code.
//!
//! Unlike [`crate::reference`], which only has to be right, these mirror the
//! C sources step by step (insertion sort, not `sort_unstable`; CRC-32 four
//! bits at a time from the 16-entry table; FNV-1a over the key, then the
//! data, in a function of its own). Each entry point is `#[inline(never)]`
//! and passes its input and result through [`black_box`], so that rustc can
//! neither fold a run into a constant nor merge it into the caller's loop.

use std::hint::black_box;

/// Words per block of `fletcher32.c`: the most whose sums fit in 32 bits.
const FLETCHER_BLOCK: usize = 359;

/// Fletcher-32 as `fletcher32.c` computes it: words read byte by byte,
/// sums folded after every block and at the end.
#[inline(never)]
pub fn fletcher32(data: &[u8]) -> u32 {
    let data = black_box(data);
    let fold = |s: u32| (s & 0xffff) + (s >> 16);
    let (mut sum1, mut sum2) = (0xffffu32, 0xffffu32);
    // An odd last byte is not part of any word, as `len / 2` drops it.
    let (words, _) = data.split_at(data.len() - data.len() % 2);
    for block in words.chunks(2 * FLETCHER_BLOCK) {
        for word in block.chunks_exact(2) {
            let w = u32::from(word[0]) | (u32::from(word[1]) << 8);
            sum1 = sum1.wrapping_add(w);
            sum2 = sum2.wrapping_add(sum1);
        }
        sum1 = fold(sum1);
        sum2 = fold(sum2);
    }
    sum1 = fold(sum1);
    sum2 = fold(sum2);
    black_box((sum2 << 16) | sum1)
}

/// Values `sort.c` sorts at most.
const SORT_MAX: usize = 32;

/// `sort.c`: insertion sort of up to 32 little-endian `u32`s in a stack
/// array, then the position-weighted checksum.
#[inline(never)]
pub fn sort(data: &[u8]) -> u64 {
    let data = black_box(data);
    let mut storage = [0u32; SORT_MAX];
    let n = (data.len() / 4).min(SORT_MAX);
    let values = &mut storage[..n];
    for (v, w) in values.iter_mut().zip(data.chunks_exact(4)) {
        *v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    for i in 1..values.len() {
        let key = values[i];
        let mut j = i;
        // j <= i < values.len(), so neither index can be out of bounds.
        while j > 0 && values[j - 1] > key {
            values[j] = values[j - 1];
            j -= 1;
        }
        values[j] = key;
    }
    let mut checksum = 0u64;
    for (i, &v) in values.iter().enumerate() {
        checksum = checksum.wrapping_add(u64::from(v).wrapping_mul(i as u64 + 1));
    }
    black_box(checksum)
}

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// `hash.c`'s `fnv1a`, kept out of line as the C source keeps it.
#[inline(never)]
fn fnv1a(mut h: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// `hash.c`'s `avalanche`, kept out of line as the C source keeps it.
#[inline(never)]
fn avalanche(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^= h >> 16;
    h
}

/// `hash.c`: FNV-1a over the length's low four bytes, then over the data,
/// then the avalanche step.
#[inline(never)]
pub fn hash(data: &[u8]) -> u32 {
    let data = black_box(data);
    // The C key is the low four bytes of the 64-bit length: truncation meant.
    let key = (data.len() as u32).to_le_bytes();
    let h = fnv1a(FNV_OFFSET, &key);
    let h = fnv1a(h, data);
    black_box(avalanche(h))
}

/// `crc32.c`'s table: the CRC of each nibble value, reflected polynomial
/// 0xedb88320.
static CRC_NIBBLE: [u32; 16] = [
    0x0000_0000,
    0x1db7_1064,
    0x3b6e_20c8,
    0x26d9_30ac,
    0x76dc_4190,
    0x6b6b_51f4,
    0x4db2_6158,
    0x5005_713c,
    0xedb8_8320,
    0xf00f_9344,
    0xd6d6_a3e8,
    0xcb61_b38c,
    0x9b64_c2b0,
    0x86d3_d2d4,
    0xa00a_e278,
    0xbdbd_f21c,
];

/// One nibble step; `& 0xf` keeps the index inside the 16 entries.
#[inline(always)]
fn nibble_step(crc: u32) -> u32 {
    (crc >> 4) ^ CRC_NIBBLE[(crc & 0xf) as usize]
}

/// `crc32.c`: CRC-32 (zlib's), two table steps of four bits per byte.
#[inline(never)]
pub fn crc32(data: &[u8]) -> u32 {
    let data = black_box(data);
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        crc = nibble_step(crc);
        crc = nibble_step(crc);
    }
    black_box(!crc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::OWN_INPUT;
    use crate::reference;

    /// The bench input, its odd-length and short prefixes, empty, and
    /// inputs long enough for several Fletcher blocks and a full sort array.
    fn inputs() -> Vec<Vec<u8>> {
        let mut out = vec![OWN_INPUT.to_vec(), Vec::new(), b"a".to_vec(), b"abc".to_vec()];
        for len in [1, 2, 3, 5, 7, 127, 129, 131, 359] {
            out.push(OWN_INPUT.iter().copied().take(len).collect());
        }
        // Descending words make the insertion sort shift every value.
        out.push((0..40u32).rev().flat_map(|v| (v * 0x0101_0101).to_le_bytes()).collect());
        out.push((0..2000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect());
        out.push(vec![0xff; 2 * 1000 + 1]);
        out
    }

    #[test]
    fn every_baseline_matches_the_reference() {
        type Program = fn(&[u8]) -> u64;
        let pairs: [(&str, Program, Program); 4] = [
            ("fletcher32", |d| u64::from(fletcher32(d)), |d| u64::from(reference::fletcher32(d))),
            ("sort", sort, reference::sort_checksum),
            ("hash", |d| u64::from(hash(d)), |d| u64::from(reference::keyed_hash(d))),
            ("crc32", |d| u64::from(crc32(d)), |d| u64::from(reference::crc32(d))),
        ];
        for data in inputs() {
            for (name, baseline, reference) in pairs {
                assert_eq!(baseline(&data), reference(&data), "{name}, len {}", data.len());
            }
        }
    }

    #[test]
    fn the_nibble_table_is_the_crc_of_each_nibble() {
        // Derived from the polynomial, not copied from the C table.
        for (n, &entry) in CRC_NIBBLE.iter().enumerate() {
            let mut c = n as u32;
            for _ in 0..4 {
                c = if c & 1 != 0 { (c >> 1) ^ 0xedb8_8320 } else { c >> 1 };
            }
            assert_eq!(entry, c, "entry {n}");
        }
    }
}
