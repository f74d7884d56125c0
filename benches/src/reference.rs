//! Plain Rust versions of the benchmark programs (`examples/c/*.c`), written
//! from their definitions, so that every engine's result is checked against
//! something that is not itself an eBPF engine.

/// Fletcher-32 over `len / 2` little-endian 16-bit words, sums starting at
/// 0xffff and folded after every block of at most 359 words and at the end.
pub fn fletcher32(data: &[u8]) -> u32 {
    let fold = |s: u32| (s & 0xffff) + (s >> 16);
    let (mut sum1, mut sum2) = (0xffffu32, 0xffffu32);
    let words: Vec<u32> =
        data.chunks_exact(2).map(|w| u32::from(u16::from_le_bytes([w[0], w[1]]))).collect();
    for block in words.chunks(359) {
        for &w in block {
            sum1 = sum1.wrapping_add(w);
            sum2 = sum2.wrapping_add(sum1);
        }
        sum1 = fold(sum1);
        sum2 = fold(sum2);
    }
    (fold(sum2) << 16) | fold(sum1)
}

/// The first `min(len / 4, 32)` little-endian `u32`s sorted ascending, then
/// the sum of `value * (position + 1)`.
pub fn sort_checksum(data: &[u8]) -> u64 {
    let mut values: Vec<u32> = data
        .chunks_exact(4)
        .take(32)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    values.sort_unstable();
    values
        .iter()
        .zip(1u64..)
        .fold(0u64, |acc, (&v, i)| acc.wrapping_add(u64::from(v).wrapping_mul(i)))
}

/// FNV-1a (32-bit) continuing from `h`.
pub fn fnv1a(mut h: u32, data: &[u8]) -> u32 {
    for &b in data {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// FNV-1a over the length's low four bytes, then the data, then the
/// avalanche step of `hash.c`.
pub fn keyed_hash(data: &[u8]) -> u32 {
    let key = (data.len() as u32).to_le_bytes();
    let mut h = fnv1a(fnv1a(0x811c_9dc5, &key), data);
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^ (h >> 16)
}

/// CRC-32 as zlib computes it, one bit at a time.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    // Published check values of each algorithm, not outputs of this code.
    #[test]
    fn fletcher32_matches_published_vectors() {
        assert_eq!(fletcher32(b"abcdef"), 0x5650_2d2a);
        assert_eq!(fletcher32(b"abcdefgh"), 0xebe1_9591);
    }

    #[test]
    fn fletcher32_folds_long_inputs() {
        // More than one 359-word block of 0xffff words: every fold keeps
        // the sums congruent mod 65535, where 0xffff is 0.
        let data = vec![0xffu8; 2 * 1000];
        let r = fletcher32(&data);
        assert_eq!((r & 0xffff) % 0xffff, 0);
        assert_eq!((r >> 16) % 0xffff, 0);
    }

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn fnv1a_matches_published_vectors() {
        assert_eq!(fnv1a(0x811c_9dc5, b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(0x811c_9dc5, b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn sort_checksum_weights_sorted_positions() {
        let data: Vec<u8> = [3u32, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
        // Sorted 1, 2, 3: 1*1 + 2*2 + 3*3.
        assert_eq!(sort_checksum(&data), 14);
        // Only the first 32 values count.
        let many: Vec<u8> = (0..40u32).rev().flat_map(|v| v.to_le_bytes()).collect();
        let expected: u64 = (8..40u64).zip(1..).map(|(v, i)| v * i).sum();
        assert_eq!(sort_checksum(&many), expected);
    }
}
