//! The seven metrics of `auto` indicators, measured from our own tables for a set of
//! branches over one year (Asia/Shanghai): ONE set-based query per metric, whatever the
//! number of branches (a county's 600 in `make bench`), grouped by branch.
//!
//! Denominators: a branch's members are the people whose home branch it is; a branch
//! without members measures 0 per member and 0 as a share. A branch with no incident filed
//! in the year has closed all of them (share 1). The same counts over a week or a month
//! make the weekly and monthly reports (`stars::reports`).
use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter, QuerySelect};

use entity::card_claims::{self, ClaimStatus};
use entity::incidents::{self, IncidentStatus};
use entity::{orgs, points_ledger, users};

use super::domain::Metric;
use crate::clock::shanghai;
use crate::error::{AppError, Result};
use crate::points::domain::{LedgerKind, PeriodKind};

/// An incident filed before deadlines existed (no `due_at`) counts as overdue when still
/// open this long after it was filed; every other one by its own deadline.
pub const OVERDUE_AFTER: Duration = Duration::days(7);

/// The year's bounds in UTC: [1 January, 1 January next) in Asia/Shanghai.
pub fn year_bounds(year: i32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let at = |y: i32| -> Option<DateTime<Utc>> {
        let day = NaiveDate::from_ymd_opt(y, 1, 1)?.and_hms_opt(0, 0, 0)?;
        Some(shanghai().from_local_datetime(&day).single()?.with_timezone(&Utc))
    };
    Some((at(year)?, at(year + 1)?))
}

/// A stretch of the Asia/Shanghai calendar: a year, a month or an ISO week, with the
/// ledger's key for it and its bounds in UTC.
#[derive(Debug, Clone)]
pub struct Span {
    pub kind: PeriodKind,
    /// The ledger's key: `y2026`, `m2026-11` or `w2026-48`.
    pub key: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    pub fn year(year: i32) -> Option<Span> {
        let (start, end) = year_bounds(year)?;
        Some(Span { kind: PeriodKind::Year, key: format!("y{year}"), start, end })
    }

    fn ledger_column(&self) -> points_ledger::Column {
        match self.kind {
            PeriodKind::Week => points_ledger::Column::WeekKey,
            PeriodKind::Month => points_ledger::Column::MonthKey,
            _ => points_ledger::Column::YearKey,
        }
    }
}

/// What a branch did over a span: the raw counts the metrics and the reports are made of.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    /// People whose home branch it is (now).
    pub members: i64,
    /// Points and minutes credited (what counts on boards).
    pub points: i64,
    pub minutes: i64,
    /// Members credited on their home branch, each once.
    pub active: i64,
    pub cards_approved: i64,
    /// Incidents filed on its grids; of those, closed; still open past `OVERDUE_AFTER`.
    pub filed: i64,
    pub closed: i64,
    pub overdue: i64,
    pub disputes: i64,
    pub disputes_closed: i64,
}

impl Counts {
    fn per_member(&self, x: i64) -> f64 {
        if self.members > 0 {
            x as f64 / self.members as f64
        } else {
            0.0
        }
    }

    pub fn points_per_member(&self) -> f64 {
        self.per_member(self.points)
    }

    /// Closed over filed; 1 when nothing was filed (nothing left open).
    fn closed_share(closed: i64, total: i64) -> f64 {
        if total > 0 {
            closed as f64 / total as f64
        } else {
            1.0
        }
    }

    pub fn metric(&self, metric: Metric) -> f64 {
        match metric {
            Metric::VolunteerMinutesPerMember => self.per_member(self.minutes),
            Metric::PointsPerMember => self.per_member(self.points),
            Metric::ActiveMemberShare => self.per_member(self.active),
            Metric::CardsApprovedPerMember => self.per_member(self.cards_approved),
            Metric::IncidentsClosedShare => Counts::closed_share(self.closed, self.filed),
            Metric::DisputesClosedShare => Counts::closed_share(self.disputes_closed, self.disputes),
            Metric::IncidentsOverdue => self.overdue as f64,
        }
    }
}

/// The counts of every branch in `branches` over `span`, measured at `now` (which decides
/// what is overdue): six queries whatever the number of branches. Every branch is present.
pub async fn counts<C: ConnectionTrait>(
    db: &C,
    branches: &[i64],
    span: &Span,
    now: DateTime<Utc>,
) -> Result<HashMap<i64, Counts>> {
    if branches.is_empty() {
        return Ok(HashMap::new());
    }
    let members = crate::members::service::member_counts(db, branches).await?;
    let ledger = ledger_sums(db, branches, span).await?;
    let active = active_members(db, branches, span).await?;
    let cards = cards_approved(db, branches, span.start, span.end).await?;
    let filed = incident_counts(db, branches, span.start, span.end, false, now).await?;
    let disputes = incident_counts(db, branches, span.start, span.end, true, now).await?;
    Ok(branches
        .iter()
        .map(|&b| {
            let (points, minutes) = ledger.get(&b).copied().unwrap_or((0, 0));
            let (filed, closed, overdue) = filed.get(&b).copied().unwrap_or((0, 0, 0));
            let (disputes, disputes_closed, _) = disputes.get(&b).copied().unwrap_or((0, 0, 0));
            let counts = Counts {
                members: members.get(&b).copied().unwrap_or(0),
                points,
                minutes,
                active: active.get(&b).copied().unwrap_or(0),
                cards_approved: cards.get(&b).copied().unwrap_or(0),
                filed,
                closed,
                overdue,
                disputes,
                disputes_closed,
            };
            (b, counts)
        })
        .collect())
}

