//! Access tokens: HS256 JWTs with exp/iat/iss/aud/sub checked and at most 30 s of leeway.
//! Only HS256 is accepted, so `alg: none` and algorithm-confusion tokens fail.
use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "fivestar";
const AUDIENCE: &str = "fivestar-api";
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: i64,
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
        }
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    pub fn issue(&self, user_id: i64, now: DateTime<Utc>) -> anyhow::Result<String> {
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now.timestamp(),
            exp: now.timestamp() + self.ttl_secs,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
        };
        Ok(encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// The user id the token speaks for, or None for any token we did not sign,
    /// that expired, or that names another issuer or audience.
    pub fn verify(&self, token: &str) -> Option<i64> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        data.claims.sub.parse().ok()
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
        let token = keys().issue(42, Utc::now()).unwrap();
        assert_eq!(keys().verify(&token), Some(42));
    }

    #[test]
    fn expired_beyond_leeway_is_refused_within_leeway_accepted() {
        let k = keys();
        let old = k.issue(1, Utc::now() - chrono::Duration::seconds(7200 + 60)).unwrap();
        assert_eq!(k.verify(&old), None);
        let edge = k.issue(1, Utc::now() - chrono::Duration::seconds(7200 + 10)).unwrap();
        assert_eq!(k.verify(&edge), Some(1));
    }

    #[test]
    fn another_key_is_refused() {
        let other = JwtKeys::new(&SecretString::from("x".repeat(32)), 7200);
        let token = other.issue(1, Utc::now()).unwrap();
        assert_eq!(keys().verify(&token), None);
    }
}
