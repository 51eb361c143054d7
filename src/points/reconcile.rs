//! Making Redis agree with the ledger: a full rebuild of every board from SQL, the
//! background repair of members whose post-commit board update did not land (failed, or
//! the process died first: `infra::pending`) or who were credited while a rebuild ran, and a read-only comparison (`verify-redis`). All are safe
//! with several app servers: rebuild runs under the rebuild lock, repair under its own
//! lock with a TTL, and repairs write absolute scores, so running one twice is harmless.
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use entity::orgs;

use super::boards::{self, path_ids};
use super::domain::{board_expiry, decode_score, encode_score, Metric, PeriodKind};
use super::store::{self, PeriodSum};
use crate::access::OrgKind;
use crate::infra::db;
use crate::infra::keys::Keys;
use crate::infra::pending::{self, PendingKind};
use crate::state::AppState;

/// (org, metric, period) → member → (points, latest moment in Unix seconds)
type Boards = HashMap<(i64, Metric, String), HashMap<i64, (i64, i64)>>;
/// (ancestor org, metric, period) → branch → total
type Totals = HashMap<(i64, Metric, String), HashMap<i64, i64>>;

/// (org, metric, interned period) → member → (points, latest moment in Unix seconds)
type RebuiltBoards = HashMap<(i64, Metric, u32), HashMap<i64, (i64, i64)>>;
/// (ancestor org, metric, interned period) → branch → total
type RebuiltTotals = HashMap<(i64, Metric, u32), HashMap<i64, i64>>;

/// One member's sums in one branch and period, with the latest moment each moved.
#[derive(Default, Clone, Copy)]
struct MemberSum {
    points: i64,
    points_at: i64,
    minutes: i64,
    minutes_at: i64,
}

/// Branch id → the orgs whose boards its entries reach (ancestors and itself).
async fn branch_reach<C: ConnectionTrait>(db: &C) -> Result<HashMap<i64, Vec<i64>>, sea_orm::DbErr> {
    let rows: Vec<(i64, String)> = orgs::Entity::find()
        .select_only()
        .column(orgs::Column::Id)
        .column(orgs::Column::Path)
        .filter(orgs::Column::Kind.eq(OrgKind::Branch.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, path)| (id, path_ids(&path))).collect())
}

fn live(period: &str, now: DateTime<Utc>) -> bool {
    board_expiry(period).is_none_or(|t| t > now)
}

fn fan_out(
    rows: Vec<PeriodSum>,
    reach: &HashMap<i64, Vec<i64>>,
    now: DateTime<Utc>,
    boards: &mut Boards,
    totals: &mut Totals,
) {
    for row in rows {
        if !live(&row.period, now) {
            continue;
        }
        let Some(orgs) = reach.get(&row.branch_id) else { continue };
        for (metric, sum, last) in [
            (Metric::Points, row.points, row.last_points_at),
            (Metric::VolunteerMinutes, row.minutes, row.last_minutes_at),
        ] {
            let Some(last) = last else { continue };
            for org in orgs {
                let entry =
                    boards.entry((*org, metric, row.period.clone())).or_default().entry(row.user_id).or_insert((0, 0));
                entry.0 += sum;
                entry.1 = entry.1.max(last);
                if *org != row.branch_id {
                    *totals.entry((*org, metric, row.period.clone())).or_default().entry(row.branch_id).or_insert(0) +=
                        sum;
                }
            }
        }
    }
}

fn score(points: i64, last: i64) -> f64 {
    encode_score(points, DateTime::from_timestamp(last, 0).unwrap_or_default())
}

/// How far before a rebuild's start its catch-up looks for entries (longer than any
/// transaction runs).
const CATCH_UP_MARGIN_SECS: i64 = 60;

/// Members written per Redis pipeline during a rebuild.
const PIPELINE_MEMBERS: usize = 50_000;
/// Ledger rows read per SQL page during a rebuild.
const PAGE_ROWS: u64 = 20_000;
/// Concurrent readers of the ledger during a rebuild.
const LEDGER_READERS: i64 = 3;

