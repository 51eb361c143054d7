//! A card's life: a draw pops a random card from the branch's Redis pool, then claims it
//! in SQL with a conditional move; if SQL refuses or fails, the card goes back. Submit,
//! release, and review follow; approval credits through the ledger's one writer in the
//! same transaction as the card's move, with the card as the idempotency key, so it
//! credits once.

use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseTransaction;
use serde_json::json;

use entity::{card_claims, orgs, tasks};

use super::domain::{parse_pool_member, pool_member, CardStatus, ClaimStatus, MAX_MEDIA};
use super::publishing::{branch, counts_moved, is_member, retired, staff_branch};
use super::views::{card_view, claims_page, filled_card, parse_status, CardReview, CardView, SubmitRequest};
use super::{pool, store};
use crate::access::Caller;
use crate::access::{self, Role};
use crate::audit::{self, AuditEntry};
use crate::error::{AppError, ErrorCode, Result};
use crate::idempotency::{self, Begun, IdempotencyKey};
use crate::infra::db::begin_write;
use crate::infra::group_commit::Finish;
use crate::infra::pending::{self, Owed, PendingKind};
use crate::infra::wechat::WechatClient;
use crate::notify::{self, domain::Event, Notice};
use crate::pagination::{Page, PageRequest};
use crate::points::boards::BoardUpdate;
use crate::points::domain::LedgerKind;
use crate::points::domain::NewEntry;
use crate::points::service::{post_entry, publish};
use crate::stars::Star;
use crate::state::AppState;

const POOL_REBUILDING: AppError =
    AppError::Unavailable { code: ErrorCode::PoolRebuilding, message: "卡池正在恢复，请稍后再抽" };
pub const POOL_EMPTY: AppError =
    AppError::Absent { code: ErrorCode::PoolEmpty, message: "卡池已空，暂无可领取的任务卡" };
pub const CARD_LIMIT: AppError =
    AppError::conflict(ErrorCode::CardLimit, "您在本支部持有的任务卡已达上限，请先提交或放弃");
const CLAIM_EXPIRED: AppError = AppError::conflict(ErrorCode::ClaimExpired, "领取已过期，任务卡已回到卡池");
const NOT_CLAIMED: AppError = AppError::conflict(ErrorCode::NotClaimed, "您当前未持有这张任务卡");
const ALREADY_SUBMITTED: AppError = AppError::conflict(ErrorCode::AlreadySubmitted, "这张任务卡已提交");
const ALREADY_REVIEWED: AppError = AppError::conflict(ErrorCode::AlreadyReviewed, "这张任务卡已审核");
const NOT_SUBMITTED: AppError = AppError::conflict(ErrorCode::NotSubmitted, "这张任务卡尚未提交，无法审核");
const PHOTO_REQUIRED: AppError =
    AppError::Unprocessable { code: ErrorCode::PhotoRequired, message: "该任务需要上传照片" };

/// Pops of cards SQL no longer holds open (a stale pool) before a draw gives up.
const DRAW_ATTEMPTS: usize = 8;

enum Attempt {
    Claimed(Box<CardView>),
    /// SQL does not hold this card open: a stale pool entry.
    NotOpen {
        still_held: bool,
    },
    /// Its task has ended: the card is retired (and leaves the pool).
    TaskEnded(Owed),
    Limit,
}

