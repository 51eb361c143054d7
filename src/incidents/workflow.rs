//! The workflow on the ledger: who sees an incident, and each move with its timeline row,
//! conditional on the status read so two handlers cannot both move it.

use entity::incidents;

use chrono::{DateTime, Duration, Utc};

use super::domain::{
    allowed_actions, number, transition, warn_at, Action, Category, Mover, Severity, Status, StatusText,
    FEEDBACK_WINDOW, MAX_MEDIA,
};
use super::sla;
use super::store::{self, MoveExtras, NewEvent};
use super::views::{fill, timeline_entry, view, ActionRequest, IncidentDetail};
use crate::access;
use crate::access::{Caller, OrgKind, Role};
use crate::error::{AppError, ErrorCode, Named, Result};
use crate::idempotency::{self, Begun, IdempotencyKey};
use crate::infra::db::{begin_write, WriteTxn};
use crate::notify::{self, domain::Event, Notice};
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
    let now = state.clock.now();
    let mut allowed_actions = allowed_actions(incident.status, mover);
    if mover.ledger_staff && extendable(&incident, now) {
        allowed_actions.push(Action::Extend);
    }
    let mut incident = [view(incident, now)];
    fill(state, &mut incident, &mut timeline).await?;
    let [incident] = incident;
    Ok(IncidentDetail { incident, timeline, allowed_actions })
}

pub async fn get(state: &AppState, caller: &Caller, id: i64) -> Result<IncidentDetail> {
    let incident = visible(state, caller, id).await?;
    let mover = mover(state, caller, &incident).await?;
    detail(state, &state.db, incident, mover).await
}

/// Whether the deadline may still be moved: open, not extended yet, not passed.
fn extendable(i: &incidents::Model, now: DateTime<Utc>) -> bool {
    i.status.is_open() && !i.extended && i.due_at.is_some_and(|due| due > now)
}

const EXTENSION_REFUSED: AppError =
    AppError::Conflict { code: ErrorCode::ExtensionRefused, message: "期限只能在到期前延长一次" };

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
        AppError::field("action", "须为 accept、assign、start、resolve、close、escalate、reopen、reject 或 extend")
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
    if action == Action::Extend {
        return extend(state, caller, incident, mover, req.due_at, note, claim).await;
    }
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
    let extras_assignee = extras.assignee_id;
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
            actor_id: Some(caller.user_id),
            note,
            media_ids: &req.media_ids,
            at: now,
        },
    )
    .await?;
    if let (Action::Assign, Some(assignee)) = (action, extras_assignee) {
        let body = format!("{}「{}」已分派给您处置", number(incident.id, incident.created_at), incident.title);
        notify::push(
            &txn,
            &state.wechat,
            [assignee],
            &Notice {
                event: Event::IncidentAssigned,
                title: "您有新的事件待处置",
                body: &body,
                r#ref: format!("incident:{}", incident.id),
                at: now,
            },
        )
        .await?;
    }
    answer_and_commit(state, caller, txn, incident.id, &claim, now).await
}

/// The end of a move: the incident as it is now, recorded as the key's answer, and the
/// transaction committed (or the answer a racing request with the same key recorded first).
async fn answer_and_commit(
    state: &AppState,
    caller: &Caller,
    txn: WriteTxn,
    id: i64,
    claim: &Option<idempotency::Claim>,
    now: DateTime<Utc>,
) -> Result<idempotency::Response> {
    let moved = store::find_incident(&txn, id).await?.ok_or(AppError::NotFound)?;
    let mover = self::mover(state, caller, &moved).await?;
    let answer = idempotency::Response::json(200, &detail(state, &txn, moved, mover).await?)?;
    if let Some(first) = idempotency::finish(&txn, caller.user_id, claim, &answer, now).await? {
        return Ok(first);
    }
    txn.commit().await?;
    Ok(answer)
}

/// `extend`: the ledger's secretary (or above) moves the deadline later, once, before it
/// passes; a second extension or one after the deadline is 409 `extension_refused`.
async fn extend(
    state: &AppState,
    caller: &Caller,
    incident: incidents::Model,
    mover: Mover,
    due_at: Option<DateTime<Utc>>,
    note: Option<String>,
    claim: Option<idempotency::Claim>,
) -> Result<idempotency::Response> {
    if !mover.ledger_staff {
        return Err(access::needs(Role::Secretary));
    }
    let now = state.clock.now();
    let mut fields = crate::error::FieldErrors::new();
    if note.is_none() {
        fields.insert("note".into(), "延期须说明理由".into());
    }
    let new_due = match due_at {
        None => {
            fields.insert("due_at".into(), "延期须给出新的期限（RFC 3339，带时区）".into());
            None
        }
        Some(d) if d > now + Duration::days(365) => {
            fields.insert("due_at".into(), "新的期限不能晚于一年后".into());
            None
        }
        Some(d) => Some(d),
    };
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    let Some(new_due) = new_due else { return Err(AppError::field("due_at", "须给出新的期限")) };
    if !extendable(&incident, now) {
        return Err(EXTENSION_REFUSED);
    }
    let current = incident.due_at.unwrap_or(now);
    if new_due <= current {
        return Err(AppError::field("due_at", "新的期限须晚于当前期限"));
    }
    let txn = begin_write(&state.writer).await?;
    if !store::extend_deadline(&txn, incident.id, current, new_due, warn_at(incident.created_at, new_due), now).await? {
        return Err(EXTENSION_REFUSED);
    }
    let at = new_due.with_timezone(&crate::clock::shanghai()).format("%Y-%m-%d %H:%M");
    store::insert_event(
        &txn,
        NewEvent {
            incident_id: incident.id,
            action: Action::Extend.as_str(),
            from: Some(incident.status),
            to: incident.status,
            actor_id: Some(caller.user_id),
            note: Some(format!("期限延至 {at}：{}", note.unwrap_or_default())),
            media_ids: &[],
            at: now,
        },
    )
    .await?;
    answer_and_commit(state, caller, txn, incident.id, &claim, now).await
}

