//! Incident deadlines and notifications.
//! - Incidents get `due_at` (from the county's rule for their category and severity), the
//!   moment they turn yellow (`warn_at`), `watch_at` (the deadline while nobody has been
//!   told it passed: the background pass's index) and whether it was extended once.
//! - Timeline rows may have no actor (moves made by the background jobs).
//! - Per county: the SLA rules, and a calendar of holidays and make-up workdays (调休).
//! - `notifications`: the inbox, with the WeChat outbox columns; `wechat_consents`: the
//!   one-time subscribe consents a user left per template; `draw_codes`: each branch's
//!   mini-program code once fetched; redemptions remember that "expiring" was said.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Incidents {
    Table,
    GridId,
    CreatedAt,
    Category,
    Status,
    DueAt,
    WarnAt,
    WatchAt,
    Extended,
}

#[derive(DeriveIden, Clone, Copy)]
enum IncidentSlaRules {
    Table,
    CountyId,
    Category,
    Severity,
    Hours,
    WorkingDays,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkCalendar {
    Table,
    CountyId,
    Day,
    Kind,
}

#[derive(DeriveIden, Clone, Copy)]
enum Notifications {
    Table,
    Id,
    UserId,
    Event,
    Title,
    Body,
    Ref,
    ReadAt,
    CreatedAt,
    TemplateId,
    WxState,
    WxAttempts,
    WxNextAt,
    WxLeaseUntil,
    WxLeaseOwner,
    WxError,
    WxSentAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WechatConsents {
    Table,
    UserId,
    TemplateId,
    Remaining,
}

#[derive(DeriveIden, Clone, Copy)]
enum DrawCodes {
    Table,
    BranchId,
    Path,
    Bytes,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Redemptions {
    Table,
    ExpiringNoticed,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for col in [
            timestamp_with_time_zone_null(Incidents::DueAt),
            timestamp_with_time_zone_null(Incidents::WarnAt),
            timestamp_with_time_zone_null(Incidents::WatchAt),
            boolean(Incidents::Extended).default(false).to_owned(),
        ] {
            m.alter_table(Table::alter().table(Incidents::Table).add_column(col).to_owned()).await?;
        }
        m.create_index(
            Index::create().name("ix_incidents_watch").table(Incidents::Table).col(Incidents::WatchAt).to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_incidents_due").table(Incidents::Table).col(Incidents::DueAt).to_owned(),
        )
        .await?;
        // The star metrics and reports count a branch's incidents over a period from an
        // index alone; counting the overdue ones now reads `due_at` too, so the index that
        // replaces `ix_incidents_grid_created` carries it (without it, a branch's star view on
        // the bench data went from 25-32 to 6 a second: a table lookup per incident). A new
        // name: a pooled SQLite connection may not have seen a drop made on another yet.
        m.create_index(
            Index::create()
                .name("ix_incidents_grid_span")
                .table(Incidents::Table)
                .col(Incidents::GridId)
                .col(Incidents::CreatedAt)
                .col(Incidents::Category)
                .col(Incidents::Status)
                .col(Incidents::DueAt)
                .to_owned(),
        )
        .await?;
        m.drop_index(Index::drop().name("ix_incidents_grid_created").table(Incidents::Table).to_owned()).await?;

        let db = m.get_connection();
        match m.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                db.execute_unprepared("ALTER TABLE incident_events ALTER COLUMN actor_id DROP NOT NULL").await?;
            }
            _ => {
                // SQLite cannot drop a NOT NULL: the table is rebuilt, rows and ids kept, in one
                // batch on one connection (a pooled connection still holding the old schema
                // would not see the table dropped).
                db.execute_unprepared(
                    "BEGIN;
                     CREATE TABLE incident_events_new (
                         id integer NOT NULL PRIMARY KEY AUTOINCREMENT, incident_id integer NOT NULL,
                         action varchar(16) NOT NULL, from_status varchar(16) NULL, to_status varchar(16) NOT NULL,
                         actor_id integer NULL, note text NULL, media_ids json_text NOT NULL,
                         at timestamp_with_timezone_text NOT NULL);
                     INSERT INTO incident_events_new (id, incident_id, action, from_status, to_status, actor_id,
                         note, media_ids, at)
                         SELECT id, incident_id, action, from_status, to_status, actor_id, note, media_ids, at
                         FROM incident_events;
                     DROP TABLE incident_events;
                     ALTER TABLE incident_events_new RENAME TO incident_events;
                     CREATE INDEX ix_incident_events_incident ON incident_events (incident_id, id);
                     COMMIT;",
                )
                .await?;
            }
        }

        m.create_table(
            Table::create()
                .table(IncidentSlaRules::Table)
                .col(big_integer(IncidentSlaRules::CountyId))
                .col(string_len(IncidentSlaRules::Category, 16))
                .col(string_len(IncidentSlaRules::Severity, 8))
                .col(double_null(IncidentSlaRules::Hours))
                .col(integer_null(IncidentSlaRules::WorkingDays))
                .col(timestamp_with_time_zone(IncidentSlaRules::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(IncidentSlaRules::CountyId)
                        .col(IncidentSlaRules::Category)
                        .col(IncidentSlaRules::Severity),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WorkCalendar::Table)
                .col(big_integer(WorkCalendar::CountyId))
                .col(date(WorkCalendar::Day))
                .col(string_len(WorkCalendar::Kind, 8))
                .primary_key(Index::create().col(WorkCalendar::CountyId).col(WorkCalendar::Day))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Notifications::Table)
                .col(big_pk_auto(Notifications::Id))
                .col(big_integer(Notifications::UserId))
                .col(string_len(Notifications::Event, 32))
                .col(string_len(Notifications::Title, 100))
                .col(text(Notifications::Body))
                .col(string_len(Notifications::Ref, 64))
                .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                .col(timestamp_with_time_zone(Notifications::CreatedAt))
                .col(string_len_null(Notifications::TemplateId, 128))
                .col(string_len(Notifications::WxState, 16))
                .col(integer(Notifications::WxAttempts).default(0))
                .col(timestamp_with_time_zone_null(Notifications::WxNextAt))
                .col(timestamp_with_time_zone_null(Notifications::WxLeaseUntil))
                .col(string_len_null(Notifications::WxLeaseOwner, 64))
                .col(text_null(Notifications::WxError))
                .col(timestamp_with_time_zone_null(Notifications::WxSentAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_notifications_user")
                .table(Notifications::Table)
                .col(Notifications::UserId)
                .col(Notifications::Id)
                .to_owned(),
        )
        .await?;
        // The outbox: only rows still to send have a `wx_next_at`.
        m.create_index(
            Index::create()
                .name("ix_notifications_outbox")
                .table(Notifications::Table)
                .col(Notifications::WxNextAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WechatConsents::Table)
                .col(big_integer(WechatConsents::UserId))
                .col(string_len(WechatConsents::TemplateId, 128))
                .col(integer(WechatConsents::Remaining))
                .primary_key(Index::create().col(WechatConsents::UserId).col(WechatConsents::TemplateId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(DrawCodes::Table)
                .col(big_integer(DrawCodes::BranchId).primary_key())
                .col(string_len(DrawCodes::Path, 255))
                .col(big_integer(DrawCodes::Bytes))
                .col(timestamp_with_time_zone(DrawCodes::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Redemptions::Table)
                .add_column(boolean(Redemptions::ExpiringNoticed).default(false))
                .to_owned(),
        )
        .await
    }
}
