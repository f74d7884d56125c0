//! eBPF to CLIF: one Cranelift function for the whole program.
//!
//! - eBPF registers are `Variable`s; every jump target, function start and
//!   instruction after a jump, call or exit starts a block.
//! - Local calls stay inside the one function, so the code has no call
//!   relocations: the verifier rejects recursion, so a function is never
//!   active twice and each callee gets its own variables for the caller's
//!   r6..r9, r10 and the return site. Its `exit` restores them and switches
//!   on the return site.
//! - Memory checks: each access is checked inline against the region its
//!   base most likely points into ([`crate::analysis::regions`]): the region's negated start and
//!   `len - size + 1` (0 if the access can never fit or lacks permission)
//!   are computed once at entry, since the table does not change during a
//!   run, so the check is one addition (an x86-64 `lea`), one compare and
//!   one branch. The stack's limit serves loads and stores alike. A
//!   miss goes to a cold search of the whole table, and a failure to the
//!   shared fault block with the pc, address, size and direction as block
//!   arguments. Loads proven in bounds (r10-relative inside the frame,
//!   context bytes below `min_ctx_len`) are not checked, nor are the
//!   accesses [`crate::analysis::proven`] proves; an atomic skips its
//!   alignment test too where its offset from r10 or a data region's base
//!   (both multiples of 8) is known and aligned.
//! - Loops of the shapes [`crate::analysis::loops`] accepts check the
//!   whole span their accesses through the induction variable can touch
//!   once, at the header, and then run a copy of the body without those
//!   checks; if the span check fails, the ordinary checked copy runs (see
//!   the `hoist` module).
//! - The budget counter lives in a variable or a machine-stack slot
//!   ([`Budget`]), stored back to the context before every return and
//!   helper call.
//! - Every instruction's code carries its pc as the source location, which
//!   becomes the `pc_map`; the error paths are cold blocks placed last.
//! - Division and modulo branch around zero and `-1` divisors, so the
//!   trapping machine instructions never see those values.

use std::collections::{BTreeMap, BTreeSet};

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, AbiParam, AtomicRmwOp, Block, BlockArg, Endianness, Function, InstBuilder, MemFlagsData,
    SigRef, Signature, SourceLoc, StackSlot, StackSlotData, StackSlotKind, Type, UserFuncName,
    Value,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Switch, Variable};
use femtoc_isa::decode::decode_all;
use femtoc_isa::insn::{AluOp, AtomicOp, ByteOrder, Insn, JmpCond, MemSize, Reg, Source, Width};
use femtoc_isa::verifier::VerifiedProgram;
use femtoc_isa::FunctionInfo;
use femtoc_runtime::abi::{
    routine_offset, status, OFF_BUDGET_LEFT, OFF_DATA_BASES, OFF_EXIT_PC, OFF_FAULT_ADDR,
    OFF_FAULT_SIZE, OFF_FAULT_WRITE, OFF_HELPER_ARGS, OFF_HELPER_ID, OFF_R0, OFF_R1, OFF_R2,
    OFF_REGIONS, OFF_REGION_COUNT, OFF_ROUTINES, OFF_STACK_TOP, REGION_READ, REGION_WRITE,
};
use femtoc_runtime::engine::Engine;

use super::CompileError;
use crate::analysis::byte_pairs::{byte_pairs, BytePair};
use crate::analysis::groups::{self as group, Member};
use crate::analysis::loops::{self, AccessSet, HoistLoop, Shape};
use crate::analysis::regions::{self as predict, Region};

mod hoist;

const I64: Type = types::I64;
const I32: Type = types::I32;

/// Status returned when control leaves the program's slots, which verified
/// code never does; `NativeFrame::finish` reports it as an invalid program.
const STATUS_FELL_OFF: u32 = 0xff;

/// Size of one `NativeRegion` entry.
const REGION_ENTRY: i64 = 24;

fn flags() -> MemFlagsData {
    // Program memory: checked before every access, may be misaligned.
    MemFlagsData::new().with_notrap().with_endianness(Endianness::Little)
}

fn ctx_flags() -> MemFlagsData {
    // The context and its tables are the runtime's, aligned and valid.
    MemFlagsData::trusted()
}

fn const_flags() -> MemFlagsData {
    // The data-region bases stay the same for the whole run: Cranelift may
    // merge these loads and hoist them out of loops. (Not the region table:
    // merging the slow paths' loads would keep it live everywhere.)
    MemFlagsData::trusted().with_readonly().with_can_move()
}

/// Per local-call target: where the caller's state is kept while it runs.
struct CalleeSave {
    regs: [Variable; 5],
    ret: Variable,
    /// Call sites returning here, by id, with their continuation blocks.
    sites: Vec<(u32, Block)>,
}

/// The context pointer, and the context fields the code reads where it
/// needs them: keeping them live across the whole function would take
/// registers from the eBPF registers in every loop.
struct Env {
    ctx: Value,
}

impl Env {
    fn field(&self, b: &mut FunctionBuilder, ty: Type, off: u32) -> Value {
        b.ins().load(ty, ctx_flags(), self.ctx, off as i32)
    }

    fn regions(&self, b: &mut FunctionBuilder) -> Value {
        self.field(b, I64, OFF_REGIONS)
    }

    fn region_count(&self, b: &mut FunctionBuilder) -> Value {
        self.field(b, I32, OFF_REGION_COUNT)
    }

    fn data_bases(&self, b: &mut FunctionBuilder) -> Value {
        b.ins().load(I64, const_flags(), self.ctx, OFF_DATA_BASES as i32)
    }

    fn routines(&self, b: &mut FunctionBuilder) -> Value {
        self.field(b, I64, OFF_ROUTINES)
    }
}

/// The inline check against one likely region, computed at entry. They
/// are variables (with a copy in the spill area) so that a check's slow
/// path can reload them rather than keep them live through it.
/// Checks of one region share its `neg_start` variable: each distinct
/// variable would hold the same value in a register of its own through
/// every loop.
#[derive(Clone, Copy)]
struct Fast {
    /// `0 - start`: the offset into the region is then a sum, which x86-64
    /// computes in one `lea` into a scratch register (a difference needs a
    /// copy of the address first, as `sub` overwrites its operand).
    neg_start: Variable,
    /// Offset of `neg_start` in the spill area.
    start_slot: i32,
    /// `len - size + 1` if `size` bytes fit and the access is allowed, else 0.
    limit: Variable,
    /// Offset of `limit` in the spill area.
    limit_slot: i32,
}

/// Where the budget counter lives.
#[derive(Clone, Copy)]
enum Budget {
    /// In a variable, which the allocator keeps in a register through
    /// every loop (or spills, where registers run short).
    Var(Variable),
    /// In a machine-stack slot: x86-64 counts it there with one
    /// memory-operand `add` (and reloads it to compare), one instruction
    /// more per event than in a register, and leaves that register to
    /// the program.
    Slot(StackSlot),
}

/// Spill-area offsets: the budget, then the fast-check bounds.
const SPILL_BUDGET: i32 = 0;
const SPILL_FAST: i32 = SPILL_BUDGET + 8;

