use sea_orm::entity::prelude::*;

/// A micro-task a branch publishes; its `copies` are cards in the branch's pool.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub branch_id: i64,
    pub title: String,
    pub description: String,
    pub star: String,
    pub points: i32,
    pub volunteer_minutes: i32,
    pub copies: i32,
    pub claim_ttl_minutes: i32,
    pub requires_photo: bool,
    pub expires_at: Option<DateTimeUtc>,
    /// Set once the sweeper has taken an expired task's open cards out of the pool, or
    /// when the task is cancelled.
    pub closed_at: Option<DateTimeUtc>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    /// Cancelled by its branch: its open cards left the pool; drawn ones may finish.
    pub cancelled_at: Option<DateTimeUtc>,
    pub cancel_reason: Option<String>,
    /// Last edit of its title, description or deadline.
    pub updated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
