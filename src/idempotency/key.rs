//! The `Idempotency-Key` request header, read and checked in one place for every endpoint
//! that takes one.
use actix_web::HttpRequest;

use crate::error::{AppError, Result};

/// A client's `Idempotency-Key`: 1–64 visible ASCII characters (surrounding spaces trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// The header's documented shape, for the OpenAPI document.
pub const PATTERN: &str = r"^[!-~]{1,64}$";

impl IdempotencyKey {
    pub fn parse(raw: &str) -> std::result::Result<IdempotencyKey, &'static str> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 64 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("Idempotency-Key 须为 1 到 64 个可见 ASCII 字符");
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }

    /// The request's key, if it sent one; 400 `invalid_request` for a malformed one.
    pub fn from_request(req: &HttpRequest) -> Result<Option<IdempotencyKey>> {
        let Some(value) = req.headers().get("idempotency-key") else {
            return Ok(None);
        };
        let text = value.to_str().map_err(|_| AppError::invalid_request("Idempotency-Key 须为可见 ASCII 字符"))?;
        IdempotencyKey::parse(text).map(Some).map_err(AppError::invalid_request)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_up_to_64() {
        assert_eq!(IdempotencyKey::parse(" k-1 ").unwrap().as_str(), "k-1");
        assert!(IdempotencyKey::parse(&"k".repeat(64)).is_ok());
        for bad in ["", "   ", "a b", "键", &"k".repeat(65)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
