//! The report: a Markdown table of programs × engines built from
//! criterion's `<dir>/<program>/<engine>/new/estimates.json`, with each
//! engine's time as a multiple of femtoc's interpreter, and femtoc's
//! engines' times as multiples of the rustc-compiled baseline.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The engine every ratio divides by.
pub const BASELINE_ENGINE: &str = "femtoc-interp";

/// femtoc's native code, the engine the 20x goal is about.
pub const NATIVE_ENGINE: &str = "femtoc-native";

/// The C source's algorithm compiled by rustc: what femtoc's engines are
/// measured against in the last columns, not an engine over femtoc's
/// interpreter (its "femtoc-interp / rust-O" column says the same inverted).
pub const RUST_ENGINE: &str = "rust-O";

/// Engines whose time the table also gives over [`RUST_ENGINE`]'s.
pub const OVER_RUST: &[&str] = &[BASELINE_ENGINE, NATIVE_ENGINE];

/// Engines in column order; others follow alphabetically.
pub const ENGINE_ORDER: &[&str] =
    &[BASELINE_ENGINE, NATIVE_ENGINE, "rbpf-interp", "rbpf-jit", "rbpf-cranelift", RUST_ENGINE];

/// Why the report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A directory or file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// What was read.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An estimates file lacks `mean.point_estimate`.
    #[error("{}: no mean.point_estimate ({why})", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        why: String,
    },
    /// No estimates at all: the benches have not run.
    #[error("no criterion estimates under {} (run the benches first)", .0.display())]
    Empty(PathBuf),
}

/// Mean time in nanoseconds of each (program, engine) pair measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Programs in row order.
    pub programs: Vec<String>,
    /// Engines in column order.
    pub engines: Vec<String>,
    /// Mean nanoseconds per run, by (program, engine).
    pub means: BTreeMap<(String, String), f64>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io { path: path.into(), source }
}

