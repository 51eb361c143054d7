//! The WeChat server API we call:
//! - the mini-program login, `jscode2session`. WeChat answers with `text/plain` JSON; we
//!   parse the body whatever its content type. The `session_key` is held as a secret,
//!   never logged, never stored, never returned;
//! - the access token, `/cgi-bin/stable_token` in normal mode (never `force_refresh`),
//!   cached in Redis for every server, fetched by one process at a time (a lock with a
//!   TTL; the others wait for the token to appear);
//! - subscribe messages, `/cgi-bin/message/subscribe/send`;
//! - the unlimited mini-program code, `/wxa/getwxacodeunlimit`.
//!
//! A call answered 40001 or 42001 (token invalid or expired) drops the cached token,
//! fetches it again once, and is made once more.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use super::redis::{delete_if_equal, Redis};
use crate::error::{AppError, ErrorCode};

#[derive(Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    base: String,
    credentials: Option<(String, SecretString)>,
    /// Set once "not configured" has been logged: a setting, not a fault, so said once.
    told_unconfigured: std::sync::Arc<std::sync::atomic::AtomicBool>,
    templates: Arc<Templates>,
    pub metrics: Arc<WechatMetrics>,
}

/// Which subscribe-message template each event is sent with, and how its fields are
/// filled: `FIVESTAR_WECHAT_TEMPLATES`, a JSON object from event name to either a
/// template id (its fields then `thing1` title, `thing2` body, `time3` time, `phrase4`
/// status) or `{"template_id": "…", "data": {"thing1": "title", "time2": "at", …}}` where
/// each value is one of `title`, `body`, `at`, `status`, `ref`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Templates(pub BTreeMap<String, TemplateSpec>);

#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSpec {
    pub id: String,
    /// (template key, what fills it), e.g. ("thing1", "title").
    pub fields: Vec<(String, String)>,
}

/// What a template field can be filled with.
pub const TEMPLATE_SOURCES: [&str; 5] = ["title", "body", "at", "status", "ref"];

impl Templates {
    /// Parse the setting; a clear error names what is wrong.
    pub fn parse(text: &str) -> anyhow::Result<Templates> {
        if text.trim().is_empty() {
            return Ok(Templates::default());
        }
        let raw: BTreeMap<String, Value> = serde_json::from_str(text)
            .map_err(|e| anyhow::anyhow!("FIVESTAR_WECHAT_TEMPLATES is not a JSON object: {e}"))?;
        let mut out = BTreeMap::new();
        for (event, value) in raw {
            let spec =
                match value {
                    Value::String(id) => TemplateSpec {
                        id,
                        fields: [("thing1", "title"), ("thing2", "body"), ("time3", "at"), ("phrase4", "status")]
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect(),
                    },
                    Value::Object(obj) => {
                        let id = obj.get("template_id").and_then(Value::as_str).ok_or_else(|| {
                            anyhow::anyhow!("FIVESTAR_WECHAT_TEMPLATES.{event}: template_id is missing")
                        })?;
                        let data = obj.get("data").and_then(Value::as_object).ok_or_else(|| {
                            anyhow::anyhow!("FIVESTAR_WECHAT_TEMPLATES.{event}: data must be an object")
                        })?;
                        let mut fields = Vec::new();
                        for (key, source) in data {
                            let source = source.as_str().filter(|s| TEMPLATE_SOURCES.contains(s)).ok_or_else(|| {
                                anyhow::anyhow!(
                                    "FIVESTAR_WECHAT_TEMPLATES.{event}.data.{key}: one of {}",
                                    TEMPLATE_SOURCES.join(", ")
                                )
                            })?;
                            fields.push((key.clone(), source.to_owned()));
                        }
                        TemplateSpec { id: id.to_owned(), fields }
                    }
                    _ => anyhow::bail!("FIVESTAR_WECHAT_TEMPLATES.{event}: a template id or an object"),
                };
            if spec.id.is_empty() || spec.id.len() > 128 {
                anyhow::bail!("FIVESTAR_WECHAT_TEMPLATES.{event}: the template id must be 1–128 characters");
            }
            out.insert(event, spec);
        }
        Ok(Templates(out))
    }

