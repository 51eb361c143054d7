//! The ledger's rules. `post_entry` is the ONE function that writes the ledger: cards,
//! volunteer logs and adjustments all credit through it, inside their own transaction,
//! and call `publish` after commit to move the leaderboards.
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use entity::{orgs, points_ledger};

use super::boards::{self, path_ids, BoardUpdate};
use super::domain::{period_key, LedgerKind, Metric, NewEntry, PeriodKind};
use super::store;
use crate::access;
use crate::access::{Caller, OrgKind, Role};
use crate::audit::{self, AuditEntry};
use crate::error::{AppError, ErrorCode, FieldErrors, Result};
use crate::idempotency::{self, IdempotencyKey};
use crate::infra::db::begin_write;
use crate::infra::pending::{self, Owed, PendingKind};
use crate::members::service as members_service;
use crate::orgs::service as orgs_service;
use crate::pagination::{Page, PageQuery, PageRequest};
use crate::stars::Star;
use crate::state::AppState;

pub const INSUFFICIENT_POINTS: AppError =
    AppError::Conflict { code: ErrorCode::InsufficientPoints, message: "积分余额不足" };

/// Write one ledger entry and its summary change in the caller's transaction, with the
/// record that Redis owes the boards a bump (`infra::pending`). Returns the board update
/// to publish after commit, or None when an entry with the same idempotency
/// key already exists (nothing is credited twice). A deduction that would take the
/// balance below zero fails with 409 `insufficient_points`.
pub async fn post_entry<C: ConnectionTrait>(
    txn: &C,
    entry: &NewEntry,
    branch_path: &str,
    at: DateTime<Utc>,
) -> Result<Option<BoardUpdate>> {
    let Some(row) = store::insert_entry(txn, entry, at).await? else {
        return Ok(None);
    };
    if !store::apply_to_summary(txn, entry, at).await? {
        return Err(INSUFFICIENT_POINTS);
    }
    if !entry.kind.counts_on_boards() {
        return Ok(None);
    }
    let owed = pending::owe(txn, PendingKind::Board, row.user_id, at).await?;
    Ok(Some(BoardUpdate {
        owed,
        user_id: row.user_id,
        branch_id: row.branch_id,
        org_ids: path_ids(branch_path),
        delta_points: row.delta_points,
        delta_minutes: row.delta_minutes,
        at: row.created_at,
    }))
}

/// After commit: move the boards. If Redis fails (or the process dies first) the
/// request has still succeeded: the records `post_entry` wrote stay, and the reconciler
/// repairs those members from the ledger once they are due (`infra::pending`).
pub async fn publish(state: &AppState, updates: &[BoardUpdate]) {
    if updates.is_empty() {
        return;
    }
    let owed: Vec<Owed> = updates.iter().map(|u| u.owed).collect();
    // A failure is logged where it happens; its repair is already recorded.
    let _ = state.pending.settle(&owed, boards::bump(&state.redis, updates)).await;
}

