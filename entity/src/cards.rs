use sea_orm::entity::prelude::*;

/// One copy of a task. Moves `open -> claimed -> submitted -> approved`, back to `open`
/// when a claim is released, expires or is rejected, and to `expired` when its task ends.
/// Every move is a conditional update on `status`, so one card has one holder.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cards")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub task_id: i64,
    pub branch_id: i64,
    pub status: CardStatus,
    pub holder_id: Option<i64>,
    /// The current claim (a row of `card_claims`) while claimed or submitted.
    pub claim_id: Option<i64>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

status_enum! {
    /// Where a card is. `Open` cards are in the branch's Redis pool.
    CardStatus {
        Open = "open",
        Claimed = "claimed",
        Submitted = "submitted",
        Approved = "approved",
        /// Its task ended before anyone finished it.
        Expired = "expired",
        /// Its task was cancelled before anyone drew it (or while it was back in the pool).
        Cancelled = "cancelled",
    }
}
