//! The blob writer: lays out a program's code sections, data and bytecode in
//! the format `femtoc_runtime::blob` documents and reads.
//!
//! The writer refuses every input the reader would reject, so a blob it
//! returns always parses.

mod sign;

pub use sign::{SigningKey, WeakSeed};

use femtoc_isa::program::{DataKind, DataRegion};
use femtoc_runtime::blob::{
    crc32, RegionKind, CODE_ENTRY_LEN, CRC_LEN, FLAG_BYTECODE, FLAG_SIGNATURE, FORMAT_VERSION,
    HEADER_LEN, MAGIC, PAYLOAD_ALIGN, REGION_ENTRY_LEN, SIGNATURE_LEN,
};
use femtoc_runtime::engine::{Engine, Features};

/// Machine code for one engine.
#[derive(Clone, Copy, Debug)]
pub struct CodeSpec<'a> {
    /// The engine it runs on (never [`Engine::Interp`]).
    pub engine: Engine,
    /// Features it needs beyond [`BlobSpec::features`].
    pub features: Features,
    /// Byte offset of the entry point in `code`.
    pub entry: u32,
    /// Machine stack bytes it needs.
    pub machine_stack: u32,
    /// The position-independent code.
    pub code: &'a [u8],
}

/// Everything a blob holds.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlobSpec<'a> {
    /// Features every code section needs.
    pub features: Features,
    /// eBPF stack size in bytes.
    pub ebpf_stack: u32,
    /// Minimum context length the program was verified against.
    pub min_ctx_len: u32,
    /// Imported helper ids, in any order; repeats are dropped.
    pub helpers: &'a [u32],
    /// Data regions in region-index order.
    pub data: &'a [DataRegion],
    /// Code sections, in any order, at most one per engine.
    pub code: &'a [CodeSpec<'a>],
    /// The verified bytecode, if the blob should carry it.
    pub bytecode: Option<&'a [u64]>,
}

/// An input the blob format cannot represent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlobWriteError {
    /// Two code sections for one engine.
    #[error("two code sections for engine {0}")]
    DuplicateEngine(Engine),
    /// A code section for the interpreter, which runs the bytecode instead.
    #[error("engine interp takes bytecode, not a code section")]
    NotNative,
    /// A code section with no bytes.
    #[error("code section for {0} is empty")]
    EmptyCode(Engine),
    /// An entry point outside its code.
    #[error("code section for {engine}: entry {entry} is not inside its {len} bytes")]
    EntryOutOfRange {
        /// The section's engine.
        engine: Engine,
        /// Entry offset.
        entry: u32,
        /// Code length.
        len: usize,
    },
    /// An entry point the engine cannot branch to.
    #[error("code section for {engine}: entry {entry} is not a multiple of {align}")]
    EntryMisaligned {
        /// The section's engine.
        engine: Engine,
        /// Entry offset.
        entry: u32,
        /// Instruction alignment.
        align: u32,
    },
    /// More entries than a table's u16 count holds.
    #[error("{count} {what} exceed the format's limit of {max}", max = u16::MAX)]
    TooMany {
        /// What there are too many of.
        what: &'static str,
        /// How many.
        count: usize,
    },
    /// The blob would exceed 4 GiB (offsets are u32).
    #[error("blob would be {len} bytes, more than a u32 offset reaches")]
    TooLarge {
        /// Length it would have.
        len: u64,
    },
    /// A `.bss` region with an image.
    #[error("data region {index} ({name}): a zeroed region must have no image")]
    ZeroedWithImage {
        /// Region index.
        index: usize,
        /// Region name.
        name: String,
    },
    /// An image longer than its region.
    #[error("data region {index} ({name}): image of {image_len} bytes exceeds its size {size}")]
    ImageLargerThanRegion {
        /// Region index.
        index: usize,
        /// Region name.
        name: String,
        /// Image length.
        image_len: usize,
        /// Region size.
        size: u32,
    },
    /// Bytecode present but empty.
    #[error("the bytecode is empty")]
    BytecodeEmpty,
    /// More slots than an eBPF program may have.
    #[error("bytecode has {0} slots, more than {max}", max = femtoc_isa::MAX_INSNS)]
    BytecodeTooLong(usize),
}

