//! The Cranelift backend for host ISAs: `x86_64`, `aarch64`, `riscv64gc`.
//!
//! The whole verified program becomes one Cranelift function with the
//! native ABI's entry signature (`femtoc_runtime::abi`); see its `lower` module for
//! the translation. The output is position-independent and has no
//! relocations: every runtime address comes through the context pointer.
//! A relocation, or any trap site other than the (guarded) division
//! instructions, is a [`CompileError`].

mod lower;

use std::str::FromStr;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{Function, TrapCode};
use cranelift_codegen::isa::{self, CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use femtoc_isa::verifier::VerifiedProgram;
use femtoc_runtime::abi::ROUTINE_STACK_BYTES;
use femtoc_runtime::engine::{Engine, Features};
use target_lexicon::Triple;

/// Machine code for one engine, ready for a blob's code section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledCode {
    /// The engine it runs on.
    pub engine: Engine,
    /// Position-independent machine code.
    pub code: Vec<u8>,
    /// Byte offset of the entry in `code`.
    pub entry: u32,
    /// Machine stack bytes the code needs, routines included.
    pub machine_stack: u32,
    /// Features the code needs.
    pub features: Features,
    /// (native byte offset, eBPF pc) at each change of eBPF instruction, by
    /// offset; `u32::MAX` marks the prologue and the shared tails. Offsets
    /// never decrease; an instruction that compiled to no code of its own
    /// (folded into others) gets an empty range before the next pc's code.
    pub pc_map: Vec<(u32, u32)>,
    /// Header pcs of the loops whose accesses through their induction
    /// variable are checked once before the loop (see
    /// [`crate::analysis::loops`]), in order.
    pub hoisted_loops: Vec<u32>,
    /// Those of `hoisted_loops` whose span is proven to lie in the frame
    /// at every entry, so that their header checks only the budget.
    pub frame_checked_loops: Vec<u32>,
}

/// Why a program could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The engine is not one this backend targets.
    #[error(
        "the Cranelift backend does not target engine {0} (it targets x86_64, aarch64, riscv64gc)"
    )]
    UnsupportedEngine(Engine),
    /// A slot failed to decode (verified programs never do).
    #[error("cannot decode the instruction at pc {pc}: {reason}")]
    Decode {
        /// Slot index.
        pc: usize,
        /// The decoder's message.
        reason: String,
    },
    /// A jump or call leaves the program (verified programs never do).
    #[error("the jump or call at pc {pc} leaves the program")]
    BadTarget {
        /// Slot index.
        pc: usize,
    },
    /// An instruction femtoc does not run natively.
    #[error("pc {pc}: {what} is not supported")]
    Unsupported {
        /// Slot index.
        pc: usize,
        /// What it is.
        what: &'static str,
    },
    /// Cranelift rejected the function or a setting.
    #[error("Cranelift failed: {0}")]
    Cranelift(String),
    /// The code would need patching at load, which the blob format forbids.
    #[error("the compiled code has {count} relocation(s); the first is {first}")]
    Relocation {
        /// How many.
        count: usize,
        /// The first, as Cranelift prints it.
        first: String,
    },
    /// The code contains a trap that could be reached by something other
    /// than a guarded division.
    #[error("the compiled code has a trap site ({code}) at offset {offset}")]
    Trap {
        /// Byte offset in the code.
        offset: u32,
        /// Cranelift's trap code.
        code: String,
    },
    /// A consistency check of the lowering failed (a bug in femtoc).
    #[error("internal error in the Cranelift lowering: {0}")]
    Internal(&'static str),
}

/// The Rust target triple of a host engine.
fn triple(engine: Engine) -> Result<&'static str, CompileError> {
    match engine {
        Engine::X86_64 => Ok("x86_64-unknown-linux-gnu"),
        Engine::Aarch64 => Ok("aarch64-unknown-linux-gnu"),
        Engine::Riscv64gc => Ok("riscv64gc-unknown-linux-gnu"),
        other => Err(CompileError::UnsupportedEngine(other)),
    }
}

fn cl_err(e: impl core::fmt::Display) -> CompileError {
    CompileError::Cranelift(e.to_string())
}

/// The Cranelift target for `engine`: position-independent, optimised,
/// without stack probes or unwind tables (nothing that needs a symbol).
fn target_isa(engine: Engine) -> Result<OwnedTargetIsa, CompileError> {
    let triple = Triple::from_str(triple(engine)?).map_err(cl_err)?;
    let mut shared = settings::builder();
    for (k, v) in [
        ("opt_level", "speed"),
        ("is_pic", "true"),
        ("enable_probestack", "false"),
        ("unwind_info", "false"),
        ("use_colocated_libcalls", "false"),
        ("enable_verifier", "true"),
    ] {
        shared.set(k, v).map_err(cl_err)?;
    }
    let mut builder = isa::lookup(triple).map_err(cl_err)?;
    if engine == Engine::Riscv64gc {
        for flag in ["has_m", "has_a", "has_f", "has_d", "has_c"] {
            builder.enable(flag).map_err(cl_err)?;
        }
    }
    builder.finish(settings::Flags::new(shared)).map_err(cl_err)
}

