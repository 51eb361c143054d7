//! The points ledger (append-only), per-user summaries, volunteer logs, leaderboard
//! repair marks, and each branch's points per volunteer hour.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Orgs {
    Table,
    PointsPerHour,
}

#[derive(DeriveIden, Clone, Copy)]
enum PointsLedger {
    Table,
    Id,
    UserId,
    BranchId,
    DeltaPoints,
    DeltaMinutes,
    Star,
    Kind,
    RefType,
    RefId,
    IdempotencyKey,
    Note,
    ActorId,
    WeekKey,
    MonthKey,
    YearKey,
    CreatedEpoch,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PointsSummary {
    Table,
    UserId,
    Balance,
    EarnedTotal,
    VolunteerMinutesTotal,
    StrongBranch,
    ThrivingIndustry,
    EcoLivable,
    SafeLawful,
    CivilHappy,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum VolunteerLogs {
    Table,
    Id,
    UserId,
    BranchId,
    Description,
    Star,
    StartedAt,
    EndedAt,
    Minutes,
    MediaIds,
    Status,
    ReviewerId,
    ReviewComment,
    ReviewedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LeaderboardDirty {
    Table,
    UserId,
    MarkedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Orgs::Table).add_column(integer(Orgs::PointsPerHour).default(10)).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PointsLedger::Table)
                .col(big_pk_auto(PointsLedger::Id))
                .col(big_integer(PointsLedger::UserId))
                .col(big_integer(PointsLedger::BranchId))
                .col(big_integer(PointsLedger::DeltaPoints))
                .col(big_integer(PointsLedger::DeltaMinutes))
                .col(string_len_null(PointsLedger::Star, 32))
                .col(string_len(PointsLedger::Kind, 16))
                .col(string_len(PointsLedger::RefType, 32))
                .col(string_len(PointsLedger::RefId, 64))
                .col(string_len(PointsLedger::IdempotencyKey, 160).unique_key())
                .col(text_null(PointsLedger::Note))
                .col(big_integer_null(PointsLedger::ActorId))
                .col(string_len(PointsLedger::WeekKey, 10))
                .col(string_len(PointsLedger::MonthKey, 10))
                .col(string_len(PointsLedger::YearKey, 10))
                .col(big_integer(PointsLedger::CreatedEpoch))
                .col(timestamp_with_time_zone(PointsLedger::CreatedAt))
                .foreign_key(
                    ForeignKey::create().from(PointsLedger::Table, PointsLedger::UserId).to(Users::Table, Users::Id),
                )
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("idx_ledger_user", vec![PointsLedger::UserId, PointsLedger::Id]),
            ("idx_ledger_branch_week", vec![PointsLedger::BranchId, PointsLedger::WeekKey]),
            ("idx_ledger_branch_month", vec![PointsLedger::BranchId, PointsLedger::MonthKey]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(PointsLedger::Table);
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table(PointsSummary::Table)
                .col(big_integer(PointsSummary::UserId).primary_key())
                .col(big_integer(PointsSummary::Balance).default(0))
                .col(big_integer(PointsSummary::EarnedTotal).default(0))
                .col(big_integer(PointsSummary::VolunteerMinutesTotal).default(0))
                .col(big_integer(PointsSummary::StrongBranch).default(0))
                .col(big_integer(PointsSummary::ThrivingIndustry).default(0))
                .col(big_integer(PointsSummary::EcoLivable).default(0))
                .col(big_integer(PointsSummary::SafeLawful).default(0))
                .col(big_integer(PointsSummary::CivilHappy).default(0))
                .col(timestamp_with_time_zone(PointsSummary::UpdatedAt))
                .foreign_key(
                    ForeignKey::create().from(PointsSummary::Table, PointsSummary::UserId).to(Users::Table, Users::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(VolunteerLogs::Table)
                .col(big_pk_auto(VolunteerLogs::Id))
                .col(big_integer(VolunteerLogs::UserId))
                .col(big_integer(VolunteerLogs::BranchId))
                .col(text(VolunteerLogs::Description))
                .col(string_len(VolunteerLogs::Star, 32))
                .col(timestamp_with_time_zone(VolunteerLogs::StartedAt))
                .col(timestamp_with_time_zone(VolunteerLogs::EndedAt))
                .col(integer(VolunteerLogs::Minutes))
                .col(json(VolunteerLogs::MediaIds))
                .col(string_len(VolunteerLogs::Status, 16))
                .col(big_integer_null(VolunteerLogs::ReviewerId))
                .col(text_null(VolunteerLogs::ReviewComment))
                .col(timestamp_with_time_zone_null(VolunteerLogs::ReviewedAt))
                .col(timestamp_with_time_zone(VolunteerLogs::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_volunteer_logs_branch_status")
                .table(VolunteerLogs::Table)
                .col(VolunteerLogs::BranchId)
                .col(VolunteerLogs::Status)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_volunteer_logs_user")
                .table(VolunteerLogs::Table)
                .col(VolunteerLogs::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LeaderboardDirty::Table)
                .col(big_integer(LeaderboardDirty::UserId).primary_key())
                .col(timestamp_with_time_zone(LeaderboardDirty::MarkedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
