//! `blob` plus the Ed25519 check of `Blob::verify_signature` (runtime
//! feature `ed25519`); its cost alone is this image minus `blob`.
#![no_std]
#![no_main]

use femtoc_footprint::{black_box, entry};
use femtoc_runtime::blob::Blob;

entry!(main);

/// Stand-in for a signed blob in flash; `black_box` hides its content.
static BLOB: [u8; 128] = [0; 128];

/// Stand-in for the device's provisioned public key.
static PUBLIC_KEY: [u8; 32] = [0; 32];

fn main() -> u32 {
    let blob = match Blob::parse(black_box(&BLOB[..])) {
        Ok(blob) => blob,
        Err(e) => {
            black_box(e);
            return 1;
        }
    };
    match blob.verify_signature(black_box(&PUBLIC_KEY)) {
        Ok(()) => 0,
        Err(e) => {
            black_box(e);
            2
        }
    }
}
