use sea_orm::entity::prelude::*;

/// One draw of a card by one member, from claim to its end: `claimed`, then `submitted`,
/// `released` or `expired`; a submitted claim ends `approved` or `rejected`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "card_claims")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub card_id: i64,
    pub task_id: i64,
    pub branch_id: i64,
    pub user_id: i64,
    pub status: ClaimStatus,
    pub claimed_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub submitted_at: Option<DateTimeUtc>,
    pub note: Option<String>,
    pub media_ids: Json,
    pub reviewer_id: Option<i64>,
    pub review_comment: Option<String>,
    pub ended_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

status_enum! {
    /// Where one claim (one draw by one member) is.
    ClaimStatus {
        Claimed = "claimed",
        Submitted = "submitted",
        Approved = "approved",
        Rejected = "rejected",
        Released = "released",
        Expired = "expired",
    }
}
