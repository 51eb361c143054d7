//! Redemptions: reserve (points spent, stock taken, a pickup code), then fulfil at the
//! counter, cancel, or expire after the shop's `pickup_days`. Each is ONE transaction on
//! the writer (`infra::group_commit`), and each move out of `reserved` is conditional, so
//! of two racing moves exactly one wins and a redemption is refunded at most once.
use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use entity::redemptions::{self, RedemptionStatus};
use entity::shop_items;
use entity::shop_stock_moves::StockMoveKind;

use super::domain::{
    self, closed, code_qr, item_unavailable, new_code, parse_code, period_start, FulfilRequest, RedeemRequest,
    LIMIT_REACHED, MAX_QUANTITY, OUT_OF_STOCK, REDEMPTION_CLOSED,
};
use super::service::{kept_shop, member_branch, visible_item};
use super::store::{self, Deadline, NewMove, NewRedemption, Owner};
use crate::access::{self, Caller, Role};
use crate::error::{AppError, ErrorCode, Result};
use crate::idempotency::{self, Begun, IdempotencyKey};
use crate::infra::db::begin_write;
use crate::infra::group_commit::Finish;
use crate::infra::wechat::WechatClient;
use crate::notify::{self, domain::Event, Notice};
use crate::pagination::{Page, PageQuery, PageRequest};
use crate::points::domain::{LedgerKind, NewEntry};
use crate::points::service::{self as points, INSUFFICIENT_POINTS};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RedemptionView {
    pub id: i64,
    /// The pickup code: 8 characters of `23456789ABCDEFGHJKLMNPQRSTUVWXYZ`.
    pub code: String,
    /// The code as a QR image (`data:image/png;base64,…`) for the counter to scan; given
    /// to the member while the redemption is reserved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_qr: Option<String>,
    pub status: RedemptionStatus,
    pub item_id: i64,
    pub item_name: String,
    /// The shop's org.
    pub org_id: i64,
    pub user_id: i64,
    pub user_name: String,
    pub quantity: i32,
    /// Points spent (refunded if cancelled or expired).
    pub points: i64,
    /// Pick up before this, or it expires and the points come back.
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// When it was fulfilled, cancelled or expired.
    pub closed_at: Option<DateTime<Utc>>,
    /// Who fulfilled or cancelled it; null for an expiry.
    pub closed_by: Option<i64>,
    pub closed_by_name: Option<String>,
}

/// Redemptions as the API shows them, names read in one query each; with the QR image
/// of the reserved ones when `with_qr` (the member's own views).
async fn views(state: &AppState, rows: Vec<redemptions::Model>, with_qr: bool) -> Result<Vec<RedemptionView>> {
    let items = store::item_names(&state.db, rows.iter().map(|r| r.item_id)).await?;
    let people = rows.iter().flat_map(|r| std::iter::once(r.user_id).chain(r.closed_by));
    let names = state.caches.names.lookup(&state.db, people).await?;
    Ok(rows
        .into_iter()
        .map(|r| RedemptionView {
            code_qr: (with_qr && r.status == RedemptionStatus::Reserved).then(|| code_qr(&r.code)),
            item_name: items.get(&r.item_id).cloned().unwrap_or_default(),
            user_name: names.of(r.user_id),
            closed_by_name: names.of_opt(r.closed_by),
            id: r.id,
            code: r.code,
            status: r.status,
            item_id: r.item_id,
            org_id: r.org_id,
            user_id: r.user_id,
            quantity: r.quantity,
            points: r.points,
            expires_at: r.expires_at,
            created_at: r.created_at,
            closed_at: r.closed_at,
            closed_by: r.closed_by,
        })
        .collect())
}

async fn view(state: &AppState, row: redemptions::Model, with_qr: bool) -> Result<RedemptionView> {
    views(state, vec![row], with_qr).await?.pop().ok_or_else(|| AppError::Internal(anyhow::anyhow!("a view vanished")))
}

