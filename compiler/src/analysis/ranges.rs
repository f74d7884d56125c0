//! Value ranges: an unsigned interval for every eBPF register at every
//! instruction, from a forward data-flow pass with branch refinement.
//!
//! The writer-based proof in [`super::zext`] cannot see that a loop counter
//! set to `min(n, 359)` and counted down to zero, or a pointer advanced by
//! two after each one-byte load, never reaches 2^32. Intervals can: a
//! conditional jump narrows its operand on each edge, and an access that
//! succeeded bounds its base register, because every byte of every region
//! lies below a limit the target guarantees (on a 32-bit device no region
//! contains address 0xFFFF_FFFF: a Rust slice never holds the last byte of
//! the address space, so one past its end stays representable).
//!
//! Local calls are handled on one graph for the whole program: a call
//! flows into the callee's entry, and the state after the call is the join
//! of the state before it and of every exit of the callee (sound whether or
//! not an engine restores r6..r9). Loops converge by widening a bound that
//! keeps moving to the next of a few thresholds.

use std::collections::{BTreeMap, BTreeSet};

use femtoc_isa::verifier::VerifiedProgram;
use femtoc_isa::{AluOp, AtomicOp, ByteOrder, Insn, JmpCond, MemSize, Reg, Source, Width};

/// An unsigned 64-bit interval `lo..=hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// Least value.
    pub lo: u64,
    /// Greatest value.
    pub hi: u64,
}

/// The ranges of r0..r10 before each instruction, by pc (instructions no
/// run reaches have none).
pub type Ranges = BTreeMap<usize, [Range; 11]>;

const TOP: Range = Range { lo: 0, hi: u64::MAX };
const TOP32: Range = Range { lo: 0, hi: u32::MAX as u64 };
/// Bounds a widened interval jumps to, besides the program's own compare
/// constants (see [`Flow::new`]). `2^32 - 2` comes before `2^32 - 1` for
/// the index loop `i += 1; jlt i, n` with a 32-bit `n`: at its head
/// `i <= 2^32 - 2`, so `i + 1` still fits in 32 bits.
const THRESHOLDS: [u64; 5] = [0xff, 0xffff, u32::MAX as u64 - 1, u32::MAX as u64, u64::MAX];
/// Joins at one instruction before its bounds are widened.
const WIDEN_AFTER: u32 = 3;

impl Range {
    /// Exactly `v`.
    pub const fn exact(v: u64) -> Self {
        Range { lo: v, hi: v }
    }

    /// True if every value fits in 32 bits.
    pub const fn is_narrow(self) -> bool {
        self.hi <= u32::MAX as u64
    }

    fn join(self, o: Range) -> Range {
        Range { lo: self.lo.min(o.lo), hi: self.hi.max(o.hi) }
    }

    /// `self` with a bound that moved past `old` pushed to the next of
    /// `thresholds` (sorted).
    fn widen(self, old: Range, thresholds: &[u64]) -> Range {
        let lo = if self.lo < old.lo { 0 } else { self.lo };
        let hi = if self.hi > old.hi {
            thresholds.iter().copied().find(|&t| t >= self.hi).unwrap_or(u64::MAX)
        } else {
            self.hi
        };
        Range { lo, hi }
    }

    /// The value as an operand of a 32-bit operation (its low word).
    fn low32(self) -> Range {
        if self.is_narrow() {
            self
        } else {
            TOP32
        }
    }

    fn add(self, o: Range) -> Range {
        match (self.lo.checked_add(o.lo), self.hi.checked_add(o.hi)) {
            (Some(lo), Some(hi)) => Range { lo, hi },
            _ => TOP,
        }
    }

    fn sub(self, o: Range) -> Range {
        if self.lo >= o.hi {
            Range { lo: self.lo - o.hi, hi: self.hi - o.lo }
        } else {
            TOP
        }
    }

    fn mul(self, o: Range) -> Range {
        match (self.lo.checked_mul(o.lo), self.hi.checked_mul(o.hi)) {
            (Some(lo), Some(hi)) => Range { lo, hi },
            _ => TOP,
        }
    }

    /// Every value with no bit above the highest bit `hi` may have.
    fn mask_of(hi: u64) -> u64 {
        match hi {
            0 => 0,
            _ => u64::MAX >> hi.leading_zeros(),
        }
    }
}

