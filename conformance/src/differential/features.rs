//! Program features the generator reports producing, so that tests can
//! check that every class of behaviour is actually exercised.

/// One class of behaviour a generated case exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    /// A shift by an immediate at least the operand width, or by a register.
    ShiftOverWidth,
    /// Division or modulo by an immediate or register zero.
    DivByZero,
    /// Signed division or modulo of INT_MIN by -1.
    DivMinByMinusOne,
    /// `lddw` of an immediate.
    Lddw,
    /// Forward conditional jump over a block (if / if-else).
    ForwardJump,
    /// A conditional early `exit`.
    EarlyExit,
    /// A loop that terminates by its counter.
    CountedLoop,
    /// A loop only the budget ends (generated only when there is a budget).
    UnboundedLoop,
    /// A loop inside a loop.
    NestedLoop,
    /// Stack access through r10 and a constant offset.
    StackAccess,
    /// Stack access through a constant-offset copy of r10.
    StackViaCopy,
    /// Atomic on a naturally aligned address.
    AlignedAtomic,
    /// Atomic on a misaligned address (faults).
    MisalignedAtomic,
    /// Context access fully inside the context.
    CtxInside,
    /// Context access straddling the start of the context.
    CtxAcrossStart,
    /// Context access straddling the end of the context.
    CtxAcrossEnd,
    /// Context access starting one past the end.
    CtxOnePast,
    /// Context access entirely before the start.
    CtxNegative,
    /// Context access far outside.
    CtxFarOutside,
    /// Context access through r1 before the first branch (sets the
    /// program's minimum context length).
    CtxPrefix,
    /// Access to a data region through `lddw` src 6.
    DataAccess,
    /// A store or atomic on a read-only data region (faults).
    RodataWrite,
    /// Helper 5 with r1 != 0.
    HelperUnwind,
    /// Helper 5 with r1 == 0 (the run stops).
    HelperStop,
    /// Helper 6 ("mix").
    HelperMix,
    /// Helper 7 ("peek") with a pointer argument.
    HelperPeek,
    /// A local call.
    LocalCall,
    /// A local call from a callee.
    NestedLocalCall,
    /// A helper call passing registers the program has not written (their
    /// entry zeros).
    HelperUnwrittenArgs,
    /// A helper call right after a local call, passing what the callee left
    /// in r2..r5.
    HelperArgsFromCallee,
    /// Byte loads assembled into a halfword or word, in either byte order.
    BytePair,
}

impl Feature {
    /// Every feature.
    pub const ALL: [Feature; 31] = [
        Feature::ShiftOverWidth,
        Feature::DivByZero,
        Feature::DivMinByMinusOne,
        Feature::Lddw,
        Feature::ForwardJump,
        Feature::EarlyExit,
        Feature::CountedLoop,
        Feature::UnboundedLoop,
        Feature::NestedLoop,
        Feature::StackAccess,
        Feature::StackViaCopy,
        Feature::AlignedAtomic,
        Feature::MisalignedAtomic,
        Feature::CtxInside,
        Feature::CtxAcrossStart,
        Feature::CtxAcrossEnd,
        Feature::CtxOnePast,
        Feature::CtxNegative,
        Feature::CtxFarOutside,
        Feature::CtxPrefix,
        Feature::DataAccess,
        Feature::RodataWrite,
        Feature::HelperUnwind,
        Feature::HelperStop,
        Feature::HelperMix,
        Feature::HelperPeek,
        Feature::LocalCall,
        Feature::NestedLocalCall,
        Feature::HelperUnwrittenArgs,
        Feature::HelperArgsFromCallee,
        Feature::BytePair,
    ];

    fn bit(self) -> u64 {
        let i = Feature::ALL.iter().position(|f| *f == self).unwrap_or(63);
        1 << i
    }
}

/// A set of [`Feature`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeatureSet(u64);

impl FeatureSet {
    /// Adds `f`.
    pub fn insert(&mut self, f: Feature) {
        self.0 |= f.bit();
    }

    /// True if `f` is in the set.
    pub fn contains(self, f: Feature) -> bool {
        self.0 & f.bit() != 0
    }

    /// Adds every feature of `other`.
    pub fn union(&mut self, other: FeatureSet) {
        self.0 |= other.0;
    }

    /// Features of [`Feature::ALL`] not in the set.
    pub fn missing(self) -> Vec<Feature> {
        Feature::ALL.into_iter().filter(|f| !self.contains(*f)).collect()
    }
}