/// The eBPF program translated into `func`; returns the header pcs of the
/// loops whose accesses are checked once before the loop, and of those
/// among them whose header checks only the budget.
pub(crate) fn lower(
    program: &VerifiedProgram,
    call_conv: CallConv,
    frontend: TargetFrontendConfig,
    budget_in_memory: bool,
    engine: Engine,
    func: &mut Function,
) -> Result<(Vec<u32>, Vec<u32>), CompileError> {
    let code = &program.program.code;
    let mut insns = Vec::new();
    for d in decode_all(code) {
        let d = d.map_err(|(pc, e)| CompileError::Decode { pc, reason: e.to_string() })?;
        insns.push((d.pc, d.insn));
    }

    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(I64));
    sig.returns.push(AbiParam::new(I32));
    func.signature = sig.clone();
    func.name = UserFuncName::testcase("femtoc_entry");
    // Source locations are eBPF pcs, relative to 0.
    func.params.ensure_base_srcloc(SourceLoc::new(0));

    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);

    // Signatures of the routines called through the table.
    let helper_sig = b.import_signature(sig.clone());

    let mut leaders = BTreeSet::new();
    leaders.insert(0usize);
    for f in &program.functions {
        leaders.insert(f.start as usize);
    }
    for &(pc, insn) in &insns {
        let next = pc + insn.slots();
        match insn {
            Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Jmp { .. } | Insn::CallLocal { .. } => {
                let t = target(&insn, pc)?;
                leaders.insert(t);
                leaders.insert(next);
            }
            Insn::Exit => {
                leaders.insert(next);
            }
            _ => {}
        }
    }
    let blocks: BTreeMap<usize, Block> =
        leaders.iter().filter(|&&pc| pc <= code.len()).map(|&pc| (pc, b.create_block())).collect();

    let regs: Vec<Variable> = (0..Reg::COUNT).map(|_| b.declare_var(I64)).collect();
    let budget = if budget_in_memory {
        let data = StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3);
        Budget::Slot(b.create_sized_stack_slot(data))
    } else {
        Budget::Var(b.declare_var(I64))
    };

    // Local calls: one save area per callee function.
    let mut saves: BTreeMap<u32, CalleeSave> = BTreeMap::new();
    let mut site_id = 0u32;
    for &(pc, insn) in &insns {
        if let Insn::CallLocal { .. } = insn {
            let t = target(&insn, pc)? as u32;
            let save = saves.entry(t).or_insert_with(|| CalleeSave {
                regs: [(); 5].map(|_| b.declare_var(I64)),
                ret: b.declare_var(I32),
                sites: Vec::new(),
            });
            let cont = *blocks.get(&(pc + 1)).ok_or(CompileError::Internal("call continuation"))?;
            save.sites.push((site_id, cont));
            site_id += 1;
        }
    }

    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    let fault = b.create_block();
    for ty in [I32, I64, I32, I32] {
        b.append_block_param(fault, ty);
    }
    let budget_out = b.create_block();
    b.append_block_param(budget_out, I32);
    b.set_cold_block(fault);
    b.set_cold_block(budget_out);

    // Entry: registers and context values.
    b.switch_to_block(entry);
    let ctx = b.block_params(entry)[0];
    let load_ctx = |b: &mut FunctionBuilder, ty: Type, off: u32| {
        b.ins().load(ty, ctx_flags(), ctx, off as i32)
    };
    let env = Env { ctx };
    let zero = b.ins().iconst(I64, 0);
    for r in &regs {
        b.def_var(*r, zero);
    }
    for s in saves.values() {
        for r in s.regs {
            b.def_var(r, zero);
        }
        let z = b.ins().iconst(I32, 0);
        b.def_var(s.ret, z);
    }
    let v = load_ctx(&mut b, I64, OFF_R1);
    b.def_var(regs[1], v);
    let v = load_ctx(&mut b, I64, OFF_R2);
    b.def_var(regs[2], v);
    let v = load_ctx(&mut b, I64, OFF_STACK_TOP);
    b.def_var(regs[10], v);
    let v = load_ctx(&mut b, I64, OFF_BUDGET_LEFT);
    match budget {
        Budget::Var(var) => b.def_var(var, v),
        Budget::Slot(slot) => {
            b.ins().stack_store(I64, v, slot, 0);
        }
    }
    let starts: Vec<usize> = program.functions.iter().map(|f| f.start as usize).collect();
    let likely = predict::regions(&insns, &starts);
    // Context loads the minimum length covers, and data-region and frame
    // accesses proven in bounds.
    let mut unchecked: BTreeSet<usize> =
        predict::unchecked_ctx_loads(&insns, program.min_ctx_len).into_iter().collect();
    let ranges =
        crate::analysis::ranges::register_ranges(program, &crate::analysis::RangeConfig::host64());
    unchecked.extend(crate::analysis::proven::proven_accesses_with(program, &ranges));
    // Atomics proven in bounds join them; those whose address is proven
    // aligned (an exact offset from r10 or a data region's base, both
    // multiples of 8) also skip the alignment test.
    let proven_atomics = crate::analysis::proven::proven_atomics_with(program, &ranges);
    let aligned_atomics: BTreeSet<usize> =
        proven_atomics.iter().filter(|&(_, &a)| a).map(|(&pc, _)| pc).collect();
    unchecked.extend(proven_atomics.into_keys());
    let groups = group::load_groups(
        &insns,
        &leaders,
        |pc, insn| needs_check(&program.functions, &unchecked, pc, insn),
        |_| true,
        u32::MAX,
    );
    let covered = group::covered(&groups);
    // RV64 cores may take a trap to emulate a misaligned halfword load,
    // and byte-wise reads exist for addresses that may be odd: there the
    // bytes stay bytes.
    let pairs = match engine {
        Engine::Riscv64gc => BTreeMap::new(),
        _ => byte_pairs(program, &insns),
    };
    let mut used = checked_accesses(&insns, &likely, &unchecked, &program.functions, &groups);
    let mut hoisted = BTreeMap::new();
    for lp in loops::hoistable_loops(&insns, &starts, |pc, insn| {
        needs_check(&program.functions, &unchecked, pc, insn)
    }) {
        // Each span is checked against the region its first access most
        // likely hits, with the one-byte limit: the region's length if it
        // allows the accesses, else 0.
        let region_of = |first: Option<&loops::Access>| {
            let first = first.map_or(lp.head, |a| a.pc);
            likely.get(&first).copied().unwrap_or(Region::Ctx)
        };
        let spans: Vec<(Region, bool, bool)> = match &lp.shape {
            Shape::Single => vec![(region_of(lp.accesses.first()), lp.reads(), lp.writes())],
            Shape::Spans(s) => s
                .spans
                .iter()
                .map(|span| (region_of(span.accesses.first()), span.reads(), span.writes()))
                .collect(),
        };
        for &(region, reads, writes) in &spans {
            for write in [false, true].into_iter().filter(|&w| if w { writes } else { reads }) {
                used.insert(fast_key(region, 1, write));
            }
        }
        let regions = spans.into_iter().map(|(r, _, _)| r).collect();
        hoisted.insert(lp.head, (lp, regions));
    }
    let frame_loops = crate::analysis::frame_span::frame_loops(
        program,
        &insns,
        &ranges,
        hoisted.values().map(|(lp, _)| lp),
    )
    .into_iter()
    .collect();
    let spill_bytes = SPILL_FAST as u32 + 16 * used.len() as u32;
    let spill =
        b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, spill_bytes, 3));
    let fast = fast_checks(&mut b, &env, &used, spill);
    let first = *blocks.get(&0).ok_or(CompileError::Internal("entry block"))?;
    b.ins().jump(first, &[]);

    let mut lw = Lower {
        b,
        env,
        regs,
        budget,
        fast,
        likely,
        unchecked,
        spill,
        groups,
        covered,
        pairs,
        lowered_pair: None,
        fault,
        budget_out,
        blocks,
        helper_sig,
        functions: &program.functions,
        saves,
        site_of_call: 0,
        loops: hoisted,
        frame_loops,
        unchecked_loop: None,
        counted_budget: None,
        aligned_atomics,
    };
    lw.body(&insns, code.len())?;
    lw.fault_block();
    lw.budget_block();
    lw.b.seal_all_blocks();
    lw.b.finalize(frontend);
    Ok((
        lw.loops.keys().map(|&h| h as u32).collect(),
        lw.frame_loops.iter().map(|&h| h as u32).collect(),
    ))
}