/// What the analysis may assume about the target.
#[derive(Clone, Copy, Debug)]
pub struct RangeConfig {
    /// Ranges of r0..r9 when the entry function starts.
    pub entry: [Range; 10],
    /// The range of r10 in every function (r10 is never written).
    pub frame_pointer: Range,
    /// Every byte any region holds lies below this address; an access that
    /// succeeded therefore bounds its base. `u64::MAX` assumes nothing.
    pub address_limit: u64,
}

impl RangeConfig {
    /// A 32-bit device under the native ABI: r1 (the context address) and
    /// r2 (its length) fit in 32 bits, every other register starts at zero,
    /// and no region holds address 0xFFFF_FFFF. r10, one past the top of
    /// a function's frame, is at most 2^32 - 1 and at least `frame_floor`,
    /// the smallest frame of any function: every frame lies inside the
    /// stack (install refuses a stack smaller than the program's use), and
    /// the stack starts at or above address 0.
    pub fn device32(frame_floor: u32) -> Self {
        let mut entry = [Range::exact(0); 10];
        entry[1] = TOP32;
        entry[2] = TOP32;
        let frame_pointer = Range { lo: u64::from(frame_floor), hi: u32::MAX as u64 };
        RangeConfig { entry, frame_pointer, address_limit: u32::MAX as u64 }
    }

    /// A 64-bit host: r1 and r2 may be anything, every other register
    /// starts at zero, and nothing is assumed about addresses.
    pub fn host64() -> Self {
        let mut entry = [Range::exact(0); 10];
        entry[1] = TOP;
        entry[2] = TOP;
        RangeConfig { entry, frame_pointer: TOP, address_limit: u64::MAX }
    }
}

/// The ranges, which registers hold the same 64-bit value (so that a
/// compare refines every copy of its operand, as in `mov r4, r2; jlt r2,
/// 359` where r4 is what the loop uses), and which are known to be at most
/// which others.
///
/// The order relation is what keeps `n -= min(n, k)` from wrapping in an
/// interval domain: Fletcher-32's outer loop takes `r4 = r2; if r2 >= 359
/// { r4 = 359 }` blocks and then `r2 -= r4`. Intervals alone see
/// `[0, 2^31] - [0, 359]`, which may wrap; `r4 <= r2` says it cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    range: [Range; Reg::COUNT],
    /// `same[i]`: bit set of the registers equal to register `i` (always
    /// including `i`).
    same: [u16; Reg::COUNT],
    /// `le[i]`: bit set of registers `j` with `i <= j` unsigned (always
    /// including `i`), as recorded by copies and compares.
    le: [u16; Reg::COUNT],
    /// `offset[i]`: register `i` is another register plus a constant.
    offset: [Option<Offset>; Reg::COUNT],
}

/// `r = base + add` modulo 2^width (for 32 bits, of `base`'s low word):
/// what `mov32 r2, r5; add32 r5, 1` leaves between r5 and r2, so that a
/// compare of r2 bounds r5 too, as in a rotated loop that tests the old
/// index after incrementing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Offset {
    base: u8,
    add: u64,
    width: Width,
}

impl Offset {
    /// The range of `base + add` for `base` in `b`, if no value wraps or
    /// every value does.
    fn apply(self, b: Range) -> Option<Range> {
        let (modulus, add) = match self.width {
            Width::W32 if b.is_narrow() => (1u128 << 32, u128::from(self.add as u32)),
            Width::W32 => return None,
            Width::W64 => (1u128 << 64, u128::from(self.add)),
        };
        let (lo, hi) = (u128::from(b.lo) + add, u128::from(b.hi) + add);
        let (lo, hi) = if hi < modulus {
            (lo, hi)
        } else if lo >= modulus {
            (lo - modulus, hi - modulus)
        } else {
            return None;
        };
        Some(Range { lo: u64::try_from(lo).ok()?, hi: u64::try_from(hi).ok()? })
    }
}

impl State {
    fn new(range: [Range; Reg::COUNT]) -> Self {
        let mut same = [0u16; Reg::COUNT];
        for (i, m) in same.iter_mut().enumerate() {
            *m = 1 << i;
        }
        State { range, same, le: same, offset: [None; Reg::COUNT] }
    }

