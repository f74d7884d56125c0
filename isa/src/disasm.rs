//! Instructions as text, in the conformance suite's assembler syntax, so
//! that [`crate::asm::assemble`] reads the output back to the same slots.
//!
//! `Display` for [`Insn`] prints jump and call targets as signed offsets
//! (`ja +3`); the program-level [`disassemble`] replaces them with labels.

use core::fmt::{self, Display, Formatter};

use crate::insn::{AluOp, AtomicOp, ByteOrder, Insn, JmpCond, Source, Width};

/// Mnemonic of a binary ALU operation without its width suffix.
fn alu_name(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "add",
        AluOp::Sub => "sub",
        AluOp::Mul => "mul",
        AluOp::Div => "div",
        AluOp::SDiv => "sdiv",
        AluOp::Or => "or",
        AluOp::And => "and",
        AluOp::Lsh => "lsh",
        AluOp::Rsh => "rsh",
        AluOp::Mod => "mod",
        AluOp::SMod => "smod",
        AluOp::Xor => "xor",
        AluOp::Mov => "mov",
        AluOp::MovSx(_) => "movsx",
        AluOp::Arsh => "arsh",
    }
}

/// Mnemonic of a conditional jump without its width suffix.
fn jmp_name(cond: JmpCond) -> &'static str {
    match cond {
        JmpCond::Eq => "jeq",
        JmpCond::Gt => "jgt",
        JmpCond::Ge => "jge",
        JmpCond::Set => "jset",
        JmpCond::Ne => "jne",
        JmpCond::Sgt => "jsgt",
        JmpCond::Sge => "jsge",
        JmpCond::Lt => "jlt",
        JmpCond::Le => "jle",
        JmpCond::Slt => "jslt",
        JmpCond::Sle => "jsle",
    }
}

fn atomic_name(op: AtomicOp) -> &'static str {
    match op {
        AtomicOp::Add => "add",
        AtomicOp::Or => "or",
        AtomicOp::And => "and",
        AtomicOp::Xor => "xor",
        AtomicOp::Xchg => "xchg",
        AtomicOp::CmpXchg => "cmpxchg",
    }
}

/// The `32` suffix of 32-bit ALU and JMP32 mnemonics.
fn width_suffix(width: Width) -> &'static str {
    match width {
        Width::W32 => "32",
        Width::W64 => "",
    }
}

struct Src(Source);

impl Display for Src {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Source::Reg(r) => write!(f, "{r}"),
            Source::Imm(imm) => write!(f, "{imm}"),
        }
    }
}

/// A jump or call target: a label when the caller has one, else the
/// signed offset relative to the next slot.
pub(crate) enum Target<'a> {
    Offset(i64),
    Label(&'a str),
}

impl Display for Target<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Target::Offset(off) => write!(f, "{off:+}"),
            Target::Label(name) => f.write_str(name),
        }
    }
}

/// Writes `insn`, with `label` (if any) in place of its jump or call offset.
pub(crate) fn write_insn(f: &mut dyn fmt::Write, insn: &Insn, label: Option<&str>) -> fmt::Result {
    let target = |off: i64| match label {
        Some(name) => Target::Label(name),
        None => Target::Offset(off),
    };
    match *insn {
        Insn::Alu { width, op: AluOp::MovSx(bits), dst, src } => {
            let to = match width {
                Width::W32 => 32,
                Width::W64 => 64,
            };
            write!(f, "movsx{bits}{to} {dst}, {}", Src(src))
        }
        Insn::Alu { width, op, dst, src } => {
            write!(f, "{}{} {dst}, {}", alu_name(op), width_suffix(width), Src(src))
        }
        Insn::Neg { width, dst } => write!(f, "neg{} {dst}", width_suffix(width)),
        Insn::Endian { order, bits, dst } => {
            let name = match order {
                ByteOrder::ToLe => "le",
                ByteOrder::ToBe => "be",
                ByteOrder::Swap => "swap",
            };
            write!(f, "{name}{bits} {dst}")
        }
        Insn::LoadImm64 { dst, imm } => write!(f, "lddw {dst}, {imm:#x}"),
        Insn::LoadDataAddr { dst, region, offset } => {
            write!(f, "lddw {dst}, data[{region}+{offset}]")
        }
        Insn::Load { size, dst, src, off } => {
            write!(f, "ldx{} {dst}, [{src}{off:+}]", size.suffix())
        }
        Insn::LoadSx { size, dst, src, off } => {
            write!(f, "ldxs{} {dst}, [{src}{off:+}]", size.suffix())
        }
        Insn::Store { size, dst, off, src: Source::Imm(imm) } => {
            write!(f, "st{} [{dst}{off:+}], {imm}", size.suffix())
        }
        Insn::Store { size, dst, off, src: Source::Reg(src) } => {
            write!(f, "stx{} [{dst}{off:+}], {src}", size.suffix())
        }
        Insn::Atomic { size, op, fetch, dst, src, off } => {
            // xchg and cmpxchg always fetch; the mnemonic implies it.
            let fetch = if fetch && !matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg) {
                "fetch "
            } else {
                ""
            };
            let suffix = if size == crate::insn::MemSize::W { "32" } else { "" };
            write!(f, "lock {fetch}{}{suffix} [{dst}{off:+}], {src}", atomic_name(op))
        }
        Insn::Ja { off } => write!(f, "ja {}", target(off.into())),
        Insn::JaLong { off } => write!(f, "ja32 {}", target(off.into())),
        Insn::Jmp { width, cond, dst, src, off } => write!(
            f,
            "{}{} {dst}, {}, {}",
            jmp_name(cond),
            width_suffix(width),
            Src(src),
            target(off.into())
        ),
        Insn::Call { id } => write!(f, "call {id}"),
        Insn::CallLocal { off } => write!(f, "call local {}", target(off.into())),
        Insn::CallReg { reg } => write!(f, "call {reg}"),
        Insn::Exit => f.write_str("exit"),
    }
}

