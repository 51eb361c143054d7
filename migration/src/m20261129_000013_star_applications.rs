//! The five-star applications (申报 → 初审 → 审核 → 公示 → 授星): the applications, their
//! evidence, every step (history), objections during publicity, the awarded ratings, and
//! `publicity_days`, the county's setting (kept in seconds).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Orgs {
    Table,
    PublicitySeconds,
}

#[derive(DeriveIden, Clone, Copy)]
enum StarApplications {
    Table,
    Id,
    BranchId,
    CountyId,
    Year,
    Stars,
    Statement,
    Status,
    PublicityEndsAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum StarEvidence {
    Table,
    Id,
    ApplicationId,
    IndicatorCode,
    Note,
    MediaIds,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum StarEvents {
    Table,
    Id,
    ApplicationId,
    Action,
    ActorId,
    FromStatus,
    ToStatus,
    Comment,
    At,
}

#[derive(DeriveIden, Clone, Copy)]
enum StarObjections {
    Table,
    Id,
    ApplicationId,
    AuthorId,
    Text,
    Status,
    ResolvedBy,
    Resolution,
    CreatedAt,
    ResolvedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum StarRatings {
    Table,
    Id,
    BranchId,
    Year,
    Star,
    ApplicationId,
    AwardedAt,
    RevokedAt,
    RevokedBy,
    RevokeReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Orgs::Table)
                .add_column(big_integer(Orgs::PublicitySeconds).default(5 * 86_400))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StarApplications::Table)
                .col(big_pk_auto(StarApplications::Id))
                .col(big_integer(StarApplications::BranchId))
                .col(big_integer(StarApplications::CountyId))
                .col(integer(StarApplications::Year))
                .col(json(StarApplications::Stars))
                .col(text(StarApplications::Statement))
                .col(string_len(StarApplications::Status, 16))
                .col(timestamp_with_time_zone_null(StarApplications::PublicityEndsAt))
                .col(big_integer(StarApplications::CreatedBy))
                .col(timestamp_with_time_zone(StarApplications::CreatedAt))
                .col(timestamp_with_time_zone(StarApplications::UpdatedAt))
                .to_owned(),
        )
        .await?;
        // One live application per branch and year: only a rejected one makes room.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_star_applications_live ON star_applications (branch_id, year) \
                 WHERE status <> 'rejected'",
            )
            .await?;
        m.create_index(
            Index::create()
                .name("ix_star_applications_publicity")
                .table(StarApplications::Table)
                .col(StarApplications::Status)
                .col(StarApplications::PublicityEndsAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StarEvidence::Table)
                .col(big_pk_auto(StarEvidence::Id))
                .col(big_integer(StarEvidence::ApplicationId))
                .col(string_len(StarEvidence::IndicatorCode, 16))
                .col(text(StarEvidence::Note))
                .col(json(StarEvidence::MediaIds))
                .col(big_integer(StarEvidence::CreatedBy))
                .col(timestamp_with_time_zone(StarEvidence::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_star_evidence_application")
                .table(StarEvidence::Table)
                .col(StarEvidence::ApplicationId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StarEvents::Table)
                .col(big_pk_auto(StarEvents::Id))
                .col(big_integer(StarEvents::ApplicationId))
                .col(string_len(StarEvents::Action, 32))
                .col(big_integer_null(StarEvents::ActorId))
                .col(string_len_null(StarEvents::FromStatus, 16))
                .col(string_len(StarEvents::ToStatus, 16))
                .col(text_null(StarEvents::Comment))
                .col(timestamp_with_time_zone(StarEvents::At))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_star_events_application")
                .table(StarEvents::Table)
                .col(StarEvents::ApplicationId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StarObjections::Table)
                .col(big_pk_auto(StarObjections::Id))
                .col(big_integer(StarObjections::ApplicationId))
                .col(big_integer(StarObjections::AuthorId))
                .col(text(StarObjections::Text))
                .col(string_len(StarObjections::Status, 16))
                .col(big_integer_null(StarObjections::ResolvedBy))
                .col(text_null(StarObjections::Resolution))
                .col(timestamp_with_time_zone(StarObjections::CreatedAt))
                .col(timestamp_with_time_zone_null(StarObjections::ResolvedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_star_objections_application")
                .table(StarObjections::Table)
                .col(StarObjections::ApplicationId)
                .col(StarObjections::Status)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StarRatings::Table)
                .col(big_pk_auto(StarRatings::Id))
                .col(big_integer(StarRatings::BranchId))
                .col(integer(StarRatings::Year))
                .col(string_len(StarRatings::Star, 32))
                .col(big_integer(StarRatings::ApplicationId))
                .col(timestamp_with_time_zone(StarRatings::AwardedAt))
                .col(timestamp_with_time_zone_null(StarRatings::RevokedAt))
                .col(big_integer_null(StarRatings::RevokedBy))
                .col(text_null(StarRatings::RevokeReason))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_star_ratings")
                .table(StarRatings::Table)
                .col(StarRatings::BranchId)
                .col(StarRatings::Year)
                .col(StarRatings::Star)
                .unique()
                .to_owned(),
        )
        .await
    }
}
