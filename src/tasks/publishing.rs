//! Publishing tasks: a secretary puts a task's copies into the branch's pool, and staff
//! and members list a branch's tasks with their counts.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::ActiveEnum;
use serde_json::json;

use entity::{orgs, tasks};

use super::domain::{pool_member, CardStatus, NewTaskRequest, TaskSpec};
use super::views::{task_view, TaskView};
use super::{pool, store, sweeper};
use crate::access;
use crate::access::{Caller, OrgKind, Role};
use crate::audit::{self, AuditEntry};
use crate::error::{AppError, Result};
use crate::infra::db::begin_write;
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

pub(super) fn ended(task: &tasks::Model, now: DateTime<Utc>) -> bool {
    task.expires_at.is_some_and(|at| at <= now)
}

pub async fn publish_task(state: &AppState, caller: &Caller, branch_id: i64, req: NewTaskRequest) -> Result<TaskView> {
    let now = state.clock.now();
    let spec = TaskSpec::parse(req, now).map_err(AppError::Validation)?;
    let branch = staff_branch(state, caller, branch_id).await?;
    let txn = begin_write(&state.writer).await?;
    let task = store::insert_task(&txn, branch.id, &spec, caller.user_id, now).await?;
    let card_ids = store::insert_cards(&txn, &task, now).await?;
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
    txn.commit().await?;
    let members: Vec<String> = card_ids.iter().map(|id| pool_member(*id, task.claim_ttl_minutes)).collect();
    // The cards are committed: the task is published. If Redis fails now, the branch is
    // marked and the sweeper pools the cards once Redis answers.
    if let Err(err) = pool::add_open(&state.redis, branch.id, &members).await {
        sweeper::mark_pool(state, branch.id, &err).await;
    }
    let counts = HashMap::from([(CardStatus::Open.to_value(), card_ids.len() as i64)]);
    Ok(task_view(task, Some(&counts)))
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
    let counts = store::card_counts(&state.db, &ids).await?;
    Ok(Page::from_rows(
        rows,
        page,
        |t| t.id,
        |t| {
            let c = counts.get(&t.id);
            task_view(t, c)
        },
    ))
}
