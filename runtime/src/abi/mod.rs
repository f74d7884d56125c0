//! # The femtoc native ABI, version 3
//!
//! The contract between compiled container code (from any femtoc backend:
//! Thumb-2, RV32, Cranelift) and the runtime that calls it. A backend author
//! needs only this page.
//!
//! ## Entry
//!
//! A code section's entry is a function with the C calling convention of
//! its target (AAPCS for `thumbv7m`/`thumbv7em`, ILP32 for `riscv32imc`/
//! `riscv32imac`, System V for `x86_64`, AAPCS64 for `aarch64`, LP64 for
//! `riscv64gc`):
//!
//! ```c
//! uint32_t entry(struct NativeContext *ctx);
//! ```
//!
//! It returns one of the [`status`] codes. Everything else goes through the
//! context: the initial eBPF registers (`r1`, `r2`, `stack_top` as r10),
//! the result (`r0`), and the stop record (`exit_pc`, `fault_*`,
//! `helper_*`). The code is position-independent and is patched by nobody:
//! every address it needs that is not a program value (region table, data
//! bases, runtime routines) it reads through `ctx`.
//!
//! ## Layout
//!
//! [`NativeContext`], [`NativeRegion`] and [`RoutineTable`] are `#[repr(C)]`
//! and use only `u32` and `u64` fields, so their layout is the same on every
//! target: a pointer is stored in a `u64` (upper half zero on 32-bit
//! targets; a Thumb code pointer has bit 0 set). The byte offsets are the
//! `OFF_*` constants below and are checked at compile time.
//!
//! ## Registers and stack
//!
//! At entry the code sets eBPF r1 and r2 from the context, r10 to
//! `stack_top`, and every other eBPF register to 0. The verifier forbids
//! reading a register before it is written, except as an argument of a
//! helper call (a helper's arity is unknown), where its value shows in the
//! helper's arguments; starting at 0 keeps those identical to the
//! interpreter's. Code of a program without helper calls may therefore
//! skip the zeroing: nothing can observe it.
//!
//! The code preserves what the target's C ABI calls callee-saved
//! (AAPCS: r4-r11, sp; ILP32/LP64: s0-s11, sp, and returns through ra;
//! SysV: rbx, rbp, r12-r15; AAPCS64: x19-x28, x29, sp). The machine stack is
//! aligned as the C ABI demands at every call the code makes (8 bytes on
//! Arm M-profile, 16 bytes on RISC-V, x86-64 and AArch64). The eBPF stack is
//! *not* the machine stack: it is a region the runtime provides, with r10 =
//! `stack_top`, a multiple of 8 (see `Regions::new`), so that code may
//! decide the alignment of an r10-relative access from its offset alone;
//! backend spill slots live on the machine stack and are never
//! visible to the program. A code section records in the blob how many bytes
//! of machine stack it needs at most, including [`ROUTINE_STACK_BYTES`] for
//! any runtime routine it calls.
//!
//! ## Memory checks
//!
//! Code may access without a check what the verifier proved in bounds
//! (constant r10-relative accesses inside the frame; context accesses below
//! `VerifiedRef::min_ctx_len`, since every engine refuses a shorter
//! context), and what the compiler proves: a load, or a store into a
//! writable region, at an offset from a data region's base bounded inside
//! the size the blob declares for it (the runtime makes each data region
//! exactly that size), or at an offset from r10 bounded inside the
//! function's verified frame. Every other access is checked against the region table
//! ([`NativeContext::regions`]): inline against the likeliest region, and
//! otherwise through [`RoutineTable::access_check`], which searches the whole
//! table. An access is allowed iff all of its bytes lie in one region with
//! the needed permission; on a 32-bit target an address whose upper half is
//! non-zero is never allowed. When an access is refused, the code stores
//! the fault (address, size, direction) and the eBPF pc and returns
//! [`status::MEMORY_FAULT`] without performing any part of the access.
//! Atomic accesses must be naturally aligned; a misaligned one is a memory
//! fault with `fault_write = 1`. Every non-empty data region starts at a
//! multiple of 8 ([`crate::region::DATA_ALIGN`]; `Regions::push_data`
//! refuses any other), so code may decide the alignment of an access at a
//! known offset from a data region's base from the offset alone, as it
//! does for r10. (Version 3 added this rule; version 2 code checks the
//! alignment of every atomic outside the frame.)
//!
//! On a 32-bit target, code may rely on no region holding the byte at
//! address `0xFFFF_FFFF`: a Rust slice never does (one past its end must be
//! representable), and [`crate::region::MemRegion::from_raw_parts`] demands
//! it. So an access that succeeded shows that its base plus its offset and
//! size is below `2^32 - 1`, and the base advanced by at most that much
//! still fits in 32 bits (the Thumb-2 backend's range analysis uses this).
//!
//! ## Budget
//!
//! `budget_left` counts the events still allowed (`u64::MAX` means no
//! budget). Before each event (a taken jump whose target is at or before its
//! own pc, and each local call) the code checks: if `budget_left == 0` it
//! stores the event's pc in `exit_pc` and returns [`status::BUDGET`];
//! otherwise it decrements `budget_left`. The code may keep the counter in a
//! register while it runs, but must store it back before it returns and
//! before any helper call (no other routine reads it).
//!
//! ## Helpers
//!
//! To call helper `id`, the code stores r1..r5 in `helper_args`, `id` in
//! `helper_id` and the call's eBPF pc in `exit_pc`, then calls
//! [`RoutineTable::helper_call`]`(ctx)`. It returns
//! [`status::CONTINUE`] with the helper's result in `r0` (then the code
//! continues with eBPF r0 = `ctx.r0`; eBPF r1..r5 are dead, as the verifier
//! guarantees), or [`status::HELPER_FAILED`] (record filled, code returns
//! that status at once), or [`status::HELPER_STOP`] (`r0` holds the run's
//! result; the code returns that status at once).
//!
//! ## Division and 64-bit atomics on 32-bit cores
//!
//! Every division guards its divisor explicitly (never rely on a trap being
//! disabled; RV32 `div` by zero returns all ones). 32-bit cores call the
//! 64-bit routines [`RoutineTable::udiv64`] and friends, which implement the
//! eBPF results for a zero divisor and for `MIN / -1` themselves, and
//! [`RoutineTable::atomic64`], which performs a 64-bit read-modify-write
//! with interrupts masked on an address the code has already checked.
//!
//! ## Stop record
//!
//! | status | meaning | fields written before returning |
//! |---|---|---|
//! | [`status::EXIT`] | `exit` from the entry function | `r0`, `budget_left` |
//! | [`status::MEMORY_FAULT`] | refused access | `exit_pc`, `fault_addr`, `fault_size`, `fault_write`, `budget_left` |
//! | [`status::BUDGET`] | budget exhausted | `exit_pc`, `budget_left` (= 0) |
//! | [`status::HELPER_FAILED`] | helper error | `exit_pc`, `helper_id`, `helper_code`, `budget_left` |
//! | [`status::HELPER_STOP`] | helper asked to stop | `exit_pc`, `r0`, `budget_left` |

