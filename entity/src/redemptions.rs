use sea_orm::entity::prelude::*;

/// A member's redemption at a shop: reserved with a pickup code (its points already
/// spent by a `redeem` ledger entry, the stock already taken), then fulfilled at the
/// counter, or cancelled by the member, or expired after the shop's `pickup_days`; the
/// last two give the points back by a `refund` entry. Every move is a conditional update
/// from `reserved`, so exactly one of them wins.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "redemptions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub item_id: i64,
    /// The shop's org.
    pub org_id: i64,
    pub user_id: i64,
    /// The member's home branch when they redeemed (the ledger entries' branch).
    pub branch_id: i64,
    pub quantity: i32,
    /// Points spent: the item's cost × quantity.
    pub points: i64,
    /// 8 characters of `23456789ABCDEFGHJKLMNPQRSTUVWXYZ`, unique among all redemptions.
    pub code: String,
    pub status: RedemptionStatus,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    /// When it was fulfilled, cancelled or expired.
    pub closed_at: Option<DateTimeUtc>,
    /// Who fulfilled or cancelled it (None for an expiry).
    pub closed_by: Option<i64>,
    /// The member was told it expires within a day (`redemption_expiring`).
    pub expiring_noticed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

status_enum! {
    RedemptionStatus {
        Reserved = "reserved",
        Fulfilled = "fulfilled",
        Cancelled = "cancelled",
        Expired = "expired",
    }
}
