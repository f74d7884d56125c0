//! The blob reader: header, CRC-32 and table checks of `Blob::parse`.
#![no_std]
#![no_main]

use femtoc_footprint::{black_box, entry};
use femtoc_runtime::blob::Blob;

entry!(main);

/// Stand-in for a blob in flash; `black_box` hides its content.
static BLOB: [u8; 64] = [0; 64];

fn main() -> u32 {
    match Blob::parse(black_box(&BLOB[..])) {
        Ok(blob) => black_box(blob).crc(),
        Err(e) => {
            black_box(e);
            1
        }
    }
}
