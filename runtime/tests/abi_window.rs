//! The check windows of the native ABI: what `fill_window` computes, and
//! which table entry a descriptor names.

use femtoc_runtime::abi::{window, NativeContext, NativeRegion, REGION_READ, REGION_WRITE};
use femtoc_runtime::native::routines::{fill_window, window_region};
use femtoc_runtime::region::MAX_DATA_REGIONS;

fn region(start: u64, len: u64, flags: u32) -> NativeRegion {
    NativeRegion { start, len, flags, reserved: 0 }
}

/// Sizes 1 and 4 (bits 0 and 2).
const SIZES_1_4: u32 = 0b101;

#[test]
fn counts_are_the_offsets_where_each_size_fits() {
    let r = region(0x2000_0000, 16, REGION_READ);
    let w = window::words(Some(&r), window::descriptor(0, false, false, SIZES_1_4));
    assert_eq!(w, [0x2000_0000, 16, 0, 13, 0, 0, 0, 0]);
    // Every size up to 64 on a 64-byte region: 64, 63, 61, 57, 49, 33, 1.
    let r = region(0x100, 64, REGION_READ | REGION_WRITE);
    let w = window::words(Some(&r), window::descriptor(0, false, true, window::SIZES));
    assert_eq!(w, [0x100, 64, 63, 61, 57, 49, 33, 1]);
}

#[test]
fn unusable_windows_have_no_counts() {
    let read_only = region(0x100, 64, REGION_READ);
    let write = window::descriptor(0, false, true, SIZES_1_4);
    assert_eq!(window::words(Some(&read_only), write), [0; window::WORDS], "no permission");
    assert_eq!(window::words(None, write), [0; window::WORDS], "no region");
    let short = region(0x100, 3, REGION_READ);
    let read = window::descriptor(0, false, false, SIZES_1_4);
    assert_eq!(window::words(Some(&short), read), [0; window::WORDS], "shorter than 4");
    let four = region(0x100, 4, REGION_READ);
    assert_eq!(window::words(Some(&four), read), [0x100, 4, 0, 1, 0, 0, 0, 0]);
}

#[test]
fn a_window_needs_the_region_below_the_last_address() {
    let read = window::descriptor(0, false, false, 1);
    // Ends just below 0xFFFF_FFFF: usable.
    let top = region(0xFFFF_FF00, 0xFF, REGION_READ);
    assert_eq!(window::words(Some(&top), read)[1], 0xFF);
    // Holds 0xFFFF_FFFF, or lies above 4 GiB: 32-bit compares cannot cover it.
    for r in [region(0xFFFF_FF00, 0x100, REGION_READ), region(1 << 32, 16, REGION_READ)] {
        assert_eq!(window::words(Some(&r), read), [0; window::WORDS], "{r:?}");
    }
}

#[test]
fn descriptors_name_table_entries_and_data_regions() {
    let table = [
        region(0x1000, 512, REGION_READ | REGION_WRITE),
        region(0x2000, 64, REGION_READ),
        region(0x3000, 32, REGION_READ),
        region(0x3000, 16, REGION_READ | REGION_WRITE),
    ];
    let mut bases = [0u64; MAX_DATA_REGIONS];
    bases[0] = 0x3000;
    bases[1] = 0x9000;
    let ctx = NativeContext {
        region_count: table.len() as u32,
        regions: table.as_ptr() as usize as u64,
        data_bases: bases.as_ptr() as usize as u64,
        ..NativeContext::default()
    };
    let find = |index, data| {
        // SAFETY: `ctx` points at `table` (with its length) and at `bases`.
        unsafe { window_region(&ctx, window::descriptor(index, data, false, 1)) }.copied()
    };
    assert_eq!(find(1, false), Some(table[1]));
    assert_eq!(find(4, false), None, "past the table");
    assert_eq!(find(0, true), Some(table[2]), "the first entry at the base");
    assert_eq!(find(1, true), None, "no entry at that base");
    assert_eq!(find(MAX_DATA_REGIONS as u8, true), None, "no such data region");
    assert_eq!(find(200, false), None, "an index too large for the descriptor");
    assert!(window::descriptor(200, true, true, window::SIZES) <= 0xffff, "a 16-bit immediate");
}

#[test]
fn the_routine_writes_every_word_and_returns_the_context() {
    let table = [region(0x1000, 8, REGION_READ | REGION_WRITE)];
    let mut ctx = NativeContext {
        region_count: 1,
        regions: table.as_ptr() as usize as u64,
        ..NativeContext::default()
    };
    let mut frame = [0xdead_beef_u32; window::WORDS];
    let desc = window::descriptor(0, false, true, 0b1001);
    // SAFETY: `ctx` points at `table`; `frame` has room for a window.
    let back = unsafe { fill_window(&mut ctx, frame.as_mut_ptr(), desc) };
    assert_eq!(back, &mut ctx as *mut NativeContext);
    assert_eq!(frame, [0x1000, 8, 0, 0, 1, 0, 0, 0]);
}
