//! `AppError`: every failure a request can meet, mapped to a status and a stable
//! `{code, message}` body. The one place where database and Redis errors are classified.
//! The cause of a 500 is logged here with context and never sent to the client.
use std::borrow::Cow;
use std::collections::BTreeMap;

use actix_web::ResponseError;
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;
use utoipa::ToSchema;

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Declares `ErrorCode` and `as_str` from one list (a unit test checks that serde's
/// snake_case names agree with it).
macro_rules! error_codes {
    ($($variant:ident = $text:literal,)*) => {
        /// Every error code the API answers with: the contract's codes (CONTRACT.md), read in
        /// one place, grouped by the status they come with. A typo does not compile.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }
        }
    };
}

error_codes! {
    // 400
    InvalidRequest = "invalid_request",
    IdempotencyKeyRequired = "idempotency_key_required",
    // 401
    Unauthenticated = "unauthenticated",
    InvalidCredentials = "invalid_credentials",
    WechatCodeInvalid = "wechat_code_invalid",
    RefreshTokenReused = "refresh_token_reused",
    // 403
    Forbidden = "forbidden",
    SelfDealing = "self_dealing",
    // 404
    NotFound = "not_found",
    PoolEmpty = "pool_empty",
    // 405
    MethodNotAllowed = "method_not_allowed",
    // 409
    Conflict = "conflict",
    CardLimit = "card_limit",
    ClaimExpired = "claim_expired",
    NotClaimed = "not_claimed",
    AlreadySubmitted = "already_submitted",
    NotSubmitted = "not_submitted",
    AlreadyReviewed = "already_reviewed",
    InvalidTransition = "invalid_transition",
    IdempotencyInProgress = "idempotency_in_progress",
    InsufficientPoints = "insufficient_points",
    MemberOfOtherBranch = "member_of_other_branch",
    NotAMember = "not_a_member",
    TaskCancelled = "task_cancelled",
    OutOfStock = "out_of_stock",
    LimitReached = "limit_reached",
    ItemUnavailable = "item_unavailable",
    AlreadyFulfilled = "already_fulfilled",
    RedemptionClosed = "redemption_closed",
    ApplicationExists = "application_exists",
    ExtensionRefused = "extension_refused",
    FeedbackRefused = "feedback_refused",
    // 410
    InviteExpired = "invite_expired",
    // 413
    PayloadTooLarge = "payload_too_large",
    ImageTooLarge = "image_too_large",
    // 415
    UnsupportedMedia = "unsupported_media",
    UnsupportedMediaType = "unsupported_media_type",
    // 422
    ValidationFailed = "validation_failed",
    PhotoRequired = "photo_required",
    IdempotencyConflict = "idempotency_conflict",
    InvalidImage = "invalid_image",
    // 429
    RateLimited = "rate_limited",
    // 500
    InternalError = "internal_error",
    // 502
    WechatUnavailable = "wechat_unavailable",
    // 503
    DatabaseUnavailable = "database_unavailable",
    RedisUnavailable = "redis_unavailable",
    NotReady = "not_ready",
    WechatNotConfigured = "wechat_not_configured",
    PoolRebuilding = "pool_rebuilding",
    Busy = "busy",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state or an action as the wire names it and as people read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named {
    pub name: &'static str,
    pub label: &'static str,
}

/// Field name → why it was refused, for 422 `validation_failed`.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: malformed JSON, a missing field, a bad header.
    #[error("bad request ({code}): {message}")]
    BadRequest { code: ErrorCode, message: String },
    /// 400 `invalid_request` for fields that are missing, mistyped or malformed.
    #[error("bad fields: {fields:?}")]
    BadFields { message: String, fields: FieldErrors },
    #[error("unauthenticated ({code})")]
    Unauthenticated { code: ErrorCode, message: &'static str },
    /// 403: the caller is known and reaches the object but lacks the role; the message
    /// and `required_role` say which role would do.
    #[error("forbidden (needs {required_role:?})")]
    Forbidden { code: ErrorCode, message: Cow<'static, str>, required_role: Option<&'static str> },
    #[error("not found")]
    NotFound,
    /// 404 with a code of its own (e.g. `pool_empty`).
    #[error("absent ({code})")]
    Absent { code: ErrorCode, message: &'static str },
    /// 409: the request is valid but the state it meets forbids it.
    #[error("conflict ({code})")]
    Conflict { code: ErrorCode, message: &'static str },
    /// 409 `invalid_transition`: the object's current status and what the caller may do
    /// with it now.
    #[error("invalid transition from {}", status.name)]
    InvalidTransition { status: Named, allowed_actions: Vec<Named> },
    #[error("gone ({code})")]
    Gone { code: ErrorCode, message: &'static str },
    /// 422 `validation_failed`, naming the fields.
    #[error("validation failed: {0:?}")]
    Validation(FieldErrors),
    /// 422 with a code of its own (e.g. `idempotency_conflict`).
    #[error("unprocessable ({code})")]
    Unprocessable { code: ErrorCode, message: &'static str },
    /// 413 with a code of its own (`payload_too_large`, `image_too_large`).
    #[error("too large ({code})")]
    PayloadTooLarge { code: ErrorCode, message: &'static str },
    /// 415 with a code of its own (`unsupported_media`).
    #[error("unsupported ({code})")]
    Unsupported { code: ErrorCode, message: &'static str },
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("bad gateway ({code})")]
    BadGateway { code: ErrorCode, message: &'static str },
    #[error("service unavailable ({code})")]
    Unavailable { code: ErrorCode, message: &'static str },
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code, part of the contract.
    pub code: ErrorCode,
    /// Human-readable explanation, in Chinese.
    pub message: String,
    /// On 422 `validation_failed` and on a 400 for a missing, mistyped or malformed
    /// field: field → what is wrong and the expected format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<FieldErrors>,
    /// On 403 `forbidden` when a role would allow it: the lowest such role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_role: Option<&'static str>,
    /// On 409 `invalid_transition`: the object's current status…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    /// …and the actions the caller may take in it now (possibly none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_actions: Option<Vec<&'static str>>,
    /// The request's id, as in its `X-Request-Id` header (and its log lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    /// A body with only a code and a message (the request id is added on the way out).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            fields: None,
            required_role: None,
            status: None,
            allowed_actions: None,
            request_id: None,
        }
    }
}

impl AppError {
    /// A 5xx: the server's fault (or its database's), not the request's.
    pub fn is_server_error(&self) -> bool {
        self.status_code().is_server_error()
    }

    /// A 409 with its code: usable in a `const`.
    pub const fn conflict(code: ErrorCode, message: &'static str) -> Self {
        AppError::Conflict { code, message }
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError::BadRequest { code, message: message.into() }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::bad_request(ErrorCode::InvalidRequest, message)
    }

    /// 400 `invalid_request` naming the fields that are missing, mistyped or malformed.
    pub fn bad_fields(message: impl Into<String>, fields: FieldErrors) -> Self {
        AppError::BadFields { message: message.into(), fields }
    }

    /// 403 with a reason but no single role that would allow it (e.g. only the uploader).
    pub fn forbidden(message: &'static str) -> Self {
        AppError::Forbidden { code: ErrorCode::Forbidden, message: Cow::Borrowed(message), required_role: None }
    }

    /// 403 `self_dealing`: crediting, reviewing or fulfilling for oneself.
    pub fn self_dealing(message: &'static str) -> Self {
        AppError::Forbidden { code: ErrorCode::SelfDealing, message: Cow::Borrowed(message), required_role: None }
    }

    pub fn unauthenticated() -> Self {
        AppError::Unauthenticated { code: ErrorCode::Unauthenticated, message: "请先登录" }
    }

    /// One field refused: a 422 naming it.
    pub fn field(name: &str, why: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        fields.insert(name.to_owned(), why.into());
        AppError::Validation(fields)
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::BadRequest { code, .. }
            | AppError::Unauthenticated { code, .. }
            | AppError::Forbidden { code, .. }
            | AppError::Absent { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Gone { code, .. }
            | AppError::Unprocessable { code, .. }
            | AppError::PayloadTooLarge { code, .. }
            | AppError::Unsupported { code, .. }
            | AppError::BadGateway { code, .. }
            | AppError::Unavailable { code, .. } => *code,
            AppError::BadFields { .. } => ErrorCode::InvalidRequest,
            AppError::InvalidTransition { .. } => ErrorCode::InvalidTransition,
            AppError::NotFound => ErrorCode::NotFound,
            AppError::Validation(_) => ErrorCode::ValidationFailed,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::Internal(_) => ErrorCode::InternalError,
        }
    }

    pub fn message(&self) -> String {
        match self {
            AppError::BadRequest { message, .. } | AppError::BadFields { message, .. } => message.clone(),
            AppError::Forbidden { message, .. } => message.to_string(),
            AppError::InvalidTransition { status, allowed_actions } => {
                let labels: Vec<&str> = allowed_actions.iter().map(|a| a.label).collect();
                if labels.is_empty() {
                    format!("当前状态为“{}”，您现在不能对它执行任何操作", status.label)
                } else {
                    format!("当前状态为“{}”，不能执行这个操作；您现在可以：{}", status.label, labels.join("、"))
                }
            }
            AppError::Unauthenticated { message, .. }
            | AppError::Absent { message, .. }
            | AppError::Conflict { message, .. }
            | AppError::Gone { message, .. }
            | AppError::Unprocessable { message, .. }
            | AppError::PayloadTooLarge { message, .. }
            | AppError::Unsupported { message, .. }
            | AppError::BadGateway { message, .. }
            | AppError::Unavailable { message, .. } => (*message).to_owned(),
            AppError::NotFound => "资源不存在".to_owned(),
            AppError::Validation(_) => "提交的数据不符合要求".to_owned(),
            AppError::RateLimited { .. } => "请求过于频繁，请稍后再试".to_owned(),
            AppError::Internal(_) => "服务器内部错误".to_owned(),
        }
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
            return AppError::Conflict { code: ErrorCode::Conflict, message: "数据已存在或已被修改" };
        }
        if is_connection_error(&err) {
            tracing::error!(error = %err, "database unavailable");
            return AppError::Unavailable {
                code: ErrorCode::DatabaseUnavailable,
                message: "数据库暂不可用，请稍后再试",
            };
        }
        AppError::Internal(anyhow::Error::new(err).context("database"))
    }
}

fn is_connection_error(err: &DbErr) -> bool {
    matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_))
}

impl From<redis::RedisError> for AppError {
    fn from(err: redis::RedisError) -> Self {
        tracing::error!(error = %err, "redis unavailable");
        AppError::Unavailable {
            code: ErrorCode::RedisUnavailable, message: "缓存服务暂不可用，请稍后再试"
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> From<sea_orm::TransactionError<E>> for AppError
where
    AppError: From<E>,
{
    fn from(err: sea_orm::TransactionError<E>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_written_once_in_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            let wire = serde_json::to_value(code).unwrap();
            assert_eq!(wire, code.as_str(), "serde and as_str agree");
            assert!(code.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{code}");
            assert!(seen.insert(code.as_str()), "{code} twice");
        }
    }
}