pub mod arith;

/// Version of this contract; the blob format version is tied to it.
pub const NATIVE_ABI_VERSION: u16 = 3;

/// Most machine-stack bytes any runtime routine of this ABI version needs
/// (helper dispatch included), to be added to a code section's own need.
pub const ROUTINE_STACK_BYTES: u32 = 256;

/// Return values of compiled code and of [`RoutineTable::helper_call`].
pub mod status {
    /// `exit` from the entry function; also "helper returned, continue".
    pub const EXIT: u32 = 0;
    /// The helper returned normally (same value as [`EXIT`]).
    pub const CONTINUE: u32 = 0;
    /// An access was refused; see the fault fields.
    pub const MEMORY_FAULT: u32 = 1;
    /// The budget was exhausted at `exit_pc`.
    pub const BUDGET: u32 = 2;
    /// The helper failed with `helper_code`.
    pub const HELPER_FAILED: u32 = 3;
    /// The helper asked the run to stop with result `r0`.
    pub const HELPER_STOP: u32 = 4;
}

/// One entry of the region table.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NativeRegion {
    /// First address.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// [`REGION_READ`] and/or [`REGION_WRITE`].
    pub flags: u32,
    /// Zero.
    pub reserved: u32,
}

/// [`RoutineTable::access_check`]'s `access` bit for a store or atomic
/// (the bits below it are the size).
pub const ACCESS_WRITE: u32 = 1 << 7;

/// [`NativeRegion::flags`]: loads allowed.
pub const REGION_READ: u32 = 1;
/// [`NativeRegion::flags`]: stores and atomics allowed.
pub const REGION_WRITE: u32 = 2;

