//! SQL for tasks, cards and claims. Every state move is a conditional update that says
//! whether it happened, so two processes can never both win the same card.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockType, Query};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    ExprTrait, JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};

use entity::{card_claims, cards, tasks, users};

use super::domain::{CardStatus, ClaimStatus, TaskChanges, TaskSpec};
use crate::infra::db::by_key;
use crate::pagination::PageRequest;

pub async fn insert_task<C: ConnectionTrait>(
    txn: &C,
    branch_id: i64,
    spec: &TaskSpec,
    created_by: i64,
    now: DateTime<Utc>,
) -> Result<tasks::Model, DbErr> {
    tasks::ActiveModel {
        branch_id: Set(branch_id),
        title: Set(spec.title.clone()),
        description: Set(spec.description.clone()),
        star: Set(spec.star.as_str().to_owned()),
        points: Set(spec.points),
        volunteer_minutes: Set(spec.volunteer_minutes),
        copies: Set(spec.copies),
        claim_ttl_minutes: Set(spec.claim_ttl_minutes),
        requires_photo: Set(spec.requires_photo),
        expires_at: Set(spec.expires_at),
        closed_at: Set(None),
        created_by: Set(created_by),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await
}

/// Insert `count` open cards of a task and return their ids. Run while holding the task
/// row (just inserted, or locked by `add_copies`), so that no other insert interleaves.
pub async fn insert_cards<C: ConnectionTrait>(
    txn: &C,
    task: &tasks::Model,
    count: i32,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    use cards::Column as K;
    let before: Option<i64> = cards::Entity::find()
        .select_only()
        .column_as(K::Id.max(), "m")
        .filter(K::TaskId.eq(task.id))
        .into_tuple()
        .one(txn)
        .await?
        .flatten();
    let rows = (0..count).map(|_| cards::ActiveModel {
        task_id: Set(task.id),
        branch_id: Set(task.branch_id),
        status: Set(CardStatus::Open),
        holder_id: Set(None),
        claim_id: Set(None),
        updated_at: Set(now),
        ..Default::default()
    });
    let rows: Vec<_> = rows.collect();
    for chunk in rows.chunks(500) {
        cards::Entity::insert_many(chunk.to_vec()).exec(txn).await?;
    }
    cards::Entity::find()
        .select_only()
        .column(K::Id)
        .filter(K::TaskId.eq(task.id))
        .filter(K::Id.gt(before.unwrap_or(0)))
        .order_by_asc(K::Id)
        .into_tuple()
        .all(txn)
        .await
}

/// Edit a task that is still live (neither closed nor cancelled); false otherwise.
pub async fn edit_task<C: ConnectionTrait>(
    txn: &C,
    task_id: i64,
    changes: TaskChanges,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use tasks::Column as T;
    let mut q = tasks::Entity::update_many().col_expr(T::UpdatedAt, Expr::value(now));
    if let Some(title) = changes.title {
        q = q.col_expr(T::Title, Expr::value(title));
    }
    if let Some(description) = changes.description {
        q = q.col_expr(T::Description, Expr::value(description));
    }
    if let Some(expires_at) = changes.expires_at {
        q = q.col_expr(T::ExpiresAt, Expr::value(expires_at));
    }
    let res =
        q.filter(T::Id.eq(task_id)).filter(T::ClosedAt.is_null()).filter(T::CancelledAt.is_null()).exec(txn).await?;
    Ok(res.rows_affected == 1)
}

/// Count `extra` more copies on a live task, holding its row for the rest of the
/// transaction; false if it is closed or cancelled.
pub async fn add_copies<C: ConnectionTrait>(
    txn: &C,
    task_id: i64,
    extra: i32,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use tasks::Column as T;
    let res = tasks::Entity::update_many()
        .col_expr(T::Copies, Expr::col(T::Copies).add(extra))
        .col_expr(T::UpdatedAt, Expr::value(now))
        .filter(T::Id.eq(task_id))
        .filter(T::ClosedAt.is_null())
        .filter(T::CancelledAt.is_null())
        .exec(txn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Cancel a task once: record when and why, close it, and retire its open cards (they
/// become `cancelled`). Returns the retired card ids, or None if it was cancelled already.
pub async fn cancel_task<C: ConnectionTrait>(
    txn: &C,
    task_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<Vec<i64>>, DbErr> {
    use tasks::Column as T;
    let res = tasks::Entity::update_many()
        .col_expr(T::CancelledAt, Expr::value(now))
        .col_expr(T::CancelReason, Expr::value(reason))
        .col_expr(T::ClosedAt, Expr::col(T::ClosedAt).if_null(now))
        .col_expr(T::UpdatedAt, Expr::value(now))
        .filter(T::Id.eq(task_id))
        .filter(T::CancelledAt.is_null())
        .exec(txn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(None);
    }
    Ok(Some(retire_open_cards(txn, task_id, CardStatus::Cancelled, now).await?))
}

/// Move every open card of a task to `to` (`expired` or `cancelled`); returns their ids.
async fn retire_open_cards<C: ConnectionTrait>(
    txn: &C,
    task_id: i64,
    to: CardStatus,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    use cards::Column as K;
    let ids: Vec<i64> = cards::Entity::find()
        .select_only()
        .column(K::Id)
        .filter(K::TaskId.eq(task_id))
        .filter(K::Status.eq(CardStatus::Open))
        .into_tuple()
        .all(txn)
        .await?;
    cards::Entity::update_many()
        .col_expr(K::Status, Expr::value(to))
        .col_expr(K::UpdatedAt, Expr::value(now))
        .filter(K::TaskId.eq(task_id))
        .filter(K::Status.eq(CardStatus::Open))
        .exec(txn)
        .await?;
    Ok(ids)
}

pub async fn find_task<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<tasks::Model>, DbErr> {
    by_key(tasks::Entity::find_by_id(id), db).await
}

pub async fn tasks_of_branch<C: ConnectionTrait>(
    db: &C,
    branch_id: i64,
    page: PageRequest,
) -> Result<Vec<tasks::Model>, DbErr> {
    let mut q = tasks::Entity::find().filter(tasks::Column::BranchId.eq(branch_id));
    if let Some(before) = page.after {
        q = q.filter(tasks::Column::Id.lt(before));
    }
    q.order_by_desc(tasks::Column::Id).limit(page.limit + 1).all(db).await
}

/// Cards per status for each task: task id → status → count.
pub async fn card_counts<C: ConnectionTrait>(
    db: &C,
    task_ids: &[i64],
) -> Result<HashMap<i64, HashMap<String, i64>>, DbErr> {
    if task_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, i64)> = cards::Entity::find()
        .select_only()
        .column(cards::Column::TaskId)
        .column(cards::Column::Status)
        .column_as(cards::Column::Id.count(), "n")
        .filter(cards::Column::TaskId.is_in(task_ids.iter().copied()))
        .group_by(cards::Column::TaskId)
        .group_by(cards::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<i64, HashMap<String, i64>> = HashMap::new();
    for (task, status, n) in rows {
        out.entry(task).or_default().insert(status, n);
    }
    Ok(out)
}

pub async fn find_card<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<cards::Model>, DbErr> {
    by_key(cards::Entity::find_by_id(id), db).await
}

/// A card with its task, in one query (the draw's read inside its transaction).
pub async fn find_card_with_task<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Option<(cards::Model, tasks::Model)>, DbErr> {
    let task_of_card =
        cards::Entity::belongs_to(tasks::Entity).from(cards::Column::TaskId).to(tasks::Column::Id).into();
    // `all`, not `one`: the id is the key, and a bound `LIMIT` is re-prepared on every run
    // (see `db::by_key`).
    let found = cards::Entity::find_by_id(id)
        .select_also(tasks::Entity)
        .join(JoinType::InnerJoin, task_of_card)
        .all(db)
        .await?;
    Ok(found.into_iter().next().and_then(|(card, task)| task.map(|task| (card, task))))
}

pub async fn find_claim<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<card_claims::Model>, DbErr> {
    by_key(card_claims::Entity::find_by_id(id), db).await
}

/// The newest claim of a card, optionally only this member's: the one with the highest id
/// (a `MAX` over the card's index rather than `ORDER BY … LIMIT ?`, see `db::by_key`).
pub async fn latest_claim<C: ConnectionTrait>(
    db: &C,
    card_id: i64,
    user_id: Option<i64>,
) -> Result<Option<card_claims::Model>, DbErr> {
    use card_claims::Column as K;
    let mut newest = Query::select();
    newest.expr(Expr::col(K::Id).max()).from(card_claims::Entity).and_where(K::CardId.eq(card_id));
    if let Some(user) = user_id {
        newest.and_where(K::UserId.eq(user));
    }
    by_key(card_claims::Entity::find().filter(K::Id.in_subquery(newest.to_owned())), db).await
}

/// Serialise one member's draws: on PostgreSQL this takes the member's row lock until
/// the transaction ends, so the count of active cards that follows cannot be raced. On
/// SQLite it is a no-op: `BEGIN IMMEDIATE` already lets one writer in at a time.
///
/// `FOR NO KEY UPDATE`, the lock an update of the row would take, without writing a new
/// version of the row on every draw.
pub async fn lock_member<C: ConnectionTrait>(txn: &C, user_id: i64) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Sqlite {
        return Ok(());
    }
    users::Entity::find_by_id(user_id)
        .select_only()
        .column(users::Column::Id)
        .lock(LockType::NoKeyUpdate)
        .into_tuple::<i64>()
        .all(txn)
        .await
        .map(drop)
}

/// Cards this member holds (claimed, not yet submitted) in this branch.
///
/// On PostgreSQL all the member's claims are read first and their branch and status
/// checked after (the `OFFSET 0` keeps those two out of the index search, so only the
/// member's index can serve it). With them among the conditions, the planner may take the
/// status or the branch index and walk every claim held in the county or made in the
/// branch: it does so whenever its statistics say no card is held or none was drawn in
/// that branch, as after a bulk load (a draw's count, 8,900 cards held: 7.6 ms by the
/// status index against 0.17 ms by the member's; in `make bench` 5.6 ms a count on average
/// with only the status fenced off, where draws did 367/s).
/// A member's held (drawn, not yet submitted) claims at a branch.
pub async fn held_claims<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    branch_id: i64,
) -> Result<Vec<card_claims::Model>, DbErr> {
    card_claims::Entity::find()
        .filter(card_claims::Column::UserId.eq(user_id))
        .filter(card_claims::Column::BranchId.eq(branch_id))
        .filter(card_claims::Column::Status.eq(ClaimStatus::Claimed))
        .all(db)
        .await
}

pub async fn active_claims<C: ConnectionTrait>(db: &C, user_id: i64, branch_id: i64) -> Result<u64, DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        let sql = "SELECT COUNT(*) AS held FROM (SELECT branch_id, status FROM card_claims \
                   WHERE user_id = $1 OFFSET 0) AS mine WHERE branch_id = $2 AND status = $3";
        let values = [user_id.into(), branch_id.into(), ClaimStatus::Claimed.to_value().into()];
        let row = db.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
        let held: i64 = row.map(|row| row.try_get("", "held")).transpose()?.unwrap_or(0);
        return Ok(u64::try_from(held).unwrap_or(0));
    }
    card_claims::Entity::find()
        .filter(card_claims::Column::UserId.eq(user_id))
        .filter(card_claims::Column::BranchId.eq(branch_id))
        .filter(card_claims::Column::Status.eq(ClaimStatus::Claimed))
        .count(db)
        .await
}

pub async fn insert_claim<C: ConnectionTrait>(
    txn: &C,
    card: &cards::Model,
    user_id: i64,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<card_claims::Model, DbErr> {
    let card_ref = (card.id, card.task_id, card.branch_id);
    claim_row(card_ref, user_id, ClaimStatus::Claimed, now, expires_at).insert(txn).await
}

/// A new claim of `card` (its id, task and branch) by `user_id`, in `status` (`claimed`;
/// `submitted` for bench data, with `submitted_at` = `claimed_at`).
pub fn claim_row(
    card: (i64, i64, i64),
    user_id: i64,
    status: ClaimStatus,
    claimed_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> card_claims::ActiveModel {
    card_claims::ActiveModel {
        card_id: Set(card.0),
        task_id: Set(card.1),
        branch_id: Set(card.2),
        user_id: Set(user_id),
        status: Set(status),
        claimed_at: Set(claimed_at),
        expires_at: Set(expires_at),
        submitted_at: Set((status == ClaimStatus::Submitted).then_some(claimed_at)),
        note: Set(None),
        media_ids: Set(serde_json::json!([])),
        reviewer_id: Set(None),
        review_comment: Set(None),
        ended_at: Set(None),
        ..Default::default()
    }
}

/// `open → claimed` for this claim; false if the card was not open.
pub async fn take_card<C: ConnectionTrait>(
    txn: &C,
    card_id: i64,
    claim: &card_claims::Model,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use cards::Column as K;
    let q = cards::Entity::update_many()
        .col_expr(K::UpdatedAt, Expr::value(now))
        .col_expr(K::Status, Expr::value(CardStatus::Claimed))
        .col_expr(K::HolderId, Expr::value(claim.user_id))
        .col_expr(K::ClaimId, Expr::value(claim.id));
    let res = q.filter(K::Id.eq(card_id)).filter(K::Status.eq(CardStatus::Open)).exec(txn).await?;
    Ok(res.rows_affected == 1)
}

/// An open card whose task has ended (`expired`) or was cancelled (`cancelled`) leaves
/// the pool for good; false if it was not open.
pub async fn retire_open_card<C: ConnectionTrait>(
    txn: &C,
    card_id: i64,
    to: CardStatus,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use cards::Column as K;
    let res = cards::Entity::update_many()
        .col_expr(K::UpdatedAt, Expr::value(now))
        .col_expr(K::Status, Expr::value(to))
        .filter(K::Id.eq(card_id))
        .filter(K::Status.eq(CardStatus::Open))
        .exec(txn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Move the card held under this claim from one status to another; `None` holder and
/// claim when it leaves its holder (back to open, or expired).
pub async fn move_card<C: ConnectionTrait>(
    txn: &C,
    card_id: i64,
    claim_id: i64,
    from: CardStatus,
    to: CardStatus,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use cards::Column as K;
    let mut q =
        cards::Entity::update_many().col_expr(K::Status, Expr::value(to)).col_expr(K::UpdatedAt, Expr::value(now));
    if matches!(to, CardStatus::Open | CardStatus::Expired | CardStatus::Cancelled) {
        q = q
            .col_expr(K::HolderId, Expr::value(Option::<i64>::None))
            .col_expr(K::ClaimId, Expr::value(Option::<i64>::None));
    }
    let res = q.filter(K::Id.eq(card_id)).filter(K::ClaimId.eq(claim_id)).filter(K::Status.eq(from)).exec(txn).await?;
    Ok(res.rows_affected == 1)
}

/// `claimed → submitted` while the claim is still live; false otherwise.
pub async fn submit_claim<C: ConnectionTrait>(
    txn: &C,
    claim_id: i64,
    note: Option<String>,
    media_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use card_claims::Column as Q;
    let res = card_claims::Entity::update_many()
        .col_expr(Q::Status, Expr::value(ClaimStatus::Submitted))
        .col_expr(Q::SubmittedAt, Expr::value(now))
        .col_expr(Q::Note, Expr::value(note))
        .col_expr(Q::MediaIds, Expr::value(serde_json::json!(media_ids)))
        .filter(Q::Id.eq(claim_id))
        .filter(Q::Status.eq(ClaimStatus::Claimed))
        .filter(Q::ExpiresAt.gt(now))
        .exec(txn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// End a claim: `from → to` (released, expired, approved, rejected); the claim as it is
/// now, or None if it had already moved on.
pub async fn end_claim<C: ConnectionTrait>(
    txn: &C,
    claim_id: i64,
    from: ClaimStatus,
    to: ClaimStatus,
    reviewer: Option<(i64, Option<String>)>,
    now: DateTime<Utc>,
) -> Result<Option<card_claims::Model>, DbErr> {
    use card_claims::Column as Q;
    let mut q =
        card_claims::Entity::update_many().col_expr(Q::Status, Expr::value(to)).col_expr(Q::EndedAt, Expr::value(now));
    if let Some((reviewer, comment)) = reviewer {
        q = q.col_expr(Q::ReviewerId, Expr::value(reviewer)).col_expr(Q::ReviewComment, Expr::value(comment));
    }
    let ended = q.filter(Q::Id.eq(claim_id)).filter(Q::Status.eq(from)).exec_with_returning(txn).await?;
    Ok(ended.into_iter().next())
}

pub async fn claims_of_user<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    status: Option<ClaimStatus>,
    page: PageRequest,
) -> Result<Vec<card_claims::Model>, DbErr> {
    let mut q = card_claims::Entity::find().filter(card_claims::Column::UserId.eq(user_id));
    if let Some(status) = status {
        q = q.filter(card_claims::Column::Status.eq(status));
    }
    if let Some(before) = page.after {
        q = q.filter(card_claims::Column::Id.lt(before));
    }
    q.order_by_desc(card_claims::Column::Id).limit(page.limit + 1).all(db).await
}

/// A branch's claims in one status, oldest first (the review queue is first come, first served).
pub async fn claims_of_branch<C: ConnectionTrait>(
    db: &C,
    branch_id: i64,
    status: ClaimStatus,
    page: PageRequest,
) -> Result<Vec<card_claims::Model>, DbErr> {
    let mut q = card_claims::Entity::find()
        .filter(card_claims::Column::BranchId.eq(branch_id))
        .filter(card_claims::Column::Status.eq(status));
    if let Some(after) = page.after {
        q = q.filter(card_claims::Column::Id.gt(after));
    }
    q.order_by_asc(card_claims::Column::Id).limit(page.limit + 1).all(db).await
}

pub async fn tasks_by_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<HashMap<i64, tasks::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = tasks::Entity::find().filter(tasks::Column::Id.is_in(ids.iter().copied())).all(db).await?;
    Ok(rows.into_iter().map(|t| (t.id, t)).collect())
}

/// Claims still `claimed` past their deadline, oldest first.
pub async fn overdue_claims<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<card_claims::Model>, DbErr> {
    card_claims::Entity::find()
        .filter(card_claims::Column::Status.eq(ClaimStatus::Claimed))
        .filter(card_claims::Column::ExpiresAt.lte(now))
        .order_by_asc(card_claims::Column::ExpiresAt)
        .limit(limit)
        .all(db)
        .await
}

/// Tasks that have ended but whose open cards are still in the pool.
pub async fn tasks_to_close<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<tasks::Model>, DbErr> {
    tasks::Entity::find()
        .filter(tasks::Column::ClosedAt.is_null())
        .filter(tasks::Column::ExpiresAt.lte(now))
        .limit(limit)
        .all(db)
        .await
}

/// Retire an ended task's open cards and mark it closed; returns the retired card ids.
pub async fn close_task<C: ConnectionTrait>(txn: &C, task_id: i64, now: DateTime<Utc>) -> Result<Vec<i64>, DbErr> {
    let ids = retire_open_cards(txn, task_id, CardStatus::Expired, now).await?;
    tasks::Entity::update_many()
        .col_expr(tasks::Column::ClosedAt, Expr::value(now))
        .filter(tasks::Column::Id.eq(task_id))
        .exec(txn)
        .await?;
    Ok(ids)
}

/// Branches that have ever had tasks (the only ones with pools).
pub async fn branches_with_tasks<C: ConnectionTrait>(db: &C) -> Result<Vec<i64>, DbErr> {
    tasks::Entity::find().select_only().column(tasks::Column::BranchId).distinct().into_tuple().all(db).await
}

/// Claim times of every task: task id → minutes.
pub async fn task_ttls<C: ConnectionTrait>(db: &C) -> Result<HashMap<i64, i32>, DbErr> {
    let rows: Vec<(i64, i32)> = tasks::Entity::find()
        .select_only()
        .column(tasks::Column::Id)
        .column(tasks::Column::ClaimTtlMinutes)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// (card id, task id, branch id) of cards in a status (in these branches, if given), in
/// id pages.
pub async fn cards_in_status<C: ConnectionTrait>(
    db: &C,
    status: CardStatus,
    branches: Option<&[i64]>,
    after: i64,
    limit: u64,
) -> Result<Vec<(i64, i64, i64)>, DbErr> {
    let mut q = cards::Entity::find();
    if let Some(branches) = branches {
        q = q.filter(cards::Column::BranchId.is_in(branches.iter().copied()));
    }
    q.select_only()
        .column(cards::Column::Id)
        .column(cards::Column::TaskId)
        .column(cards::Column::BranchId)
        .filter(cards::Column::Status.eq(status))
        .filter(cards::Column::Id.gt(after))
        .order_by_asc(cards::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// (card id, task id, branch id, claim deadline) of every claimed card (in these
/// branches, if given).
pub async fn live_claims<C: ConnectionTrait>(
    db: &C,
    branches: Option<&[i64]>,
) -> Result<Vec<(i64, i64, i64, DateTime<Utc>)>, DbErr> {
    let mut q = card_claims::Entity::find();
    if let Some(branches) = branches {
        q = q.filter(card_claims::Column::BranchId.is_in(branches.iter().copied()));
    }
    q.select_only()
        .column(card_claims::Column::CardId)
        .column(card_claims::Column::TaskId)
        .column(card_claims::Column::BranchId)
        .column(card_claims::Column::ExpiresAt)
        .filter(card_claims::Column::Status.eq(ClaimStatus::Claimed))
        .into_tuple()
        .all(db)
        .await
}

pub async fn cards_by_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<Vec<cards::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    cards::Entity::find().filter(cards::Column::Id.is_in(ids.iter().copied())).all(db).await
}
