use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orgs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    /// `county`, `township`, `branch` or `grid`.
    pub kind: String,
    /// Materialised path of ids, e.g. `/1/7/42/`; a subtree is `path LIKE '/1/7/%'`.
    pub path: String,
    pub depth: i32,
    /// Points credited per hour of approved volunteer service.
    pub points_per_hour: i32,
    /// How many cards one member may hold (claimed, not yet submitted) in this branch.
    pub card_limit: i32,
    /// How long a shop's reservation waits for pickup (`pickup_days` × 86400).
    pub pickup_seconds: i64,
    /// How long a county publicizes a star application (`publicity_days` × 86400).
    pub publicity_seconds: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
