//! The rules of incident reports: idempotent filing (the key, the request's hash and the
//! response are stored in the filing's transaction), possible duplicates nearby, the
//! workflow with a timeline row per move, who sees what, and the numbers counties report.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use entity::{incident_events, incidents, orgs};
use sea_orm::DatabaseTransaction;

use super::domain::{
    bounding_box, distance_m, number, parse_status, transition, Action, Category, IncidentSpec, NewIncidentRequest,
    Severity, Status, StatusText, DUPLICATE_RADIUS_M, DUPLICATE_WINDOW, MAX_MEDIA, STATUSES,
};
use super::store::{self, ListFilter, MoveExtras, NewEvent, Visibility};
use crate::access;
use crate::access::{Caller, OrgKind, Role};
use crate::error::{AppError, ErrorCode, Result};
use crate::idempotency::{self, IdempotencyKey};
use crate::infra::db::begin_write;
use crate::infra::group_commit::Finish;
use crate::pagination::{Page, PageRequest};
use crate::points::boards::path_ids;
use crate::stars::Star;
use crate::state::AppState;

const INVALID_TRANSITION: AppError =
    AppError::Conflict { code: ErrorCode::InvalidTransition, message: "当前状态下不能执行这个操作" };

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentView {
    pub id: i64,
    /// Human-readable, e.g. `NH-2026-000123`.
    pub number: String,
    pub grid_id: i64,
    /// The org whose ledger holds it: the grid's branch, or its township once escalated.
    pub owner_org_id: i64,
    pub category: Category,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub lat: f64,
    pub lng: f64,
    pub address: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub media_ids: Vec<i64>,
    pub star: Option<Star>,
    pub status: Status,
    pub reporter_id: i64,
    pub assignee_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

pub fn view(m: incidents::Model) -> IncidentView {
    IncidentView {
        id: m.id,
        number: number(m.id, m.created_at),
        grid_id: m.grid_id,
        owner_org_id: m.owner_org_id,
        category: Category::parse(&m.category).unwrap_or(Category::Other),
        title: m.title,
        description: m.description,
        severity: Severity::parse(&m.severity).unwrap_or(Severity::Low),
        lat: m.lat,
        lng: m.lng,
        address: m.address,
        occurred_at: m.occurred_at,
        media_ids: serde_json::from_value(m.media_ids).unwrap_or_default(),
        star: m.star.as_deref().and_then(Star::parse),
        status: m.status,
        reporter_id: m.reporter_id,
        assignee_id: m.assignee_id,
        created_at: m.created_at,
        updated_at: m.updated_at,
        closed_at: m.closed_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Duplicate {
    pub id: i64,
    pub number: String,
    /// Metres, rounded to one decimal.
    pub distance_m: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FiledView {
    #[serde(flatten)]
    pub incident: IncidentView,
    /// Open incidents of the same category within 100 m filed in the last 72 h, nearest first.
    pub possible_duplicates: Vec<Duplicate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub action: String,
    pub from_status: Option<Status>,
    pub to_status: Status,
    pub actor_id: i64,
    pub note: Option<String>,
    pub media_ids: Vec<i64>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: IncidentView,
    pub timeline: Vec<TimelineEntry>,
}

fn timeline_entry(e: incident_events::Model) -> TimelineEntry {
    TimelineEntry {
        action: e.action,
        from_status: e.from_status,
        to_status: e.to_status,
        actor_id: e.actor_id,
        note: e.note,
        media_ids: serde_json::from_value(e.media_ids).unwrap_or_default(),
        at: e.at,
    }
}

pub async fn file(
    state: &AppState,
    caller: &Caller,
    key: Option<IdempotencyKey>,
    req: NewIncidentRequest,
) -> Result<idempotency::Response> {
    let key = key.ok_or(AppError::bad_request(ErrorCode::IdempotencyKeyRequired, "请提供 Idempotency-Key 请求头"))?;
    let hash = idempotency::request_hash(&req);
    if let Some(first) = idempotency::replay_of(&state.db, caller.user_id, &key, &hash).await? {
        return Ok(first);
    }
    let now = state.clock.now();
    let spec = IncidentSpec::parse(&req, now).map_err(AppError::Validation)?;
    let grid = match access::org(state, spec.grid_id).await {
        Err(AppError::NotFound) => return Err(AppError::field("grid_id", "网格不存在")),
        other => other?,
    };
    if grid.kind != OrgKind::Grid.as_str() {
        return Err(AppError::field("grid_id", "须为网格"));
    }
    access::require(caller, &grid, Role::GridWorker)?;
    let branch = access::org(state, grid.parent_id.ok_or(AppError::NotFound)?).await?;
    crate::media::service::check_owned(&state.db, caller.user_id, &spec.media_ids).await?;

    // Possible duplicates are advisory: read from what is committed, before the writer's turn.
    let bbox = bounding_box(spec.lat, spec.lng, DUPLICATE_RADIUS_M);
    let nearby = store::nearby(&state.db, spec.category, bbox, now - DUPLICATE_WINDOW).await?;

    let job = Filing { spec, grid, branch, reporter_id: caller.user_id, key, hash, nearby, now };
    state.group_commit.run(move |txn| Box::pin(file_in(txn, job))).await
}

/// What a filing writes, given by value to the writer.
struct Filing {
    spec: IncidentSpec,
    grid: orgs::Model,
    branch: orgs::Model,
    reporter_id: i64,
    key: IdempotencyKey,
    hash: String,
    /// Open incidents nearby, read before the writer's turn.
    nearby: Vec<(i64, DateTime<Utc>, f64, f64)>,
    now: DateTime<Utc>,
}

/// The SQL half of a filing: the incident, its first timeline row and, last, the key with
/// the response. If another filing with this key got there first (committed by now, or
/// earlier in this group commit), this one rolls back and answers as that one did.
async fn file_in(txn: &DatabaseTransaction, job: Filing) -> Result<Finish<idempotency::Response>> {
    let Filing { spec, grid, branch, reporter_id, key, hash, nearby, now } = job;
    let incident = store::insert_incident(txn, &spec, &grid, &branch, reporter_id, now).await?;
    store::insert_event(
        txn,
        NewEvent {
            incident_id: incident.id,
            action: "report",
            from: None,
            to: Status::Reported,
            actor_id: reporter_id,
            note: None,
            media_ids: &spec.media_ids,
            at: now,
        },
    )
    .await?;
    let mut duplicates: Vec<Duplicate> = nearby
        .into_iter()
        .filter(|(id, ..)| *id != incident.id)
        .map(|(id, created_at, lat, lng)| (id, created_at, distance_m(spec.lat, spec.lng, lat, lng)))
        .filter(|(.., d)| *d <= DUPLICATE_RADIUS_M)
        .map(|(id, created_at, d)| Duplicate {
            id,
            number: number(id, created_at),
            distance_m: (d * 10.0).round() / 10.0,
        })
        .collect();
    duplicates.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then(a.id.cmp(&b.id)));
    let filed = FiledView { incident: view(incident), possible_duplicates: duplicates };
    let answer = idempotency::Response::fresh(201, serde_json::to_string(&filed).map_err(anyhow::Error::from)?);
    match idempotency::record(txn, reporter_id, &key, &hash, &answer, now).await? {
        None => Ok(Finish::Commit(answer)),
        Some(first) => Ok(Finish::Discard(first)),
    }
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

async fn detail<C: sea_orm::ConnectionTrait>(db: &C, incident: incidents::Model) -> Result<IncidentDetail> {
    let timeline = store::timeline(db, incident.id).await?.into_iter().map(timeline_entry).collect();
    Ok(IncidentDetail { incident: view(incident), timeline })
}

pub async fn get(state: &AppState, caller: &Caller, id: i64) -> Result<IncidentDetail> {
    let incident = visible(state, caller, id).await?;
    detail(&state.db, incident).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActionRequest {
    #[schema(value_type = Action)]
    pub action: String,
    /// Up to 1000 characters.
    #[schema(max_length = 1000, pattern = r"^[^\x00]*$")]
    pub note: Option<String>,
    /// Required for `assign`: someone holding a role inside the incident's ledger org.
    pub assignee_id: Option<i64>,
    #[serde(default)]
    pub media_ids: Vec<i64>,
}

pub async fn act(state: &AppState, caller: &Caller, id: i64, req: ActionRequest) -> Result<IncidentDetail> {
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
    let handler = matches!(action, Action::Start | Action::Resolve) && incident.assignee_id == Some(caller.user_id);
    if !(caller.has_at(&incident.owner_path, Role::Secretary) || handler) {
        return Err(AppError::Forbidden);
    }
    let from = incident.status;
    let to = transition(from, action).ok_or(INVALID_TRANSITION)?;
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
            let ids = path_ids(&incident.grid_path);
            let owner = access::org(state, incident.owner_org_id).await?;
            if owner.kind != OrgKind::Branch.as_str() || ids.len() < 2 {
                return Err(INVALID_TRANSITION);
            }
            township = access::org(state, ids[1]).await?;
            extras.owner = Some(&township);
        }
        _ => {}
    }
    crate::media::service::check_owned(&state.db, caller.user_id, &req.media_ids).await?;
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    if !store::move_incident(&txn, incident.id, from, to, extras, now).await? {
        return Err(INVALID_TRANSITION);
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
    let out = detail(&txn, moved).await?;
    txn.commit().await?;
    Ok(out)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct IncidentQuery {
    #[param(value_type = Option<Status>)]
    pub status: Option<String>,
    #[param(value_type = Option<Category>)]
    pub category: Option<String>,
    /// Filed at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Filed before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// Export only: `xlsx` (default) or `csv`.
    #[param(pattern = "^(xlsx|csv)$")]
    pub format: Option<String>,
}

impl IncidentQuery {
    pub fn filter(&self) -> Result<ListFilter> {
        let mut fields = crate::error::FieldErrors::new();
        let status = self.status.as_deref().map(|s| parse_status(s).ok_or(s)).transpose();
        if status.is_err() {
            fields.insert("status".into(), "未知的状态".into());
        }
        let category = self.category.as_deref().map(|c| Category::parse(c).ok_or(c)).transpose();
        if category.is_err() {
            fields.insert("category".into(), "未知的类别".into());
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from >= to {
                fields.insert("to".into(), "结束时间须晚于开始时间".into());
            }
        }
        if !fields.is_empty() {
            return Err(AppError::Validation(fields));
        }
        Ok(ListFilter {
            status: status.ok().flatten(),
            category: category.ok().flatten(),
            from: self.from,
            to: self.to,
        })
    }
}

/// The caller's view of an org's ledger: 404 outside their reach; 403 unless they hold
/// `min` or above at the org, above it, or inside it.
async fn visibility(state: &AppState, caller: &Caller, org_id: i64, min: Role) -> Result<Visibility> {
    let org = access::reachable(state, caller, org_id).await?;
    if !caller.has_at(&org.path, min) && !caller.scope(min).contains(&org.path) {
        return Err(AppError::Forbidden);
    }
    Ok(Visibility {
        org_path: org.path,
        any_role: caller.scope(Role::Resident),
        staff: caller.scope(Role::GridWorker),
        user_id: caller.user_id,
    })
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    org_id: i64,
    q: &IncidentQuery,
    page: PageRequest,
) -> Result<Page<IncidentView>> {
    let filter = q.filter()?;
    let vis = visibility(state, caller, org_id, Role::Resident).await?;
    let rows = store::list(&state.db, &vis, &filter, page.after, page.limit + 1).await?;
    Ok(Page::from_rows(rows, page, |r| r.id, view))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub total: u64,
    /// Every category, with zeros.
    #[schema(value_type = Object)]
    pub by_category: BTreeMap<String, u64>,
    /// Every status, with zeros.
    #[schema(value_type = Object)]
    pub by_status: BTreeMap<String, u64>,
    pub closed: u64,
    /// closed / total, 0 when nothing was filed.
    pub closure_rate: f64,
    /// Median of (closed_at − filed) over closed incidents, in hours; null when none closed.
    pub median_hours_to_close: Option<f64>,
}

/// Counts for incidents filed in the period, for staff (grid worker and above) of the org.
pub async fn stats(state: &AppState, caller: &Caller, org_id: i64, q: &IncidentQuery) -> Result<StatsView> {
    let filter = q.filter()?;
    let vis = staff_visibility(state, caller, org_id).await?;
    let rows = store::stats_rows(&state.db, &vis, &filter).await?;
    let mut by_category: BTreeMap<String, u64> = Category::ALL.iter().map(|c| (c.as_str().to_owned(), 0)).collect();
    let mut by_status: BTreeMap<String, u64> = STATUSES.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    let mut hours = Vec::new();
    for (category, status, created_at, closed_at) in &rows {
        *by_category.entry(category.clone()).or_default() += 1;
        *by_status.entry(status.clone()).or_default() += 1;
        if status == Status::Closed.as_str() {
            if let Some(closed_at) = closed_at {
                hours.push((*closed_at - *created_at).num_seconds() as f64 / 3600.0);
            }
        }
    }
    let total = rows.len() as u64;
    let closed = by_status.get(Status::Closed.as_str()).copied().unwrap_or(0);
    Ok(StatsView {
        from: filter.from,
        to: filter.to,
        total,
        by_category,
        by_status,
        closed,
        closure_rate: if total == 0 { 0.0 } else { (closed as f64 / total as f64 * 10_000.0).round() / 10_000.0 },
        median_hours_to_close: median(&mut hours).map(|h| (h * 100.0).round() / 100.0),
    })
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] })
}

/// Stats and exports are for staff: grid workers and above over the org.
pub async fn staff_visibility(state: &AppState, caller: &Caller, org_id: i64) -> Result<Visibility> {
    visibility(state, caller, org_id, Role::GridWorker).await
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