/// The size, direction and predicted region of every access that gets an
/// inline check.
fn checked_accesses(
    insns: &[(usize, Insn)],
    likely: &BTreeMap<usize, Region>,
    unchecked: &BTreeSet<usize>,
    functions: &[FunctionInfo],
    groups: &BTreeMap<usize, Vec<Member>>,
) -> BTreeSet<(Region, u32, bool)> {
    let covered = group::covered(groups);
    let mut out = BTreeSet::new();
    for &(pc, insn) in insns {
        let (base, off, size, write) = match insn {
            Insn::Load { size, src, off, .. } | Insn::LoadSx { size, src, off, .. } => {
                (src, off, size.bytes(), false)
            }
            Insn::Store { size, dst, off, .. } => (dst, off, size.bytes(), true),
            Insn::Atomic { size, dst, off, .. } => (dst, off, size.bytes(), true),
            _ => continue,
        };
        let in_frame = base == Reg::R10 && in_frame(functions, pc, off, size);
        if in_frame || unchecked.contains(&pc) || covered.contains(&pc) {
            continue;
        }
        let r = likely.get(&pc).copied().unwrap_or(Region::Ctx);
        let size = groups.get(&pc).map_or(size, |m| group::span(m).1);
        out.insert(fast_key(r, size, write));
    }
    out
}

/// The inline check an access of `size` bytes into `region` uses. Loads
/// and stores of one size share the stack's: the runtime's stack is
/// always read-write (`Regions` makes entry 0 so), so one limit serves
/// both, and a loop that reads and writes the stack keeps one register
/// fewer. The limit is computed for both permissions, so a stack that was
/// somehow not writable would only send every access to the slow path.
fn fast_key(region: Region, size: u32, write: bool) -> (Region, u32, bool) {
    match region {
        Region::Stack => (Region::Stack, size, true),
        _ => (region, size, write),
    }
}

/// The permission bits a fast check keyed by `fast_key` demands.
fn fast_need(region: Region, write: bool) -> u32 {
    match (region, write) {
        (Region::Stack, _) => REGION_READ | REGION_WRITE,
        (_, true) => REGION_WRITE,
        (_, false) => REGION_READ,
    }
}

/// True if the access `insn` at `pc` needs a runtime check at all.
fn needs_check(
    functions: &[FunctionInfo],
    unchecked: &BTreeSet<usize>,
    pc: usize,
    insn: &Insn,
) -> bool {
    let (base, off, size) = match *insn {
        Insn::Load { size, src, off, .. } | Insn::LoadSx { size, src, off, .. } => {
            (src, off, size.bytes())
        }
        Insn::Store { size, dst, off, .. } => (dst, off, size.bytes()),
        Insn::Atomic { .. } => return true,
        _ => return false,
    };
    !((base == Reg::R10 && in_frame(functions, pc, off, size)) || unchecked.contains(&pc))
}

/// Start, length and flags of table entry `k`, or zeros if the table has
/// no such entry (the table is only as long as `region_count` says).
fn table_entry(b: &mut FunctionBuilder, env: &Env, k: u32) -> [Value; 3] {
    let load = b.create_block();
    let done = b.create_block();
    for ty in [I64, I64, I32] {
        b.append_block_param(done, ty);
    }
    let count = env.region_count(b);
    let has = b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, count, i64::from(k));
    let z64 = b.ins().iconst(I64, 0);
    let z32 = b.ins().iconst(I32, 0);
    b.ins().brif(has, load, &[], done, &[arg(z64), arg(z64), arg(z32)]);
    b.switch_to_block(load);
    let at = (i64::from(k) * REGION_ENTRY) as i32;
    let table = env.regions(b);
    let s = b.ins().load(I64, ctx_flags(), table, at);
    let l = b.ins().load(I64, ctx_flags(), table, at + 8);
    let f = b.ins().load(I32, ctx_flags(), table, at + 16);
    b.ins().jump(done, &[arg(s), arg(l), arg(f)]);
    b.switch_to_block(done);
    let p = b.block_params(done);
    [p[0], p[1], p[2]]
}

/// The table entry holding data region `i`'s base address, or zeros.
fn data_entry(b: &mut FunctionBuilder, env: &Env, i: u32) -> [Value; 3] {
    let bases = env.data_bases(b);
    let base = b.ins().load(I64, const_flags(), bases, (i as i32).wrapping_mul(8));
    let table = env.regions(b);
    let count = env.region_count(b);
    let search = b.create_block();
    b.append_block_param(search, I32);
    let body = b.create_block();
    let done = b.create_block();
    for ty in [I64, I64, I32] {
        b.append_block_param(done, ty);
    }
    let z = b.ins().iconst(I32, 0);
    b.ins().jump(search, &[arg(z)]);
    b.switch_to_block(search);
    let k = b.block_params(search)[0];
    let end = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, k, count);
    let z64 = b.ins().iconst(I64, 0);
    let z32 = b.ins().iconst(I32, 0);
    b.ins().brif(end, done, &[arg(z64), arg(z64), arg(z32)], body, &[]);
    b.switch_to_block(body);
    let k64 = b.ins().uextend(I64, k);
    let offs = b.ins().imul_imm_u(k64, REGION_ENTRY);
    let ent = b.ins().iadd(table, offs);
    let s = b.ins().load(I64, ctx_flags(), ent, 0);
    let l = b.ins().load(I64, ctx_flags(), ent, 8);
    let f = b.ins().load(I32, ctx_flags(), ent, 16);
    let off = b.ins().isub(base, s);
    let inside = b.ins().icmp(IntCC::UnsignedLessThan, off, l);
    let next = b.ins().iadd_imm_s(k, 1);
    b.ins().brif(inside, done, &[arg(s), arg(l), arg(f)], search, &[arg(next)]);
    b.switch_to_block(done);
    let p = b.block_params(done);
    [p[0], p[1], p[2]]
}

/// Loads, at entry, the bounds of every region an inline check predicts
/// and the limit of every (region, size, direction) the program checks.
fn fast_checks(
    b: &mut FunctionBuilder,
    env: &Env,
    used: &BTreeSet<(Region, u32, bool)>,
    spill: StackSlot,
) -> BTreeMap<(Region, u32, bool), Fast> {
    let mut at = SPILL_FAST;
    let mut entries: BTreeMap<Region, ([Value; 3], Variable, i32)> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for &(region, size, write) in used {
        let ([_, len, fl], start, start_slot) = match entries.get(&region) {
            Some(e) => *e,
            None => {
                let e = match region {
                    Region::Stack => table_entry(b, env, 0),
                    Region::Ctx => table_entry(b, env, 1),
                    Region::Data(i) => data_entry(b, env, i),
                };
                let var = b.declare_var(I64);
                let neg = b.ins().ineg(e[0]);
                b.def_var(var, neg);
                b.ins().stack_store(I64, neg, spill, at);
                let entry = (e, var, at);
                at += 8;
                entries.insert(region, entry);
                entry
            }
        };
        let need = i64::from(fast_need(region, write));
        let perm = b.ins().band_imm_u(fl, need);
        let perm = b.ins().icmp_imm_u(IntCC::Equal, perm, need);
        let room = b.ins().icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, len, i64::from(size));
        let ok = b.ins().band(perm, room);
        let lim = b.ins().iadd_imm_s(len, 1 - i64::from(size));
        let zero = b.ins().iconst(I64, 0);
        let limit = b.ins().select(ok, lim, zero);
        let f = Fast { neg_start: start, start_slot, limit: b.declare_var(I64), limit_slot: at };
        b.def_var(f.limit, limit);
        b.ins().stack_store(I64, limit, spill, at);
        at += 8;
        out.insert((region, size, write), f);
    }
    out
}