    pub fn for_event(&self, event: &str) -> Option<&TemplateSpec> {
        self.0.get(event)
    }

    pub fn knows_id(&self, id: &str) -> bool {
        self.0.values().any(|t| t.id == id)
    }
}

/// Notifications and token fetches, for `/metrics`.
pub struct WechatMetrics {
    pub token_fetches: IntCounter,
    /// By event and outcome: `sent`, `failed`, `no_consent`, `no_openid`, `retry`.
    pub notifications: IntCounterVec,
    /// Rows waiting in the outbox, by event, as of the last pass.
    pub queued: IntGaugeVec,
}

impl WechatMetrics {
    fn new() -> prometheus::Result<WechatMetrics> {
        Ok(WechatMetrics {
            token_fetches: IntCounter::new("wechat_token_fetches_total", "WeChat access tokens fetched")?,
            notifications: IntCounterVec::new(
                Opts::new("notifications_total", "WeChat subscribe messages by event and outcome"),
                &["event", "outcome"],
            )?,
            queued: IntGaugeVec::new(
                Opts::new("notifications_queued", "Notifications waiting to be sent to WeChat, by event"),
                &["event"],
            )?,
        })
    }

    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.token_fetches.clone()))?;
        registry.register(Box::new(self.notifications.clone()))?;
        registry.register(Box::new(self.queued.clone()))
    }
}

/// How a subscribe message went.
#[derive(Debug, PartialEq)]
pub enum SendOutcome {
    Sent,
    /// 43101: the user has no consent left for this template.
    NoConsent,
    /// Anything else: worth trying again later.
    Failed(String),
}

/// The token fetch's lock lives this long, in case its holder dies.
const TOKEN_LOCK: Duration = Duration::from_secs(10);
/// How long a caller waits for another process's fetch.
const TOKEN_WAIT: Duration = Duration::from_secs(8);

/// What we keep of a successful login.
pub struct WechatSession {
    pub openid: String,
    pub unionid: Option<String>,
    /// Kept only so the type says it exists; it never leaves this module's callers.
    #[allow(dead_code)]
    session_key: Option<SecretString>,
}

#[derive(Deserialize)]
struct RawSession {
    openid: Option<String>,
    unionid: Option<String>,
    session_key: Option<SecretString>,
    errcode: Option<i64>,
    errmsg: Option<String>,
}

const CODE_INVALID: AppError = AppError::Unauthenticated {
    code: ErrorCode::WechatCodeInvalid,
    message: "微信登录凭证无效或已使用，请重新登录",
};

const UNAVAILABLE: AppError =
    AppError::BadGateway { code: ErrorCode::WechatUnavailable, message: "微信服务暂不可用，请稍后再试" };

