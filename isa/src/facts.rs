//! What the verifier proves about a program, in a form that needs no
//! allocation: the interpreter and the backends read these.

/// One function of a verified program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FunctionInfo {
    /// First slot.
    pub start: u32,
    /// One past the last slot.
    pub end: u32,
    /// Bytes of eBPF stack the function's frame takes: the deepest byte it
    /// can touch through r10 or pointers derived from r10 by constant
    /// arithmetic, rounded up to 8. For a function whose r10-derived pointer
    /// escapes that tracking (see `frame_tracked`), the rest of the stack
    /// below its deepest entry point.
    pub frame_size: u32,
    /// False if an r10-derived pointer escaped constant tracking, so the
    /// function was given the rest of the stack (it then makes no local calls).
    pub frame_tracked: bool,
    /// Deepest byte offset below the caller's r10 at which this function's
    /// frame can start, over every call path (0 for the entry function).
    pub max_entry_depth: u32,
}

/// A verified program as the engines see it: borrowed, `no_std`.
#[derive(Clone, Copy, Debug)]
pub struct VerifiedRef<'a> {
    /// Bytecode slots (little-endian `u64`s); slot 0 is the entry.
    pub code: &'a [u64],
    /// Functions sorted by `start`; the first is the entry.
    pub functions: &'a [FunctionInfo],
    /// Bytes of stack the whole call tree can use (the part zeroed per run).
    pub stack_usage: u32,
    /// Context bytes the program is proven to read or write unconditionally
    /// at constant offsets before its first branch or call: every engine
    /// refuses to run with a shorter context, so compiled code may access
    /// those bytes without a check.
    pub min_ctx_len: u32,
}

impl VerifiedRef<'_> {
    /// The function whose body contains slot `pc`.
    pub fn function_at(&self, pc: u32) -> Option<&FunctionInfo> {
        let i = self.functions.partition_point(|f| f.start <= pc);
        let f = self.functions.get(i.checked_sub(1)?)?;
        (pc < f.end).then_some(f)
    }
}
