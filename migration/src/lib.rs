//! Schema migrations, one file per change, applied by `fivestar migrate` and at start-up.
pub use sea_orm_migration::prelude::*;

mod m20261122_000001_foundation;
mod m20261122_000002_points;
mod m20261122_000003_media;
mod m20261122_000004_cards;
mod m20261122_000005_incidents;
mod m20261123_000006_card_pool_dirty;
mod m20261123_000007_incidents_nearby_index;
mod m20261123_000008_ledger_created_index;
mod m20261129_000009_task_edits;
mod m20261129_000010_redis_pending;
mod m20261129_000011_shop;
mod m20261129_000012_star_indicators;
mod m20261129_000013_star_applications;
mod m20261129_000014_incidents_grid_index;
mod m20261129_000015_sla_notifications;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261122_000002_points::Migration),
            Box::new(m20261122_000003_media::Migration),
            Box::new(m20261122_000004_cards::Migration),
            Box::new(m20261122_000005_incidents::Migration),
            Box::new(m20261123_000006_card_pool_dirty::Migration),
            Box::new(m20261123_000007_incidents_nearby_index::Migration),
            Box::new(m20261123_000008_ledger_created_index::Migration),
            Box::new(m20261129_000009_task_edits::Migration),
            Box::new(m20261129_000010_redis_pending::Migration),
            Box::new(m20261129_000011_shop::Migration),
            Box::new(m20261129_000012_star_indicators::Migration),
            Box::new(m20261129_000013_star_applications::Migration),
            Box::new(m20261129_000014_incidents_grid_index::Migration),
            Box::new(m20261129_000015_sla_notifications::Migration),
        ]
    }
}
