//! Login and token rules: WeChat and password logins, refresh rotation with reuse
//! detection, throttling of password guesses, and creating a super_admin.
use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::domain::{hash_refresh_token, Username, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use super::store;
use crate::audit::{self, AuditEntry};
use crate::error::{AppError, ErrorCode, Result};
use crate::infra::db::begin_write;
use crate::infra::random;
use crate::members::service::{self as members, MeView, NewUser};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: MeView,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WechatLogin {
    /// The `code` from `wx.login()`: 1–128 visible ASCII characters.
    #[schema(pattern = "^[!-~]{1,128}$")]
    pub code: String,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordLogin {
    #[schema(pattern = r"^[^\x00]*$")]
    pub username: String,
    #[schema(pattern = r"^[^\x00]*$")]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(pattern = r"^[^\x00]*$")]
    pub refresh_token: String,
}

const INVALID_CREDENTIALS: AppError =
    AppError::Unauthenticated { code: ErrorCode::InvalidCredentials, message: "用户名或密码错误" };

const REFRESH_INVALID: AppError =
    AppError::Unauthenticated { code: ErrorCode::Unauthenticated, message: "登录已失效，请重新登录" };

const REFRESH_REUSED: AppError = AppError::Unauthenticated {
    code: ErrorCode::RefreshTokenReused,
    message: "登录凭证已被使用，请重新登录",
};

/// Verified against when the username is unknown, so both failures cost the same time.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password(&random::token_alnum(24)).expect("hashing a random password"));

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt_bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("argon2 salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// Mint an access token and a refresh token (in `family`, or a new family).
async fn issue_tokens<C: ConnectionTrait>(
    state: &AppState,
    conn: &C,
    user_id: i64,
    family: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TokenResponse> {
    let family = family.map_or_else(|| random::token_hex(16), str::to_owned);
    let refresh_token = random::token_alnum(48);
    let expires_at = now + Duration::days(state.settings.refresh_ttl_days);
    store::insert_refresh(conn, user_id, &family, &hash_refresh_token(&refresh_token), expires_at, now).await?;
    Ok(TokenResponse {
        access_token: state.jwt.issue(user_id, Some(&family), now)?,
        refresh_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.jwt.ttl_secs(),
        user: members::me(conn, user_id).await?,
    })
}

pub async fn login_wechat(state: &AppState, req: WechatLogin) -> Result<TokenResponse> {
    let code = req.code.trim();
    if code.is_empty() || code.len() > 128 || !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::field("code", "登录凭证无效"));
    }
    let session = state.wechat.code_to_session(code).await?;
    let now = state.clock.now();
    let user = match members::find_by_openid(&state.db, &session.openid).await? {
        Some(user) => user,
        None => {
            let new = NewUser {
                display_name: "微信用户",
                openid: Some(&session.openid),
                username: None,
                password_hash: None,
                phone: None,
            };
            match members::create_user(&state.db, new, now).await {
                Ok(user) => {
                    tracing::info!(user_id = user.id, has_unionid = session.unionid.is_some(), "new wechat user");
                    user
                }
                // Two first logins raced; the other one created the user.
                Err(err) if matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
                    members::find_by_openid(&state.db, &session.openid).await?.ok_or(AppError::NotFound)?
                }
                Err(err) => return Err(err.into()),
            }
        }
    };
    let txn = begin_write(&state.writer).await?;
    let tokens = issue_tokens(state, &txn, user.id, None, now).await?;
    txn.commit().await?;
    Ok(tokens)
}

pub async fn login_password(state: &AppState, req: PasswordLogin, ip: &str) -> Result<TokenResponse> {
    let settings = &state.settings;
    let throttle_key = req.username.trim().to_lowercase();
    match store::login_failures(&state.redis, &throttle_key, ip).await {
        Ok((by_user, by_ip, retry_after)) => {
            if by_user >= settings.login_max_failures_per_user || by_ip >= settings.login_max_failures_per_ip {
                tracing::warn!(ip, "password login throttled");
                return Err(AppError::RateLimited { retry_after_secs: retry_after as u64 });
            }
        }
        // Throttling is a guard, not a dependency: without Redis, logins still work.
        Err(err) => tracing::warn!(error = %err, "login throttle unavailable"),
    }
    let user = match Username::parse(req.username.trim()) {
        Ok(name) => members::find_by_username(&state.db, name.as_str()).await?,
        Err(_) => None,
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.clone());
    let password = req.password;
    let ok = password.len() <= MAX_PASSWORD_LEN
        && tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|e| anyhow::anyhow!("password check panicked: {e}"))?;
    let user = match user {
        Some(user) if ok => user,
        _ => {
            if let Err(err) =
                store::record_login_failure(&state.redis, &throttle_key, ip, settings.login_window_secs).await
            {
                tracing::warn!(error = %err, "could not record a failed login");
            }
            return Err(INVALID_CREDENTIALS);
        }
    };
    if let Err(err) = store::clear_login_failures(&state.redis, &throttle_key, ip).await {
        tracing::warn!(error = %err, "could not clear failed logins");
    }
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let tokens = issue_tokens(state, &txn, user.id, None, now).await?;
    txn.commit().await?;
    Ok(tokens)
}

