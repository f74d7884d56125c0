//! The program generator: random programs that are valid by construction
//! (every register initialised on every path, stack accesses inside the
//! frame, jumps inside their function, no recursion), with edge values
//! and memory accesses placed around region edges so that runs fault,
//! exhaust their budget and stop in helpers, not only return.
//!
//! Invariant kept throughout: r0..r9 are initialised at every point (the
//! prologue sets them and every call is followed by setting r1..r5 again),
//! and r10-derived pointers are only used with constant offsets, so every
//! frame stays tracked and local calls remain allowed.

use femtoc_isa::program::{DataKind, DataRegion, Program};
use femtoc_isa::verifier::{VerifiedProgram, VerifyError};
use femtoc_isa::{AluOp, Insn, MemSize, Reg, Source, Width};

mod arith;
mod control;
mod memory;

use super::builder::Builder;
use super::features::{Feature, FeatureSet};
use super::rng::Rng;
use crate::runner::verify_for_harness;
use memory::SIZES;

/// One generated case: a program with its context and budget.
#[derive(Clone, Debug)]
pub struct GeneratedCase {
    /// The run's seed.
    pub seed: u64,
    /// The case's index within the run.
    pub index: u64,
    /// The program.
    pub program: Program,
    /// The harness verifier's verdict on it.
    pub verified: Result<VerifiedProgram, VerifyError>,
    /// The context (`None`: r1 = r2 = 0).
    pub context: Option<Vec<u8>>,
    /// The budget (`None`: unlimited).
    pub budget: Option<u64>,
    /// What the generator put in the program.
    pub features: FeatureSet,
}

/// Generates case `index` of the run seeded with `seed`; the same pair
/// always gives the same case.
pub fn generate(seed: u64, index: u64) -> GeneratedCase {
    let mut rng = Rng::for_case(seed, index);
    let env = Env::random(&mut rng);
    let mut features = FeatureSet::default();
    let program = generate_program(&mut rng, &env, &mut features);
    let verified = verify_for_harness(&program);
    GeneratedCase {
        seed,
        index,
        program,
        verified,
        context: env.context,
        budget: env.budget,
        features,
    }
}

/// Bytes at the top of every frame holding the context pointer and length.
const CTX_PTR_SLOT: i16 = -8;
const CTX_LEN_SLOT: i16 = -16;
/// Frame bytes reserved for those slots.
const RESERVED_TOP: i64 = 16;

const R: [Reg; 10] =
    [Reg::R0, Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5, Reg::R6, Reg::R7, Reg::R8, Reg::R9];
const ARGS: [Reg; 5] = [Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5];
const CALLEE_SAVED: [Reg; 4] = [Reg::R6, Reg::R7, Reg::R8, Reg::R9];

const EDGE64: [u64; 18] = [
    0,
    1,
    2,
    u64::MAX,
    i64::MIN as u64,
    i64::MAX as u64,
    0x8000_0000,
    0x7fff_ffff,
    0xffff_ffff,
    0x1_0000_0000,
    0xffff_ffff_8000_0000,
    31,
    32,
    63,
    64,
    0x80,
    0xff,
    0x8000,
];
const EDGE32: [i32; 14] = [0, 1, -1, 2, -2, i32::MIN, i32::MAX, 31, 32, 63, 64, 0x80, 0xff, 0x8000];
/// What the program runs against, chosen before the program so that
/// accesses can be aimed at the edges of the actual regions.
struct Env {
    context: Option<Vec<u8>>,
    budget: Option<u64>,
    data: Option<DataRegion>,
}

impl Env {
    fn random(rng: &mut Rng) -> Env {
        let context = (!rng.chance(6)).then(|| {
            // Mostly long enough for every access size.
            let len = if rng.chance(80) { rng.range(8, 64) } else { rng.range(0, 7) } as usize;
            (0..len).map(|_| rng.next_u64() as u8).collect()
        });
        let budget = rng.chance(50).then(|| rng.below(24));
        let data = rng.chance(40).then(|| {
            let size = rng.range(8, 64) as u32;
            let (kind, name) = rng.pick(
                &[
                    (DataKind::ReadWrite, "data"),
                    (DataKind::ReadOnly, "rodata"),
                    (DataKind::Zeroed, "bss"),
                ],
                (DataKind::ReadWrite, "data"),
            );
            let image = if kind == DataKind::Zeroed {
                vec![]
            } else {
                (0..size).map(|_| rng.next_u64() as u8).collect()
            };
            DataRegion { name: name.into(), kind, image, size }
        });
        Env { context, budget, data }
    }

