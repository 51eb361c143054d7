//! Background work on cards, safe with several servers at once because every move is
//! conditional (SQL) or compare-and-set (Redis): claims past their deadline go back to
//! the pool, ended tasks leave it, leases whose draw never reached SQL (a process that
//! died between the pop and the commit) are returned, and pools owed a write that did not
//! land are rebuilt. Plus the pool step of `rebuild-redis`.
use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::domain::{parse_pool_member, pool_member, retired_status, CardStatus, ClaimStatus};
use super::{pool, store};
use crate::infra::db::{begin_snapshot, begin_write};
use crate::infra::pending::{self, PendingKind};
use crate::state::AppState;

const BATCH: u64 = 500;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub expired_claims: usize,
    pub closed_tasks: usize,
    pub orphans_returned: usize,
    /// Branches whose pool was rebuilt from SQL because a write it was owed did not land
    /// (`infra::pending`).
    pub pools_repaired: usize,
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
        let owed = pending::owe(&txn, PendingKind::Pool, claim.branch_id, now).await?;
        txn.commit().await?;
        let member = vec![pool_member(claim.card_id, task.claim_ttl_minutes)];
        report.expired_claims += 1;
        if to == CardStatus::Open {
            state.pending.settle(&[owed], pool::put_back(&state.redis, claim.branch_id, &member)).await?;
        } else {
            state.pending.settle(&[owed], pool::forget(&state.redis, claim.branch_id, &member)).await?;
        }
    }
    for task in store::tasks_to_close(&state.db, now, BATCH).await? {
        let txn = begin_write(&state.writer).await?;
        let retired = store::close_task(&txn, task.id, now).await?;
        let owed = pending::owe(&txn, PendingKind::Pool, task.branch_id, now).await?;
        txn.commit().await?;
        let members: Vec<String> = retired.iter().map(|id| pool_member(*id, task.claim_ttl_minutes)).collect();
        state.pending.settle(&[owed], pool::forget(&state.redis, task.branch_id, &members)).await?;
        report.closed_tasks += 1;
    }
    report.orphans_returned = return_orphans(state, now).await?;
    report.pools_repaired = repair_owed_pools(state).await?;
    Ok(report)
}

/// Branches owed a pool write that did not land (Redis failed, or the process died
/// between the commit and the write) once the record is due: each pool is rebuilt from
/// SQL as `rebuild-redis` does it (draws made meanwhile keep their leases), then the
/// records go. Safe with several servers at once: a rebuild twice is a rebuild.
async fn repair_owed_pools(state: &AppState) -> anyhow::Result<usize> {
    let settle = pending::settle_time(state.settings.redis_timeout_ms);
    let due = pending::due(&state.db, PendingKind::Pool, state.clock.now() - settle, BATCH).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let branches: Vec<i64> = due.iter().map(|r| r.target_id).collect::<BTreeSet<_>>().into_iter().collect();
    let (_, caught_up) = rebuild_branches(state, Some(&branches), None).await?;
    let txn = begin_write(&state.writer).await?;
    pending::remove(&txn, &due.iter().map(|r| r.id).collect::<Vec<_>>()).await?;
    txn.commit().await?;
    tracing::info!(?branches, caught_up, "card pools rebuilt after a write they were owed did not land");
    Ok(branches.len())
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

/// Both are read in one snapshot: a card is never seen open and claimed at once. Every
/// branch's, or these branches'.
async fn expected_pools(
    state: &AppState,
    branches: Option<&[i64]>,
    member: &impl Fn(i64, i64) -> String,
) -> anyhow::Result<ExpectedPools> {
    let txn = begin_snapshot(&state.db).await?;
    let mut open: HashMap<i64, Vec<String>> = HashMap::new();
    let mut after = 0;
    loop {
        let rows = store::cards_in_status(&txn, CardStatus::Open, branches, after, 10_000).await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (card, task, branch) in rows {
            open.entry(branch).or_default().push(member(card, task));
        }
    }
    let mut leases: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    for (card, task, branch, expires_at) in store::live_claims(&txn, branches).await? {
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
    let (mut open, mut leases) = expected_pools(state, None, &member_of(state).await?).await?;
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
    let (branches, _) = rebuild_branches(state, None, progress).await?;
    pool::mark_ready(&state.redis).await?;
    Ok(branches as u64 * 2)
}

/// Rebuild the pools of these branches (every branch's, for None) from SQL; returns how
/// many branches it rebuilt and how many cards the catch-up put back.
async fn rebuild_branches(
    state: &AppState,
    only: Option<&[i64]>,
    progress: Option<&indicatif::ProgressBar>,
) -> anyhow::Result<(usize, u64)> {
    let member = member_of(state).await?;
    let (open, leases) = expected_pools(state, only, &member).await?;
    let token = crate::infra::random::token_hex(6);
    let branches = match only {
        Some(branches) => branches.to_vec(),
        None => store::branches_with_tasks(&state.db).await?,
    };
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
    let (open_now, leases_now) = expected_pools(state, only, &member).await?;
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
    Ok((branches.len(), caught_up))
}
