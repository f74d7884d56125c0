//! The blob: what is installed on a device, and its zero-copy reader.
//!
//! A blob carries a program in every form a device may run: machine code for
//! one or more engines, optionally the verified bytecode for the interpreter,
//! and the data regions both need. [`Blob::parse`] checks all of it without
//! allocating and without panicking, then hands out borrowed views.
//!
//! # Format, version 3
//!
//! All integers are little-endian. Offsets are byte offsets from the first
//! byte of the blob. Every field is read byte-wise, so the blob itself may
//! sit at any address; to execute code in place, place the blob at an
//! address that is a multiple of 8 (code sections are 8-aligned relative to
//! the blob's start).
//!
//! ## Header (48 bytes at offset 0)
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | `[u8; 4]` | magic [`MAGIC`], `"FCBL"` |
//! | 4 | `u16` | format version, [`FORMAT_VERSION`] |
//! | 6 | `u16` | header length, [`HEADER_LEN`] (48) |
//! | 8 | `u32` | total length of the blob in bytes, signature included |
//! | 12 | `u32` | flags: bit 0 [`FLAG_BYTECODE`], bit 1 [`FLAG_SIGNATURE`]; other bits must be 0 |
//! | 16 | `u32` | features every code section needs ([`Features`] bits) |
//! | 20 | `u32` | eBPF stack size in bytes |
//! | 24 | `u32` | machine stack size: the largest of the code sections' (0 without code) |
//! | 28 | `u32` | minimum context length in bytes |
//! | 32 | `u16` | helper count `H` |
//! | 34 | `u16` | data region count `R` |
//! | 36 | `u16` | code section count `C` |
//! | 38 | `u16` | reserved, 0 |
//! | 40 | `u32` | bytecode offset (0 when absent) |
//! | 44 | `u32` | bytecode length in bytes (0 when absent) |
//!
//! ## Tables (right after the header, no padding)
//!
//! 1. Helper table at 48: `H` × `u32` helper ids, strictly ascending.
//! 2. Region table at `48 + 4H`: `R` entries of 16 bytes, in region-index
//!    order (the index src-6 `lddw`s name):
//!
//!    | offset | type | field |
//!    |---|---|---|
//!    | 0 | `u8` | kind: 0 read-only (`.rodata`), 1 read-write (`.data`), 2 zeroed (`.bss`) |
//!    | 1 | `[u8; 3]` | reserved, 0 |
//!    | 4 | `u32` | region size in bytes |
//!    | 8 | `u32` | image offset (0 for zeroed regions) |
//!    | 12 | `u32` | image length, at most the size (0 for zeroed regions) |
//!
//! 3. Code table at `48 + 4H + 16R`: `C` entries of 24 bytes, engine ids
//!    strictly ascending (so each engine at most once), never the
//!    interpreter's:
//!
//!    | offset | type | field |
//!    |---|---|---|
//!    | 0 | `u16` | engine id ([`Engine::id`]) |
//!    | 2 | `u16` | reserved, 0 |
//!    | 4 | `u32` | features this section needs beyond the header's |
//!    | 8 | `u32` | entry: byte offset inside the code, below its length, a multiple of [`Engine::insn_align`] |
//!    | 12 | `u32` | machine stack bytes the code needs |
//!    | 16 | `u32` | code offset |
//!    | 20 | `u32` | code length, not 0 |
//!
//! The tables end at `T = 48 + 4H + 16R + 24C`.
//!
//! ## Payloads
//!
//! From `T` on: the images of the non-zeroed regions in region order, then
//! the code of each section in table order, then the bytecode. Each payload
//! starts at a multiple of [`PAYLOAD_ALIGN`] (8), at or after the end of the
//! one before it (or of the tables); the padding between them is written as
//! zeros. Zero-length images follow the same rule. The bytecode, present
//! exactly when [`FLAG_BYTECODE`] is set, is whole 8-byte slots, at least
//! one and at most [`femtoc_isa::MAX_INSNS`].
//!
//! ## Trailer
//!
//! Let `S` be 64 if [`FLAG_SIGNATURE`] is set, else 0. At `total - 4 - S`:
//! a `u32` CRC-32 (IEEE 802.3, the zlib/PNG CRC) of every byte before it.
//! Every payload ends at or before the CRC. If signed, the last 64 bytes are
//! an Ed25519 signature of every byte before them, CRC included.
//!
//! ## Versioning
//!
//! [`FORMAT_VERSION`] changes whenever the layout changes *and* whenever the
//! native ABI ([`NATIVE_ABI_VERSION`]) changes, because a runtime must never
//! call code compiled against another ABI: a device rejects every version it
//! does not know, so old code can never run on a new runtime by accident.
//!
//! ## Checks, in order
//!
//! Header length, magic, version, header length field, total length against
//! the bytes given (short: [`BlobError::Truncated`], long:
//! [`BlobError::TrailingBytes`]; [`blob_len`] finds the length of a blob
//! followed by other bytes), flags, CRC, then the structure. So corruption
//! shows as one of the first errors, and a structural error after a good CRC
//! means the writer broke the format. The signature is checked separately
//! ([`Blob::verify_signature`], feature `ed25519`); a device that requires
//! signatures must call it and must not fall back to the bytecode of a blob
//! that failed any check.