impl Display for Insn {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_insn(f, self, None)
    }
}

#[cfg(feature = "alloc")]
mod program_text {
    use alloc::collections::{BTreeMap, BTreeSet};
    use alloc::format;
    use alloc::string::String;
    use core::fmt::Write;

    use super::write_insn;
    use crate::asm::is_label_name;
    use crate::decode::decode_at;
    use crate::insn::Insn;
    use crate::program::Program;

    /// Disassembles `program`, one instruction per line, with labels at
    /// every jump or call target and at every symbol.
    ///
    /// For a program whose slots all decode, the text re-assembles to the
    /// same bytecode. A slot that does not decode becomes a `#` comment
    /// naming the word and the reason, and disassembly goes on at the next
    /// slot.
    pub fn disassemble(program: &Program) -> String {
        render(program, false)
    }

    /// Like [`disassemble`], with each instruction prefixed by its pc
    /// (for people, not for the assembler).
    pub fn disassemble_with_pcs(program: &Program) -> String {
        render(program, true)
    }

    /// A decoded slot, or the reason it does not decode.
    type Line = (usize, Result<Insn, crate::decode::DecodeError>);

    fn decode_lines(code: &[u64]) -> alloc::vec::Vec<Line> {
        let mut lines = alloc::vec::Vec::new();
        let mut pc = 0;
        while pc < code.len() {
            let decoded = decode_at(code, pc);
            let width = decoded.as_ref().map_or(1, Insn::slots);
            lines.push((pc, decoded));
            pc += width;
        }
        lines
    }

    /// Chooses a unique, assemblable name for every pc that needs a label.
    fn label_names(program: &Program, lines: &[Line]) -> BTreeMap<usize, String> {
        // A label can only sit where an instruction starts, or at the end.
        let mut starts: BTreeSet<usize> = lines.iter().map(|(pc, _)| *pc).collect();
        starts.insert(program.code.len());

        let mut names = BTreeMap::new();
        let mut taken = BTreeSet::new();
        for sym in &program.symbols {
            if starts.contains(&sym.pc)
                && !names.contains_key(&sym.pc)
                && is_label_name(&sym.name)
                && taken.insert(sym.name.clone())
            {
                names.insert(sym.pc, sym.name.clone());
            }
        }
        for (pc, insn) in lines {
            let Some(target) = insn.as_ref().ok().and_then(|i| i.branch_target(*pc)) else {
                continue;
            };
            let Ok(target) = usize::try_from(target) else { continue };
            if !starts.contains(&target) || names.contains_key(&target) {
                continue;
            }
            // Generated names must not collide with a symbol that happens
            // to look like one.
            let mut name = format!("L{target}");
            while taken.contains(&name) {
                name.push('_');
            }
            taken.insert(name.clone());
            names.insert(target, name);
        }
        names
    }

    fn render(program: &Program, with_pcs: bool) -> String {
        let lines = decode_lines(&program.code);
        let names = label_names(program, &lines);
        let mut out = String::new();
        let label_line = |out: &mut String, pc: usize| {
            if let Some(name) = names.get(&pc) {
                // Writing to a String cannot fail.
                let _ = writeln!(out, "{name}:");
            }
        };
        for (pc, decoded) in &lines {
            label_line(&mut out, *pc);
            if with_pcs {
                let _ = write!(out, "{pc:>5}: ");
            }
            match decoded {
                Ok(insn) => {
                    let label = insn
                        .branch_target(*pc)
                        .and_then(|t| usize::try_from(t).ok())
                        .and_then(|t| names.get(&t))
                        .map(String::as_str);
                    let _ = write_insn(&mut out, insn, label);
                }
                Err(e) => {
                    let word = program.code.get(*pc).copied().unwrap_or_default();
                    let _ = write!(out, "# undecodable slot {word:#018x}: {e}");
                }
            }
            out.push('\n');
        }
        label_line(&mut out, program.code.len());
        out
    }
}

#[cfg(feature = "alloc")]
pub use program_text::{disassemble, disassemble_with_pcs};
