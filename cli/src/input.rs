//! Reading a program from any input femtoc accepts: a BPF ELF object, raw
//! bytecode or assembler text.

use std::path::{Path, PathBuf};

use femtoc_isa::program::{code_from_bytes, Program};

use crate::diag::{CliResult, Diagnostic};

/// What kind of file an input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// A relocatable BPF ELF object (`clang -target bpf -c`).
    Elf,
    /// Raw bytecode: 8-byte slots in memory order (`.bin`).
    Bytecode,
    /// Assembler text in the conformance syntax (`.s`, `.asm`).
    Assembly,
    /// A femtoc blob (`.fcb`).
    Blob,
}

/// How to choose the entry function of an ELF object.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct EntryArgs {
    /// Entry function of an ELF object (default: its only global function).
    #[arg(long, value_name = "NAME", conflicts_with = "section")]
    pub entry: Option<String>,
    /// Take the entry from this ELF section.
    #[arg(long, value_name = "NAME")]
    pub section: Option<String>,
}

/// A program read from a file.
pub struct LoadedProgram {
    /// Where it came from.
    pub path: PathBuf,
    /// What the file was.
    pub kind: InputKind,
    /// The linked program.
    pub program: Program,
}

const ELF_MAGIC: &[u8] = b"\x7fELF";

/// Decides an input's kind from its content first, then its extension.
pub fn detect_kind(path: &Path, bytes: &[u8]) -> CliResult<InputKind> {
    if bytes.starts_with(ELF_MAGIC) {
        return Ok(InputKind::Elf);
    }
    if bytes.starts_with(&femtoc_runtime::blob::MAGIC) {
        return Ok(InputKind::Blob);
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("s" | "S" | "asm") => Ok(InputKind::Assembly),
        Some("bin" | "bpf" | "raw") => Ok(InputKind::Bytecode),
        Some("o") => Err(Diagnostic::new("not an ELF file, although its name ends in .o")
            .in_file(path)
            .note("femtoc reads relocatable BPF objects from `clang -target bpf -c`")),
        _ => Err(Diagnostic::new("cannot tell what kind of program this file holds")
            .in_file(path)
            .note("use a BPF ELF object, raw bytecode ending in .bin, assembler text ending in .s or .asm, or a femtoc blob")),
    }
}

/// Reads a whole file, reporting failures like every other error.
pub fn read_file(path: &Path) -> CliResult<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Diagnostic::new(format!("cannot read the file: {e}")).in_file(path))
}

/// Loads and links the program in `path`.
pub fn load_program(path: &Path, entry: &EntryArgs) -> CliResult<LoadedProgram> {
    let bytes = read_file(path)?;
    let kind = detect_kind(path, &bytes)?;
    let program = match kind {
        InputKind::Elf => {
            let selector = match (&entry.entry, &entry.section) {
                (Some(name), _) => femtoc_isa::elf::EntrySelector::Function(name),
                (None, Some(section)) => femtoc_isa::elf::EntrySelector::Section(section),
                (None, None) => femtoc_isa::elf::EntrySelector::Default,
            };
            femtoc_isa::elf::load_elf(&bytes, selector)
                .map_err(|e| Diagnostic::new(e.to_string()).in_file(path))?
        }
        InputKind::Bytecode => {
            let code = code_from_bytes(&bytes)
                .map_err(|e| Diagnostic::new(e.to_string()).in_file(path))?;
            Program::from_code(code)
        }
        InputKind::Blob => {
            let aligned = AlignedBytes::copy_of(&bytes);
            let blob = femtoc_runtime::blob::Blob::parse(aligned.bytes())
                .map_err(|e| Diagnostic::new(format!("bad blob: {e}")).in_file(path))?;
            program_from_blob(&blob).ok_or_else(|| {
                Diagnostic::new("the blob carries no bytecode")
                    .in_file(path)
                    .note("compile with --embed-bytecode to keep the bytecode in the blob")
            })?
        }
        InputKind::Assembly => {
            let text = String::from_utf8(bytes)
                .map_err(|_| Diagnostic::new("assembler text is not valid UTF-8").in_file(path))?;
            femtoc_isa::asm::assemble(&text)
                .map_err(|e| Diagnostic::new(e.kind.to_string()).in_file(path).at_line(e.line))?
        }
    };
    Ok(LoadedProgram { path: path.to_path_buf(), kind, program })
}

/// The instruction at `pc` of `program`, disassembled, if it decodes.
pub fn insn_text(program: &Program, pc: usize) -> Option<String> {
    if pc >= program.code.len() {
        return None;
    }
    femtoc_isa::decode_at(&program.code, pc).ok().map(|insn| insn.to_string())
}

/// File bytes at an 8-aligned address, as the device runtime reads a blob's
/// bytecode in place.
pub use femtoc_runtime::AlignedBytes;

/// The program a blob carries as bytecode, with its data regions.
pub fn program_from_blob(blob: &femtoc_runtime::blob::Blob<'_>) -> Option<Program> {
    let code = code_from_bytes(blob.bytecode()?).ok()?;
    Some(Program { code, ..data_from_blob(blob) })
}

/// The blob's data regions as a program without code (for blobs that
/// carry native code only).
pub fn data_from_blob(blob: &femtoc_runtime::blob::Blob<'_>) -> Program {
    use femtoc_isa::program::{DataKind, DataRegion};
    use femtoc_runtime::blob::RegionKind;
    let data = blob
        .data_regions()
        .enumerate()
        .map(|(i, r)| {
            let (kind, name) = match r.kind {
                RegionKind::ReadOnly => (DataKind::ReadOnly, "rodata"),
                RegionKind::ReadWrite => (DataKind::ReadWrite, "data"),
                RegionKind::Zeroed => (DataKind::Zeroed, "bss"),
            };
            DataRegion {
                name: format!(".{name}[{i}]"),
                kind,
                image: r.image.to_vec(),
                size: r.size,
            }
        })
        .collect();
    Program { code: vec![], data, symbols: vec![] }
}