/// Reserve `quantity` of an item for the caller. `Idempotency-Key` required: the same key
/// and body answer the first reservation again and spend nothing more.
pub async fn redeem(
    state: &AppState,
    caller: &Caller,
    item_id: i64,
    req: RedeemRequest,
    key: Option<IdempotencyKey>,
) -> Result<idempotency::Response> {
    let key = key.ok_or(AppError::bad_request(
        ErrorCode::IdempotencyKeyRequired,
        "兑换须带 Idempotency-Key 请求头，重试时用同一个，以免重复扣积分",
    ))?;
    if !(1..=MAX_QUANTITY).contains(&req.quantity) {
        return Err(AppError::field("quantity", format!("须在 1 到 {MAX_QUANTITY} 之间")));
    }
    let hash = idempotency::request_hash(&(item_id, &req));
    if let Some(first) = idempotency::replay_of(&state.db, caller.user_id, &key, &hash).await? {
        return Ok(first);
    }
    let (item, shop) = visible_item(state, caller, item_id).await?;
    let (branch_id, branch_path) = member_branch(caller, &shop)
        .ok_or_else(|| access::needs_as(Role::Resident, "只有本辖区的成员（居民或党员）才能兑换"))?;
    let now = state.clock.now();
    if let Some(why) = domain::unavailable(&item, now) {
        return Err(item_unavailable(why));
    }
    let quantity = i64::from(req.quantity);
    let points = item.points_cost * quantity;
    // Refusals that committed state already shows answer here, off the writer (the hot
    // item's race sends most requests this way once its stock is gone). The writer checks
    // each again, so a stale read can only refuse early, never let through.
    if item.stock_left < quantity {
        return Err(OUT_OF_STOCK);
    }
    if points::balance(&state.db, caller.user_id).await? < points {
        return Err(INSUFFICIENT_POINTS);
    }
    let since = period_start(item.limit_period, now);
    let code = new_code(&mut rand::rng());
    let user_name = state.caches.names.lookup(&state.db, [caller.user_id]).await?.of(caller.user_id);
    let job = Reservation {
        user_name,
        qr: code_qr(&code),
        code,
        item_id: item.id,
        shop_id: shop.id,
        user_id: caller.user_id,
        branch_id,
        branch_path,
        quantity: req.quantity,
        points,
        expires_at: now + Duration::seconds(shop.pickup_seconds),
        since,
        key,
        hash,
        wechat: state.wechat.clone(),
        now,
    };
    state.group_commit.run(move |txn| Box::pin(redeem_in(txn, job))).await
}

/// What a reservation writes, given by value to the writer.
struct Reservation {
    user_name: String,
    code: String,
    qr: String,
    item_id: i64,
    shop_id: i64,
    user_id: i64,
    branch_id: i64,
    branch_path: String,
    quantity: i32,
    points: i64,
    expires_at: DateTime<Utc>,
    /// Where the item's limit period began (None: all time).
    since: Option<DateTime<Utc>>,
    key: IdempotencyKey,
    hash: String,
    /// Where the member's notification may go on to.
    wechat: WechatClient,
    now: DateTime<Utc>,
}

async fn redeem_in(txn: &DatabaseTransaction, job: Reservation) -> Result<Finish<idempotency::Response>> {
    match reserve(txn, &job).await {
        Ok(answer) => match idempotency::record(txn, job.user_id, &job.key, &job.hash, &answer, job.now).await? {
            None => Ok(Finish::Commit(answer)),
            Some(first) => Ok(Finish::Discard(first)),
        },
        // A retry that raced its first request meets what the first did (the stock or
        // the points gone): it answers as the first did, not with a refusal.
        Err(refusal) => match idempotency::replay_of(txn, job.user_id, &job.key, &job.hash).await? {
            Some(first) => Ok(Finish::Discard(first)),
            None => Err(refusal),
        },
    }
}

