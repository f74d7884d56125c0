//! The Thumb-2 (ARMv7-M) backend: engines `thumbv7m` and `thumbv7em`.
//!
//! [`compile`] turns a verified program into one position-independent
//! function with the native ABI's entry (`uint32_t entry(NativeContext *)`,
//! see `femtoc_runtime::abi`). The pieces: [`insn`] (what an instruction
//! is), [`encode`] (the one encoder), [`assembler`] (labels, fix-ups,
//! relaxation), [`regmap`] (where eBPF registers live) and [`lower`] (eBPF
//! to instruction sequences). `thumbv7em` code is currently the same as
//! `thumbv7m` code: no DSP instruction is used, so it runs on every core.
//! [`compile_for`] builds for speed or for size ([`Goal`]): the two differ
//! in how loops are checked (see `lower::compact`).

pub mod assembler;
pub mod encode;

mod branches;
pub mod insn;
pub mod lower;
pub mod regmap;
mod reloads;
mod saves;

#[cfg(test)]
mod tests;

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_runtime::abi::ROUTINE_STACK_BYTES;
use femtoc_runtime::engine::{Engine, Features};

pub use lower::Goal;

/// Compiled code for one engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledCode {
    /// Thumb-2 machine code.
    pub code: Vec<u8>,
    /// Byte offset of the entry (a Thumb function: call it with bit 0 set);
    /// the entry prologue is emitted after the body.
    pub entry: u32,
    /// Machine stack the code needs at most, runtime routines included.
    pub machine_stack: u32,
    /// Features the code relies on.
    pub features: Features,
    /// (native byte offset, eBPF pc) at each change of eBPF instruction;
    /// `u32::MAX` marks the shared tails.
    pub pc_map: Vec<(u32, u32)>,
    /// Header pcs of the counted loops whose pointer accesses are checked
    /// once before the loop rather than in every iteration (see
    /// `lower::counted`).
    pub counted_loops: Vec<u32>,
    /// Those of `counted_loops` proven inside the frame at every entry
    /// (`analysis::frame_span`), emitted once, with no check at all.
    pub frame_loops: Vec<u32>,
}

/// Why a verified program could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The engine is not a Thumb-2 engine.
    #[error("the thumb2 backend does not compile for engine {0}")]
    Engine(Engine),
    /// An instruction this backend does not compile.
    #[error("pc {pc}: cannot compile: {why}")]
    Unsupported {
        /// eBPF pc.
        pc: u32,
        /// What.
        why: &'static str,
    },
    /// Assembly failed (a branch out of range or an unencodable operand).
    #[error("assembling the code: {0}")]
    Assemble(#[from] assembler::AsmError),
}

/// Compiles `program` for `engine` (`Thumbv7m` or `Thumbv7em`), for speed.
pub fn compile(program: &VerifiedProgram, engine: Engine) -> Result<CompiledCode, CompileError> {
    compile_for(program, engine, Goal::Speed)
}

/// Compiles `program` for `engine` (`Thumbv7m` or `Thumbv7em`), built for
/// `goal`.
pub fn compile_for(
    program: &VerifiedProgram,
    engine: Engine,
    goal: Goal,
) -> Result<CompiledCode, CompileError> {
    if !matches!(engine, Engine::Thumbv7m | Engine::Thumbv7em) {
        return Err(CompileError::Engine(engine));
    }
    let mut lowerer = lower::Lowerer::with_goal(program, goal);
    lowerer.lower()?;
    lowerer.asm.tidy_branches(&[lowerer.entry]);
    lowerer.asm.drop_frame_reloads(&[lowerer.entry]);
    lowerer.asm.forward_frame_loads(&[lowerer.entry]);
    lowerer.asm.drop_dead_frame_stores();
    lowerer.asm.drop_leaf_lr_saves(&lowerer.local_functions());
    let pushed = lowerer.asm.trim_saved_registers();
    let out = lowerer.asm.finish()?;
    let entry = out.labels.get(lowerer.entry.0 as usize).copied().unwrap_or(0);
    // Pushed registers, the frame, the deepest extra push, and what a
    // routine may use.
    let machine_stack = pushed + lowerer.frame() + lowerer.extra_stack + ROUTINE_STACK_BYTES;
    Ok(CompiledCode {
        code: out.code,
        entry,
        machine_stack,
        features: lowerer.features,
        pc_map: out.tags,
        counted_loops: lowerer.counted_loop_heads(),
        frame_loops: lowerer.frame_loop_heads(),
    })
}
