//! Idempotent POSTs: a retry with the same `Idempotency-Key` (per user) and the same body
//! answers the first response again and changes nothing; with another body, 422
//! `idempotency_conflict`. An endpoint hashes its parsed request (`request_hash`), asks
//! `replay_of` before it does anything, and `record`s the key with its response as the
//! last write of its own transaction, so the key exists exactly when the change does.
//! Part of the base: it knows no domain.
mod key;
mod store;

use actix_web::HttpResponse;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use key::{IdempotencyKey, PATTERN};

use crate::error::{AppError, ErrorCode, Result};

/// How long keys are kept.
pub const RETENTION: Duration = Duration::days(30);

const CONFLICT: AppError = AppError::Unprocessable {
    code: ErrorCode::IdempotencyConflict,
    message: "同一个 Idempotency-Key 已用于内容不同的请求",
};
const IN_PROGRESS: AppError = AppError::Conflict {
    code: ErrorCode::IdempotencyInProgress,
    message: "相同请求正在处理，请稍后重试",
};

/// What an idempotent POST answers: status and JSON body, the first time or replayed.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
}

impl Response {
    /// A first answer, to be recorded with the key.
    pub fn fresh(status: u16, body: String) -> Response {
        Response { status, body, replayed: false }
    }

    /// The HTTP response, with `Idempotent-Replayed: true` on a replay.
    pub fn into_http(self) -> HttpResponse {
        let status = actix_web::http::StatusCode::from_u16(self.status).unwrap_or(actix_web::http::StatusCode::OK);
        HttpResponse::build(status)
            .content_type("application/json")
            .insert_header(("Idempotent-Replayed", if self.replayed { "true" } else { "false" }))
            .body(self.body)
    }
}

impl Response {
    /// A first answer of `body` as JSON.
    pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Response> {
        Ok(Response::fresh(status, serde_json::to_string(body).map_err(anyhow::Error::from)?))
    }
}

/// A request's key and the hash of what it asked, to be recorded with its answer.
pub struct Claim {
    key: IdempotencyKey,
    hash: String,
}

/// Where a request with an optional key stands before it acts.
pub enum Begun {
    /// A retry: answer this and change nothing.
    Replay(Response),
    /// Go ahead; record the answer with the claim, if the request had a key.
    Go(Option<Claim>),
}

/// Before acting on a POST that accepts a key: a retry's stored answer (or 422 for the
/// key with another request), else the claim to `finish` with.
pub async fn begin<C: ConnectionTrait, T: Serialize>(
    db: &C,
    user_id: i64,
    key: Option<IdempotencyKey>,
    request: &T,
) -> Result<Begun> {
    let Some(key) = key else { return Ok(Begun::Go(None)) };
    let hash = request_hash(request);
    match replay_of(db, user_id, &key, &hash).await? {
        Some(first) => Ok(Begun::Replay(first)),
        None => Ok(Begun::Go(Some(Claim { key, hash }))),
    }
}

/// The last write of the change's transaction: the answer under the claim's key. `Some`
/// when another request with the key got there first: give its answer and roll back.
pub async fn finish<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    claim: &Option<Claim>,
    answer: &Response,
    now: DateTime<Utc>,
) -> Result<Option<Response>> {
    match claim {
        Some(claim) => record(txn, user_id, &claim.key, &claim.hash, answer, now).await,
        None => Ok(None),
    }
}

/// The hash a key is bound to: of the parsed request, serialised again, so key order and
/// spacing in the client's JSON do not matter.
pub fn request_hash<T: Serialize>(req: &T) -> String {
    let bytes = serde_json::to_vec(req).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// The stored answer for this user's key, if the key was used: replayed when `hash`
/// matches, 422 `idempotency_conflict` when it does not.
pub async fn replay_of<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    key: &IdempotencyKey,
    hash: &str,
) -> Result<Option<Response>> {
    match store::find(db, user_id, key.as_str()).await? {
        Some(stored) => replay(stored, hash).map(Some),
        None => Ok(None),
    }
}

/// Record the key with its first answer, inside the change's own transaction and as its
/// last write. `None` when recorded; otherwise another request took the key first (it
/// committed, or came earlier in this group commit), and this is its answer to give
/// instead: the caller rolls its own change back. On PostgreSQL this waits for a
/// concurrent request with the same key to commit or roll back first.
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    key: &IdempotencyKey,
    hash: &str,
    answer: &Response,
    now: DateTime<Utc>,
) -> Result<Option<Response>> {
    if store::insert(txn, user_id, key.as_str(), hash, (answer.status, &answer.body), now).await? {
        return Ok(None);
    }
    let stored = store::find(txn, user_id, key.as_str()).await?.ok_or(IN_PROGRESS)?;
    replay(stored, hash).map(Some)
}

/// Forget keys past their retention; returns how many (the background jobs run it).
pub async fn purge<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> std::result::Result<u64, DbErr> {
    store::delete_older_than(db, now - RETENTION).await
}

fn replay(stored: entity::idempotency_keys::Model, hash: &str) -> Result<Response> {
    if stored.request_hash != hash {
        return Err(CONFLICT);
    }
    let status = u16::try_from(stored.response_status).unwrap_or(0);
    if status == 0 {
        return Err(IN_PROGRESS);
    }
    Ok(Response { status, body: stored.response_body, replayed: true })
}