    /// Every `i <= j` this state implies: recorded ones, equal values, and
    /// intervals that do not overlap, closed under transitivity.
    fn order(&self) -> [u16; Reg::COUNT] {
        let mut le = self.le;
        for (i, m) in le.iter_mut().enumerate() {
            *m |= self.same[i] | (1 << i);
            for (j, r) in self.range.iter().enumerate() {
                if self.range[i].hi <= r.lo {
                    *m |= 1 << j;
                }
            }
        }
        for k in 0..Reg::COUNT {
            for i in 0..Reg::COUNT {
                if le[i] & (1 << k) != 0 {
                    le[i] |= le[k];
                }
            }
        }
        le
    }

    /// True if `a <= b` holds in this state.
    fn at_most(&self, a: Reg, b: Reg) -> bool {
        self.order().get(a.index()).is_some_and(|m| m & b.bit() != 0)
    }

    /// Records `a <= b` for every copy of `a` and of `b`.
    fn record_at_most(&mut self, a: Reg, b: Reg) {
        let ca = self.same.get(a.index()).copied().unwrap_or(0) | a.bit();
        let cb = self.same.get(b.index()).copied().unwrap_or(0) | b.bit();
        for (i, m) in self.le.iter_mut().enumerate() {
            if ca & (1 << i) != 0 {
                *m |= cb;
            }
        }
    }

    /// This state as first stored at an instruction: the order it implies
    /// made explicit, so that joins only ever remove facts.
    fn stored(mut self) -> Self {
        self.le = self.order();
        self
    }
}

/// Joins `new` into `old`, widening with `widen`'s thresholds if given;
/// true if `old` changed.
fn join_into(old: &mut State, new: &State, widen: Option<&[u64]>) -> bool {
    let mut changed = false;
    let order = new.order();
    for (o, n) in old.le.iter_mut().zip(order) {
        if *o & n != *o {
            *o &= n;
            changed = true;
        }
    }
    for (o, n) in old.range.iter_mut().zip(&new.range) {
        let mut j = o.join(*n);
        if let Some(t) = widen {
            j = j.widen(*o, t);
        }
        if j != *o {
            *o = j;
            changed = true;
        }
    }
    for (o, n) in old.same.iter_mut().zip(&new.same) {
        if *o & n != *o {
            *o &= n;
            changed = true;
        }
    }
    for (o, n) in old.offset.iter_mut().zip(&new.offset) {
        if o.is_some() && *o != *n {
            *o = None;
            changed = true;
        }
    }
    changed
}

fn get(s: &State, r: Reg) -> Range {
    s.range.get(r.index()).copied().unwrap_or(TOP)
}

/// `r` gets a new value `v`: it is no longer a copy of anything.
fn set(s: &mut State, r: Reg, v: Range) {
    let i = r.index();
    if let Some(x) = s.range.get_mut(i) {
        *x = v;
    }
    for (j, m) in s.same.iter_mut().enumerate() {
        *m = if j == i { 1 << i } else { *m & !(1 << i) };
    }
    for (j, m) in s.le.iter_mut().enumerate() {
        *m = if j == i { 1 << i } else { *m & !(1 << i) };
    }
    for (j, o) in s.offset.iter_mut().enumerate() {
        if j == i || o.is_some_and(|o| usize::from(o.base) == i) {
            *o = None;
        }
    }
}

/// `dst` becomes a copy of `src`.
fn copy(s: &mut State, dst: Reg, src: Reg) {
    if dst == src {
        return;
    }
    let v = get(s, src);
    set(s, dst, v);
    let class = s.same.get(src.index()).copied().unwrap_or(0) | dst.bit();
    for (j, m) in s.same.iter_mut().enumerate() {
        if class & (1 << j) != 0 {
            *m = class;
        }
    }
    // What is at most src is at most dst, and dst is at most what src is.
    let above = s.le.get(src.index()).copied().unwrap_or(0);
    for m in s.le.iter_mut() {
        if *m & src.bit() != 0 {
            *m |= dst.bit();
        }
    }
    if let Some(m) = s.le.get_mut(dst.index()) {
        *m = above | dst.bit();
    }
    let o = s.offset.get(src.index()).copied().flatten();
    if let Some(slot) = s.offset.get_mut(dst.index()) {
        *slot = o;
    }
}

/// After `dst += k` at `width` (`k` already negated for a subtraction):
/// `dst` is a copy it had before plus `k`.
fn add_offset(s: &mut State, dst: Reg, k: u64, width: Width, before: &State) {
    let class = before.same.get(dst.index()).copied().unwrap_or(0) & !dst.bit();
    if class == 0 {
        return;
    }
    let base = class.trailing_zeros() as u8;
    if let Some(slot) = s.offset.get_mut(dst.index()) {
        *slot = Some(Offset { base, add: k, width });
    }
}

