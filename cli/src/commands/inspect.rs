//! `femtoc inspect FILE.fcb`: what a blob holds, after the same checks a device makes.

use std::fmt::Write as _;
use std::path::Path;

use femtoc_runtime::blob::{Blob, BlobError, RegionKind, FLAG_BYTECODE, FLAG_SIGNATURE};
use femtoc_runtime::engine::Features;

use crate::diag::{CliResult, Diagnostic};

/// Feature bits by name, in bit order (names as `--features` would spell them).
const FEATURE_NAMES: [(Features, &str); 5] = [
    (Features::UNALIGNED_ACCESS, "unaligned-access"),
    (Features::DSP, "dsp"),
    (Features::HW_DIVIDE, "hw-divide"),
    (Features::ATOMIC_EXT, "atomic-ext"),
    (Features::COMPRESSED, "compressed"),
];

fn feature_names(features: Features) -> String {
    let names: Vec<&str> = FEATURE_NAMES
        .iter()
        .filter(|(f, _)| features.contains(*f))
        .map(|&(_, name)| name)
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn flag_names(flags: u32) -> String {
    let mut names = Vec::new();
    if flags & FLAG_BYTECODE != 0 {
        names.push("bytecode");
    }
    if flags & FLAG_SIGNATURE != 0 {
        names.push("signature");
    }
    if names.is_empty() {
        format!("{flags:#x}")
    } else {
        format!("{flags:#x} ({})", names.join(", "))
    }
}

fn kind_name(kind: RegionKind) -> &'static str {
    match kind {
        RegionKind::ReadOnly => "read-only (.rodata)",
        RegionKind::ReadWrite => "read-write (.data)",
        RegionKind::Zeroed => "zeroed (.bss)",
    }
}

fn rejected(path: &Path, error: BlobError) -> Diagnostic {
    let note = match error {
        BlobError::BadCrc { .. } | BlobError::Truncated { .. } => {
            Some("the file was corrupted or cut short after it was written; a device rejects it")
        }
        BlobError::BadMagic { .. } => Some("femtoc blobs start with \"FCBL\""),
        _ => None,
    };
    let d = Diagnostic::new(format!("not a valid blob: {error}")).in_file(path);
    match note {
        Some(n) => d.note(n),
        None => d,
    }
}

/// The report for a parsed blob.
fn describe(blob: &Blob<'_>) -> String {
    let bytes = blob.as_bytes();
    let header_u16 =
        |off: usize| bytes.get(off..off + 2).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
    let header_u32 = |off: usize| {
        bytes.get(off..off + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "format version   {}", header_u16(4));
    let _ = writeln!(out, "native ABI       {}", femtoc_runtime::abi::NATIVE_ABI_VERSION);
    let _ = writeln!(out, "total length     {} bytes", bytes.len());
    let _ = writeln!(out, "crc-32           {:#010x}", blob.crc());
    let _ = writeln!(out, "flags            {}", flag_names(header_u32(12)));
    let _ = writeln!(out, "features         {}", feature_names(blob.features()));
    let _ = writeln!(out, "eBPF stack       {} bytes", blob.ebpf_stack_size());
    let _ = writeln!(out, "machine stack    {} bytes", blob.machine_stack_size());
    let _ = writeln!(out, "min context      {} bytes", blob.min_ctx_len());

    let helpers: Vec<String> = blob.helpers().map(|id| format!("{id:#x}")).collect();
    let _ = writeln!(
        out,
        "helpers          {}",
        if helpers.is_empty() { "none".to_string() } else { helpers.join(", ") }
    );

    let _ = writeln!(out, "data regions     {}", blob.region_count());
    for (i, region) in blob.data_regions().enumerate() {
        let _ = writeln!(
            out,
            "  [{i}] {:<20} size {:>6} bytes, image {:>6} bytes",
            kind_name(region.kind),
            region.size,
            region.image.len()
        );
    }

    let _ = writeln!(out, "code sections    {}", blob.code_count());
    for code in blob.code_sections() {
        let _ = writeln!(
            out,
            "  {:<12} features {}; entry {:#x}; machine stack {} bytes; code {} bytes",
            code.engine.name(),
            feature_names(code.features),
            code.entry,
            code.machine_stack,
            code.code.len()
        );
    }

    let bytecode = match blob.bytecode() {
        Some(b) => format!("{} slots", b.len() / 8),
        None => "absent".to_string(),
    };
    let _ = writeln!(out, "bytecode         {bytecode}");
    let signature = if blob.signature().is_some() { "present (not verified)" } else { "absent" };
    let _ = writeln!(out, "signature        {signature}");
    out
}

/// Reads, checks and describes the blob in `path`.
pub fn run(path: &Path) -> CliResult {
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::new(format!("cannot read the blob: {e}")).in_file(path))?;
    let blob = Blob::parse(&bytes).map_err(|e| rejected(path, e))?;
    print!("{}", describe(&blob));
    Ok(())
}
