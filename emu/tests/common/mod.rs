//! Test support: assemble snippets with the GNU assemblers and set up machines.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use femtoc_emu::{Core, Machine, Perms};

/// Where test code is loaded (flash-like, read-only).
pub const CODE: u32 = 0x0800_0000;
/// A read-write data page.
pub const DATA: u32 = 0x2000_0000;

fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("femtoc-emu-{}-{n}-{name}", std::process::id()))
}

fn run(tool: &str, args: &[&std::ffi::OsStr]) {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} (install its binutils package): {e}"));
    assert!(out.status.success(), "{tool} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

fn assemble(prefix: &str, flags: &[&str], src: &str) -> Vec<u8> {
    let s = scratch("a.s");
    let o = scratch("a.o");
    let b = scratch("a.bin");
    std::fs::write(&s, src).expect("write assembler source");
    let mut args: Vec<&std::ffi::OsStr> = flags.iter().map(|f| f.as_ref()).collect();
    args.extend(["-o".as_ref(), o.as_os_str(), s.as_os_str()]);
    run(&format!("{prefix}-as"), &args);
    run(
        &format!("{prefix}-objcopy"),
        &[
            "-O".as_ref(),
            "binary".as_ref(),
            "-j".as_ref(),
            ".text".as_ref(),
            o.as_os_str(),
            b.as_os_str(),
        ],
    );
    let bytes = std::fs::read(&b).expect("read assembled binary");
    for p in [s, o, b] {
        let _ = std::fs::remove_file(p);
    }
    bytes
}

/// Assembles Thumb-2 for Cortex-M4 with the FPU visible (the executor decides what runs).
pub fn thumb(src: &str) -> Vec<u8> {
    let src = format!(".syntax unified\n.thumb\n.text\n{src}\n");
    assemble("arm-none-eabi", &["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mthumb"], &src)
}

/// Assembles RV32 code for `march` (e.g. "rv32imc").
pub fn rv(march: &str, src: &str) -> Vec<u8> {
    let src = format!(".text\n{src}\n");
    let march = format!("-march={march}");
    assemble("riscv64-unknown-elf", &[&march, "-mabi=ilp32"], &src)
}

/// A machine with `code` at [`CODE`] and a zeroed data page at [`DATA`].
pub fn machine(core: Core, code: &[u8]) -> Machine {
    let mut m = Machine::new(core).expect("create machine");
    m.map(CODE, 0x1000, Perms::RX, code).expect("map code");
    m.map(DATA, 0x1000, Perms::RW, &[]).expect("map data");
    m
}

/// The Arm cores.
pub const ARM: [Core; 2] = [Core::CortexM3, Core::CortexM4];
/// The RISC-V cores.
pub const RV: [Core; 2] = [Core::Rv32imc, Core::Rv32imac];
