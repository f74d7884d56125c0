//! The conformance vector file format (`*.data`): sections opened by
//! `-- name` lines, `#` comments. See the suite's README for the format.

use std::path::{Path, PathBuf};

/// A section's text with the 1-based line number of its first line in the
/// file, so that assembler errors can point into the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The lines between the header and the next section, verbatim.
    pub text: String,
    /// File line number of the first line of `text`.
    pub first_line: usize,
}

/// One parsed vector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vector {
    /// `-- asm`: the program as assembler text.
    pub asm: Option<Section>,
    /// `-- raw`: the program as little-endian slots.
    pub raw: Option<Vec<u64>>,
    /// `-- mem`: the input memory.
    pub mem: Option<Vec<u8>>,
    /// `-- result`: the expected final r0.
    pub result: Option<u64>,
    /// `-- error`: the program must be rejected or fail; the reference
    /// implementation's message (trimmed, possibly empty).
    pub error: Option<String>,
}

/// Why a vector file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// The file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A `--` header naming no known section.
    #[error("line {line}: unknown section `-- {name}`")]
    UnknownSection {
        /// Line of the header.
        line: usize,
        /// The name after `--`.
        name: String,
    },
    /// The same section twice.
    #[error("line {line}: section `-- {name}` appears twice")]
    DuplicateSection {
        /// Line of the second header.
        line: usize,
        /// The section.
        name: String,
    },
    /// Something other than a comment before the first section.
    #[error("line {line}: text outside any section")]
    TextOutsideSection {
        /// The line.
        line: usize,
    },
    /// A line of a section that does not parse.
    #[error("line {line}: invalid `-- {section}` line `{text}`: {why}")]
    BadLine {
        /// The line.
        line: usize,
        /// The section it is in.
        section: &'static str,
        /// The line, trimmed.
        text: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// `-- result` without a value.
    #[error("section `-- result` holds no value")]
    EmptyResult,
    /// Neither `-- asm` nor `-- raw`.
    #[error("the vector has no program (no `-- asm` or `-- raw` section)")]
    NoProgram,
    /// A program section without an instruction.
    #[error("section `-- {0}` holds no instructions")]
    EmptyProgram(&'static str),
}

/// Sections a vector may have.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Asm,
    Raw,
    Mem,
    Result,
    Error,
    /// `-- c`, `-- no register offset`: informational.
    Ignored,
}

impl Kind {
    fn from_header(name: &str) -> Option<Kind> {
        Some(match name {
            "asm" => Kind::Asm,
            "raw" => Kind::Raw,
            "mem" => Kind::Mem,
            "result" => Kind::Result,
            "error" => Kind::Error,
            "c" | "no register offset" => Kind::Ignored,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Asm => "asm",
            Kind::Raw => "raw",
            Kind::Mem => "mem",
            Kind::Result => "result",
            Kind::Error => "error",
            Kind::Ignored => "informational",
        }
    }
}

fn strip_comment(line: &str) -> &str {
    line.split_once('#').map_or(line, |(code, _)| code).trim()
}

/// A collected section: its header line and body lines.
struct Body<'a> {
    kind: Kind,
    header_line: usize,
    lines: Vec<&'a str>,
}

/// Splits the file into sections, checking headers.
fn sections(text: &str) -> Result<Vec<Body<'_>>, VectorError> {
    let mut out: Vec<Body<'_>> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if let Some(header) = line.strip_prefix("--") {
            let name = strip_comment(header);
            let kind = Kind::from_header(name).ok_or_else(|| VectorError::UnknownSection {
                line: number,
                name: name.to_string(),
            })?;
            if kind != Kind::Ignored && out.iter().any(|b| b.kind == kind) {
                return Err(VectorError::DuplicateSection { line: number, name: name.to_string() });
            }
            out.push(Body { kind, header_line: number, lines: Vec::new() });
        } else if let Some(body) = out.last_mut() {
            body.lines.push(line);
        } else if !strip_comment(line).is_empty() {
            return Err(VectorError::TextOutsideSection { line: number });
        }
    }
    Ok(out)
}

/// Numbered, comment-free, non-blank lines of a section.
fn content<'a>(body: &'a Body<'_>) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    body.lines
        .iter()
        .enumerate()
        .map(move |(i, l)| (body.header_line + 1 + i, strip_comment(l)))
        .filter(|(_, l)| !l.is_empty())
}

fn bad(line: usize, section: Kind, text: &str, why: &'static str) -> VectorError {
    VectorError::BadLine { line, section: section.name(), text: text.to_string(), why }
}

fn hex_byte(token: &str) -> Option<u8> {
    (1..=2).contains(&token.len()).then(|| u8::from_str_radix(token, 16).ok()).flatten()
}

