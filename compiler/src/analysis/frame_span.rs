//! Counted loops whose hoisted span is proven inside the function's frame
//! at every entry. The Cranelift backend's header then checks only the
//! budget; the Thumb-2 backend, whose unchecked copy counts the budget on
//! its own, emits the loop once, unchecked, with no header check at all.
//!
//! An insertion sort's inner loop walks a pointer down a stack array for
//! as many iterations as its counter, and both come from the outer loop,
//! where `ptr == r10 + c + s * i` holds for its index `i`. The span the
//! inner loop can touch is then a linear function of the counter at entry,
//! and the counter's range (from [`crate::analysis::ranges`]) bounds it.
//!
//! The facts are affine relations, per register, of the form
//! `r == [r10 +] c + s * x` (modulo 2^64, as the program's arithmetic)
//! for one other register `x` (or none: a constant or a frame offset),
//! found by a forward dataflow over the instructions. Two paths with a
//! different constant frame offset in `r` and a different constant in
//! some `y` join to the line through both points, `r == r10 + c + s * y`:
//! this is how a pointer advanced beside an index becomes tied to it.
//! Every fact holds on every path that reaches its instruction, within
//! one function call (a call forgets everything, and `r10` is the frame
//! top of the function the instruction belongs to).

use std::collections::BTreeMap;

use femtoc_isa::insn::{AluOp, Insn, Reg, Source, Width};
use femtoc_isa::verifier::VerifiedProgram;

use crate::analysis::loops::{AccessSet, HoistLoop, Shape, Trip};
use crate::analysis::ranges::Ranges;
use crate::analysis::zext::{may_write, written};

/// `[r10 +] c + s * x`, modulo 2^64; `s == 0` iff `x` is `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Affine {
    frame: bool,
    c: i64,
    s: i64,
    x: Option<Reg>,
}

impl Affine {
    fn constant(frame: bool, c: i64) -> Self {
        Affine { frame, c, s: 0, x: None }
    }

    /// The plain integer constant this is, if it is one.
    fn integer(self) -> Option<i64> {
        (!self.frame && self.x.is_none()).then_some(self.c)
    }
}

/// A fact per register (`None`: nothing known).
type State = [Option<Affine>; 11];

const NOTHING: State = [None; 11];

/// Joins at one instruction before it gives up on every fact there.
const MAX_JOINS: u32 = 24;

/// Forgets `r`'s value and every fact expressed through it, then sets it.
fn write(st: &mut State, r: Reg, v: Option<Affine>) {
    for f in st.iter_mut() {
        if f.is_some_and(|f| f.x == Some(r)) {
            *f = None;
        }
    }
    st[r.index()] = v.filter(|v| v.x != Some(r));
}

/// `r += k`: facts through `r` keep holding with their constant moved.
fn add_const(st: &mut State, r: Reg, k: i64) {
    for f in st.iter_mut().flatten() {
        if f.x == Some(r) {
            f.c = f.c.wrapping_sub(f.s.wrapping_mul(k));
        }
    }
    if let Some(f) = st[r.index()].as_mut() {
        f.c = f.c.wrapping_add(k);
    }
}

/// `r`'s value as a fact: its own, or `1 * r`.
fn value_of(st: &State, r: Reg) -> Affine {
    st[r.index()].unwrap_or(Affine { frame: false, c: 0, s: 1, x: Some(r) })
}

/// The state after `insn`, given `st` before it.
fn transfer(st: &State, insn: &Insn) -> State {
    let mut out = *st;
    match *insn {
        Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src } => {
            let v = match src {
                Source::Reg(Reg::R10) => Some(Affine::constant(true, 0)),
                Source::Reg(q) if q == dst => return out,
                Source::Reg(q) => Some(value_of(st, q)),
                Source::Imm(k) => Some(Affine::constant(false, i64::from(k))),
            };
            write(&mut out, dst, v);
        }
        Insn::Alu { width: Width::W64, op: AluOp::Add, dst, src: Source::Imm(k) } => {
            add_const(&mut out, dst, i64::from(k));
        }
        Insn::Alu { width: Width::W64, op: AluOp::Sub, dst, src: Source::Imm(k) } => {
            add_const(&mut out, dst, i64::from(k).wrapping_neg());
        }
        Insn::Alu { width: Width::W64, op: AluOp::Add, dst, src: Source::Reg(q) } if q != dst => {
            let qv = value_of(st, q);
            if let Some(k) = qv.integer() {
                add_const(&mut out, dst, k);
            } else {
                // `[r10 +] c + qv`, if `dst` holds no register part and
                // not both are frame offsets.
                let v = st[dst.index()]
                    .filter(|d| d.x.is_none() && !(d.frame && qv.frame) && qv.x != Some(dst))
                    .map(|d| Affine {
                        frame: d.frame || qv.frame,
                        c: d.c.wrapping_add(qv.c),
                        s: qv.s,
                        x: qv.x,
                    });
                write(&mut out, dst, v);
            }
        }
        Insn::Call { .. } | Insn::CallLocal { .. } | Insn::CallReg { .. } => out = NOTHING,
        _ => {
            for r in written(insn) {
                write(&mut out, r, None);
            }
        }
    }
    out
}