/// Narrows `r` and every register holding the same value to `v`, and
/// every register that is one of them plus a constant.
fn narrow_to(s: &mut State, r: Reg, v: Range) {
    let class = s.same.get(r.index()).copied().unwrap_or(r.bit()) | r.bit();
    for (j, x) in s.range.iter_mut().enumerate() {
        if class & (1 << j) != 0 {
            *x = v;
        }
    }
    for (x, o) in s.range.iter_mut().zip(s.offset) {
        let Some(o) = o.filter(|o| class & (1 << o.base) != 0) else { continue };
        if let Some(d) = o.apply(v) {
            let n = Range { lo: x.lo.max(d.lo), hi: x.hi.min(d.hi) };
            // An empty meet means this edge is never taken; keeping the
            // old range is still sound.
            if n.lo <= n.hi {
                *x = n;
            }
        }
    }
}

fn operand(s: &State, src: Source, width: Width) -> Range {
    match (src, width) {
        (Source::Reg(r), Width::W64) => get(s, r),
        (Source::Reg(r), Width::W32) => get(s, r).low32(),
        (Source::Imm(k), Width::W64) => Range::exact(i64::from(k) as u64),
        (Source::Imm(k), Width::W32) => Range::exact(u64::from(k as u32)),
    }
}

/// The range of `a op b` computed at `width` (operands already taken at
/// that width).
fn alu(op: AluOp, a: Range, b: Range, width: Width) -> Range {
    let bits = match width {
        Width::W32 => 32,
        Width::W64 => 64,
    };
    // A constant that is negative at this width adds as a subtraction of
    // its magnitude (modulo 2^bits) and subtracts as an addition.
    let negated = match width {
        _ if b.lo != b.hi => None,
        Width::W64 if b.lo > i64::MAX as u64 => Some(b.lo.wrapping_neg()),
        Width::W32 if b.lo > i32::MAX as u64 => Some((1u64 << 32) - b.lo),
        _ => None,
    };
    let r = match op {
        AluOp::Mov => b,
        AluOp::Add => match negated {
            Some(n) => a.sub(Range::exact(n)),
            None => a.add(b),
        },
        AluOp::Sub => match negated {
            Some(n) => a.add(Range::exact(n)),
            None => a.sub(b),
        },
        AluOp::Mul => a.mul(b),
        // Division by zero gives 0 and modulo by zero the dividend: both
        // are at most the dividend, like every other quotient/remainder.
        AluOp::Div if b.lo > 0 => Range { lo: a.lo / b.hi, hi: a.hi / b.lo },
        AluOp::Div | AluOp::Mod => Range { lo: 0, hi: a.hi },
        AluOp::And => Range { lo: 0, hi: a.hi.min(b.hi) },
        AluOp::Or => Range { lo: a.lo.max(b.lo), hi: Range::mask_of(a.hi | b.hi) },
        AluOp::Xor => Range { lo: 0, hi: Range::mask_of(a.hi | b.hi) },
        AluOp::Rsh if b.lo == b.hi && b.lo < bits => Range { lo: a.lo >> b.lo, hi: a.hi >> b.lo },
        AluOp::Rsh => Range { lo: 0, hi: a.hi },
        AluOp::Lsh if b.lo == b.hi && b.lo < bits && a.hi <= u64::MAX >> b.lo => {
            Range { lo: a.lo << b.lo, hi: a.hi << b.lo }
        }
        AluOp::Lsh | AluOp::Arsh | AluOp::SDiv | AluOp::SMod | AluOp::MovSx(_) => TOP,
    };
    match width {
        Width::W64 => r,
        Width::W32 if r.is_narrow() => r,
        Width::W32 => TOP32,
    }
}

/// Narrows `b`, the base of a `size`-byte access at `b + off` that
/// succeeded, given that every region byte lies below `limit`.
fn after_access(b: Range, off: i16, size: MemSize, limit: u64) -> Range {
    let size = u64::from(size.bytes());
    let off_abs = u64::from(off.unsigned_abs());
    // The address a = b + off satisfies a + size <= limit.
    let bound = if off >= 0 {
        // Only if no value of b wraps when the offset is added.
        if b.hi.checked_add(off_abs).is_none() {
            return b;
        }
        limit.checked_sub(size + off_abs)
    } else {
        // a = b - |off| wrapping below zero would land above the limit
        // (|off| <= 2^15), so b >= |off| and b = a + |off|.
        if limit > u64::MAX - (1 << 15) {
            return b;
        }
        limit.checked_sub(size).map(|x| x + off_abs)
    };
    match bound {
        Some(h) if h >= b.lo => Range { lo: b.lo, hi: b.hi.min(h) },
        _ => b,
    }
}