/// Runtime routines compiled code may call, as code addresses in `u64`s.
///
/// Signatures (C ABI of the target):
/// - `helper_call`: `uint32_t (struct NativeContext *ctx)`
/// - `access_check`: `uint32_t (struct NativeContext *ctx, uint32_t access, uint64_t addr)`
///   with `access` = size in bytes | [`ACCESS_WRITE`] for a store or atomic (the order and
///   packing let 32-bit code pass the arguments in r0..r3 / a0..a3 alone):
///   0 if allowed, else non-zero with `fault_addr`/`fault_size`/`fault_write` filled.
/// - `udiv64`, `sdiv64`, `umod64`, `smod64`: `uint64_t (uint64_t a, uint64_t b)` with eBPF
///   results (divide by zero gives 0, modulo by zero gives `a`, `MIN / -1` gives `MIN`,
///   `MIN % -1` gives 0).
/// - `atomic64`: `uint64_t (struct NativeContext *ctx, uint32_t op, uint64_t addr, uint64_t value, uint64_t expected)`
///   performs [`atomic_op`] `op` on the 8 aligned, checked bytes at `addr` with interrupts masked
///   and returns the old value.
/// - `fill_window`: `struct NativeContext *(struct NativeContext *ctx, uint32_t *window, uint32_t desc)`
///   writes the [`window::WORDS`] words of the check window [`window`] `desc` describes to
///   `window` (the caller's own machine stack) and returns `ctx`, so that the caller needs
///   no reload. Version 2 added it; 32-bit backends call it at entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoutineTable {
    /// Helper dispatch.
    pub helper_call: u64,
    /// Full region-table check (the slow path of inline checks).
    pub access_check: u64,
    /// 64-bit unsigned division.
    pub udiv64: u64,
    /// 64-bit signed division.
    pub sdiv64: u64,
    /// 64-bit unsigned modulo.
    pub umod64: u64,
    /// 64-bit signed modulo.
    pub smod64: u64,
    /// 64-bit atomic read-modify-write.
    pub atomic64: u64,
    /// Check-window set-up at entry (32-bit targets).
    pub fill_window: u64,
}

/// Check windows: what [`RoutineTable::fill_window`] computes.
///
/// An inline bounds check on a 32-bit target compares against a *window*:
/// one region's bounds for one kind of access, as [`WORDS`] consecutive
/// words on the machine stack. Word 0 is the region's start; word `1 + i`
/// is the number of offsets from the start at which a `2^i`-byte access
/// may begin (`len - 2^i + 1`), for `i` in `0..7` (1 to 64 bytes). A check
/// passes iff `address - start < count`, unsigned modulo 2^32.
///
/// A descriptor says which region and which counts: bits 0..7 the sizes
/// (bit `i`: fill the count for `2^i` bytes; the others are set to 0), bit
/// 7 [`WRITE`] (else a read window), bits 8..15 the index, and bit 15
/// [`DATA`]: the index is a data region, whose entry is the first in the
/// table starting at that region's base; without it, the index is a table
/// entry. A window that cannot be used (no such entry, no permission, a
/// region shorter than the widest size asked for, or one that does not lie
/// below `2^32 - 1`) gets every count 0, which no address passes, so all of
/// its checks take the slow path ([`RoutineTable::access_check`]).
pub mod window {
    /// Words per window: the start and seven counts.
    pub const WORDS: usize = 8;
    /// Descriptor bits of the sizes to fill.
    pub const SIZES: u32 = 0x7f;
    /// Descriptor bit: a window for stores and atomics.
    pub const WRITE: u32 = 1 << 7;
    /// Shift of the descriptor's index field (7 bits, so that every
    /// descriptor fits a 16-bit immediate).
    pub const INDEX_SHIFT: u32 = 8;
    /// Mask of the index field after the shift.
    pub const INDEX_MASK: u32 = 0x7f;
    /// Descriptor bit: the index is a data region.
    pub const DATA: u32 = 1 << 15;

    /// The descriptor of a window of table entry (or, with `data`, data
    /// region) `index`, for stores if `write`, with the counts `sizes`.
    /// An index above [`INDEX_MASK`] names no entry.
    pub const fn descriptor(index: u8, data: bool, write: bool, sizes: u32) -> u32 {
        let index = if index as u32 > INDEX_MASK { INDEX_MASK } else { index as u32 };
        (sizes & SIZES)
            | if write { WRITE } else { 0 }
            | index << INDEX_SHIFT
            | if data { DATA } else { 0 }
    }

    /// The window of `region` (`None`: no such region) for descriptor `desc`.
    pub fn words(region: Option<&super::NativeRegion>, desc: u32) -> [u32; WORDS] {
        let mut out = [0u32; WORDS];
        let Some(r) = region else { return out };
        let perm = if desc & WRITE != 0 { super::REGION_WRITE } else { super::REGION_READ };
        let sizes = desc & SIZES;
        let widest = if sizes == 0 { 1 } else { 1u64 << (31 - sizes.leading_zeros()) };
        // The region must end below 2^32 - 1 for the unsigned compare of a
        // 32-bit address minus the start to mean "inside".
        let fits = r.start.checked_add(r.len).is_some_and(|end| end <= u64::from(u32::MAX));
        if r.flags & perm == 0 || r.len < widest || !fits {
            return out;
        }
        out[0] = r.start as u32;
        for (i, count) in out.iter_mut().skip(1).enumerate() {
            if sizes & (1 << i) != 0 {
                *count = (r.len - (1u64 << i) + 1) as u32;
            }
        }
        out
    }
}

