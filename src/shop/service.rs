//! Who may do what at a shop, and its items: created, edited, restocked and retired by the
//! shop's managers (a branch's secretary, a township's admin, or an admin above), offered
//! to the members of its subtree. Redemptions are in `redemptions`, the stock ledger in
//! `stock_ledger`.
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Set};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use entity::orgs;
use entity::shop_items::{self, ItemStatus, LimitPeriod};
use entity::shop_stock_moves::StockMoveKind;

use super::domain::{self, ItemEdit, ItemFields, NewItemRequest, RestockRequest, MAX_STOCK};
use super::store::{self, NewMove};
use crate::access::{self, Caller, OrgKind, Role};
use crate::audit::{self, AuditEntry};
use crate::error::{AppError, Result};
use crate::idempotency::{self, Begun, IdempotencyKey};
use crate::infra::db::begin_write;
use crate::media::service::{self as media, MediaView};
use crate::pagination::{Page, PageRequest};
use crate::state::AppState;

/// The role that manages a shop at this org: a branch's secretary or a township's admin
/// (or any role above); None where no shop may be.
pub fn manager_role(org: &orgs::Model) -> Option<Role> {
    match OrgKind::parse(&org.kind)? {
        OrgKind::Branch => Some(Role::Secretary),
        OrgKind::Township => Some(Role::TownshipAdmin),
        _ => None,
    }
}

fn not_a_shop() -> AppError {
    AppError::field("org_id", "积分超市只能设在支部或乡镇")
}

/// Whether the caller keeps this shop's counter: `shop_keeper` there, or its manager role
/// at it or above it.
pub fn keeps(caller: &Caller, shop: &orgs::Model) -> bool {
    let keeper = caller.roles.iter().any(|g| g.role == Role::ShopKeeper && g.org_id == Some(shop.id));
    keeper || manager_role(shop).is_some_and(|role| caller.has_at(&shop.path, role))
}

/// A shop org whose items the caller manages: 404 out of reach, 403 without the role.
pub async fn managed_shop(state: &AppState, caller: &Caller, org_id: i64) -> Result<orgs::Model> {
    let org = access::reachable(state, caller, org_id).await?;
    let role = manager_role(&org).ok_or_else(not_a_shop)?;
    access::authorize(caller, &org, role)?;
    Ok(org)
}

/// A shop org whose counter and ledger the caller keeps: 404 out of reach, 403 otherwise.
pub async fn kept_shop(state: &AppState, caller: &Caller, org_id: i64) -> Result<orgs::Model> {
    let org = access::reachable(state, caller, org_id).await?;
    manager_role(&org).ok_or_else(not_a_shop)?;
    if !keeps(caller, &org) {
        return Err(access::needs_as(Role::ShopKeeper, "需要本积分超市的管理员（shop_keeper）、书记或上级管理员角色"));
    }
    Ok(org)
}

/// The caller's home branch inside the shop's subtree (where they hold a membership role),
/// as (id, path): who may redeem there.
pub fn member_branch(caller: &Caller, shop: &orgs::Model) -> Option<(i64, String)> {
    caller.roles.iter().filter(|g| g.role.is_membership()).find_map(|g| match (g.org_id, &g.org_path) {
        (Some(id), Some(path)) if path.starts_with(&shop.path) => Some((id, path.clone())),
        _ => None,
    })
}