/// Every metric for every branch in `branches` over `year`, measured at `now`:
/// `(branch, metric) → value`; every pair is present.
pub async fn measure<C: ConnectionTrait>(
    db: &C,
    branches: &[i64],
    year: i32,
    now: DateTime<Utc>,
) -> Result<HashMap<(i64, Metric), f64>> {
    let span = Span::year(year).ok_or_else(|| AppError::field("year", "没有这一年"))?;
    let counts = counts(db, branches, &span, now).await?;
    Ok(counts.iter().flat_map(|(b, c)| Metric::ALL.map(|m| ((*b, m), c.metric(m)))).collect())
}

fn count() -> Expr {
    Expr::cust("COUNT(*)").cast_as(Alias::new("BIGINT"))
}

fn sum_of(expr: Expr) -> Expr {
    Expr::from(Func::coalesce([expr.sum(), Expr::val(0)])).cast_as(Alias::new("BIGINT"))
}

/// Points and minutes credited in the span on each branch (what counts on boards).
async fn ledger_sums<C: ConnectionTrait>(
    db: &C,
    branches: &[i64],
    span: &Span,
) -> std::result::Result<HashMap<i64, (i64, i64)>, DbErr> {
    use points_ledger::Column as L;
    let rows: Vec<(i64, i64, i64)> = points_ledger::Entity::find()
        .select_only()
        .column(L::BranchId)
        .expr(sum_of(Expr::col(L::DeltaPoints)))
        .expr(sum_of(Expr::col(L::DeltaMinutes)))
        .filter(L::BranchId.is_in(branches.iter().copied()))
        .filter(span.ledger_column().eq(span.key.clone()))
        .filter(L::Kind.is_not_in(LedgerKind::off_boards()))
        .group_by(L::BranchId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(b, p, m)| (b, (p, m))).collect())
}

/// Members credited in the span on their own home branch, each once.
async fn active_members<C: ConnectionTrait>(
    db: &C,
    branches: &[i64],
    span: &Span,
) -> std::result::Result<HashMap<i64, i64>, DbErr> {
    use points_ledger::Column as L;
    let rows: Vec<(i64, i64)> = points_ledger::Entity::find()
        .select_only()
        .column(L::BranchId)
        .expr(Expr::cust("COUNT(DISTINCT points_ledger.user_id)").cast_as(Alias::new("BIGINT")))
        .join(JoinType::InnerJoin, ledger_user())
        .filter(Expr::col((users::Entity, users::Column::HomeBranchId)).equals((points_ledger::Entity, L::BranchId)))
        .filter(L::BranchId.is_in(branches.iter().copied()))
        .filter(span.ledger_column().eq(span.key.clone()))
        .filter(L::DeltaPoints.gt(0))
        .filter(L::Kind.is_not_in(LedgerKind::off_boards()))
        .group_by(L::BranchId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

fn ledger_user() -> sea_orm::RelationDef {
    points_ledger::Entity::belongs_to(users::Entity).from(points_ledger::Column::UserId).to(users::Column::Id).into()
}

/// Cards approved in the year, by the branch they were drawn in.
async fn cards_approved<C: ConnectionTrait>(
    db: &C,
    branches: &[i64],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> std::result::Result<HashMap<i64, i64>, DbErr> {
    use card_claims::Column as Q;
    let rows: Vec<(i64, i64)> = card_claims::Entity::find()
        .select_only()
        .column(Q::BranchId)
        .expr(count())
        .filter(Q::BranchId.is_in(branches.iter().copied()))
        .filter(Q::Status.eq(ClaimStatus::Approved))
        .filter(Q::EndedAt.gte(start))
        .filter(Q::EndedAt.lt(end))
        .group_by(Q::BranchId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Incidents filed in the year on each branch's grids (disputes only, if asked): how many,
/// how many are closed, and how many are still open past their deadline (`due_at`, or
/// `OVERDUE_AFTER` for those filed before deadlines) at `now`.
async fn incident_counts<C: ConnectionTrait>(
    db: &C,
    branches: &[i64],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    disputes: bool,
    now: DateTime<Utc>,
) -> std::result::Result<HashMap<i64, (i64, i64, i64)>, DbErr> {
    use incidents::Column as I;
    let grid = Alias::new("grid");
    let col = |c: I| Expr::col((incidents::Entity, c));
    let closed = Expr::case(col(I::Status).eq(IncidentStatus::Closed), 1).finally(0);
    let past_due = col(I::DueAt).lt(now).or(col(I::DueAt).is_null().and(col(I::CreatedAt).lt(now - OVERDUE_AFTER)));
    let open = col(I::Status).ne(IncidentStatus::Closed).and(past_due);
    let overdue = Expr::case(open, 1).finally(0);
    let mut q = incidents::Entity::find()
        .select_only()
        .expr(Expr::col((grid.clone(), orgs::Column::ParentId)))
        .expr(count())
        .expr(sum_of(closed.into()))
        .expr(sum_of(overdue.into()))
        .join_as(
            JoinType::InnerJoin,
            incidents::Entity::belongs_to(orgs::Entity).from(I::GridId).to(orgs::Column::Id).into(),
            grid.clone(),
        )
        .filter(Expr::col((grid.clone(), orgs::Column::ParentId)).is_in(branches.iter().copied()))
        .filter(I::CreatedAt.gte(start))
        .filter(I::CreatedAt.lt(end))
        .group_by(Expr::col((grid, orgs::Column::ParentId)));
    if disputes {
        q = q.filter(I::Category.eq("dispute"));
    }
    let rows: Vec<(i64, i64, i64, i64)> = q.into_tuple().all(db).await?;
    Ok(rows.into_iter().map(|(b, total, closed, overdue)| (b, (total, closed, overdue))).collect())
}
