//! Redis writes a commit owes (wave 2, crash safety): one row per write, inserted in the
//! transaction that makes it owed and deleted once Redis has it. A row left behind (the
//! process died between the commit and the write, or Redis failed) is repaired from SQL by
//! a background pass. Replaces the two repair marks, whose rows it takes over: those were
//! written only after Redis answered with an error, so a crash lost the write.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum RedisPending {
    Table,
    Id,
    Kind,
    TargetId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Every credit and card move inserts a row here and a batch deletes it a moment
        // later, so the table stays small and costs as little as it can: on SQLite the id is
        // the rowid itself (no AUTOINCREMENT bookkeeping), and there is no index beyond it
        // (repairs read the oldest rows in id order, which is their insertion order).
        let id = match m.get_database_backend() {
            sea_orm_migration::sea_orm::DatabaseBackend::Sqlite => {
                ColumnDef::new(RedisPending::Id).integer().not_null().primary_key().to_owned()
            }
            _ => big_pk_auto(RedisPending::Id),
        };
        m.create_table(
            Table::create()
                .table(RedisPending::Table)
                .col(id)
                .col(string(RedisPending::Kind))
                .col(big_integer(RedisPending::TargetId))
                .col(timestamp_with_time_zone(RedisPending::CreatedAt))
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        db.execute_unprepared(
            "INSERT INTO redis_pending (kind, target_id, created_at) \
             SELECT 'board', user_id, marked_at FROM leaderboard_dirty",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO redis_pending (kind, target_id, created_at) \
             SELECT 'pool', branch_id, marked_at FROM card_pool_dirty",
        )
        .await?;
        m.drop_table(Table::drop().table(Alias::new("leaderboard_dirty")).to_owned()).await?;
        m.drop_table(Table::drop().table(Alias::new("card_pool_dirty")).to_owned()).await
    }
}
