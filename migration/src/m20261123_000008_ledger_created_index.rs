//! Which members were credited in the last minute (`points::store::credited_since`): the
//! rebuild's catch-up after writing the boards, and the reconciler. With no index on the
//! entry's time (and the `DISTINCT` the select had), SQLite walked the whole ledger for it:
//! 6 of the 24 s a rebuild of 1,000,000 entries took. Entries arrive in time order, so the
//! index grows at its right edge.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum PointsLedger {
    Table,
    CreatedEpoch,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx_ledger_created_epoch")
                .table(PointsLedger::Table)
                .col(PointsLedger::CreatedEpoch)
                .to_owned(),
        )
        .await
    }
}