fn subdirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, ReportError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        if entry.file_type().map_err(io(dir))?.is_dir() {
            out.push((entry.file_name().to_string_lossy().into_owned(), entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The mean point estimate (ns) of one criterion `estimates.json`.
pub fn read_mean(path: &Path) -> Result<f64, ReportError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let format = |why: String| ReportError::Format { path: path.into(), why };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    json.pointer("/mean/point_estimate")
        .and_then(serde_json::Value::as_f64)
        .ok_or_else(|| format("missing or not a number".into()))
}

impl Table {
    /// Reads every `<program>/<engine>/new/estimates.json` under `dir`;
    /// rows follow `program_order` first, columns [`ENGINE_ORDER`].
    pub fn from_criterion_dir(dir: &Path, program_order: &[&str]) -> Result<Self, ReportError> {
        let mut table = Table::default();
        for (program, group_dir) in subdirs(dir)? {
            for (engine, engine_dir) in subdirs(&group_dir)? {
                let estimates = engine_dir.join("new/estimates.json");
                if !estimates.is_file() {
                    continue;
                }
                let mean = read_mean(&estimates)?;
                table.means.insert((program.clone(), engine.clone()), mean);
                if !table.programs.contains(&program) {
                    table.programs.push(program.clone());
                }
                if !table.engines.contains(&engine) {
                    table.engines.push(engine);
                }
            }
        }
        if table.means.is_empty() {
            return Err(ReportError::Empty(dir.into()));
        }
        let rank = |order: &[&str], name: &str| {
            order.iter().position(|o| *o == name).unwrap_or(order.len())
        };
        table.programs.sort_by(|a, b| {
            (rank(program_order, a), a.as_str()).cmp(&(rank(program_order, b), b.as_str()))
        });
        table.engines.sort_by(|a, b| {
            (rank(ENGINE_ORDER, a), a.as_str()).cmp(&(rank(ENGINE_ORDER, b), b.as_str()))
        });
        Ok(table)
    }

    /// Mean ns of `engine` on `program`, if measured.
    pub fn mean(&self, program: &str, engine: &str) -> Option<f64> {
        self.means.get(&(program.to_string(), engine.to_string())).copied()
    }

    /// `engine`'s time over the baseline's on `program`: above 1 means
    /// femtoc's interpreter is faster.
    pub fn ratio(&self, program: &str, engine: &str) -> Option<f64> {
        self.ratio_over(program, engine, BASELINE_ENGINE)
    }

    /// `engine`'s time over `over`'s on `program`.
    pub fn ratio_over(&self, program: &str, engine: &str, over: &str) -> Option<f64> {
        Some(self.mean(program, engine)? / self.mean(program, over)?)
    }

    /// The table in Markdown: one column of mean ns per engine, one ratio
    /// column over the baseline per other eBPF engine, then, if rust-O was
    /// measured, femtoc's interpreter and native code over rust-O.
    pub fn to_markdown(&self) -> String {
        let mut ratios: Vec<(&str, &str)> = self
            .engines
            .iter()
            .filter(|e| *e != BASELINE_ENGINE && *e != RUST_ENGINE)
            .map(|e| (e.as_str(), BASELINE_ENGINE))
            .collect();
        if self.engines.iter().any(|e| e == RUST_ENGINE) {
            ratios.extend(
                OVER_RUST
                    .iter()
                    .filter(|e| self.engines.iter().any(|m| m == *e))
                    .map(|e| (*e, RUST_ENGINE)),
            );
        }
        let mut out = String::from("| program |");
        for e in &self.engines {
            let _ = write!(out, " {e} (ns) |");
        }
        for (e, over) in &ratios {
            let _ = write!(out, " {e} / {over} |");
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(self.engines.len() + ratios.len()));
        out.push('\n');
        for p in &self.programs {
            let _ = write!(out, "| {p} |");
            for e in &self.engines {
                match self.mean(p, e) {
                    Some(ns) => {
                        let _ = write!(out, " {ns:.0} |");
                    }
                    None => out.push_str(" n/a |"),
                }
            }
            for (e, over) in &ratios {
                match self.ratio_over(p, e, over) {
                    // Native engines run at a few hundredths of the
                    // interpreter's time; two decimals would round 15x and
                    // 30x alike.
                    Some(r) if r < 0.1 => {
                        let _ = write!(out, " {r:.4}x |");
                    }
                    Some(r) => {
                        let _ = write!(out, " {r:.2}x |");
                    }
                    None => out.push_str(" n/a |"),
                }
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_estimate(root: &Path, program: &str, engine: &str, mean: f64) {
        let dir = root.join(program).join(engine).join("new");
        std::fs::create_dir_all(&dir).unwrap();
        let json = format!(
            r#"{{"mean":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0}},"point_estimate":{mean},"standard_error":0.1}},"median":{{"point_estimate":1.0}}}}"#
        );
        std::fs::write(dir.join("estimates.json"), json).unwrap();
    }

    fn temp_root(tag: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("femtoc-report-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        root
    }

    #[test]
    fn table_orders_rows_and_columns_and_divides_by_the_baseline() {
        let root = temp_root("order");
        write_estimate(&root, "crc32", BASELINE_ENGINE, 500.0);
        write_estimate(&root, "fletcher32", "rbpf-interp", 3000.0);
        write_estimate(&root, "fletcher32", BASELINE_ENGINE, 1000.0);
        write_estimate(&root, "fletcher32", "a-native", 100.0);
        // A directory criterion leaves without estimates is ignored.
        std::fs::create_dir_all(root.join("fletcher32/report")).unwrap();
        let table = Table::from_criterion_dir(&root, &["fletcher32", "crc32"]).unwrap();
        std::fs::remove_dir_all(&root).unwrap();

        assert_eq!(table.programs, ["fletcher32", "crc32"]);
        assert_eq!(table.engines, [BASELINE_ENGINE, "rbpf-interp", "a-native"]);
        assert_eq!(table.ratio("fletcher32", "rbpf-interp"), Some(3.0));
        assert_eq!(table.ratio("crc32", "rbpf-interp"), None);
        let md = table.to_markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines.len(), 4, "{md}");
        assert!(lines[2].starts_with("| fletcher32 | 1000 | 3000 | 100 | 3.00x | 0.10x |"), "{md}");
        assert!(lines[3].starts_with("| crc32 | 500 | n/a | n/a | n/a | n/a |"), "{md}");
    }

    #[test]
    fn rust_o_gets_columns_over_it_instead_of_one_over_the_interpreter() {
        let root = temp_root("rust");
        write_estimate(&root, "hash", BASELINE_ENGINE, 8000.0);
        write_estimate(&root, "hash", NATIVE_ENGINE, 500.0);
        write_estimate(&root, "hash", RUST_ENGINE, 400.0);
        write_estimate(&root, "hash", "rbpf-jit", 1000.0);
        let table = Table::from_criterion_dir(&root, &["hash"]).unwrap();
        std::fs::remove_dir_all(&root).unwrap();

        assert_eq!(table.engines, [BASELINE_ENGINE, NATIVE_ENGINE, "rbpf-jit", RUST_ENGINE]);
        let md = table.to_markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines.len(), 3, "{md}");
        let header = format!(
            "| program | {BASELINE_ENGINE} (ns) | {NATIVE_ENGINE} (ns) | rbpf-jit (ns) | \
             {RUST_ENGINE} (ns) | {NATIVE_ENGINE} / {BASELINE_ENGINE} | \
             rbpf-jit / {BASELINE_ENGINE} | {BASELINE_ENGINE} / {RUST_ENGINE} | \
             {NATIVE_ENGINE} / {RUST_ENGINE} |"
        );
        assert_eq!(lines[0], header, "{md}");
        assert_eq!(lines[1].matches("---:|").count(), 8, "{md}");
        assert_eq!(
            lines[2],
            "| hash | 8000 | 500 | 1000 | 400 | 0.0625x | 0.12x | 20.00x | 1.25x |"
        );
    }

    #[test]
    fn empty_or_malformed_results_are_errors() {
        let root = temp_root("bad");
        assert!(matches!(Table::from_criterion_dir(&root, &[]), Err(ReportError::Empty(_))));
        let dir = root.join("p/e/new");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("estimates.json"), r#"{"median":{}}"#).unwrap();
        let err = Table::from_criterion_dir(&root, &[]).unwrap_err();
        std::fs::remove_dir_all(&root).unwrap();
        assert!(matches!(err, ReportError::Format { .. }), "{err}");
    }
}
