//! Publishing tasks: a secretary puts a task's copies into the branch's pool, and staff
//! and members list a branch's tasks with their counts.
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::ActiveEnum;
use serde_json::json;

use entity::{orgs, tasks};

use super::domain::{
    pool_member, retired_status, CardStatus, NewTaskRequest, TaskEdit, TaskSpec, MAX_COPIES, MAX_TASK_COPIES,
};
use super::views::{task_view, MoreCopies, TaskCancel, TaskView};
use super::{pool, store};
use crate::access;
use crate::access::{Caller, OrgKind, Role};
use crate::audit::{self, AuditEntry};
use crate::error::{AppError, ErrorCode, Result};
use crate::idempotency::{self, Begun, IdempotencyKey};
use crate::infra::db::begin_write;
use crate::infra::pending::{self, PendingKind};
use crate::pagination::{Page, PageRequest};
use crate::state::AppState;

/// A branch by id, from the per-process cache (an org's path and kind never change).
pub(super) async fn branch(state: &AppState, branch_id: i64) -> Result<orgs::Model> {
    let org = access::org(state, branch_id).await?;
    if org.kind != OrgKind::Branch.as_str() {
        return Err(AppError::NotFound);
    }
    Ok(org)
}

/// Secretaries (and admins above) of a branch they can see; 404 outside their reach.
pub(super) async fn staff_branch(state: &AppState, caller: &Caller, branch_id: i64) -> Result<orgs::Model> {
    let org = branch(state, branch_id).await?;
    access::require(caller, &org, Role::Secretary)?;
    Ok(org)
}

/// A member of a branch holds a role at the branch itself or at a grid inside it.
pub(super) fn is_member(caller: &Caller, branch_path: &str) -> bool {
    caller.roles.iter().any(|g| g.org_path.as_deref().is_some_and(|p| p.starts_with(branch_path)))
}

/// Where a card of this task goes when it leaves the pool or a holder for good: None
/// while the task is live (`domain::retired_status`).
pub(super) fn retired(task: &tasks::Model, now: DateTime<Utc>) -> Option<CardStatus> {
    retired_status(task.cancelled_at, task.expires_at, now)
}

/// Publish a task. With an `Idempotency-Key`, a retry answers the first publication again
/// and publishes nothing more.
pub async fn publish_task(
    state: &AppState,
    caller: &Caller,
    branch_id: i64,
    req: NewTaskRequest,
    key: Option<IdempotencyKey>,
) -> Result<idempotency::Response> {
    let claim = match idempotency::begin(&state.db, caller.user_id, key, &(branch_id, &req)).await? {
        Begun::Replay(first) => return Ok(first),
        Begun::Go(claim) => claim,
    };
    let now = state.clock.now();
    let spec = TaskSpec::parse(req, now).map_err(AppError::Validation)?;
    let branch = staff_branch(state, caller, branch_id).await?;
    let txn = begin_write(&state.writer).await?;
    let task = store::insert_task(&txn, branch.id, &spec, caller.user_id, now).await?;
    let card_ids = store::insert_cards(&txn, &task, task.copies, now).await?;
    audit::record(
        &txn,
        AuditEntry {
            actor_id: Some(caller.user_id),
            action: "task.publish",
            target_type: "task",
            target_id: task.id.to_string(),
            org_id: Some(branch.id),
            before: None,
            after: Some(json!({"title": task.title, "copies": task.copies, "points": task.points})),
            reason: None,
            at: now,
        },
    )
    .await?;
    let counts = HashMap::from([(CardStatus::Open.to_value(), card_ids.len() as i64)]);
    let answer = idempotency::Response::json(201, &task_view(task.clone(), Some(&counts), now))?;
    if let Some(first) = idempotency::finish(&txn, caller.user_id, &claim, &answer, now).await? {
        return Ok(first);
    }
    let owed = pending::owe(&txn, PendingKind::Pool, branch.id, now).await?;
    txn.commit().await?;
    let members: Vec<String> = card_ids.iter().map(|id| pool_member(*id, task.claim_ttl_minutes)).collect();
    // The cards are committed: the task is published. If Redis fails now (or the process
    // dies first), the sweeper pools the cards from SQL (`infra::pending`).
    let _ = state.pending.settle(&[owed], pool::add_open(&state.redis, branch.id, &members)).await;
    Ok(answer)
}