pub async fn draw(state: &AppState, caller: &Caller, branch_id: i64) -> Result<CardView> {
    let branch = branch(state, branch_id).await?;
    if !is_member(caller, &branch.path) {
        return Err(access::needs_as(Role::Resident, "只有本支部的成员（居民或党员）才能抽取任务卡"));
    }
    let limit = u64::try_from(branch.card_limit.max(1)).unwrap_or(1);
    // Cheap refusal before touching the pool; the binding check is in the transaction.
    if store::active_claims(&state.db, caller.user_id, branch.id).await? >= limit {
        return Err(CARD_LIMIT);
    }
    for _ in 0..DRAW_ATTEMPTS {
        let now = state.clock.now();
        let Some(member) = pool::draw(&state.redis, branch.id, now.timestamp_millis()).await? else {
            return Err(empty_or_rebuilding(state).await?);
        };
        let Some((card_id, _)) = parse_pool_member(&member) else {
            tracing::warn!(%member, "garbage in a card pool; dropped");
            pool::forget(&state.redis, branch.id, &[member]).await?;
            continue;
        };
        match claim(state, caller, &branch, card_id, limit, now).await {
            Ok(Attempt::Claimed(view)) => {
                if let Some(task) = &view.task {
                    counts_moved(state, task.id);
                }
                return filled_card(state, *view).await;
            }
            Ok(Attempt::NotOpen { still_held }) => {
                if !still_held {
                    pool::forget(&state.redis, branch.id, &[member]).await?;
                }
            }
            Ok(Attempt::TaskEnded(owed)) => {
                state.pending.settle(&[owed], pool::forget(&state.redis, branch.id, &[member])).await?;
            }
            Ok(Attempt::Limit) => {
                pool::put_back(&state.redis, branch.id, &[member]).await?;
                return Err(CARD_LIMIT);
            }
            Err(err) => {
                if let Err(redis_err) = pool::put_back(&state.redis, branch.id, &[member]).await {
                    // The lease stays; the sweeper returns the card when it falls due.
                    tracing::warn!(error = %redis_err, card_id, "could not return a card after a failed draw");
                }
                return Err(err);
            }
        }
    }
    Err(POOL_EMPTY)
}

/// An empty pool is `pool_empty` only if the pools are what SQL says; while they are
/// being rebuilt after Redis lost them, 503 `pool_rebuilding` (with Retry-After).
async fn empty_or_rebuilding(state: &AppState) -> Result<AppError> {
    if pool::ready(&state.redis).await? {
        Ok(POOL_EMPTY)
    } else {
        Ok(POOL_REBUILDING)
    }
}

/// The SQL half of a draw: the member's lock, the limit, the conditional `open → claimed`.
async fn claim(
    state: &AppState,
    caller: &Caller,
    branch: &orgs::Model,
    card_id: i64,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<Attempt> {
    let (user_id, branch_id) = (caller.user_id, branch.id);
    state.group_commit.run(move |txn| Box::pin(claim_in(txn, user_id, branch_id, card_id, limit, now))).await
}

async fn claim_in(
    txn: &DatabaseTransaction,
    user_id: i64,
    branch_id: i64,
    card_id: i64,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<Finish<Attempt>> {
    store::lock_member(txn, user_id).await?;
    if store::active_claims(txn, user_id, branch_id).await? >= limit {
        return Ok(Finish::Discard(Attempt::Limit));
    }
    let Some((card, task)) = store::find_card_with_task(txn, card_id).await? else {
        return Ok(Finish::Discard(Attempt::NotOpen { still_held: false }));
    };
    if card.branch_id != branch_id || card.status != CardStatus::Open {
        let still_held = card.branch_id == branch_id && card.status == CardStatus::Claimed;
        return Ok(Finish::Discard(Attempt::NotOpen { still_held }));
    }
    if let Some(to) = retired(&task, now) {
        store::retire_open_card(txn, card.id, to, now).await?;
        let owed = pending::owe(txn, PendingKind::Pool, branch_id, now).await?;
        return Ok(Finish::Commit(Attempt::TaskEnded(owed)));
    }
    let expires_at = now + Duration::minutes(i64::from(task.claim_ttl_minutes));
    let claim = store::insert_claim(txn, &card, user_id, now, expires_at).await?;
    if !store::take_card(txn, card.id, &claim, now).await? {
        return Ok(Finish::Discard(Attempt::NotOpen { still_held: true }));
    }
    Ok(Finish::Commit(Attempt::Claimed(Box::new(card_view(claim, Some(&task))))))
}

/// The caller's newest claim of this card; 404 for no card, 403 for someone else's.
async fn my_claim<C: sea_orm::ConnectionTrait>(db: &C, caller: &Caller, card_id: i64) -> Result<card_claims::Model> {
    store::find_card(db, card_id).await?.ok_or(AppError::NotFound)?;
    store::latest_claim(db, card_id, Some(caller.user_id)).await?.ok_or(AppError::forbidden("这张任务卡不是您领取的"))
}

fn check_live(claim: &card_claims::Model, now: DateTime<Utc>) -> Result<()> {
    match claim.status {
        ClaimStatus::Claimed if claim.expires_at > now => Ok(()),
        ClaimStatus::Claimed | ClaimStatus::Expired => Err(CLAIM_EXPIRED),
        ClaimStatus::Released => Err(NOT_CLAIMED),
        _ => Err(ALREADY_SUBMITTED),
    }
}

/// Submit a held card. With an `Idempotency-Key`, a retry answers the first submission
/// again (not 409 `already_submitted`).
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    card_id: i64,
    req: SubmitRequest,
    key: Option<IdempotencyKey>,
) -> Result<idempotency::Response> {
    let claim_key = match idempotency::begin(&state.db, caller.user_id, key, &(card_id, &req)).await? {
        Begun::Replay(first) => return Ok(first),
        Begun::Go(claim) => claim,
    };
    let note = req.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(AppError::field("note", "不超过 500 字"));
    }
    if req.media_ids.len() > MAX_MEDIA {
        return Err(AppError::field("media_ids", format!("最多 {MAX_MEDIA} 张照片")));
    }
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let claim = my_claim(&txn, caller, card_id).await?;
    check_live(&claim, now)?;
    let task = store::find_task(&txn, claim.task_id).await?.ok_or(AppError::NotFound)?;
    if task.requires_photo && req.media_ids.is_empty() {
        return Err(PHOTO_REQUIRED);
    }
    crate::media::service::check_owned(&txn, caller.user_id, &req.media_ids).await?;
    if !store::submit_claim(&txn, claim.id, note, &req.media_ids, now).await?
        || !store::move_card(&txn, card_id, claim.id, CardStatus::Claimed, CardStatus::Submitted, now).await?
    {
        return Err(CLAIM_EXPIRED);
    }
    let claim = store::find_claim(&txn, claim.id).await?.ok_or(AppError::NotFound)?;
    let branch_id = claim.branch_id;
    let answer = idempotency::Response::json(200, &filled_card(state, card_view(claim, Some(&task))).await?)?;
    if let Some(first) = idempotency::finish(&txn, caller.user_id, &claim_key, &answer, now).await? {
        return Ok(first);
    }
    let owed = pending::owe(&txn, PendingKind::Pool, branch_id, now).await?;
    txn.commit().await?;
    // A submitted card needs no lease.
    let member = pool_member(card_id, task.claim_ttl_minutes);
    let _ = state.pending.settle(&[owed], pool::forget(&state.redis, branch_id, &[member])).await;
    counts_moved(state, task.id);
    Ok(answer)
}

