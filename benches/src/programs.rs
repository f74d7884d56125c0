//! The benchmark programs: the example objects (built for `-mcpu=v3`, the
//! ALU32/JMP32 code clang emits by default), each with its reference.

use femtoc_isa::verifier::{verify, VerifiedProgram};
use femtoc_isa::{load_elf, ElfError, EntrySelector, VerifierConfig, VerifyError};

use crate::{baseline, reference};

/// One program of the benchmark table.
#[derive(Clone, Copy, Debug)]
pub struct BenchProgram {
    /// Group name in criterion and row name in the report.
    pub name: &'static str,
    /// The relocatable BPF object.
    pub object: &'static [u8],
    /// The program's result computed in plain Rust.
    pub reference: fn(&[u8]) -> u64,
    /// The C source's algorithm compiled by rustc (the `rust-O` engine).
    pub baseline: fn(&[u8]) -> u64,
    /// Bits of r0 the C function returns (a `uint32_t` leaves the upper
    /// half unspecified).
    pub result_bits: u32,
}

macro_rules! object {
    ($name:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/obj/", $name, ".v3.o"))
    };
}

/// Every program the host benchmarks run, in report order.
pub const PROGRAMS: &[BenchProgram] = &[
    BenchProgram {
        name: "fletcher32",
        object: object!("fletcher32"),
        reference: |d| u64::from(reference::fletcher32(d)),
        baseline: |d| u64::from(baseline::fletcher32(d)),
        result_bits: 32,
    },
    BenchProgram {
        name: "sort",
        object: object!("sort"),
        reference: reference::sort_checksum,
        baseline: baseline::sort,
        result_bits: 64,
    },
    BenchProgram {
        name: "hash",
        object: object!("hash"),
        reference: |d| u64::from(reference::keyed_hash(d)),
        baseline: |d| u64::from(baseline::hash(d)),
        result_bits: 32,
    },
    BenchProgram {
        name: "crc32",
        object: object!("crc32"),
        reference: |d| u64::from(reference::crc32(d)),
        baseline: |d| u64::from(baseline::crc32(d)),
        result_bits: 32,
    },
];

/// Why a benchmark program could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// The object did not load.
    #[error("benchmark program {name}: {source}")]
    Load {
        /// The program.
        name: &'static str,
        /// The loader's error.
        source: ElfError,
    },
    /// The verifier rejected it.
    #[error("benchmark program {name}: {source}")]
    Verify {
        /// The program.
        name: &'static str,
        /// The verifier's error.
        source: VerifyError,
    },
}

impl BenchProgram {
    /// The program linked and verified (no helpers, the default stack).
    pub fn verified(&self) -> Result<VerifiedProgram, ProgramError> {
        let program = load_elf(self.object, EntrySelector::Default)
            .map_err(|source| ProgramError::Load { name: self.name, source })?;
        verify(&program, &VerifierConfig::new(&[]))
            .map_err(|source| ProgramError::Verify { name: self.name, source })
    }

    /// The bits of r0 that hold the result.
    pub fn result_mask(&self) -> u64 {
        if self.result_bits >= 64 {
            u64::MAX
        } else {
            (1u64 << self.result_bits) - 1
        }
    }

    /// True if `a` and `b` are the same result (in the bits that count).
    pub fn same_result(&self, a: u64, b: u64) -> bool {
        a & self.result_mask() == b & self.result_mask()
    }

    /// True if `r0` is the reference result over `input`.
    pub fn matches_reference(&self, r0: u64, input: &[u8]) -> bool {
        self.same_result(r0, (self.reference)(input))
    }

    /// True if the program's `lddw`s name data regions (`.rodata` & co.),
    /// which engines without femtoc's region table cannot resolve.
    pub fn needs_data_regions(program: &VerifiedProgram) -> bool {
        !program.program.data.is_empty()
    }
}

/// The bytes rbpf's engines run for `program` over an input of
/// `input_len` bytes (the program behind [`with_len_prologue`]), or why
/// they cannot run it.
pub fn rbpf_code(program: &VerifiedProgram, input_len: usize) -> Result<Vec<u8>, String> {
    if BenchProgram::needs_data_regions(program) {
        return Err("the program reads data regions (.rodata), which rbpf cannot map".into());
    }
    let len = i32::try_from(input_len).map_err(|e| e.to_string())?;
    Ok(with_len_prologue(&program.program.code, len))
}

/// The code with `mov64 r2, len` in front: for engines that pass only the
/// context address in r1 at entry. Jumps and local calls are pc-relative,
/// so one extra slot in front moves nothing else.
pub fn with_len_prologue(code: &[u64], len: i32) -> Vec<u8> {
    use femtoc_isa::{AluOp, Insn, Reg, Source, Width};
    let mov = Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: Reg::R2, src: Source::Imm(len) };
    mov.encode().as_slice().iter().chain(code).flat_map(|w| w.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::OWN_INPUT;
    use crate::memory::HostMemory;
    use femtoc_runtime::helpers::NoHelpers;
    use femtoc_runtime::interp;

    #[test]
    fn every_program_loads_and_verifies() {
        for p in PROGRAMS {
            let v = p.verified().unwrap_or_else(|e| panic!("{e}"));
            assert!(!v.program.code.is_empty(), "{}", p.name);
        }
    }

    #[test]
    fn the_interpreter_agrees_with_every_reference() {
        for p in PROGRAMS {
            let v = p.verified().unwrap();
            let mut mem = HostMemory::new(&v.program, OWN_INPUT);
            let args = mem.run_args();
            let regions = mem.regions().unwrap();
            let out = interp::run(&v.as_ref(), &regions, args, &mut NoHelpers).unwrap();
            assert!(p.matches_reference(out.r0, OWN_INPUT), "{}: r0 = {:#x}", p.name, out.r0);
        }
    }

    #[test]
    fn every_baseline_matches_its_reference() {
        for p in PROGRAMS {
            for len in [0, 1, 7, 64, OWN_INPUT.len()] {
                let data = &OWN_INPUT[..len];
                let got = (p.baseline)(data);
                assert!(p.matches_reference(got, data), "{} over {len} bytes: {got:#x}", p.name);
            }
        }
    }

    #[test]
    fn only_crc32_needs_data_regions() {
        for p in PROGRAMS {
            let v = p.verified().unwrap();
            assert_eq!(BenchProgram::needs_data_regions(&v), p.name == "crc32", "{}", p.name);
        }
    }

    #[test]
    fn the_prologue_sets_r2_and_keeps_the_code() {
        let code = [0x0000_0000_0000_0095u64];
        let bytes = with_len_prologue(&code, 360);
        assert_eq!(bytes.len(), 16);
        let first = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        let insn = femtoc_isa::decode_at(&[first], 0).unwrap();
        assert_eq!(
            insn,
            femtoc_isa::Insn::Alu {
                width: femtoc_isa::Width::W64,
                op: femtoc_isa::AluOp::Mov,
                dst: femtoc_isa::Reg::R2,
                src: femtoc_isa::Source::Imm(360),
            }
        );
        assert_eq!(&bytes[8..], &code[0].to_le_bytes());
    }
}
