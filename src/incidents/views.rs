//! Incidents' wire shapes: what the API answers and what it reads, and the list query
//! turned into a filter.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use entity::{incident_events, incidents};

use super::domain::{number, parse_status, Action, Category, Severity, Sla, Status, StatusText};
use super::store::ListFilter;
use crate::error::{AppError, Result};
use crate::geo::CoordSystem;
use crate::media::service::{self as media, MediaView};
use crate::stars::Star;
use crate::state::AppState;

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
    /// GCJ-02, as `coord_system` says (a WGS-84 filing was converted).
    pub lat: f64,
    pub lng: f64,
    /// Always `gcj02`.
    pub coord_system: CoordSystem,
    pub address: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub media_ids: Vec<i64>,
    /// The photos of `media_ids`, in the same order, with freshly signed links.
    pub media: Vec<MediaView>,
    pub star: Option<Star>,
    pub status: Status,
    pub reporter_id: i64,
    pub reporter_name: String,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The deadline (SLA): from the county's rule for its category and severity, counted
    /// from filing (or from a reopening on the reporter's feedback), or as extended.
    pub due_at: Option<DateTime<Utc>>,
    /// For open incidents: `ok`, `warning` (in the last 25 % of the time allowed) or
    /// `overdue`; null once closed or rejected.
    pub sla: Option<Sla>,
    /// The deadline was extended (it can be once).
    pub extended: bool,
}

/// Where an open incident stands against its deadline at `now`; None once closed or
/// rejected (or filed before deadlines existed).
pub fn sla_of(m: &incidents::Model, now: DateTime<Utc>) -> Option<Sla> {
    match (m.status.is_open(), m.due_at, m.warn_at) {
        (true, Some(due), Some(warn)) => Some(Sla::at(now, warn, due)),
        _ => None,
    }
}

/// An incident as the API shows it, its deadline judged at `now`.
pub fn view(m: incidents::Model, now: DateTime<Utc>) -> IncidentView {
    let sla = sla_of(&m, now);
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
        coord_system: CoordSystem::Gcj02,
        address: m.address,
        occurred_at: m.occurred_at,
        media_ids: serde_json::from_value(m.media_ids).unwrap_or_default(),
        media: Vec::new(),
        star: m.star.as_deref().and_then(Star::parse),
        status: m.status,
        reporter_id: m.reporter_id,
        reporter_name: String::new(),
        assignee_id: m.assignee_id,
        assignee_name: None,
        created_at: m.created_at,
        updated_at: m.updated_at,
        closed_at: m.closed_at,
        due_at: m.due_at,
        sla,
        extended: m.extended,
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
    /// Null for moves made by the system (`auto_escalate`).
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub note: Option<String>,
    pub media_ids: Vec<i64>,
    /// The photos of `media_ids`, in the same order, with freshly signed links.
    pub media: Vec<MediaView>,
    pub at: DateTime<Utc>,
}

/// Names beside every person's id and photos beside every `media_ids`, for incidents and
/// timeline entries the caller may see: one batched lookup for each, whatever the count.
pub(super) async fn fill(
    state: &AppState,
    incidents: &mut [IncidentView],
    timeline: &mut [TimelineEntry],
) -> Result<()> {
    let people = incidents
        .iter()
        .flat_map(|i| std::iter::once(i.reporter_id).chain(i.assignee_id))
        .chain(timeline.iter().filter_map(|e| e.actor_id));
    let names = state.caches.names.lookup(&state.db, people).await?;
    let photos = media::photos(
        state,
        incidents
            .iter()
            .flat_map(|i| i.media_ids.iter())
            .chain(timeline.iter().flat_map(|e| e.media_ids.iter()))
            .copied(),
    )
    .await?;
    for i in incidents {
        i.reporter_name = names.of(i.reporter_id);
        i.assignee_name = names.of_opt(i.assignee_id);
        i.media = photos.of(&i.media_ids);
    }
    for e in timeline {
        e.actor_name = names.of_opt(e.actor_id);
        e.media = photos.of(&e.media_ids);
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: IncidentView,
    pub timeline: Vec<TimelineEntry>,
    /// What the caller may do with it now (`POST /incidents/{id}/actions`).
    pub allowed_actions: Vec<Action>,
}

pub(super) fn timeline_entry(e: incident_events::Model) -> TimelineEntry {
    TimelineEntry {
        action: e.action,
        from_status: e.from_status,
        to_status: e.to_status,
        actor_id: e.actor_id,
        actor_name: None,
        note: e.note,
        media_ids: serde_json::from_value(e.media_ids).unwrap_or_default(),
        media: Vec::new(),
        at: e.at,
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ActionRequest {
    #[schema(value_type = Action)]
    pub action: String,
    /// Up to 1000 characters.
    #[schema(max_length = 1000, pattern = r"^[^\x00]*$")]
    pub note: Option<String>,
    /// Required for `assign`: someone holding a role inside the incident's ledger org.
    pub assignee_id: Option<i64>,
    /// Required for `extend`: the new deadline (RFC 3339), later than the current one and
    /// at most a year away.
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub media_ids: Vec<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct IncidentQuery {
    /// Open incidents by their deadline: `ok`, `warning` or `overdue`.
    #[param(value_type = Option<Sla>)]
    pub sla: Option<String>,
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
    /// The filter, with `sla` judged at `now`.
    pub fn filter(&self, now: DateTime<Utc>) -> Result<ListFilter> {
        let mut fields = crate::error::FieldErrors::new();
        let sla = self.sla.as_deref().map(|s| Sla::parse(s).ok_or(s)).transpose();
        if sla.is_err() {
            fields.insert("sla".into(), "须为 ok、warning 或 overdue".into());
        }
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
            sla: sla.ok().flatten().map(|s| (s, now)),
            status: status.ok().flatten(),
            category: category.ok().flatten(),
            from: self.from,
            to: self.to,
        })
    }
}
