//! SQL for the ledger, summaries and volunteer logs. The ledger is only ever inserted
//! into; there is no update or delete of an entry anywhere.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use entity::{points_ledger, points_summary, volunteer_logs};

use super::domain::{period_key, LedgerKind, NewEntry, PeriodKind};
use crate::infra::db::by_key;
use crate::pagination::PageRequest;
use crate::stars::Star;

/// The row an entry becomes, with its period keys: the one place they are computed.
pub fn ledger_row(e: &NewEntry, at: DateTime<Utc>) -> points_ledger::ActiveModel {
    points_ledger::ActiveModel {
        user_id: Set(e.user_id),
        branch_id: Set(e.branch_id),
        delta_points: Set(e.delta_points),
        delta_minutes: Set(e.delta_minutes),
        star: Set(e.star.map(|s| s.as_str().to_owned())),
        kind: Set(e.kind.as_str().to_owned()),
        ref_type: Set(e.ref_type.to_owned()),
        ref_id: Set(e.ref_id.clone()),
        idempotency_key: Set(e.idempotency_key.clone()),
        note: Set(e.note.clone()),
        actor_id: Set(e.actor_id),
        week_key: Set(period_key(PeriodKind::Week, at)),
        month_key: Set(period_key(PeriodKind::Month, at)),
        year_key: Set(period_key(PeriodKind::Year, at)),
        created_epoch: Set(at.timestamp()),
        created_at: Set(at),
        ..Default::default()
    }
}

