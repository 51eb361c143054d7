//! The seven metrics of `auto` indicators, measured from our own tables for a set of
//! branches over one year (Asia/Shanghai): ONE set-based query per metric, whatever the
//! number of branches (a county's 600 in `make bench`), grouped by branch.
//!
//! Denominators: a branch's members are the people whose home branch it is; a branch
//! without members measures 0 per member and 0 as a share. A branch with no incident filed
//! in the year has closed all of them (share 1).
use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter, QuerySelect};

use entity::card_claims::{self, ClaimStatus};
use entity::incidents::{self, IncidentStatus};
use entity::{orgs, points_ledger, users};

use super::domain::Metric;
use crate::clock::shanghai;
use crate::points::domain::LedgerKind;

/// Until incidents carry deadlines of their own (the SLA rules), an incident still open this
/// long after it was filed counts as overdue.
pub const OVERDUE_AFTER: Duration = Duration::days(7);

/// The year's bounds in UTC: [1 January, 1 January next) in Asia/Shanghai.
pub fn year_bounds(year: i32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let at = |y: i32| -> Option<DateTime<Utc>> {
        let day = NaiveDate::from_ymd_opt(y, 1, 1)?.and_hms_opt(0, 0, 0)?;
        Some(shanghai().from_local_datetime(&day).single()?.with_timezone(&Utc))
    };
    Some((at(year)?, at(year + 1)?))
}

/// Every metric for every branch in `branches` over `year`, measured at `now` (which
/// decides what is overdue): `(branch, metric) → value`; every pair is present.
pub async fn measure<C: ConnectionTrait>(
    db: &C,
    branches: &[i64],
    year: i32,
    now: DateTime<Utc>,
) -> Result<HashMap<(i64, Metric), f64>, DbErr> {
    let mut values = HashMap::new();
    if branches.is_empty() {
        return Ok(values);
    }
    let (start, end) = year_bounds(year).ok_or_else(|| DbErr::Custom(format!("no such year: {year}")))?;
    let members = members(db, branches).await?;
    let ledger = ledger_sums(db, branches, year).await?;
    let active = active_members(db, branches, year).await?;
    let cards = cards_approved(db, branches, start, end).await?;
    let filed = incident_counts(db, branches, start, end, false, now).await?;
    let disputes = incident_counts(db, branches, start, end, true, now).await?;
    for &b in branches {
        let n = members.get(&b).copied().unwrap_or(0) as f64;
        let per_member = |x: f64| if n > 0.0 { x / n } else { 0.0 };
        let (points, minutes) = ledger.get(&b).copied().unwrap_or((0, 0));
        let share = |closed: i64, total: i64| if total > 0 { closed as f64 / total as f64 } else { 1.0 };
        let (total, closed, overdue) = filed.get(&b).copied().unwrap_or((0, 0, 0));
        let (d_total, d_closed, _) = disputes.get(&b).copied().unwrap_or((0, 0, 0));
        values.insert((b, Metric::VolunteerMinutesPerMember), per_member(minutes as f64));
        values.insert((b, Metric::PointsPerMember), per_member(points as f64));
        values.insert((b, Metric::ActiveMemberShare), per_member(active.get(&b).copied().unwrap_or(0) as f64));
        values.insert((b, Metric::CardsApprovedPerMember), per_member(cards.get(&b).copied().unwrap_or(0) as f64));
        values.insert((b, Metric::IncidentsClosedShare), share(closed, total));
        values.insert((b, Metric::DisputesClosedShare), share(d_closed, d_total));
        values.insert((b, Metric::IncidentsOverdue), overdue as f64);
    }
    Ok(values)
}

fn count() -> Expr {
    Expr::cust("COUNT(*)").cast_as(Alias::new("BIGINT"))
}

fn sum_of(expr: Expr) -> Expr {
    Expr::from(Func::coalesce([expr.sum(), Expr::val(0)])).cast_as(Alias::new("BIGINT"))
}

/// People whose home branch each branch is.
async fn members<C: ConnectionTrait>(db: &C, branches: &[i64]) -> Result<HashMap<i64, i64>, DbErr> {
    let rows: Vec<(Option<i64>, i64)> = users::Entity::find()
        .select_only()
        .column(users::Column::HomeBranchId)
        .expr(count())
        .filter(users::Column::HomeBranchId.is_in(branches.iter().copied()))
        .group_by(users::Column::HomeBranchId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(|(b, n)| Some((b?, n))).collect())
}

/// Points and minutes credited in the year on each branch (what counts on boards).
async fn ledger_sums<C: ConnectionTrait>(
    db: &C,
    branches: &[i64],
    year: i32,
) -> Result<HashMap<i64, (i64, i64)>, DbErr> {
    use points_ledger::Column as L;
    let rows: Vec<(i64, i64, i64)> = points_ledger::Entity::find()
        .select_only()
        .column(L::BranchId)
        .expr(sum_of(Expr::col(L::DeltaPoints)))
        .expr(sum_of(Expr::col(L::DeltaMinutes)))
        .filter(L::BranchId.is_in(branches.iter().copied()))
        .filter(L::YearKey.eq(format!("y{year}")))
        .filter(L::Kind.is_not_in(LedgerKind::off_boards()))
        .group_by(L::BranchId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(b, p, m)| (b, (p, m))).collect())
}

/// Members credited in the year on their own home branch, each once.
async fn active_members<C: ConnectionTrait>(db: &C, branches: &[i64], year: i32) -> Result<HashMap<i64, i64>, DbErr> {
    use points_ledger::Column as L;
    let rows: Vec<(i64, i64)> = points_ledger::Entity::find()
        .select_only()
        .column(L::BranchId)
        .expr(Expr::cust("COUNT(DISTINCT points_ledger.user_id)").cast_as(Alias::new("BIGINT")))
        .join(JoinType::InnerJoin, ledger_user())
        .filter(Expr::col((users::Entity, users::Column::HomeBranchId)).equals((points_ledger::Entity, L::BranchId)))
        .filter(L::BranchId.is_in(branches.iter().copied()))
        .filter(L::YearKey.eq(format!("y{year}")))
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
) -> Result<HashMap<i64, i64>, DbErr> {
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
/// how many are closed, and how many are still open past `OVERDUE_AFTER` at `now`.
async fn incident_counts<C: ConnectionTrait>(
    db: &C,
    branches: &[i64],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    disputes: bool,
    now: DateTime<Utc>,
) -> Result<HashMap<i64, (i64, i64, i64)>, DbErr> {
    use incidents::Column as I;
    let grid = Alias::new("grid");
    let col = |c: I| Expr::col((incidents::Entity, c));
    let closed = Expr::case(col(I::Status).eq(IncidentStatus::Closed), 1).finally(0);
    let open = col(I::Status).ne(IncidentStatus::Closed).and(col(I::CreatedAt).lt(now - OVERDUE_AFTER));
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