/// The reservation's writes, in order: the stock (a conditional update, which also holds
/// the item's row for the rest of the transaction on PostgreSQL, so a member's limit is
/// counted after any redemption of the same item before it), the limit, the redemption
/// with its code, the `redeem` ledger entry (refused below a zero balance), the stock line.
async fn reserve(txn: &DatabaseTransaction, job: &Reservation) -> Result<idempotency::Response> {
    let now = job.now;
    let quantity = i64::from(job.quantity);
    let Some(item) = store::move_stock(txn, job.item_id, -quantity, Some(now), now).await? else {
        let item = store::find_item(txn, job.item_id).await?.ok_or(AppError::NotFound)?;
        return Err(domain::unavailable(&item, now).map_or(OUT_OF_STOCK, item_unavailable));
    };
    if let Some(limit) = item.per_member_limit {
        let kept = store::kept_since(txn, job.user_id, &[item.id], job.since).await?;
        let used: i64 = kept.iter().map(|(_, _, q)| i64::from(*q)).sum();
        if used + quantity > i64::from(limit) {
            return Err(LIMIT_REACHED);
        }
    }
    let (mut code, mut qr) = (job.code.clone(), job.qr.clone());
    let mut attempts = 0;
    let redemption = loop {
        let new = NewRedemption {
            item_id: item.id,
            org_id: job.shop_id,
            user_id: job.user_id,
            branch_id: job.branch_id,
            quantity: job.quantity,
            points: job.points,
            code: &code,
            expires_at: job.expires_at,
        };
        if let Some(row) = store::insert_redemption(txn, new, now).await? {
            break row;
        }
        // One chance in 2^40 per live code: draw again.
        attempts += 1;
        if attempts == 5 {
            return Err(AppError::Internal(anyhow::anyhow!("five pickup codes in a row were taken")));
        }
        code = new_code(&mut rand::rng());
        qr = code_qr(&code);
    };
    let entry = NewEntry {
        user_id: job.user_id,
        branch_id: job.branch_id,
        delta_points: -job.points,
        delta_minutes: 0,
        star: None,
        kind: LedgerKind::Redeem,
        ref_type: "redemption",
        ref_id: redemption.id.to_string(),
        idempotency_key: format!("redeem:{}", redemption.id),
        note: Some(item.name.clone()),
        actor_id: Some(job.user_id),
    };
    points::post_entry(txn, &entry, &job.branch_path, now).await?;
    let line = NewMove {
        org_id: job.shop_id,
        item_id: item.id,
        kind: StockMoveKind::Redeem,
        quantity: -quantity,
        stock_after: item.stock_left,
        redemption_id: Some(redemption.id),
        user_id: Some(job.user_id),
        actor_id: Some(job.user_id),
        donor: None,
        note: None,
    };
    store::insert_move(txn, line, now).await?;
    let pickup_by = job.expires_at.with_timezone(&crate::clock::shanghai()).format("%m月%d日 %H:%M");
    let body = format!(
        "「{}」×{} 已预留，兑换码 {}，请于 {pickup_by} 前到积分超市领取",
        item.name, job.quantity, redemption.code
    );
    let notice = Notice {
        event: Event::RedemptionReady,
        title: "兑换成功，待领取",
        body: &body,
        r#ref: format!("redemption:{}", redemption.id),
        at: now,
    };
    notify::push(txn, &job.wechat, [job.user_id], &notice).await?;
    let view = RedemptionView {
        id: redemption.id,
        code: redemption.code,
        code_qr: Some(qr),
        status: redemption.status,
        item_id: item.id,
        item_name: item.name,
        org_id: redemption.org_id,
        user_id: redemption.user_id,
        user_name: job.user_name.clone(),
        quantity: redemption.quantity,
        points: redemption.points,
        expires_at: redemption.expires_at,
        created_at: redemption.created_at,
        closed_at: None,
        closed_by: None,
        closed_by_name: None,
    };
    idempotency::Response::json(201, &view)
}

/// Why a reservation is given back: who and what the refund's lines say.
#[derive(Debug, Clone, Copy)]
enum GiveBack {
    Cancel { by: i64 },
    Expire,
}