fn region_kind(kind: DataKind) -> RegionKind {
    match kind {
        DataKind::ReadOnly => RegionKind::ReadOnly,
        DataKind::ReadWrite => RegionKind::ReadWrite,
        DataKind::Zeroed => RegionKind::Zeroed,
    }
}

fn count_u16(what: &'static str, count: usize) -> Result<u16, BlobWriteError> {
    u16::try_from(count).map_err(|_| BlobWriteError::TooMany { what, count })
}

fn offset_u32(value: u64) -> Result<u32, BlobWriteError> {
    u32::try_from(value).map_err(|_| BlobWriteError::TooLarge { len: value })
}

fn align_up(value: u64) -> u64 {
    value.next_multiple_of(u64::from(PAYLOAD_ALIGN))
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn pad_to(out: &mut Vec<u8>, offset: u32) {
    out.resize(offset as usize, 0);
}

/// Checks the code sections and returns them sorted by engine id.
fn sorted_code<'a>(code: &[CodeSpec<'a>]) -> Result<Vec<CodeSpec<'a>>, BlobWriteError> {
    let mut sorted = code.to_vec();
    sorted.sort_by_key(|c| c.engine);
    for pair in sorted.windows(2) {
        if let [a, b] = pair {
            if a.engine == b.engine {
                return Err(BlobWriteError::DuplicateEngine(a.engine));
            }
        }
    }
    for c in &sorted {
        if !c.engine.is_native() {
            return Err(BlobWriteError::NotNative);
        }
        if c.code.is_empty() {
            return Err(BlobWriteError::EmptyCode(c.engine));
        }
        if c.entry as usize >= c.code.len() {
            return Err(BlobWriteError::EntryOutOfRange {
                engine: c.engine,
                entry: c.entry,
                len: c.code.len(),
            });
        }
        let align = c.engine.insn_align();
        if !c.entry.is_multiple_of(align) {
            return Err(BlobWriteError::EntryMisaligned {
                engine: c.engine,
                entry: c.entry,
                align,
            });
        }
    }
    Ok(sorted)
}

fn check_data(data: &[DataRegion]) -> Result<(), BlobWriteError> {
    for (index, region) in data.iter().enumerate() {
        let name = || region.name.clone();
        if region.kind == DataKind::Zeroed && !region.image.is_empty() {
            return Err(BlobWriteError::ZeroedWithImage { index, name: name() });
        }
        if region.image.len() > region.size as usize {
            return Err(BlobWriteError::ImageLargerThanRegion {
                index,
                name: name(),
                image_len: region.image.len(),
                size: region.size,
            });
        }
    }
    Ok(())
}

/// Where each payload goes.
struct Layout {
    images: Vec<u32>,
    code: Vec<u32>,
    bytecode: u32,
    crc: u32,
    total: u32,
}

