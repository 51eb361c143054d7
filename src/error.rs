//! `AppError`: every failure a request can meet, mapped to a status and a stable
//! `{code, message}` body. The one place where database and Redis errors are classified.
//! The cause of a 500 is logged here with context and never sent to the client.
use std::collections::BTreeMap;

use actix_web::ResponseError;
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;
use utoipa::ToSchema;

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Field name → why it was refused, for 422 `validation_failed`.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: malformed JSON, a missing field, a bad header.
    #[error("bad request ({code}): {message}")]
    BadRequest { code: &'static str, message: String },
    #[error("unauthenticated ({code})")]
    Unauthenticated { code: &'static str, message: &'static str },
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// 404 with a code of its own (e.g. `pool_empty`).
    #[error("absent ({code})")]
    Absent { code: &'static str, message: &'static str },
    /// 409: the request is valid but the state it meets forbids it.
    #[error("conflict ({code})")]
    Conflict { code: &'static str, message: &'static str },
    #[error("gone ({code})")]
    Gone { code: &'static str, message: &'static str },
    /// 422 `validation_failed`, naming the fields.
    #[error("validation failed: {0:?}")]
    Validation(FieldErrors),
    /// 422 with a code of its own (e.g. `idempotency_conflict`).
    #[error("unprocessable ({code})")]
    Unprocessable { code: &'static str, message: &'static str },
    /// 413 with a code of its own (`payload_too_large`, `image_too_large`).
    #[error("too large ({code})")]
    PayloadTooLarge { code: &'static str, message: &'static str },
    /// 415 with a code of its own (`unsupported_media`).
    #[error("unsupported ({code})")]
    Unsupported { code: &'static str, message: &'static str },
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("bad gateway ({code})")]
    BadGateway { code: &'static str, message: &'static str },
    #[error("service unavailable ({code})")]
    Unavailable { code: &'static str, message: &'static str },
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code, part of the contract.
    pub code: String,
    /// Human-readable explanation, in Chinese.
    pub message: String,
    /// Present on 422 `validation_failed`: field → reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<FieldErrors>,
}

impl AppError {
    /// A 5xx: the server's fault (or its database's), not the request's.
    pub fn is_server_error(&self) -> bool {
        self.status_code().is_server_error()
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest { code, message: message.into() }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::bad_request("invalid_request", message)
    }

    pub fn unauthenticated() -> Self {
        AppError::Unauthenticated { code: "unauthenticated", message: "请先登录" }
    }

    /// One field refused: a 422 naming it.
    pub fn field(name: &str, why: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        fields.insert(name.to_owned(), why.into());
        AppError::Validation(fields)
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. }
            | AppError::Unauthenticated { code, .. }
            | AppError::Absent { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Gone { code, .. }
            | AppError::Unprocessable { code, .. }
            | AppError::PayloadTooLarge { code, .. }
            | AppError::Unsupported { code, .. }
            | AppError::BadGateway { code, .. }
            | AppError::Unavailable { code, .. } => code,
            AppError::Forbidden => "forbidden",
            AppError::NotFound => "not_found",
            AppError::Validation(_) => "validation_failed",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Internal(_) => "internal_error",
        }
    }

    pub fn message(&self) -> String {
        match self {
            AppError::BadRequest { message, .. } => message.clone(),
            AppError::Unauthenticated { message, .. }
            | AppError::Absent { message, .. }
            | AppError::Conflict { message, .. }
            | AppError::Gone { message, .. }
            | AppError::Unprocessable { message, .. }
            | AppError::PayloadTooLarge { message, .. }
            | AppError::Unsupported { message, .. }
            | AppError::BadGateway { message, .. }
            | AppError::Unavailable { message, .. } => (*message).to_owned(),
            AppError::Forbidden => "没有权限执行此操作".to_owned(),
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
            return AppError::Conflict { code: "conflict", message: "数据已存在或已被修改" };
        }
        if is_connection_error(&err) {
            tracing::error!(error = %err, "database unavailable");
            return AppError::Unavailable {
                code: "database_unavailable", message: "数据库暂不可用，请稍后再试"
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
        AppError::Unavailable { code: "redis_unavailable", message: "缓存服务暂不可用，请稍后再试" }
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
