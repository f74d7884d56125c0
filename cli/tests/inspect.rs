//! `femtoc inspect`: the report for a blob the writer made, and the refusal of a corrupted one.

use std::path::PathBuf;
use std::process::{Command, Output};

use femtoc_compiler::blob::{write_blob, BlobSpec, CodeSpec};
use femtoc_isa::program::{DataKind, DataRegion};
use femtoc_runtime::engine::{Engine, Features};

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("inspect");
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir.join(name)
}

fn inspect(path: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_femtoc"))
        .arg("inspect")
        .arg(path)
        .output()
        .expect("run femtoc")
}

fn sample_blob() -> Vec<u8> {
    let data = [
        DataRegion {
            name: ".rodata".into(),
            kind: DataKind::ReadOnly,
            image: vec![1, 2, 3],
            size: 8,
        },
        DataRegion { name: ".bss".into(), kind: DataKind::Zeroed, image: vec![], size: 64 },
    ];
    let thumb = [0x70, 0x47, 0x00, 0xbf];
    let rv = [0x82, 0x80];
    let code = [
        CodeSpec {
            engine: Engine::Riscv32imc,
            features: Features::COMPRESSED,
            entry: 0,
            machine_stack: 96,
            code: &rv,
        },
        CodeSpec {
            engine: Engine::Thumbv7em,
            features: Features::DSP,
            entry: 2,
            machine_stack: 320,
            code: &thumb,
        },
    ];
    // mov r0, 1; exit
    let bytecode = [0x0000_0001_0000_00b7u64, 0x95];
    let spec = BlobSpec {
        features: Features::HW_DIVIDE,
        ebpf_stack: 128,
        min_ctx_len: 12,
        helpers: &[0x7002, 0x10],
        data: &data,
        code: &code,
        bytecode: Some(&bytecode),
    };
    write_blob(&spec, None).expect("write the blob")
}

fn line<'a>(report: &'a str, label: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{report}"))
}

#[test]
fn inspect_shows_every_part_of_a_blob() {
    let bytes = sample_blob();
    let path = scratch("sample.fcb");
    std::fs::write(&path, &bytes).expect("write the blob file");
    let out = inspect(&path);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let format = format!(" {}", femtoc_runtime::blob::FORMAT_VERSION);
    assert!(line(&report, "format version").ends_with(&format), "{report}");
    let abi = format!(" {}", femtoc_runtime::abi::NATIVE_ABI_VERSION);
    assert!(line(&report, "native ABI").ends_with(&abi), "{report}");
    assert!(line(&report, "total length").contains(&format!(" {} bytes", bytes.len())));
    let crc = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().expect("4 bytes"));
    assert!(line(&report, "crc-32").contains(&format!("{crc:#010x}")), "{report}");
    assert!(line(&report, "flags").contains("bytecode"), "{report}");
    assert!(!line(&report, "flags").contains("signature"), "{report}");
    assert!(line(&report, "features").ends_with("hw-divide"), "{report}");
    assert!(line(&report, "eBPF stack").contains("128 bytes"), "{report}");
    assert!(line(&report, "machine stack").contains("320 bytes"), "{report}");
    assert!(line(&report, "min context").contains("12 bytes"), "{report}");
    assert!(line(&report, "helpers").ends_with("0x10, 0x7002"), "{report}");

    assert!(line(&report, "data regions").ends_with(" 2"), "{report}");
    let rodata = line(&report, "  [0]");
    assert!(
        rodata.contains("read-only")
            && rodata.contains("size      8")
            && rodata.contains("image      3"),
        "{report}"
    );
    let bss = line(&report, "  [1]");
    assert!(
        bss.contains("zeroed") && bss.contains("size     64") && bss.contains("image      0"),
        "{report}"
    );

    assert!(line(&report, "code sections").ends_with(" 2"), "{report}");
    let m4 = line(&report, "  thumbv7em");
    for part in ["dsp", "hw-divide", "entry 0x2", "machine stack 320 bytes", "code 4 bytes"] {
        assert!(m4.contains(part), "missing {part}: {report}");
    }
    let rv = line(&report, "  riscv32imc");
    for part in ["compressed", "entry 0x0", "machine stack 96 bytes", "code 2 bytes"] {
        assert!(rv.contains(part), "missing {part}: {report}");
    }
    assert!(line(&report, "bytecode").ends_with("2 slots"), "{report}");
    assert!(line(&report, "signature").ends_with("absent"), "{report}");
}

#[test]
fn inspect_refuses_a_corrupted_blob_and_names_the_crc() {
    let mut bytes = sample_blob();
    // A flipped bit in the bytecode (the last payload before the CRC): only the CRC can tell.
    let in_bytecode = bytes.len() - 10;
    bytes[in_bytecode] ^= 0x10;
    let path = scratch("corrupted.fcb");
    std::fs::write(&path, &bytes).expect("write the blob file");
    let out = inspect(&path);
    assert!(!out.status.success(), "a corrupted blob was accepted");
    assert!(out.stdout.is_empty(), "a report was printed for a rejected blob");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("CRC"), "{stderr}");
    assert!(stderr.contains("corrupted.fcb"), "{stderr}");
}

#[test]
fn inspect_reports_a_missing_file() {
    let out = inspect(&scratch("does-not-exist.fcb"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the blob"));
}
