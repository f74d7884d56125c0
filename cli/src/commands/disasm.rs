//! `femtoc disasm FILE`: show a program's instructions with their pcs; for
//! a blob, each code section's native code under the eBPF instructions it
//! came from.
//!
//! Blobs carry no native-to-eBPF map. The map comes from compiling the
//! bytecode again with the same backend (compilation is deterministic) and
//! is only used when the result is byte for byte the section's code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use femtoc_compiler::thumb2::Goal;
use femtoc_isa::program::Program;
use femtoc_isa::verifier::{verify, VerifiedProgram, VerifierConfig};
use femtoc_runtime::blob::{Blob, CodeSection};
use femtoc_runtime::engine::Engine;

use crate::diag::{CliResult, Diagnostic};
use crate::input::{
    detect_kind, load_program, program_from_blob, read_file, AlignedBytes, EntryArgs, InputKind,
};
use crate::listing::{native_listing, Interleave};

/// Options of `femtoc disasm` that apply to blobs.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct BlobArgs {
    /// List only this engine's code section of a blob.
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// The program a blob without bytecode was compiled from (ELF object,
    /// .s or .bin; --entry/--section choose its entry), to interleave the
    /// native code with its eBPF instructions.
    #[arg(long, value_name = "FILE")]
    pub bytecode: Option<PathBuf>,
}

/// Prints the disassembly of `input` on standard output. Slots that do not
/// decode are shown as comments, and the first of them is then reported as
/// an error: the listing stays useful, the exit status tells the truth.
pub fn run(input: &Path, entry: &EntryArgs, args: &BlobArgs) -> CliResult {
    let bytes = read_file(input)?;
    if detect_kind(input, &bytes)? == InputKind::Blob {
        return blob(input, &bytes, entry, args);
    }
    if args.engine.is_some() || args.bytecode.is_some() {
        return Err(Diagnostic::new("--engine and --bytecode apply to blobs only").in_file(input));
    }
    ebpf(input, &load_program(input, entry)?.program)
}

fn ebpf(input: &Path, program: &Program) -> CliResult {
    for (i, region) in program.data.iter().enumerate() {
        println!("; data[{i}] {} ({:?}, {} bytes)", region.name, region.kind, region.size);
    }
    print!("{}", femtoc_isa::disassemble_with_pcs(program));
    let first_error = femtoc_isa::decode_all(&program.code).find_map(Result::err);
    match first_error {
        Some((pc, e)) => Err(Diagnostic::new(format!("slot does not decode: {e}"))
            .in_file(input)
            .at_pc(pc, program.code.get(pc).map(|slot| format!("{slot:#018x}")))),
        None => Ok(()),
    }
}

/// Lists a blob's code sections (or its bytecode when it has none).
fn blob(input: &Path, bytes: &[u8], entry: &EntryArgs, args: &BlobArgs) -> CliResult {
    let aligned = AlignedBytes::copy_of(bytes);
    let blob = Blob::parse(aligned.bytes())
        .map_err(|e| Diagnostic::new(format!("not a valid blob: {e}")).in_file(input))?;
    let sections = chosen_sections(input, &blob, args)?;
    if sections.is_empty() {
        let program = program_from_blob(&blob)
            .ok_or_else(|| Diagnostic::new("the blob carries neither code nor bytecode"))?;
        println!("; the blob carries no native code; its bytecode:");
        return ebpf(input, &program);
    }
    let source = match &args.bytecode {
        Some(path) => Ok(load_program(path, entry)?.program),
        None => program_from_blob(&blob).ok_or_else(|| {
            "the blob carries no bytecode (compile with --embed-bytecode, or pass \
             --bytecode FILE, the program it was compiled from)"
                .to_string()
        }),
    };
    // The verifier's stack size shapes frames it cannot track; the blob
    // records the stack the program was verified with in that case.
    let verified = source.and_then(|p| verify_again(p, blob.ebpf_stack_size()));
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", section_listing(section, &verified)?);
    }
    Ok(())
}

fn chosen_sections<'a>(
    input: &Path,
    blob: &Blob<'a>,
    args: &BlobArgs,
) -> CliResult<Vec<CodeSection<'a>>> {
    let Some(name) = &args.engine else { return Ok(blob.code_sections().collect()) };
    let engine: Engine = name.parse().map_err(|e| Diagnostic::new(format!("--engine: {e}")))?;
    match blob.code_for(engine) {
        Some(section) => Ok(vec![section]),
        None => {
            let have: Vec<&str> = blob.code_sections().map(|c| c.engine.name()).collect();
            Err(Diagnostic::new(format!("the blob has no code for {engine}")).in_file(input).note(
                if have.is_empty() {
                    "it carries bytecode only".to_string()
                } else {
                    format!("it has code for: {}", have.join(", "))
                },
            ))
        }
    }
}

