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

impl SigningKey {
    /// The key derived from `seed` (RFC 8032 secret key).
    pub fn from_seed(seed: [u8; 32]) -> SigningKey {
        SigningKey(KeyPair::from_seed(Seed::new(seed)))
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