/// Every board and branch total as the ledger says they should be now.
struct Recomputed {
    boards: RebuiltBoards,
    totals: RebuiltTotals,
    /// Interned period names.
    names: Vec<String>,
    /// Every org some branch's entries reach: the orgs whose board versions move.
    orgs: BTreeSet<i64>,
}

impl Recomputed {
    fn len(&self) -> usize {
        self.boards.len() + self.totals.len()
    }

    /// Each key with its members and scores, as written to Redis.
    fn into_keyed(self, keys: &Keys) -> impl Iterator<Item = (String, Vec<(i64, f64)>)> + '_ {
        let names = std::sync::Arc::new(self.names);
        let board_names = names.clone();
        let boards = self.boards.into_iter().map(move |((org, metric, id), members)| {
            let key = keys.board(org, metric.as_str(), &board_names[id as usize]);
            (key, members.into_iter().map(|(u, (p, last))| (u, score(p, last))).collect())
        });
        let totals = self.totals.into_iter().map(move |((org, metric, id), branches)| {
            let key = keys.branch_totals(org, metric.as_str(), &names[id as usize]);
            (key, branches.into_iter().map(|(b, t)| (b, t as f64)).collect())
        });
        boards.chain(totals)
    }
}

/// The ledger's board rows, read by `LEDGER_READERS` tasks over disjoint id ranges (each
/// on its own connection of a scan pool, `db::connect_scan`, so SQLite steps and decodes
/// rows on several threads), in pages of `PAGE_ROWS` as they come. Order does not matter:
/// sums and maxima commute.
async fn read_ledger(
    state: &AppState,
) -> anyhow::Result<tokio::sync::mpsc::Receiver<Result<Vec<store::BoardRow>, sea_orm::DbErr>>> {
    let max_id = store::max_ledger_id(&state.db).await?;
    let span = max_id / LEDGER_READERS + 1;
    let scan = db::connect_scan(&state.settings.database_url, LEDGER_READERS as u32, &state.db).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(2 * LEDGER_READERS as usize);
    for reader in 0..LEDGER_READERS {
        let (db, tx) = (scan.clone(), tx.clone());
        let (mut after, upto) = (reader * span, (reader + 1) * span);
        tokio::spawn(async move {
            loop {
                let page = store::board_rows_page(&db, after, upto, PAGE_ROWS).await;
                match page.as_ref().map(|rows| rows.last().map(|row| row.0)) {
                    Ok(Some(last)) => after = last,
                    Ok(None) => break,
                    Err(_) => {
                        let _ = tx.send(page).await;
                        break;
                    }
                }
                if tx.send(page).await.is_err() {
                    break;
                }
            }
        });
    }
    Ok(rx)
}