mod error;
mod tables;

pub use error::{BlobError, Place};
pub use tables::{CodeSection, CodeSections, DataRegion, DataRegions, Helpers, RegionKind};

use crate::engine::{Engine, Features};
use tables::{le_u16, le_u32, slice_at, RawCode, RawRegion};

/// The first four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"FCBL";
/// The blob format version this runtime reads and the compiler writes.
pub const FORMAT_VERSION: u16 = 3;
/// Version of the native ABI that code sections are compiled against
/// (defined with the ABI); changing it requires a new [`FORMAT_VERSION`].
pub use crate::abi::NATIVE_ABI_VERSION;
/// Length of the version-1 header.
pub const HEADER_LEN: usize = 48;
/// Length of a data region table entry.
pub const REGION_ENTRY_LEN: usize = 16;
/// Length of a code table entry.
pub const CODE_ENTRY_LEN: usize = 24;
/// Alignment of every payload's offset.
pub const PAYLOAD_ALIGN: u32 = 8;
/// Length of the CRC.
pub const CRC_LEN: usize = 4;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Flag: the blob carries bytecode.
pub const FLAG_BYTECODE: u32 = 1 << 0;
/// Flag: the blob ends with an Ed25519 signature.
pub const FLAG_SIGNATURE: u32 = 1 << 1;
/// Every flag this version defines.
pub const FLAGS_ALL: u32 = FLAG_BYTECODE | FLAG_SIGNATURE;

/// The CRC-32 (IEEE) the blob uses. Bitwise rather than table-driven: it
/// runs once per install, and a 1 KiB table would cost more flash than the
/// whole loader.
pub fn crc32(bytes: &[u8]) -> u32 {
    const CRC: crc::Crc<u32, crc::NoTable> =
        crc::Crc::<u32, crc::NoTable>::new(&crc::CRC_32_ISO_HDLC);
    CRC.checksum(bytes)
}

/// The total length a blob declares, from its header alone; lets a loader
/// cut a blob out of a flash partition or stream before parsing it.
pub fn blob_len(bytes: &[u8]) -> Result<usize, BlobError> {
    let header = bytes
        .get(..HEADER_LEN)
        .ok_or(BlobError::Truncated { needed: HEADER_LEN, got: bytes.len() })?;
    let magic = [header[0], header[1], header[2], header[3]];
    if magic != MAGIC {
        return Err(BlobError::BadMagic { found: magic });
    }
    let version = u16::from_le_bytes([header[4], header[5]]);
    if version != FORMAT_VERSION {
        return Err(BlobError::UnsupportedVersion { found: version });
    }
    let header_len = u16::from_le_bytes([header[6], header[7]]);
    if usize::from(header_len) != HEADER_LEN {
        return Err(BlobError::BadHeaderLength { found: header_len });
    }
    let total = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    usize::try_from(total)
        .map_err(|_| BlobError::Truncated { needed: usize::MAX, got: bytes.len() })
}

/// What a device should run: the decision of "Install, and when to
/// interpret".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode<'a> {
    /// Run this code natively.
    Native(CodeSection<'a>),
    /// Verify and interpret this bytecode (bytes, whole slots).
    Interpret(&'a [u8]),
}

/// A checked blob, borrowing its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Blob<'a> {
    bytes: &'a [u8],
    flags: u32,
    features: Features,
    ebpf_stack: u32,
    machine_stack: u32,
    min_ctx_len: u32,
    helper_count: u16,
    region_count: u16,
    code_count: u16,
    bytecode_offset: u32,
    bytecode_len: u32,
    crc_off: usize,
}