/// A member's balance as committed (0 for someone never credited).
pub async fn balance<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<i64> {
    Ok(store::summary(db, user_id).await?.map_or(0, |s| s.balance))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PointsView {
    pub balance: i64,
    pub earned_total: i64,
    pub volunteer_minutes_total: i64,
    /// Net points earned per star; every star is present.
    #[schema(value_type = Object)]
    pub by_star: BTreeMap<String, i64>,
}

pub async fn my_points(state: &AppState, caller: &Caller) -> Result<PointsView> {
    let summary = store::summary(&state.db, caller.user_id).await?;
    let by_star = Star::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), summary.as_ref().map_or(0, |m| store::star_points(m, *s))))
        .collect();
    Ok(PointsView {
        balance: summary.as_ref().map_or(0, |s| s.balance),
        earned_total: summary.as_ref().map_or(0, |s| s.earned_total),
        volunteer_minutes_total: summary.as_ref().map_or(0, |s| s.volunteer_minutes_total),
        by_star,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntryView {
    pub id: i64,
    pub delta_points: i64,
    pub delta_minutes: i64,
    pub star: Option<Star>,
    /// `task`, `volunteer`, `adjust` or `redeem`.
    pub kind: String,
    /// What caused it, e.g. `volunteer_log:12`, `card:7`, `adjust:…`.
    #[serde(rename = "ref")]
    pub reference: String,
    pub branch_id: i64,
    pub created_at: DateTime<Utc>,
    pub note: Option<String>,
}

impl From<points_ledger::Model> for LedgerEntryView {
    fn from(m: points_ledger::Model) -> Self {
        LedgerEntryView {
            id: m.id,
            delta_points: m.delta_points,
            delta_minutes: m.delta_minutes,
            star: m.star.as_deref().and_then(Star::parse),
            kind: m.kind,
            reference: format!("{}:{}", m.ref_type, m.ref_id),
            branch_id: m.branch_id,
            created_at: m.created_at,
            note: m.note,
        }
    }
}

pub async fn my_ledger(state: &AppState, caller: &Caller, page: PageRequest) -> Result<Page<LedgerEntryView>> {
    let rows = store::entries_of(&state.db, caller.user_id, page).await?;
    Ok(Page::from_rows(rows, page, |r| r.id, LedgerEntryView::from))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct BoardQuery {
    /// `points` (default) or `volunteer_minutes`.
    #[param(value_type = Option<Metric>)]
    pub metric: Option<String>,
    /// `week` (default), `month`, `year` or `all`; Asia/Shanghai calendar, ISO weeks.
    #[param(value_type = Option<PeriodKind>)]
    pub period: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

struct ParsedBoardQuery {
    metric: Metric,
    period: PeriodKind,
    limit: u64,
}

impl BoardQuery {
    fn parse(&self) -> Result<ParsedBoardQuery> {
        let mut fields = FieldErrors::new();
        let metric = Metric::parse(self.metric.as_deref().unwrap_or("points"));
        if metric.is_none() {
            fields.insert("metric".into(), "须为 points 或 volunteer_minutes".into());
        }
        let period = PeriodKind::parse(self.period.as_deref().unwrap_or("week"));
        if period.is_none() {
            fields.insert("period".into(), "须为 week、month、year 或 all".into());
        }
        let limit = self.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            fields.insert("limit".into(), "须在 1 到 100 之间".into());
        }
        match (metric, period) {
            (Some(metric), Some(period)) if fields.is_empty() => Ok(ParsedBoardQuery { metric, period, limit }),
            _ => Err(AppError::Validation(fields)),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoardEntry {
    pub rank: u64,
    pub user_id: i64,
    pub display_name: String,
    pub score: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyRank {
    /// Null when the caller has nothing in the period.
    pub rank: Option<u64>,
    pub score: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoardView {
    pub period_key: String,
    // `[BoardEntry]`, kept serialised with the page (`BoardPages`): a page read thousands
    // of times between two credits is written out once.
    #[schema(value_type = Vec<BoardEntry>)]
    #[serde(serialize_with = "raw_json")]
    pub entries: Arc<RawValue>,
    /// The caller's place: `{rank: null, score: 0}` for a member of the subtree with nothing
    /// in the period; null only for staff who are not members of it.
    pub me: Option<MyRank>,
}

fn raw_json<S: serde::Serializer>(raw: &Arc<RawValue>, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    raw.as_ref().serialize(serializer)
}

/// Visible to anyone holding a role in the org's subtree or above it. Boards are the
/// hottest read, so the org comes from the per-process cache and the caller's reach is
/// checked in memory (the same `Scope` rule the SQL filter applies).
async fn board_org(state: &AppState, caller: &Caller, org_id: i64) -> Result<orgs::Model> {
    access::reachable(state, caller, org_id).await
}

pub async fn leaderboard(state: &AppState, caller: &Caller, org_id: i64, q: BoardQuery) -> Result<BoardView> {
    let q = q.parse()?;
    let org = board_org(state, caller, org_id).await?;
    let period = period_key(q.period, state.clock.now());
    let key = state.redis.keys().board(org.id, q.metric.as_str(), &period);
    let page_key = (key, q.limit);
    let held = state.caches.boards.get(&page_key);
    let read =
        boards::read(&state.redis, org.id, &page_key.0, q.limit, caller.user_id, held.as_ref().map(|h| h.0)).await?;
    let entries = match read.top {
        Some(top) => {
            let ids: Vec<i64> = top.iter().map(|(id, _)| *id).collect();
            let names = state.caches.names.names(&state.db, &ids).await?;
            let entries: Vec<BoardEntry> = top
                .into_iter()
                .enumerate()
                .map(|(i, (user_id, score))| BoardEntry {
                    rank: i as u64 + 1,
                    user_id,
                    display_name: names.get(&user_id).cloned().unwrap_or_default(),
                    score,
                })
                .collect();
            let entries: Arc<RawValue> = serde_json::value::to_raw_value(&entries)
                .map_err(|err| AppError::Internal(anyhow::anyhow!("serialising a board page: {err}")))?
                .into();
            if read.version != 0 {
                state.caches.boards.insert(page_key, (read.version, entries.clone()));
            }
            entries
        }
        // Redis leaves the top out only when told the version of a page held here.
        None => held.map(|(_, entries)| entries).ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("a board read without a page held came back without one"))
        })?,
    };
    let me = match read.me {
        Some((rank, score)) => Some(MyRank { rank: Some(rank), score }),
        None if is_member_within(caller, &org.path) => Some(MyRank { rank: None, score: 0 }),
        None => None,
    };
    Ok(BoardView { period_key: period, entries, me })
}

/// Whether the caller is a member (resident or party member) of a branch in this subtree:
/// someone who could be on its board.
fn is_member_within(caller: &Caller, path: &str) -> bool {
    caller.roles.iter().any(|g| g.role.is_membership() && g.org_path.as_deref().is_some_and(|p| p.starts_with(path)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BranchRankEntry {
    pub rank: u64,
    pub branch_id: i64,
    pub name: String,
    /// Members whose home branch it is.
    pub members: u64,
    pub total: i64,
    /// `total / members`, 0 for a branch without members.
    pub per_member: f64,
}

/// One page of the ranking (the list convention: `items`, `next_cursor`), with the
/// totals of every branch under the org, whatever the page.
#[derive(Debug, Serialize, ToSchema)]
pub struct BranchRankingView {
    pub period_key: String,
    pub items: Vec<BranchRankEntry>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    pub total: i64,
    pub members: u64,
}

/// `metric` and `period` as on a leaderboard, paged by `cursor` and `limit`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RankingQuery {
    /// `points` (default) or `volunteer_minutes`.
    #[param(value_type = Option<Metric>)]
    pub metric: Option<String>,
    /// `week` (default), `month`, `year` or `all`; Asia/Shanghai calendar, ISO weeks.
    #[param(value_type = Option<PeriodKind>)]
    pub period: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// Branches below a township or county ranked by score per member (staff only).
pub async fn branch_ranking(
    state: &AppState,
    caller: &Caller,
    org_id: i64,
    q: RankingQuery,
) -> Result<BranchRankingView> {
    let page = PageQuery { cursor: q.cursor, limit: q.limit }.parse()?;
    let q = BoardQuery { metric: q.metric, period: q.period, limit: None }.parse()?;
    let org = board_org(state, caller, org_id).await?;
    access::authorize(caller, &org, Role::TownshipAdmin)?;
    if org.kind != OrgKind::Township.as_str() && org.kind != OrgKind::County.as_str() {
        return Err(AppError::field("org_id", "只能对乡镇或县（区）排名"));
    }
    let period = period_key(q.period, state.clock.now());
    let key = state.redis.keys().branch_totals(org.id, q.metric.as_str(), &period);
    let totals: BTreeMap<i64, i64> = boards::branch_totals(&state.redis, &key).await?.into_iter().collect();
    let branches = orgs_service::branches_under(&state.db, &org.path).await?;
    let ids: Vec<i64> = branches.iter().map(|(id, _)| *id).collect();
    let counts = members_service::member_counts(&state.db, &ids).await?;
    let mut rows: Vec<BranchRankEntry> = branches
        .into_iter()
        .map(|(id, name)| {
            let members = counts.get(&id).copied().unwrap_or(0).max(0) as u64;
            let total = totals.get(&id).copied().unwrap_or(0);
            let per_member = if members == 0 { 0.0 } else { total as f64 / members as f64 };
            BranchRankEntry { rank: 0, branch_id: id, name, members, total, per_member }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.per_member.total_cmp(&a.per_member).then(b.total.cmp(&a.total)).then(a.branch_id.cmp(&b.branch_id))
    });
    for (i, row) in rows.iter_mut().enumerate() {
        row.rank = i as u64 + 1;
    }
    let (total, members) = rows.iter().fold((0, 0), |(t, m), r| (t + r.total, m + r.members));
    // The cursor is the last rank of the previous page.
    let rows: Vec<BranchRankEntry> =
        rows.into_iter().filter(|r| page.after.is_none_or(|after| r.rank as i64 > after)).collect();
    let Page { items, next_cursor } = Page::from_rows(rows, page, |r| r.rank as i64, |r| r);
    Ok(BranchRankingView { period_key: period, items, next_cursor, total, members })
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct AdjustRequest {
    pub user_id: i64,
    /// Non-zero, at most ±100000.
    #[schema(minimum = -100000, maximum = 100000)]
    pub delta: i64,
    /// Why: required (1–200 characters), kept in the ledger and the audit log.
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub reason: String,
}

/// A secretary's correction: a ledger entry of kind `adjust`, audited with its reason.
/// `client_key` (the Idempotency-Key header) makes a retried request credit once.
pub async fn adjust(
    state: &AppState,
    caller: &Caller,
    branch_id: i64,
    req: AdjustRequest,
    client_key: Option<IdempotencyKey>,
) -> Result<idempotency::Response> {
    let key = client_key.ok_or(AppError::bad_request(
        ErrorCode::IdempotencyKeyRequired,
        "调整积分须带 Idempotency-Key 请求头，重试时用同一个，以免重复记账",
    ))?;
    let mut fields = FieldErrors::new();
    if req.delta == 0 || req.delta.abs() > 100_000 {
        fields.insert("delta".into(), "须为非零且绝对值不超过 100000".into());
    }
    let reason = req.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 200 {
        fields.insert("reason".into(), "须填写原因（不超过 200 字）".into());
    }
    let branch = access::in_subtree(&state.db, caller, branch_id).await?;
    access::authorize(caller, &branch, Role::Secretary)?;
    if branch.kind != OrgKind::Branch.as_str() {
        return Err(AppError::field("branch_id", "须为支部"));
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    if req.user_id == caller.user_id {
        return Err(AppError::self_dealing("不能给自己调整积分，请由上级或其他书记办理"));
    }
    let hash = idempotency::request_hash(&(branch.id, &req));
    if let Some(first) = idempotency::replay_of(&state.db, caller.user_id, &key, &hash).await? {
        return Ok(first);
    }
    if !members_service::is_member_of(&state.db, req.user_id, branch.id).await? {
        return Err(AppError::field("user_id", "不是本支部成员"));
    }
    let now = state.clock.now();
    let ledger_key = format!("adjust:{}:{}:{}", branch.id, caller.user_id, key.as_str());
    let entry = NewEntry {
        user_id: req.user_id,
        branch_id: branch.id,
        delta_points: req.delta,
        delta_minutes: 0,
        star: None,
        kind: LedgerKind::Adjust,
        ref_type: "adjust",
        ref_id: key.as_str().to_owned(),
        idempotency_key: ledger_key.clone(),
        note: Some(reason.clone()),
        actor_id: Some(caller.user_id),
    };
    let txn = begin_write(&state.writer).await?;
    let update = post_entry(&txn, &entry, &branch.path, now).await?;
    let row = store::entry_by_key(&txn, &ledger_key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the adjustment entry vanished"))?;
    if update.is_some() {
        audit::record(
            &txn,
            AuditEntry {
                actor_id: Some(caller.user_id),
                action: "points.adjust",
                target_type: "user",
                target_id: req.user_id.to_string(),
                org_id: Some(branch.id),
                before: None,
                after: Some(json!({"delta": req.delta, "ledger_id": row.id})),
                reason: Some(reason),
                at: now,
            },
        )
        .await?;
    }
    let view = LedgerEntryView::from(row);
    let answer = idempotency::Response::fresh(201, serde_json::to_string(&view).map_err(anyhow::Error::from)?);
    // Another request with this key got there first: its answer, and nothing of ours.
    if let Some(first) = idempotency::record(&txn, caller.user_id, &key, &hash, &answer, now).await? {
        return Ok(first);
    }
    txn.commit().await?;
    publish(state, update.as_slice()).await;
    Ok(answer)
}