/// Insert an entry unless one with the same idempotency key exists; None when it did.
pub async fn insert_entry<C: ConnectionTrait>(
    txn: &C,
    e: &NewEntry,
    at: DateTime<Utc>,
) -> Result<Option<points_ledger::Model>, DbErr> {
    let inserted = points_ledger::Entity::insert(ledger_row(e, at))
        .on_conflict(OnConflict::column(points_ledger::Column::IdempotencyKey).do_nothing().to_owned())
        .exec_with_returning(txn)
        .await;
    match inserted {
        Ok(row) => Ok(Some(row)),
        // `DO NOTHING` returned no row: the key is taken. (sea-orm 2.0 reports that as
        // RecordNotFound, even through `TryInsert`; RecordNotInserted is its documented name.)
        Err(DbErr::RecordNotFound(_) | DbErr::RecordNotInserted) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Apply an entry to the user's summary, refusing (false) when the balance would go
/// below zero. One statement either way: a deduction is a conditional update (`WHERE
/// balance + Δ` is at least 0; a user without a summary has nothing to spend), anything
/// else an upsert that adds the entry to the row or starts it.
pub async fn apply_to_summary<C: ConnectionTrait>(txn: &C, e: &NewEntry, now: DateTime<Utc>) -> Result<bool, DbErr> {
    use points_summary::Column as S;
    let earned = if e.kind.counts_on_boards() { e.delta_points } else { 0 };
    let star = e.star.filter(|_| earned != 0);
    if e.delta_points < 0 {
        let mut update = points_summary::Entity::update_many()
            .col_expr(S::Balance, Expr::col(S::Balance).add(e.delta_points))
            .col_expr(S::EarnedTotal, Expr::col(S::EarnedTotal).add(earned))
            .col_expr(S::VolunteerMinutesTotal, Expr::col(S::VolunteerMinutesTotal).add(e.delta_minutes))
            .col_expr(S::UpdatedAt, Expr::value(now))
            .filter(S::UserId.eq(e.user_id))
            .filter(Expr::col(S::Balance).add(e.delta_points).gte(0));
        if let Some(col) = star.map(star_column) {
            update = update.col_expr(col, Expr::col(col).add(earned));
        }
        return Ok(update.exec(txn).await?.rows_affected == 1);
    }
    let for_star = |s: Star| if star == Some(s) { earned } else { 0 };
    let row = points_summary::ActiveModel {
        user_id: Set(e.user_id),
        balance: Set(e.delta_points),
        earned_total: Set(earned),
        volunteer_minutes_total: Set(e.delta_minutes),
        strong_branch: Set(for_star(Star::StrongBranch)),
        thriving_industry: Set(for_star(Star::ThrivingIndustry)),
        eco_livable: Set(for_star(Star::EcoLivable)),
        safe_lawful: Set(for_star(Star::SafeLawful)),
        civil_happy: Set(for_star(Star::CivilHappy)),
        updated_at: Set(now),
    };
    // On conflict: the row plus what this entry adds (`excluded` holds the new row's values).
    let add = |col: S| (col, Expr::col((points_summary::Entity, col)).add(Expr::col((Alias::new("excluded"), col))));
    let mut on_conflict = OnConflict::column(S::UserId);
    on_conflict.values([
        add(S::Balance),
        add(S::EarnedTotal),
        add(S::VolunteerMinutesTotal),
        add(S::StrongBranch),
        add(S::ThrivingIndustry),
        add(S::EcoLivable),
        add(S::SafeLawful),
        add(S::CivilHappy),
    ]);
    on_conflict.update_column(S::UpdatedAt);
    points_summary::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(txn).await?;
    Ok(true)
}

fn star_column(star: Star) -> points_summary::Column {
    use points_summary::Column as S;
    match star {
        Star::StrongBranch => S::StrongBranch,
        Star::ThrivingIndustry => S::ThrivingIndustry,
        Star::EcoLivable => S::EcoLivable,
        Star::SafeLawful => S::SafeLawful,
        Star::CivilHappy => S::CivilHappy,
    }
}

pub fn star_points(summary: &points_summary::Model, star: Star) -> i64 {
    match star {
        Star::StrongBranch => summary.strong_branch,
        Star::ThrivingIndustry => summary.thriving_industry,
        Star::EcoLivable => summary.eco_livable,
        Star::SafeLawful => summary.safe_lawful,
        Star::CivilHappy => summary.civil_happy,
    }
}

pub async fn summary<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Option<points_summary::Model>, DbErr> {
    by_key(points_summary::Entity::find_by_id(user_id), db).await
}

/// The user's entries, newest first.
pub async fn entries_of<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    page: PageRequest,
) -> Result<Vec<points_ledger::Model>, DbErr> {
    let mut q = points_ledger::Entity::find().filter(points_ledger::Column::UserId.eq(user_id));
    if let Some(before) = page.after {
        q = q.filter(points_ledger::Column::Id.lt(before));
    }
    q.order_by_desc(points_ledger::Column::Id).limit(page.limit + 1).all(db).await
}

/// The members (of `among`, if given) with a ledger entry created at or after `since`
/// (Unix seconds), each once, ascending. Deduplicated here, not with `DISTINCT`: for a
/// `DISTINCT` SQLite walks the whole ledger in `idx_ledger_user` order and looks each
/// row's time up in the table (6 s on 1,000,000 entries), where the plain select reads
/// the last minute's entries off `idx_ledger_created_epoch`.
pub async fn credited_since<C: ConnectionTrait>(db: &C, since: i64, among: Option<&[i64]>) -> Result<Vec<i64>, DbErr> {
    let mut q = points_ledger::Entity::find()
        .select_only()
        .column(points_ledger::Column::UserId)
        .filter(points_ledger::Column::CreatedEpoch.gte(since));
    if let Some(users) = among {
        q = q.filter(points_ledger::Column::UserId.is_in(users.iter().copied()));
    }
    let users: std::collections::BTreeSet<i64> = q.into_tuple::<i64>().all(db).await?.into_iter().collect();
    Ok(users.into_iter().collect())
}

/// One row of a ledger aggregate: a user's (or a branch's) sums within one period.
#[derive(Debug, FromQueryResult)]
pub struct PeriodSum {
    pub user_id: i64,
    pub branch_id: i64,
    pub period: String,
    pub points: i64,
    pub minutes: i64,
    /// Unix seconds of the latest entry that moved the points (minutes); None if none did.
    pub last_points_at: Option<i64>,
    pub last_minutes_at: Option<i64>,
}

/// Sums per (user, branch, period) of entries that count on boards, for one period kind,
/// optionally for one user only. The database aggregates; Rust only fans out.
pub async fn period_sums<C: ConnectionTrait>(
    db: &C,
    kind: PeriodKind,
    user_id: Option<i64>,
) -> Result<Vec<PeriodSum>, DbErr> {
    use points_ledger::Column as L;
    let period_col = match kind {
        PeriodKind::Week => Some(L::WeekKey),
        PeriodKind::Month => Some(L::MonthKey),
        PeriodKind::Year => Some(L::YearKey),
        PeriodKind::All => None,
    };
    let last_at =
        |col: L| Expr::expr(Expr::case(Expr::col(col).ne(0), Expr::col(L::CreatedEpoch)).finally(Expr::null())).max();
    let mut q = points_ledger::Entity::find()
        .select_only()
        .column(L::UserId)
        .column(L::BranchId)
        .expr_as(sum_i64(L::DeltaPoints), "points")
        .expr_as(sum_i64(L::DeltaMinutes), "minutes")
        .expr_as(last_at(L::DeltaPoints), "last_points_at")
        .expr_as(last_at(L::DeltaMinutes), "last_minutes_at")
        .filter(L::Kind.is_not_in(LedgerKind::off_boards()))
        .group_by(L::UserId)
        .group_by(L::BranchId);
    q = match period_col {
        Some(col) => q.expr_as(Expr::col(col), "period").group_by(col),
        None => q.expr_as(Expr::val("all"), "period"),
    };
    if let Some(user) = user_id {
        q = q.filter(L::UserId.eq(user));
    }
    q.into_model::<PeriodSum>().all(db).await
}

/// `CAST(COALESCE(SUM(col), 0) AS BIGINT)`: PostgreSQL sums bigints as numeric.
fn sum_i64(col: points_ledger::Column) -> Expr {
    Expr::from(Func::coalesce([Expr::col(col).sum(), Expr::val(0)])).cast_as(Alias::new("BIGINT"))
}

// --- volunteer logs -------------------------------------------------------------------

pub struct NewLog<'a> {
    pub user_id: i64,
    pub branch_id: i64,
    pub description: &'a str,
    pub star: Star,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub minutes: i32,
    pub media_ids: &'a [i64],
}