/// True if `size` bytes at r10 + `off` lie in the tracked frame of the
/// function containing `pc`, which the verifier proved in bounds.
fn in_frame(functions: &[FunctionInfo], pc: usize, off: i16, size: u32) -> bool {
    let f = functions.iter().rev().find(|f| f.start as usize <= pc);
    match f {
        Some(f) if f.frame_tracked && (pc as u32) < f.end => {
            let off = i64::from(off);
            off < 0 && -off <= i64::from(f.frame_size) && off + i64::from(size) <= 0
        }
        _ => false,
    }
}

fn target(insn: &Insn, pc: usize) -> Result<usize, CompileError> {
    insn.branch_target(pc)
        .and_then(|t| usize::try_from(t).ok())
        .ok_or(CompileError::BadTarget { pc })
}

struct Lower<'f, 'p> {
    b: FunctionBuilder<'f>,
    env: Env,
    regs: Vec<Variable>,
    budget: Budget,
    /// Inline-check values by (region, size, write).
    fast: BTreeMap<(Region, u32, bool), Fast>,
    likely: BTreeMap<usize, Region>,
    /// Accesses that need no bounds check: context loads, and loads,
    /// stores and atomics proven in bounds.
    unchecked: BTreeSet<usize>,
    /// Atomics whose address is proven aligned.
    aligned_atomics: BTreeSet<usize>,
    /// Machine-stack area the slow paths of checks spill to.
    spill: StackSlot,
    /// Loads checked together, by the first one's pc.
    groups: BTreeMap<usize, Vec<Member>>,
    /// Loads an earlier load of their group checks.
    covered: BTreeSet<usize>,
    /// Runs of byte loads that assemble a halfword or word, by their
    /// first pc.
    pairs: BTreeMap<usize, BytePair>,
    /// The run lowered last: its later instructions were lowered with it.
    lowered_pair: Option<BytePair>,
    fault: Block,
    budget_out: Block,
    blocks: BTreeMap<usize, Block>,
    helper_sig: SigRef,
    functions: &'p [FunctionInfo],
    saves: BTreeMap<u32, CalleeSave>,
    /// Call sites seen so far (their ids follow program order).
    site_of_call: u32,
    /// Loops checked once before they run, by header pc, with the region
    /// each of their spans is checked against (one for the single-span
    /// shape).
    loops: BTreeMap<usize, (HoistLoop, Vec<Region>)>,
    /// Headers of those loops whose span is proven in the frame at every
    /// entry: they check only the budget (see `frame_span`).
    frame_loops: BTreeSet<usize>,
    /// The header of the loop whose unchecked copy is being emitted.
    unchecked_loop: Option<usize>,
    /// Set while an unchecked copy that leaves the budget to its exits is
    /// emitted (see the `hoist` module).
    counted_budget: Option<hoist::CountedBudget>,
}

fn arg(v: Value) -> BlockArg {
    BlockArg::Value(v)
}

impl Lower<'_, '_> {
    fn block_at(&self, pc: usize) -> Result<Block, CompileError> {
        self.blocks.get(&pc).copied().ok_or(CompileError::BadTarget { pc })
    }

    fn get(&mut self, r: Reg) -> Value {
        self.b.use_var(self.regs[r.index()])
    }

    fn set(&mut self, r: Reg, v: Value) {
        self.b.def_var(self.regs[r.index()], v);
    }

    fn get32(&mut self, r: Reg) -> Value {
        let v = self.get(r);
        self.b.ins().ireduce(I32, v)
    }

    fn operand(&mut self, src: Source, width: Width) -> Value {
        match (src, width) {
            (Source::Reg(r), Width::W64) => self.get(r),
            (Source::Reg(r), Width::W32) => self.get32(r),
            (Source::Imm(k), Width::W64) => self.b.ins().iconst(I64, i64::from(k)),
            (Source::Imm(k), Width::W32) => self.b.ins().iconst(I32, i64::from(k as u32)),
        }
    }

    fn body(&mut self, insns: &[(usize, Insn)], len: usize) -> Result<(), CompileError> {
        let mut open = false;
        let mut skip_to = 0;
        for &(pc, insn) in insns {
            if pc < skip_to || self.inside_lowered_pair(pc) {
                continue;
            }
            if let Some(&blk) = self.blocks.get(&pc) {
                if open {
                    self.b.ins().jump(blk, &[]);
                }
                self.b.switch_to_block(blk);
                open = true;
            }
            if !open {
                continue;
            }
            if let Some((lp, regions)) = self.loops.get(&pc).cloned() {
                let body: Vec<(usize, Insn)> =
                    insns.iter().copied().filter(|&(p, _)| p >= lp.head && p <= lp.back).collect();
                self.hoisted_loop(&lp, &regions, &body)?;
                // The back edge ended the last block.
                skip_to = lp.back + 1;
                open = false;
                continue;
            }
            self.b.set_srcloc(SourceLoc::new(pc as u32));
            open = self.insn(pc, insn)?;
        }
        // Blocks that start at the end of the program (after a final exit
        // or jump) and any open fall-through: verified code never gets here.
        if let Some(&blk) = self.blocks.get(&len) {
            if open {
                self.b.ins().jump(blk, &[]);
            }
            self.b.switch_to_block(blk);
            open = true;
        }
        self.b.set_srcloc(SourceLoc::default());
        if open {
            let s = self.b.ins().iconst(I32, i64::from(STATUS_FELL_OFF));
            self.b.ins().return_(&[s]);
        }
        Ok(())
    }

