use sea_orm::entity::prelude::*;

/// One line of a shop's stock ledger (台账): a restock (with its donor), a redemption
/// (stock out), a refund (stock back), or a fulfilment (handed over; stock unchanged).
/// Only ever inserted into.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shop_stock_moves")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub item_id: i64,
    pub kind: StockMoveKind,
    /// The change to `stock_left` (0 for a fulfilment, which hands over what a redemption took).
    pub quantity: i64,
    /// `stock_left` right after this move.
    pub stock_after: i64,
    pub redemption_id: Option<i64>,
    /// The member a redemption, refund or fulfilment was for.
    pub user_id: Option<i64>,
    /// Who did it; None for the background expiry.
    pub actor_id: Option<i64>,
    pub donor: Option<String>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

status_enum! {
    StockMoveKind {
        /// Stock added, the first stock of a new item included.
        Restock = "restock",
        Redeem = "redeem",
        Refund = "refund",
        Fulfil = "fulfil",
    }
}
