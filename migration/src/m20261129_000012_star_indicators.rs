//! The five stars' indicators (五星评定指标): per county and year, each `auto` (measured by a
//! metric against a threshold) or `evidence` (judged from what a branch attaches).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum StarIndicators {
    Table,
    Id,
    CountyId,
    Year,
    Star,
    Code,
    Title,
    Kind,
    Metric,
    Threshold,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(StarIndicators::Table)
                .col(big_pk_auto(StarIndicators::Id))
                .col(big_integer(StarIndicators::CountyId))
                .col(integer(StarIndicators::Year))
                .col(string_len(StarIndicators::Star, 32))
                .col(string_len(StarIndicators::Code, 16))
                .col(string_len(StarIndicators::Title, 200))
                .col(string_len(StarIndicators::Kind, 16))
                .col(string_len_null(StarIndicators::Metric, 40))
                .col(double_null(StarIndicators::Threshold))
                .col(big_integer_null(StarIndicators::CreatedBy))
                .col(timestamp_with_time_zone(StarIndicators::CreatedAt))
                .col(timestamp_with_time_zone(StarIndicators::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_star_indicators_code")
                .table(StarIndicators::Table)
                .col(StarIndicators::CountyId)
                .col(StarIndicators::Year)
                .col(StarIndicators::Code)
                .unique()
                .to_owned(),
        )
        .await
    }
}
