use sea_orm::entity::prelude::*;

/// Per-user running totals, updated in the same transaction as each ledger entry.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "points_summary")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    pub balance: i64,
    /// Net points from task, volunteer and adjust entries (spending excluded).
    pub earned_total: i64,
    pub volunteer_minutes_total: i64,
    pub strong_branch: i64,
    pub thriving_industry: i64,
    pub eco_livable: i64,
    pub safe_lawful: i64,
    pub civil_happy: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