pub async fn list_tasks(
    state: &AppState,
    caller: &Caller,
    branch_id: i64,
    page: PageRequest,
) -> Result<Page<TaskView>> {
    let branch = branch(state, branch_id).await?;
    access::within_reach(caller, &branch)?;
    let rows = store::tasks_of_branch(&state.db, branch.id, page).await?;
    let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
    let counts = recent_counts(state, &ids).await?;
    let now = state.clock.now();
    Ok(Page::from_rows(
        rows,
        page,
        |t| t.id,
        |t| {
            let c = counts.get(&t.id).map(|c| c.as_ref());
            task_view(t, c, now)
        },
    ))
}

/// After a card of the task moved: this server's next read counts afresh (others show
/// the move within `TASK_COUNTS_TTL`).
pub(super) fn counts_moved(state: &AppState, task_id: i64) {
    state.caches.task_counts.invalidate(&task_id);
}

/// Card counts for reads, at most `TASK_COUNTS_TTL` old: one query for the tasks whose
/// counts this server does not hold.
async fn recent_counts(state: &AppState, ids: &[i64]) -> Result<HashMap<i64, Arc<HashMap<String, i64>>>> {
    let cache = &state.caches.task_counts;
    let mut out: HashMap<i64, Arc<HashMap<String, i64>>> =
        ids.iter().filter_map(|id| cache.get(id).map(|c| (*id, c))).collect();
    let missing: Vec<i64> = ids.iter().copied().filter(|id| !out.contains_key(id)).collect();
    if !missing.is_empty() {
        let mut fresh = store::card_counts(&state.db, &missing).await?;
        for id in missing {
            let counts = Arc::new(fresh.remove(&id).unwrap_or_default());
            cache.insert(id, counts.clone());
            out.insert(id, counts);
        }
    }
    Ok(out)
}

/// A task with fresh counts, read on `db` (a transaction sees its own writes).
async fn counted<C: sea_orm::ConnectionTrait>(db: &C, task: tasks::Model, now: DateTime<Utc>) -> Result<TaskView> {
    let id = task.id;
    let counts = store::card_counts(db, &[id]).await?;
    Ok(task_view(task, counts.get(&id), now))
}

/// A task and its branch, for anyone the branch is within reach of; 404 otherwise.
async fn visible_task(state: &AppState, caller: &Caller, task_id: i64) -> Result<(tasks::Model, orgs::Model)> {
    let task = store::find_task(&state.db, task_id).await?.ok_or(AppError::NotFound)?;
    let branch = branch(state, task.branch_id).await?;
    access::within_reach(caller, &branch)?;
    Ok((task, branch))
}

/// A task its caller may change (secretary of its branch or an admin above); 404 for one
/// out of reach, 403 for one they may only see.
async fn staff_task(state: &AppState, caller: &Caller, task_id: i64) -> Result<(tasks::Model, orgs::Model)> {
    let (task, branch) = visible_task(state, caller, task_id).await?;
    access::authorize(caller, &branch, Role::Secretary)?;
    Ok((task, branch))
}

/// A task with its counts (at most `TASK_COUNTS_TTL` old).
pub async fn get_task(state: &AppState, caller: &Caller, task_id: i64) -> Result<TaskView> {
    let (task, _) = visible_task(state, caller, task_id).await?;
    let counts = recent_counts(state, &[task.id]).await?;
    Ok(task_view(task, counts.get(&task_id).map(|c| c.as_ref()), state.clock.now()))
}

const TASK_CANCELLED: AppError = AppError::conflict(ErrorCode::TaskCancelled, "任务已撤销，不能再修改或追加份数");
const TASK_ENDED: AppError = AppError::conflict(ErrorCode::Conflict, "任务已截止，不能再修改或追加份数");

/// 409 for a task that is no longer live: `task_cancelled`, or `conflict` once ended.
fn not_live(task: &tasks::Model) -> AppError {
    if task.cancelled_at.is_some() {
        TASK_CANCELLED
    } else {
        TASK_ENDED
    }
}

