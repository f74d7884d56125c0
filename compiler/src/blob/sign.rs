//! Ed25519 signing keys for blobs.

use ed25519_compact::{KeyPair, Seed};

/// A key that signs blobs; made from a 32-byte secret seed.
#[derive(Clone)]
pub struct SigningKey(KeyPair);

// Shows only the public half: secrets must not end up in logs.
impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigningKey").field("public_key", &self.public_key()).finish_non_exhaustive()
    }
}

/// A signing seed that must not be used (all zeros).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the signing seed is all zeros; use a random 32-byte secret")]
pub struct WeakSeed;

impl SigningKey {
    /// The key derived from `seed` (RFC 8032 secret key). An all-zero
    /// seed is refused: it is what an unset key file reads as, never a
    /// real secret.
    pub fn from_seed(seed: [u8; 32]) -> Result<SigningKey, WeakSeed> {
        KeyPair::try_from_seed(Seed::new(seed)).map(SigningKey).map_err(|_| WeakSeed)
    }

    /// The public key a device needs to verify this key's signatures.
    pub fn public_key(&self) -> [u8; 32] {
        *self.0.pk
    }

    /// The deterministic signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        *self.0.sk.sign(message, None)
    }
}
