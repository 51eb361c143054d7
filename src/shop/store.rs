//! SQL for items, redemptions and the stock ledger. Stock and redemptions only move by
//! conditional updates, so concurrent requests (and N servers' expiry jobs) have one winner.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use entity::redemptions::{self, RedemptionStatus};
use entity::shop_items::{self, ItemStatus};
use entity::shop_stock_moves::{self, StockMoveKind};

use super::domain::ItemFields;
use crate::infra::db::by_key;
use crate::pagination::PageRequest;

/// Insert an item with its first stock.
pub async fn insert_item<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    fields: ItemFields,
    stock: i64,
    created_by: i64,
    now: DateTime<Utc>,
) -> Result<shop_items::Model, DbErr> {
    shop_items::ActiveModel {
        org_id: Set(org_id),
        name: Set(fields.name),
        description: Set(fields.description),
        points_cost: Set(fields.points_cost),
        stock_left: Set(stock),
        per_member_limit: Set(fields.per_member_limit),
        limit_period: Set(fields.limit_period),
        available_from: Set(fields.available_from),
        available_until: Set(fields.available_until),
        donor: Set(fields.donor),
        media_ids: Set(serde_json::json!(fields.media_ids)),
        status: Set(ItemStatus::Active),
        created_by: Set(created_by),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn find_item<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<shop_items::Model>, DbErr> {
    by_key(shop_items::Entity::find_by_id(id), db).await
}

/// Write an item's changed fields (never its stock: only restocks and redemptions move it).
pub async fn update_item<C: ConnectionTrait>(
    db: &C,
    changes: shop_items::ActiveModel,
) -> Result<shop_items::Model, DbErr> {
    changes.update(db).await
}

/// Change an item's stock by `delta`: taking (`delta < 0`) only while enough is left,
/// and, when `now` is given, only while the item is active and within its window.
/// Returns the item as it is after, or None when the condition failed.
pub async fn move_stock<C: ConnectionTrait>(
    db: &C,
    id: i64,
    delta: i64,
    available_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<shop_items::Model>, DbErr> {
    use shop_items::Column as I;
    let mut q = shop_items::Entity::update_many()
        .col_expr(I::StockLeft, Expr::col(I::StockLeft).add(delta))
        .col_expr(I::UpdatedAt, Expr::value(now))
        .filter(I::Id.eq(id));
    if delta < 0 {
        q = q.filter(Expr::col(I::StockLeft).gte(-delta));
    }
    if let Some(at) = available_at {
        q = q
            .filter(I::Status.eq(ItemStatus::Active))
            .filter(I::AvailableFrom.is_null().or(I::AvailableFrom.lte(at)))
            .filter(I::AvailableUntil.is_null().or(I::AvailableUntil.gt(at)));
    }
    Ok(q.exec_with_returning(db).await?.into_iter().next())
}

/// Items of these shops, oldest first, of one status if given.
pub async fn items_of<C: ConnectionTrait>(
    db: &C,
    org_ids: &[i64],
    status: Option<ItemStatus>,
    page: PageRequest,
) -> Result<Vec<shop_items::Model>, DbErr> {
    use shop_items::Column as I;
    let mut q = shop_items::Entity::find().filter(I::OrgId.is_in(org_ids.iter().copied()));
    if let Some(status) = status {
        q = q.filter(I::Status.eq(status));
    }
    if let Some(after) = page.after {
        q = q.filter(I::Id.gt(after));
    }
    q.order_by_asc(I::Id).limit(page.limit + 1).all(db).await
}

/// What a member took of each of these items since `since` (all time when None) and
/// kept: reserved or fulfilled, not the cancelled or expired ones, which were given back.
/// Rows of (item, when, quantity) for the caller to sum per item and period.
pub async fn kept_since<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    item_ids: &[i64],
    since: Option<DateTime<Utc>>,
) -> Result<Vec<(i64, DateTime<Utc>, i32)>, DbErr> {
    use redemptions::Column as R;
    let mut q = redemptions::Entity::find()
        .select_only()
        .columns([R::ItemId, R::CreatedAt, R::Quantity])
        .filter(R::UserId.eq(user_id))
        .filter(R::ItemId.is_in(item_ids.iter().copied()))
        .filter(R::Status.is_in([RedemptionStatus::Reserved, RedemptionStatus::Fulfilled]));
    if let Some(since) = since {
        q = q.filter(R::CreatedAt.gte(since));
    }
    q.into_tuple().all(db).await
}

pub struct NewRedemption<'a> {
    pub item_id: i64,
    pub org_id: i64,
    pub user_id: i64,
    pub branch_id: i64,
    pub quantity: i32,
    pub points: i64,
    pub code: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// Insert a reservation; None when its code is taken (draw another and try again).
pub async fn insert_redemption<C: ConnectionTrait>(
    db: &C,
    new: NewRedemption<'_>,
    now: DateTime<Utc>,
) -> Result<Option<redemptions::Model>, DbErr> {
    let row = redemptions::ActiveModel {
        item_id: Set(new.item_id),
        org_id: Set(new.org_id),
        user_id: Set(new.user_id),
        branch_id: Set(new.branch_id),
        quantity: Set(new.quantity),
        points: Set(new.points),
        code: Set(new.code.to_owned()),
        status: Set(RedemptionStatus::Reserved),
        expires_at: Set(new.expires_at),
        created_at: Set(now),
        closed_at: Set(None),
        closed_by: Set(None),
        ..Default::default()
    };
    let inserted = redemptions::Entity::insert(row)
        .on_conflict(sea_orm::sea_query::OnConflict::column(redemptions::Column::Code).do_nothing().to_owned())
        .exec_with_returning(db)
        .await;
    match inserted {
        Ok(row) => Ok(Some(row)),
        Err(DbErr::RecordNotFound(_) | DbErr::RecordNotInserted) => Ok(None),
        Err(err) => Err(err),
    }
}

pub async fn find_redemption<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<redemptions::Model>, DbErr> {
    by_key(redemptions::Entity::find_by_id(id), db).await
}

pub async fn find_by_code<C: ConnectionTrait>(db: &C, code: &str) -> Result<Option<redemptions::Model>, DbErr> {
    by_key(redemptions::Entity::find().filter(redemptions::Column::Code.eq(code)), db).await
}

/// Which side of its pickup deadline a reservation must be on for a move.
#[derive(Debug, Clone, Copy)]
pub enum Deadline {
    /// Cancelling: either.
    Any,
    /// Fulfilling: not yet passed at this moment.
    Ahead(DateTime<Utc>),
    /// Expiring: passed at this moment.
    Passed(DateTime<Utc>),
}

/// Move a reservation to `to` if it is still reserved and on the `deadline`'s side. None
/// when another move got there first (or the deadline says no).
pub async fn close_redemption<C: ConnectionTrait>(
    db: &C,
    id: i64,
    to: RedemptionStatus,
    actor: Option<i64>,
    deadline: Deadline,
    now: DateTime<Utc>,
) -> Result<Option<redemptions::Model>, DbErr> {
    use redemptions::Column as R;
    let mut q = redemptions::Entity::update_many()
        .col_expr(R::Status, Expr::value(to))
        .col_expr(R::ClosedAt, Expr::value(now))
        .col_expr(R::ClosedBy, Expr::value(actor))
        .filter(R::Id.eq(id))
        .filter(R::Status.eq(RedemptionStatus::Reserved));
    q = match deadline {
        Deadline::Any => q,
        Deadline::Ahead(at) => q.filter(R::ExpiresAt.gt(at)),
        Deadline::Passed(at) => q.filter(R::ExpiresAt.lte(at)),
    };
    Ok(q.exec_with_returning(db).await?.into_iter().next())
}

/// Reservations past their pickup deadline, oldest deadline first.
pub async fn due_reservations<C: ConnectionTrait>(db: &C, now: DateTime<Utc>, limit: u64) -> Result<Vec<i64>, DbErr> {
    use redemptions::Column as R;
    redemptions::Entity::find()
        .select_only()
        .column(R::Id)
        .filter(R::Status.eq(RedemptionStatus::Reserved))
        .filter(R::ExpiresAt.lte(now))
        .order_by_asc(R::ExpiresAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Reservations that expire within the window and whose member was not told yet:
/// (id, user_id, item_id, code, expires_at).
pub async fn expiring_unnoticed<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(i64, i64, i64, String, DateTime<Utc>)>, DbErr> {
    use redemptions::Column as R;
    redemptions::Entity::find()
        .select_only()
        .columns([R::Id, R::UserId, R::ItemId, R::Code, R::ExpiresAt])
        .filter(R::Status.eq(RedemptionStatus::Reserved))
        .filter(R::ExpiresAt.gt(now))
        .filter(R::ExpiresAt.lte(until))
        .filter(R::ExpiringNoticed.eq(false))
        .order_by_asc(R::ExpiresAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Mark "expiring" told, if it is still reserved and untold: whether this call did.
pub async fn mark_expiring_noticed<C: ConnectionTrait>(txn: &C, id: i64) -> Result<bool, DbErr> {
    use redemptions::Column as R;
    let res = redemptions::Entity::update_many()
        .col_expr(R::ExpiringNoticed, Expr::value(true))
        .filter(R::Id.eq(id))
        .filter(R::Status.eq(RedemptionStatus::Reserved))
        .filter(R::ExpiringNoticed.eq(false))
        .exec(txn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Whose redemptions a list shows.
pub enum Owner {
    User(i64),
    Shop(i64),
}

/// Redemptions newest first.
pub async fn redemptions_of<C: ConnectionTrait>(
    db: &C,
    owner: Owner,
    status: Option<RedemptionStatus>,
    page: PageRequest,
) -> Result<Vec<redemptions::Model>, DbErr> {
    use redemptions::Column as R;
    let mut q = match owner {
        Owner::User(id) => redemptions::Entity::find().filter(R::UserId.eq(id)),
        Owner::Shop(id) => redemptions::Entity::find().filter(R::OrgId.eq(id)),
    };
    if let Some(status) = status {
        q = q.filter(R::Status.eq(status));
    }
    if let Some(before) = page.after {
        q = q.filter(R::Id.lt(before));
    }
    q.order_by_desc(R::Id).limit(page.limit + 1).all(db).await
}

pub struct NewMove<'a> {
    pub org_id: i64,
    pub item_id: i64,
    pub kind: StockMoveKind,
    pub quantity: i64,
    pub stock_after: i64,
    pub redemption_id: Option<i64>,
    pub user_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub donor: Option<&'a str>,
    pub note: Option<&'a str>,
}

pub async fn insert_move<C: ConnectionTrait>(db: &C, m: NewMove<'_>, now: DateTime<Utc>) -> Result<(), DbErr> {
    shop_stock_moves::Entity::insert(shop_stock_moves::ActiveModel {
        org_id: Set(m.org_id),
        item_id: Set(m.item_id),
        kind: Set(m.kind),
        quantity: Set(m.quantity),
        stock_after: Set(m.stock_after),
        redemption_id: Set(m.redemption_id),
        user_id: Set(m.user_id),
        actor_id: Set(m.actor_id),
        donor: Set(m.donor.map(str::to_owned)),
        note: Set(m.note.map(str::to_owned)),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// What a stock ledger shows.
#[derive(Debug, Clone, Default)]
pub struct MoveFilter {
    pub item_id: Option<i64>,
    pub kind: Option<StockMoveKind>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A shop's stock moves, newest first.
pub async fn moves_of<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    filter: &MoveFilter,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<shop_stock_moves::Model>, DbErr> {
    use shop_stock_moves::Column as M;
    let mut q = shop_stock_moves::Entity::find().filter(M::OrgId.eq(org_id));
    if let Some(item) = filter.item_id {
        q = q.filter(M::ItemId.eq(item));
    }
    if let Some(kind) = filter.kind {
        q = q.filter(M::Kind.eq(kind));
    }
    if let Some(from) = filter.from {
        q = q.filter(M::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(M::CreatedAt.lt(to));
    }
    if let Some(before) = before {
        q = q.filter(M::Id.lt(before));
    }
    q.order_by_desc(M::Id).limit(limit).all(db).await
}

/// Item names by id, for lists and files.
pub async fn item_names<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, String>, DbErr> {
    Ok(items_by_id(db, ids).await?.into_iter().map(|(id, item)| (id, item.name)).collect())
}

/// Items by id.
pub async fn items_by_id<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, shop_items::Model>, DbErr> {
    let ids: std::collections::BTreeSet<i64> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows = shop_items::Entity::find().filter(shop_items::Column::Id.is_in(ids)).all(db).await?;
    Ok(rows.into_iter().map(|i| (i.id, i)).collect())
}