async fn audit_task<C: sea_orm::ConnectionTrait>(
    txn: &C,
    caller: &Caller,
    task: &tasks::Model,
    action: &'static str,
    change: (Option<serde_json::Value>, serde_json::Value),
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<()> {
    audit::record(
        txn,
        AuditEntry {
            actor_id: Some(caller.user_id),
            action,
            target_type: "task",
            target_id: task.id.to_string(),
            org_id: Some(task.branch_id),
            before: change.0,
            after: Some(change.1),
            reason,
            at: now,
        },
    )
    .await?;
    Ok(())
}

/// Correct a live task's title, description or deadline (secretary of its branch).
pub async fn edit_task(state: &AppState, caller: &Caller, task_id: i64, req: TaskEdit) -> Result<TaskView> {
    let now = state.clock.now();
    let changes = TaskSpec::edit(req, now).map_err(AppError::Validation)?;
    let (task, _) = staff_task(state, caller, task_id).await?;
    let txn = begin_write(&state.writer).await?;
    let before = json!({"title": task.title, "description": task.description, "expires_at": task.expires_at});
    if retired(&task, now).is_some() || !store::edit_task(&txn, task.id, changes, now).await? {
        return Err(not_live(&store::find_task(&txn, task.id).await?.ok_or(AppError::NotFound)?));
    }
    let edited = store::find_task(&txn, task.id).await?.ok_or(AppError::NotFound)?;
    let after = json!({"title": edited.title, "description": edited.description, "expires_at": edited.expires_at});
    audit_task(&txn, caller, &edited, "task.edit", (Some(before), after), None, now).await?;
    let view = counted(&txn, edited, now).await?;
    txn.commit().await?;
    counts_moved(state, task.id);
    Ok(view)
}

/// Put `count` more open cards of a live task into its branch's pool.
pub async fn add_copies(state: &AppState, caller: &Caller, task_id: i64, req: MoreCopies) -> Result<TaskView> {
    if !(1..=MAX_COPIES).contains(&req.count) {
        return Err(AppError::field("count", format!("须在 1 到 {MAX_COPIES} 之间")));
    }
    let now = state.clock.now();
    let (task, branch) = staff_task(state, caller, task_id).await?;
    if task.copies.saturating_add(req.count) > MAX_TASK_COPIES {
        return Err(AppError::field("count", format!("一个任务最多 {MAX_TASK_COPIES} 份，现有 {} 份", task.copies)));
    }
    let txn = begin_write(&state.writer).await?;
    if retired(&task, now).is_some() || !store::add_copies(&txn, task.id, req.count, now).await? {
        return Err(not_live(&store::find_task(&txn, task.id).await?.ok_or(AppError::NotFound)?));
    }
    let card_ids = store::insert_cards(&txn, &task, req.count, now).await?;
    let grown = store::find_task(&txn, task.id).await?.ok_or(AppError::NotFound)?;
    let change = (Some(json!({"copies": task.copies})), json!({"copies": grown.copies, "added": req.count}));
    audit_task(&txn, caller, &grown, "task.copies", change, None, now).await?;
    let view = counted(&txn, grown, now).await?;
    let owed = pending::owe(&txn, PendingKind::Pool, branch.id, now).await?;
    txn.commit().await?;
    counts_moved(state, task.id);
    let members: Vec<String> = card_ids.iter().map(|id| pool_member(*id, task.claim_ttl_minutes)).collect();
    let _ = state.pending.settle(&[owed], pool::add_open(&state.redis, branch.id, &members)).await;
    Ok(view)
}

/// Cancel a task: its open cards leave the pool at once (`cancelled`); cards already drawn
/// may still be submitted and reviewed. Once only: again → 409 `task_cancelled`.
pub async fn cancel_task(state: &AppState, caller: &Caller, task_id: i64, req: TaskCancel) -> Result<TaskView> {
    let reason = req.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(AppError::field("reason", "须填写撤销原因（1 到 200 个字符）"));
    }
    let now = state.clock.now();
    let (task, branch) = staff_task(state, caller, task_id).await?;
    let txn = begin_write(&state.writer).await?;
    let Some(retired) = store::cancel_task(&txn, task.id, &reason, now).await? else {
        return Err(TASK_CANCELLED);
    };
    let cancelled = store::find_task(&txn, task.id).await?.ok_or(AppError::NotFound)?;
    let after = json!({"cancelled_at": now, "open_cards_retired": retired.len()});
    audit_task(&txn, caller, &cancelled, "task.cancel", (None, after), Some(reason), now).await?;
    let view = counted(&txn, cancelled, now).await?;
    let owed = pending::owe(&txn, PendingKind::Pool, branch.id, now).await?;
    txn.commit().await?;
    counts_moved(state, task.id);
    let members: Vec<String> = retired.iter().map(|id| pool_member(*id, task.claim_ttl_minutes)).collect();
    let _ = state.pending.settle(&[owed], pool::forget(&state.redis, branch.id, &members)).await;
    Ok(view)
}
