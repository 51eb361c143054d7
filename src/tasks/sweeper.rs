//! Background work on cards, safe with several servers at once because every move is
//! conditional (SQL) or compare-and-set (Redis): claims past their deadline go back to
//! the pool, ended tasks leave it, and leases whose draw never reached SQL (a process
//! that died between the pop and the commit) are returned. Plus the pool step of
//! `rebuild-redis`.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::domain::{parse_pool_member, pool_member, retired_status, CardStatus, ClaimStatus};
use super::{pool, store};
use crate::infra::db::{begin_snapshot, begin_write};
use crate::state::AppState;

const BATCH: u64 = 500;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub expired_claims: usize,
    pub closed_tasks: usize,
    pub orphans_returned: usize,
    /// Open cards put back into pools marked after a failed write.
    pub cards_restored: u64,
}

pub async fn sweep_once(state: &AppState) -> anyhow::Result<SweepReport> {
    let now = state.clock.now();
    let mut report = SweepReport::default();
    for claim in store::overdue_claims(&state.db, now, BATCH).await? {
        let Some(task) = store::find_task(&state.db, claim.task_id).await? else { continue };
        let txn = begin_write(&state.writer).await?;
        if store::end_claim(&txn, claim.id, ClaimStatus::Claimed, ClaimStatus::Expired, None, now).await?.is_none() {
            continue;
        }
        let to = retired_status(task.cancelled_at, task.expires_at, now).unwrap_or(CardStatus::Open);
        store::move_card(&txn, claim.card_id, claim.id, CardStatus::Claimed, to, now).await?;
        txn.commit().await?;
        let member = vec![pool_member(claim.card_id, task.claim_ttl_minutes)];
        report.expired_claims += 1;
        if to == CardStatus::Open {
            if let Err(err) = pool::put_back(&state.redis, claim.branch_id, &member).await {
                mark_pool(state, claim.branch_id, &err).await;
                return Err(err.into());
            }
        } else {
            pool::forget(&state.redis, claim.branch_id, &member).await?;
        }
    }
    for task in store::tasks_to_close(&state.db, now, BATCH).await? {
        let txn = begin_write(&state.writer).await?;
        let retired = store::close_task(&txn, task.id, now).await?;
        txn.commit().await?;
        let members: Vec<String> = retired.iter().map(|id| pool_member(*id, task.claim_ttl_minutes)).collect();
        pool::forget(&state.redis, task.branch_id, &members).await?;
        report.closed_tasks += 1;
    }
    report.orphans_returned = return_orphans(state, now).await?;
    report.cards_restored = repair_marked_pools(state).await?;
    Ok(report)
}

/// Pools marked after a failed write (`mark_pool`) get their missing open cards back;
/// then the mark is cleared unless it was renewed meanwhile. Idempotent, so several
/// servers may do it at once.
async fn repair_marked_pools(state: &AppState) -> anyhow::Result<u64> {
    let marks = store::pool_dirty_marks(&state.db, BATCH).await?;
    if marks.is_empty() {
        return Ok(0);
    }
    let member = member_of(state).await?;
    let mut restored = 0;
    for mark in marks {
        let cards = store::open_cards_in_branch(&state.db, mark.branch_id).await?;
        let members: Vec<String> = cards.into_iter().map(|(card, task)| member(card, task)).collect();
        let now_ms = state.clock.now().timestamp_millis();
        let added = pool::restore(&state.redis, mark.branch_id, &members, now_ms).await?;
        store::clear_pool_mark(&state.db, mark.branch_id, mark.marked_at).await?;
        if added > 0 {
            tracing::info!(branch_id = mark.branch_id, added, "open cards restored to a pool");
        }
        restored += added;
    }
    Ok(restored)
}

/// After a committed card move whose pool write failed: remember the branch, so the
/// sweeper puts its open cards back once Redis answers.
pub async fn mark_pool(state: &AppState, branch_id: i64, err: &redis::RedisError) {
    tracing::warn!(error = %err, branch_id, "card pool not updated; marked for repair");
    if let Err(db_err) = store::mark_pool_dirty(&state.db, branch_id, state.clock.now()).await {
        tracing::error!(error = %db_err, branch_id, "could not mark a card pool for repair; run rebuild-redis");
    }
}

/// Leases past their deadline that SQL does not explain: a card still open in SQL was
/// popped by a draw that never committed, so it goes back (only if the lease is still
/// the one seen); a live claim gets its true deadline; anything else loses its lease.
async fn return_orphans(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let branches = store::branches_with_tasks(&state.db).await?;
    let mut returned = 0;
    for chunk in branches.chunks(200) {
        let due = pool::leases_due(&state.redis, chunk, now.timestamp_millis(), 100).await?;
        let ids: Vec<i64> = due.iter().filter_map(|(_, m, _)| parse_pool_member(m).map(|(id, _)| id)).collect();
        let cards: HashMap<i64, _> =
            store::cards_by_ids(&state.db, &ids).await?.into_iter().map(|c| (c.id, c)).collect();
        for (branch, member, deadline) in due {
            let card = parse_pool_member(&member).and_then(|(id, _)| cards.get(&id));
            match card.map(|c| (c.status, c.claim_id)) {
                Some((CardStatus::Open, _)) => {
                    if pool::expire_lease(&state.redis, branch, &member, deadline).await? {
                        returned += 1;
                    }
                }
                Some((CardStatus::Claimed, Some(claim_id))) => {
                    if let Some(claim) = store::find_claim(&state.db, claim_id).await? {
                        if claim.expires_at > now {
                            pool::set_lease(&state.redis, branch, &member, claim.expires_at.timestamp_millis()).await?;
                        }
                    }
                }
                _ => pool::drop_lease(&state.redis, branch, &member).await?,
            }
        }
    }
    Ok(returned)
}

