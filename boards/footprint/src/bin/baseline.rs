//! The skeleton alone: what every other image's size is measured against.
#![no_std]
#![no_main]

use femtoc_footprint::{black_box, entry};

entry!(main);

fn main() -> u32 {
    black_box(0)
}