/// The ranges on the taken (`true`) or fall-through edge of a jump.
/// Returns false if no value can take the edge (the refined interval is
/// empty): the edge then carries no state at all.
fn refine(s: &mut State, width: Width, cond: JmpCond, dst: Reg, src: Source, taken: bool) -> bool {
    let a = get(s, dst);
    let b = operand(s, src, width);
    // A 32-bit compare is the 64-bit compare when both sides fit; signed
    // compares are unsigned ones when neither side has its sign bit.
    if width == Width::W32 && !a.is_narrow() {
        return true;
    }
    let smax = match width {
        Width::W32 => i32::MAX as u64,
        Width::W64 => i64::MAX as u64,
    };
    let signed_ok = a.hi <= smax && b.hi <= smax;
    use JmpCond::*;
    let cond = match cond {
        Sgt if signed_ok => Gt,
        Sge if signed_ok => Ge,
        Slt if signed_ok => Lt,
        Sle if signed_ok => Le,
        c => c,
    };
    // Normalise to the condition that holds on this edge.
    let holds = match (cond, taken) {
        (c, true) => c,
        (Eq, false) => Ne,
        (Ne, false) => Eq,
        (Lt, false) => Ge,
        (Ge, false) => Lt,
        (Gt, false) => Le,
        (Le, false) => Gt,
        _ => return true,
    };
    let mut r = a;
    match holds {
        Eq => {
            r = Range { lo: a.lo.max(b.lo), hi: a.hi.min(b.hi) };
        }
        Ne if b.lo == b.hi => {
            if a.lo == b.lo {
                r.lo = a.lo.saturating_add(1);
            }
            if a.hi == b.lo {
                r.hi = a.hi.saturating_sub(1);
            }
        }
        Lt if b.hi > 0 => r.hi = a.hi.min(b.hi - 1),
        Le => r.hi = a.hi.min(b.hi),
        Gt if b.lo < u64::MAX => r.lo = a.lo.max(b.lo + 1),
        Ge => r.lo = a.lo.max(b.lo),
        _ => {}
    }
    if r.lo > r.hi {
        return false;
    }
    narrow_to(s, dst, r);
    // Between two registers the edge also orders them (a 32-bit compare
    // only when both values fit, so that it compares the values).
    if let Source::Reg(o) = src {
        if width == Width::W64 || get(s, o).is_narrow() {
            match holds {
                Eq => {
                    s.record_at_most(dst, o);
                    s.record_at_most(o, dst);
                }
                Lt | Le => s.record_at_most(dst, o),
                Gt | Ge => s.record_at_most(o, dst),
                _ => {}
            }
        }
    }
    true
}

