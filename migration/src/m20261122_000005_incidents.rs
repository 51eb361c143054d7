//! Incident reports (台账): the incidents, their timelines, and the idempotency keys of
//! filings (each stored with the request's hash and the response, in the filing's transaction).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Incidents {
    Table,
    Id,
    GridId,
    GridPath,
    OwnerOrgId,
    OwnerPath,
    Category,
    Title,
    Description,
    Severity,
    Lat,
    Lng,
    Address,
    OccurredAt,
    MediaIds,
    Star,
    Status,
    ReporterId,
    AssigneeId,
    CreatedAt,
    UpdatedAt,
    ClosedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum IncidentEvents {
    Table,
    Id,
    IncidentId,
    Action,
    FromStatus,
    ToStatus,
    ActorId,
    Note,
    MediaIds,
    At,
}

#[derive(DeriveIden, Clone, Copy)]
enum IdempotencyKeys {
    Table,
    Id,
    UserId,
    Key,
    RequestHash,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Incidents::Table)
                .col(big_pk_auto(Incidents::Id))
                .col(big_integer(Incidents::GridId))
                .col(string_len(Incidents::GridPath, 255))
                .col(big_integer(Incidents::OwnerOrgId))
                .col(string_len(Incidents::OwnerPath, 255))
                .col(string_len(Incidents::Category, 16))
                .col(string_len(Incidents::Title, 100))
                .col(text(Incidents::Description))
                .col(string_len(Incidents::Severity, 8))
                .col(double(Incidents::Lat))
                .col(double(Incidents::Lng))
                .col(string_len_null(Incidents::Address, 200))
                .col(timestamp_with_time_zone(Incidents::OccurredAt))
                .col(json(Incidents::MediaIds))
                .col(string_len_null(Incidents::Star, 32))
                .col(string_len(Incidents::Status, 16))
                .col(big_integer(Incidents::ReporterId))
                .col(big_integer_null(Incidents::AssigneeId))
                .col(timestamp_with_time_zone(Incidents::CreatedAt))
                .col(timestamp_with_time_zone(Incidents::UpdatedAt))
                .col(timestamp_with_time_zone_null(Incidents::ClosedAt))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            // Duplicate search: same category, a latitude band, then the rest in memory.
            ("ix_incidents_category_lat", &[Incidents::Category, Incidents::Lat][..]),
            ("ix_incidents_grid_path", &[Incidents::GridPath, Incidents::Id][..]),
            ("ix_incidents_owner_path", &[Incidents::OwnerPath, Incidents::Id][..]),
            ("ix_incidents_created", &[Incidents::CreatedAt][..]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(Incidents::Table);
            for c in cols {
                idx.col(*c);
            }
            m.create_index(idx.to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(IncidentEvents::Table)
                .col(big_pk_auto(IncidentEvents::Id))
                .col(big_integer(IncidentEvents::IncidentId))
                .col(string_len(IncidentEvents::Action, 16))
                .col(string_len_null(IncidentEvents::FromStatus, 16))
                .col(string_len(IncidentEvents::ToStatus, 16))
                .col(big_integer(IncidentEvents::ActorId))
                .col(text_null(IncidentEvents::Note))
                .col(json(IncidentEvents::MediaIds))
                .col(timestamp_with_time_zone(IncidentEvents::At))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_incident_events_incident")
                .table(IncidentEvents::Table)
                .col(IncidentEvents::IncidentId)
                .col(IncidentEvents::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(big_pk_auto(IdempotencyKeys::Id))
                .col(big_integer(IdempotencyKeys::UserId))
                .col(string_len(IdempotencyKeys::Key, 64))
                .col(string_len(IdempotencyKeys::RequestHash, 64))
                .col(integer(IdempotencyKeys::ResponseStatus))
                .col(text(IdempotencyKeys::ResponseBody))
                .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_idempotency_user_key")
                .table(IdempotencyKeys::Table)
                .col(IdempotencyKeys::UserId)
                .col(IdempotencyKeys::Key)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_idempotency_created")
                .table(IdempotencyKeys::Table)
                .col(IdempotencyKeys::CreatedAt)
                .to_owned(),
        )
        .await
    }
}
