//! Uploaded photos: who uploaded them and what was stored (content-addressed files).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Media {
    Table,
    Id,
    OwnerId,
    SourceSha256,
    StoredSha256,
    ContentType,
    Bytes,
    Width,
    Height,
    ThumbWidth,
    ThumbHeight,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Media::Table)
                .col(big_pk_auto(Media::Id))
                .col(big_integer(Media::OwnerId))
                .col(string_len(Media::SourceSha256, 64))
                .col(string_len(Media::StoredSha256, 64))
                .col(string_len(Media::ContentType, 32))
                .col(big_integer(Media::Bytes))
                .col(integer(Media::Width))
                .col(integer(Media::Height))
                .col(integer(Media::ThumbWidth))
                .col(integer(Media::ThumbHeight))
                .col(timestamp_with_time_zone(Media::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_media_owner_source")
                .table(Media::Table)
                .col(Media::OwnerId)
                .col(Media::SourceSha256)
                .unique()
                .to_owned(),
        )
        .await
    }
}