/// The join of one register's facts `a` (in state `sa`) and `b` (in
/// `sb`): a fact implied by each side's state.
fn join_one(
    sa: &State,
    a: Option<Affine>,
    sb: &State,
    b: Option<Affine>,
    r: Reg,
) -> Option<Affine> {
    let (a, b) = (a?, b?);
    if a == b {
        return Some(a);
    }
    if a.frame != b.frame {
        return None;
    }
    // `rel` through `y` on one side, a constant on the other: kept if the
    // other side's `y` puts the constant on it.
    let on_line = |rel: Affine, k: Affine, other: &State| {
        let y = rel.x?;
        let ky = other[y.index()].and_then(Affine::integer)?;
        (k.x.is_none() && rel.c.wrapping_add(rel.s.wrapping_mul(ky)) == k.c).then_some(rel)
    };
    match (a.x, b.x) {
        (Some(_), None) => on_line(a, b, sb),
        (None, Some(_)) => on_line(b, a, sa),
        (None, None) => {
            // The line through both points, along some register that is a
            // different constant on each side.
            (0..11).filter_map(Reg::new).filter(|&y| y != r).find_map(|y| {
                let ka = i128::from(sa[y.index()].and_then(Affine::integer)?);
                let kb = i128::from(sb[y.index()].and_then(Affine::integer)?);
                let (ca, cb) = (i128::from(a.c), i128::from(b.c));
                if ka == kb || (cb - ca) % (kb - ka) != 0 {
                    return None;
                }
                let s = i64::try_from((cb - ca) / (kb - ka)).ok()?;
                let c = i64::try_from(ca - i128::from(s) * ka).ok()?;
                Some(Affine { frame: a.frame, c, s, x: Some(y) })
            })
        }
        (Some(_), Some(_)) => None,
    }
}

fn join(sa: &State, sb: &State) -> State {
    let mut out = NOTHING;
    for (i, slot) in out.iter_mut().enumerate() {
        let r = Reg::new(i as u8);
        *slot = r.and_then(|r| join_one(sa, sa[i], sb, sb[i], r));
    }
    out
}

/// The state before every reachable instruction, by pc.
fn states(prog: &VerifiedProgram, insns: &[(usize, Insn)]) -> BTreeMap<usize, State> {
    let mut at: BTreeMap<usize, State> = BTreeMap::new();
    let mut joins: BTreeMap<usize, u32> = BTreeMap::new();
    let index: BTreeMap<usize, Insn> = insns.iter().copied().collect();
    let mut work: Vec<usize> = Vec::new();
    for f in &prog.functions {
        at.insert(f.start as usize, NOTHING);
        work.push(f.start as usize);
    }
    while let Some(pc) = work.pop() {
        let (Some(st), Some(insn)) = (at.get(&pc).copied(), index.get(&pc)) else { continue };
        let out = transfer(&st, insn);
        // A callee starts from nothing (every function start is seeded
        // above); a call's return forgets all (`transfer`).
        for s in super::successors(pc, insn) {
            let new = match at.get(&s) {
                None => out,
                Some(old) => {
                    let n = joins.entry(s).or_insert(0);
                    *n += 1;
                    let j = if *n > MAX_JOINS { NOTHING } else { join(old, &out) };
                    if j == *old {
                        continue;
                    }
                    j
                }
            };
            at.insert(s, new);
            work.push(s);
        }
    }
    at
}