    fn ctx_len(&self) -> i64 {
        self.context.as_ref().map_or(0, |c| c.len() as i64)
    }
}

fn generate_program(rng: &mut Rng, env: &Env, features: &mut FeatureSet) -> Program {
    let callees = rng.pick(&[0usize, 1, 1, 2, 2], 0);
    let mut functions = Vec::new();
    for f in 0..=callees {
        let is_entry = f == 0;
        let mut g = FnGen {
            rng: &mut *rng,
            env,
            features: &mut *features,
            b: Builder::default(),
            frame: if is_entry { 256 } else { 96 },
            reserved: 0,
            callees: (f + 1..=callees).collect(),
            is_entry,
            calls: Vec::new(),
            items_left: if is_entry { 48 } else { 14 },
            loop_depth: 0,
            loop_weight: 1,
        };
        g.function();
        let FnGen { b, calls, .. } = g;
        functions.push((b, calls));
    }
    let mut starts = Vec::new();
    let mut at = 0;
    for (b, _) in &functions {
        starts.push(at);
        at += b.code.len();
    }
    let mut code = Vec::with_capacity(at);
    for ((b, calls), &base) in functions.iter_mut().zip(&starts) {
        for &(pc, callee) in calls.iter() {
            let target = starts.get(callee).copied().unwrap_or(0);
            b.patch_imm(pc, base, target);
        }
        code.extend_from_slice(&b.code);
    }
    Program { code, data: env.data.iter().cloned().collect(), symbols: vec![] }
}

struct FnGen<'a> {
    rng: &'a mut Rng,
    env: &'a Env,
    features: &'a mut FeatureSet,
    b: Builder,
    /// Bytes below r10 this function may touch.
    frame: i64,
    /// Loop counters: registers nothing else may write.
    reserved: u16,
    /// Global indices of the functions this one may call.
    callees: Vec<usize>,
    is_entry: bool,
    /// Local calls to patch: (local pc, callee index).
    calls: Vec<(usize, usize)>,
    items_left: u32,
    loop_depth: u32,
    /// Product of the iteration counts of the enclosing loops.
    loop_weight: i64,
}