/// `POST /incidents/{id}/feedback`: the reporter's word after closing (回访).
#[derive(Debug, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct FeedbackRequest {
    /// `false` reopens the incident (`reopened` → `in_progress`, same assignee, a new
    /// deadline from now).
    pub satisfied: bool,
    /// Up to 1000 characters.
    #[schema(max_length = 1000, pattern = r"^[^\x00]*$")]
    pub note: Option<String>,
}

const FEEDBACK_REFUSED_NOT_CLOSED: AppError =
    AppError::Conflict { code: ErrorCode::FeedbackRefused, message: "事件尚未销号，不能回访" };
const FEEDBACK_REFUSED_LATE: AppError =
    AppError::Conflict { code: ErrorCode::FeedbackRefused, message: "已超过销号后 7 天的回访期限" };
const FEEDBACK_REFUSED_GIVEN: AppError =
    AppError::Conflict { code: ErrorCode::FeedbackRefused, message: "本次销号已回访过" };

/// The reporter says whether they are satisfied, once per closing, within 7 days of it.
pub async fn feedback(state: &AppState, caller: &Caller, id: i64, req: FeedbackRequest) -> Result<IncidentDetail> {
    let note = req.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
        return Err(AppError::field("note", "不超过 1000 字"));
    }
    let incident = visible(state, caller, id).await?;
    if incident.reporter_id != caller.user_id {
        return Err(AppError::Forbidden {
            code: ErrorCode::Forbidden,
            message: "只有上报人可以回访".into(),
            required_role: None,
        });
    }
    let now = state.clock.now();
    let closed_at = match (incident.status, incident.closed_at) {
        (Status::Closed, Some(at)) => at,
        _ => return Err(FEEDBACK_REFUSED_NOT_CLOSED),
    };
    if now > closed_at + FEEDBACK_WINDOW {
        return Err(FEEDBACK_REFUSED_LATE);
    }
    if store::feedback_since(&state.db, incident.id, closed_at).await? {
        return Err(FEEDBACK_REFUSED_GIVEN);
    }
    let deadline = if req.satisfied {
        None
    } else {
        let county = sla::county_of(&incident.grid_path).ok_or(AppError::NotFound)?;
        let category = Category::parse(&incident.category).unwrap_or(Category::Other);
        let severity = Severity::parse(&incident.severity).unwrap_or(Severity::Low);
        Some(sla::book(state, county).await?.deadline(category, severity, now))
    };
    let txn = begin_write(&state.writer).await?;
    // The closing it answers must still stand. Touching the row holds it (PostgreSQL), so a
    // second feedback racing this one waits, then finds this one's row or the reopening.
    if !store::touch_closed(&txn, incident.id, closed_at, now).await? {
        return Err(FEEDBACK_REFUSED_NOT_CLOSED);
    }
    if store::feedback_since(&txn, incident.id, closed_at).await? {
        return Err(FEEDBACK_REFUSED_GIVEN);
    }
    let word = if req.satisfied { "满意" } else { "不满意" };
    store::insert_event(
        &txn,
        NewEvent {
            incident_id: incident.id,
            action: "feedback",
            from: Some(Status::Closed),
            to: Status::Closed,
            actor_id: Some(caller.user_id),
            note: Some(match &note {
                Some(n) => format!("{word}：{n}"),
                None => word.to_owned(),
            }),
            media_ids: &[],
            at: now,
        },
    )
    .await?;
    if let Some(deadline) = deadline {
        if !store::reopen_closed(&txn, incident.id, closed_at, deadline, now).await? {
            drop(txn);
            let current = store::find_incident(&state.db, incident.id).await?.ok_or(AppError::NotFound)?;
            let mover = self::mover(state, caller, &current).await?;
            return Err(invalid_transition(current.status, mover));
        }
        store::insert_event(
            &txn,
            NewEvent {
                incident_id: incident.id,
                action: Action::Reopen.as_str(),
                from: Some(Status::Closed),
                to: Status::InProgress,
                actor_id: Some(caller.user_id),
                note: Some("上报人回访不满意，重新处置".into()),
                media_ids: &[],
                at: now,
            },
        )
        .await?;
    }
    let moved = store::find_incident(&txn, incident.id).await?.ok_or(AppError::NotFound)?;
    let mover = self::mover(state, caller, &moved).await?;
    let answer = detail(state, &txn, moved, mover).await?;
    txn.commit().await?;
    Ok(answer)
}
