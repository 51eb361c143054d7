use sea_orm::entity::prelude::*;

status_enum! {
    /// What a pending write moves on Redis, which says what repairs it.
    PendingKind {
        /// A member's leaderboard scores (the target is the user).
        Board = "board",
        /// A branch's card pool and leases (the target is the branch).
        Pool = "pool",
    }
}

/// A Redis write a commit owes: inserted in that transaction, deleted once Redis has the
/// write. One left behind is repaired from SQL (see `infra::pending`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "redis_pending")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: PendingKind,
    pub target_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
