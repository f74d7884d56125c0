//! Native code listings: a code section disassembled with capstone, each
//! run of machine instructions under the eBPF instruction(s) it came from.
//!
//! The map from native offsets to eBPF pcs is what a backend reports while
//! compiling; this module only renders it, so any backend that reports one
//! gets an interleaved listing and any that does not gets a plain one.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use capstone::arch::{self, BuildsCapstone, BuildsCapstoneExtraMode};
use capstone::Capstone;
use femtoc_runtime::engine::Engine;

/// The pc-map tag of code that belongs to no eBPF instruction (the exits
/// and slow paths every instruction shares).
pub const SHARED_TAIL: u32 = u32::MAX;

/// Why a listing could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    /// The engine runs no native code, or capstone has no decoder for it.
    #[error("no disassembler for engine {0}")]
    Engine(Engine),
    /// Capstone refused to start.
    #[error("capstone for {engine}: {why}")]
    Capstone {
        /// The engine whose decoder failed.
        engine: Engine,
        /// Capstone's message.
        why: String,
    },
}

/// What to interleave: the eBPF program's instructions by pc, and the
/// (native offset, pc) map of the code being listed.
pub struct Interleave<'a> {
    /// Text of each eBPF instruction, by the pc of its first slot.
    pub insns: &'a BTreeMap<u32, String>,
    /// (native byte offset, eBPF pc) at each change of eBPF instruction;
    /// [`SHARED_TAIL`] marks code shared by all instructions.
    pub pc_map: &'a [(u32, u32)],
}

/// How undecodable bytes of an engine are shown (the directive and its
/// size), and how many characters the bytes column takes.
fn data_unit(engine: Engine) -> (&'static str, usize, usize) {
    match engine {
        // Most x86 encodings fit in 8 bytes; longer ones push their text right.
        Engine::X86_64 => (".byte", 1, 23),
        Engine::Aarch64 => (".word", 4, 11),
        _ => (".short", 2, 11),
    }
}

fn decoder(engine: Engine) -> Result<Capstone, ListingError> {
    let built = match engine {
        Engine::Thumbv7m | Engine::Thumbv7em => Capstone::new()
            .arm()
            .mode(arch::arm::ArchMode::Thumb)
            .extra_mode([arch::arm::ArchExtraMode::MClass].into_iter())
            .build(),
        Engine::X86_64 => Capstone::new().x86().mode(arch::x86::ArchMode::Mode64).build(),
        Engine::Aarch64 => Capstone::new().arm64().mode(arch::arm64::ArchMode::Arm).build(),
        Engine::Riscv64gc => Capstone::new()
            .riscv()
            .mode(arch::riscv::ArchMode::RiscV64)
            .extra_mode([arch::riscv::ArchExtraMode::RiscVC].into_iter())
            .build(),
        Engine::Riscv32imc | Engine::Riscv32imac => Capstone::new()
            .riscv()
            .mode(arch::riscv::ArchMode::RiscV32)
            .extra_mode([arch::riscv::ArchExtraMode::RiscVC].into_iter())
            .build(),
        Engine::Interp => return Err(ListingError::Engine(engine)),
    };
    built.map_err(|e| ListingError::Capstone { engine, why: e.to_string() })
}

/// One line of machine code: offset, bytes (in a column `width` wide), then the text.
fn code_line(out: &mut String, offset: usize, bytes: &[u8], width: usize, text: &str) {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let _ = writeln!(out, "  {offset:6x}: {:<width$}  {text}", hex.join(" "));
}

/// Writes the eBPF comments due before native offset `at`.
struct Annotator<'a> {
    interleave: Option<Interleave<'a>>,
    /// Index of the next pc-map entry to show.
    next: usize,
    /// Pcs shown so far.
    shown: BTreeSet<u32>,
    /// Pcs the map names at all.
    mapped: BTreeSet<u32>,
    /// Offset of the entry, whose code (mapped like the shared tails) is
    /// headed by `<entry>:` alone.
    entry: usize,
}