    /// Lowers one instruction; false if it ends the block unconditionally.
    fn insn(&mut self, pc: usize, insn: Insn) -> Result<bool, CompileError> {
        match insn {
            Insn::Alu { width, op, dst, src } => self.alu(width, op, dst, src),
            Insn::Neg { width, dst } => {
                let v = self.value_w(dst, width);
                let r = self.b.ins().ineg(v);
                self.set_w(dst, width, r);
            }
            Insn::Endian { order, bits, dst } => self.endian(order, bits, dst),
            Insn::LoadImm64 { dst, imm } => {
                let v = self.b.ins().iconst(I64, imm as i64);
                self.set(dst, v);
            }
            Insn::LoadDataAddr { dst, region, offset } => {
                let bases = self.env.data_bases(&mut self.b);
                let base =
                    self.b.ins().load(I64, const_flags(), bases, (region as i32).wrapping_mul(8));
                let v = self.b.ins().iadd_imm_s(base, i64::from(offset));
                self.set(dst, v);
            }
            Insn::Load { .. } if self.assembled_load(pc) => {}
            Insn::Load { size, dst, src, off } => {
                let (p, o) = self.checked(pc, src, off, size.bytes(), false);
                let fl = flags();
                let v = match size {
                    MemSize::B => self.b.ins().uload8(I64, fl, p, o),
                    MemSize::H => self.b.ins().uload16(I64, fl, p, o),
                    MemSize::W => self.b.ins().uload32(fl, p, o),
                    MemSize::DW => self.b.ins().load(I64, fl, p, o),
                };
                self.set(dst, v);
            }
            Insn::LoadSx { size, dst, src, off } => {
                let (p, o) = self.checked(pc, src, off, size.bytes(), false);
                let fl = flags();
                let v = match size {
                    MemSize::B => self.b.ins().sload8(I64, fl, p, o),
                    MemSize::H => self.b.ins().sload16(I64, fl, p, o),
                    MemSize::W => self.b.ins().sload32(fl, p, o),
                    MemSize::DW => self.b.ins().load(I64, fl, p, o),
                };
                self.set(dst, v);
            }
            Insn::Store { size, dst, off, src } => {
                let v = self.operand(src, Width::W64);
                let (p, o) = self.checked(pc, dst, off, size.bytes(), true);
                let fl = flags();
                match size {
                    MemSize::B => self.b.ins().istore8(fl, v, p, o),
                    MemSize::H => self.b.ins().istore16(fl, v, p, o),
                    MemSize::W => self.b.ins().istore32(fl, v, p, o),
                    MemSize::DW => self.b.ins().store(fl, v, p, o),
                };
            }
            Insn::Atomic { size, op, fetch, dst, src, off } => {
                self.atomic(pc, size, op, fetch, dst, src, off)?
            }
            Insn::Ja { .. } | Insn::JaLong { .. } => {
                let t = target(&insn, pc)?;
                self.jump_to(pc, t)?;
                return Ok(false);
            }
            Insn::Jmp { width, cond, dst, src, off: _ } => {
                let t = target(&insn, pc)?;
                let c = self.condition(width, cond, dst, src);
                let next = self.block_at(pc + 1)?;
                if t <= pc && self.unchecked_loop.is_some() {
                    let head = self.block_at(t)?;
                    self.unchecked_back_edge(pc, c, head, next);
                } else if t <= pc {
                    let taken = self.b.create_block();
                    self.b.ins().brif(c, taken, &[], next, &[]);
                    self.b.switch_to_block(taken);
                    self.jump_to(pc, t)?;
                } else if let Some(counted) = self.counted_budget {
                    // An exit from an unchecked copy that counts its back
                    // edges by its counter.
                    let tb = self.block_at(t)?;
                    let exit = self.b.create_block();
                    self.b.ins().brif(c, exit, &[], next, &[]);
                    self.b.switch_to_block(exit);
                    self.settle_budget(pc, counted);
                    self.b.ins().jump(tb, &[]);
                } else {
                    let tb = self.block_at(t)?;
                    self.b.ins().brif(c, tb, &[], next, &[]);
                }
                return Ok(false);
            }
            Insn::Call { id } => self.helper(pc, id),
            Insn::CallLocal { .. } => {
                let t = target(&insn, pc)?;
                self.local_call(pc, t)?;
                return Ok(false);
            }
            Insn::CallReg { .. } => return Err(CompileError::Unsupported { pc, what: "callx" }),
            Insn::Exit => {
                self.exit(pc)?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Lowers the run of byte loads starting at `pc` that assembles a
    /// halfword or word as one load (and a byte swap for network order),
    /// if there is one and its later bytes need no check of their own once
    /// the first one's check (which covers its group) has passed.
    fn assembled_load(&mut self, pc: usize) -> bool {
        let Some(pair) = self.pairs.get(&pc).copied() else {
            return false;
        };
        if !pair.later_loads().iter().all(|&(at, off)| self.skips_check(at, pair.base, off, 1)) {
            return false;
        }
        let (p, _) = self.checked(pc, pair.base, pair.offset_of(pc), 1, false);
        let off = i32::from(pair.off);
        let value = match (pair.bytes(), pair.big_endian) {
            (4, false) => self.b.ins().uload32(flags(), p, off),
            (2, false) => self.b.ins().uload16(I64, flags(), p, off),
            (bytes, _) => {
                let ty = if bytes == 4 { I32 } else { types::I16 };
                let raw = self.b.ins().load(ty, flags(), p, off);
                let swapped = self.b.ins().bswap(raw);
                self.b.ins().uextend(I64, swapped)
            }
        };
        for (r, _, mask) in pair.lanes() {
            let lane = self.b.ins().band_imm_u(value, i64::from(mask));
            self.set(r, lane);
        }
        self.set(pair.high, value);
        self.lowered_pair = Some(pair);
        true
    }

    /// True for the instructions after the first of the run lowered last.
    fn inside_lowered_pair(&self, pc: usize) -> bool {
        self.lowered_pair.is_some_and(|p| pc > p.first && pc < p.end())
    }

    fn value_w(&mut self, r: Reg, width: Width) -> Value {
        match width {
            Width::W64 => self.get(r),
            Width::W32 => self.get32(r),
        }
    }

    /// Writes a result of `width` bits, zero-extending 32-bit results.
    fn set_w(&mut self, r: Reg, width: Width, v: Value) {
        let v = match width {
            Width::W64 => v,
            Width::W32 => self.b.ins().uextend(I64, v),
        };
        self.set(r, v);
    }

    fn alu(&mut self, width: Width, op: AluOp, dst: Reg, src: Source) {
        let ty = match width {
            Width::W64 => I64,
            Width::W32 => I32,
        };
        if let AluOp::Mov = op {
            let v = self.operand(src, width);
            self.set_w(dst, width, v);
            return;
        }
        if let AluOp::MovSx(bits) = op {
            let v = self.operand(src, Width::W64);
            let narrow = match bits {
                8 => types::I8,
                16 => types::I16,
                _ => I32,
            };
            let n = self.b.ins().ireduce(narrow, v);
            let r = if narrow == ty { n } else { self.b.ins().sextend(ty, n) };
            self.set_w(dst, width, r);
            return;
        }
        let a = self.value_w(dst, width);
        let x = self.operand(src, width);
        let r = match op {
            AluOp::Add => self.b.ins().iadd(a, x),
            AluOp::Sub => self.b.ins().isub(a, x),
            AluOp::Mul => self.b.ins().imul(a, x),
            AluOp::Or => self.b.ins().bor(a, x),
            AluOp::And => self.b.ins().band(a, x),
            AluOp::Xor => self.b.ins().bxor(a, x),
            // Cranelift masks shift amounts to the type's width, as eBPF does.
            AluOp::Lsh => self.b.ins().ishl(a, x),
            AluOp::Rsh => self.b.ins().ushr(a, x),
            AluOp::Arsh => self.b.ins().sshr(a, x),
            AluOp::Div => self.divide(ty, a, x, src, false, false),
            AluOp::SDiv => self.divide(ty, a, x, src, true, false),
            AluOp::Mod => self.divide(ty, a, x, src, false, true),
            AluOp::SMod => self.divide(ty, a, x, src, true, true),
            AluOp::Mov | AluOp::MovSx(_) => a,
        };
        self.set_w(dst, width, r);
    }

    /// eBPF division or modulo of `a` by `x` (type `ty`): zero and `-1`
    /// divisors take their own paths, so the machine instruction never
    /// sees a divisor that would trap.
    fn divide(
        &mut self,
        ty: Type,
        a: Value,
        x: Value,
        src: Source,
        signed: bool,
        rem: bool,
    ) -> Value {
        let op = |b: &mut FunctionBuilder, a, x| match (signed, rem) {
            (false, false) => b.ins().udiv(a, x),
            (false, true) => b.ins().urem(a, x),
            (true, false) => b.ins().sdiv(a, x),
            (true, true) => b.ins().srem(a, x),
        };
        if let Source::Imm(k) = src {
            // A constant divisor decides the path at compile time.
            let k = i64::from(k);
            return match (k, signed && k == -1) {
                (0, _) if rem => a,
                (0, _) => self.b.ins().iconst(ty, 0),
                (_, true) if rem => self.b.ins().iconst(ty, 0),
                (_, true) => self.b.ins().ineg(a),
                _ => op(&mut self.b, a, x),
            };
        }
        let done = self.b.create_block();
        self.b.append_block_param(done, ty);
        let nonzero = self.b.create_block();
        let zero_result = if rem { a } else { self.b.ins().iconst(ty, 0) };
        self.b.ins().brif(x, nonzero, &[], done, &[arg(zero_result)]);
        self.b.switch_to_block(nonzero);
        if signed {
            let divide = self.b.create_block();
            let m1 = self.b.ins().iconst(ty, if ty == I32 { i64::from(u32::MAX) } else { -1 });
            let is_m1 = self.b.ins().icmp(IntCC::Equal, x, m1);
            let m1_result = if rem { self.b.ins().iconst(ty, 0) } else { self.b.ins().ineg(a) };
            self.b.ins().brif(is_m1, done, &[arg(m1_result)], divide, &[]);
            self.b.switch_to_block(divide);
        }
        let r = op(&mut self.b, a, x);
        self.b.ins().jump(done, &[arg(r)]);
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }

    fn endian(&mut self, order: ByteOrder, bits: u8, dst: Reg) {
        let v = self.get(dst);
        let narrow = match bits {
            16 => types::I16,
            32 => I32,
            _ => I64,
        };
        let n = if narrow == I64 { v } else { self.b.ins().ireduce(narrow, v) };
        let n = match order {
            ByteOrder::ToLe => n,
            ByteOrder::ToBe | ByteOrder::Swap => self.b.ins().bswap(n),
        };
        let r = if narrow == I64 { n } else { self.b.ins().uextend(I64, n) };
        self.set(dst, r);
    }

    fn condition(&mut self, width: Width, cond: JmpCond, dst: Reg, src: Source) -> Value {
        let a = self.value_w(dst, width);
        let x = self.operand(src, width);
        let cc = match cond {
            JmpCond::Set => {
                let m = self.b.ins().band(a, x);
                return self.b.ins().icmp_imm_u(IntCC::NotEqual, m, 0);
            }
            JmpCond::Eq => IntCC::Equal,
            JmpCond::Ne => IntCC::NotEqual,
            JmpCond::Gt => IntCC::UnsignedGreaterThan,
            JmpCond::Ge => IntCC::UnsignedGreaterThanOrEqual,
            JmpCond::Lt => IntCC::UnsignedLessThan,
            JmpCond::Le => IntCC::UnsignedLessThanOrEqual,
            JmpCond::Sgt => IntCC::SignedGreaterThan,
            JmpCond::Sge => IntCC::SignedGreaterThanOrEqual,
            JmpCond::Slt => IntCC::SignedLessThan,
            JmpCond::Sle => IntCC::SignedLessThanOrEqual,
        };
        self.b.ins().icmp(cc, a, x)
    }

    /// The budget counter's current value.
    fn budget_left(&mut self) -> Value {
        match self.budget {
            Budget::Var(var) => self.b.use_var(var),
            Budget::Slot(slot) => {
                let at = self.b.ins().stack_addr(I64, slot, 0);
                self.b.ins().load(I64, MemFlagsData::trusted(), at, 0)
            }
        }
    }

    /// A budget event at `pc`: stop if none is left, else count it.
    fn budget_event(&mut self, pc: usize) {
        if self.unchecked_loop.is_some() {
            // The loop's header proved the budget covers every back edge
            // of this copy (see the `hoist` module): count only.
            match self.budget {
                Budget::Var(var) => {
                    let left = self.b.use_var(var);
                    let left = self.b.ins().iadd_imm_s(left, -1);
                    self.b.def_var(var, left);
                }
                Budget::Slot(slot) => {
                    let at = self.b.ins().stack_addr(I64, slot, 0);
                    let v = self.b.ins().load(I64, MemFlagsData::trusted(), at, 0);
                    let v = self.b.ins().iadd_imm_s(v, -1);
                    self.b.ins().store(MemFlagsData::trusted(), v, at, 0);
                }
            }
            return;
        }
        let (left, slot) = match self.budget {
            Budget::Var(var) => (self.b.use_var(var), None),
            Budget::Slot(slot) => {
                // Count first, then stop if the count wrapped (none was
                // left): `add [m], -1` and `cmp [m], -1`, each load
                // folded into its instruction. (The slot is not read
                // again after a stop: the exit stores 0.) Cranelift would
                // forward the stored value to the second load; its
                // explicit byte order (native on every host ISA) keeps it
                // a load of its own.
                let at = self.b.ins().stack_addr(I64, slot, 0);
                let v = self.b.ins().load(I64, MemFlagsData::trusted(), at, 0);
                let v = self.b.ins().iadd_imm_s(v, -1);
                self.b.ins().store(MemFlagsData::trusted(), v, at, 0);
                let fl = MemFlagsData::trusted().with_endianness(Endianness::Little);
                let v = self.b.ins().load(I64, fl, at, 0);
                (self.b.ins().icmp_imm_s(IntCC::NotEqual, v, -1), Some(slot))
            }
        };
        let ok = self.b.create_block();
        // The pc is materialised on the cold side only.
        let out = self.b.create_block();
        self.b.set_cold_block(out);
        self.b.ins().brif(left, ok, &[], out, &[]);
        self.b.switch_to_block(out);
        let pcv = self.b.ins().iconst(I32, pc as i64);
        self.b.ins().jump(self.budget_out, &[arg(pcv)]);
        self.b.switch_to_block(ok);
        match (self.budget, slot) {
            (Budget::Var(var), _) => {
                let left = self.b.ins().iadd_imm_s(left, -1);
                self.b.def_var(var, left);
            }
            (Budget::Slot(_), _) => {}
        }
    }

    /// Unconditional transfer from the jump at `pc` to `t`, counting a
    /// backward one.
    fn jump_to(&mut self, pc: usize, t: usize) -> Result<(), CompileError> {
        if t <= pc {
            self.budget_event(pc);
        }
        let tb = self.block_at(t)?;
        self.b.ins().jump(tb, &[]);
        Ok(())
    }

    /// The address `base + off`, as a base value and the offset for the
    /// access's own displacement, after checking `size` bytes there
    /// against the regions. Constant r10-relative accesses inside the
    /// function's frame were proven in bounds by the verifier and go
    /// unchecked.
    ///
    /// No value holds the sum in the hot path: the access and the check
    /// each fold the offset into their addressing, while the slow path
    /// computes it for itself. (A shared value would be live into the cold
    /// block, so every run of the hot path would compute it.)
    fn checked(&mut self, pc: usize, base: Reg, off: i16, size: u32, write: bool) -> (Value, i32) {
        let b0 = self.get(base);
        let addr = (b0, i32::from(off));
        if self.skips_check(pc, base, off, size) {
            return addr;
        }
        let need = if write { REGION_WRITE } else { REGION_READ };
        match self.groups.get(&pc).cloned() {
            Some(members) => {
                let (lo, span) = group::span(&members);
                let exact = members.iter().map(|&(p, o, s)| (p, b0, o, s)).collect();
                self.check(pc, (b0, lo), span, write, need, exact);
            }
            None => {
                let at = (b0, i64::from(off));
                self.check(pc, at, size, write, need, vec![(pc, b0, off, size)]);
            }
        }
        addr
    }

    /// True if the access at `pc` gets no inline check: proven in bounds,
    /// covered by an earlier load's check, or, in a loop's unchecked copy,
    /// checked before the loop.
    fn skips_check(&self, pc: usize, base: Reg, off: i16, size: u32) -> bool {
        if (base == Reg::R10 && in_frame(self.functions, pc, off, size))
            || self.unchecked.contains(&pc)
            || self.covered.contains(&pc)
        {
            return true;
        }
        self.unchecked_loop.and_then(|h| self.loops.get(&h)).is_some_and(|(lp, _)| {
            // A group's check stays unless the span covers every load it
            // stands for.
            let members_hoisted =
                self.groups.get(&pc).is_none_or(|m| m.iter().all(|&(p, _, _)| lp.hoists(p)));
            lp.hoists(pc) && members_hoisted
        })
    }

    /// Checks `size` bytes at `addr` (a base value and an offset) for
    /// `need` (`REGION_READ` or
    /// `REGION_WRITE`); continues in a new block when allowed.
    ///
    /// `members` are the exact accesses the check stands for (pc, base,
    /// offset, size): one, or a group of loads whose span `addr`/`size`
    /// covers. The slow path checks each exactly, in order.
    fn check(
        &mut self,
        pc: usize,
        addr: (Value, i64),
        size: u32,
        write: bool,
        need: u32,
        members: Vec<(usize, Value, i16, u32)>,
    ) {
        let region = self.likely.get(&pc).copied().unwrap_or(Region::Ctx);
        let hit = self.b.create_block();
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        match self.fast.get(&fast_key(region, size, write)).copied() {
            Some(f) => {
                let neg_start = self.b.use_var(f.neg_start);
                let limit = self.b.use_var(f.limit);
                let off = self.b.ins().iadd(addr.0, neg_start);
                let off = self.b.ins().iadd_imm_s(off, addr.1);
                let ok = self.b.ins().icmp(IntCC::UnsignedLessThan, off, limit);
                self.b.ins().brif(ok, hit, &[], slow, &[]);
            }
            // Not planned at entry (cannot happen): search every time.
            None => {
                self.b.ins().jump(slow, &[]);
            }
        }

        // Miss: search the whole table for each access, then reload the
        // fast-check bounds. The program's registers stay live through
        // the search: the allocator places them better than a spill and
        // reload of each here would (the reloads became merges in the hit
        // block, and the moves of those merges landed in the hot path).
        self.b.switch_to_block(slow);
        self.spill_budget();
        for (mpc, base, off, msize) in members {
            let maddr = self.b.ins().iadd_imm_s(base, i64::from(off));
            self.search(mpc, maddr, msize, write, need);
        }
        self.reload_state();
        self.b.ins().jump(hit, &[]);
        self.b.switch_to_block(hit);
    }

    /// Searches the table for `size` bytes at `addr`; continues in a new
    /// (cold) block if found, else leaves through the fault block.
    fn search(&mut self, pc: usize, addr: Value, size: u32, write: bool, need: u32) {
        let search = self.b.create_block();
        self.b.append_block_param(search, I32);
        let body = self.b.create_block();
        let found = self.b.create_block();
        let refuse = self.b.create_block();
        for blk in [search, body, found, refuse] {
            self.b.set_cold_block(blk);
        }
        let zero = self.b.ins().iconst(I32, 0);
        self.b.ins().jump(search, &[arg(zero)]);
        self.b.switch_to_block(search);
        let i = self.b.block_params(search)[0];
        let count = self.env.region_count(&mut self.b);
        let done = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, count);
        self.b.ins().brif(done, refuse, &[], body, &[]);
        self.b.switch_to_block(body);
        let table = self.env.regions(&mut self.b);
        let i64v = self.b.ins().uextend(I64, i);
        let offs = self.b.ins().imul_imm_u(i64v, REGION_ENTRY);
        let ent = self.b.ins().iadd(table, offs);
        let rs = self.b.ins().load(I64, ctx_flags(), ent, 0);
        let rl = self.b.ins().load(I64, ctx_flags(), ent, 8);
        let rf = self.b.ins().load(I32, ctx_flags(), ent, 16);
        let inside = self.fits(addr, rs, rl, size);
        let perm = self.b.ins().band_imm_u(rf, i64::from(need));
        let perm = self.b.ins().icmp_imm_u(IntCC::NotEqual, perm, 0);
        let ok = self.b.ins().band(inside, perm);
        let next = self.b.ins().iadd_imm_s(i, 1);
        self.b.ins().brif(ok, found, &[], search, &[arg(next)]);

        self.b.switch_to_block(refuse);
        self.reload_budget();
        let pcv = self.b.ins().iconst(I32, pc as i64);
        let sizev = self.b.ins().iconst(I32, i64::from(size));
        let wv = self.b.ins().iconst(I32, i64::from(write));
        self.b.ins().jump(self.fault, &[arg(pcv), arg(addr), arg(sizev), arg(wv)]);
        self.b.switch_to_block(found);
    }

    /// Stores the budget counter before a check's slow path, if it is in
    /// a variable (so that the fault exit can reload it).
    fn spill_budget(&mut self) {
        if let Budget::Var(var) = self.budget {
            let v = self.b.use_var(var);
            self.b.ins().stack_store(I64, v, self.spill, SPILL_BUDGET);
        }
    }

    fn reload_budget(&mut self) {
        let Budget::Var(var) = self.budget else { return };
        let v = self.b.ins().stack_load(I64, I64, self.spill, SPILL_BUDGET);
        self.b.def_var(var, v);
    }

    /// Reloads the budget and the fast-check bounds after a slow path.
    fn reload_state(&mut self) {
        self.reload_budget();
        let mut starts = BTreeSet::new();
        for f in self.fast.values().copied().collect::<Vec<_>>() {
            if starts.insert(f.start_slot) {
                let v = self.b.ins().stack_load(I64, I64, self.spill, f.start_slot);
                self.b.def_var(f.neg_start, v);
            }
            let v = self.b.ins().stack_load(I64, I64, self.spill, f.limit_slot);
            self.b.def_var(f.limit, v);
        }
    }

    /// True iff `size` bytes at `addr` lie in `[start, start + len)`.
    fn fits(&mut self, addr: Value, start: Value, len: Value, size: u32) -> Value {
        let off = self.b.ins().isub(addr, start);
        let a = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, off, len);
        let room = self.b.ins().isub(len, off);
        let bfit =
            self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, room, i64::from(size));
        self.b.ins().band(a, bfit)
    }