/// One `-- raw` line: `0x` + a u64, or eight hex bytes in memory order.
fn raw_word(line: &str) -> Result<u64, &'static str> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    match tokens.as_slice() {
        [word] => {
            let digits = word
                .strip_prefix("0x")
                .or_else(|| word.strip_prefix("0X"))
                .ok_or("expected 0x followed by a 64-bit word, or eight hex bytes")?;
            if digits.is_empty() || digits.len() > 16 {
                return Err("a word has 1 to 16 hex digits");
            }
            u64::from_str_radix(digits, 16).map_err(|_| "invalid hex digits")
        }
        _ if tokens.len() == 8 => {
            let mut bytes = [0u8; 8];
            for (b, t) in bytes.iter_mut().zip(&tokens) {
                *b = hex_byte(t).ok_or("invalid hex byte")?;
            }
            Ok(u64::from_le_bytes(bytes))
        }
        _ => Err("expected one 0x word or eight hex bytes"),
    }
}

/// `-- result`: hex (`0x…`) or decimal, negative decimals as two's complement.
fn result_value(text: &str) -> Option<u64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => body.parse::<u64>().ok()?,
    };
    if negative {
        // Only values that fit a signed 64-bit number have a meaning.
        let signed = 0i64.checked_sub_unsigned(magnitude)?;
        Some(signed as u64)
    } else {
        Some(magnitude)
    }
}

/// Parses a vector file's text.
pub fn parse_vector(text: &str) -> Result<Vector, VectorError> {
    let mut vector = Vector::default();
    for body in sections(text)? {
        match body.kind {
            Kind::Asm => {
                if content(&body).next().is_none() {
                    return Err(VectorError::EmptyProgram("asm"));
                }
                let mut text = body.lines.join("\n");
                text.push('\n');
                vector.asm = Some(Section { text, first_line: body.header_line + 1 });
            }
            Kind::Raw => {
                let words = content(&body)
                    .map(|(n, l)| raw_word(l).map_err(|why| bad(n, Kind::Raw, l, why)))
                    .collect::<Result<Vec<_>, _>>()?;
                if words.is_empty() {
                    return Err(VectorError::EmptyProgram("raw"));
                }
                vector.raw = Some(words);
            }
            Kind::Mem => {
                let mut mem = Vec::new();
                for (n, l) in content(&body) {
                    for token in l.split_whitespace() {
                        mem.push(hex_byte(token).ok_or_else(|| {
                            bad(n, Kind::Mem, l, "expected hex bytes separated by spaces")
                        })?);
                    }
                }
                vector.mem = Some(mem);
            }
            Kind::Result => {
                let mut values = content(&body);
                let (n, l) = values.next().ok_or(VectorError::EmptyResult)?;
                let value = result_value(l)
                    .ok_or_else(|| bad(n, Kind::Result, l, "not a 64-bit number"))?;
                if let Some((n, extra)) = values.next() {
                    return Err(bad(n, Kind::Result, extra, "only one value is allowed"));
                }
                vector.result = Some(value);
            }
            Kind::Error => {
                let message: Vec<&str> =
                    body.lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
                vector.error = Some(message.join("\n"));
            }
            Kind::Ignored => {}
        }
    }
    if vector.asm.is_none() && vector.raw.is_none() {
        return Err(VectorError::NoProgram);
    }
    Ok(vector)
}

/// A vector file and what parsing it gave.
#[derive(Debug)]
pub struct VectorFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The parsed vector, or why it could not be parsed (expected for
    /// files that must be rejected).
    pub vector: Result<Vector, VectorError>,
}

impl VectorFile {
    /// The file name without `.data`, for reports.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map_or_else(|| self.path.display().to_string(), |s| s.to_string_lossy().into_owned())
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> VectorError + '_ {
    move |source| VectorError::Io { path: path.to_path_buf(), source }
}

/// Reads vector files. A folder stands for the `.data` files below it
/// (recursively, sorted by path); files are taken as given. Unreadable
/// paths are an error; unparsable files are reported per file.
pub fn load_vectors(paths: &[PathBuf]) -> Result<Vec<VectorFile>, VectorError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            collect_data_files(path, &mut found)?;
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
            Ok(VectorFile { vector: parse_vector(&text), path })
        })
        .collect()
}

fn collect_data_files(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), VectorError> {
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry_path = entry.map_err(io_error(dir))?.path();
        if entry_path.is_dir() {
            collect_data_files(&entry_path, found)?;
        } else if entry_path.is_file() && entry_path.extension().is_some_and(|e| e == "data") {
            found.push(entry_path);
        }
    }
    Ok(())
}