/// The ids of the shops a member may use: every org on the path of their home branch.
pub fn shops_of_member(caller: &Caller) -> Vec<i64> {
    let mut ids: Vec<i64> = caller
        .roles
        .iter()
        .filter(|g| g.role.is_membership())
        .filter_map(|g| g.org_path.as_deref())
        .flat_map(|p| p.split('/').filter_map(|s| s.parse().ok()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// An item and its shop, if the caller may see it (a member of the shop's subtree or
/// one who keeps it); 404 otherwise.
pub async fn visible_item(state: &AppState, caller: &Caller, id: i64) -> Result<(shop_items::Model, orgs::Model)> {
    let item = store::find_item(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let shop = access::org(state, item.org_id).await?;
    if member_branch(caller, &shop).is_some() || keeps(caller, &shop) {
        Ok((item, shop))
    } else {
        Err(AppError::NotFound)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemView {
    pub id: i64,
    /// The shop: a branch or a township.
    pub org_id: i64,
    pub name: String,
    pub description: String,
    pub points_cost: i64,
    pub stock_left: i64,
    /// Most units one member may redeem per `limit_period`; null for no limit.
    pub per_member_limit: Option<i32>,
    pub limit_period: LimitPeriod,
    pub available_from: Option<DateTime<Utc>>,
    pub available_until: Option<DateTime<Utc>>,
    pub donor: Option<String>,
    /// `active` or `retired`.
    pub status: ItemStatus,
    pub media_ids: Vec<i64>,
    pub media: Vec<MediaView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Items as the API shows them, with their photos' signed links (one query for all).
pub async fn item_views(state: &AppState, items: Vec<shop_items::Model>) -> Result<Vec<ItemView>> {
    let ids: Vec<Vec<i64>> = items.iter().map(|i| ItemFields::of(i).media_ids).collect();
    let photos = media::photos(state, ids.iter().flatten().copied()).await?;
    Ok(items
        .into_iter()
        .zip(ids)
        .map(|(i, media_ids)| ItemView {
            id: i.id,
            org_id: i.org_id,
            name: i.name,
            description: i.description,
            points_cost: i.points_cost,
            stock_left: i.stock_left,
            per_member_limit: i.per_member_limit,
            limit_period: i.limit_period,
            available_from: i.available_from,
            available_until: i.available_until,
            donor: i.donor,
            status: i.status,
            media: photos.of(&media_ids),
            media_ids,
            created_at: i.created_at,
            updated_at: i.updated_at,
        })
        .collect())
}

async fn item_view(state: &AppState, item: shop_items::Model) -> Result<ItemView> {
    item_views(state, vec![item]).await?.pop().ok_or_else(|| AppError::Internal(anyhow::anyhow!("an item vanished")))
}

fn audit_item<'a>(caller: &Caller, action: &'a str, item: &shop_items::Model, now: DateTime<Utc>) -> AuditEntry<'a> {
    AuditEntry {
        actor_id: Some(caller.user_id),
        action,
        target_type: "shop_item",
        target_id: item.id.to_string(),
        org_id: Some(item.org_id),
        before: None,
        after: None,
        reason: None,
        at: now,
    }
}

/// Put a new item on a shop's shelf; its first stock is a restock line in the ledger.
pub async fn create_item(
    state: &AppState,
    caller: &Caller,
    org_id: i64,
    req: NewItemRequest,
    key: Option<IdempotencyKey>,
) -> Result<idempotency::Response> {
    let (fields, stock) = ItemFields::parse_new(req).map_err(AppError::Validation)?;
    let claim =
        match idempotency::begin(&state.db, caller.user_id, key, &(org_id, &fields_json(&fields, stock))).await? {
            Begun::Replay(first) => return Ok(first),
            Begun::Go(claim) => claim,
        };
    let shop = managed_shop(state, caller, org_id).await?;
    media::check_owned(&state.db, caller.user_id, &fields.media_ids).await?;
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let donor = fields.donor.clone();
    let item = store::insert_item(&txn, shop.id, fields, stock, caller.user_id, now).await?;
    let first_stock = NewMove {
        org_id: shop.id,
        item_id: item.id,
        kind: StockMoveKind::Restock,
        quantity: stock,
        stock_after: stock,
        redemption_id: None,
        user_id: None,
        actor_id: Some(caller.user_id),
        donor: donor.as_deref(),
        note: Some("上架"),
    };
    store::insert_move(&txn, first_stock, now).await?;
    let after = json!({"name": item.name, "points_cost": item.points_cost, "stock": stock});
    audit::record(&txn, AuditEntry { after: Some(after), ..audit_item(caller, "shop.item.create", &item, now) })
        .await?;
    let answer = idempotency::Response::json(201, &item_view(state, item).await?)?;
    if let Some(first) = idempotency::finish(&txn, caller.user_id, &claim, &answer, now).await? {
        return Ok(first);
    }
    txn.commit().await?;
    Ok(answer)
}

/// What an item request is bound to under an idempotency key.
fn fields_json(f: &ItemFields, stock: i64) -> serde_json::Value {
    json!({
        "name": f.name, "description": f.description, "points_cost": f.points_cost, "stock": stock,
        "per_member_limit": f.per_member_limit, "limit_period": domain::period_name(f.limit_period),
        "available_from": f.available_from, "available_until": f.available_until, "donor": f.donor,
        "media_ids": f.media_ids,
    })
}

pub async fn get_item(state: &AppState, caller: &Caller, id: i64) -> Result<ItemView> {
    let (item, _) = visible_item(state, caller, id).await?;
    item_view(state, item).await
}

/// A shop's items, oldest first: every status for those who keep it (`?status=` narrows),
/// the active ones for its members.
pub async fn list_items(
    state: &AppState,
    caller: &Caller,
    org_id: i64,
    status: Option<&str>,
    page: PageRequest,
) -> Result<Page<ItemView>> {
    let shop = access::reachable(state, caller, org_id).await?;
    manager_role(&shop).ok_or_else(not_a_shop)?;
    let status = match status {
        None => None,
        Some("active") => Some(ItemStatus::Active),
        Some("retired") => Some(ItemStatus::Retired),
        Some(_) => return Err(AppError::field("status", "须为 active 或 retired")),
    };
    let status = if keeps(caller, &shop) {
        status
    } else if member_branch(caller, &shop).is_some() {
        Some(ItemStatus::Active)
    } else {
        return Err(AppError::NotFound);
    };
    let rows = Page::from_rows(store::items_of(&state.db, &[shop.id], status, page).await?, page, |r| r.id, |r| r);
    Ok(Page { items: item_views(state, rows.items).await?, next_cursor: rows.next_cursor })
}

/// The item the caller manages, read in `txn`: 404 unless they may see it, 403 unless
/// they manage its shop.
async fn managed_item<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    caller: &Caller,
    id: i64,
) -> Result<shop_items::Model> {
    let item = store::find_item(txn, id).await?.ok_or(AppError::NotFound)?;
    managed_shop(state, caller, item.org_id).await?;
    Ok(item)
}

pub async fn update_item(state: &AppState, caller: &Caller, id: i64, edit: ItemEdit) -> Result<ItemView> {
    let now = state.clock.now();
    let new_photos = edit.media_ids.clone();
    let txn = begin_write(&state.writer).await?;
    let item = managed_item(state, &txn, caller, id).await?;
    let before = ItemFields::of(&item);
    let after = before.clone().edited(edit).map_err(AppError::Validation)?;
    if let Some(ids) = &new_photos {
        let added: Vec<i64> = ids.iter().copied().filter(|m| !before.media_ids.contains(m)).collect();
        media::check_owned(&txn, caller.user_id, &added).await?;
    }
    if after == before {
        return item_view(state, item).await;
    }
    let changes = shop_items::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(item.id),
        name: Set(after.name.clone()),
        description: Set(after.description.clone()),
        points_cost: Set(after.points_cost),
        per_member_limit: Set(after.per_member_limit),
        limit_period: Set(after.limit_period),
        available_from: Set(after.available_from),
        available_until: Set(after.available_until),
        donor: Set(after.donor.clone()),
        media_ids: Set(json!(after.media_ids)),
        updated_at: Set(now),
        ..Default::default()
    };
    let updated = store::update_item(&txn, changes).await?;
    audit::record(
        &txn,
        AuditEntry {
            before: Some(fields_json(&before, item.stock_left)),
            after: Some(fields_json(&after, updated.stock_left)),
            ..audit_item(caller, "shop.item.update", &updated, now)
        },
    )
    .await?;
    txn.commit().await?;
    item_view(state, updated).await
}

/// More stock on the shelf, with its donor and a note in the stock ledger. A retired
/// item may be restocked too (its stock is counted until it is given away).
pub async fn restock(
    state: &AppState,
    caller: &Caller,
    id: i64,
    req: RestockRequest,
    key: Option<IdempotencyKey>,
) -> Result<idempotency::Response> {
    let claim = match idempotency::begin(&state.db, caller.user_id, key, &(id, &req)).await? {
        Begun::Replay(first) => return Ok(first),
        Begun::Go(claim) => claim,
    };
    let mut fields = crate::error::FieldErrors::new();
    if !(1..=MAX_STOCK).contains(&req.quantity) {
        fields.insert("quantity".into(), format!("须在 1 到 {MAX_STOCK} 之间"));
    }
    let note = req.note.trim();
    if note.is_empty() || note.chars().count() > 200 {
        fields.insert("note".into(), "须填写说明（不超过 200 字）".into());
    }
    let donor = req.donor.as_deref().map(str::trim).filter(|d| !d.is_empty());
    if donor.is_some_and(|d| d.chars().count() > 100) {
        fields.insert("donor".into(), "不超过 100 个字符".into());
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let item = managed_item(state, &txn, caller, id).await?;
    if item.stock_left + req.quantity > MAX_STOCK {
        return Err(AppError::field("quantity", format!("补货后库存不能超过 {MAX_STOCK}")));
    }
    let stock_after = store::move_stock(&txn, item.id, req.quantity, None, now)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a restocked item vanished")))?
        .stock_left;
    let line = NewMove {
        org_id: item.org_id,
        item_id: item.id,
        kind: StockMoveKind::Restock,
        quantity: req.quantity,
        stock_after,
        redemption_id: None,
        user_id: None,
        actor_id: Some(caller.user_id),
        donor,
        note: Some(note),
    };
    store::insert_move(&txn, line, now).await?;
    let after = json!({"quantity": req.quantity, "stock_after": stock_after, "donor": donor});
    audit::record(
        &txn,
        AuditEntry {
            after: Some(after),
            reason: Some(note.to_owned()),
            ..audit_item(caller, "shop.item.restock", &item, now)
        },
    )
    .await?;
    let item = shop_items::Model { stock_left: stock_after, updated_at: now, ..item };
    let answer = idempotency::Response::json(200, &item_view(state, item).await?)?;
    if let Some(first) = idempotency::finish(&txn, caller.user_id, &claim, &answer, now).await? {
        return Ok(first);
    }
    txn.commit().await?;
    Ok(answer)
}

/// Take an item off the shelf: no new redemptions; those reserved may still be picked up.
/// Retiring a retired item answers it again.
pub async fn retire(state: &AppState, caller: &Caller, id: i64) -> Result<ItemView> {
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let item = managed_item(state, &txn, caller, id).await?;
    if item.status == ItemStatus::Retired {
        return item_view(state, item).await;
    }
    let changes = shop_items::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(item.id),
        status: Set(ItemStatus::Retired),
        updated_at: Set(now),
        ..Default::default()
    };
    let updated = store::update_item(&txn, changes).await?;
    audit::record(&txn, audit_item(caller, "shop.item.retire", &updated, now)).await?;
    txn.commit().await?;
    item_view(state, updated).await
}
