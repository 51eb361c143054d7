//! A county's indicators per year: the built-in set copied, and its own added by its admins.
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use entity::{orgs, star_indicators};

use super::domain::{IndicatorKind, Metric, DEFAULT_INDICATORS};
use super::store::{self, NewIndicator};
use super::{Star, STAR_INVALID};
use crate::access::{self, Caller, OrgKind, Role};
use crate::audit::{self, AuditEntry};
use crate::clock::shanghai;
use crate::error::{AppError, ErrorCode, FieldErrors, Result};
use crate::infra::db::begin_write;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

/// Years a rating may concern.
const YEARS: std::ops::RangeInclusive<i32> = 2020..=2100;

/// A year asked for, or this one (Asia/Shanghai): 422 naming `year` outside `YEARS`.
pub fn year_or_now(year: Option<i32>, now: DateTime<Utc>) -> Result<i32> {
    let year = year.unwrap_or_else(|| year_of(now));
    let mut fields = FieldErrors::new();
    check_year(year, &mut fields);
    if fields.is_empty() {
        Ok(year)
    } else {
        Err(AppError::Validation(fields))
    }
}

/// The year (Asia/Shanghai) a moment falls in.
pub fn year_of(at: DateTime<Utc>) -> i32 {
    at.with_timezone(&shanghai()).year()
}

/// The one check of a rating year, for every star endpoint.
pub fn check_year(year: i32, fields: &mut FieldErrors) {
    if !YEARS.contains(&year) {
        fields.insert("year".into(), format!("须在 {} 到 {} 之间", YEARS.start(), YEARS.end()));
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorView {
    pub id: i64,
    pub county_id: i64,
    pub year: i32,
    pub star: Star,
    pub code: String,
    pub title: String,
    /// `auto` (measured by `metric` against `threshold`) or `evidence`.
    pub kind: String,
    pub metric: Option<String>,
    pub threshold: Option<f64>,
}

impl From<star_indicators::Model> for IndicatorView {
    fn from(m: star_indicators::Model) -> Self {
        IndicatorView {
            id: m.id,
            county_id: m.county_id,
            year: m.year,
            star: Star::parse(&m.star).unwrap_or(Star::StrongBranch),
            code: m.code,
            title: m.title,
            kind: m.kind,
            metric: m.metric,
            threshold: m.threshold,
        }
    }
}

/// A county the caller reaches (404 otherwise), checked to be a county (422).
async fn county(state: &AppState, caller: &Caller, id: i64) -> Result<orgs::Model> {
    let org = access::reachable(state, caller, id).await?;
    if org.kind != OrgKind::County.as_str() {
        return Err(AppError::field("county_id", "指标按县（区）设置，须为县（区）"));
    }
    Ok(org)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct IndicatorQuery {
    /// Default: this year (Asia/Shanghai).
    #[param(minimum = 2020, maximum = 2100)]
    pub year: Option<i32>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// A county's indicators for a year, for anyone whose roles reach the county.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    county_id: i64,
    q: &IndicatorQuery,
) -> Result<Page<IndicatorView>> {
    let county = county(state, caller, county_id).await?;
    let year = year_or_now(q.year, state.clock.now())?;
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit }.parse()?;
    let rows = store::indicators(&state.db, county.id, year, page).await?;
    Ok(Page::from_rows(rows, page, |r| r.id, IndicatorView::from))
}

/// `POST /orgs/{county_id}/star-indicators`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewIndicatorRequest {
    #[schema(minimum = 2020, maximum = 2100)]
    pub year: i32,
    #[schema(value_type = Star)]
    pub star: String,
    /// 1–16 letters, digits, `-` or `_`; unique in the county and year.
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,16}$")]
    pub code: String,
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub title: String,
    /// `auto` (needs `metric` and `threshold`) or `evidence` (neither).
    #[schema(pattern = "^(auto|evidence)$")]
    pub kind: String,
    /// For `auto`: `volunteer_minutes_per_member`, `active_member_share`,
    /// `cards_approved_per_member`, `incidents_closed_share`, `disputes_closed_share`,
    /// `incidents_overdue` or `points_per_member`.
    pub metric: Option<String>,
    /// For `auto`: met when the value reaches it (`incidents_overdue`: at most it); ≥ 0.
    #[schema(minimum = 0)]
    pub threshold: Option<f64>,
}