/// The header pcs of the counted single-span loops among `loops` whose
/// hoisted accesses are proven to lie in their function's frame at every
/// entry (so their header needs to check only the budget).
pub fn frame_loops<'a>(
    prog: &VerifiedProgram,
    insns: &[(usize, Insn)],
    ranges: &Ranges,
    loops: impl IntoIterator<Item = &'a HoistLoop>,
) -> Vec<usize> {
    let loops: Vec<&HoistLoop> = loops.into_iter().collect();
    if loops.is_empty() {
        return Vec::new();
    }
    let at = states(prog, insns);
    loops.into_iter().filter(|lp| proven(prog, insns, ranges, &at, lp)).map(|lp| lp.head).collect()
}

/// True if every entry of `lp` into its header has its span in the frame.
fn proven(
    prog: &VerifiedProgram,
    insns: &[(usize, Insn)],
    ranges: &Ranges,
    at: &BTreeMap<usize, State>,
    lp: &HoistLoop,
) -> bool {
    let Trip::Counted { counter, low32 } = lp.trip else { return false };
    // A header at a function's start is also entered by every call (or
    // by the run itself), edges this proof does not see.
    if lp.shape != Shape::Single
        || lp.base.is_some()
        || prog.functions.iter().any(|f| f.start as usize == lp.head)
    {
        return false;
    }
    let Some(frame) = prog.as_ref().function_at(lp.head as u32).map(|f| i128::from(f.frame_size))
    else {
        return false;
    };
    let mut entries = 0;
    for &(pc, insn) in insns {
        if (lp.head..=lp.back).contains(&pc) {
            continue;
        }
        let next = pc + insn.slots();
        let target = insn.branch_target(pc).and_then(|t| usize::try_from(t).ok());
        let falls = !matches!(insn, Insn::Exit | Insn::Ja { .. } | Insn::JaLong { .. });
        // A call's target is a function start, never a loop header.
        let enters = (falls && next == lp.head && !matches!(insn, Insn::CallLocal { .. }))
            || (matches!(insn, Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Jmp { .. })
                && target == Some(lp.head));
        if !enters {
            continue;
        }
        let Some(st) = at.get(&pc) else { continue };
        // The counter's range: before the jump that enters (which writes
        // nothing), else at the header (a superset).
        let range = if may_write(&insn, counter) { ranges.get(&lp.head) } else { ranges.get(&pc) }
            .and_then(|r| r.get(counter.index()).copied());
        let Some(range) = range else { return false };
        if !entry_in_frame(&transfer(st, &insn), lp, counter, low32, (range.lo, range.hi), frame) {
            return false;
        }
        entries += 1;
    }
    entries > 0
}

/// True if, with the state `st` on the edge into the header and the
/// counter in `lo..=hi`, the span lies in `[r10 - frame, r10)`.
fn entry_in_frame(
    st: &State,
    lp: &HoistLoop,
    counter: Reg,
    low32: bool,
    (lo, hi): (u64, u64),
    frame: i128,
) -> bool {
    // The trip count is the counter itself: at least 1, and its low word
    // when the loop counts in 32 bits.
    if lo == 0 || lo > hi || hi > if low32 { u64::from(u32::MAX) } else { 1 << 40 } {
        return false;
    }
    let Some(iv) = st[lp.iv.index()].filter(|v| v.frame) else { return false };
    // `iv0 == r10 + c + s * T`.
    let (c, s) = match iv.x {
        None => (i128::from(iv.c), 0),
        Some(x) if x == counter => (i128::from(iv.c), i128::from(iv.s)),
        Some(x) => {
            // The counter as `cc + x`: `x == T - cc`.
            let Some(cv) = st[counter.index()] else { return false };
            if cv.frame || cv.x != Some(x) || cv.s != 1 {
                return false;
            }
            let s = i128::from(iv.s);
            (i128::from(iv.c) - s * i128::from(cv.c), s)
        }
    };
    let step = i128::from(lp.step);
    let (lowest, end) = (i128::from(lp.lowest()), i128::from(lp.end()));
    // Both ends are linear in `T`: their extremes are at `lo` and `hi`.
    [lo, hi].into_iter().all(|t| {
        let t = i128::from(t);
        let origin = c + s * t;
        let moved = (t - 1) * step.abs();
        let first = origin + lowest - if step < 0 { moved } else { 0 };
        let last = origin + end + if step > 0 { moved } else { 0 };
        first >= -frame && last <= 0
    })
}