/// Operation codes of [`RoutineTable::atomic64`] (the eBPF `imm` values
/// without the fetch bit, which only decides whether the code uses the result).
pub mod atomic_op {
    /// `*p += v`
    pub const ADD: u32 = 0x00;
    /// `*p |= v`
    pub const OR: u32 = 0x40;
    /// `*p &= v`
    pub const AND: u32 = 0x50;
    /// `*p ^= v`
    pub const XOR: u32 = 0xa0;
    /// `*p = v`
    pub const XCHG: u32 = 0xe0;
    /// `if *p == expected { *p = v }`
    pub const CMPXCHG: u32 = 0xf0;
}

/// The runtime context every native entry receives.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NativeContext {
    /// [`NATIVE_ABI_VERSION`] (code may ignore it; debuggers should not).
    pub abi_version: u32,
    /// Entries in the region table.
    pub region_count: u32,
    /// `*const NativeRegion`: the container's regions.
    pub regions: u64,
    /// `*const u64`: base address of the program's data region `i`
    /// (the value of a src-6 `lddw` with offset 0).
    pub data_bases: u64,
    /// `*const RoutineTable`.
    pub routines: u64,
    /// Initial r10: the top of the entry function's eBPF frame.
    pub stack_top: u64,
    /// Initial r1: context address (0 without a context).
    pub r1: u64,
    /// Initial r2: context length (0 without a context).
    pub r2: u64,
    /// Events still allowed; `u64::MAX` for no budget.
    pub budget_left: u64,
    /// Result of the run, and the result of a helper call.
    pub r0: u64,
    /// eBPF pc of the stop (fault, budget, helper).
    pub exit_pc: u32,
    /// Size in bytes of the refused access.
    pub fault_size: u32,
    /// Address of the refused access.
    pub fault_addr: u64,
    /// 1 for a store or atomic, 0 for a load.
    pub fault_write: u32,
    /// Helper being called, or that failed.
    pub helper_id: u32,
    /// r1..r5 of a helper call.
    pub helper_args: [u64; 5],
    /// Error code of a failed helper.
    pub helper_code: u32,
    /// Zero.
    pub reserved: u32,
    /// Opaque to compiled code: the runtime's own state for routines.
    pub host: u64,
}

macro_rules! offsets {
    ($($name:ident = $field:ident : $value:expr;)*) => {
        $(
            #[doc = concat!("Byte offset of `NativeContext::", stringify!($field), "`.")]
            pub const $name: u32 = $value;
            const _: () = assert!(core::mem::offset_of!(NativeContext, $field) == $value as usize);
        )*
    };
}

offsets! {
    OFF_ABI_VERSION = abi_version: 0;
    OFF_REGION_COUNT = region_count: 4;
    OFF_REGIONS = regions: 8;
    OFF_DATA_BASES = data_bases: 16;
    OFF_ROUTINES = routines: 24;
    OFF_STACK_TOP = stack_top: 32;
    OFF_R1 = r1: 40;
    OFF_R2 = r2: 48;
    OFF_BUDGET_LEFT = budget_left: 56;
    OFF_R0 = r0: 64;
    OFF_EXIT_PC = exit_pc: 72;
    OFF_FAULT_SIZE = fault_size: 76;
    OFF_FAULT_ADDR = fault_addr: 80;
    OFF_FAULT_WRITE = fault_write: 88;
    OFF_HELPER_ID = helper_id: 92;
    OFF_HELPER_ARGS = helper_args: 96;
    OFF_HELPER_CODE = helper_code: 136;
    OFF_HOST = host: 144;
}

/// Size of [`NativeContext`] in bytes.
pub const CONTEXT_SIZE: u32 = 152;
const _: () = assert!(core::mem::size_of::<NativeContext>() == CONTEXT_SIZE as usize);
const _: () = assert!(core::mem::size_of::<NativeRegion>() == 24);

/// Byte offsets inside [`RoutineTable`].
pub mod routine_offset {
    /// `helper_call`
    pub const HELPER_CALL: u32 = 0;
    /// `access_check`
    pub const ACCESS_CHECK: u32 = 8;
    /// `udiv64`
    pub const UDIV64: u32 = 16;
    /// `sdiv64`
    pub const SDIV64: u32 = 24;
    /// `umod64`
    pub const UMOD64: u32 = 32;
    /// `smod64`
    pub const SMOD64: u32 = 40;
    /// `atomic64`
    pub const ATOMIC64: u32 = 48;
    /// `fill_window`
    pub const FILL_WINDOW: u32 = 56;
}
const _: () = assert!(core::mem::offset_of!(RoutineTable, atomic64) == 48);
const _: () = assert!(core::mem::offset_of!(RoutineTable, fill_window) == 56);