/// Header field at a fixed offset inside the (already length-checked) header.
fn hdr_u32(bytes: &[u8], off: usize) -> Result<u32, BlobError> {
    le_u32(bytes, off).ok_or(BlobError::Truncated { needed: HEADER_LEN, got: bytes.len() })
}

fn hdr_u16(bytes: &[u8], off: usize) -> Result<u16, BlobError> {
    le_u16(bytes, off).ok_or(BlobError::Truncated { needed: HEADER_LEN, got: bytes.len() })
}

/// Checks that a payload is aligned, follows `*cursor` and ends by `limit`,
/// then moves the cursor past it.
fn take_payload(
    place: Place,
    offset: u32,
    len: u32,
    cursor: &mut u64,
    limit: u64,
) -> Result<(), BlobError> {
    if !offset.is_multiple_of(PAYLOAD_ALIGN) {
        return Err(BlobError::Misaligned { place, offset });
    }
    if u64::from(offset) < *cursor {
        return Err(BlobError::Overlap { place, offset, previous_end: *cursor });
    }
    let end = u64::from(offset) + u64::from(len);
    if end > limit {
        return Err(BlobError::OutOfRange {
            place,
            offset: u64::from(offset),
            len: u64::from(len),
            limit,
        });
    }
    *cursor = end;
    Ok(())
}