fn layout(
    tables_end: u64,
    data: &[DataRegion],
    code: &[CodeSpec<'_>],
    bytecode_len: u64,
    signed: bool,
) -> Result<Layout, BlobWriteError> {
    let mut cursor = tables_end;
    let mut place = |len: u64| -> Result<u32, BlobWriteError> {
        let at = align_up(cursor);
        cursor = at + len;
        offset_u32(at)
    };
    let mut images = Vec::with_capacity(data.len());
    for region in data {
        // Zeroed regions have no image; their offset field stays 0.
        let at =
            if region.kind == DataKind::Zeroed { 0 } else { place(region.image.len() as u64)? };
        images.push(at);
    }
    let mut code_offsets = Vec::with_capacity(code.len());
    for c in code {
        code_offsets.push(place(c.code.len() as u64)?);
    }
    let bytecode = if bytecode_len > 0 { place(bytecode_len)? } else { 0 };
    let crc = offset_u32(cursor)?;
    let sig = if signed { SIGNATURE_LEN as u64 } else { 0 };
    let total = offset_u32(cursor + CRC_LEN as u64 + sig)?;
    Ok(Layout { images, code: code_offsets, bytecode, crc, total })
}

/// Lays out `spec` as a blob, signed with `key` if given.
pub fn write_blob(
    spec: &BlobSpec<'_>,
    key: Option<&SigningKey>,
) -> Result<Vec<u8>, BlobWriteError> {
    let mut helpers = spec.helpers.to_vec();
    helpers.sort_unstable();
    helpers.dedup();
    let code = sorted_code(spec.code)?;
    check_data(spec.data)?;
    if let Some(slots) = spec.bytecode {
        if slots.is_empty() {
            return Err(BlobWriteError::BytecodeEmpty);
        }
        if slots.len() > femtoc_isa::MAX_INSNS {
            return Err(BlobWriteError::BytecodeTooLong(slots.len()));
        }
    }
    let helper_count = count_u16("helpers", helpers.len())?;
    let region_count = count_u16("data regions", spec.data.len())?;
    let code_count = count_u16("code sections", code.len())?;

    let tables_end = (HEADER_LEN
        + 4 * helpers.len()
        + REGION_ENTRY_LEN * spec.data.len()
        + CODE_ENTRY_LEN * code.len()) as u64;
    let bytecode_len = spec.bytecode.map_or(0, |s| s.len() as u64 * 8);
    let at = layout(tables_end, spec.data, &code, bytecode_len, key.is_some())?;

    let mut flags = 0;
    if spec.bytecode.is_some() {
        flags |= FLAG_BYTECODE;
    }
    if key.is_some() {
        flags |= FLAG_SIGNATURE;
    }
    let machine_stack = code.iter().map(|c| c.machine_stack).max().unwrap_or(0);

    let mut out = Vec::with_capacity(at.total as usize);
    out.extend_from_slice(&MAGIC);
    put_u16(&mut out, FORMAT_VERSION);
    put_u16(&mut out, HEADER_LEN as u16);
    put_u32(&mut out, at.total);
    put_u32(&mut out, flags);
    put_u32(&mut out, spec.features.bits());
    put_u32(&mut out, spec.ebpf_stack);
    put_u32(&mut out, machine_stack);
    put_u32(&mut out, spec.min_ctx_len);
    put_u16(&mut out, helper_count);
    put_u16(&mut out, region_count);
    put_u16(&mut out, code_count);
    put_u16(&mut out, 0);
    put_u32(&mut out, at.bytecode);
    put_u32(&mut out, offset_u32(bytecode_len)?);

    for id in &helpers {
        put_u32(&mut out, *id);
    }
    for (region, offset) in spec.data.iter().zip(&at.images) {
        out.push(region_kind(region.kind).code());
        out.extend_from_slice(&[0; 3]);
        put_u32(&mut out, region.size);
        put_u32(&mut out, *offset);
        // Fits: checked against `size`, a u32.
        put_u32(&mut out, region.image.len() as u32);
    }
    for (c, offset) in code.iter().zip(&at.code) {
        put_u16(&mut out, c.engine.id());
        put_u16(&mut out, 0);
        put_u32(&mut out, c.features.bits());
        put_u32(&mut out, c.entry);
        put_u32(&mut out, c.machine_stack);
        put_u32(&mut out, *offset);
        put_u32(&mut out, offset_u32(c.code.len() as u64)?);
    }

    for (region, offset) in spec.data.iter().zip(&at.images) {
        if region.kind != DataKind::Zeroed {
            pad_to(&mut out, *offset);
            out.extend_from_slice(&region.image);
        }
    }
    for (c, offset) in code.iter().zip(&at.code) {
        pad_to(&mut out, *offset);
        out.extend_from_slice(c.code);
    }
    if let Some(slots) = spec.bytecode {
        pad_to(&mut out, at.bytecode);
        for slot in slots {
            out.extend_from_slice(&slot.to_le_bytes());
        }
    }
    pad_to(&mut out, at.crc);
    let crc = crc32(&out);
    put_u32(&mut out, crc);
    if let Some(key) = key {
        let signature = key.sign(&out);
        out.extend_from_slice(&signature);
    }
    Ok(out)
}
