//! Signed, expiring media URLs, so an `<image src>` loads a photo without a header.
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// How long a signed URL works.
const URL_TTL_SECS: i64 = 24 * 3600;

type HmacSha256 = Hmac<Sha256>;

/// Signs `/media/{sha}/{variant}?exp=&sig=`.
pub struct UrlSigner {
    key: Vec<u8>,
}

impl UrlSigner {
    /// A key of its own, derived from the deployment's secret.
    pub fn new(secret: &SecretString) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret.expose_secret().as_bytes()).expect("HMAC takes any key");
        mac.update(b"fivestar media urls v1");
        UrlSigner { key: mac.finalize().into_bytes().to_vec() }
    }

    fn mac(&self, sha: &str, variant: &str, exp: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(format!("{sha}/{variant}/{exp}").as_bytes());
        mac
    }

    pub fn url(&self, sha: &str, variant: &str, now: DateTime<Utc>) -> String {
        self.url_valid_for(sha, variant, now, URL_TTL_SECS)
    }

    /// A URL that works for `ttl_secs` (exports keep their links longer than a page does).
    pub fn url_valid_for(&self, sha: &str, variant: &str, now: DateTime<Utc>, ttl_secs: i64) -> String {
        let exp = now.timestamp() + ttl_secs;
        let sig = hex::encode(self.mac(sha, variant, exp).finalize().into_bytes());
        format!("/media/{sha}/{variant}?exp={exp}&sig={sig}")
    }

    /// Constant-time check of the signature, then of the expiry.
    pub fn verify(&self, sha: &str, variant: &str, exp: i64, sig: &str, now: DateTime<Utc>) -> bool {
        let Ok(sig) = hex::decode(sig) else { return false };
        self.mac(sha, variant, exp).verify_slice(&sig).is_ok() && exp > now.timestamp()
    }
}