/// The state after `insn` when it completes (not for jumps' edges, calls
/// or exits, which [`analyse`] handles).
fn transfer(insn: &Insn, s: &mut State, limit: u64, data_sizes: &[u64]) {
    match *insn {
        Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src: Source::Reg(r) } => {
            copy(s, dst, r)
        }
        Insn::Alu { width: Width::W32, op: AluOp::Mov, dst, src: Source::Reg(r) }
            if get(s, r).is_narrow() =>
        {
            copy(s, dst, r)
        }
        // A register minus one known to be at most it cannot wrap (both
        // fit in 32 bits for a 32-bit subtraction, which then is the
        // 64-bit one).
        Insn::Alu { width, op: AluOp::Sub, dst, src: Source::Reg(r) }
            if s.at_most(r, dst)
                && (width == Width::W64 || (get(s, dst).is_narrow() && get(s, r).is_narrow())) =>
        {
            let (a, b) = (get(s, dst), get(s, r));
            set(s, dst, Range { lo: a.lo.saturating_sub(b.hi), hi: a.hi.saturating_sub(b.lo) });
        }
        Insn::Alu { width, op, dst, src } => {
            let a = match width {
                Width::W64 => get(s, dst),
                Width::W32 => get(s, dst).low32(),
            };
            let b = operand(s, src, width);
            let before = *s;
            set(s, dst, alu(op, a, b, width));
            let k = match (op, src, width) {
                (AluOp::Add, Source::Imm(k), _) => Some(i64::from(k) as u64),
                (AluOp::Sub, Source::Imm(k), _) => Some((i64::from(k) as u64).wrapping_neg()),
                _ => None,
            };
            if let Some(k) = k {
                add_offset(s, dst, k, width, &before);
            }
        }
        Insn::Neg { width, dst } => set(
            s,
            dst,
            match width {
                Width::W32 => TOP32,
                Width::W64 => TOP,
            },
        ),
        Insn::Endian { order, bits, dst } => {
            let v = match (order, bits) {
                (ByteOrder::ToLe, 64) => get(s, dst),
                (_, 64) => TOP,
                (_, b) => Range { lo: 0, hi: (1u64 << b) - 1 },
            };
            set(s, dst, v);
        }
        Insn::LoadImm64 { dst, imm } => set(s, dst, Range::exact(imm)),
        Insn::LoadDataAddr { dst, region, offset } => {
            // Every byte of the region lies below the limit, so its base is
            // at most `limit - size`; the verifier keeps `offset <= size`.
            let size = usize::try_from(region).ok().and_then(|r| data_sizes.get(r)).copied();
            let hi = match size {
                Some(size) => limit.saturating_sub(size).saturating_add(u64::from(offset)),
                None => limit.saturating_sub(1),
            };
            set(s, dst, Range { lo: 0, hi: hi.min(limit) })
        }
        Insn::Load { size, dst, src, off } => {
            let b = after_access(get(s, src), off, size, limit);
            narrow_to(s, src, b);
            let v = match size {
                MemSize::DW => TOP,
                _ => Range { lo: 0, hi: (1u64 << (8 * size.bytes())) - 1 },
            };
            set(s, dst, v);
        }
        Insn::LoadSx { size, dst, src, off } => {
            let b = after_access(get(s, src), off, size, limit);
            narrow_to(s, src, b);
            set(s, dst, TOP);
        }
        Insn::Store { size, dst, off, .. } => {
            let b = after_access(get(s, dst), off, size, limit);
            narrow_to(s, dst, b);
        }
        Insn::Atomic { size, op, fetch, dst, src, off } => {
            let b = after_access(get(s, dst), off, size, limit);
            narrow_to(s, dst, b);
            let old = match size {
                MemSize::DW => TOP,
                _ => TOP32,
            };
            if op == AtomicOp::CmpXchg {
                set(s, Reg::R0, old);
            } else if fetch || op == AtomicOp::Xchg {
                set(s, src, old);
            }
        }
        Insn::Call { .. } | Insn::CallReg { .. } => {
            for r in [Reg::R0, Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5] {
                set(s, r, TOP);
            }
        }
        Insn::CallLocal { .. }
        | Insn::Jmp { .. }
        | Insn::Ja { .. }
        | Insn::JaLong { .. }
        | Insn::Exit => {}
    }
}

/// Rounds of narrowing after the widened fixed point.
const NARROWING_ROUNDS: usize = 3;

/// The range of every register before every reachable instruction, by pc.
///
/// A worklist reaches a fixed point, widening at loop heads; then a few
/// rounds recompute every state from its predecessors without widening
/// (narrowing). Widening lets `i` in `i += 1; jlt i, 32` reach 255 at the
/// head; from that fixed point, a recomputation sees only `1..=31` come
/// round the back edge and brings it back to `0..=31`. Each round is sound:
/// applied to states that already over-approximate every run, the
/// transfer functions give states that still do.
pub fn register_ranges(prog: &VerifiedProgram, cfg: &RangeConfig) -> Ranges {
    let flow = Flow::new(prog, cfg);
    let (mut states, mut exits) = flow.fixed_point();
    for _ in 0..NARROWING_ROUNDS {
        (states, exits) = flow.recompute(&states, &exits);
    }
    flow.insns.iter().zip(states).filter_map(|(&(pc, _), s)| s.map(|s| (pc, s.range))).collect()
}

/// The program as a graph for the analysis: instructions, local calls and
/// their return points, where to widen.
struct Flow<'p> {
    prog: &'p VerifiedProgram,
    insns: Vec<(usize, Insn)>,
    index: BTreeMap<usize, usize>,
    /// Per function: (call pc, return pc) of every call to it.
    returns: Vec<Vec<(usize, usize)>>,
    widen_at: BTreeSet<usize>,
    /// Where widened bounds stop, sorted: [`THRESHOLDS`] and, for every
    /// compare against a constant `k`, `k - 1`, `k` and `k + 1` (the
    /// bounds its edges give), so that `i < 32` keeps `i` at 31.
    thresholds: Vec<u64>,
    data_sizes: Vec<u64>,
    limit: u64,
    entry: State,
}