impl<'a> Annotator<'a> {
    fn new(interleave: Option<Interleave<'a>>, entry: usize) -> Self {
        let mapped = interleave.as_ref().map_or_else(BTreeSet::new, |i| {
            i.pc_map.iter().map(|&(_, pc)| pc).filter(|&pc| pc != SHARED_TAIL).collect()
        });
        Annotator { interleave, next: 0, shown: BTreeSet::new(), mapped, entry }
    }

    fn insn_line(&self, out: &mut String, pc: u32, remark: &str) {
        let text = self
            .interleave
            .as_ref()
            .and_then(|i| i.insns.get(&pc))
            .map_or("(no instruction starts at this pc)", String::as_str);
        let _ = writeln!(out, "; pc {pc}: {text}{remark}");
    }

    /// Shows every map entry at or before `at`.
    fn before(&mut self, out: &mut String, at: usize) {
        let Some(interleave) = &self.interleave else { return };
        let (insns, map) = (interleave.insns, interleave.pc_map);
        while let Some(&(offset, pc)) = map.get(self.next) {
            if offset as usize > at {
                break;
            }
            self.next += 1;
            if pc == SHARED_TAIL {
                if offset as usize != self.entry {
                    out.push_str("; shared exit stubs\n");
                }
                continue;
            }
            if self.shown.contains(&pc) {
                self.insn_line(out, pc, "  (out of line)");
                continue;
            }
            // Instructions that compiled to nothing (a fall-through jump,
            // say) belong with the code after them.
            let last = self.shown.last().copied();
            let skipped: Vec<u32> = insns
                .range(..pc)
                .map(|(&p, _)| p)
                .filter(|p| last.is_none_or(|l| *p > l) && !self.mapped.contains(p))
                .collect();
            for p in skipped {
                self.insn_line(out, p, "  (no code of its own)");
                self.shown.insert(p);
            }
            self.insn_line(out, pc, "");
            self.shown.insert(pc);
        }
    }

    /// Shows the instructions no code came from, so that every pc appears.
    fn finish(&mut self, out: &mut String) {
        let Some(interleave) = &self.interleave else { return };
        let rest: Vec<u32> =
            interleave.insns.keys().copied().filter(|p| !self.shown.contains(p)).collect();
        for pc in rest {
            self.insn_line(out, pc, "  (no code of its own)");
        }
    }
}