/// One pass over the ledger feeds the boards of every live period.
async fn recompute(state: &AppState) -> anyhow::Result<Recomputed> {
    let started = std::time::Instant::now();
    let now = state.clock.now();
    let reach = branch_reach(&state.db).await?;

    // The periods of each Shanghai day, interned to small ids; None marks an expired one.
    let mut day_periods: HashMap<i64, [Option<u32>; 4]> = HashMap::new();
    let mut period_ids: HashMap<String, Option<u32>> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut sums: HashMap<(i64, i64, u32), MemberSum> = HashMap::new();
    let mut streamed = 0u64;
    let mut sql_wait = std::time::Duration::ZERO;
    let mut pages = read_ledger(state).await?;
    loop {
        let t = std::time::Instant::now();
        let Some(page) = pages.recv().await else { break };
        sql_wait += t.elapsed();
        let page = page?;
        streamed += page.len() as u64;
        for (_, user, branch, points, minutes, epoch) in page {
            let day = (epoch + 8 * 3600).div_euclid(86_400);
            let ids = *day_periods.entry(day).or_insert_with(|| {
                let at = DateTime::from_timestamp(epoch, 0).unwrap_or_default();
                PeriodKind::ALL.map(|kind| {
                    let period = super::domain::period_key(kind, at);
                    *period_ids.entry(period.clone()).or_insert_with(|| {
                        live(&period, now).then(|| {
                            names.push(period);
                            names.len() as u32 - 1
                        })
                    })
                })
            });
            for id in ids.into_iter().flatten() {
                let s = sums.entry((user, branch, id)).or_default();
                if points != 0 {
                    s.points += points;
                    s.points_at = s.points_at.max(epoch);
                }
                if minutes != 0 {
                    s.minutes += minutes;
                    s.minutes_at = s.minutes_at.max(epoch);
                }
            }
        }
    }
    tracing::debug!(streamed, aggregated = ?started.elapsed(), ?sql_wait, "ledger aggregated");
    // Fan each member's sums out to the boards of their branch and its ancestors.
    let mut boards_map = RebuiltBoards::new();
    let mut totals = RebuiltTotals::new();
    for ((user, branch, id), s) in sums {
        let Some(orgs) = reach.get(&branch) else { continue };
        for (metric, sum, last) in
            [(Metric::Points, s.points, s.points_at), (Metric::VolunteerMinutes, s.minutes, s.minutes_at)]
        {
            if last == 0 {
                continue;
            }
            for org in orgs {
                let entry = boards_map.entry((*org, metric, id)).or_default().entry(user).or_insert((0, 0));
                entry.0 += sum;
                entry.1 = entry.1.max(last);
                if *org != branch {
                    *totals.entry((*org, metric, id)).or_default().entry(branch).or_insert(0) += sum;
                }
            }
        }
    }
    tracing::debug!(fanned_out = ?started.elapsed(), "boards recomputed");
    let orgs = reach.into_values().flatten().collect();
    Ok(Recomputed { boards: boards_map, totals, names, orgs })
}

/// Record these members for a repair in a later pass (`reconcile_once`).
async fn repair_later(state: &AppState, users: &[i64]) -> anyhow::Result<()> {
    let now = state.clock.now();
    for chunk in users.chunks(500) {
        let txn = db::begin_write(&state.writer).await?;
        for user in chunk {
            pending::owe(&txn, PendingKind::Board, *user, now).await?;
        }
        txn.commit().await?;
    }
    Ok(())
}

/// Recompute every board and branch total from the ledger, replacing each key whole,
/// and drop board keys the ledger no longer supports; returns how many keys it wrote.
pub async fn rebuild_boards(state: &AppState, progress: Option<&ProgressBar>) -> anyhow::Result<u64> {
    let started = std::time::Instant::now();
    // Entries committed while this runs may be missed by the read below, or counted and
    // then bumped again; their members are repaired once the rebuild is in place.
    let catch_up_since = (state.clock.now() - chrono::Duration::seconds(CATCH_UP_MARGIN_SECS)).timestamp();
    let keys = state.redis.keys();
    let mut conn = state.redis.conn().await?;
    let before: HashSet<String> = boards::existing_keys(&mut conn, keys).await?.into_iter().collect();
    let token = crate::infra::random::token_hex(6);
    let mut recomputed = recompute(state).await?;
    let orgs = std::mem::take(&mut recomputed.orgs);
    if let Some(bar) = progress {
        bar.set_length(recomputed.len() as u64);
    }
    let mut written = HashSet::new();
    let mut batch: Vec<(String, Vec<(i64, f64)>)> = Vec::new();
    let mut batch_members = 0;
    let mut redis_wait = std::time::Duration::ZERO;
    for (key, members) in recomputed.into_keyed(keys) {
        batch_members += members.len() + 1;
        written.insert(key.clone());
        batch.push((key, members));
        if batch_members >= PIPELINE_MEMBERS {
            let t = std::time::Instant::now();
            boards::replace_many(&mut conn, &batch, &token).await?;
            redis_wait += t.elapsed();
            if let Some(bar) = progress {
                bar.inc(batch.len() as u64);
            }
            batch.clear();
            batch_members = 0;
        }
    }
    boards::replace_many(&mut conn, &batch, &token).await?;
    if let Some(bar) = progress {
        bar.inc(batch.len() as u64);
    }
    let stale: Vec<&String> = before.difference(&written).collect();
    for chunk in stale.chunks(500) {
        let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await?;
    }
    // Servers keep board pages by version: move every org's, now that its boards are new.
    boards::bump_versions_of(&mut conn, keys, orgs).await?;
    let recent = store::credited_since(&state.db, catch_up_since, None).await?;
    repair_later(state, &recent).await?;
    tracing::info!(total = ?started.elapsed(), ?redis_wait, keys = written.len(), catch_up = recent.len(), "rebuilt leaderboards");
    Ok(written.len() as u64)
}

