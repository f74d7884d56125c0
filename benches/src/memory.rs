//! The memory one benchmark run sees: heap buffers at whatever addresses
//! the allocator gives (the interpreter needs no fixed layout), set up once
//! outside the timed loop.

use femtoc_isa::program::Program;
use femtoc_runtime::region::RegionError;
use femtoc_runtime::{AlignedBytes, MemRegion, RegionKind, Regions, RunArgs};

/// eBPF stack every engine gets (rbpf's fixed size, femtoc's default).
pub const STACK_SIZE: usize = 512;

/// Stack, context and data regions of one program's runs.
#[derive(Clone, Debug)]
pub struct HostMemory {
    stack: Vec<u8>,
    context: Vec<u8>,
    data: Vec<(AlignedBytes, bool)>,
}

impl HostMemory {
    /// A zeroed stack, a copy of `context` and `program`'s data regions
    /// with their images.
    pub fn new(program: &Program, context: &[u8]) -> Self {
        let data = program
            .data
            .iter()
            .map(|d| (AlignedBytes::with_image(&d.image, d.size as usize), d.kind.writable()))
            .collect();
        HostMemory { stack: vec![0; STACK_SIZE], context: context.to_vec(), data }
    }

    /// r1 = the context's address, r2 = its length, no budget.
    pub fn run_args(&self) -> RunArgs {
        RunArgs { r1: self.context.as_ptr() as u64, r2: self.context.len() as u64, budget: None }
    }

    /// The region table: stack, context, then the data regions in program
    /// order (so `lddw` src 6 index i is data region i).
    pub fn regions(&mut self) -> Result<Regions<'_>, RegionError> {
        let mut regions = Regions::new(&mut self.stack);
        regions.push(MemRegion::read_write(RegionKind::Context, &mut self.context))?;
        for (bytes, writable) in &mut self.data {
            let region = if *writable {
                MemRegion::read_write(RegionKind::Data, bytes)
            } else {
                MemRegion::read_only(RegionKind::Rodata, bytes)
            };
            regions.push_data(region)?;
        }
        Ok(regions)
    }
}
