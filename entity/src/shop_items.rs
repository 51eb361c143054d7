use sea_orm::entity::prelude::*;

/// Something a shop (a branch's or a township's) offers for points. `stock_left` only
/// moves by conditional updates (`… WHERE stock_left >= q`), so it never goes below zero.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shop_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The shop: a branch or a township. Offered to the members of its subtree.
    pub org_id: i64,
    pub name: String,
    pub description: String,
    pub points_cost: i64,
    pub stock_left: i64,
    /// Most one member may redeem per `limit_period`; None for no limit.
    pub per_member_limit: Option<i32>,
    pub limit_period: LimitPeriod,
    pub available_from: Option<DateTimeUtc>,
    pub available_until: Option<DateTimeUtc>,
    pub donor: Option<String>,
    pub media_ids: Json,
    pub status: ItemStatus,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

status_enum! {
    /// The calendar period (Asia/Shanghai) a member's limit counts over.
    LimitPeriod {
        Week = "week",
        Month = "month",
        Year = "year",
        All = "all",
    }
}

status_enum! {
    /// A retired item is kept (its redemptions and ledger name it) but offered no more.
    ItemStatus {
        Active = "active",
        Retired = "retired",
    }
}
