//! A branch's star view: each star with its indicators measured or evidenced for the year,
//! and the branch's rating.
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::domain::county_of;
use super::domain::{IndicatorKind, Metric};
use super::indicators::year_or_now;
use super::{applications, metrics, store, Star};
use crate::access::{self, Caller, OrgKind};
use crate::error::{AppError, Result};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct YearQuery {
    /// Default: this year (Asia/Shanghai).
    #[param(minimum = 2020, maximum = 2100)]
    pub year: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorResult {
    pub code: String,
    pub title: String,
    /// `auto` or `evidence`.
    pub kind: String,
    /// The measured value (`auto` only).
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    /// `auto`: the value reaches the threshold (`incidents_overdue`: at most it);
    /// `evidence`: evidence is attached to the year's live application.
    pub met: bool,
    pub evidence_count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StarResult {
    pub star: Star,
    pub indicators: Vec<IndicatorResult>,
    /// Every indicator of the star is met (and it has at least one).
    pub met: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StarView {
    pub year: i32,
    pub branch_id: i64,
    /// The stars awarded for the year (and not revoked).
    pub rating: Vec<Star>,
    pub stars: Vec<StarResult>,
}

/// A branch's star view (anyone whose roles reach the branch).
pub async fn branch_view(state: &AppState, caller: &Caller, branch_id: i64, q: &YearQuery) -> Result<StarView> {
    let branch = access::reachable(state, caller, branch_id).await?;
    if branch.kind != OrgKind::Branch.as_str() {
        return Err(AppError::field("branch_id", "须为支部"));
    }
    let now = state.clock.now();
    let year = year_or_now(q.year, now)?;
    let county =
        county_of(&branch.path).ok_or_else(|| anyhow::anyhow!("a branch without a county: {}", branch.path))?;
    let indicators = store::all_indicators(&state.db, county, year).await?;
    let values = metrics::measure(&state.db, &[branch.id], year, now).await?;
    let evidence = applications::evidence_counts(&state.db, branch.id, year).await?;
    let stars = Star::ALL
        .into_iter()
        .map(|star| {
            let results: Vec<IndicatorResult> = indicators
                .iter()
                .filter(|i| i.star == star.as_str())
                .map(|i| {
                    let metric = i.metric.as_deref().and_then(Metric::parse);
                    let auto = IndicatorKind::parse(&i.kind) == Some(IndicatorKind::Auto);
                    let value = metric.filter(|_| auto).and_then(|m| values.get(&(branch.id, m)).copied());
                    let evidence_count = evidence.get(&i.code).copied().unwrap_or(0);
                    let met = match (metric, value, i.threshold) {
                        (Some(m), Some(v), Some(t)) if auto => m.met(v, t),
                        _ => !auto && evidence_count > 0,
                    };
                    IndicatorResult {
                        code: i.code.clone(),
                        title: i.title.clone(),
                        kind: i.kind.clone(),
                        value,
                        threshold: i.threshold,
                        met,
                        evidence_count,
                    }
                })
                .collect();
            let met = !results.is_empty() && results.iter().all(|r| r.met);
            StarResult { star, indicators: results, met }
        })
        .collect();
    let rating = applications::rating(&state.db, branch.id, year).await?;
    Ok(StarView { year, branch_id: branch.id, rating, stars })
}
