//! An org's ledger (台账) as staff and members see it: lists, and the numbers counties
//! report.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{parse_status, Category, Sla, Status, StatusText, STATUSES};
use super::store::{self, Visibility};
use super::views::{fill, view, IncidentQuery, IncidentView};
use crate::access;
use crate::access::{Caller, Role};
use crate::error::Result;
use crate::pagination::{Page, PageRequest};
use crate::state::AppState;

/// The caller's view of an org's ledger: 404 outside their reach; 403 unless they hold
/// `min` or above at the org, above it, or inside it.
async fn visibility(state: &AppState, caller: &Caller, org_id: i64, min: Role) -> Result<Visibility> {
    let org = access::reachable(state, caller, org_id).await?;
    if !caller.has_at(&org.path, min) && !caller.scope(min).contains(&org.path) {
        return Err(access::needs(min));
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
    let filter = q.filter(state.clock.now())?;
    let vis = visibility(state, caller, org_id, Role::Resident).await?;
    let rows = store::list(&state.db, &vis, &filter, page.after, page.limit + 1).await?;
    let now = state.clock.now();
    let mut page = Page::from_rows(rows, page, |r| r.id, |m| view(m, now));
    fill(state, &mut page.items, &mut []).await?;
    Ok(page)
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
    /// The open incidents among them by where they stand against their deadline now:
    /// `ok`, `warning`, `overdue` (with zeros).
    #[schema(value_type = Object)]
    pub by_sla: BTreeMap<String, u64>,
}

/// Counts for incidents filed in the period, for staff (grid worker and above) of the org.
pub async fn stats(state: &AppState, caller: &Caller, org_id: i64, q: &IncidentQuery) -> Result<StatsView> {
    let filter = q.filter(state.clock.now())?;
    let vis = staff_visibility(state, caller, org_id).await?;
    let rows = store::stats_rows(&state.db, &vis, &filter).await?;
    let mut by_category: BTreeMap<String, u64> = Category::ALL.iter().map(|c| (c.as_str().to_owned(), 0)).collect();
    let mut by_status: BTreeMap<String, u64> = STATUSES.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    let mut hours = Vec::new();
    let now = state.clock.now();
    let mut by_sla: BTreeMap<String, u64> =
        [Sla::Ok, Sla::Warning, Sla::Overdue].iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    for (category, status, created_at, closed_at, due_at, warn_at) in &rows {
        let open = parse_status(status).is_some_and(|s| s.is_open());
        if let (true, Some(due), Some(warn)) = (open, due_at, warn_at) {
            *by_sla.entry(Sla::at(now, *warn, *due).as_str().to_owned()).or_default() += 1;
        }
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
        by_sla,
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