impl NewIndicatorRequest {
    fn parse(self, county_id: i64, created_by: i64) -> Result<NewIndicator> {
        let mut fields = FieldErrors::new();
        check_year(self.year, &mut fields);
        let star = Star::parse(&self.star);
        if star.is_none() {
            fields.insert("star".into(), STAR_INVALID.into());
        }
        let code = self.code.trim().to_owned();
        if code.is_empty()
            || code.len() > 16
            || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            fields.insert("code".into(), "须为 1 到 16 个字母、数字、- 或 _".into());
        }
        let title = self.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > 200 {
            fields.insert("title".into(), "须为 1 到 200 个字符".into());
        }
        let kind = IndicatorKind::parse(&self.kind);
        let metric = self.metric.as_deref().map(Metric::parse);
        match kind {
            None => {
                fields.insert("kind".into(), "须为 auto 或 evidence".into());
            }
            Some(IndicatorKind::Auto) => {
                if !matches!(metric, Some(Some(_))) {
                    let names: Vec<&str> = Metric::ALL.iter().map(|m| m.as_str()).collect();
                    fields.insert("metric".into(), format!("auto 指标须指定度量，可选：{}", names.join("、")));
                }
                if !self.threshold.is_some_and(|t| t.is_finite() && t >= 0.0) {
                    fields.insert("threshold".into(), "auto 指标须指定不小于 0 的达标值".into());
                }
            }
            Some(IndicatorKind::Evidence) => {
                if self.metric.is_some() || self.threshold.is_some() {
                    fields.insert("kind".into(), "evidence 指标凭佐证材料评定，不设度量和达标值".into());
                }
            }
        }
        match (star, kind) {
            (Some(star), Some(kind)) if fields.is_empty() => Ok(NewIndicator {
                county_id,
                year: self.year,
                star: star.as_str(),
                code,
                title,
                kind: kind.as_str(),
                metric: metric.flatten().map(Metric::as_str),
                threshold: self.threshold.filter(|_| kind == IndicatorKind::Auto),
                created_by: Some(created_by),
            }),
            _ => Err(AppError::Validation(fields)),
        }
    }
}

const CODE_TAKEN: AppError =
    AppError::Conflict { code: ErrorCode::Conflict, message: "本县该年度已有相同编号的指标" };

/// A county admin adds an indicator; audited.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    county_id: i64,
    req: NewIndicatorRequest,
) -> Result<IndicatorView> {
    let county = county(state, caller, county_id).await?;
    access::authorize(caller, &county, Role::CountyAdmin)?;
    let new = req.parse(county.id, caller.user_id)?;
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let row = store::insert_indicator(&txn, new, now).await?.ok_or(CODE_TAKEN)?;
    audit::record(
        &txn,
        AuditEntry {
            actor_id: Some(caller.user_id),
            action: "stars.indicator.create",
            target_type: "star_indicator",
            target_id: row.id.to_string(),
            org_id: Some(county.id),
            before: None,
            after: Some(json!({"year": row.year, "star": row.star, "code": row.code, "kind": row.kind,
                "metric": row.metric, "threshold": row.threshold})),
            reason: None,
            at: now,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(row.into())
}

/// `POST /orgs/{county_id}/star-indicators/defaults`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DefaultsRequest {
    #[schema(minimum = 2020, maximum = 2100)]
    pub year: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DefaultsView {
    pub year: i32,
    /// How many built-in indicators were added (codes the county already had are kept as they are).
    pub created: u64,
    /// The county's indicators for the year, after the copy.
    pub items: Vec<IndicatorView>,
}

/// The built-in indicators into a county's year, inside `txn`; codes it already has stay as
/// they are. Returns how many were added.
pub async fn insert_defaults<C: sea_orm::ConnectionTrait>(
    txn: &C,
    county_id: i64,
    year: i32,
    created_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut created = 0;
    for (star, code, title, measure) in DEFAULT_INDICATORS {
        let new = NewIndicator {
            county_id,
            year,
            star: star.as_str(),
            code: code.to_owned(),
            title: title.to_owned(),
            kind: if measure.is_some() { IndicatorKind::Auto } else { IndicatorKind::Evidence }.as_str(),
            metric: measure.map(|(m, _)| m.as_str()),
            threshold: measure.map(|(_, t)| t),
            created_by,
        };
        if store::insert_indicator(txn, new, now).await?.is_some() {
            created += 1;
        }
    }
    Ok(created)
}

/// Copy the built-in indicators into a county's year; codes it already has stay as they are,
/// so copying again adds nothing.
pub async fn copy_defaults(
    state: &AppState,
    caller: &Caller,
    county_id: i64,
    req: DefaultsRequest,
) -> Result<DefaultsView> {
    let county = county(state, caller, county_id).await?;
    access::authorize(caller, &county, Role::CountyAdmin)?;
    let mut fields = FieldErrors::new();
    check_year(req.year, &mut fields);
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let created = insert_defaults(&txn, county.id, req.year, Some(caller.user_id), now).await?;
    audit::record(
        &txn,
        AuditEntry {
            actor_id: Some(caller.user_id),
            action: "stars.indicator.defaults",
            target_type: "org",
            target_id: county.id.to_string(),
            org_id: Some(county.id),
            before: None,
            after: Some(json!({"year": req.year, "created": created})),
            reason: None,
            at: now,
        },
    )
    .await?;
    let all = crate::pagination::PageRequest { after: None, limit: crate::pagination::MAX_LIMIT };
    let rows = store::indicators(&txn, county.id, req.year, all).await?;
    txn.commit().await?;
    Ok(DefaultsView { year: req.year, created, items: rows.into_iter().map(IndicatorView::from).collect() })
}
