//! Branches whose Redis card pool may be missing open cards: a pool write after a
//! committed card move failed (Redis down). The card sweeper puts the open cards back and
//! clears the mark.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum CardPoolDirty {
    Table,
    BranchId,
    MarkedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CardPoolDirty::Table)
                .col(big_integer(CardPoolDirty::BranchId).primary_key())
                .col(timestamp_with_time_zone(CardPoolDirty::MarkedAt))
                .to_owned(),
        )
        .await
    }
}
