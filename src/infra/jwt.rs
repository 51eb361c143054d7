//! Access tokens: HS256 JWTs with exp/iat/iss/aud/sub checked and at most 30 s of leeway.
//! Only HS256 is accepted, so `alg: none` and algorithm-confusion tokens fail.
//!
//! A token, once verified, is kept (the whole token as the key, so nothing but the very
//! same bytes matches) with the last second it is accepted: a phone sends the same token
//! on every request, and its next ones skip the signature and the claims' parsing (about
//! a tenth of a leaderboard read's CPU). Access tokens are never revoked before they
//! expire, so the kept answer is the one verifying again would give.
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::infra::cache::TtlCache;

const ISSUER: &str = "fivestar";
const AUDIENCE: &str = "fivestar-api";
const LEEWAY_SECS: u64 = 30;
/// Verified tokens kept per process, and for how long at most (a token is dropped sooner
/// once expired). A full cache is emptied (`TtlCache`), and the next requests verify again.
const VERIFIED_MAX: usize = 100_000;
const VERIFIED_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
    /// The login (refresh-token family) the token was issued to: revoking the family
    /// (logout, a reused refresh token) ends its access tokens too. Absent in tokens made
    /// outside a login (the bench's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fam: Option<String>,
}

/// What a valid token says: who, and under which login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub user_id: i64,
    pub family: Option<Arc<str>>,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: i64,
    /// Token → (what it says, last unix second it is accepted: `exp` + leeway).
    verified: Arc<TtlCache<Box<str>, (Verified, i64)>>,
}

impl JwtKeys {
    pub fn new(secret: &SecretString, ttl_secs: i64) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        JwtKeys {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            ttl_secs,
            verified: Arc::new(TtlCache::new(VERIFIED_TTL, VERIFIED_MAX)),
        }
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// The last unix second a token issued at `now` is accepted (`exp` + leeway): how long
    /// a revoked family must be remembered.
    pub fn last_second(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp() + self.ttl_secs + LEEWAY_SECS as i64
    }

    /// An access token for `user_id` under the login `family` (None: outside any login).
    pub fn issue(&self, user_id: i64, family: Option<&str>, now: DateTime<Utc>) -> anyhow::Result<String> {
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now.timestamp(),
            exp: now.timestamp() + self.ttl_secs,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            fam: family.map(str::to_owned),
        };
        Ok(encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// Who the token speaks for, or None for any token we did not sign, that expired, or
    /// that names another issuer or audience. (Whether its login was revoked is the
    /// caller's question: `access::role_feed`.)
    pub fn verify(&self, token: &str) -> Option<Verified> {
        self.verify_at(token, Utc::now().timestamp())
    }

    /// `verify` at `now` (unix seconds) for a token verified before; a new token is
    /// checked by `jsonwebtoken` against the system clock.
    fn verify_at(&self, token: &str, now: i64) -> Option<Verified> {
        if let Some((verified, last_second)) = self.verified.get(token) {
            return (now <= last_second).then_some(verified);
        }
        let claims = decode::<Claims>(token, &self.decoding, &self.validation).ok()?.claims;
        let verified = Verified { user_id: claims.sub.parse().ok()?, family: claims.fam.map(Into::into) };
        let last_second = claims.exp.saturating_add(LEEWAY_SECS as i64);
        self.verified.insert(token.into(), (verified.clone(), last_second));
        Some(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(&SecretString::from("k".repeat(32)), 7200)
    }

    #[test]
    fn a_token_round_trips() {
        let token = keys().issue(42, Some("fam-1"), Utc::now()).unwrap();
        assert_eq!(keys().verify(&token), Some(Verified { user_id: 42, family: Some("fam-1".into()) }));
        let bare = keys().issue(42, None, Utc::now()).unwrap();
        assert_eq!(keys().verify(&bare), Some(Verified { user_id: 42, family: None }));
    }

    #[test]
    fn expired_beyond_leeway_is_refused_within_leeway_accepted() {
        let k = keys();
        let old = k.issue(1, None, Utc::now() - chrono::Duration::seconds(7200 + 60)).unwrap();
        assert_eq!(k.verify(&old), None);
        let edge = k.issue(1, None, Utc::now() - chrono::Duration::seconds(7200 + 10)).unwrap();
        assert_eq!(k.verify(&edge).map(|v| v.user_id), Some(1));
    }

    #[test]
    fn a_kept_token_is_refused_past_its_expiry_and_leeway() {
        let k = keys();
        let now = Utc::now();
        let token = k.issue(7, None, now).unwrap();
        assert_eq!(k.verify(&token).map(|v| v.user_id), Some(7));
        let last_second = k.last_second(now);
        assert_eq!(k.verify_at(&token, last_second).map(|v| v.user_id), Some(7));
        assert_eq!(k.verify_at(&token, last_second + 1), None);
    }

    #[test]
    fn a_token_differing_from_a_kept_one_is_verified_afresh() {
        let k = keys();
        let token = k.issue(7, None, Utc::now()).unwrap();
        assert_eq!(k.verify(&token).map(|v| v.user_id), Some(7));
        // Same signature, another payload: not the kept token, so its signature fails.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = keys_for_forgery().issue(8, None, Utc::now()).unwrap();
        parts[1] = forged.split('.').nth(1).unwrap();
        assert_eq!(k.verify(&parts.join(".")), None);
    }

    fn keys_for_forgery() -> JwtKeys {
        JwtKeys::new(&SecretString::from("f".repeat(32)), 7200)
    }

    #[test]
    fn another_key_is_refused() {
        let other = JwtKeys::new(&SecretString::from("x".repeat(32)), 7200);
        let token = other.issue(1, None, Utc::now()).unwrap();
        assert_eq!(keys().verify(&token), None);
    }
}
