//! The firmware skeleton every footprint image shares: a panic handler, an
//! entry point and the inputs the variants read through `black_box`.
//!
//! The images are only linked and measured, never run, so the skeleton does
//! not initialise `.data`/`.bss`: the `baseline` image has exactly the same
//! skeleton, and `scripts/footprint.sh` subtracts it from every variant.
#![no_std]

pub use core::hint::black_box;

use core::panic::PanicInfo;

/// Every panic, in the skeleton and in the measured code, ends here; an
/// empty handler keeps the formatting machinery out of the images (the
/// runtime's run path should not panic anyway).
#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Runs the variant's `main` and keeps its result alive; never returns.
///
/// `main` is called through `black_box` so that its code stays one unit
/// the optimiser cannot fold into the skeleton.
pub fn start(main: fn() -> u32) -> ! {
    let result = black_box(main)();
    black_box(result);
    loop {
        core::hint::spin_loop();
    }
}

/// Defines the image's entry point, calling `$main: fn() -> u32`.
///
/// Cortex-M: a two-word vector table (initial SP from the linker script,
/// then `reset`). RISC-V: `_start` sets up `sp` and jumps to `reset`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// The reset handler.
        #[no_mangle]
        pub extern "C" fn reset() -> ! {
            $crate::start($main)
        }

        /// The reset vector (the word after the initial stack pointer).
        #[cfg(target_arch = "arm")]
        #[link_section = ".vector_table.reset"]
        #[no_mangle]
        #[used]
        pub static RESET_VECTOR: extern "C" fn() -> ! = reset;

        #[cfg(target_arch = "riscv32")]
        core::arch::global_asm!(
            ".section .text.start, \"ax\"",
            ".global _start",
            "_start:",
            "la sp, _stack_top",
            "j reset",
        );
    };
}

/// A small program for the interpreter and the verifier: it loads a context
/// word, calls helper 1, loops `r0` times over a helper-2 call that stores
/// into the context, and returns. Its content does not matter for the
/// measurement (the images read it through `black_box`), but a real program
/// documents what the images would do if run.
pub static PROGRAM: [u64; 11] = [
    insn(0x61, 6, 1, 0, 0),  // ldxw r6, [r1+0]
    insn(0xbf, 7, 1, 0, 0),  // mov r7, r1
    insn(0x85, 0, 0, 0, 1),  // call 1
    insn(0x57, 0, 0, 0, 7),  // and r0, 7
    insn(0xbf, 8, 0, 0, 0),  // mov r8, r0
    insn(0xbf, 1, 7, 0, 0),  // mov r1, r7      (loop head)
    insn(0xbf, 2, 6, 0, 0),  // mov r2, r6
    insn(0x85, 0, 0, 0, 2),  // call 2
    insn(0x17, 8, 0, 0, 1),  // sub r8, 1
    insn(0x65, 8, 0, -5, 0), // jsgt r8, 0, -5  (back to the loop head)
    insn(0x95, 0, 0, 0, 0),  // exit
];

/// Helper ids [`PROGRAM`] calls.
pub static PROGRAM_HELPERS: [u32; 2] = [1, 2];

/// One instruction slot: opcode, registers, offset and immediate.
const fn insn(op: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    (op as u64)
        | ((dst as u64 & 0xf) << 8)
        | ((src as u64 & 0xf) << 12)
        | ((off as u16 as u64) << 16)
        | ((imm as u32 as u64) << 32)
}
