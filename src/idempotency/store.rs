//! SQL for idempotency keys. No HTTP types here.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use entity::idempotency_keys;

use crate::infra::db::by_key;

pub async fn find<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    key: &str,
) -> Result<Option<idempotency_keys::Model>, DbErr> {
    let select = idempotency_keys::Entity::find()
        .filter(idempotency_keys::Column::UserId.eq(user_id))
        .filter(idempotency_keys::Column::Key.eq(key));
    by_key(select, db).await
}

/// Insert a key with its request hash and response; false when the key is already taken.
pub async fn insert<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    key: &str,
    request_hash: &str,
    response: (u16, &str),
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use idempotency_keys::Column as K;
    let row = idempotency_keys::ActiveModel {
        user_id: Set(user_id),
        key: Set(key.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        response_status: Set(i32::from(response.0)),
        response_body: Set(response.1.to_owned()),
        created_at: Set(now),
        ..Default::default()
    };
    let inserted = idempotency_keys::Entity::insert(row)
        .on_conflict(OnConflict::columns([K::UserId, K::Key]).do_nothing().to_owned())
        .exec_without_returning(txn)
        .await?;
    Ok(inserted == 1)
}

/// Forget keys older than `before`; returns how many.
pub async fn delete_older_than<C: ConnectionTrait>(db: &C, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let res =
        idempotency_keys::Entity::delete_many().filter(idempotency_keys::Column::CreatedAt.lt(before)).exec(db).await?;
    Ok(res.rows_affected)
}
