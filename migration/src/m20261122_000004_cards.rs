//! Micro-task cards: tasks a branch publishes, the cards (copies) of each task, and every
//! claim of a card (one row per draw: its holder, submission and review).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Orgs {
    Table,
    CardLimit,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tasks {
    Table,
    Id,
    BranchId,
    Title,
    Description,
    Star,
    Points,
    VolunteerMinutes,
    Copies,
    ClaimTtlMinutes,
    RequiresPhoto,
    ExpiresAt,
    ClosedAt,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Cards {
    Table,
    Id,
    TaskId,
    BranchId,
    Status,
    HolderId,
    ClaimId,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CardClaims {
    Table,
    Id,
    CardId,
    TaskId,
    BranchId,
    UserId,
    Status,
    ClaimedAt,
    ExpiresAt,
    SubmittedAt,
    Note,
    MediaIds,
    ReviewerId,
    ReviewComment,
    EndedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Orgs::Table).add_column(integer(Orgs::CardLimit).default(1)).to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table(Tasks::Table)
                .col(big_pk_auto(Tasks::Id))
                .col(big_integer(Tasks::BranchId))
                .col(string_len(Tasks::Title, 100))
                .col(text(Tasks::Description))
                .col(string_len(Tasks::Star, 32))
                .col(integer(Tasks::Points))
                .col(integer(Tasks::VolunteerMinutes))
                .col(integer(Tasks::Copies))
                .col(integer(Tasks::ClaimTtlMinutes))
                .col(boolean(Tasks::RequiresPhoto))
                .col(timestamp_with_time_zone_null(Tasks::ExpiresAt))
                .col(timestamp_with_time_zone_null(Tasks::ClosedAt))
                .col(big_integer(Tasks::CreatedBy))
                .col(timestamp_with_time_zone(Tasks::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_tasks_branch").table(Tasks::Table).col(Tasks::BranchId).col(Tasks::Id).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Cards::Table)
                .col(big_pk_auto(Cards::Id))
                .col(big_integer(Cards::TaskId))
                .col(big_integer(Cards::BranchId))
                .col(string_len(Cards::Status, 16))
                .col(big_integer_null(Cards::HolderId))
                .col(big_integer_null(Cards::ClaimId))
                .col(timestamp_with_time_zone(Cards::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_cards_task").table(Cards::Table).col(Cards::TaskId).col(Cards::Status).to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_cards_branch_status")
                .table(Cards::Table)
                .col(Cards::BranchId)
                .col(Cards::Status)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CardClaims::Table)
                .col(big_pk_auto(CardClaims::Id))
                .col(big_integer(CardClaims::CardId))
                .col(big_integer(CardClaims::TaskId))
                .col(big_integer(CardClaims::BranchId))
                .col(big_integer(CardClaims::UserId))
                .col(string_len(CardClaims::Status, 16))
                .col(timestamp_with_time_zone(CardClaims::ClaimedAt))
                .col(timestamp_with_time_zone(CardClaims::ExpiresAt))
                .col(timestamp_with_time_zone_null(CardClaims::SubmittedAt))
                .col(text_null(CardClaims::Note))
                .col(json(CardClaims::MediaIds))
                .col(big_integer_null(CardClaims::ReviewerId))
                .col(text_null(CardClaims::ReviewComment))
                .col(timestamp_with_time_zone_null(CardClaims::EndedAt))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_claims_user_branch_status", &[CardClaims::UserId, CardClaims::BranchId, CardClaims::Status][..]),
            ("ix_claims_branch_status", &[CardClaims::BranchId, CardClaims::Status, CardClaims::Id][..]),
            ("ix_claims_status_expires", &[CardClaims::Status, CardClaims::ExpiresAt][..]),
            ("ix_claims_card", &[CardClaims::CardId][..]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(CardClaims::Table);
            for c in cols {
                idx.col(*c);
            }
            m.create_index(idx.to_owned()).await?;
        }
        Ok(())
    }
}
