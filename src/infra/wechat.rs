//! The WeChat mini-program login call, `jscode2session`. WeChat answers with
//! `text/plain` JSON; we parse the body whatever its content type. The `session_key`
//! is held as a secret, never logged, never stored, never returned.
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::{AppError, ErrorCode};

#[derive(Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    base: String,
    credentials: Option<(String, SecretString)>,
    /// Set once "not configured" has been logged: a setting, not a fault, so said once.
    told_unconfigured: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

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
    pub fn new(base: &str, credentials: Option<(String, SecretString)>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(WechatClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            credentials,
            told_unconfigured: Default::default(),
        })
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