impl FnGen<'_> {
    fn emit(&mut self, insn: Insn) -> usize {
        self.b.emit(insn)
    }

    fn feature(&mut self, f: Feature) {
        self.features.insert(f);
    }

    /// A register a snippet may overwrite (never r10 or a loop counter).
    fn dst(&mut self) -> Reg {
        let free: Vec<Reg> = R.into_iter().filter(|r| self.reserved & r.bit() == 0).collect();
        self.rng.pick(&free, Reg::R0)
    }

    /// Two distinct writable registers.
    fn two_dsts(&mut self) -> (Reg, Reg) {
        let a = self.dst();
        let free: Vec<Reg> =
            R.into_iter().filter(|r| *r != a && self.reserved & r.bit() == 0).collect();
        (a, self.rng.pick(&free, if a == Reg::R1 { Reg::R2 } else { Reg::R1 }))
    }

    /// Any initialised register but r10.
    fn any(&mut self) -> Reg {
        self.rng.pick(&R, Reg::R0)
    }

    fn imm(&mut self) -> i32 {
        if self.rng.chance(50) {
            self.rng.pick(&EDGE32, 0)
        } else if self.rng.chance(50) {
            self.rng.range(-300, 300) as i32
        } else {
            self.rng.next_u64() as i32
        }
    }

    fn value64(&mut self) -> u64 {
        if self.rng.chance(50) {
            self.rng.pick(&EDGE64, 0)
        } else {
            self.rng.next_u64()
        }
    }

    fn width(&mut self) -> Width {
        if self.rng.chance(50) {
            Width::W64
        } else {
            Width::W32
        }
    }

    fn set(&mut self, dst: Reg) {
        match self.rng.below(4) {
            0 => {
                let imm = self.value64();
                self.feature(Feature::Lddw);
                self.emit(Insn::LoadImm64 { dst, imm })
            }
            1 => {
                let src = self.rng.pick(&[Reg::R0, Reg::R6, Reg::R7, Reg::R8, Reg::R9], Reg::R0);
                self.emit(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst,
                    src: Source::Reg(src),
                })
            }
            _ => {
                let (width, imm) = (self.width(), self.imm());
                self.emit(Insn::Alu { width, op: AluOp::Mov, dst, src: Source::Imm(imm) })
            }
        };
    }

    fn load_slot(&mut self, dst: Reg, slot: i16) {
        self.emit(Insn::Load { size: MemSize::DW, dst, src: Reg::R10, off: slot });
    }

    fn function(&mut self) {
        if self.is_entry && self.rng.chance(6) {
            // A constant-offset access through r1 before any branch: the
            // program's minimum context length, checked before the run.
            let size = self.rng.pick(&SIZES, MemSize::B);
            let off = self.rng.range(0, 12) as i16;
            self.feature(Feature::CtxPrefix);
            self.emit(Insn::Load { size, dst: Reg::R3, src: Reg::R1, off });
        }
        self.emit(Insn::Store {
            size: MemSize::DW,
            dst: Reg::R10,
            off: CTX_PTR_SLOT,
            src: Source::Reg(Reg::R1),
        });
        self.emit(Insn::Store {
            size: MemSize::DW,
            dst: Reg::R10,
            off: CTX_LEN_SLOT,
            src: Source::Reg(Reg::R2),
        });
        if self.is_entry && self.rng.chance(15) {
            // Before anything writes r3..r5: the helper sees their zeros.
            self.feature(Feature::HelperUnwrittenArgs);
            self.pass_on_to_mix();
            // The call clobbered r1 and r2, which the program reads later.
            self.load_slot(Reg::R1, CTX_PTR_SLOT);
            self.load_slot(Reg::R2, CTX_LEN_SLOT);
        }
        let init: &[Reg] = if self.is_entry {
            &[Reg::R0, Reg::R3, Reg::R4, Reg::R5, Reg::R6, Reg::R7, Reg::R8, Reg::R9]
        } else {
            &[Reg::R0, Reg::R6, Reg::R7, Reg::R8, Reg::R9]
        };
        for &r in init {
            if self.rng.chance(50) {
                let imm = self.value64();
                self.emit(Insn::LoadImm64 { dst: r, imm });
            } else {
                let imm = self.imm();
                self.emit(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: r,
                    src: Source::Imm(imm),
                });
            }
        }
        let n = self.items_left;
        self.block(n, 0);
        // Fold every register into r0 so that a wrong value anywhere
        // (including a callee-saved register not restored) shows in r0.
        for r in R.into_iter().skip(1) {
            self.emit(Insn::Alu {
                width: Width::W64,
                op: AluOp::Xor,
                dst: Reg::R0,
                src: Source::Reg(r),
            });
            self.emit(Insn::Alu {
                width: Width::W64,
                op: AluOp::Mul,
                dst: Reg::R0,
                src: Source::Imm(0x0100_01b3),
            });
        }
        self.emit(Insn::Exit);
    }

    /// Up to `n` snippets at nesting depth `depth`.
    fn block(&mut self, n: u32, depth: u32) {
        for _ in 0..n {
            if self.items_left == 0 {
                return;
            }
            self.items_left -= 1;
            self.snippet(depth);
        }
    }

    fn snippet(&mut self, depth: u32) {
        let nested = depth < 3;
        match self.rng.below(100) {
            0..=23 => self.alu(),
            24..=27 => self.div_edge(),
            28..=31 => self.unary(),
            32..=35 => {
                let d = self.dst();
                self.set(d)
            }
            36..=45 => self.stack_access(),
            46..=57 => self.ctx_access(),
            58..=61 => self.data_access(),
            62..=69 => self.helper_call(),
            70..=74 if !self.callees.is_empty() => self.local_call(),
            75..=84 if nested => self.forward_if(depth),
            85..=92 if nested => self.loop_(depth),
            93 => self.early_exit(),
            _ => self.alu(),
        }
    }
}
