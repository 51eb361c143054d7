//! SQL for media rows. No HTTP types here.
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter};

use entity::media;

/// How many of these ids exist and belong to `owner`.
pub async fn count_owned<C: ConnectionTrait>(db: &C, owner: i64, ids: &[i64]) -> Result<u64, DbErr> {
    media::Entity::find()
        .filter(media::Column::OwnerId.eq(owner))
        .filter(media::Column::Id.is_in(ids.iter().copied()))
        .count(db)
        .await
}