/// The refund of a reservation in one transaction: the conditional move out of
/// `reserved`, the stock back, the `refund` entry (its key is the redemption, so it is
/// written at most once) and the stock line. Answers the redemption as it is now.
async fn give_back(
    txn: &DatabaseTransaction,
    id: i64,
    why: GiveBack,
    now: DateTime<Utc>,
) -> Result<redemptions::Model> {
    let (to, actor, deadline, note) = match why {
        GiveBack::Cancel { by } => (RedemptionStatus::Cancelled, Some(by), Deadline::Any, "会员取消兑换"),
        GiveBack::Expire => (RedemptionStatus::Expired, None, Deadline::Passed(now), "逾期未领取"),
    };
    let Some(r) = store::close_redemption(txn, id, to, actor, deadline, now).await? else {
        let r = store::find_redemption(txn, id).await?.ok_or(AppError::NotFound)?;
        return Err(closed(r.status));
    };
    let quantity = i64::from(r.quantity);
    let item = store::move_stock(txn, r.item_id, quantity, None, now)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the item of redemption {id} vanished")))?;
    let entry = NewEntry {
        user_id: r.user_id,
        branch_id: r.branch_id,
        delta_points: r.points,
        delta_minutes: 0,
        star: None,
        kind: LedgerKind::Refund,
        ref_type: "redemption",
        ref_id: r.id.to_string(),
        idempotency_key: format!("refund:{}", r.id),
        note: Some(format!("{}：{}", note, item.name)),
        actor_id: actor,
    };
    // Off the boards: the branch path only names boards, and there are none to move.
    points::post_entry(txn, &entry, "", now).await?;
    let line = NewMove {
        org_id: r.org_id,
        item_id: r.item_id,
        kind: StockMoveKind::Refund,
        quantity,
        stock_after: item.stock_left,
        redemption_id: Some(r.id),
        user_id: Some(r.user_id),
        actor_id: actor,
        donor: None,
        note: Some(note),
    };
    store::insert_move(txn, line, now).await?;
    Ok(r)
}

/// The member cancels their own reservation: points and stock come back. With an
/// `Idempotency-Key`, a retry answers the first cancellation again (the key is recorded
/// just after the commit: a crash between the two leaves a retry with 409
/// `redemption_closed`, never a second refund).
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    id: i64,
    key: Option<IdempotencyKey>,
) -> Result<idempotency::Response> {
    let claim = match idempotency::begin(&state.db, caller.user_id, key, &("cancel", id)).await? {
        Begun::Replay(first) => return Ok(first),
        Begun::Go(claim) => claim,
    };
    let r = store::find_redemption(&state.db, id).await?.filter(|r| r.user_id == caller.user_id);
    let r = r.ok_or(AppError::NotFound)?;
    let now = state.clock.now();
    let why = GiveBack::Cancel { by: caller.user_id };
    let closed = state
        .group_commit
        .run(move |txn| Box::pin(async move { give_back(txn, r.id, why, now).await.map(Finish::Commit) }))
        .await?;
    let answer = idempotency::Response::json(200, &view(state, closed, false).await?)?;
    Ok(idempotency::finish(&state.db, caller.user_id, &claim, &answer, now).await?.unwrap_or(answer))
}

/// One pass of the expiry job at `now`: reservations past their pickup deadline are given
/// back. Safe with N servers (whose clocks may differ a little): each move is conditional,
/// so a reservation another server (or a fulfilment) moved first is skipped. Returns how
/// many this pass expired.
pub async fn expire_due(state: &AppState, now: DateTime<Utc>) -> Result<u64> {
    let due = store::due_reservations(&state.db, now, EXPIRY_BATCH).await?;
    let moves = due.into_iter().map(|id| {
        state.group_commit.run(move |txn| {
            Box::pin(async move {
                match give_back(txn, id, GiveBack::Expire, now).await {
                    Ok(_) => Ok(Finish::Commit(true)),
                    Err(AppError::Conflict { .. }) => Ok(Finish::Discard(false)),
                    Err(err) => Err(err),
                }
            })
        })
    });
    let mut expired = 0;
    for result in futures_util::future::join_all(moves).await {
        if result? {
            expired += 1;
        }
    }
    Ok(expired)
}

/// One pass of the reminder job at `now`: members whose reservation expires within a day
/// are told once (each reservation's flag moves conditionally, so with N servers once).
pub async fn remind_expiring(state: &AppState, now: DateTime<Utc>) -> Result<u64> {
    let due = store::expiring_unnoticed(&state.db, now, now + Duration::hours(24), EXPIRY_BATCH).await?;
    let mut told = 0;
    for (id, user_id, item_id, code, expires_at) in due {
        let name = store::find_item(&state.db, item_id).await?.map(|i| i.name).unwrap_or_default();
        let txn = begin_write(&state.writer).await?;
        if !store::mark_expiring_noticed(&txn, id).await? {
            continue;
        }
        let by = expires_at.with_timezone(&crate::clock::shanghai()).format("%m月%d日 %H:%M");
        let body = format!("「{name}」的兑换码 {code} 将于 {by} 过期，请尽快领取");
        let notice = Notice {
            event: Event::RedemptionExpiring,
            title: "兑换即将过期",
            body: &body,
            r#ref: format!("redemption:{id}"),
            at: now,
        };
        notify::push(&txn, &state.wechat, [user_id], &notice).await?;
        txn.commit().await?;
        told += 1;
    }
    Ok(told)
}

