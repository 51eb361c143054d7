//! The rating's summary for a township or a county: branches by number of stars, the share
//! with three or more (三星以上支部占比), branches per star, applications by status, and the
//! same share for each child org. Three queries whatever the number of branches.
use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;

use entity::{star_applications, star_ratings};

use super::domain::Status;
use super::indicators::year_or_now;
use super::view::YearQuery;
use super::Star;
use crate::access::{self, Caller, OrgKind, Role};
use crate::error::{AppError, Result};
use crate::orgs::service as orgs;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ChildSummary {
    pub org_id: i64,
    pub name: String,
    pub branches: u64,
    /// Branches with three stars or more, over its branches (0 without branches).
    pub three_plus_share: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StarSummary {
    pub year: i32,
    pub org_id: i64,
    pub branches: u64,
    /// Branches by the number of stars they hold ("0" to "5"), every key present.
    #[schema(value_type = Object)]
    pub by_count: BTreeMap<String, u64>,
    /// Branches with three stars or more, over all branches (0 without branches).
    pub three_plus_share: f64,
    /// Branches holding each star, every star present.
    #[schema(value_type = Object)]
    pub by_star: BTreeMap<String, u64>,
    /// Applications of the year by status, every status present.
    #[schema(value_type = Object)]
    pub applications: BTreeMap<String, u64>,
    /// The same for each child org (a county's townships, a township's branches).
    pub children: Vec<ChildSummary>,
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The id of the child of `parent_path` that `path` lies under.
fn child_of(parent_path: &str, path: &str) -> Option<i64> {
    path.strip_prefix(parent_path)?.split('/').next()?.parse().ok()
}

/// Staff over a township or a county (township_admin or above).
pub async fn summary(state: &AppState, caller: &Caller, org_id: i64, q: &YearQuery) -> Result<StarSummary> {
    let org = access::reachable(state, caller, org_id).await?;
    if org.kind != OrgKind::Township.as_str() && org.kind != OrgKind::County.as_str() {
        return Err(AppError::field("org_id", "须为乡镇或县（区）"));
    }
    access::authorize(caller, &org, Role::TownshipAdmin)?;
    let year = year_or_now(q.year, state.clock.now())?;
    let branches = orgs::branch_paths_under(&state.db, &org.path).await?;
    let ids: Vec<i64> = branches.iter().map(|(id, _)| *id).collect();
    let ratings: Vec<(i64, String)> = star_ratings::Entity::find()
        .select_only()
        .columns([star_ratings::Column::BranchId, star_ratings::Column::Star])
        .filter(star_ratings::Column::Year.eq(year))
        .filter(star_ratings::Column::RevokedAt.is_null())
        .filter(star_ratings::Column::BranchId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(&state.db)
        .await?;
    let statuses: Vec<String> = star_applications::Entity::find()
        .select_only()
        .column(star_applications::Column::Status)
        .filter(star_applications::Column::Year.eq(year))
        .filter(star_applications::Column::BranchId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut stars_of: BTreeMap<i64, u64> = BTreeMap::new();
    let mut by_star: BTreeMap<String, u64> = Star::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    for (branch, star) in &ratings {
        *stars_of.entry(*branch).or_default() += 1;
        if let Some(n) = by_star.get_mut(star) {
            *n += 1;
        }
    }
    let mut by_count: BTreeMap<String, u64> = (0..=5).map(|n| (n.to_string(), 0)).collect();
    let mut children: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for (id, path) in &branches {
        let n = stars_of.get(id).copied().unwrap_or(0).min(5);
        *by_count.entry(n.to_string()).or_default() += 1;
        if let Some(child) = child_of(&org.path, path) {
            let entry = children.entry(child).or_default();
            entry.0 += 1;
            entry.1 += u64::from(n >= 3);
        }
    }
    let mut applications: BTreeMap<String, u64> = Status::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    for status in statuses {
        *applications.entry(status).or_default() += 1;
    }
    let total = branches.len() as u64;
    let three_plus = (3..=5).map(|n| by_count[&n.to_string()]).sum();
    let mut child_views = Vec::new();
    for (child, (n, three)) in children {
        let name = access::org(state, child).await.map_or_else(|_| child.to_string(), |o| o.name);
        child_views.push(ChildSummary { org_id: child, name, branches: n, three_plus_share: share(three, n) });
    }
    Ok(StarSummary {
        year,
        org_id: org.id,
        branches: total,
        by_count,
        three_plus_share: share(three_plus, total),
        by_star,
        applications,
        children: child_views,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_branch_falls_under_the_child_its_path_passes_through() {
        assert_eq!(child_of("/1/", "/1/7/42/"), Some(7));
        assert_eq!(child_of("/1/7/", "/1/7/42/"), Some(42));
        assert_eq!(child_of("/2/", "/1/7/42/"), None);
        assert_eq!(share(1, 3), 1.0 / 3.0);
        assert_eq!(share(0, 0), 0.0);
    }
}