impl<'p> Flow<'p> {
    fn new(prog: &'p VerifiedProgram, cfg: &RangeConfig) -> Self {
        let insns: Vec<(usize, Insn)> =
            femtoc_isa::decode_all(&prog.program.code).flatten().map(|d| (d.pc, d.insn)).collect();
        let index = insns.iter().enumerate().map(|(i, &(pc, _))| (pc, i)).collect();
        let mut returns: Vec<Vec<(usize, usize)>> = vec![Vec::new(); prog.functions.len()];
        for &(pc, insn) in &insns {
            if let Insn::CallLocal { .. } = insn {
                let callee = insn.branch_target(pc).and_then(|t| usize::try_from(t).ok());
                if let Some(f) =
                    callee.and_then(|t| prog.functions.iter().position(|f| f.start as usize == t))
                {
                    if let Some(v) = returns.get_mut(f) {
                        v.push((pc, pc + 1));
                    }
                }
            }
        }
        // Every cycle of the graph takes an edge to a pc at or before its
        // source (a backward jump, a call to an earlier function, a
        // return): widening only at those edges' targets ends every loop,
        // and every other instruction keeps the exact join of what
        // reaches it.
        let mut widen_at: BTreeSet<usize> =
            prog.back_edges.iter().map(|&(_, t)| t as usize).collect();
        widen_at.extend(prog.functions.iter().map(|f| f.start as usize));
        widen_at.extend(returns.iter().flatten().map(|&(_, ret)| ret));
        let mut thresholds: BTreeSet<u64> = THRESHOLDS.into_iter().collect();
        for &(_, insn) in &insns {
            if let Insn::Jmp { width, src: Source::Imm(k), .. } = insn {
                let k = match width {
                    Width::W64 => i64::from(k) as u64,
                    Width::W32 => u64::from(k as u32),
                };
                thresholds.extend([k.saturating_sub(1), k, k.saturating_add(1)]);
            }
        }
        let data_sizes = prog.program.data.iter().map(|d| u64::from(d.size)).collect();
        let mut range = [cfg.frame_pointer; Reg::COUNT];
        range[..10].copy_from_slice(&cfg.entry);
        Flow {
            prog,
            insns,
            index,
            returns,
            widen_at,
            thresholds: thresholds.into_iter().collect(),
            data_sizes,
            limit: cfg.address_limit,
            entry: State::new(range),
        }
    }

    /// The function whose exit `pc` is, if it is a callee.
    fn callee_of_exit(&self, pc: usize) -> Option<usize> {
        let f = self
            .prog
            .functions
            .iter()
            .position(|f| (f.start as usize..f.end as usize).contains(&pc))?;
        (f > 0).then_some(f)
    }

    /// The states instruction `i` (with state `s` before it) passes on, by
    /// target pc, given the callees' exit states `exits`. Exits pass
    /// nothing on here: their state flows to the return points of the
    /// calls.
    fn edges(&self, i: usize, mut s: State, exits: &[Option<State>]) -> Vec<(usize, State)> {
        let Some(&(pc, insn)) = self.insns.get(i) else { return Vec::new() };
        let next = pc + insn.slots();
        let target = insn.branch_target(pc).and_then(|t| usize::try_from(t).ok());
        let mut out = Vec::with_capacity(2);
        match insn {
            Insn::Jmp { width, cond, dst, src, .. } => {
                let mut t = s;
                if refine(&mut t, width, cond, dst, src, true) {
                    out.extend(target.map(|target| (target, t)));
                }
                if refine(&mut s, width, cond, dst, src, false) {
                    out.push((next, s));
                }
            }
            Insn::Ja { .. } | Insn::JaLong { .. } => out.extend(target.map(|t| (t, s))),
            Insn::CallLocal { .. } => {
                out.extend(target.map(|t| (t, s)));
                let callee = target
                    .and_then(|t| self.prog.functions.iter().position(|f| f.start as usize == t));
                match callee.map(|f| exits.get(f).copied().flatten()) {
                    Some(Some(e)) => {
                        let mut after = s;
                        join_into(&mut after, &e, None);
                        out.push((next, after));
                    }
                    // The callee never returned yet: its first exit
                    // brings the return point here again.
                    Some(None) => {}
                    None => {
                        let mut after = s;
                        for r in Reg::all().filter(|r| r.index() < 10) {
                            set(&mut after, r, TOP);
                        }
                        out.push((next, after));
                    }
                }
            }
            Insn::Exit => {}
            _ => {
                transfer(&insn, &mut s, self.limit, &self.data_sizes);
                out.push((next, s));
            }
        }
        out
    }