/// Reservations one expiry pass takes on (sent to the writer together, so they share commits).
const EXPIRY_BATCH: u64 = 200;

/// The counter hands the item over: the code's reservation becomes `fulfilled`. Only by
/// those who keep this shop, never for oneself, and only before its pickup deadline.
pub async fn fulfil(
    state: &AppState,
    caller: &Caller,
    org_id: i64,
    req: FulfilRequest,
    key: Option<IdempotencyKey>,
) -> Result<idempotency::Response> {
    let claim = match idempotency::begin(&state.db, caller.user_id, key, &(org_id, &req)).await? {
        Begun::Replay(first) => return Ok(first),
        Begun::Go(claim) => claim,
    };
    let shop = kept_shop(state, caller, org_id).await?;
    let code = parse_code(&req.code)
        .ok_or_else(|| AppError::field("code", "须为 8 位兑换码（数字 2–9 和大写字母，不含 0、1、I、O）"))?;
    let r = store::find_by_code(&state.db, &code).await?.filter(|r| r.org_id == shop.id);
    let r = r.ok_or(AppError::Absent { code: ErrorCode::NotFound, message: "本积分超市没有这个兑换码" })?;
    if r.user_id == caller.user_id {
        return Err(AppError::self_dealing("不能核销自己的兑换，请由其他工作人员办理"));
    }
    let now = state.clock.now();
    let by = caller.user_id;
    let done = state.group_commit.run(move |txn| Box::pin(fulfil_in(txn, r.id, by, now))).await?;
    let answer = idempotency::Response::json(200, &view(state, done, false).await?)?;
    Ok(idempotency::finish(&state.db, caller.user_id, &claim, &answer, now).await?.unwrap_or(answer))
}