    #[allow(clippy::too_many_arguments)]
    fn atomic(
        &mut self,
        pc: usize,
        size: MemSize,
        op: AtomicOp,
        fetch: bool,
        dst: Reg,
        src: Reg,
        off: i16,
    ) -> Result<(), CompileError> {
        let (ty, n) = match size {
            MemSize::W => (I32, 4u32),
            MemSize::DW => (I64, 8u32),
            _ => return Err(CompileError::Unsupported { pc, what: "atomic of this size" }),
        };
        let b0 = self.get(dst);
        let addr = self.b.ins().iadd_imm_s(b0, i64::from(off));
        // r10 is a multiple of 8, so a frame offset decides the alignment.
        let framed = dst == Reg::R10 && in_frame(self.functions, pc, off, n);
        let aligned = self.aligned_atomics.contains(&pc)
            || (framed && i32::from(off).rem_euclid(n as i32) == 0);
        if !aligned {
            // Misaligned atomics are write faults on every engine.
            let mis = self.b.ins().band_imm_u(addr, i64::from(n - 1));
            let next = self.b.create_block();
            let pcv = self.b.ins().iconst(I32, pc as i64);
            let sizev = self.b.ins().iconst(I32, i64::from(n));
            let one = self.b.ins().iconst(I32, 1);
            self.b.ins().brif(
                mis,
                self.fault,
                &[arg(pcv), arg(addr), arg(sizev), arg(one)],
                next,
                &[],
            );
            self.b.switch_to_block(next);
        }
        if !framed && !self.unchecked.contains(&pc) {
            self.check(pc, (b0, i64::from(off)), n, true, REGION_WRITE, vec![(pc, b0, off, n)]);
        }
        let fl =
            MemFlagsData::new().with_notrap().with_aligned().with_endianness(Endianness::Little);
        let v = self.value_w(src, if ty == I32 { Width::W32 } else { Width::W64 });
        let widen = |b: &mut FunctionBuilder, x: Value| {
            if ty == I32 {
                b.ins().uextend(I64, x)
            } else {
                x
            }
        };
        if let AtomicOp::CmpXchg = op {
            let expected = if ty == I32 {
                // Cranelift 0.135's AArch64 compare-and-swap loop compares
                // all 64 bits of the expected value, and an `ireduce` (which
                // its optimiser also makes of any masking) leaves r0's upper
                // half there. A 32-bit reload from memory really clears it.
                let r0 = self.value_w(Reg::R0, Width::W64);
                let data = StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3);
                let slot = self.b.create_sized_stack_slot(data);
                self.b.ins().stack_store(I64, r0, slot, 0);
                self.b.ins().stack_load(I64, I32, slot, 0)
            } else {
                self.value_w(Reg::R0, Width::W64)
            };
            let old = self.b.ins().atomic_cas(fl, addr, expected, v);
            let old = widen(&mut self.b, old);
            self.set(Reg::R0, old);
            return Ok(());
        }
        let rmw = match op {
            AtomicOp::Add => AtomicRmwOp::Add,
            AtomicOp::Or => AtomicRmwOp::Or,
            AtomicOp::And => AtomicRmwOp::And,
            AtomicOp::Xor => AtomicRmwOp::Xor,
            AtomicOp::Xchg | AtomicOp::CmpXchg => AtomicRmwOp::Xchg,
        };
        let old = self.b.ins().atomic_rmw(ty, fl, rmw, addr, v);
        if fetch {
            let old = widen(&mut self.b, old);
            self.set(src, old);
        }
        Ok(())
    }

    fn store_budget(&mut self) {
        let left = match self.budget {
            Budget::Var(var) => self.b.use_var(var),
            Budget::Slot(slot) => self.b.ins().stack_load(I64, I64, slot, 0),
        };
        self.b.ins().store(ctx_flags(), left, self.env.ctx, OFF_BUDGET_LEFT as i32);
    }

    fn helper(&mut self, pc: usize, id: u32) {
        let ctx = self.env.ctx;
        for (i, r) in [Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5].into_iter().enumerate() {
            let v = self.get(r);
            self.b.ins().store(ctx_flags(), v, ctx, (OFF_HELPER_ARGS + 8 * i as u32) as i32);
        }
        let idv = self.b.ins().iconst(I32, i64::from(id));
        self.b.ins().store(ctx_flags(), idv, ctx, OFF_HELPER_ID as i32);
        let pcv = self.b.ins().iconst(I32, pc as i64);
        self.b.ins().store(ctx_flags(), pcv, ctx, OFF_EXIT_PC as i32);
        self.store_budget();
        let routines = self.env.routines(&mut self.b);
        let f = self.b.ins().load(I64, ctx_flags(), routines, routine_offset::HELPER_CALL as i32);
        let call = self.b.ins().call_indirect(self.helper_sig, f, &[ctx]);
        let st = self.b.inst_results(call)[0];
        let stop = self.b.create_block();
        self.b.set_cold_block(stop);
        let cont = self.b.create_block();
        self.b.ins().brif(st, stop, &[], cont, &[]);
        self.b.switch_to_block(stop);
        self.b.ins().return_(&[st]);
        self.b.switch_to_block(cont);
        let r0 = self.b.ins().load(I64, ctx_flags(), ctx, OFF_R0 as i32);
        self.set(Reg::R0, r0);
    }

    fn local_call(&mut self, pc: usize, t: usize) -> Result<(), CompileError> {
        self.budget_event(pc);
        let id = self.site_of_call;
        self.site_of_call += 1;
        let frame = self
            .functions
            .iter()
            .rev()
            .find(|f| f.start as usize <= pc)
            .map_or(0, |f| f.frame_size);
        let save = self.saves.get(&(t as u32)).ok_or(CompileError::Internal("call target"))?;
        let (save_regs, ret) = (save.regs, save.ret);
        for (k, r) in [Reg::R6, Reg::R7, Reg::R8, Reg::R9, Reg::R10].into_iter().enumerate() {
            let v = self.get(r);
            self.b.def_var(save_regs[k], v);
        }
        let idv = self.b.ins().iconst(I32, i64::from(id));
        self.b.def_var(ret, idv);
        let fp = self.get(Reg::R10);
        let fp = self.b.ins().iadd_imm_s(fp, -i64::from(frame));
        self.set(Reg::R10, fp);
        let tb = self.block_at(t)?;
        self.b.ins().jump(tb, &[]);
        Ok(())
    }

    fn exit(&mut self, pc: usize) -> Result<(), CompileError> {
        let f = self
            .functions
            .iter()
            .rev()
            .find(|f| f.start as usize <= pc)
            .ok_or(CompileError::Internal("exit outside any function"))?;
        let start = f.start;
        let Some(save) = self.saves.get(&start) else {
            // The entry function (or one nobody calls): the run ends.
            let r0 = self.get(Reg::R0);
            self.b.ins().store(ctx_flags(), r0, self.env.ctx, OFF_R0 as i32);
            self.store_budget();
            let s = self.b.ins().iconst(I32, i64::from(status::EXIT));
            self.b.ins().return_(&[s]);
            return Ok(());
        };
        let (save_regs, ret) = (save.regs, save.ret);
        let sites = save.sites.clone();
        for (k, r) in [Reg::R6, Reg::R7, Reg::R8, Reg::R9, Reg::R10].into_iter().enumerate() {
            let v = self.b.use_var(save_regs[k]);
            self.set(r, v);
        }
        let which = self.b.use_var(ret);
        let Some(&(_, fallback)) = sites.first() else {
            return Err(CompileError::Internal("callee without call sites"));
        };
        if sites.len() == 1 {
            self.b.ins().jump(fallback, &[]);
            return Ok(());
        }
        let mut sw = Switch::new();
        for &(id, blk) in &sites {
            sw.set_entry(u128::from(id), blk);
        }
        sw.emit(&mut self.b, which, fallback);
        Ok(())
    }

    fn fault_block(&mut self) {
        self.b.switch_to_block(self.fault);
        let p = self.b.block_params(self.fault).to_vec();
        let ctx = self.env.ctx;
        self.b.ins().store(ctx_flags(), p[0], ctx, OFF_EXIT_PC as i32);
        self.b.ins().store(ctx_flags(), p[1], ctx, OFF_FAULT_ADDR as i32);
        self.b.ins().store(ctx_flags(), p[2], ctx, OFF_FAULT_SIZE as i32);
        self.b.ins().store(ctx_flags(), p[3], ctx, OFF_FAULT_WRITE as i32);
        self.store_budget();
        let s = self.b.ins().iconst(I32, i64::from(status::MEMORY_FAULT));
        self.b.ins().return_(&[s]);
    }

    fn budget_block(&mut self) {
        self.b.switch_to_block(self.budget_out);
        let pcv = self.b.block_params(self.budget_out)[0];
        let ctx = self.env.ctx;
        self.b.ins().store(ctx_flags(), pcv, ctx, OFF_EXIT_PC as i32);
        let zero = self.b.ins().iconst(I64, 0);
        self.b.ins().store(ctx_flags(), zero, ctx, OFF_BUDGET_LEFT as i32);
        let s = self.b.ins().iconst(I32, i64::from(status::BUDGET));
        self.b.ins().return_(&[s]);
    }
}

/// The pc of every instruction of `program`, in order.
pub(crate) fn insn_pcs(program: &VerifiedProgram) -> Vec<u32> {
    decode_all(&program.program.code).filter_map(|d| d.ok()).map(|d| d.pc as u32).collect()
}
