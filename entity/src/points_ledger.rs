use sea_orm::entity::prelude::*;

/// Append-only: rows are inserted, never updated or deleted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "points_ledger")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// The member's branch when the entry was made.
    pub branch_id: i64,
    pub delta_points: i64,
    pub delta_minutes: i64,
    pub star: Option<String>,
    /// `task`, `volunteer`, `adjust` or `redeem`.
    pub kind: String,
    pub ref_type: String,
    pub ref_id: String,
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub note: Option<String>,
    pub actor_id: Option<i64>,
    /// Asia/Shanghai ISO week, month and year of `created_at`: `w2026-47`, `m2026-11`, `y2026`.
    pub week_key: String,
    pub month_key: String,
    pub year_key: String,
    /// `created_at` in Unix seconds, for aggregates that need the latest moment.
    pub created_epoch: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
