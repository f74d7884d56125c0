//! Compiler-style error reports: which file, which instruction, what is
//! wrong, and what to do about it when we know.

use std::fmt;
use std::path::{Path, PathBuf};

/// One error report of the `femtoc` command (boxed: errors are rare and
/// travel through every `Result` of the command).
#[derive(Debug)]
pub struct Diagnostic(Box<Detail>);

/// What a [`Diagnostic`] says.
#[derive(Debug)]
pub struct Detail {
    /// The input the error is about, if any.
    pub file: Option<PathBuf>,
    /// The source line (assembler text) the error is about.
    pub line: Option<usize>,
    /// The eBPF pc the error is about.
    pub pc: Option<usize>,
    /// The instruction at `pc`, disassembled, when it decodes.
    pub insn: Option<String>,
    /// What is wrong.
    pub message: String,
    /// Further explanation or advice, one line each.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic(Box::new(Detail {
            file: None,
            line: None,
            pc: None,
            insn: None,
            message: message.into(),
            notes: vec![],
        }))
    }

    /// The same error, about `file`.
    pub fn in_file(mut self, file: &Path) -> Self {
        self.0.file = Some(file.to_path_buf());
        self
    }

    /// The same error, at source line `line`.
    pub fn at_line(mut self, line: usize) -> Self {
        self.0.line = Some(line);
        self
    }

    /// The same error, at eBPF pc `pc`, showing `insn` if given.
    pub fn at_pc(mut self, pc: usize, insn: Option<String>) -> Self {
        self.0.pc = Some(pc);
        self.0.insn = insn;
        self
    }

    /// Adds a note line.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.0.notes.push(note.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        writeln!(f, "error: {}", d.message)?;
        if let Some(file) = &d.file {
            write!(f, "  --> {}", file.display())?;
            if let Some(line) = d.line {
                write!(f, ":{line}")?;
            }
            if let Some(pc) = d.pc {
                write!(f, " (pc {pc})")?;
            }
            writeln!(f)?;
        } else if let Some(pc) = d.pc {
            writeln!(f, "  --> pc {pc}")?;
        }
        if let Some(insn) = &d.insn {
            let label = d.pc.map(|pc| pc.to_string()).unwrap_or_default();
            let pad = " ".repeat(label.len());
            writeln!(f, "{pad} |")?;
            writeln!(f, "{label} | {insn}")?;
            writeln!(f, "{pad} |")?;
        }
        for note in &d.notes {
            writeln!(f, "  = note: {note}")?;
        }
        Ok(())
    }
}

/// Result of a `femtoc` subcommand.
pub type CliResult<T = ()> = Result<T, Diagnostic>;