/// Where a card went after a claim ended without approval, and the pool write that owes.
#[derive(Clone, Copy)]
struct Reopened {
    /// Back in the pool; false: retired (its task ended or was cancelled).
    open: bool,
    owed: Owed,
}

/// After a claim ends without approval: the card goes back to the pool, or is retired
/// when its task has ended or was cancelled.
async fn reopen<C: sea_orm::ConnectionTrait>(
    txn: &C,
    claim: &card_claims::Model,
    from: CardStatus,
    task: &tasks::Model,
    now: DateTime<Utc>,
) -> Result<Reopened> {
    let to = retired(task, now).unwrap_or(CardStatus::Open);
    store::move_card(txn, claim.card_id, claim.id, from, to, now).await?;
    let owed = pending::owe(txn, PendingKind::Pool, claim.branch_id, now).await?;
    Ok(Reopened { open: to == CardStatus::Open, owed })
}

/// Redis after a card left its holder: back into the pool, or out of it for good. If the
/// write does not land, the sweeper rebuilds the pool from SQL (`infra::pending`).
async fn settle_pool(state: &AppState, claim: &card_claims::Model, task: &tasks::Model, moved: Reopened) {
    let member = vec![pool_member(claim.card_id, task.claim_ttl_minutes)];
    let owed = [moved.owed];
    let _ = if moved.open {
        state.pending.settle(&owed, pool::put_back(&state.redis, claim.branch_id, &member)).await
    } else {
        state.pending.settle(&owed, pool::forget(&state.redis, claim.branch_id, &member)).await
    };
}

/// Cards a member held at a branch they left or were removed from: released in the
/// leaving's own transaction; `settle_released` puts them back in the pool after it commits.
pub struct Released(Vec<(card_claims::Model, tasks::Model, Reopened)>);

