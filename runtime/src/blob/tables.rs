//! Typed views of the helper, data region and code section tables.
//!
//! The iterators decode entries that [`super::Blob::parse`] already checked;
//! they still read through bounds-checked accessors, so a bug elsewhere ends
//! an iteration early instead of panicking.

use crate::engine::{Engine, Features};

use super::{CODE_ENTRY_LEN, REGION_ENTRY_LEN};

/// Little-endian `u16` at `off`, if in bounds.
pub(super) fn le_u16(bytes: &[u8], off: usize) -> Option<u16> {
    let b = bytes.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// Little-endian `u32` at `off`, if in bounds.
pub(super) fn le_u32(bytes: &[u8], off: usize) -> Option<u32> {
    let b = bytes.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// What a data region holds, which decides its permissions and how it is
/// initialised at install.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// `.rodata`: read-only, initialised from the image (may stay in flash).
    ReadOnly,
    /// `.data`: read-write, initialised from the image at install.
    ReadWrite,
    /// `.bss`: read-write, zeroed at install; has no image.
    Zeroed,
}

impl RegionKind {
    /// The kind's byte in a region table entry.
    pub const fn code(self) -> u8 {
        match self {
            RegionKind::ReadOnly => 0,
            RegionKind::ReadWrite => 1,
            RegionKind::Zeroed => 2,
        }
    }

    /// The kind with table byte `code`.
    pub const fn from_code(code: u8) -> Option<RegionKind> {
        match code {
            0 => Some(RegionKind::ReadOnly),
            1 => Some(RegionKind::ReadWrite),
            2 => Some(RegionKind::Zeroed),
            _ => None,
        }
    }

    /// True if programs may write to regions of this kind.
    pub const fn writable(self) -> bool {
        !matches!(self, RegionKind::ReadOnly)
    }
}

/// The raw fields of one region table entry.
#[derive(Clone, Copy)]
pub(super) struct RawRegion {
    pub kind: u8,
    pub reserved: [u8; 3],
    pub size: u32,
    pub image_offset: u32,
    pub image_len: u32,
}

impl RawRegion {
    pub(super) fn read(bytes: &[u8], off: usize) -> Option<RawRegion> {
        let e = bytes.get(off..off.checked_add(REGION_ENTRY_LEN)?)?;
        Some(RawRegion {
            kind: *e.first()?,
            reserved: [*e.get(1)?, *e.get(2)?, *e.get(3)?],
            size: le_u32(e, 4)?,
            image_offset: le_u32(e, 8)?,
            image_len: le_u32(e, 12)?,
        })
    }
}

/// The raw fields of one code table entry.
#[derive(Clone, Copy)]
pub(super) struct RawCode {
    pub engine: u16,
    pub reserved: u16,
    pub features: u32,
    pub entry: u32,
    pub machine_stack: u32,
    pub code_offset: u32,
    pub code_len: u32,
}

impl RawCode {
    pub(super) fn read(bytes: &[u8], off: usize) -> Option<RawCode> {
        let e = bytes.get(off..off.checked_add(CODE_ENTRY_LEN)?)?;
        Some(RawCode {
            engine: le_u16(e, 0)?,
            reserved: le_u16(e, 2)?,
            features: le_u32(e, 4)?,
            entry: le_u32(e, 8)?,
            machine_stack: le_u32(e, 12)?,
            code_offset: le_u32(e, 16)?,
            code_len: le_u32(e, 20)?,
        })
    }
}

/// `len` bytes at `off`, if in bounds.
pub(super) fn slice_at(bytes: &[u8], off: u32, len: u32) -> Option<&[u8]> {
    let start = usize::try_from(off).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytes.get(start..end)
}

/// The imported helper ids, ascending.
#[derive(Clone, Debug)]
pub struct Helpers<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) off: usize,
    pub(super) left: u16,
}

impl Iterator for Helpers<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.left == 0 {
            return None;
        }
        let id = le_u32(self.bytes, self.off)?;
        self.off += 4;
        self.left -= 1;
        Some(id)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.left)))
    }
}

/// One data region: its kind, size and initial image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataRegion<'a> {
    /// Permissions and initialisation.
    pub kind: RegionKind,
    /// Size in bytes; bytes past the image start zeroed.
    pub size: u32,
    /// Initial contents (empty for [`RegionKind::Zeroed`]).
    pub image: &'a [u8],
}

/// The data regions, in region-index order.
#[derive(Clone, Debug)]
pub struct DataRegions<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) off: usize,
    pub(super) left: u16,
}

impl<'a> Iterator for DataRegions<'a> {
    type Item = DataRegion<'a>;

    fn next(&mut self) -> Option<DataRegion<'a>> {
        if self.left == 0 {
            return None;
        }
        let raw = RawRegion::read(self.bytes, self.off)?;
        let kind = RegionKind::from_code(raw.kind)?;
        let image = slice_at(self.bytes, raw.image_offset, raw.image_len)?;
        self.off += REGION_ENTRY_LEN;
        self.left -= 1;
        Some(DataRegion { kind, size: raw.size, image })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.left)))
    }
}

/// Machine code for one engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeSection<'a> {
    /// The engine the code is for.
    pub engine: Engine,
    /// Features this section needs beyond the blob-wide ones.
    pub own_features: Features,
    /// Everything a device needs to run this code: the blob-wide features
    /// and the section's own.
    pub features: Features,
    /// Byte offset of the entry point inside `code`.
    pub entry: u32,
    /// Machine stack bytes the code needs.
    pub machine_stack: u32,
    /// The code; 8-byte aligned relative to the blob's start.
    pub code: &'a [u8],
}

/// The code sections, in engine-id order.
#[derive(Clone, Debug)]
pub struct CodeSections<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) off: usize,
    pub(super) left: u16,
    pub(super) blob_features: Features,
}

impl<'a> Iterator for CodeSections<'a> {
    type Item = CodeSection<'a>;

    fn next(&mut self) -> Option<CodeSection<'a>> {
        if self.left == 0 {
            return None;
        }
        let raw = RawCode::read(self.bytes, self.off)?;
        let engine = Engine::from_id(raw.engine)?;
        let own_features = Features::from_bits(raw.features).ok()?;
        let code = slice_at(self.bytes, raw.code_offset, raw.code_len)?;
        self.off += CODE_ENTRY_LEN;
        self.left -= 1;
        Some(CodeSection {
            engine,
            own_features,
            features: self.blob_features | own_features,
            entry: raw.entry,
            machine_stack: raw.machine_stack,
            code,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.left)))
    }
}
