use sea_orm::entity::prelude::*;

/// A branch's application for stars in one year. Its `status` moves only by the state
/// machine in `stars::domain` (conditional updates), and every move is a row of
/// `star_events`. One live (not rejected) application per branch and year.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "star_applications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub branch_id: i64,
    pub county_id: i64,
    pub year: i32,
    /// The star keys applied for (narrowed by reviews).
    pub stars: Json,
    pub statement: String,
    /// `submitted`, `returned`, `township_passed`, `publicized`, `awarded` or `rejected`.
    pub status: String,
    pub publicity_ends_at: Option<DateTimeUtc>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
