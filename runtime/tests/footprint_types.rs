//! Bounds on the RAM the runtime's structures take, from DESIGN
//! "Footprint" (RAM per container at most 600 bytes including a 512-byte
//! stack). Host sizes are upper bounds of the 32-bit targets' sizes: these
//! types hold only pointers, `usize`s and fixed-width integers, and a
//! pointer is never wider on the device. `scripts/footprint.sh` prints the
//! exact target sizes.

use core::mem::size_of;
use femtoc_isa::{FunctionInfo, VerifiedRef};
use femtoc_runtime::region::{MAX_DATA_REGIONS, MAX_REGIONS};
use femtoc_runtime::{MemRegion, Regions, MAX_CALL_DEPTH, RUN_STATE_BYTES};

/// DESIGN's per-container RAM goal, eBPF stack included.
const CONTAINER_RAM_GOAL: usize = 600;
/// DESIGN's eBPF stack.
const EBPF_STACK: usize = 512;

/// What a container keeps between runs on a device without `alloc`: its
/// stack and the verified program's view (code and data stay in flash).
#[test]
fn one_function_container_meets_the_ram_goal() {
    let kept = EBPF_STACK + size_of::<VerifiedRef<'static>>() + size_of::<FunctionInfo>();
    assert!(kept <= CONTAINER_RAM_GOAL, "{kept} bytes per container, goal {CONTAINER_RAM_GOAL}");
}

/// The region table is its slots plus bookkeeping, nothing hidden.
#[test]
fn regions_table_is_slots_plus_data_bases() {
    let slots = MAX_REGIONS * size_of::<MemRegion<'static>>();
    let bases = MAX_DATA_REGIONS * size_of::<u64>();
    let counts = 2 * size_of::<usize>();
    assert!(size_of::<Regions<'static>>() <= slots + bases + counts);
}

/// A region is at most four words: pointer, start, length and two tags.
#[test]
fn a_region_is_at_most_four_words() {
    assert!(size_of::<MemRegion<'static>>() <= 4 * size_of::<u64>());
}

/// The interpreter's per-run state is its register file and one frame of
/// at most six words (return pc, r6..r9, frame pointer) per call level.
#[test]
fn run_state_is_registers_plus_bounded_frames() {
    let registers = 16 * size_of::<u64>();
    assert!(RUN_STATE_BYTES >= registers, "the register file alone is {registers} bytes");
    assert!(RUN_STATE_BYTES <= registers + MAX_CALL_DEPTH * 6 * size_of::<u64>());
}
