//! Weekly bulletins (周通报) and monthly dispatches (月调度) for a township or a county: per
//! branch, what its members did in the period, its rank by points per member, and how that
//! rank moved against the period before (比学赶超), with the subtree's totals. As JSON, or as
//! XLSX with a native bar chart of the top 20 and a second sheet of the rank changes. A
//! branch without members is listed with zeros.
use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::metrics::{self, Counts, Span};
use crate::access::{self, Caller, OrgKind, Role};
use crate::clock::shanghai;
use crate::error::{AppError, Result};
use crate::http::export::{column, Cell, Column, XlsxBook};
use crate::orgs::service as orgs;
use crate::points::domain::{period_key, PeriodKind};
use crate::state::AppState;

/// A period as a report names it (`2026-W48`, `2026-11`) and its span.
#[derive(Debug, Clone)]
pub struct Period {
    pub name: String,
    pub span: Span,
}

fn midnight(day: NaiveDate) -> Option<DateTime<Utc>> {
    Some(shanghai().from_local_datetime(&day.and_hms_opt(0, 0, 0)?).single()?.with_timezone(&Utc))
}

/// The ISO week starting on this Monday.
fn week_of(monday: NaiveDate) -> Option<Period> {
    let start = midnight(monday)?;
    let iso = monday.iso_week();
    Some(Period {
        name: format!("{}-W{:02}", iso.year(), iso.week()),
        span: Span {
            kind: PeriodKind::Week,
            key: period_key(PeriodKind::Week, start),
            start,
            end: midnight(monday + Duration::days(7))?,
        },
    })
}

fn month_of(first: NaiveDate) -> Option<Period> {
    let start = midnight(first)?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)?
    };
    Some(Period {
        name: format!("{}-{:02}", first.year(), first.month()),
        span: Span { kind: PeriodKind::Month, key: period_key(PeriodKind::Month, start), start, end: midnight(next)? },
    })
}

/// `2026-W48`, or the last full ISO week (Asia/Shanghai) before `now`.
pub fn parse_week(input: Option<&str>, now: DateTime<Utc>) -> Option<Period> {
    let monday = match input {
        Some(text) => {
            let (year, week) = text.split_once("-W")?;
            NaiveDate::from_isoywd_opt(year.parse().ok()?, week.parse().ok()?, Weekday::Mon)?
        }
        None => {
            let today = now.with_timezone(&shanghai()).date_naive();
            today - Duration::days(i64::from(today.weekday().num_days_from_monday()) + 7)
        }
    };
    week_of(monday)
}

/// `2026-11`, or the last full month (Asia/Shanghai) before `now`.
pub fn parse_month(input: Option<&str>, now: DateTime<Utc>) -> Option<Period> {
    let first = match input {
        Some(text) => {
            let (year, month) = text.split_once('-')?;
            if month.len() != 2 {
                return None;
            }
            NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)?
        }
        None => {
            let today = now.with_timezone(&shanghai()).date_naive();
            let this = NaiveDate::from_ymd_opt(today.year(), today.month(), 1)?;
            let last = this - Duration::days(1);
            NaiveDate::from_ymd_opt(last.year(), last.month(), 1)?
        }
    };
    month_of(first)
}

