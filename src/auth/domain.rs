//! Login credentials and refresh tokens as types.
use sha2::{Digest, Sha256};

/// 3–64 characters of letters, digits, `_ . -`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Username, &'static str> {
        let ok_len = (3..=64).contains(&raw.len());
        let ok_chars = raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if ok_len && ok_chars {
            Ok(Username(raw.to_owned()))
        } else {
            Err("用户名须为 3 到 64 个字母、数字或 _ . -")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Passwords longer than this are refused before hashing, so a huge body cannot buy
/// seconds of CPU.
pub const MAX_PASSWORD_LEN: usize = 256;
pub const MIN_PASSWORD_LEN: usize = 8;

/// A refresh token is 48 random characters; only its SHA-256 is stored.
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("admin").is_ok());
        assert!(Username::parse("a.b-c_d").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("with space").is_err());
        assert!(Username::parse("管理员").is_err());
    }

    #[test]
    fn token_hash_is_stable_hex() {
        assert_eq!(hash_refresh_token("x"), hash_refresh_token("x"));
        assert_eq!(hash_refresh_token("x").len(), 64);
        assert_ne!(hash_refresh_token("x"), hash_refresh_token("y"));
    }
}
