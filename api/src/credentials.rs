//! Secrets: password hashing (argon2id), access tokens (JWT, HS256 pinned), and the random
//! refresh tokens and API keys whose SHA-256 is all the database keeps.
//!
//! SHA-256 suffices for refresh tokens and API keys because they carry 256 bits of entropy;
//! slow hashing is only needed for low-entropy secrets such as passwords.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;

pub use app::secrets::{content_hash, random_token, secret_hash};
use serde::{Deserialize, Serialize};

/// Every API key starts with this, so scanners and our own auth can tell it from a JWT.
pub const API_KEY_PREFIX: &str = "crm_";
const ISSUER: &str = "crm";
const AUDIENCE: &str = "crm-api";

/// Claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The session (refresh-token family) the token belongs to; logout revokes it.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// Signs and checks access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    /// Keys from a secret of at least 32 bytes (checked by the caller).
    pub fn new(secret: &[u8], access_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "aud", "iss"]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
        }
    }

    /// How long an access token lives.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// A signed access token for `user_id` in session `session_id`.
    pub fn issue(&self, user_id: &str, session_id: &str, now: DateTime<Utc>) -> Result<String, String> {
        let iat = now.timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            iat,
            exp: iat + i64::try_from(self.access_ttl.as_secs()).unwrap_or(i64::MAX / 2),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// The claims of a valid token: right algorithm, signature, issuer, audience, not expired.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }
}

/// A fresh API key secret: `crm_` followed by 256 random bits.
pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token())
}

/// Whether a presented secret is the expected one, in time that depends on neither: their
/// digests (fixed length) are compared without stopping at the first difference.
pub fn same_secret(presented: &str, expected: &str) -> bool {
    let (a, b) = (secret_hash(presented), secret_hash(expected));
    a.bytes().zip(b.bytes()).fold(0u8, |differ, (x, y)| differ | (x ^ y)) == 0
}

/// An argon2id hash (PHC string) with a random salt and the crate's OWASP-level defaults.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0_u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// True when `password` matches the stored PHC hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

/// A hash to verify against when the user does not exist, so a failed login takes the same
/// time whether or not the email is known.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn a_token_verifies_with_its_keys_only() {
        let keys = TokenKeys::new(&[7; 32], Duration::from_secs(60));
        let token = keys.issue("user", "session", Utc::now()).unwrap_or_default();
        assert_eq!(keys.verify(&token).map(|c| c.sub), Some("user".to_owned()));
        let other = TokenKeys::new(&[8; 32], Duration::from_secs(60));
        assert!(other.verify(&token).is_none());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = TokenKeys::new(&[7; 32], Duration::from_secs(60));
        let token = keys.issue("user", "session", Utc::now() - chrono::TimeDelta::hours(1)).unwrap_or_default();
        assert!(keys.verify(&token).is_none());
    }

    #[test]
    fn a_token_with_alg_none_is_refused() {
        let keys = TokenKeys::new(&[7; 32], Duration::from_secs(60));
        let now = Utc::now().timestamp();
        let claims = format!(r#"{{"sub":"u","sid":"s","iat":{now},"exp":{},"iss":"crm","aud":"crm-api"}}"#, now + 60);
        let forged =
            format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#), URL_SAFE_NO_PAD.encode(claims));
        assert!(keys.verify(&forged).is_none());
    }

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let hash = hash_password("correct horse battery").unwrap_or_default();
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }
}
