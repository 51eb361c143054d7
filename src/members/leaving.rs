//! Leaving a branch: a member removed by its secretary (with a reason) or leaving by
//! themselves. One transaction ends their roles at the branch and inside it, clears the
//! home branch, releases the cards they hold and writes the audit row; the ledger stays.
//! (Apart from `service.rs`, which the points and tasks domains ask about membership:
//! this file calls the tasks domain.)
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::service::{me, MeView};
use super::store;
use crate::access::{self, Caller, Role};
use crate::audit::{self, AuditEntry};
use crate::error::{AppError, ErrorCode, Result};
use crate::infra::db::begin_write;
use crate::orgs::service as orgs_service;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct Removal {
    /// Why: required, 1–200 characters, kept in the audit log.
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct Leaving {
    /// Why, if the member wants to say (up to 200 characters).
    #[schema(max_length = 200, pattern = r"^[^\x00]*$")]
    pub reason: Option<String>,
}

const NOT_A_MEMBER: AppError = AppError::conflict(ErrorCode::NotAMember, "此人不是本支部成员");

/// Remove a member from a branch (its secretary or an admin above): their roles at the
/// branch and inside it end, the cards they hold go back to the pool, their home branch
/// is cleared; their ledger stays. Audited with the required reason.
pub async fn remove_member(
    state: &AppState,
    caller: &Caller,
    branch_id: i64,
    user_id: i64,
    req: Removal,
) -> Result<()> {
    let reason = req.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(AppError::field("reason", "须填写移除原因（1 到 200 个字符）"));
    }
    let branch = access::in_subtree(&state.db, caller, branch_id).await?;
    if branch.kind != access::OrgKind::Branch.as_str() {
        return Err(AppError::NotFound);
    }
    access::authorize(caller, &branch, Role::Secretary)?;
    if user_id == caller.user_id {
        return Err(AppError::field("user_id", "不能移除自己，请使用“退出支部”（POST /me/leave）"));
    }
    end_membership(state, caller.user_id, user_id, &branch, ("member.remove", Some(reason))).await
}

/// Leave one's home branch: the same as being removed, by oneself.
pub async fn leave(state: &AppState, caller: &Caller, req: Leaving) -> Result<MeView> {
    let reason = req.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 200) {
        return Err(AppError::field("reason", "不超过 200 个字符"));
    }
    let home = store::find_user(&state.db, caller.user_id).await?.and_then(|u| u.home_branch_id);
    let branch = access::org(state, home.ok_or(NOT_A_MEMBER)?).await?;
    end_membership(state, caller.user_id, caller.user_id, &branch, ("member.leave", reason)).await?;
    me(&state.db, caller.user_id).await
}

/// The one transaction of a removal or a leaving: roles, home branch, held cards and the
/// audit row; then every server forgets the person's roles and the cards are pooled.
async fn end_membership(
    state: &AppState,
    actor: i64,
    user_id: i64,
    branch: &entity::orgs::Model,
    (action, reason): (&'static str, Option<String>),
) -> Result<()> {
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let home = store::find_user(&txn, user_id).await?.ok_or(AppError::NotFound)?.home_branch_id;
    let ended = orgs_service::end_membership(&txn, user_id, branch, now).await?;
    if ended.is_empty() && home != Some(branch.id) {
        return Err(NOT_A_MEMBER);
    }
    let released = crate::tasks::cards::release_held(&txn, user_id, branch.id, now).await?;
    let entry = AuditEntry {
        actor_id: Some(actor),
        action,
        target_type: "user",
        target_id: user_id.to_string(),
        org_id: Some(branch.id),
        before: Some(json!({"roles": ended, "home_branch_id": home})),
        after: Some(
            json!({"home_branch_id": if home == Some(branch.id) { None } else { home }, "cards_released": released.len()}),
        ),
        reason,
        at: now,
    };
    audit::record(&txn, entry).await?;
    txn.commit().await?;
    access::roles_changed(state, user_id).await;
    crate::tasks::cards::settle_released(state, released).await;
    Ok(())
}