/// Disassembles `code` for `engine`, offsets from 0 so that branch targets
/// read as offsets in the listing; marks `entry`; interleaves the eBPF
/// instructions when `interleave` is given. Bytes capstone cannot decode
/// (literal pools, padding) are listed as data.
pub fn native_listing(
    engine: Engine,
    code: &[u8],
    entry: u32,
    interleave: Option<Interleave<'_>>,
) -> Result<String, ListingError> {
    let cs = decoder(engine)?;
    let (directive, unit, width) = data_unit(engine);
    let mut notes = Annotator::new(interleave, entry as usize);
    let mut out = String::new();
    let mut at = 0usize;
    while let Some(rest) = code.get(at..).filter(|r| !r.is_empty()) {
        if at == entry as usize {
            out.push_str("<entry>:\n");
        }
        notes.before(&mut out, at);
        let decoded = cs.disasm_count(rest, at as u64, 1).ok();
        let insn = decoded.as_ref().and_then(|d| d.iter().next());
        match insn {
            Some(i) if !i.bytes().is_empty() => {
                let text = match i.op_str().unwrap_or("") {
                    "" => i.mnemonic().unwrap_or("?").to_string(),
                    ops => format!("{} {ops}", i.mnemonic().unwrap_or("?")),
                };
                code_line(&mut out, at, i.bytes(), width, &text);
                at += i.bytes().len();
            }
            _ => {
                let (directive, bytes) = match rest.get(..unit) {
                    Some(b) => (directive, b),
                    None => (".byte", &rest[..1]),
                };
                let value = bytes.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b));
                let text = format!("{directive} {value:#0w$x}", w = bytes.len() * 2 + 2);
                code_line(&mut out, at, bytes, width, &text);
                at += bytes.len();
            }
        }
    }
    notes.finish(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Thumb: `movs r0, #1` then `bx lr`, then two bytes that are the first
    /// half of a 32-bit encoding cut short.
    const THUMB: [u8; 6] = [0x01, 0x20, 0x70, 0x47, 0x4f, 0xf0];

    fn insns() -> BTreeMap<u32, String> {
        [(0, "mov %r0, 1".to_string()), (1, "ja +0".to_string()), (2, "exit".to_string())]
            .into_iter()
            .collect()
    }

    #[test]
    fn undecodable_bytes_are_data_not_a_panic() {
        let text = native_listing(Engine::Thumbv7m, &THUMB, 0, None).unwrap();
        assert!(text.contains("movs"), "{text}");
        assert!(text.contains("bx lr"), "{text}");
        assert!(text.contains(".short 0xf04f"), "{text}");
        let odd = native_listing(Engine::Thumbv7m, &THUMB[..5], 0, None).unwrap();
        assert!(odd.contains(".byte 0x4f"), "{odd}");
    }

    #[test]
    fn pcs_without_code_are_shown_before_the_next_group() {
        let insns = insns();
        let map = [(0, 0), (2, 2), (4, SHARED_TAIL)];
        let text = native_listing(
            Engine::Thumbv7m,
            &THUMB,
            2,
            Some(Interleave { insns: &insns, pc_map: &map }),
        )
        .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let pos = |needle: &str| lines.iter().position(|l| l.contains(needle));
        let (mov, ja, exit, stubs) =
            (pos("; pc 0:"), pos("; pc 1:"), pos("; pc 2:"), pos("; shared exit stubs"));
        assert!(mov < pos("movs") && pos("movs") < ja, "{text}");
        assert!(ja < exit && exit < pos("bx lr") && pos("bx lr") < stubs, "{text}");
        assert!(lines[ja.unwrap()].contains("no code of its own"), "{text}");
        assert!(pos("<entry>:") < ja && pos("<entry>:") > pos("movs"), "{text}");
    }

    #[test]
    fn an_entry_in_front_is_not_called_a_shared_tail() {
        let insns = insns();
        // The entry (tagged like the shared tails) at 0, pc 0 at 2, the
        // tails at 4.
        let map = [(0, SHARED_TAIL), (2, 0), (4, SHARED_TAIL)];
        let text = native_listing(
            Engine::Thumbv7m,
            &THUMB,
            0,
            Some(Interleave { insns: &insns, pc_map: &map }),
        )
        .unwrap();
        assert_eq!(text.matches("; shared exit stubs").count(), 1, "{text}");
        let lines: Vec<&str> = text.lines().collect();
        let pos = |needle: &str| lines.iter().position(|l| l.contains(needle));
        assert!(pos("<entry>:") < pos("; pc 0:") && pos("; pc 0:") < pos("; shared"), "{text}");
    }

    #[test]
    fn a_pc_seen_again_is_marked_out_of_line() {
        let insns = insns();
        let map = [(0, 0), (2, 2), (4, 0)];
        let text = native_listing(
            Engine::Thumbv7m,
            &THUMB,
            0,
            Some(Interleave { insns: &insns, pc_map: &map }),
        )
        .unwrap();
        let again: Vec<&str> = text.lines().filter(|l| l.starts_with("; pc 0:")).collect();
        assert_eq!(again.len(), 2, "{text}");
        assert!(!again[0].contains("out of line") && again[1].contains("out of line"), "{text}");
    }

    #[test]
    fn every_native_engine_has_a_decoder() {
        for engine in Engine::ALL {
            let made = decoder(engine);
            assert_eq!(made.is_ok(), engine != Engine::Interp, "{engine}");
        }
    }
}
