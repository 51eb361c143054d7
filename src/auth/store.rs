//! SQL for refresh tokens and Redis for login throttling. No HTTP types here.
use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use entity::refresh_tokens;

use crate::infra::db::by_key;
use crate::infra::redis::Redis;

pub async fn insert_refresh<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    family_id: &str,
    token_hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_tokens::ActiveModel {
        user_id: Set(user_id),
        family_id: Set(family_id.to_owned()),
        token_hash: Set(token_hash.to_owned()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

pub async fn find_refresh<C: ConnectionTrait>(
    db: &C,
    token_hash: &str,
) -> Result<Option<refresh_tokens::Model>, DbErr> {
    by_key(refresh_tokens::Entity::find().filter(refresh_tokens::Column::TokenHash.eq(token_hash)), db).await
}

/// Mark a token used if nobody did first; false when another request already used it.
pub async fn mark_used<C: ConnectionTrait>(txn: &C, id: i64, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let res = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
        .filter(refresh_tokens::Column::Id.eq(id))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn revoke_family<C: ConnectionTrait>(txn: &C, family_id: &str, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let res = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
        .filter(refresh_tokens::Column::FamilyId.eq(family_id))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    Ok(res.rows_affected)
}

/// Keep a refresh's answer for the retries of the same token within the grace.
pub async fn keep_answer(
    redis: &Redis,
    token_hash: &str,
    answer: &serde_json::Value,
    grace: chrono::Duration,
) -> redis::RedisResult<()> {
    let mut conn = redis.conn().await?;
    redis::cmd("SET")
        .arg(redis.keys().refresh_answer(token_hash))
        .arg(answer.to_string())
        .arg("EX")
        .arg(grace.num_seconds().max(1))
        .query_async(&mut conn)
        .await
}

/// The answer kept for this token, if its first use stored one and the grace lasts.
pub async fn kept_answer(redis: &Redis, token_hash: &str) -> redis::RedisResult<Option<serde_json::Value>> {
    let mut conn = redis.conn().await?;
    let kept: Option<String> =
        redis::cmd("GET").arg(redis.keys().refresh_answer(token_hash)).query_async(&mut conn).await?;
    Ok(kept.and_then(|k| serde_json::from_str(&k).ok()))
}

/// Failures recorded for this username from this address, and for this address, with the
/// seconds until the longer-lived of the two counters resets.
pub async fn login_failures(redis: &Redis, username: &str, ip: &str) -> redis::RedisResult<(u32, u32, i64)> {
    let keys = redis.keys();
    let (user_key, ip_key) = (keys.login_failures_user(username, ip), keys.login_failures_ip(ip));
    let mut conn = redis.conn().await?;
    let (user, addr, ttl_user, ttl_ip): (Option<u32>, Option<u32>, i64, i64) =
        redis::pipe().get(&user_key).get(&ip_key).ttl(&user_key).ttl(&ip_key).query_async(&mut conn).await?;
    Ok((user.unwrap_or(0), addr.unwrap_or(0), ttl_user.max(ttl_ip).max(1)))
}

pub async fn record_login_failure(redis: &Redis, username: &str, ip: &str, window_secs: u64) -> redis::RedisResult<()> {
    let keys = redis.keys();
    let (user_key, ip_key) = (keys.login_failures_user(username, ip), keys.login_failures_ip(ip));
    let mut conn = redis.conn().await?;
    // EXPIRE NX: the window starts at the first failure and is not pushed back by later ones.
    redis::pipe()
        .incr(&user_key, 1)
        .ignore()
        .cmd("EXPIRE")
        .arg(&user_key)
        .arg(window_secs)
        .arg("NX")
        .ignore()
        .incr(&ip_key, 1)
        .ignore()
        .cmd("EXPIRE")
        .arg(&ip_key)
        .arg(window_secs)
        .arg("NX")
        .ignore()
        .query_async::<()>(&mut conn)
        .await
}

pub async fn clear_login_failures(redis: &Redis, username: &str, ip: &str) -> redis::RedisResult<()> {
    let mut conn = redis.conn().await?;
    conn.del::<_, ()>(redis.keys().login_failures_user(username, ip)).await
}