/// How long a used refresh token still answers the pair it was traded for: a phone that
/// lost the answer and retried, or two requests of one phone racing.
pub const REFRESH_GRACE: Duration = Duration::seconds(30);

/// How long a retry within the grace waits for the first request's answer to be stored.
const GRACE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

const GRACE_PENDING: AppError =
    AppError::Unavailable { code: ErrorCode::Busy, message: "登录状态正在更新，请稍后重试" };

/// Rotate a refresh token. The same token again within `REFRESH_GRACE` of its first use
/// answers the same new pair; later, it means the token leaked: the whole family is
/// revoked (its access tokens too, on every server) and the caller must log in again.
/// Answers the `TokenResponse` as JSON (a replay is the stored first answer).
pub async fn refresh(state: &AppState, req: RefreshRequest) -> Result<serde_json::Value> {
    let token = req.refresh_token.trim();
    if token.is_empty() || token.len() > 256 {
        return Err(REFRESH_INVALID);
    }
    let token_hash = hash_refresh_token(token);
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let row = store::find_refresh(&txn, &token_hash).await?.ok_or(REFRESH_INVALID)?;
    if row.revoked_at.is_some() {
        return Err(REFRESH_INVALID);
    }
    // Used already, or by a request that committed while this one waited for the row.
    let used_at = match row.used_at {
        Some(at) => Some(at),
        None if !store::mark_used(&txn, row.id, now).await? => {
            store::find_refresh(&txn, &token_hash).await?.and_then(|r| r.used_at).or(Some(now))
        }
        None => None,
    };
    if let Some(used_at) = used_at {
        if now - used_at <= REFRESH_GRACE {
            drop(txn);
            return first_answer(state, &token_hash).await;
        }
        let revoked = store::revoke_family(&txn, &row.family_id, now).await?;
        txn.commit().await?;
        crate::access::login_ended(state, &row.family_id, now).await;
        tracing::warn!(user_id = row.user_id, revoked, "refresh token reused; family revoked");
        return Err(REFRESH_REUSED);
    }
    if row.expires_at <= now {
        return Err(REFRESH_INVALID);
    }
    let tokens = issue_tokens(state, &txn, row.user_id, Some(&row.family_id), now).await?;
    txn.commit().await?;
    let answer = serde_json::to_value(&tokens).map_err(anyhow::Error::from)?;
    if let Err(err) = store::keep_answer(&state.redis, &token_hash, &answer, REFRESH_GRACE).await {
        tracing::warn!(error = %err, "a refresh's answer was not kept for its retries");
    }
    Ok(answer)
}

/// The answer the first use of this token gave, once its request has stored it.
async fn first_answer(state: &AppState, token_hash: &str) -> Result<serde_json::Value> {
    let started = std::time::Instant::now();
    loop {
        if let Some(answer) = store::kept_answer(&state.redis, token_hash).await? {
            return Ok(answer);
        }
        if started.elapsed() >= GRACE_WAIT {
            return Err(GRACE_PENDING);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// End a login: its refresh tokens stop working, and its access tokens answer 401 on
/// every server from now on. An unknown token is 401; an ended login ends again quietly.
pub async fn logout(state: &AppState, req: RefreshRequest) -> Result<()> {
    let token = req.refresh_token.trim();
    if token.is_empty() || token.len() > 256 {
        return Err(REFRESH_INVALID);
    }
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let row = store::find_refresh(&txn, &hash_refresh_token(token)).await?.ok_or(REFRESH_INVALID)?;
    store::revoke_family(&txn, &row.family_id, now).await?;
    txn.commit().await?;
    crate::access::login_ended(state, &row.family_id, now).await;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum CreateAdminError {
    #[error("{0}")]
    Invalid(&'static str),
    #[error("username already taken")]
    Clash,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// `fivestar admin create`: a super_admin, recorded in the audit log with no actor.
pub async fn create_super_admin(
    db: &DatabaseConnection,
    username: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<i64, CreateAdminError> {
    let username = Username::parse(username.trim()).map_err(CreateAdminError::Invalid)?;
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&password.chars().count()) {
        return Err(CreateAdminError::Invalid("password must be 8 to 256 characters"));
    }
    let hash = hash_password(password)?;
    let txn = db.begin().await.map_err(anyhow::Error::from)?;
    let new = NewUser {
        display_name: username.as_str(),
        openid: None,
        username: Some(username.as_str()),
        password_hash: Some(hash),
        phone: None,
    };
    let user = match members::create_user(&txn, new, now).await {
        Ok(user) => user,
        Err(err) => {
            return Err(match AppError::from(err) {
                AppError::Conflict { .. } => CreateAdminError::Clash,
                other => CreateAdminError::Other(anyhow::anyhow!("{other}")),
            })
        }
    };
    crate::orgs::service::grant_super_admin(&txn, user.id, now).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    audit::record(
        &txn,
        AuditEntry {
            actor_id: None,
            action: "role.grant",
            target_type: "user",
            target_id: user.id.to_string(),
            org_id: None,
            before: None,
            after: Some(json!({"role": "super_admin", "username": username.as_str()})),
            reason: Some("fivestar admin create".to_owned()),
            at: now,
        },
    )
    .await
    .map_err(anyhow::Error::from)?;
    txn.commit().await.map_err(anyhow::Error::from)?;
    Ok(user.id)
}
