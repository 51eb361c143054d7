//! Tasks can be corrected and cancelled (wave 2): when and why a task was cancelled, and
//! when it was last edited. One column per statement, as SQLite's ALTER TABLE wants.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Tasks {
    Table,
    CancelledAt,
    CancelReason,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Tasks::Table).add_column(timestamp_with_time_zone_null(Tasks::CancelledAt)).to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table(Tasks::Table).add_column(text_null(Tasks::CancelReason)).to_owned()).await?;
        m.alter_table(
            Table::alter().table(Tasks::Table).add_column(timestamp_with_time_zone_null(Tasks::UpdatedAt)).to_owned(),
        )
        .await
    }
}
