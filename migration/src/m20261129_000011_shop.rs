//! The points shop (积分超市): items a branch or township offers, the redemptions members
//! make (reserved with a pickup code, then fulfilled, cancelled or expired), every stock
//! movement (the shop's 台账), and `pickup_days`, the shop org's setting (kept in seconds).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Orgs {
    Table,
    PickupSeconds,
}

#[derive(DeriveIden, Clone, Copy)]
enum ShopItems {
    Table,
    Id,
    OrgId,
    Name,
    Description,
    PointsCost,
    StockLeft,
    PerMemberLimit,
    LimitPeriod,
    AvailableFrom,
    AvailableUntil,
    Donor,
    MediaIds,
    Status,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Redemptions {
    Table,
    Id,
    ItemId,
    OrgId,
    UserId,
    BranchId,
    Quantity,
    Points,
    Code,
    Status,
    ExpiresAt,
    CreatedAt,
    ClosedAt,
    ClosedBy,
}

#[derive(DeriveIden, Clone, Copy)]
enum ShopStockMoves {
    Table,
    Id,
    OrgId,
    ItemId,
    Kind,
    Quantity,
    StockAfter,
    RedemptionId,
    UserId,
    ActorId,
    Donor,
    Note,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // `pickup_days` in seconds: the API takes fractions of a day, the column stays exact.
        m.alter_table(
            Table::alter()
                .table(Orgs::Table)
                .add_column(big_integer(Orgs::PickupSeconds).default(14 * 86_400))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ShopItems::Table)
                .col(big_pk_auto(ShopItems::Id))
                .col(big_integer(ShopItems::OrgId))
                .col(string_len(ShopItems::Name, 100))
                .col(text(ShopItems::Description))
                .col(big_integer(ShopItems::PointsCost))
                .col(big_integer(ShopItems::StockLeft))
                .col(integer_null(ShopItems::PerMemberLimit))
                .col(string_len(ShopItems::LimitPeriod, 8))
                .col(timestamp_with_time_zone_null(ShopItems::AvailableFrom))
                .col(timestamp_with_time_zone_null(ShopItems::AvailableUntil))
                .col(string_len_null(ShopItems::Donor, 100))
                .col(json(ShopItems::MediaIds))
                .col(string_len(ShopItems::Status, 16))
                .col(big_integer(ShopItems::CreatedBy))
                .col(timestamp_with_time_zone(ShopItems::CreatedAt))
                .col(timestamp_with_time_zone(ShopItems::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_shop_items_org")
                .table(ShopItems::Table)
                .col(ShopItems::OrgId)
                .col(ShopItems::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Redemptions::Table)
                .col(big_pk_auto(Redemptions::Id))
                .col(big_integer(Redemptions::ItemId))
                .col(big_integer(Redemptions::OrgId))
                .col(big_integer(Redemptions::UserId))
                .col(big_integer(Redemptions::BranchId))
                .col(integer(Redemptions::Quantity))
                .col(big_integer(Redemptions::Points))
                .col(string_len(Redemptions::Code, 8))
                .col(string_len(Redemptions::Status, 16))
                .col(timestamp_with_time_zone(Redemptions::ExpiresAt))
                .col(timestamp_with_time_zone(Redemptions::CreatedAt))
                .col(timestamp_with_time_zone_null(Redemptions::ClosedAt))
                .col(big_integer_null(Redemptions::ClosedBy))
                .to_owned(),
        )
        .await?;
        // Codes are unique among all redemptions, so a code names one redemption forever
        // (a fulfilled one answers `already_fulfilled`, not someone else's reservation).
        m.create_index(
            Index::create()
                .name("ux_redemptions_code")
                .table(Redemptions::Table)
                .col(Redemptions::Code)
                .unique()
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            // A member's limit per item and period; their own list.
            ("ix_redemptions_user_item", &[Redemptions::UserId, Redemptions::ItemId, Redemptions::CreatedAt][..]),
            ("ix_redemptions_user", &[Redemptions::UserId, Redemptions::Id][..]),
            // The expiry job's scan.
            ("ix_redemptions_status_expires", &[Redemptions::Status, Redemptions::ExpiresAt][..]),
            ("ix_redemptions_org", &[Redemptions::OrgId, Redemptions::Status, Redemptions::Id][..]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(Redemptions::Table);
            for c in cols {
                idx.col(*c);
            }
            m.create_index(idx.to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(ShopStockMoves::Table)
                .col(big_pk_auto(ShopStockMoves::Id))
                .col(big_integer(ShopStockMoves::OrgId))
                .col(big_integer(ShopStockMoves::ItemId))
                .col(string_len(ShopStockMoves::Kind, 16))
                .col(big_integer(ShopStockMoves::Quantity))
                .col(big_integer(ShopStockMoves::StockAfter))
                .col(big_integer_null(ShopStockMoves::RedemptionId))
                .col(big_integer_null(ShopStockMoves::UserId))
                .col(big_integer_null(ShopStockMoves::ActorId))
                .col(string_len_null(ShopStockMoves::Donor, 100))
                .col(text_null(ShopStockMoves::Note))
                .col(timestamp_with_time_zone(ShopStockMoves::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_stock_moves_org")
                .table(ShopStockMoves::Table)
                .col(ShopStockMoves::OrgId)
                .col(ShopStockMoves::Id)
                .to_owned(),
        )
        .await
    }
}
