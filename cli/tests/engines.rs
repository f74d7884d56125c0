//! `femtoc compile --target` and `femtoc run --engine` on every engine this
//! build has: the same r0 as the interpreter, and blobs that carry the code.

use std::process::Command;

fn femtoc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_femtoc")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const OBJ: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/obj/");

fn engines() -> Vec<&'static str> {
    let mut engines = vec!["interp"];
    if cfg!(feature = "emu") {
        engines.extend(["thumbv7m", "thumbv7em", "aarch64", "riscv64gc"]);
    }
    if cfg!(target_arch = "x86_64") {
        engines.push("x86_64");
    }
    engines
}

#[test]
fn every_engine_gives_the_interpreters_r0_on_the_examples() {
    let mem = "00112233445566778899aabbccddeeff0102030405060708";
    for program in ["fletcher32.v3.o", "sort.v3.o", "crc32.v3.o", "hash.v4.o", "counter.v4.o"] {
        let path = format!("{OBJ}{program}");
        let (code, reference, err) = femtoc(&["run", &path, "--mem", mem]);
        assert_eq!(code, 0, "{program} on interp: {err}");
        for engine in engines() {
            let (code, out, err) = femtoc(&["run", &path, "--mem", mem, "--engine", engine]);
            assert_eq!(code, 0, "{program} on {engine}: {err}");
            assert_eq!(out.lines().next(), reference.lines().next(), "{program} on {engine}");
        }
    }
}

#[test]
fn a_blob_carries_one_code_section_per_target() {
    let dir = std::env::temp_dir().join(format!("femtoc-engines-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let blob = dir.join("hash.fcb").to_string_lossy().into_owned();
    let mut args =
        vec!["compile".to_string(), format!("{OBJ}hash.v4.o"), "-o".into(), blob.clone()];
    for target in ["thumbv7m", "thumbv7em", "x86_64", "aarch64", "riscv64gc"] {
        args.extend(["--target".to_string(), target.to_string()]);
    }
    args.push("--embed-bytecode".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = femtoc(&args);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = femtoc(&["inspect", &blob]);
    assert_eq!(code, 0, "{err}");
    for engine in ["thumbv7m", "thumbv7em", "x86_64", "aarch64", "riscv64gc"] {
        assert!(out.contains(engine), "{engine} missing from:\n{out}");
    }
    let (code, reference, _) = femtoc(&["run", &format!("{OBJ}hash.v4.o"), "--mem", "0102"]);
    assert_eq!(code, 0);
    for engine in engines() {
        let (code, got, err) = femtoc(&["run", &blob, "--mem", "0102", "--engine", engine]);
        assert_eq!(code, 0, "{engine}: {err}");
        assert_eq!(got.lines().next(), reference.lines().next(), "{engine}");
    }
    // `--engine interp` interprets the blob's bytecode even where native
    // code for the host exists.
    let (code, out, err) =
        femtoc(&["run", &blob, "--mem", "0102", "--engine", "interp", "--stats"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("engine: interp\n") && out.contains("ebpf instructions executed"),
        "{out}"
    );
}

#[test]
fn an_engine_without_a_backend_is_refused_with_the_list() {
    let (code, _, err) = femtoc(&["compile", &format!("{OBJ}hash.v4.o"), "--target", "riscv32imc"]);
    assert_eq!(code, 1);
    assert!(err.contains("riscv32imc") && err.contains("thumbv7em"), "{err}");
}

/// `aarch64` and `riscv64gc` run in the emulator on a host of another ISA, report the
/// instructions they executed (more for a longer input), and pass the shared vectors.
#[cfg(feature = "emu")]
#[test]
fn host_isas_of_other_hosts_run_in_the_emulator() {
    let host = if cfg!(target_arch = "aarch64") {
        "aarch64"
    } else if cfg!(target_arch = "riscv64") {
        "riscv64gc"
    } else {
        "x86_64"
    };
    let path = format!("{OBJ}fletcher32.v3.o");
    let insns = |engine: &str, mem: &str| -> u64 {
        let (code, out, err) = femtoc(&["run", &path, "--mem", mem, "--engine", engine, "--stats"]);
        assert_eq!(code, 0, "{engine}: {err}");
        assert!(out.contains(&format!("on {engine} (emulated)")), "{out}");
        assert!(!out.contains("cycles"), "no cycle model for {engine}: {out}");
        out.lines()
            .find_map(|l| l.strip_prefix("native instructions executed: "))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{engine}: no instruction count in {out}"))
    };
    let vectors = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/conformance/tests");
    let shared = std::env::var("FEMTOC_SHARED")
        .map_or_else(|_| vectors.to_string(), |d| format!("{d}/conformance/tests"));
    for engine in ["aarch64", "riscv64gc"].into_iter().filter(|e| *e != host) {
        let short = insns(engine, "0102");
        let long = insns(engine, &"0102".repeat(64));
        assert!(short > 0 && long > short, "{engine}: {short} then {long}");
        let (code, out, err) = femtoc(&["conformance", "--engine", engine, &shared]);
        assert_eq!(code, 0, "{engine}: {out}{err}");
        assert!(out.contains(" 0 failed"), "{engine}: {out}");
    }
}

/// The code bytes of `engine`'s section in `compile`'s one-line report.
#[cfg(feature = "emu")]
fn code_bytes(report: &str, engine: &str) -> usize {
    let after = report.split(&format!("{engine} ")).nth(1).expect("engine in report");
    after.split(' ').next().and_then(|n| n.parse().ok()).expect("byte count")
}

#[cfg(feature = "emu")]
#[test]
fn code_built_for_size_is_smaller_and_gives_the_same_r0() {
    let dir = std::env::temp_dir().join(format!("femtoc-opt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mem = "00112233445566778899aabbccddeeff0102030405060708";
    for program in ["fletcher32.v3.o", "crc32.v3.o", "hash.v3.o"] {
        let path = format!("{OBJ}{program}");
        let (_, reference, _) = femtoc(&["run", &path, "--mem", mem]);
        let mut bytes = Vec::new();
        for opt in ["speed", "size"] {
            let blob = dir.join(format!("{program}.{opt}.fcb")).to_string_lossy().into_owned();
            let args = ["compile", &path, "--target", "thumbv7em", "--opt", opt, "-o", &blob];
            let (code, report, err) = femtoc(&args);
            assert_eq!(code, 0, "{program} --opt {opt}: {err}");
            bytes.push(code_bytes(&report, "thumbv7em"));
            for input in [&blob, &path] {
                let args = ["run", input, "--mem", mem, "--engine", "thumbv7em", "--opt", opt];
                let (code, got, err) = femtoc(&args);
                assert_eq!(code, 0, "{program} --opt {opt}: {err}");
                assert_eq!(got.lines().next(), reference.lines().next(), "{program} --opt {opt}");
            }
        }
        // Each has a counted loop, emitted once when built for size.
        assert!(bytes[1] < bytes[0], "{program}: {bytes:?}");
    }
    let (code, _, err) = femtoc(&["compile", &format!("{OBJ}crc32.v3.o"), "--opt", "tiny"]);
    assert_ne!(code, 0);
    assert!(err.contains("tiny") && err.contains("size"), "{err}");
}
