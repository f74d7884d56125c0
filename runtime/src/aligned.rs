//! Owned byte buffers that start at a multiple of 8, as data regions must
//! (see [`crate::region::DATA_ALIGN`]) and as a blob must for its bytecode
//! to be read in place. A `Vec<u8>` promises only byte alignment; backing
//! the bytes with `u64` words promises 8.

use alloc::vec::Vec;
use core::fmt;
use core::ops::{Deref, DerefMut};

/// `len` bytes in storage aligned to 8.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBytes {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Self {
        AlignedBytes { words: alloc::vec![0; len.div_ceil(8)], len }
    }

    /// A copy of `bytes`: how a blob is placed where the runtime can read
    /// its bytecode in place (as 64-bit slots).
    pub fn copy_of(bytes: &[u8]) -> Self {
        Self::with_image(bytes, bytes.len())
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        self
    }

    /// `size` bytes (at least `image.len()`) starting with `image`, the
    /// rest zero: a data region's initial contents.
    pub fn with_image(image: &[u8], size: usize) -> Self {
        let mut out = Self::zeroed(size.max(image.len()));
        out[..image.len()].copy_from_slice(image);
        out
    }
}

impl Deref for AlignedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `words` holds at least `len` initialised bytes, and u8 has
        // no alignment or validity requirement.
        unsafe { core::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }
}

impl DerefMut for AlignedBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and the borrow of `self` is exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
    }
}

impl fmt::Debug for AlignedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::AlignedBytes;

    #[test]
    fn starts_on_a_multiple_of_8_and_keeps_its_length() {
        for len in [0usize, 1, 7, 8, 9, 25] {
            let b = AlignedBytes::with_image(&[0xaa; 3][..len.min(3)], len);
            assert_eq!(b.len(), len);
            assert!(len == 0 || (b.as_ptr() as usize).is_multiple_of(8));
            assert!(b.iter().skip(3).all(|&x| x == 0));
        }
    }
}
