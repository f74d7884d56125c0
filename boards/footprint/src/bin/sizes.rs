//! Not a variant: its symbols' sizes are the target's sizes of the
//! runtime's per-run and per-container structures, which
//! `scripts/footprint.sh` reads with `nm -S` (no need to run the image).
#![no_std]
#![no_main]

use core::mem::size_of;
use femtoc_footprint::{black_box, entry};
use femtoc_isa::{FunctionInfo, SlotScratch, VerifiedRef};
use femtoc_runtime::blob::Blob;
use femtoc_runtime::helpers::HelperFn;
use femtoc_runtime::{MemRegion, Regions, RUN_STATE_BYTES};

entry!(main);

/// Declares a zeroed static named `FOOTPRINT_SIZE_<name>` of `$bytes` bytes.
macro_rules! sizes {
    ($($name:ident = $bytes:expr;)*) => {
        $(
            #[no_mangle]
            static $name: [u8; $bytes] = [0; $bytes];
        )*
        fn main() -> u32 {
            $(black_box(&$name);)*
            0
        }
    };
}

sizes! {
    FOOTPRINT_SIZE_REGIONS = size_of::<Regions<'static>>();
    FOOTPRINT_SIZE_MEM_REGION = size_of::<MemRegion<'static>>();
    FOOTPRINT_SIZE_RUN_STATE = RUN_STATE_BYTES;
    FOOTPRINT_SIZE_VERIFIED_REF = size_of::<VerifiedRef<'static>>();
    FOOTPRINT_SIZE_FUNCTION_INFO = size_of::<FunctionInfo>();
    FOOTPRINT_SIZE_SLOT_SCRATCH = size_of::<SlotScratch>();
    FOOTPRINT_SIZE_BLOB = size_of::<Blob<'static>>();
    FOOTPRINT_SIZE_HELPER_ENTRY = size_of::<Option<(u32, HelperFn<()>)>>();
}
