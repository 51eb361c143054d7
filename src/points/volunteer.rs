//! Volunteer logs: a member reports service; a secretary of the log's branch approves
//! (crediting minutes, and points at the branch's rate, in the same transaction) or
//! rejects it. Nobody reviews their own log.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use entity::volunteer_logs;

use super::domain::LedgerKind;
use super::domain::NewEntry;
use super::service::{post_entry, publish};
use super::store::{self, NewLog};
use crate::access;
use crate::access::{Caller, OrgKind, Role};
use crate::audit::{self, AuditEntry};
use crate::error::{AppError, ErrorCode, FieldErrors, Result};
use crate::idempotency::{self, Begun, IdempotencyKey};
use crate::infra::db::begin_write;
use crate::media::service::{self as media, MediaView};
use crate::pagination::{Page, PageRequest};
use crate::stars::{Star, STAR_INVALID};
use crate::state::AppState;

/// Clocks on phones drift: an end this far in the future still counts as now.
const CLOCK_SKEW: Duration = Duration::minutes(5);
const MAX_MEDIA: usize = 9;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct NewLogRequest {
    /// 1–500 characters.
    #[schema(min_length = 1, max_length = 500, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub description: String,
    #[schema(value_type = Star)]
    pub star: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    #[serde(default)]
    pub media_ids: Vec<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewRequest {
    pub approve: bool,
    /// Up to 500 characters.
    #[schema(max_length = 500, pattern = r"^[^\x00]*$")]
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LogListQuery {
    /// `pending`, `approved` or `rejected`.
    #[param(pattern = "^(pending|approved|rejected)$")]
    pub status: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogView {
    pub id: i64,
    pub user_id: i64,
    pub user_name: String,
    pub branch_id: i64,
    pub description: String,
    pub star: Star,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub minutes: i32,
    pub media_ids: Vec<i64>,
    /// The photos of `media_ids`, in the same order, with freshly signed links.
    pub media: Vec<MediaView>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub reviewer_id: Option<i64>,
    pub reviewer_name: Option<String>,
    pub review_comment: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn view(m: volunteer_logs::Model) -> LogView {
    LogView {
        id: m.id,
        user_id: m.user_id,
        user_name: String::new(),
        branch_id: m.branch_id,
        description: m.description,
        star: Star::parse(&m.star).unwrap_or(Star::CivilHappy),
        started_at: m.started_at,
        ended_at: m.ended_at,
        minutes: m.minutes,
        media_ids: serde_json::from_value(m.media_ids).unwrap_or_default(),
        media: Vec::new(),
        status: m.status,
        reviewer_id: m.reviewer_id,
        reviewer_name: None,
        review_comment: m.review_comment,
        reviewed_at: m.reviewed_at,
        created_at: m.created_at,
    }
}

/// Names beside the people's ids and photos beside their ids: one batched lookup each.
async fn fill(state: &AppState, logs: &mut [LogView]) -> Result<()> {
    let people = logs.iter().flat_map(|l| std::iter::once(l.user_id).chain(l.reviewer_id));
    let names = state.caches.names.lookup(&state.db, people).await?;
    let photos = media::photos(state, logs.iter().flat_map(|l| l.media_ids.iter().copied())).await?;
    for log in logs {
        log.user_name = names.of(log.user_id);
        log.reviewer_name = names.of_opt(log.reviewer_id);
        log.media = photos.of(&log.media_ids);
    }
    Ok(())
}

async fn filled(state: &AppState, log: volunteer_logs::Model) -> Result<LogView> {
    let mut logs = [view(log)];
    fill(state, &mut logs).await?;
    let [log] = logs;
    Ok(log)
}

async fn filled_page(state: &AppState, rows: Vec<volunteer_logs::Model>, page: PageRequest) -> Result<Page<LogView>> {
    let mut page = Page::from_rows(rows, page, |r| r.id, view);
    fill(state, &mut page.items).await?;
    Ok(page)
}

/// Points for service at the branch's rate, rounded to the nearest point.
pub fn points_for(minutes: i32, points_per_hour: i32) -> i64 {
    (i64::from(minutes) * i64::from(points_per_hour) + 30) / 60
}

/// Report service. With an `Idempotency-Key`, a retry answers the first report again and
/// adds nothing.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    branch_id: i64,
    req: NewLogRequest,
    key: Option<IdempotencyKey>,
) -> Result<idempotency::Response> {
    let claim = match idempotency::begin(&state.db, caller.user_id, key, &(branch_id, &req)).await? {
        Begun::Replay(first) => return Ok(first),
        Begun::Go(claim) => claim,
    };
    let now = state.clock.now();
    let mut fields = FieldErrors::new();
    let description = req.description.trim();
    if description.is_empty() || description.chars().count() > 500 {
        fields.insert("description".into(), "须为 1 到 500 个字符".into());
    }
    let star = Star::parse(&req.star);
    if star.is_none() {
        fields.insert("star".into(), STAR_INVALID.into());
    }
    let span = req.ended_at - req.started_at;
    if span <= Duration::zero() {
        fields.insert("ended_at".into(), "结束时间须晚于开始时间".into());
    } else if span > Duration::hours(24) {
        fields.insert("ended_at".into(), "单次服务不能超过 24 小时".into());
    } else if req.ended_at > now + CLOCK_SKEW {
        fields.insert("ended_at".into(), "结束时间不能在将来".into());
    }
    if req.media_ids.len() > MAX_MEDIA {
        fields.insert("media_ids".into(), format!("最多 {MAX_MEDIA} 张照片"));
    }
    let branch = access::in_subtree(&state.db, caller, branch_id).await?;
    if branch.kind != OrgKind::Branch.as_str() {
        return Err(AppError::field("branch_id", "须为支部"));
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    media::check_owned(&state.db, caller.user_id, &req.media_ids).await?;
    let new = NewLog {
        user_id: caller.user_id,
        branch_id: branch.id,
        description,
        star: star.expect("checked above"),
        started_at: req.started_at,
        ended_at: req.ended_at,
        minutes: span.num_minutes() as i32,
        media_ids: &req.media_ids,
    };
    let txn = begin_write(&state.writer).await?;
    let log = store::insert_log(&txn, new, now).await?;
    let answer = idempotency::Response::json(201, &filled(state, log).await?)?;
    if let Some(first) = idempotency::finish(&txn, caller.user_id, &claim, &answer, now).await? {
        return Ok(first);
    }
    txn.commit().await?;
    Ok(answer)
}

pub async fn review(state: &AppState, caller: &Caller, log_id: i64, req: ReviewRequest) -> Result<LogView> {
    let comment = req.comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > 500) {
        return Err(AppError::field("comment", "不超过 500 字"));
    }
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let log = store::find_log(&txn, log_id).await?.ok_or(AppError::NotFound)?;
    let branch = access::in_subtree(&txn, caller, log.branch_id).await?;
    access::authorize(caller, &branch, Role::Secretary)?;
    if log.user_id == caller.user_id {
        return Err(AppError::self_dealing("不能审核自己的志愿时长记录"));
    }
    if !store::review_log(&txn, log.id, req.approve, caller.user_id, comment.clone(), now).await? {
        return Err(AppError::Conflict { code: ErrorCode::AlreadyReviewed, message: "该记录已审核" });
    }
    let mut update = None;
    if req.approve {
        let entry = NewEntry {
            user_id: log.user_id,
            branch_id: log.branch_id,
            delta_points: points_for(log.minutes, branch.points_per_hour),
            delta_minutes: i64::from(log.minutes),
            star: Star::parse(&log.star),
            kind: LedgerKind::Volunteer,
            ref_type: "volunteer_log",
            ref_id: log.id.to_string(),
            idempotency_key: format!("volunteer_log:{}", log.id),
            note: Some(log.description.chars().take(100).collect()),
            actor_id: Some(caller.user_id),
        };
        update = post_entry(&txn, &entry, &branch.path, now).await?;
    }
    audit::record(
        &txn,
        AuditEntry {
            actor_id: Some(caller.user_id),
            action: if req.approve { "volunteer_log.approve" } else { "volunteer_log.reject" },
            target_type: "volunteer_log",
            target_id: log.id.to_string(),
            org_id: Some(log.branch_id),
            before: Some(json!({"status": "pending"})),
            after: Some(json!({"status": if req.approve { "approved" } else { "rejected" }, "comment": comment})),
            reason: comment.clone(),
            at: now,
        },
    )
    .await?;
    let reviewed = store::find_log(&txn, log.id).await?.ok_or(AppError::NotFound)?;
    txn.commit().await?;
    publish(state, update.as_slice()).await;
    filled(state, reviewed).await
}

fn parse_status(status: Option<&str>) -> Result<Option<&str>> {
    match status {
        None => Ok(None),
        Some(s @ ("pending" | "approved" | "rejected")) => Ok(Some(s)),
        Some(_) => Err(AppError::field("status", "须为 pending、approved 或 rejected")),
    }
}

/// A branch's logs, for its secretaries (the review queue with `status=pending`).
pub async fn list_for_branch(
    state: &AppState,
    caller: &Caller,
    branch_id: i64,
    status: Option<&str>,
    page: PageRequest,
) -> Result<Page<LogView>> {
    let status = parse_status(status)?;
    let branch = access::in_subtree(&state.db, caller, branch_id).await?;
    access::authorize(caller, &branch, Role::Secretary)?;
    let rows = store::logs_of_branch(&state.db, branch.id, status, page).await?;
    filled_page(state, rows, page).await
}

pub async fn list_mine(state: &AppState, caller: &Caller, page: PageRequest) -> Result<Page<LogView>> {
    let rows = store::logs_of_user(&state.db, caller.user_id, page).await?;
    filled_page(state, rows, page).await
}

#[cfg(test)]
mod tests {
    use super::points_for;

    #[test]
    fn points_round_to_the_nearest() {
        assert_eq!(points_for(60, 10), 10);
        assert_eq!(points_for(90, 10), 15);
        assert_eq!(points_for(5, 10), 1);
        assert_eq!(points_for(2, 10), 0);
        assert_eq!(points_for(24 * 60, 10), 240);
    }
}
