//! A container's memory at the fixed test addresses: stack, context and
//! data regions mapped where `femtoc_runtime::layout` says, so that every
//! engine sees the same pointer values.

use femtoc_isa::program::{DataKind, Program};
use femtoc_runtime::layout::{ArenaError, ArenaSpec, FixedArena, CONTEXT_BASE};
use femtoc_runtime::region::RegionError;
use femtoc_runtime::{MemRegion, RegionKind, Regions};

/// Final contents of one writable region, for comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionSnapshot {
    /// `stack`, `context` or the data region's name.
    pub name: String,
    /// Its bytes after the run.
    pub bytes: Vec<u8>,
}

/// The memory of one run at the fixed addresses. Holding it holds the
/// process-wide arena lock: runs in parallel threads take turns.
pub struct TestMemory {
    arena: FixedArena,
    context_len: Option<usize>,
    data: Vec<(String, DataKind)>,
}

impl TestMemory {
    /// Maps a zeroed stack of `stack_size` bytes, the context (a copy of
    /// `context`, writable) and the program's data regions with their images.
    pub fn new(
        program: &Program,
        context: Option<&[u8]>,
        stack_size: usize,
    ) -> Result<Self, ArenaError> {
        let spec = ArenaSpec {
            stack: stack_size,
            context: context.map_or(0, <[u8]>::len),
            data: program.data.iter().map(|d| d.size as usize).collect(),
            host: vec![],
        };
        let mut arena = FixedArena::new(&spec)?;
        let slices = arena.slices();
        if let Some(bytes) = context {
            slices.context.copy_from_slice(bytes);
        }
        for (slice, region) in slices.data.into_iter().zip(&program.data) {
            slice[..region.image.len()].copy_from_slice(&region.image);
        }
        Ok(TestMemory {
            arena,
            context_len: context.map(<[u8]>::len),
            data: program.data.iter().map(|d| (d.name.clone(), d.kind)).collect(),
        })
    }

    /// r1 and r2 at entry: the context's address and length, or zeros.
    pub fn entry_args(&self) -> (u64, u64) {
        match self.context_len {
            Some(len) => (CONTEXT_BASE, len as u64),
            None => (0, 0),
        }
    }

    /// The region table over this memory: stack, context, data regions in
    /// program order (so `lddw` src 6 index i is data region i).
    pub fn regions(&mut self) -> Result<Regions<'_>, RegionError> {
        let has_context = self.context_len.is_some();
        let slices = self.arena.slices();
        let mut regions = Regions::new(slices.stack);
        if has_context {
            regions.push(MemRegion::read_write(RegionKind::Context, slices.context))?;
        }
        for (slice, (_, kind)) in slices.data.into_iter().zip(&self.data) {
            let region = if kind.writable() {
                MemRegion::read_write(RegionKind::Data, slice)
            } else {
                MemRegion::read_only(RegionKind::Rodata, slice)
            };
            regions.push_data(region)?;
        }
        Ok(regions)
    }

    /// The writable regions' contents.
    pub fn snapshot(&mut self) -> Vec<RegionSnapshot> {
        let has_context = self.context_len.is_some();
        let slices = self.arena.slices();
        let mut out = vec![RegionSnapshot { name: "stack".into(), bytes: slices.stack.to_vec() }];
        if has_context {
            out.push(RegionSnapshot { name: "context".into(), bytes: slices.context.to_vec() });
        }
        for (slice, (name, kind)) in slices.data.into_iter().zip(&self.data) {
            if kind.writable() {
                out.push(RegionSnapshot { name: name.clone(), bytes: slice.to_vec() });
            }
        }
        out
    }
}