fn verify_again(program: Program, stack_size: u32) -> Result<VerifiedProgram, String> {
    let data_sizes: Vec<u32> = program.data.iter().map(|d| d.size).collect();
    let helpers = crate::host::helper_ids();
    let config = VerifierConfig {
        helpers: &helpers,
        stack_size,
        max_call_depth: 8,
        data_sizes: &data_sizes,
    };
    verify(&program, &config)
        .map_err(|e| format!("the bytecode does not verify (pc {}: {})", e.pc, e.kind))
}

/// Native code, entry and pc map for `engine`, as `femtoc compile` makes them.
struct Recompiled {
    code: Vec<u8>,
    entry: u32,
    pc_map: Vec<(u32, u32)>,
}

fn recompile(verified: &VerifiedProgram, engine: Engine, goal: Goal) -> Result<Recompiled, String> {
    match engine {
        Engine::Thumbv7m | Engine::Thumbv7em => {
            femtoc_compiler::thumb2::compile_for(verified, engine, goal)
                .map(|c| Recompiled { code: c.code, entry: c.entry, pc_map: c.pc_map })
                .map_err(|e| e.to_string())
        }
        Engine::X86_64 | Engine::Aarch64 | Engine::Riscv64gc => {
            femtoc_compiler::cranelift::compile(verified, engine)
                .map(|c| Recompiled { code: c.code, entry: c.entry, pc_map: c.pc_map })
                .map_err(|e| e.to_string())
        }
        other => Err(format!("femtoc has no backend for {other}")),
    }
}

/// The pc map of `section`, or why there is none. Thumb-2 sections may
/// have been built for speed or for size: both are tried.
fn pc_map_for(
    section: &CodeSection<'_>,
    verified: &Result<VerifiedProgram, String>,
) -> Result<Vec<(u32, u32)>, String> {
    let verified = verified.as_ref().map_err(Clone::clone)?;
    let engine = section.engine;
    let goals: &[Goal] = match engine {
        Engine::Thumbv7m | Engine::Thumbv7em => &[Goal::Speed, Goal::Size],
        _ => &[Goal::Speed],
    };
    let mut mismatch = None;
    for &goal in goals {
        let again = recompile(verified, engine, goal)
            .map_err(|e| format!("compiling the bytecode again for {engine} failed: {e}"))?;
        if again.code != section.code || again.entry != section.entry {
            let first = again.code.iter().zip(section.code).position(|(a, b)| a != b);
            let at = first.unwrap_or(again.code.len().min(section.code.len()));
            mismatch.get_or_insert(format!(
                "the bytecode compiles to different code ({} bytes, entry {:#x}, first difference \
                 at offset {at:#x}): the section was made from another program or by another \
                 femtoc",
                again.code.len(),
                again.entry
            ));
            continue;
        }
        if again.pc_map.is_empty() {
            return Err(format!("the {engine} backend reports no native-to-eBPF map yet"));
        }
        return Ok(again.pc_map);
    }
    Err(mismatch.unwrap_or_default())
}

fn section_listing(
    section: &CodeSection<'_>,
    verified: &Result<VerifiedProgram, String>,
) -> CliResult<String> {
    let mut out = format!(
        "section {}: entry {:#x}, {} bytes of code, machine stack {} bytes\n",
        section.engine,
        section.entry,
        section.code.len(),
        section.machine_stack
    );
    let map = pc_map_for(section, verified);
    let insns: BTreeMap<u32, String> = match (&map, verified) {
        (Ok(_), Ok(v)) => femtoc_isa::decode_all(&v.program.code)
            .filter_map(Result::ok)
            .map(|d| (d.pc as u32, d.insn.to_string()))
            .collect(),
        _ => BTreeMap::new(),
    };
    let interleave = match &map {
        Ok(pc_map) => Some(Interleave { insns: &insns, pc_map }),
        Err(why) => {
            out.push_str(&format!("; note: no eBPF interleaving: {why}\n"));
            None
        }
    };
    let listing = native_listing(section.engine, section.code, section.entry, interleave)
        .map_err(|e| Diagnostic::new(e.to_string()))?;
    out.push_str(&listing);
    Ok(out)
}
