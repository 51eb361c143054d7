//! The workflow on the ledger: who sees an incident, and each move with its timeline row,
//! conditional on the status read so two handlers cannot both move it.

use entity::incidents;

use super::domain::{allowed_actions, transition, Action, Category, Mover, Status, StatusText, MAX_MEDIA};
use super::store::{self, MoveExtras, NewEvent};
use super::views::{fill, timeline_entry, view, ActionRequest, IncidentDetail};
use crate::access;
use crate::access::{Caller, OrgKind, Role};
use crate::error::{AppError, Named, Result};
use crate::idempotency::{self, Begun, IdempotencyKey};
use crate::infra::db::begin_write;
use crate::points::boards::path_ids;
use crate::state::AppState;

/// 409 `invalid_transition` with the incident's status and what this caller may do now.
fn invalid_transition(status: Status, mover: Mover) -> AppError {
    AppError::InvalidTransition {
        status: Named { name: status.as_str(), label: status.label() },
        allowed_actions: allowed_actions(status, mover)
            .into_iter()
            .map(|a| Named { name: a.as_str(), label: a.label() })
            .collect(),
    }
}

/// The caller's part in moving this incident.
async fn mover(state: &AppState, caller: &Caller, i: &incidents::Model) -> Result<Mover> {
    let owner = access::org(state, i.owner_org_id).await?;
    Ok(Mover {
        ledger_staff: caller.has_at(&i.owner_path, Role::Secretary),
        assignee: i.assignee_id == Some(caller.user_id),
        on_branch_ledger: owner.kind == OrgKind::Branch.as_str() && path_ids(&i.grid_path).len() >= 2,
    })
}

/// Staff of an incident: grid workers and above over its grid, or over the ledger holding it.
fn is_staff(caller: &Caller, i: &incidents::Model, min: Role) -> bool {
    caller.has_at(&i.grid_path, min) || caller.has_at(&i.owner_path, min)
}

/// Disputes are for staff and the people on them; other incidents also for members of
/// the grid's branch.
fn can_see(caller: &Caller, i: &incidents::Model) -> bool {
    let own = i.reporter_id == caller.user_id || i.assignee_id == Some(caller.user_id);
    if is_staff(caller, i, Role::GridWorker) || own {
        return true;
    }
    i.category != Category::Dispute.as_str() && caller.level_at(&i.grid_path).is_some()
}

async fn visible(state: &AppState, caller: &Caller, id: i64) -> Result<incidents::Model> {
    let incident = store::find_incident(&state.db, id).await?.ok_or(AppError::NotFound)?;
    if !can_see(caller, &incident) {
        return Err(AppError::NotFound);
    }
    Ok(incident)
}

async fn detail<C: sea_orm::ConnectionTrait>(
    state: &AppState,
    db: &C,
    incident: incidents::Model,
    mover: Mover,
) -> Result<IncidentDetail> {
    let mut timeline: Vec<_> = store::timeline(db, incident.id).await?.into_iter().map(timeline_entry).collect();
    let allowed_actions = allowed_actions(incident.status, mover);
    let mut incident = [view(incident)];
    fill(state, &mut incident, &mut timeline).await?;
    let [incident] = incident;
    Ok(IncidentDetail { incident, timeline, allowed_actions })
}

pub async fn get(state: &AppState, caller: &Caller, id: i64) -> Result<IncidentDetail> {
    let incident = visible(state, caller, id).await?;
    let mover = mover(state, caller, &incident).await?;
    detail(state, &state.db, incident, mover).await
}

/// Move an incident one step. With an `Idempotency-Key`, a retry answers the first move
/// again (not 409 `invalid_transition`).
pub async fn act(
    state: &AppState,
    caller: &Caller,
    id: i64,
    req: ActionRequest,
    key: Option<IdempotencyKey>,
) -> Result<idempotency::Response> {
    let claim = match idempotency::begin(&state.db, caller.user_id, key, &(id, &req)).await? {
        Begun::Replay(first) => return Ok(first),
        Begun::Go(claim) => claim,
    };
    let action = Action::parse(&req.action).ok_or_else(|| {
        AppError::field("action", "须为 accept、assign、start、resolve、close、escalate、reopen 或 reject")
    })?;
    let note = req.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
        return Err(AppError::field("note", "不超过 1000 字"));
    }
    if req.media_ids.len() > MAX_MEDIA {
        return Err(AppError::field("media_ids", format!("最多 {MAX_MEDIA} 张照片")));
    }
    let incident = visible(state, caller, id).await?;
    let mover = mover(state, caller, &incident).await?;
    let handler = matches!(action, Action::Start | Action::Resolve) && mover.assignee;
    if !(mover.ledger_staff || handler) {
        return Err(access::needs(Role::Secretary));
    }
    let from = incident.status;
    let to = match transition(from, action) {
        Some(to) if allowed_actions(from, mover).contains(&action) => to,
        _ => return Err(invalid_transition(from, mover)),
    };
    let mut extras = MoveExtras { closed: to == Status::Closed, ..Default::default() };
    let township;
    match action {
        Action::Assign => {
            let assignee = req.assignee_id.ok_or_else(|| AppError::field("assignee_id", "分派时须指定处置人"))?;
            let roles = access::load_caller(&state.db, assignee).await?.map(|c| c.roles).unwrap_or_default();
            let inside =
                roles.iter().any(|g| g.org_path.as_deref().is_some_and(|p| p.starts_with(&incident.owner_path)));
            if !inside {
                return Err(AppError::field("assignee_id", "处置人须在本台账所属组织内"));
            }
            extras.assignee_id = Some(assignee);
        }
        Action::Escalate => {
            // `allowed_actions` let it through: the ledger is a branch's, under a township.
            township = access::org(state, path_ids(&incident.grid_path)[1]).await?;
            extras.owner = Some(&township);
        }
        _ => {}
    }
    crate::media::service::check_owned(&state.db, caller.user_id, &req.media_ids).await?;
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    if !store::move_incident(&txn, incident.id, from, to, extras, now).await? {
        // Someone else moved it first: answer with the status it has now.
        drop(txn);
        let current = store::find_incident(&state.db, incident.id).await?.ok_or(AppError::NotFound)?;
        let mover = self::mover(state, caller, &current).await?;
        return Err(invalid_transition(current.status, mover));
    }
    store::insert_event(
        &txn,
        NewEvent {
            incident_id: incident.id,
            action: action.as_str(),
            from: Some(from),
            to,
            actor_id: caller.user_id,
            note,
            media_ids: &req.media_ids,
            at: now,
        },
    )
    .await?;
    let moved = store::find_incident(&txn, incident.id).await?.ok_or(AppError::NotFound)?;
    let mover = self::mover(state, caller, &moved).await?;
    let answer = idempotency::Response::json(200, &detail(state, &txn, moved, mover).await?)?;
    if let Some(first) = idempotency::finish(&txn, caller.user_id, &claim, &answer, now).await? {
        return Ok(first);
    }
    txn.commit().await?;
    Ok(answer)
}
