//! Why a blob was rejected, and where.

use core::fmt;

use crate::engine::Engine;

/// The part of a blob an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The fixed header.
    Header,
    /// The helper, region and code tables taken together.
    Tables,
    /// Entry `n` of the data region table.
    DataRegion(u16),
    /// Entry `n` of the code section table.
    Code(u16),
    /// The bytecode section.
    Bytecode,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Header => f.write_str("header"),
            Place::Tables => f.write_str("tables"),
            Place::DataRegion(n) => write!(f, "data region {n}"),
            Place::Code(n) => write!(f, "code section {n}"),
            Place::Bytecode => f.write_str("bytecode section"),
        }
    }
}

/// A blob that must not be installed.
///
/// The first group (truncation, magic, version, lengths, flags, CRC) is what
/// corruption in transit or storage produces; the rest can only come from a
/// writer that does not follow the format, since the CRC already passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// Fewer bytes than the header or the declared total length needs.
    #[error("blob truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes the blob needs.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// More bytes than the declared total length.
    #[error("blob has {got} bytes but its header declares {total_len}")]
    TrailingBytes {
        /// Length declared in the header.
        total_len: usize,
        /// Bytes given.
        got: usize,
    },
    /// Not a femtoc blob.
    #[error("bad blob magic {found:02x?}")]
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A format version this runtime does not read.
    #[error("blob format version {found} is not supported (this runtime reads version {supported})", supported = super::FORMAT_VERSION)]
    UnsupportedVersion {
        /// Version in the header.
        found: u16,
    },
    /// A header length other than this version's.
    #[error("blob header length {found} is wrong (version 1 headers are {expected} bytes)", expected = super::HEADER_LEN)]
    BadHeaderLength {
        /// Length in the header.
        found: u16,
    },
    /// A total length too small to hold the header, CRC and signature.
    #[error("blob total length {total_len} is below the minimum {min}")]
    BadTotalLength {
        /// Length in the header.
        total_len: u32,
        /// Least length the flags allow.
        min: u32,
    },
    /// Flag bits this runtime does not define.
    #[error("blob header has unknown flag bits {bits:#x}")]
    UnknownFlags {
        /// The undefined bits.
        bits: u32,
    },
    /// The CRC-32 does not match: the blob was corrupted.
    #[error("blob CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    BadCrc {
        /// CRC stored in the blob.
        stored: u32,
        /// CRC of the bytes it covers.
        computed: u32,
    },
    /// A reserved field (or a field of an absent section) is not zero.
    #[error("{place}: reserved field is not zero")]
    ReservedNotZero {
        /// Where.
        place: Place,
    },
    /// Feature bits this runtime does not define.
    #[error("{place}: unknown feature bits {bits:#x}")]
    UnknownFeatures {
        /// Where.
        place: Place,
        /// The undefined bits.
        bits: u32,
    },
    /// A table or payload reaches past the end of the covered area.
    #[error("{place}: bytes {offset}..{offset}+{len} exceed the limit {limit}")]
    OutOfRange {
        /// Where.
        place: Place,
        /// Start offset in the blob.
        offset: u64,
        /// Length in bytes.
        len: u64,
        /// First offset not available to it.
        limit: u64,
    },
    /// A payload starts before the end of the table or payload preceding it.
    #[error("{place}: payload at {offset} overlaps bytes up to {previous_end}")]
    Overlap {
        /// Where.
        place: Place,
        /// Its start offset.
        offset: u32,
        /// End of what precedes it.
        previous_end: u64,
    },
    /// A payload offset that is not a multiple of [`super::PAYLOAD_ALIGN`].
    #[error("{place}: payload offset {offset} is not a multiple of {align}", align = super::PAYLOAD_ALIGN)]
    Misaligned {
        /// Where.
        place: Place,
        /// Its start offset.
        offset: u32,
    },
    /// Helper ids not strictly ascending (unsorted or repeated).
    #[error("helper table entry {index} (id {id}) is not greater than the one before")]
    HelpersNotAscending {
        /// Entry index.
        index: u16,
        /// Its id.
        id: u32,
    },
    /// A data region kind this runtime does not define.
    #[error("data region {index}: unknown kind {kind}")]
    UnknownRegionKind {
        /// Region index.
        index: u16,
        /// Kind byte.
        kind: u8,
    },
    /// A zero-initialised region with an image.
    #[error("data region {index}: a zeroed region must have no image")]
    ZeroedWithImage {
        /// Region index.
        index: u16,
    },
    /// An image longer than its region.
    #[error("data region {index}: image of {image_len} bytes exceeds the region size {size}")]
    ImageLargerThanRegion {
        /// Region index.
        index: u16,
        /// Image length.
        image_len: u32,
        /// Region size.
        size: u32,
    },
    /// An engine id this runtime does not define.
    #[error("code section {index}: unknown engine id {id}")]
    UnknownEngine {
        /// Section index.
        index: u16,
        /// Engine id.
        id: u16,
    },
    /// A code section for the interpreter (which runs the bytecode section).
    #[error("code section {index}: engine interp has no machine code")]
    NotNative {
        /// Section index.
        index: u16,
    },
    /// Engine ids not strictly ascending (unsorted, or one engine twice).
    #[error("code section {index} ({engine}) is not after the section before it in engine order")]
    EnginesNotAscending {
        /// Section index.
        index: u16,
        /// Its engine.
        engine: Engine,
    },
    /// A code section with no bytes.
    #[error("code section {index} is empty")]
    EmptyCode {
        /// Section index.
        index: u16,
    },
    /// An entry point outside its code.
    #[error("code section {index}: entry {entry} is not inside its {code_len} bytes")]
    EntryOutOfRange {
        /// Section index.
        index: u16,
        /// Entry offset.
        entry: u32,
        /// Code length.
        code_len: u32,
    },
    /// An entry point the engine's instruction alignment forbids.
    #[error("code section {index}: entry {entry} is not a multiple of {align}")]
    EntryMisaligned {
        /// Section index.
        index: u16,
        /// Entry offset.
        entry: u32,
        /// The engine's instruction alignment.
        align: u32,
    },
    /// The header's machine stack size is not the largest section's.
    #[error("header machine stack {header} differs from the largest code section's {sections}")]
    MachineStackMismatch {
        /// Header value.
        header: u32,
        /// Largest section value (0 without code).
        sections: u32,
    },
    /// The bytecode flag is set but the section is empty.
    #[error("bytecode section is flagged present but empty")]
    BytecodeEmpty,
    /// A bytecode length that is not whole 8-byte slots.
    #[error("bytecode length {len} is not a multiple of 8")]
    BytecodePartialSlot {
        /// Length in bytes.
        len: u32,
    },
    /// More slots than an eBPF program may have.
    #[error("bytecode has {slots} slots, more than {max}", max = femtoc_isa::MAX_INSNS)]
    BytecodeTooLong {
        /// Slot count.
        slots: u32,
    },
    /// A signature is required but the blob carries none.
    #[error("blob is not signed")]
    MissingSignature,
    /// The public key is not a valid Ed25519 point.
    #[error("the public key is not a valid Ed25519 key")]
    BadPublicKey,
    /// The signature does not verify with the key.
    #[error("blob signature does not verify")]
    BadSignature,
    /// Neither code for the engine (with the features at hand) nor bytecode.
    #[error("blob has neither usable code for {engine} nor bytecode")]
    NothingToRun {
        /// The device's engine.
        engine: Engine,
    },
}