/// What `verify_boards` found.
#[derive(Debug, Default)]
pub struct BoardCheck {
    pub keys: u64,
    pub members: u64,
    /// Keys whose members or scores differ from the recomputation, each with one
    /// differing member: (key, member, expected points, found points).
    pub mismatched: Vec<(String, i64, Option<i64>, Option<i64>)>,
    /// Keys in Redis the ledger does not support.
    pub unexpected: Vec<String>,
}

/// Compare every board and branch total in Redis with a fresh recomputation from the
/// ledger, writing nothing. Points and tie-break order are both compared (the score).
pub async fn verify_boards(state: &AppState) -> anyhow::Result<BoardCheck> {
    let keys = state.redis.keys();
    let mut conn = state.redis.conn().await?;
    let present: HashSet<String> = boards::existing_keys(&mut conn, keys).await?.into_iter().collect();
    let recomputed = recompute(state).await?;
    let mut check = BoardCheck::default();
    let mut expected_keys = HashSet::new();
    let mut batch: Vec<(String, Vec<(i64, f64)>)> = Vec::new();
    let mut pending = recomputed.into_keyed(keys).peekable();
    while pending.peek().is_some() {
        batch.clear();
        batch.extend(pending.by_ref().take(200));
        let mut pipe = redis::pipe();
        for (key, _) in &batch {
            pipe.cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES");
        }
        let found: Vec<Vec<(i64, f64)>> = pipe.query_async(&mut conn).await?;
        for ((key, expected), found) in batch.iter().zip(found) {
            check.keys += 1;
            check.members += expected.len() as u64;
            expected_keys.insert(key.clone());
            let expected: HashMap<i64, f64> = expected.iter().copied().collect();
            let found: HashMap<i64, f64> = found.into_iter().collect();
            if expected != found {
                let member = expected.iter().find(|(m, s)| found.get(m) != Some(s)).map(|(m, _)| *m);
                let member = member.or_else(|| found.keys().find(|m| !expected.contains_key(m)).copied());
                let member = member.unwrap_or_default();
                let points = |scores: &HashMap<i64, f64>| scores.get(&member).map(|s| decode_score(*s));
                check.mismatched.push((key.clone(), member, points(&expected), points(&found)));
            }
        }
    }
    check.unexpected = present.difference(&expected_keys).cloned().collect();
    Ok(check)
}