impl<'a> Blob<'a> {
    /// Checks `bytes` (exactly one blob) and returns a view of it.
    pub fn parse(bytes: &'a [u8]) -> Result<Blob<'a>, BlobError> {
        let total = blob_len(bytes)?;
        if total > bytes.len() {
            return Err(BlobError::Truncated { needed: total, got: bytes.len() });
        }
        if total < bytes.len() {
            return Err(BlobError::TrailingBytes { total_len: total, got: bytes.len() });
        }
        let flags = hdr_u32(bytes, 12)?;
        if flags & !FLAGS_ALL != 0 {
            return Err(BlobError::UnknownFlags { bits: flags & !FLAGS_ALL });
        }
        let sig_len = if flags & FLAG_SIGNATURE != 0 { SIGNATURE_LEN } else { 0 };
        let min = HEADER_LEN + CRC_LEN + sig_len;
        if total < min {
            // `total` fits in u32 (it came from one) and so does `min`.
            return Err(BlobError::BadTotalLength { total_len: total as u32, min: min as u32 });
        }
        let crc_off = total - CRC_LEN - sig_len;
        let covered =
            bytes.get(..crc_off).ok_or(BlobError::Truncated { needed: total, got: bytes.len() })?;
        let stored = le_u32(bytes, crc_off)
            .ok_or(BlobError::Truncated { needed: total, got: bytes.len() })?;
        let computed = crc32(covered);
        if stored != computed {
            return Err(BlobError::BadCrc { stored, computed });
        }

        let blob = Blob {
            bytes,
            flags,
            features: Features::from_bits(hdr_u32(bytes, 16)?)
                .map_err(|bits| BlobError::UnknownFeatures { place: Place::Header, bits })?,
            ebpf_stack: hdr_u32(bytes, 20)?,
            machine_stack: hdr_u32(bytes, 24)?,
            min_ctx_len: hdr_u32(bytes, 28)?,
            helper_count: hdr_u16(bytes, 32)?,
            region_count: hdr_u16(bytes, 34)?,
            code_count: hdr_u16(bytes, 36)?,
            bytecode_offset: hdr_u32(bytes, 40)?,
            bytecode_len: hdr_u32(bytes, 44)?,
            crc_off,
        };
        if hdr_u16(bytes, 38)? != 0 {
            return Err(BlobError::ReservedNotZero { place: Place::Header });
        }
        blob.check_structure()?;
        Ok(blob)
    }

    /// Parses `bytes` and requires a signature by `public_key`.
    #[cfg(feature = "ed25519")]
    pub fn parse_signed(bytes: &'a [u8], public_key: &[u8; 32]) -> Result<Blob<'a>, BlobError> {
        let blob = Blob::parse(bytes)?;
        blob.verify_signature(public_key)?;
        Ok(blob)
    }

    fn helpers_off(&self) -> usize {
        HEADER_LEN
    }

    fn regions_off(&self) -> usize {
        HEADER_LEN + 4 * usize::from(self.helper_count)
    }

    fn code_off(&self) -> usize {
        self.regions_off() + REGION_ENTRY_LEN * usize::from(self.region_count)
    }

    fn tables_end(&self) -> usize {
        self.code_off() + CODE_ENTRY_LEN * usize::from(self.code_count)
    }

    /// Everything after the CRC check: tables, payload layout, entries.
    fn check_structure(&self) -> Result<(), BlobError> {
        let limit = self.crc_off as u64;
        let tables_end = self.tables_end() as u64;
        if tables_end > limit {
            return Err(BlobError::OutOfRange {
                place: Place::Tables,
                offset: HEADER_LEN as u64,
                len: tables_end - HEADER_LEN as u64,
                limit,
            });
        }
        self.check_helpers()?;
        let mut cursor = tables_end;
        self.check_regions(&mut cursor, limit)?;
        self.check_code(&mut cursor, limit)?;
        self.check_bytecode(&mut cursor, limit)
    }

    fn check_helpers(&self) -> Result<(), BlobError> {
        let mut previous: Option<u32> = None;
        for (index, id) in (0..self.helper_count).zip(self.helpers()) {
            if previous.is_some_and(|p| id <= p) {
                return Err(BlobError::HelpersNotAscending { index, id });
            }
            previous = Some(id);
        }
        Ok(())
    }

    fn check_regions(&self, cursor: &mut u64, limit: u64) -> Result<(), BlobError> {
        let truncated = BlobError::Truncated { needed: self.tables_end(), got: self.bytes.len() };
        for index in 0..self.region_count {
            let place = Place::DataRegion(index);
            let off = self.regions_off() + REGION_ENTRY_LEN * usize::from(index);
            let raw = RawRegion::read(self.bytes, off).ok_or(truncated)?;
            let kind = RegionKind::from_code(raw.kind)
                .ok_or(BlobError::UnknownRegionKind { index, kind: raw.kind })?;
            if raw.reserved != [0; 3] {
                return Err(BlobError::ReservedNotZero { place });
            }
            if kind == RegionKind::Zeroed {
                if raw.image_offset != 0 || raw.image_len != 0 {
                    return Err(BlobError::ZeroedWithImage { index });
                }
                continue;
            }
            if raw.image_len > raw.size {
                return Err(BlobError::ImageLargerThanRegion {
                    index,
                    image_len: raw.image_len,
                    size: raw.size,
                });
            }
            take_payload(place, raw.image_offset, raw.image_len, cursor, limit)?;
        }
        Ok(())
    }

    fn check_code(&self, cursor: &mut u64, limit: u64) -> Result<(), BlobError> {
        let truncated = BlobError::Truncated { needed: self.tables_end(), got: self.bytes.len() };
        let mut previous: Option<Engine> = None;
        let mut largest_stack = 0u32;
        for index in 0..self.code_count {
            let place = Place::Code(index);
            let off = self.code_off() + CODE_ENTRY_LEN * usize::from(index);
            let raw = RawCode::read(self.bytes, off).ok_or(truncated)?;
            let engine = Engine::from_id(raw.engine)
                .ok_or(BlobError::UnknownEngine { index, id: raw.engine })?;
            if !engine.is_native() {
                return Err(BlobError::NotNative { index });
            }
            if previous.is_some_and(|p| engine <= p) {
                return Err(BlobError::EnginesNotAscending { index, engine });
            }
            previous = Some(engine);
            if raw.reserved != 0 {
                return Err(BlobError::ReservedNotZero { place });
            }
            Features::from_bits(raw.features)
                .map_err(|bits| BlobError::UnknownFeatures { place, bits })?;
            if raw.code_len == 0 {
                return Err(BlobError::EmptyCode { index });
            }
            if raw.entry >= raw.code_len {
                return Err(BlobError::EntryOutOfRange {
                    index,
                    entry: raw.entry,
                    code_len: raw.code_len,
                });
            }
            let align = engine.insn_align();
            if !raw.entry.is_multiple_of(align) {
                return Err(BlobError::EntryMisaligned { index, entry: raw.entry, align });
            }
            take_payload(place, raw.code_offset, raw.code_len, cursor, limit)?;
            largest_stack = largest_stack.max(raw.machine_stack);
        }
        if largest_stack != self.machine_stack {
            return Err(BlobError::MachineStackMismatch {
                header: self.machine_stack,
                sections: largest_stack,
            });
        }
        Ok(())
    }

    fn check_bytecode(&self, cursor: &mut u64, limit: u64) -> Result<(), BlobError> {
        let (offset, len) = (self.bytecode_offset, self.bytecode_len);
        if self.flags & FLAG_BYTECODE == 0 {
            if offset != 0 || len != 0 {
                return Err(BlobError::ReservedNotZero { place: Place::Bytecode });
            }
            return Ok(());
        }
        if len == 0 {
            return Err(BlobError::BytecodeEmpty);
        }
        if !len.is_multiple_of(8) {
            return Err(BlobError::BytecodePartialSlot { len });
        }
        let slots = len / 8;
        if slots as usize > femtoc_isa::MAX_INSNS {
            return Err(BlobError::BytecodeTooLong { slots });
        }
        take_payload(Place::Bytecode, offset, len, cursor, limit)
    }

    /// The whole blob.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Features every code section needs.
    pub fn features(&self) -> Features {
        self.features
    }

    /// eBPF stack size in bytes.
    pub fn ebpf_stack_size(&self) -> u32 {
        self.ebpf_stack
    }

    /// Machine stack bytes of the most demanding code section (0 without code).
    pub fn machine_stack_size(&self) -> u32 {
        self.machine_stack
    }

    /// Minimum context length in bytes the program was verified against.
    pub fn min_ctx_len(&self) -> u32 {
        self.min_ctx_len
    }

    /// The CRC stored in the blob.
    pub fn crc(&self) -> u32 {
        le_u32(self.bytes, self.crc_off).unwrap_or(0)
    }

    /// Number of imported helpers.
    pub fn helper_count(&self) -> u16 {
        self.helper_count
    }

    /// The imported helper ids, ascending.
    pub fn helpers(&self) -> Helpers<'a> {
        Helpers { bytes: self.bytes, off: self.helpers_off(), left: self.helper_count }
    }

    /// Number of data regions.
    pub fn region_count(&self) -> u16 {
        self.region_count
    }

    /// The data regions, in region-index order.
    pub fn data_regions(&self) -> DataRegions<'a> {
        DataRegions { bytes: self.bytes, off: self.regions_off(), left: self.region_count }
    }