/// What `verify_pools` found: branches whose pool or leases differ from SQL.
#[derive(Debug, Default)]
pub struct PoolCheck {
    pub branches: u64,
    pub open_cards: u64,
    pub leases: u64,
    pub mismatched: Vec<i64>,
}

/// Per branch, what SQL says its pool holds (the open cards) and its leases (the live
/// claims, with their deadlines in ms), as pool members.
type ExpectedPools = (HashMap<i64, Vec<String>>, HashMap<i64, Vec<(String, i64)>>);

/// Both are read in one snapshot: a card is never seen open and claimed at once.
async fn expected_pools(state: &AppState, member: &impl Fn(i64, i64) -> String) -> anyhow::Result<ExpectedPools> {
    let txn = begin_snapshot(&state.db).await?;
    let mut open: HashMap<i64, Vec<String>> = HashMap::new();
    let mut after = 0;
    loop {
        let rows = store::cards_in_status(&txn, CardStatus::Open, after, 10_000).await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (card, task, branch) in rows {
            open.entry(branch).or_default().push(member(card, task));
        }
    }
    let mut leases: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    for (card, task, branch, expires_at) in store::live_claims(&txn).await? {
        leases.entry(branch).or_default().push((member(card, task), expires_at.timestamp_millis()));
    }
    txn.commit().await?;
    Ok((open, leases))
}

/// The pool member of a card: its id and its task's claim TTL.
async fn member_of(state: &AppState) -> anyhow::Result<impl Fn(i64, i64) -> String> {
    let ttls = store::task_ttls(&state.db).await?;
    Ok(move |card: i64, task: i64| pool_member(card, ttls.get(&task).copied().unwrap_or(60)))
}

/// Compare every branch's pool with its open cards in SQL, and its leases with the live
/// claims (card and deadline), writing nothing.
pub async fn verify_pools(state: &AppState) -> anyhow::Result<PoolCheck> {
    let (mut open, mut leases) = expected_pools(state, &member_of(state).await?).await?;
    let keys = state.redis.keys();
    let mut conn = state.redis.conn().await?;
    let mut check = PoolCheck::default();
    for branch in store::branches_with_tasks(&state.db).await? {
        let (pool, held): (HashSet<String>, Vec<(String, f64)>) = redis::pipe()
            .cmd("SMEMBERS")
            .arg(keys.pool(branch))
            .cmd("ZRANGE")
            .arg(keys.leases(branch))
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await?;
        let held: HashMap<String, i64> = held.into_iter().map(|(m, s)| (m, s as i64)).collect();
        let want_open: HashSet<String> = open.remove(&branch).unwrap_or_default().into_iter().collect();
        let want_held: HashMap<String, i64> = leases.remove(&branch).unwrap_or_default().into_iter().collect();
        check.branches += 1;
        check.open_cards += want_open.len() as u64;
        check.leases += want_held.len() as u64;
        if pool != want_open || held != want_held {
            check.mismatched.push(branch);
        }
    }
    Ok(check)
}

/// Rebuild every branch's pool and leases from SQL. Each branch's keys are built aside
/// from a snapshot and swapped over the live ones (`pool::replace`; draws made meanwhile
/// keep their leases). Cards that moved while that happened are put right by a
/// catch-up: a second read of SQL, compared with the snapshot card by card. (Comparing
/// states, not `updated_at`: a move's time is taken before its transaction commits, so
/// a move can commit after the snapshot with a time before it.)
pub async fn rebuild_pools(state: &AppState, progress: Option<&indicatif::ProgressBar>) -> anyhow::Result<u64> {
    let member = member_of(state).await?;
    let (open, leases) = expected_pools(state, &member).await?;
    let token = crate::infra::random::token_hex(6);
    let branches = store::branches_with_tasks(&state.db).await?;
    if let Some(bar) = progress {
        bar.set_length(branches.len() as u64);
    }
    let empty = Vec::new();
    for branch in &branches {
        pool::replace(
            &state.redis,
            *branch,
            open.get(branch).unwrap_or(&empty),
            leases.get(branch).map(Vec::as_slice).unwrap_or_default(),
            &token,
            state.clock.now().timestamp_millis(),
        )
        .await?;
        if let Some(bar) = progress {
            bar.inc(1);
        }
    }
    let (open_now, leases_now) = expected_pools(state, &member).await?;
    let mut caught_up = 0;
    for branch in &branches {
        let was_open: HashSet<&String> = open.get(branch).into_iter().flatten().collect();
        let was_held: HashMap<&String, i64> = leases.get(branch).into_iter().flatten().map(|(m, d)| (m, *d)).collect();
        let is_open: HashSet<&String> = open_now.get(branch).into_iter().flatten().collect();
        let is_held: HashSet<&String> = leases_now.get(branch).into_iter().flatten().map(|(m, _)| m).collect();
        let reopened: Vec<(String, Option<i64>)> = is_open
            .iter()
            .filter(|m| !was_open.contains(*m))
            .map(|m| ((*m).clone(), was_held.get(*m).copied()))
            .collect();
        let ended: Vec<(String, i64)> = was_held
            .iter()
            .filter(|(m, _)| !is_open.contains(*m) && !is_held.contains(*m))
            .map(|(m, d)| ((*m).clone(), *d))
            .collect();
        caught_up += pool::catch_up(&state.redis, *branch, &reopened, &ended).await?;
    }
    if caught_up > 0 {
        tracing::info!(caught_up, "cards returned to their pools while the pools were rebuilt");
    }
    pool::mark_ready(&state.redis).await?;
    Ok(branches.len() as u64 * 2)
}
