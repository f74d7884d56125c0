//! The benchmark input: the shared reference text when it is present (so
//! that results compare with the Femto-Containers figures), else the
//! project's own text of the same length.

use std::path::PathBuf;

/// Fletcher-32 of the shared reference input, as its README states.
pub const SHARED_FLETCHER32: u32 = 0x5bac8c3d;

/// Length of both inputs: 180 Fletcher-32 words.
pub const INPUT_LEN: usize = 360;

/// The project's own 360-byte input, used when the shared one is absent.
pub const OWN_INPUT: &[u8] = include_bytes!("../data/input-360.txt");

/// Where the input came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputSource {
    /// The shared reference file at this path.
    Shared(PathBuf),
    /// `benches/data/input-360.txt`.
    Own,
}

/// The bytes every benchmark program runs over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchInput {
    /// The context contents.
    pub bytes: Vec<u8>,
    /// Their origin.
    pub source: InputSource,
}

/// Why the shared input could not be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file exists but could not be read.
    #[error("cannot read the benchmark input {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not the 360-byte reference text.
    #[error("benchmark input {} has {len} bytes, expected {INPUT_LEN}", path.display())]
    Length {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
}

/// The shared folder: `$FEMTOC_SHARED`, else `shared/` beside the workspace.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("FEMTOC_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")),
    }
}

/// The shared reference input if `shared_dir()` has it, else [`OWN_INPUT`].
pub fn load_input() -> Result<BenchInput, InputError> {
    load_input_from(&shared_dir().join("bench/fletcher32-360.txt"))
}

/// As [`load_input`], with the shared file's path given.
pub fn load_input_from(path: &std::path::Path) -> Result<BenchInput, InputError> {
    if !path.exists() {
        return Ok(BenchInput { bytes: OWN_INPUT.to_vec(), source: InputSource::Own });
    }
    let bytes =
        std::fs::read(path).map_err(|source| InputError::Read { path: path.into(), source })?;
    if bytes.len() != INPUT_LEN {
        return Err(InputError::Length { path: path.into(), len: bytes.len() });
    }
    Ok(BenchInput { bytes, source: InputSource::Shared(path.into()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_input_has_the_reference_length() {
        assert_eq!(OWN_INPUT.len(), INPUT_LEN);
    }

    #[test]
    fn missing_shared_file_falls_back_to_own_input() {
        let input = load_input_from(std::path::Path::new("/nonexistent/femtoc/input.txt"));
        let input = input.unwrap();
        assert_eq!(input.source, InputSource::Own);
        assert_eq!(input.bytes, OWN_INPUT);
    }

    #[test]
    fn shared_input_gives_the_published_fletcher32() {
        let input = load_input().unwrap();
        assert!(matches!(input.source, InputSource::Shared(_)), "set FEMTOC_SHARED");
        assert_eq!(crate::reference::fletcher32(&input.bytes), SHARED_FLETCHER32);
    }

    #[test]
    fn wrong_length_is_an_error() {
        let dir = std::env::temp_dir().join(format!("femtoc-bench-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("short.txt");
        std::fs::write(&path, b"too short").unwrap();
        let err = load_input_from(&path).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(err, InputError::Length { len: 9, .. }), "{err}");
    }
}