    /// Number of code sections.
    pub fn code_count(&self) -> u16 {
        self.code_count
    }

    /// The code sections, in engine-id order.
    pub fn code_sections(&self) -> CodeSections<'a> {
        CodeSections {
            bytes: self.bytes,
            off: self.code_off(),
            left: self.code_count,
            blob_features: self.features,
        }
    }

    /// The code for `engine`, if the blob has some.
    pub fn code_for(&self, engine: Engine) -> Option<CodeSection<'a>> {
        self.code_sections().find(|c| c.engine == engine)
    }

    /// The verified bytecode (whole little-endian 8-byte slots), if present.
    pub fn bytecode(&self) -> Option<&'a [u8]> {
        if self.flags & FLAG_BYTECODE == 0 {
            return None;
        }
        slice_at(self.bytes, self.bytecode_offset, self.bytecode_len)
    }

    /// The Ed25519 signature, if the blob is signed (not yet verified).
    pub fn signature(&self) -> Option<&'a [u8; SIGNATURE_LEN]> {
        if self.flags & FLAG_SIGNATURE == 0 {
            return None;
        }
        let start = self.crc_off + CRC_LEN;
        self.bytes.get(start..start + SIGNATURE_LEN)?.try_into().ok()
    }

    /// The bytes a signature covers: everything up to and including the CRC.
    pub fn signed_bytes(&self) -> &'a [u8] {
        self.bytes.get(..self.crc_off + CRC_LEN).unwrap_or(&[])
    }

    /// Checks the blob's signature against `public_key`.
    #[cfg(feature = "ed25519")]
    pub fn verify_signature(&self, public_key: &[u8; 32]) -> Result<(), BlobError> {
        use ed25519_compact::{Error, PublicKey, Signature};
        let signature = self.signature().ok_or(BlobError::MissingSignature)?;
        PublicKey::new(*public_key)
            .verify(self.signed_bytes(), &Signature::new(*signature))
            .map_err(|e| match e {
                Error::InvalidPublicKey | Error::WeakPublicKey => BlobError::BadPublicKey,
                _ => BlobError::BadSignature,
            })
    }

    /// Decides how a device with `engine` and the features `have` runs this
    /// blob: natively if there is code for the engine whose features it has,
    /// else by interpreting the bytecode if present.
    pub fn run_mode(&self, engine: Engine, have: Features) -> Result<RunMode<'a>, BlobError> {
        if let Some(code) = self.code_for(engine) {
            if have.contains(code.features) {
                return Ok(RunMode::Native(code));
            }
        }
        self.bytecode().map(RunMode::Interpret).ok_or(BlobError::NothingToRun { engine })
    }
}