pub async fn insert_log<C: ConnectionTrait>(
    db: &C,
    new: NewLog<'_>,
    now: DateTime<Utc>,
) -> Result<volunteer_logs::Model, DbErr> {
    volunteer_logs::ActiveModel {
        user_id: Set(new.user_id),
        branch_id: Set(new.branch_id),
        description: Set(new.description.to_owned()),
        star: Set(new.star.as_str().to_owned()),
        started_at: Set(new.started_at),
        ended_at: Set(new.ended_at),
        minutes: Set(new.minutes),
        media_ids: Set(serde_json::json!(new.media_ids)),
        status: Set("pending".to_owned()),
        reviewer_id: Set(None),
        review_comment: Set(None),
        reviewed_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn find_log<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<volunteer_logs::Model>, DbErr> {
    by_key(volunteer_logs::Entity::find_by_id(id), db).await
}

/// Move a pending log to approved or rejected; false if someone reviewed it first.
pub async fn review_log<C: ConnectionTrait>(
    txn: &C,
    id: i64,
    approve: bool,
    reviewer: i64,
    comment: Option<String>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use volunteer_logs::Column as V;
    let res = volunteer_logs::Entity::update_many()
        .col_expr(V::Status, Expr::value(if approve { "approved" } else { "rejected" }))
        .col_expr(V::ReviewerId, Expr::value(reviewer))
        .col_expr(V::ReviewComment, Expr::value(comment))
        .col_expr(V::ReviewedAt, Expr::value(now))
        .filter(V::Id.eq(id))
        .filter(V::Status.eq("pending"))
        .exec(txn)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn logs_of_branch<C: ConnectionTrait>(
    db: &C,
    branch_id: i64,
    status: Option<&str>,
    page: PageRequest,
) -> Result<Vec<volunteer_logs::Model>, DbErr> {
    let mut q = volunteer_logs::Entity::find().filter(volunteer_logs::Column::BranchId.eq(branch_id));
    if let Some(status) = status {
        q = q.filter(volunteer_logs::Column::Status.eq(status));
    }
    if let Some(after) = page.after {
        q = q.filter(volunteer_logs::Column::Id.gt(after));
    }
    q.order_by_asc(volunteer_logs::Column::Id).limit(page.limit + 1).all(db).await
}

pub async fn logs_of_user<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    page: PageRequest,
) -> Result<Vec<volunteer_logs::Model>, DbErr> {
    let mut q = volunteer_logs::Entity::find().filter(volunteer_logs::Column::UserId.eq(user_id));
    if let Some(before) = page.after {
        q = q.filter(volunteer_logs::Column::Id.lt(before));
    }
    q.order_by_desc(volunteer_logs::Column::Id).limit(page.limit + 1).all(db).await
}

/// One ledger entry as a rebuild needs it: (id, user, branch, points, minutes, epoch).
pub type BoardRow = (i64, i64, i64, i64, i64, i64);

/// The next `limit` entries with `after < id <= upto` that count on boards: integers
/// only, so a rebuild reads the ledger in large cheap pages.
pub async fn board_rows_page<C: ConnectionTrait>(
    db: &C,
    after: i64,
    upto: i64,
    limit: u64,
) -> Result<Vec<BoardRow>, DbErr> {
    use points_ledger::Column as L;
    points_ledger::Entity::find()
        .select_only()
        .columns([L::Id, L::UserId, L::BranchId, L::DeltaPoints, L::DeltaMinutes, L::CreatedEpoch])
        .filter(L::Id.gt(after))
        .filter(L::Id.lte(upto))
        .filter(L::Kind.is_not_in(LedgerKind::off_boards()))
        .order_by_asc(L::Id)
        .limit(limit)
        .into_tuple::<BoardRow>()
        .all(db)
        .await
}

/// A branch's sums per period (all its members), for its row in branch totals.
#[derive(Debug, FromQueryResult)]
pub struct BranchSum {
    pub period: String,
    pub points: i64,
    pub minutes: i64,
    /// Entries that moved the points (minutes): a board total exists only if one did.
    pub points_moves: i64,
    pub minutes_moves: i64,
}

/// How many entries have a non-zero `col`.
fn count_nonzero(col: points_ledger::Column) -> Expr {
    let moved = Expr::case(Expr::col(col).ne(0), 1).finally(0);
    Expr::from(Func::coalesce([Expr::expr(moved).sum(), Expr::val(0)])).cast_as(Alias::new("BIGINT"))
}

pub async fn branch_period_sums<C: ConnectionTrait>(
    db: &C,
    kind: PeriodKind,
    branch_id: i64,
) -> Result<Vec<BranchSum>, DbErr> {
    use points_ledger::Column as L;
    let mut q = points_ledger::Entity::find()
        .select_only()
        .expr_as(sum_i64(L::DeltaPoints), "points")
        .expr_as(sum_i64(L::DeltaMinutes), "minutes")
        .expr_as(count_nonzero(L::DeltaPoints), "points_moves")
        .expr_as(count_nonzero(L::DeltaMinutes), "minutes_moves")
        .filter(L::Kind.is_not_in(LedgerKind::off_boards()))
        .filter(L::BranchId.eq(branch_id));
    q = match kind {
        PeriodKind::Week => q.expr_as(Expr::col(L::WeekKey), "period").group_by(L::WeekKey),
        PeriodKind::Month => q.expr_as(Expr::col(L::MonthKey), "period").group_by(L::MonthKey),
        PeriodKind::Year => q.expr_as(Expr::col(L::YearKey), "period").group_by(L::YearKey),
        PeriodKind::All => q.expr_as(Expr::val("all"), "period"),
    };
    q.into_model::<BranchSum>().all(db).await
}

/// The highest ledger entry id (0 for an empty ledger).
pub async fn max_ledger_id<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let max: Option<Option<i64>> = points_ledger::Entity::find()
        .select_only()
        .expr(Expr::col(points_ledger::Column::Id).max())
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0))
}

/// The ledger entry written under this idempotency key, if any.
pub async fn entry_by_key<C: ConnectionTrait>(db: &C, key: &str) -> Result<Option<points_ledger::Model>, DbErr> {
    by_key(points_ledger::Entity::find().filter(points_ledger::Column::IdempotencyKey.eq(key)), db).await
}
