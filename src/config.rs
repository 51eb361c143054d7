//! Settings: built-in defaults < `fivestar.toml` (or `--config`) < `FIVESTAR_*` env.
//! Secrets are `SecretString`, so they never reach a log or a `Debug` print.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Dev,
    Production,
}

/// A setting given as JSON text (from the environment) or as a table (in `fivestar.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum JsonSetting {
    Text(String),
    Value(serde_json::Value),
}

impl JsonSetting {
    pub fn text(&self) -> String {
        match self {
            JsonSetting::Text(t) => t.clone(),
            JsonSetting::Value(v) => v.to_string(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(default = "defaults::bind")]
    pub bind: String,
    #[serde(default = "defaults::database_url")]
    pub database_url: String,
    #[serde(default = "defaults::redis_url")]
    pub redis_url: String,
    #[serde(default = "defaults::redis_prefix")]
    pub redis_prefix: String,
    /// Connect and response timeout of every Redis call, in milliseconds.
    #[serde(default = "defaults::redis_timeout_ms")]
    pub redis_timeout_ms: u64,
    #[serde(default)]
    pub jwt_secret: Option<SecretString>,
    #[serde(default)]
    pub wechat_appid: Option<String>,
    #[serde(default)]
    pub wechat_secret: Option<SecretString>,
    #[serde(default = "defaults::wechat_api_base")]
    pub wechat_api_base: String,
    /// `FIVESTAR_WECHAT_TEMPLATES`: events to subscribe-message templates, as JSON (see
    /// `infra::wechat::Templates`). A JSON object in the config file works too.
    #[serde(default)]
    pub wechat_templates: Option<JsonSetting>,
    /// The mini-program page a branch's draw code opens (`/wxa/getwxacodeunlimit`).
    #[serde(default = "defaults::wechat_draw_page")]
    pub wechat_draw_page: String,
    #[serde(default = "defaults::media_dir")]
    pub media_dir: String,
    /// The built phone page (`scripts/build-web.sh` writes `web/dist`), served at `/m/`.
    #[serde(default = "defaults::web_dir")]
    pub web_dir: String,
    /// Where dev-only generated files (the JWT secret) live.
    #[serde(default = "defaults::data_dir")]
    pub data_dir: String,
    #[serde(default = "defaults::env")]
    pub env: Environment,
    #[serde(default = "defaults::access_ttl_secs")]
    pub access_ttl_secs: i64,
    #[serde(default = "defaults::refresh_ttl_days")]
    pub refresh_ttl_days: i64,
    /// Failed password logins allowed per username, then per client address, within the window.
    #[serde(default = "defaults::login_max_failures_per_user")]
    pub login_max_failures_per_user: u32,
    #[serde(default = "defaults::login_max_failures_per_ip")]
    pub login_max_failures_per_ip: u32,
    #[serde(default = "defaults::login_window_secs")]
    pub login_window_secs: u64,
    /// How often the background reconciler checks Redis against SQL, in seconds.
    #[serde(default = "defaults::reconcile_interval_secs")]
    pub reconcile_interval_secs: u64,
    /// How often the card sweeper returns expired claims to their pools, in seconds.
    #[serde(default = "defaults::sweep_interval_secs")]
    pub sweep_interval_secs: u64,
    /// How often the WeChat outbox sends due subscribe messages, in seconds.
    #[serde(default = "defaults::outbox_interval_secs")]
    pub outbox_interval_secs: u64,
    /// In production, `/metrics` answers only `Authorization: Bearer <this>` (and 404 when
    /// it is not set); in dev it is open.
    #[serde(default)]
    pub metrics_token: Option<SecretString>,
    /// Writes (POST, PUT, PATCH, DELETE) one user may make a minute, across every endpoint
    /// and server; 0 turns the limit off (`make bench` does).
    #[serde(default = "defaults::write_limit_per_minute")]
    pub write_limit_per_minute: u32,
    /// How long an upload waits for a free image decoder before 503 `busy`, in seconds.
    #[serde(default = "defaults::image_wait_secs")]
    pub image_wait_secs: u64,
    /// Proxies (IP addresses, comma-separated) whose `X-Forwarded-For` names the client:
    /// behind one of them, the client address is the last one in that header.
    #[serde(default)]
    pub trusted_proxies: Option<String>,
}

mod defaults {
    use super::Environment;
    pub fn bind() -> String {
        "127.0.0.1:8080".into()
    }
    pub fn database_url() -> String {
        "sqlite://data/fivestar.db?mode=rwc".into()
    }
    pub fn redis_url() -> String {
        "redis://127.0.0.1:6379".into()
    }
    pub fn redis_prefix() -> String {
        "fs".into()
    }
    pub fn redis_timeout_ms() -> u64 {
        1500
    }
    pub fn wechat_api_base() -> String {
        "https://api.weixin.qq.com".into()
    }
    pub fn wechat_draw_page() -> String {
        "pages/draw/index".into()
    }
    pub fn media_dir() -> String {
        "data/media".into()
    }
    pub fn web_dir() -> String {
        "web/dist".into()
    }
    pub fn data_dir() -> String {
        "data".into()
    }
    pub fn env() -> Environment {
        Environment::Dev
    }
    pub fn access_ttl_secs() -> i64 {
        2 * 3600
    }
    pub fn refresh_ttl_days() -> i64 {
        30
    }
    pub fn login_max_failures_per_user() -> u32 {
        5
    }
    pub fn login_max_failures_per_ip() -> u32 {
        30
    }
    pub fn login_window_secs() -> u64 {
        15 * 60
    }
    pub fn reconcile_interval_secs() -> u64 {
        10
    }
    pub fn sweep_interval_secs() -> u64 {
        15
    }
    pub fn outbox_interval_secs() -> u64 {
        5
    }
    pub fn write_limit_per_minute() -> u32 {
        120
    }
    pub fn image_wait_secs() -> u64 {
        20
    }
}

impl Settings {
    /// Load the layers. A missing default `fivestar.toml` is fine; a missing `--config` file is not.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut figment = Figment::new();
        match config_file {
            Some(path) => {
                if !path.exists() {
                    bail!("config file {} does not exist", path.display());
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("fivestar.toml")),
        }
        let settings: Settings =
            figment.merge(Env::prefixed("FIVESTAR_")).extract().context("reading configuration")?;
        Ok(settings)
    }

    /// Built-in defaults only: no file, no environment. Tests start from here.
    pub fn defaults() -> Settings {
        Figment::new().extract().expect("every setting has a default")
    }

    /// The WeChat credentials, when both are set and non-empty.
    /// The subscribe-message templates, parsed (an error names what is wrong).
    pub fn wechat_templates(&self) -> anyhow::Result<crate::infra::wechat::Templates> {
        crate::infra::wechat::Templates::parse(
            &self.wechat_templates.as_ref().map(JsonSetting::text).unwrap_or_default(),
        )
    }

    pub fn wechat_credentials(&self) -> Option<(String, SecretString)> {
        let appid = self.wechat_appid.as_deref().filter(|s| !s.is_empty())?;
        let secret = self.wechat_secret.as_ref().filter(|s| !s.expose_secret().is_empty())?;
        Some((appid.to_owned(), secret.clone()))
    }

    /// Production refuses to start on defaults that are only fit for a laptop.
    pub fn check_production(&self) -> anyhow::Result<()> {
        if self.env != Environment::Production {
            return Ok(());
        }
        let mut missing = Vec::new();
        if self.jwt_secret.as_ref().is_none_or(|s| s.expose_secret().len() < 32) {
            missing.push("FIVESTAR_JWT_SECRET (at least 32 characters)");
        }
        if !missing.is_empty() {
            bail!("FIVESTAR_ENV=production needs {}", missing.join(", "));
        }
        Ok(())
    }

    /// Whether `ip` is one of `trusted_proxies`.
    pub fn is_trusted_proxy(&self, ip: &std::net::IpAddr) -> bool {
        self.trusted_proxies.as_deref().is_some_and(|list| {
            list.split(',').filter_map(|p| p.trim().parse::<std::net::IpAddr>().ok()).any(|p| &p == ip)
        })
    }

    /// The HS256 key: configured, or in dev generated once into `data_dir`.
    pub fn jwt_secret(&self) -> anyhow::Result<SecretString> {
        if let Some(secret) = self.jwt_secret.as_ref().filter(|s| !s.expose_secret().is_empty()) {
            return Ok(secret.clone());
        }
        if self.env == Environment::Production {
            bail!("FIVESTAR_JWT_SECRET is required in production");
        }
        let path = PathBuf::from(&self.data_dir).join("jwt_secret");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let existing = existing.trim();
            if !existing.is_empty() {
                return Ok(SecretString::from(existing.to_owned()));
            }
        }
        std::fs::create_dir_all(&self.data_dir).with_context(|| format!("creating {}", self.data_dir))?;
        let secret = crate::infra::random::token_hex(32);
        write_private(&path, &secret)?;
        tracing::info!(path = %path.display(), "generated a development JWT secret");
        Ok(SecretString::from(secret))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}