/// Compiles `program` for `engine` (`x86_64`, `aarch64` or `riscv64gc`).
///
/// The budget counter lives in a register. (The lowering can also keep it
/// in a stack slot on x86-64, which frees a register but puts a load and a
/// store on every back edge's dependency chain: chosen by code size it
/// made Fletcher-32 30% slower in wall time, 287 against 219 ns in one
/// criterion run, so `compile` does not use it; the tests keep both
/// placements exact.)
pub fn compile(program: &VerifiedProgram, engine: Engine) -> Result<CompiledCode, CompileError> {
    let isa = target_isa(engine)?;
    compile_with(program, engine, &*isa, false)
}

/// [`compile`] with the budget in a register or in memory.
fn compile_with(
    program: &VerifiedProgram,
    engine: Engine,
    isa: &dyn isa::TargetIsa,
    budget_in_memory: bool,
) -> Result<CompiledCode, CompileError> {
    let call_conv = CallConv::triple_default(isa.triple());
    let mut func = Function::new();
    let (hoisted_loops, frame_checked_loops) = lower::lower(
        program,
        call_conv,
        isa.frontend_config(),
        budget_in_memory,
        engine,
        &mut func,
    )?;
    let mut ctx = Context::for_function(func);
    let compiled = ctx
        .compile(isa, &mut ControlPlane::default())
        .map_err(|e| CompileError::Cranelift(format!("{:?}", e.inner)))?;
    let relocs = compiled.buffer.relocs();
    if let Some(first) = relocs.first() {
        return Err(CompileError::Relocation { count: relocs.len(), first: format!("{first:?}") });
    }
    // Trap sites the lowering makes unreachable: divisions (the hardware
    // fault or Cranelift's own check on a zero divisor, and the overflow
    // check), which the lowering branches around; and memory accesses that
    // Cranelift marks as faultable even when told they are not (the
    // RISC-V atomics), all of which the lowering checks first. Any other
    // trap would be one the program could reach.
    const GUARDED: [TrapCode; 3] = [
        TrapCode::INTEGER_DIVISION_BY_ZERO,
        TrapCode::INTEGER_OVERFLOW,
        TrapCode::HEAP_OUT_OF_BOUNDS,
    ];
    for t in compiled.buffer.traps() {
        if !GUARDED.contains(&t.code) {
            return Err(CompileError::Trap { offset: t.offset, code: t.code.to_string() });
        }
    }
    let code = compiled.code_buffer().to_vec();
    let ranges: Vec<(u32, u32, u32)> = compiled
        .buffer
        .get_srclocs_sorted()
        .iter()
        .map(|s| (s.start, s.end, s.loc.bits()))
        .collect();
    let pc_map = pc_map(&ranges, &lower::insn_pcs(program), code.len() as u32);
    let frame = compiled.buffer.frame_layout().map_or(0, |f| f.frame_to_fp_offset);
    // Return address and saved frame pointer (or RISC-V ra/s0) above the
    // frame, the frame itself, and the routines it may call.
    let machine_stack = frame.saturating_add(16).saturating_add(ROUTINE_STACK_BYTES);
    if std::env::var("FEMTOC_DUMP").is_ok() {
        eprintln!("{}", ctx.func.display());
    }
    Ok(CompiledCode {
        engine,
        code,
        entry: 0,
        machine_stack,
        features: Features::NONE,
        pc_map,
        hoisted_loops,
        frame_checked_loops,
    })
}

/// The pc map from Cranelift's (start, end, pc) ranges (sorted by start;
/// `u32::MAX` for code without a pc), the program's instruction pcs and
/// the code length.
fn pc_map(ranges: &[(u32, u32, u32)], pcs: &[u32], len: u32) -> Vec<(u32, u32)> {
    const NONE: u32 = u32::MAX;
    let mut map: Vec<(u32, u32)> = Vec::new();
    let push = |map: &mut Vec<(u32, u32)>, at: u32, pc: u32| {
        if at < len && map.last().is_none_or(|&(_, p)| p != pc) {
            map.push((at, pc));
        }
    };
    let mut at = 0;
    for &(start, end, pc) in ranges {
        if start > at {
            push(&mut map, at, NONE);
        }
        if end > start {
            push(&mut map, start, pc);
        }
        at = at.max(end);
    }
    if at < len {
        push(&mut map, at, NONE);
    }
    // Instructions without code of their own: an empty range just before
    // the code of the next pc that has some (or of the last entry).
    let present: std::collections::BTreeSet<u32> = map.iter().map(|&(_, p)| p).collect();
    let first_at: std::collections::BTreeMap<u32, usize> =
        map.iter().enumerate().rev().map(|(i, &(_, p))| (p, i)).collect();
    let mut inserts: Vec<(usize, u32)> = Vec::new();
    for &pc in pcs {
        if present.contains(&pc) {
            continue;
        }
        let next = first_at.range(pc..).find(|&(&p, _)| p != NONE).map(|(_, &i)| i);
        let i = next.unwrap_or(map.len().saturating_sub(1));
        inserts.push((i, pc));
    }
    // Stable: several missing pcs before the same entry keep pc order.
    inserts.sort_by_key(|&(i, pc)| (i, pc));
    let mut out = Vec::with_capacity(map.len() + inserts.len());
    let mut ins = inserts.into_iter().peekable();
    for (i, &(off, pc)) in map.iter().enumerate() {
        while let Some(&(j, missing)) = ins.peek() {
            if j != i {
                break;
            }
            out.push((off, missing));
            ins.next();
        }
        out.push((off, pc));
    }
    out
}

#[cfg(test)]
mod tests;