impl Released {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Release every card `user_id` holds at `branch_id` (not the submitted ones: their work
/// is done and waits for review), inside `txn`.
pub async fn release_held<C: sea_orm::ConnectionTrait>(
    txn: &C,
    user_id: i64,
    branch_id: i64,
    now: DateTime<Utc>,
) -> Result<Released> {
    let mut released = Vec::new();
    for claim in store::held_claims(txn, user_id, branch_id).await? {
        let Some(task) = store::find_task(txn, claim.task_id).await? else { continue };
        let Some(claim) =
            store::end_claim(txn, claim.id, ClaimStatus::Claimed, ClaimStatus::Released, None, now).await?
        else {
            continue;
        };
        let moved = reopen(txn, &claim, CardStatus::Claimed, &task, now).await?;
        released.push((claim, task, moved));
    }
    Ok(Released(released))
}

/// After the transaction of `release_held` committed: the cards back in their pool.
pub async fn settle_released(state: &AppState, released: Released) {
    for (claim, task, moved) in released.0 {
        counts_moved(state, task.id);
        settle_pool(state, &claim, &task, moved).await;
    }
}

pub async fn release(state: &AppState, caller: &Caller, card_id: i64) -> Result<CardView> {
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let claim = my_claim(&txn, caller, card_id).await?;
    match claim.status {
        ClaimStatus::Claimed => {}
        ClaimStatus::Expired => return Err(CLAIM_EXPIRED),
        ClaimStatus::Released => return Err(NOT_CLAIMED),
        _ => return Err(ALREADY_SUBMITTED),
    }
    let task = store::find_task(&txn, claim.task_id).await?.ok_or(AppError::NotFound)?;
    let Some(claim) = store::end_claim(&txn, claim.id, ClaimStatus::Claimed, ClaimStatus::Released, None, now).await?
    else {
        return Err(NOT_CLAIMED);
    };
    let moved = reopen(&txn, &claim, CardStatus::Claimed, &task, now).await?;
    txn.commit().await?;
    settle_pool(state, &claim, &task, moved).await;
    counts_moved(state, task.id);
    filled_card(state, card_view(claim, Some(&task))).await
}

/// Approve or reject a submitted card. With an `Idempotency-Key`, a retry answers the
/// first review again (not 409 `already_reviewed`). The key is recorded just after the
/// review commits (the writer's batch has no place for it); a crash between the two leaves
/// a retry with 409 `already_reviewed`, never a second credit.
pub async fn review(
    state: &AppState,
    caller: &Caller,
    card_id: i64,
    req: CardReview,
    key: Option<IdempotencyKey>,
) -> Result<idempotency::Response> {
    let claim_key = match idempotency::begin(&state.db, caller.user_id, key, &(card_id, &req)).await? {
        Begun::Replay(first) => return Ok(first),
        Begun::Go(claim) => claim,
    };
    let comment = req.comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > 500) {
        return Err(AppError::field("comment", "不超过 500 字"));
    }
    let now = state.clock.now();
    let card = store::find_card(&state.db, card_id).await?.ok_or(AppError::NotFound)?;
    let branch = staff_branch(state, caller, card.branch_id).await?;
    // Read before the transaction: a task does not change once published.
    let task = store::find_task(&state.db, card.task_id).await?.ok_or(AppError::NotFound)?;
    let approve = req.approve;
    let job = Review {
        card_id,
        reviewer_id: caller.user_id,
        approve,
        comment,
        task: task.clone(),
        branch_path: branch.path,
        wechat: state.wechat.clone(),
        now,
    };
    let (claim, update, reopened) = state.group_commit.run(move |txn| Box::pin(review_in(txn, job))).await?;
    publish(state, update.as_slice()).await;
    if let Some(moved) = reopened {
        settle_pool(state, &claim, &task, moved).await;
    }
    counts_moved(state, task.id);
    let answer = idempotency::Response::json(200, &filled_card(state, card_view(claim, Some(&task))).await?)?;
    if let Some(first) = idempotency::finish(&state.db, caller.user_id, &claim_key, &answer, now).await? {
        return Ok(first);
    }
    Ok(answer)
}

/// What a review writes, given by value to the writer.
struct Review {
    card_id: i64,
    reviewer_id: i64,
    approve: bool,
    comment: Option<String>,
    task: tasks::Model,
    branch_path: String,
    /// Where the member's notification may go on to.
    wechat: WechatClient,
    now: DateTime<Utc>,
}

/// The SQL half of a review: the claim's and the card's conditional moves, the credit on
/// approval (the card is its idempotency key) or the card back to the pool, the audit
/// row. Gives the ended claim, the board update to publish (approved), and where the card
/// went (rejected).
async fn review_in(
    txn: &DatabaseTransaction,
    job: Review,
) -> Result<Finish<(card_claims::Model, Option<BoardUpdate>, Option<Reopened>)>> {
    let Review { card_id, reviewer_id, approve, comment, task, branch_path, wechat, now } = job;
    let claim = store::latest_claim(txn, card_id, None).await?.ok_or(NOT_SUBMITTED)?;
    match claim.status {
        ClaimStatus::Submitted => {}
        ClaimStatus::Approved | ClaimStatus::Rejected => return Err(ALREADY_REVIEWED),
        _ => return Err(NOT_SUBMITTED),
    }
    if claim.user_id == reviewer_id {
        return Err(AppError::self_dealing("不能审核自己提交的任务卡"));
    }
    let to = if approve { ClaimStatus::Approved } else { ClaimStatus::Rejected };
    let reviewer = Some((reviewer_id, comment.clone()));
    let Some(claim) = store::end_claim(txn, claim.id, ClaimStatus::Submitted, to, reviewer, now).await? else {
        return Err(ALREADY_REVIEWED);
    };
    let mut update = None;
    let mut reopened = None;
    if approve {
        if !store::move_card(txn, card_id, claim.id, CardStatus::Submitted, CardStatus::Approved, now).await? {
            return Err(ALREADY_REVIEWED);
        }
        let entry = NewEntry {
            user_id: claim.user_id,
            branch_id: claim.branch_id,
            delta_points: i64::from(task.points),
            delta_minutes: i64::from(task.volunteer_minutes),
            star: Star::parse(&task.star),
            kind: LedgerKind::Task,
            ref_type: "card",
            ref_id: card_id.to_string(),
            idempotency_key: format!("card:{card_id}"),
            note: Some(task.title.chars().take(100).collect()),
            actor_id: Some(reviewer_id),
        };
        update = post_entry(txn, &entry, &branch_path, now).await?;
    } else {
        reopened = Some(reopen(txn, &claim, CardStatus::Submitted, &task, now).await?);
    }
    audit::record(
        txn,
        AuditEntry {
            actor_id: Some(reviewer_id),
            action: if approve { "card.approve" } else { "card.reject" },
            target_type: "card",
            target_id: card_id.to_string(),
            org_id: Some(claim.branch_id),
            before: Some(json!({"status": "submitted", "claim_id": claim.id})),
            after: Some(json!({"status": to, "comment": comment})),
            reason: comment.clone(),
            at: now,
        },
    )
    .await?;
    let (event, title, body) = if approve {
        let body = format!("「{}」审核通过，获得 {} 积分", task.title, task.points);
        (Event::CardApproved, "任务卡审核通过", body)
    } else {
        let why = comment.as_deref().map(|c| format!("：{c}")).unwrap_or_default();
        (Event::CardRejected, "任务卡未通过审核", format!("「{}」未通过审核{why}", task.title))
    };
    let notice = Notice { event, title, body: &body, r#ref: format!("card:{card_id}"), at: now };
    notify::push(txn, &wechat, [claim.user_id], &notice).await?;
    Ok(Finish::Commit((claim, update, reopened)))
}

pub async fn my_cards(
    state: &AppState,
    caller: &Caller,
    status: Option<&str>,
    page: PageRequest,
) -> Result<Page<CardView>> {
    let status = parse_status(status)?;
    let rows = store::claims_of_user(&state.db, caller.user_id, status, page).await?;
    claims_page(state, rows, page).await
}

/// A branch's cards in one status (default `submitted`: the review queue), for its staff.
pub async fn branch_cards(
    state: &AppState,
    caller: &Caller,
    branch_id: i64,
    status: Option<&str>,
    page: PageRequest,
) -> Result<Page<CardView>> {
    let status = parse_status(status)?.unwrap_or(ClaimStatus::Submitted);
    let branch = staff_branch(state, caller, branch_id).await?;
    let rows = store::claims_of_branch(&state.db, branch.id, status, page).await?;
    claims_page(state, rows, page).await
}