impl WechatClient {
    pub fn new(base: &str, credentials: Option<(String, SecretString)>, templates: Templates) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(WechatClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            credentials,
            told_unconfigured: Default::default(),
            templates: Arc::new(templates),
            metrics: Arc::new(WechatMetrics::new()?),
        })
    }

    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// Whether server-side calls (tokens, messages, codes) can be made at all.
    pub fn configured(&self) -> bool {
        self.credentials.is_some()
    }

    /// The access token every server shares (Redis), fetched once at a time.
    pub async fn access_token(&self, redis: &Redis) -> Result<String, String> {
        let Some((appid, secret)) = &self.credentials else {
            return Err("WeChat is not configured".into());
        };
        let keys = redis.keys();
        let started = std::time::Instant::now();
        loop {
            let mut conn = redis.conn().await.map_err(|e| format!("redis: {e}"))?;
            let cached: Option<String> =
                redis::cmd("GET").arg(keys.wechat_token()).query_async(&mut conn).await.map_err(|e| e.to_string())?;
            if let Some(token) = cached {
                return Ok(token);
            }
            let lock = crate::infra::random::token_hex(8);
            let got: Option<String> = redis::cmd("SET")
                .arg(keys.wechat_token_lock())
                .arg(&lock)
                .arg("NX")
                .arg("PX")
                .arg(TOKEN_LOCK.as_millis() as u64)
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            if got.is_some() {
                let fetched = self.fetch_token(appid, secret).await;
                if let Ok((token, expires_in)) = &fetched {
                    // Kept until five minutes before WeChat lets it go (at least a minute).
                    let ttl = (expires_in - 300).max(60);
                    let _: Result<(), _> = redis::cmd("SET")
                        .arg(keys.wechat_token())
                        .arg(token)
                        .arg("EX")
                        .arg(ttl)
                        .query_async(&mut conn)
                        .await;
                }
                let _ = delete_if_equal(&mut conn, &keys.wechat_token_lock(), &lock).await;
                return fetched.map(|(token, _)| token);
            }
            if started.elapsed() > TOKEN_WAIT {
                return Err("timed out waiting for another server's token fetch".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn fetch_token(&self, appid: &str, secret: &SecretString) -> Result<(String, i64), String> {
        #[derive(Deserialize)]
        struct Raw {
            access_token: Option<String>,
            expires_in: Option<i64>,
            errcode: Option<i64>,
            errmsg: Option<String>,
        }
        self.metrics.token_fetches.inc();
        let body = json!({"grant_type": "client_credential", "appid": appid, "secret": secret.expose_secret(),
            "force_refresh": false});
        let response = self
            .http
            .post(format!("{}/cgi-bin/stable_token", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("stable_token unreachable: {}", e.without_url()))?;
        let bytes = response.bytes().await.map_err(|e| format!("stable_token: {e}"))?;
        let raw: Raw = serde_json::from_slice(&bytes).map_err(|_| "stable_token answered something not JSON")?;
        match (raw.access_token, raw.errcode) {
            (Some(token), None | Some(0)) if !token.is_empty() => Ok((token, raw.expires_in.unwrap_or(7200))),
            (_, code) => {
                tracing::warn!(errcode = ?code, errmsg = ?raw.errmsg, "wechat stable_token refused");
                Err(format!("stable_token errcode {code:?}"))
            }
        }
    }

    /// Drop the cached token if it is still `token` (another server may have replaced it).
    async fn forget_token(&self, redis: &Redis, token: &str) {
        if let Ok(mut conn) = redis.conn().await {
            let _ = delete_if_equal(&mut conn, &redis.keys().wechat_token(), token).await;
        }
    }

    /// POST `body` to `path?access_token=…`; a 40001/42001 answer refetches the token once
    /// and posts again. Returns the response's content type and bytes.
    async fn post_with_token(&self, redis: &Redis, path: &str, body: &Value) -> Result<(String, Vec<u8>), String> {
        let mut retried = false;
        loop {
            let token = self.access_token(redis).await?;
            let response = self
                .http
                .post(format!("{}{path}", self.base))
                .query(&[("access_token", token.as_str())])
                .json(body)
                .send()
                .await
                .map_err(|e| format!("{path} unreachable: {}", e.without_url()))?;
            let status = response.status();
            let kind = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let bytes = response.bytes().await.map_err(|e| format!("{path}: {e}"))?.to_vec();
            if !status.is_success() {
                return Err(format!("{path} answered HTTP {status}"));
            }
            let errcode = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| v["errcode"].as_i64());
            if matches!(errcode, Some(40001) | Some(42001)) && !retried {
                tracing::info!(errcode, "wechat access token refused; fetching it again");
                self.forget_token(redis, &token).await;
                retried = true;
                continue;
            }
            return Ok((kind, bytes));
        }
    }

    /// Send one subscribe message.
    pub async fn send_subscribe(
        &self,
        redis: &Redis,
        openid: &str,
        template_id: &str,
        page: Option<&str>,
        data: &BTreeMap<String, String>,
    ) -> SendOutcome {
        let data: serde_json::Map<String, Value> =
            data.iter().map(|(k, v)| (k.clone(), json!({ "value": v }))).collect();
        let mut body = json!({"touser": openid, "template_id": template_id, "data": data, "lang": "zh_CN"});
        if let Some(page) = page {
            body["page"] = json!(page);
        }
        match self.post_with_token(redis, "/cgi-bin/message/subscribe/send", &body).await {
            Err(err) => SendOutcome::Failed(err),
            Ok((_, bytes)) => {
                let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                match answer["errcode"].as_i64() {
                    Some(0) => SendOutcome::Sent,
                    Some(43101) => SendOutcome::NoConsent,
                    Some(code) => SendOutcome::Failed(format!(
                        "errcode {code}: {}",
                        answer["errmsg"].as_str().unwrap_or_default().chars().take(200).collect::<String>()
                    )),
                    None => SendOutcome::Failed("subscribe/send answered something not JSON".into()),
                }
            }
        }
    }

    /// The unlimited mini-program code for `scene` opening `page`, as image bytes. A JSON
    /// answer (an error) or no answer is 502 `wechat_unavailable`.
    pub async fn mini_program_code(&self, redis: &Redis, scene: &str, page: &str) -> Result<Vec<u8>, AppError> {
        if !self.configured() {
            return Err(AppError::Unavailable {
                code: ErrorCode::WechatNotConfigured, message: "未配置微信小程序"
            });
        }
        let body = json!({"scene": scene, "page": page, "check_path": false, "width": 430});
        let (kind, bytes) = self.post_with_token(redis, "/wxa/getwxacodeunlimit", &body).await.map_err(|err| {
            tracing::warn!(error = %err, "wechat getwxacodeunlimit failed");
            UNAVAILABLE
        })?;
        let is_image = kind.starts_with("image/") || bytes.starts_with(b"\x89PNG") || bytes.starts_with(&[0xff, 0xd8]);
        if !is_image || bytes.is_empty() {
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            tracing::warn!(errcode = ?answer["errcode"].as_i64(), errmsg = ?answer["errmsg"].as_str(),
                "wechat getwxacodeunlimit answered an error");
            return Err(UNAVAILABLE);
        }
        Ok(bytes)
    }

    pub async fn code_to_session(&self, code: &str) -> Result<WechatSession, AppError> {
        let Some((appid, secret)) = &self.credentials else {
            if !self.told_unconfigured.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(
                    "WeChat login is not configured (FIVESTAR_WECHAT_APPID, FIVESTAR_WECHAT_SECRET): \
                     POST /auth/wechat answers 503 wechat_not_configured"
                );
            }
            return Err(AppError::Unavailable {
                code: ErrorCode::WechatNotConfigured,
                message: "未配置微信小程序登录",
            });
        };
        let url = format!("{}/sns/jscode2session", self.base);
        let response = self
            .http
            .get(url)
            .query(&[
                ("appid", appid.as_str()),
                ("secret", secret.expose_secret()),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await
            .map_err(|err| {
                tracing::warn!(error = %err.without_url(), "wechat jscode2session unreachable");
                UNAVAILABLE
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|_| UNAVAILABLE)?;
        if !status.is_success() {
            tracing::warn!(%status, "wechat jscode2session answered an error status");
            return Err(UNAVAILABLE);
        }
        let raw: RawSession = serde_json::from_slice(&body).map_err(|_| {
            tracing::warn!("wechat jscode2session answered a body that is not JSON");
            UNAVAILABLE
        })?;
        match raw.errcode {
            Some(0) | None => {}
            Some(40029) | Some(40163) => return Err(CODE_INVALID),
            Some(other) => {
                tracing::warn!(errcode = other, errmsg = ?raw.errmsg, "wechat jscode2session refused");
                return Err(UNAVAILABLE);
            }
        }
        match raw.openid.filter(|o| !o.is_empty() && o.len() <= 64) {
            Some(openid) => Ok(WechatSession { openid, unionid: raw.unionid, session_key: raw.session_key }),
            None => Err(UNAVAILABLE),
        }
    }
}
