//! Media rows in SQL (the files are behind `infra::media_store`). No HTTP types here.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set};

use entity::media;

use crate::infra::db::by_key;

pub async fn find_by_source<C: ConnectionTrait>(
    db: &C,
    owner: i64,
    source: &str,
) -> Result<Option<media::Model>, DbErr> {
    by_key(
        media::Entity::find().filter(media::Column::OwnerId.eq(owner)).filter(media::Column::SourceSha256.eq(source)),
        db,
    )
    .await
}

/// Insert a row; when a concurrent retry of the same upload got there first, theirs.
pub async fn insert<C: ConnectionTrait>(db: &C, row: media::Model, now: DateTime<Utc>) -> Result<media::Model, DbErr> {
    let (owner, source) = (row.owner_id, row.source_sha256.clone());
    let active = media::ActiveModel {
        owner_id: Set(row.owner_id),
        source_sha256: Set(row.source_sha256),
        stored_sha256: Set(row.stored_sha256),
        content_type: Set(row.content_type),
        bytes: Set(row.bytes),
        width: Set(row.width),
        height: Set(row.height),
        thumb_width: Set(row.thumb_width),
        thumb_height: Set(row.thumb_height),
        created_at: Set(now),
        ..Default::default()
    };
    media::Entity::insert(active)
        .on_conflict(OnConflict::columns([media::Column::OwnerId, media::Column::SourceSha256]).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    find_by_source(db, owner, &source).await?.ok_or_else(|| DbErr::RecordNotFound("media row".into()))
}

/// How many of these ids exist and belong to `owner`.
pub async fn count_owned<C: ConnectionTrait>(db: &C, owner: i64, ids: &[i64]) -> Result<u64, DbErr> {
    media::Entity::find()
        .filter(media::Column::OwnerId.eq(owner))
        .filter(media::Column::Id.is_in(ids.iter().copied()))
        .count(db)
        .await
}

/// The rows of these ids (any owner, each once): the photos a response shows.
pub async fn find_many<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<Vec<media::Model>, DbErr> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    ids.sort_unstable();
    ids.dedup();
    media::Entity::find().filter(media::Column::Id.is_in(ids)).all(db).await
}
