//! Every kind of bad input gets a compiler-style error and a non-zero exit,
//! never a panic (exit status 101) or a silent success.

use std::path::{Path, PathBuf};
use std::process::Command;

fn femtoc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_femtoc")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("femtoc-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

/// Runs `femtoc verify` and `femtoc disasm` on `file` and checks both fail
/// cleanly with a message naming the file and containing `needle`.
fn rejected(file: &str, needle: &str) {
    for cmd in ["verify", "disasm", "run"] {
        let (code, _, err) = femtoc(&[cmd, file]);
        assert_eq!(code, 1, "{cmd} {file}: exit {code}, stderr: {err}");
        assert!(err.starts_with("error: "), "{cmd} {file}: {err}");
        assert!(err.contains(file), "{cmd} {file}: the message must name the file: {err}");
        assert!(err.to_lowercase().contains(needle), "{cmd} {file}: expected `{needle}` in: {err}");
    }
}

fn example(name: &str) -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/obj/").to_owned() + name)
        .unwrap()
}

#[test]
fn empty_files_of_every_kind() {
    let dir = scratch_dir("empty");
    rejected(&write(&dir, "empty.bin", b""), "empty");
    rejected(&write(&dir, "empty.s", b""), "empty");
    rejected(&write(&dir, "empty.o", b""), "not an elf");
}

#[test]
fn bytecode_length_not_a_multiple_of_eight() {
    let dir = scratch_dir("partial");
    rejected(
        &write(&dir, "partial.bin", &[0x95, 0, 0, 0, 0, 0, 0, 0, 0xb7, 0, 0, 0]),
        "multiple of 8",
    );
}

#[test]
fn programs_over_65536_instructions() {
    let dir = scratch_dir("long");
    let mut code = Vec::new();
    for _ in 0..65_537 {
        code.extend_from_slice(&[0xb7, 0, 0, 0, 0, 0, 0, 0]); // mov r0, 0
    }
    rejected(&write(&dir, "long.bin", &code), "65536");
}

#[test]
fn garbage_and_truncated_objects() {
    let dir = scratch_dir("garbage");
    rejected(&write(&dir, "garbage.bin", b"\x01\x02\x03\x04\x05\x06\x07\x08"), "opcode");
    let object = example("fletcher32.v3.o");
    for len in [4, 16, 63, 64, object.len() / 2, object.len() - 1] {
        let path = write(&dir, &format!("truncated-{len}.o"), &object[..len]);
        let (code, _, err) = femtoc(&["verify", &path]);
        assert_eq!(code, 1, "truncated at {len}: {err}");
        assert!(err.starts_with("error: ") && err.contains(&path), "{err}");
    }
}

#[test]
fn an_elf_that_is_not_bpf() {
    // The test binary itself is an ELF for the host, not for BPF.
    let (code, _, err) = femtoc(&["verify", env!("CARGO_BIN_EXE_femtoc")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("BPF") || err.contains("bpf") || err.contains("machine"), "{err}");
}

#[test]
fn a_verifier_error_names_the_pc_and_shows_the_instruction() {
    let dir = scratch_dir("verify");
    let file = write(&dir, "uninit.s", b"mov %r1, 1\nor %r0, %r1\nexit\n");
    let (code, _, err) = femtoc(&["verify", &file]);
    assert_eq!(code, 1);
    assert!(err.contains("(pc 1)"), "{err}");
    assert!(err.contains("or %r0, %r1"), "{err}");
    assert!(err.contains("r0"), "{err}");
}

#[test]
fn an_assembler_error_names_the_line() {
    let dir = scratch_dir("asm");
    let file = write(&dir, "bad.s", b"mov %r0, 1\nfrobnicate %r0\nexit\n");
    let (code, _, err) = femtoc(&["asm", &file]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("{file}:2")), "{err}");
}

#[test]
fn a_run_error_reports_kind_pc_and_instruction() {
    let dir = scratch_dir("fault");
    let file = write(&dir, "fault.s", b"mov %r2, 0\nldxw %r0, [%r2+16]\nexit\n");
    let (code, _, err) = femtoc(&["run", &file]);
    assert_eq!(code, 1);
    assert!(err.contains("memory fault") && err.contains("(pc 1)"), "{err}");
    assert!(err.contains("ldxw %r0, [%r2+16]"), "{err}");
}

#[test]
fn shipped_examples_verify_at_every_cpu_version() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/obj");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let path = path.to_string_lossy().into_owned();
        let (code, out, err) = femtoc(&["verify", &path]);
        assert_eq!(code, 0, "{path}: {err}");
        assert!(out.contains(": ok:"), "{path}: {out}");
        seen += 1;
    }
    assert!(seen >= 15, "expected the v1/v3/v4 objects, found {seen}");
}

#[test]
fn asm_then_run_and_plugin_agree() {
    let dir = scratch_dir("plugin");
    let file = write(&dir, "sum.s", b"ldxb %r0, [%r1+0]\nldxb %r3, [%r1+1]\nadd %r0, %r3\nexit\n");
    let bin = dir.join("sum.bin").to_string_lossy().into_owned();
    assert_eq!(femtoc(&["asm", &file, "-o", &bin]).0, 0);
    let (code, out, err) = femtoc(&["run", &bin, "--mem", "2a05"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().next(), Some("0x2f"));

    let hex: String = std::fs::read(&bin).unwrap().iter().map(|b| format!("{b:02x}")).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_femtoc"))
        .args(["plugin", "--engine", "interp", "2a05"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(hex.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2f");
}

#[test]
fn compile_then_run_a_blob() {
    let dir = scratch_dir("blob");
    let blob = dir.join("hash.fcb").to_string_lossy().into_owned();
    let object = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/obj/hash.v4.o");
    let (code, _, err) = femtoc(&["compile", object, "-o", &blob]);
    assert_eq!(code, 0, "{err}");
    let direct = femtoc(&["run", object, "--mem", "00112233445566778899"]);
    let via_blob = femtoc(&["run", &blob, "--mem", "00112233445566778899", "--stats"]);
    assert_eq!(direct.0, 0, "{}", direct.2);
    assert_eq!(via_blob.0, 0, "{}", via_blob.2);
    assert_eq!(direct.1.lines().next(), via_blob.1.lines().next());
    assert!(via_blob.1.contains("engine: interp"), "{}", via_blob.1);
}