/// The period just before.
fn previous(p: &Period) -> Option<Period> {
    let start = p.span.start.with_timezone(&shanghai()).date_naive();
    match p.span.kind {
        PeriodKind::Week => week_of(start - Duration::days(7)),
        _ => {
            let last = start - Duration::days(1);
            month_of(NaiveDate::from_ymd_opt(last.year(), last.month(), 1)?)
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct WeeklyQuery {
    /// An ISO week, `2026-W48`; default the last full week (Asia/Shanghai).
    #[param(pattern = r"^\d{4}-W\d{2}$")]
    pub week: Option<String>,
    /// `json` (default) or `xlsx`.
    #[param(pattern = "^(json|xlsx)$")]
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MonthlyQuery {
    /// `2026-11`; default the last full month (Asia/Shanghai).
    #[param(pattern = r"^\d{4}-\d{2}$")]
    pub month: Option<String>,
    /// `json` (default) or `xlsx`.
    #[param(pattern = "^(json|xlsx)$")]
    pub format: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportRow {
    /// By points per member, then points, then branch id.
    pub rank: u64,
    pub branch_id: i64,
    pub name: String,
    pub members: i64,
    pub points: i64,
    pub points_per_member: f64,
    pub volunteer_minutes: i64,
    pub cards_approved: i64,
    pub active_members: i64,
    pub incidents_filed: i64,
    pub incidents_closed: i64,
    pub incidents_overdue: i64,
    pub previous_rank: u64,
    /// Places moved up since the period before (negative: down).
    pub rank_change: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportTotals {
    pub branches: u64,
    pub members: i64,
    pub points: i64,
    pub points_per_member: f64,
    pub volunteer_minutes: i64,
    pub cards_approved: i64,
    pub active_members: i64,
    pub incidents_filed: i64,
    pub incidents_closed: i64,
    pub incidents_overdue: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    pub org_id: i64,
    /// `2026-W48` or `2026-11`.
    pub period: String,
    pub previous_period: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub branches: Vec<ReportRow>,
    pub totals: ReportTotals,
}

/// Ranks by points per member (then points, then id): branch → rank.
fn ranks(counts: &HashMap<i64, Counts>) -> HashMap<i64, u64> {
    let mut order: Vec<(&i64, &Counts)> = counts.iter().collect();
    order.sort_by(|(a_id, a), (b_id, b)| {
        b.points_per_member().total_cmp(&a.points_per_member()).then(b.points.cmp(&a.points)).then(a_id.cmp(b_id))
    });
    order.into_iter().enumerate().map(|(i, (id, _))| (*id, i as u64 + 1)).collect()
}

/// The report for `period` over the branches below a township or county (its staff).
pub async fn report(state: &AppState, caller: &Caller, org_id: i64, period: Period) -> Result<Report> {
    let org = access::reachable(state, caller, org_id).await?;
    if org.kind != OrgKind::Township.as_str() && org.kind != OrgKind::County.as_str() {
        return Err(AppError::field("org_id", "须为乡镇或县（区）"));
    }
    access::authorize(caller, &org, Role::TownshipAdmin)?;
    let before = previous(&period).ok_or_else(|| AppError::field("period", "无法确定上一期"))?;
    let branches = orgs::branches_under(&state.db, &org.path).await?;
    let ids: Vec<i64> = branches.iter().map(|(id, _)| *id).collect();
    let now = state.clock.now();
    let counts = metrics::counts(&state.db, &ids, &period.span, now).await?;
    let earlier = metrics::counts(&state.db, &ids, &before.span, now).await?;
    let (rank, previous_rank) = (ranks(&counts), ranks(&earlier));
    let mut rows: Vec<ReportRow> = branches
        .into_iter()
        .map(|(id, name)| {
            let c = counts.get(&id).copied().unwrap_or_default();
            let (now_rank, then) = (rank.get(&id).copied().unwrap_or(0), previous_rank.get(&id).copied().unwrap_or(0));
            ReportRow {
                rank: now_rank,
                branch_id: id,
                name,
                members: c.members,
                points: c.points,
                points_per_member: c.points_per_member(),
                volunteer_minutes: c.minutes,
                cards_approved: c.cards_approved,
                active_members: c.active,
                incidents_filed: c.filed,
                incidents_closed: c.closed,
                incidents_overdue: c.overdue,
                previous_rank: then,
                rank_change: then as i64 - now_rank as i64,
            }
        })
        .collect();
    rows.sort_by_key(|r| r.rank);
    let sum = |f: fn(&ReportRow) -> i64| rows.iter().map(f).sum::<i64>();
    let members = sum(|r| r.members);
    let points = sum(|r| r.points);
    let totals = ReportTotals {
        branches: rows.len() as u64,
        members,
        points,
        points_per_member: if members > 0 { points as f64 / members as f64 } else { 0.0 },
        volunteer_minutes: sum(|r| r.volunteer_minutes),
        cards_approved: sum(|r| r.cards_approved),
        active_members: sum(|r| r.active_members),
        incidents_filed: sum(|r| r.incidents_filed),
        incidents_closed: sum(|r| r.incidents_closed),
        incidents_overdue: sum(|r| r.incidents_overdue),
    };
    Ok(Report {
        org_id: org.id,
        period: period.name,
        previous_period: before.name,
        from: period.span.start,
        to: period.span.end,
        branches: rows,
        totals,
    })
}

const COLUMNS: [Column; 12] = [
    column("名次", 6.0),
    column("支部", 20.0),
    column("成员数", 8.0),
    column("积分", 10.0),
    column("人均积分", 10.0),
    column("志愿服务（分钟）", 14.0),
    column("完成任务卡", 10.0),
    column("活跃成员", 9.0),
    column("上报事件", 9.0),
    column("办结事件", 9.0),
    column("超期事件", 9.0),
    column("名次变化", 9.0),
];

const CHANGE_COLUMNS: [Column; 5] =
    [column("支部", 20.0), column("本期名次", 9.0), column("上期名次", 9.0), column("变化", 8.0), column("说明", 12.0)];

/// Branches the chart shows.
const CHART_TOP: u32 = 20;

/// The report as a workbook: the table with a bar chart of the top 20 by points per member,
/// and a sheet of the rank changes.
pub fn xlsx(report: &Report, title: &str) -> Result<Vec<u8>> {
    let mut book = XlsxBook::new()?;
    let name = format!("{title} {}", report.period);
    {
        let mut sheet = book.sheet(&name, &COLUMNS)?;
        for r in &report.branches {
            sheet.append(&[
                Cell::Integer(r.rank as i64),
                r.name.clone().into(),
                Cell::Integer(r.members),
                Cell::Integer(r.points),
                Cell::Number((r.points_per_member * 100.0).round() / 100.0),
                Cell::Integer(r.volunteer_minutes),
                Cell::Integer(r.cards_approved),
                Cell::Integer(r.active_members),
                Cell::Integer(r.incidents_filed),
                Cell::Integer(r.incidents_closed),
                Cell::Integer(r.incidents_overdue),
                Cell::Integer(r.rank_change),
            ])?;
        }
        let shown = (report.branches.len() as u32).min(CHART_TOP);
        sheet.bar_chart("人均积分前 20 名", &name, 1, 4, (1, shown))?;
        sheet.finish()?;
    }
    let mut changes = book.sheet("名次变化", &CHANGE_COLUMNS)?;
    let mut moved: Vec<&ReportRow> = report.branches.iter().collect();
    moved.sort_by_key(|r| (-r.rank_change, r.rank));
    for r in moved {
        let word = match r.rank_change {
            0 => "持平",
            n if n > 0 => "上升",
            _ => "下降",
        };
        changes.append(&[
            r.name.clone().into(),
            Cell::Integer(r.rank as i64),
            Cell::Integer(r.previous_rank as i64),
            Cell::Integer(r.rank_change),
            word.into(),
        ])?;
    }
    changes.finish()?;
    book.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn weeks_and_months_follow_the_shanghai_calendar() {
        // Sunday 2026-11-29 20:00 UTC is Monday 30 November in Shanghai: the last full week is
        // W48 (23–29 November).
        let now = utc("2026-11-29T20:00:00Z");
        let week = parse_week(None, now).unwrap();
        assert_eq!((week.name.as_str(), week.span.key.as_str()), ("2026-W48", "w2026-48"));
        assert_eq!(week.span.start, utc("2026-11-22T16:00:00Z"));
        assert_eq!(previous(&week).unwrap().name, "2026-W47");
        assert_eq!(parse_week(Some("2026-W01"), now).unwrap().span.start, utc("2025-12-28T16:00:00Z"));
        assert!(parse_week(Some("2026-W54"), now).is_none());
        let month = parse_month(None, now).unwrap();
        assert_eq!((month.name.as_str(), month.span.key.as_str()), ("2026-10", "m2026-10"));
        let january = parse_month(Some("2027-01"), now).unwrap();
        assert_eq!(previous(&january).unwrap().name, "2026-12");
        assert_eq!(january.span.end, utc("2027-01-31T16:00:00Z"));
        assert!(parse_month(Some("2026-13"), now).is_none());
    }
}
