//! High-entropy secrets whose SHA-256 is all the database keeps: refresh tokens, API keys,
//! survey links. SHA-256 suffices because they carry 256 bits of entropy; slow hashing is only
//! needed for low-entropy secrets such as passwords (`api::credentials`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256 of a high-entropy secret, as stored.
pub fn secret_hash(secret: &str) -> String {
    content_hash(secret.as_bytes())
}

/// The hex SHA-256 of some bytes.
pub fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_url_safe_and_hash_to_sixty_four_hex_digits() {
        let (one, two) = (random_token(), random_token());
        assert_ne!(one, two);
        assert_eq!(one.len(), 43);
        assert!(one.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(secret_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