/// Recompute these members' scores on every board (and their branches' totals, once per
/// branch) from SQL.
pub async fn repair_users(state: &AppState, user_ids: &[i64]) -> anyhow::Result<()> {
    let now = state.clock.now();
    let reach = branch_reach(&state.db).await?;
    let keys = state.redis.keys();
    let mut writes = Vec::new();
    let mut orgs = BTreeSet::new();
    let mut branches = HashSet::new();
    for (user_id, kind) in user_ids.iter().flat_map(|u| PeriodKind::ALL.map(|k| (*u, k))) {
        let rows = store::period_sums(&state.db, kind, Some(user_id)).await?;
        branches.extend(rows.iter().map(|r| r.branch_id));
        let (mut boards_map, mut ignored) = (Boards::new(), Totals::new());
        fan_out(rows, &reach, now, &mut boards_map, &mut ignored);
        for ((org, metric, period), members) in boards_map {
            orgs.insert(org);
            for (member, (points, last)) in members {
                writes.push((keys.board(org, metric.as_str(), &period), member, score(points, last)));
            }
        }
    }
    for branch in branches {
        for kind in PeriodKind::ALL {
            let rows = store::branch_period_sums(&state.db, kind, branch).await?;
            for row in rows.into_iter().filter(|r| live(&r.period, now)) {
                let ancestors = reach.get(&branch).map(|o| o.as_slice()).unwrap_or_default();
                // As the rebuild and the increments do: a metric no entry moved has no total.
                let moved = [
                    (Metric::Points, row.points, row.points_moves),
                    (Metric::VolunteerMinutes, row.minutes, row.minutes_moves),
                ];
                for org in ancestors.iter().filter(|o| **o != branch) {
                    for (metric, total, moves) in moved {
                        if moves > 0 {
                            writes.push((keys.branch_totals(*org, metric.as_str(), &row.period), branch, total as f64));
                        }
                    }
                }
            }
        }
    }
    boards::set_scores(&state.redis, &writes, &orgs).await?;
    Ok(())
}

/// How long one reconcile pass may repair (its lock lives 60 s).
const REPAIR_BUDGET: Duration = Duration::from_secs(30);

/// One pass of the background reconciler: repair the members whose board bumps are due
/// and not cleared (`infra::pending`: the bump failed, or the process died before it);
/// a lost epoch is `maintenance::spawn_epoch_watch`'s. Only one server does it at a time.
pub async fn reconcile_once(state: &AppState) -> anyhow::Result<usize> {
    let keys = state.redis.keys();
    let mut conn = state.redis.conn().await?;
    let locked: Option<String> =
        redis::cmd("SET").arg(keys.reconcile_lock()).arg(1).arg("NX").arg("EX").arg(60).query_async(&mut conn).await?;
    if locked.is_none() {
        return Ok(0);
    }
    let result = async {
        // Boards move by increments after commit, a repair writes absolute scores: a
        // record is repaired only once the increment it stands for has landed or failed.
        let settle = pending::settle_time(state.settings.redis_timeout_ms);
        let started = std::time::Instant::now();
        let mut repaired = 0;
        // Batches until none is due, within the lock's lifetime.
        while started.elapsed() < REPAIR_BUDGET {
            let due = pending::due(&state.db, PendingKind::Board, state.clock.now() - settle, 500).await?;
            if due.is_empty() {
                break;
            }
            let users: Vec<i64> = due.iter().map(|r| r.target_id).collect::<BTreeSet<_>>().into_iter().collect();
            // A credit committed just before the repair reads SQL may have its increment
            // land just after the repair writes: counted twice. Members credited around
            // the repair are therefore recorded again, for a later pass.
            let read_from = (state.clock.now() - settle).timestamp() - 1;
            repair_users(state, &users).await?;
            let ids: Vec<i64> = due.iter().map(|r| r.id).collect();
            let again = store::credited_since(&state.db, read_from, Some(&users)).await?;
            let txn = db::begin_write(&state.writer).await?;
            pending::remove(&txn, &ids).await?;
            let now = state.clock.now();
            for user in again {
                pending::owe(&txn, PendingKind::Board, user, now).await?;
            }
            txn.commit().await?;
            repaired += users.len();
        }
        anyhow::Ok(repaired)
    }
    .await;
    let _: () = redis::cmd("DEL").arg(keys.reconcile_lock()).query_async(&mut conn).await?;
    result
}