async fn fulfil_in(
    txn: &DatabaseTransaction,
    id: i64,
    by: i64,
    now: DateTime<Utc>,
) -> Result<Finish<redemptions::Model>> {
    let Some(r) =
        store::close_redemption(txn, id, RedemptionStatus::Fulfilled, Some(by), Deadline::Ahead(now), now).await?
    else {
        let r = store::find_redemption(txn, id).await?.ok_or(AppError::NotFound)?;
        // Still reserved means past its deadline: the expiry job gives it back shortly.
        return Err(if r.status == RedemptionStatus::Reserved { REDEMPTION_CLOSED } else { closed(r.status) });
    };
    let item = store::find_item(txn, r.item_id).await?.ok_or(AppError::NotFound)?;
    let note = format!("核销 ×{}", r.quantity);
    let line = NewMove {
        org_id: r.org_id,
        item_id: r.item_id,
        kind: StockMoveKind::Fulfil,
        quantity: 0,
        stock_after: item.stock_left,
        redemption_id: Some(r.id),
        user_id: Some(r.user_id),
        actor_id: Some(by),
        donor: None,
        note: Some(&note),
    };
    store::insert_move(txn, line, now).await?;
    Ok(Finish::Commit(r))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RedemptionQuery {
    /// `reserved`, `fulfilled`, `cancelled` or `expired`.
    #[param(value_type = Option<RedemptionStatus>)]
    pub status: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

impl RedemptionQuery {
    fn parse(&self) -> Result<(Option<RedemptionStatus>, PageRequest)> {
        let status = match self.status.as_deref() {
            None => None,
            Some("reserved") => Some(RedemptionStatus::Reserved),
            Some("fulfilled") => Some(RedemptionStatus::Fulfilled),
            Some("cancelled") => Some(RedemptionStatus::Cancelled),
            Some("expired") => Some(RedemptionStatus::Expired),
            Some(_) => return Err(AppError::field("status", "须为 reserved、fulfilled、cancelled 或 expired")),
        };
        let page = PageQuery { cursor: self.cursor.clone(), limit: self.limit }.parse()?;
        Ok((status, page))
    }
}

async fn page_of(state: &AppState, owner: Owner, q: &RedemptionQuery, with_qr: bool) -> Result<Page<RedemptionView>> {
    let (status, page) = q.parse()?;
    let rows = store::redemptions_of(&state.db, owner, status, page).await?;
    let rows = Page::from_rows(rows, page, |r| r.id, |r| r);
    Ok(Page { items: views(state, rows.items, with_qr).await?, next_cursor: rows.next_cursor })
}

/// The caller's redemptions, newest first, with the QR image of each reserved one.
pub async fn mine(state: &AppState, caller: &Caller, q: &RedemptionQuery) -> Result<Page<RedemptionView>> {
    page_of(state, Owner::User(caller.user_id), q, true).await
}

/// A shop's redemptions, newest first (those who keep it).
pub async fn of_shop(
    state: &AppState,
    caller: &Caller,
    org_id: i64,
    q: &RedemptionQuery,
) -> Result<Page<RedemptionView>> {
    let shop = kept_shop(state, caller, org_id).await?;
    page_of(state, Owner::Shop(shop.id), q, false).await
}

/// One redemption: its member (with the QR image while reserved) or those who keep its shop.
pub async fn get(state: &AppState, caller: &Caller, id: i64) -> Result<RedemptionView> {
    let r = store::find_redemption(&state.db, id).await?.ok_or(AppError::NotFound)?;
    if r.user_id == caller.user_id {
        return view(state, r, true).await;
    }
    let shop = access::org(state, r.org_id).await?;
    if !super::service::keeps(caller, &shop) {
        return Err(AppError::NotFound);
    }
    view(state, r, false).await
}

/// What `/me/shop` lists: an item the caller may redeem now, with how much of it their
/// limit leaves them this period (null: no limit).
#[derive(Debug, Serialize, ToSchema)]
pub struct OfferView {
    #[serde(flatten)]
    pub item: super::service::ItemView,
    pub my_remaining: Option<i64>,
}

/// Items the caller may redeem now, in the shops of their branch and township: active,
/// within their window, in stock, and not used up by the caller's limit. Oldest first.
pub async fn offers(state: &AppState, caller: &Caller, page: PageRequest) -> Result<Page<OfferView>> {
    let shops = super::service::shops_of_member(caller);
    if shops.is_empty() {
        return Ok(Page { items: Vec::new(), next_cursor: None });
    }
    let now = state.clock.now();
    let rows = store::items_of(&state.db, &shops, Some(entity::shop_items::ItemStatus::Active), page).await?;
    let rows = Page::from_rows(rows, page, |r| r.id, |r| r);
    let limited: Vec<&shop_items::Model> = rows.items.iter().filter(|i| i.per_member_limit.is_some()).collect();
    let earliest = limited.iter().map(|i| period_start(i.limit_period, now)).min().flatten();
    let all_time = limited.iter().any(|i| period_start(i.limit_period, now).is_none());
    let ids: Vec<i64> = limited.iter().map(|i| i.id).collect();
    let kept = if ids.is_empty() {
        Vec::new()
    } else {
        store::kept_since(&state.db, caller.user_id, &ids, if all_time { None } else { earliest }).await?
    };
    let mut offered = Vec::new();
    let mut remaining = Vec::new();
    for item in rows.items {
        if domain::unavailable(&item, now).is_some() || item.stock_left <= 0 {
            continue;
        }
        let since = period_start(item.limit_period, now);
        let used: i64 = kept
            .iter()
            .filter(|(id, at, _)| *id == item.id && since.is_none_or(|s| *at >= s))
            .map(|(_, _, q)| i64::from(*q))
            .sum();
        let left = domain::remaining(item.per_member_limit, used);
        if left == Some(0) {
            continue;
        }
        remaining.push(left);
        offered.push(item);
    }
    let items = super::service::item_views(state, offered).await?;
    let items = items.into_iter().zip(remaining).map(|(item, my_remaining)| OfferView { item, my_remaining }).collect();
    Ok(Page { items, next_cursor: rows.next_cursor })
}