    /// The widened fixed point: states by instruction, and each callee's
    /// exit state.
    fn fixed_point(&self) -> (Vec<Option<State>>, Vec<Option<State>>) {
        let mut exits: Vec<Option<State>> = vec![None; self.prog.functions.len()];
        let mut states: Vec<Option<State>> = vec![None; self.insns.len()];
        let mut joins = vec![0u32; self.insns.len()];
        let mut work = Vec::new();
        if let Some(slot) = states.first_mut() {
            *slot = Some(self.entry);
            work.push(0usize);
        }
        while let Some(i) = work.pop() {
            let (Some(&(pc, insn)), Some(Some(s))) = (self.insns.get(i), states.get(i).copied())
            else {
                continue;
            };
            if let (Insn::Exit, Some(f)) = (insn, self.callee_of_exit(pc)) {
                let grew = match exits.get_mut(f) {
                    Some(Some(old)) => join_into(old, &s, None),
                    Some(slot) => {
                        *slot = Some(s);
                        true
                    }
                    None => false,
                };
                if grew {
                    // The calls pass the new exit state to their returns.
                    let sites = self.returns.get(f).map(Vec::as_slice).unwrap_or_default();
                    work.extend(sites.iter().filter_map(|(c, _)| self.index.get(c)));
                }
                continue;
            }
            for (to, st) in self.edges(i, s, &exits) {
                let Some(&j) = self.index.get(&to) else { continue };
                let grew = match states.get_mut(j) {
                    Some(Some(old)) => {
                        let n = joins.get(j).copied().unwrap_or(0);
                        if let Some(c) = joins.get_mut(j) {
                            *c = n + 1;
                        }
                        let widen = n >= WIDEN_AFTER && self.widen_at.contains(&to);
                        join_into(old, &st, widen.then_some(self.thresholds.as_slice()))
                    }
                    Some(slot) => {
                        *slot = Some(st.stored());
                        true
                    }
                    None => false,
                };
                if grew {
                    work.push(j);
                }
            }
        }
        (states, exits)
    }

    /// One round of narrowing: every state recomputed as the join of what
    /// its predecessors pass on, in pc order, so that a bound recovered at
    /// a loop head reaches the end of the loop in the same round. Edges to
    /// a pc at or before their source carry what the previous round's
    /// state at the source passes on; forward edges what the state just
    /// recomputed does. Return points use the previous round's exit
    /// states; this round's exits are the join of the new states there.
    fn recompute(
        &self,
        states: &[Option<State>],
        exits: &[Option<State>],
    ) -> (Vec<Option<State>>, Vec<Option<State>>) {
        let mut next: Vec<Option<State>> = vec![None; self.insns.len()];
        let mut next_exits: Vec<Option<State>> = vec![None; exits.len()];
        let into = |slot: Option<&mut Option<State>>, st: &State| match slot {
            Some(Some(old)) => {
                join_into(old, st, None);
            }
            Some(slot) => *slot = Some(st.stored()),
            None => {}
        };
        into(next.first_mut(), &self.entry);
        for (i, s) in states.iter().enumerate() {
            let (Some(s), Some(&(pc, _))) = (s, self.insns.get(i)) else { continue };
            for (to, st) in self.edges(i, *s, exits) {
                if to <= pc {
                    into(self.index.get(&to).and_then(|&j| next.get_mut(j)), &st);
                }
            }
        }
        for i in 0..self.insns.len() {
            let (Some(Some(s)), Some(&(pc, insn))) = (next.get(i).copied(), self.insns.get(i))
            else {
                continue;
            };
            if let (Insn::Exit, Some(f)) = (insn, self.callee_of_exit(pc)) {
                into(next_exits.get_mut(f), &s);
                continue;
            }
            for (to, st) in self.edges(i, s, exits) {
                if to > pc {
                    into(self.index.get(&to).and_then(|&j| next.get_mut(j)), &st);
                }
            }
        }
        (next, next_exits)
    }
}
