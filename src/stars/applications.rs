//! Applications for stars: 申报 by the branch's secretary, 初审 by the township, 审核 by the
//! county, 公示 open to objections for the county's `publicity_days`, then 授星 by itself once
//! the window has passed with no open objection; and 摘星, the county revoking a star. Every
//! move is a conditional update from the status `domain::next` allows, written with its
//! history row and audit entry in one transaction, so concurrent moves (and N servers'
//! award passes) have one winner.
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use entity::{orgs, star_applications, star_events, star_evidence, star_objections, star_ratings};

use super::domain::{county_of, next, Decision, Move, Status};
use super::indicators::{check_year, year_of};
use super::{store, Star, STAR_INVALID};
use crate::access::{self, Caller, OrgKind, Role};
use crate::audit::{self, AuditEntry};
use crate::error::{AppError, ErrorCode, FieldErrors, Named, Result};
use crate::idempotency::{self, Begun, IdempotencyKey};
use crate::infra::db::begin_write;
use crate::media::service::{self as media, MediaView};
use crate::notify::{self, domain::Event, Notice};
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

const APPLICATION_EXISTS: AppError = AppError::Conflict {
    code: ErrorCode::ApplicationExists,
    message: "本支部该年度已有申报（未被驳回），请在原申报上修改或等待结果",
};

fn label(status: Status) -> &'static str {
    match status {
        Status::Submitted => "已申报",
        Status::Returned => "退回修改",
        Status::TownshipPassed => "乡镇初审通过",
        Status::Publicized => "公示中",
        Status::Awarded => "已授星",
        Status::Rejected => "未通过",
    }
}

/// What this caller may do with an application in `status` now.
fn allowed_actions(status: Status, caller: &Caller, branch: &orgs::Model) -> Vec<Named> {
    let mut actions = Vec::new();
    if status.reviewer().is_some_and(|role| caller.has_at(&branch.path, role)) {
        actions.extend([
            Named { name: "pass", label: "通过" },
            Named { name: "return", label: "退回修改" },
            Named { name: "reject", label: "不予通过" },
        ]);
    }
    if status == Status::Returned && caller.has_at(&branch.path, Role::Secretary) {
        actions.push(Named { name: "submit", label: "重新提交" });
    }
    if status == Status::Publicized {
        actions.push(Named { name: "object", label: "提出异议" });
    }
    actions
}

fn invalid_transition(status: Status, caller: &Caller, branch: &orgs::Model) -> AppError {
    AppError::InvalidTransition {
        status: Named { name: status.as_str(), label: label(status) },
        allowed_actions: allowed_actions(status, caller, branch),
    }
}

fn status_of(app: &star_applications::Model) -> Result<Status> {
    Status::parse(&app.status).ok_or_else(|| AppError::Internal(anyhow::anyhow!("bad status {}", app.status)))
}

fn stars_of(app: &star_applications::Model) -> Vec<Star> {
    let keys: Vec<String> = serde_json::from_value(app.stars.clone()).unwrap_or_default();
    keys.iter().filter_map(|k| Star::parse(k)).collect()
}

/// A list of star keys: one to five, each once.
fn parse_stars(keys: &[String], fields: &mut FieldErrors) -> Vec<Star> {
    let stars: Vec<Star> = keys.iter().filter_map(|k| Star::parse(k)).collect();
    let distinct: std::collections::HashSet<Star> = stars.iter().copied().collect();
    if keys.is_empty() || stars.len() != keys.len() || distinct.len() != stars.len() {
        fields.insert("stars".into(), format!("须为 1 到 5 颗不重复的星：{STAR_INVALID}"));
    }
    stars
}

fn keys(stars: &[Star]) -> serde_json::Value {
    json!(stars.iter().map(|s| s.as_str()).collect::<Vec<_>>())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceView {
    pub id: i64,
    pub indicator_code: String,
    pub note: String,
    pub media_ids: Vec<i64>,
    pub media: Vec<MediaView>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub action: String,
    /// Null for the award the background jobs make.
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectionView {
    pub id: i64,
    pub text: String,
    /// `open`, `upheld` or `dismissed`.
    pub status: String,
    /// Shown to the township and the county only, never to the branch.
    pub author_id: i64,
    pub resolution: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: i64,
    pub branch_id: i64,
    pub county_id: i64,
    pub year: i32,
    pub stars: Vec<Star>,
    pub statement: String,
    /// `submitted`, `returned`, `township_passed`, `publicized`, `awarded` or `rejected`.
    pub status: String,
    pub publicity_ends_at: Option<DateTime<Utc>>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// In `GET /star-applications/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<EvidenceView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryView>>,
    /// For the township and the county only: the branch never sees objections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objections: Option<Vec<ObjectionView>>,
}

fn view(app: star_applications::Model) -> ApplicationView {
    ApplicationView {
        stars: stars_of(&app),
        id: app.id,
        branch_id: app.branch_id,
        county_id: app.county_id,
        year: app.year,
        statement: app.statement,
        status: app.status,
        publicity_ends_at: app.publicity_ends_at,
        created_by: app.created_by,
        created_at: app.created_at,
        updated_at: app.updated_at,
        evidence: None,
        history: None,
        objections: None,
    }
}

async fn record<C: ConnectionTrait>(
    txn: &C,
    app: &star_applications::Model,
    action: &str,
    actor: Option<i64>,
    from: Option<Status>,
    comment: Option<String>,
    now: DateTime<Utc>,
) -> Result<()> {
    star_events::ActiveModel {
        application_id: Set(app.id),
        action: Set(action.to_owned()),
        actor_id: Set(actor),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(app.status.clone()),
        comment: Set(comment.clone()),
        at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    audit::record(
        txn,
        AuditEntry {
            actor_id: actor,
            action: &format!("stars.application.{action}"),
            target_type: "star_application",
            target_id: app.id.to_string(),
            org_id: Some(app.branch_id),
            before: from.map(|s| json!({"status": s.as_str()})),
            after: Some(json!({"status": app.status, "stars": app.stars})),
            reason: comment,
            at: now,
        },
    )
    .await?;
    Ok(())
}

/// The branch an application is for, if the caller's roles reach it (404 otherwise).
async fn branch_of(state: &AppState, caller: &Caller, app: &star_applications::Model) -> Result<orgs::Model> {
    access::reachable(state, caller, app.branch_id).await
}

async fn find(state: &AppState, id: i64) -> Result<star_applications::Model> {
    star_applications::Entity::find_by_id(id).one(&state.db).await?.ok_or(AppError::NotFound)
}

/// Move an application from `from` to `to` (with its changes) if it is still in `from`.
async fn move_app<C: ConnectionTrait>(
    txn: &C,
    id: i64,
    from: Status,
    to: Status,
    changes: Vec<(star_applications::Column, sea_orm::Value)>,
    now: DateTime<Utc>,
) -> Result<Option<star_applications::Model>> {
    use star_applications::Column as A;
    let mut q = star_applications::Entity::update_many()
        .col_expr(A::Status, Expr::value(to.as_str()))
        .col_expr(A::UpdatedAt, Expr::value(now))
        .filter(A::Id.eq(id))
        .filter(A::Status.eq(from.as_str()));
    for (col, value) in changes {
        q = q.col_expr(col, Expr::value(value));
    }
    Ok(q.exec_with_returning(txn).await?.into_iter().next())
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct NewApplication {
    #[schema(minimum = 2020, maximum = 2100)]
    pub year: i32,
    /// The stars applied for: one to five keys, each once.
    #[schema(value_type = Vec<Star>)]
    pub stars: Vec<String>,
    /// 1–2000 characters.
    #[schema(min_length = 1, max_length = 2000, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub statement: String,
}

/// 申报: a branch's secretary applies for stars for a year.
pub async fn apply(
    state: &AppState,
    caller: &Caller,
    branch_id: i64,
    req: NewApplication,
    key: Option<IdempotencyKey>,
) -> Result<idempotency::Response> {
    let claim = match idempotency::begin(&state.db, caller.user_id, key, &(branch_id, &req)).await? {
        Begun::Replay(first) => return Ok(first),
        Begun::Go(claim) => claim,
    };
    let branch = access::reachable(state, caller, branch_id).await?;
    if branch.kind != OrgKind::Branch.as_str() {
        return Err(AppError::field("branch_id", "须为支部"));
    }
    access::authorize(caller, &branch, Role::Secretary)?;
    let mut fields = FieldErrors::new();
    check_year(req.year, &mut fields);
    let stars = parse_stars(&req.stars, &mut fields);
    let statement = req.statement.trim().to_owned();
    if statement.is_empty() || statement.chars().count() > 2000 {
        fields.insert("statement".into(), "须填写申报说明（不超过 2000 字）".into());
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    let county = county_of(&branch.path).ok_or_else(|| anyhow::anyhow!("a branch without a county"))?;
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let live = star_applications::Entity::find()
        .filter(star_applications::Column::BranchId.eq(branch.id))
        .filter(star_applications::Column::Year.eq(req.year))
        .filter(star_applications::Column::Status.ne(Status::Rejected.as_str()))
        .one(&txn)
        .await?;
    if live.is_some() {
        return Err(APPLICATION_EXISTS);
    }
    let app = star_applications::ActiveModel {
        branch_id: Set(branch.id),
        county_id: Set(county),
        year: Set(req.year),
        stars: Set(keys(&stars)),
        statement: Set(statement),
        status: Set(Status::Submitted.as_str().to_owned()),
        publicity_ends_at: Set(None),
        created_by: Set(caller.user_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|err| match AppError::from(err) {
        // Two applications racing on PostgreSQL: the partial unique index keeps one.
        AppError::Conflict { .. } => APPLICATION_EXISTS,
        other => other,
    })?;
    record(&txn, &app, "apply", Some(caller.user_id), None, None, now).await?;
    let answer = idempotency::Response::json(201, &view(app))?;
    if let Some(first) = idempotency::finish(&txn, caller.user_id, &claim, &answer, now).await? {
        return Ok(first);
    }
    txn.commit().await?;
    Ok(answer)
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct NewEvidence {
    /// An indicator of the branch's county for the application's year.
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,16}$")]
    pub indicator_code: String,
    /// 1–1000 characters.
    #[schema(min_length = 1, max_length = 1000, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub note: String,
    /// Up to 9 photos the caller uploaded.
    #[serde(default)]
    pub media_ids: Vec<i64>,
}

/// The branch's secretary attaches evidence while the application is with the township
/// (`submitted`) or back for revision (`returned`).
pub async fn add_evidence(state: &AppState, caller: &Caller, id: i64, req: NewEvidence) -> Result<EvidenceView> {
    let app = find(state, id).await?;
    let branch = branch_of(state, caller, &app).await?;
    access::authorize(caller, &branch, Role::Secretary)?;
    let status = status_of(&app)?;
    if !matches!(status, Status::Submitted | Status::Returned) {
        return Err(invalid_transition(status, caller, &branch));
    }
    let mut fields = FieldErrors::new();
    let indicators = store::all_indicators(&state.db, app.county_id, app.year).await?;
    if !indicators.iter().any(|i| i.code == req.indicator_code) {
        fields.insert("indicator_code".into(), "不是本县该年度的指标编号".into());
    }
    let note = req.note.trim().to_owned();
    if note.is_empty() || note.chars().count() > 1000 {
        fields.insert("note".into(), "须填写说明（不超过 1000 字）".into());
    }
    if req.media_ids.len() > 9 {
        fields.insert("media_ids".into(), "最多 9 张照片".into());
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    media::check_owned(&state.db, caller.user_id, &req.media_ids).await?;
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let row = star_evidence::ActiveModel {
        application_id: Set(app.id),
        indicator_code: Set(req.indicator_code.clone()),
        note: Set(note),
        media_ids: Set(json!(req.media_ids)),
        created_by: Set(caller.user_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let comment = Some(format!("{}：{}", row.indicator_code, row.note));
    record(&txn, &app, "evidence", Some(caller.user_id), Some(status), comment, now).await?;
    txn.commit().await?;
    Ok(evidence_views(state, vec![row]).await?.remove(0))
}

async fn evidence_views(state: &AppState, rows: Vec<star_evidence::Model>) -> Result<Vec<EvidenceView>> {
    let ids: Vec<Vec<i64>> =
        rows.iter().map(|r| serde_json::from_value(r.media_ids.clone()).unwrap_or_default()).collect();
    let photos = media::photos(state, ids.iter().flatten().copied()).await?;
    Ok(rows
        .into_iter()
        .zip(ids)
        .map(|(r, media_ids)| EvidenceView {
            id: r.id,
            indicator_code: r.indicator_code,
            note: r.note,
            media: photos.of(&media_ids),
            media_ids,
            created_by: r.created_by,
            created_at: r.created_at,
        })
        .collect())
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct StarReview {
    /// `pass`, `return` (for revision) or `reject`.
    #[schema(pattern = "^(pass|return|reject)$")]
    pub decision: String,
    /// Narrows the stars passed on (a subset of the application's).
    #[schema(value_type = Option<Vec<Star>>)]
    pub stars: Option<Vec<String>>,
    /// Why; required to return or reject (1–500 characters).
    #[schema(max_length = 500)]
    pub comment: Option<String>,
}

/// 初审 by the township (when `submitted`), 审核 by the county (when `township_passed`). A
/// county pass opens the publicity window. Out of turn → 409 `invalid_transition`.
pub async fn review(state: &AppState, caller: &Caller, id: i64, req: StarReview) -> Result<ApplicationView> {
    let app = find(state, id).await?;
    let branch = branch_of(state, caller, &app).await?;
    let status = status_of(&app)?;
    let Some(reviewer) = status.reviewer() else { return Err(invalid_transition(status, caller, &branch)) };
    access::authorize(caller, &branch, reviewer)?;
    if app.created_by == caller.user_id {
        return Err(AppError::self_dealing("不能审核自己提交的申报"));
    }
    let mut fields = FieldErrors::new();
    let decision = Decision::parse(&req.decision);
    if decision.is_none() {
        fields.insert("decision".into(), "须为 pass、return 或 reject".into());
    }
    let current = stars_of(&app);
    let stars = match &req.stars {
        None => current.clone(),
        Some(keys) => {
            let stars = parse_stars(keys, &mut fields);
            if stars.iter().any(|s| !current.contains(s)) {
                fields.insert("stars".into(), "只能在申报的星中选择".into());
            }
            stars
        }
    };
    let comment = req.comment.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned);
    if comment.as_ref().is_some_and(|c| c.chars().count() > 500) {
        fields.insert("comment".into(), "不超过 500 字".into());
    }
    if matches!(decision, Some(Decision::Return | Decision::Reject)) && comment.is_none() {
        fields.insert("comment".into(), "退回或不予通过须说明原因".into());
    }
    let Some(decision) = decision.filter(|_| fields.is_empty()) else { return Err(AppError::Validation(fields)) };
    let step = Move::Review(decision);
    let to = next(status, step).ok_or_else(|| invalid_transition(status, caller, &branch))?;
    let now = state.clock.now();
    let mut changes = vec![(star_applications::Column::Stars, keys(&stars).into())];
    if to == Status::Publicized {
        let county = access::org(state, app.county_id).await?;
        let ends = now + Duration::seconds(county.publicity_seconds);
        changes.push((star_applications::Column::PublicityEndsAt, Some(ends).into()));
    }
    let txn = begin_write(&state.writer).await?;
    let Some(moved) = move_app(&txn, app.id, status, to, changes, now).await? else {
        let now_status = star_applications::Entity::find_by_id(app.id).one(&txn).await?.map(|a| a.status);
        let now_status = now_status.as_deref().and_then(Status::parse).unwrap_or(status);
        return Err(invalid_transition(now_status, caller, &branch));
    };
    let outcome = match (decision, to) {
        (Decision::Pass, Status::Publicized) => "县级审核通过，进入公示".to_owned(),
        (Decision::Pass, _) => "乡镇初审通过，已报县级审核".to_owned(),
        (Decision::Return, _) => format!("被退回修改：{}", comment.as_deref().unwrap_or_default()),
        (Decision::Reject, _) => format!("未获通过：{}", comment.as_deref().unwrap_or_default()),
    };
    record(&txn, &moved, step.action(), Some(caller.user_id), Some(status), comment, now).await?;
    let body = format!("{}年度星级申报{outcome}", moved.year);
    let notice = Notice {
        event: Event::StarApplicationReviewed,
        title: "星级申报有审核结果",
        body: &body,
        r#ref: format!("star_application:{}", moved.id),
        at: now,
    };
    notify::push(&txn, &state.wechat, [moved.created_by], &notice).await?;
    txn.commit().await?;
    Ok(view(moved))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct Resubmission {
    /// New stars, if the revision changes them.
    #[schema(value_type = Option<Vec<Star>>)]
    pub stars: Option<Vec<String>>,
    /// A new statement, if the revision changes it.
    #[schema(max_length = 2000)]
    pub statement: Option<String>,
}

/// The branch's secretary submits a returned application again, revised or not.
pub async fn resubmit(state: &AppState, caller: &Caller, id: i64, req: Resubmission) -> Result<ApplicationView> {
    let app = find(state, id).await?;
    let branch = branch_of(state, caller, &app).await?;
    access::authorize(caller, &branch, Role::Secretary)?;
    let status = status_of(&app)?;
    let to = next(status, Move::Resubmit).ok_or_else(|| invalid_transition(status, caller, &branch))?;
    let mut fields = FieldErrors::new();
    let mut changes = Vec::new();
    if let Some(keys) = &req.stars {
        let stars = parse_stars(keys, &mut fields);
        changes.push((star_applications::Column::Stars, self::keys(&stars).into()));
    }
    if let Some(statement) = &req.statement {
        let statement = statement.trim().to_owned();
        if statement.is_empty() || statement.chars().count() > 2000 {
            fields.insert("statement".into(), "须填写申报说明（不超过 2000 字）".into());
        }
        changes.push((star_applications::Column::Statement, statement.into()));
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let Some(moved) = move_app(&txn, app.id, status, to, changes, now).await? else {
        return Err(invalid_transition(status, caller, &branch));
    };
    record(&txn, &moved, Move::Resubmit.action(), Some(caller.user_id), Some(status), None, now).await?;
    txn.commit().await?;
    Ok(view(moved))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct NewObjection {
    /// 1–1000 characters.
    #[schema(min_length = 1, max_length = 1000, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectionCreated {
    pub id: i64,
    pub status: String,
}

/// 公示: anyone whose roles reach the branch's county may object while it is publicized.
/// The objection is not on the branch's history, and its author is never shown to the branch.
pub async fn object(state: &AppState, caller: &Caller, id: i64, req: NewObjection) -> Result<ObjectionCreated> {
    let app = find(state, id).await?;
    access::reachable(state, caller, app.county_id).await?;
    let branch = access::org(state, app.branch_id).await?;
    let status = status_of(&app)?;
    if status != Status::Publicized {
        return Err(invalid_transition(status, caller, &branch));
    }
    let text = req.text.trim().to_owned();
    if text.is_empty() || text.chars().count() > 1000 {
        return Err(AppError::field("text", "须填写异议内容（不超过 1000 字）"));
    }
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let row = star_objections::ActiveModel {
        application_id: Set(app.id),
        author_id: Set(caller.user_id),
        text: Set(text),
        status: Set("open".to_owned()),
        resolved_by: Set(None),
        resolution: Set(None),
        created_at: Set(now),
        resolved_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        AuditEntry {
            actor_id: Some(caller.user_id),
            action: "stars.objection",
            target_type: "star_application",
            target_id: app.id.to_string(),
            org_id: Some(app.county_id),
            before: None,
            after: Some(json!({"objection_id": row.id})),
            reason: None,
            at: now,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(ObjectionCreated { id: row.id, status: row.status })
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct Resolution {
    /// Upheld: the application goes back to the county's review (`township_passed`).
    pub upheld: bool,
    /// 1–500 characters.
    #[schema(min_length = 1, max_length = 500, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub comment: String,
}

/// The county resolves an objection; upheld, the application leaves publicity and goes back
/// to the county's review.
pub async fn resolve(state: &AppState, caller: &Caller, objection_id: i64, req: Resolution) -> Result<ObjectionView> {
    let objection =
        star_objections::Entity::find_by_id(objection_id).one(&state.db).await?.ok_or(AppError::NotFound)?;
    let app = find(state, objection.application_id).await?;
    let county = access::reachable(state, caller, app.county_id).await?;
    access::authorize(caller, &county, Role::CountyAdmin)?;
    let branch = access::org(state, app.branch_id).await?;
    let comment = req.comment.trim().to_owned();
    if comment.is_empty() || comment.chars().count() > 500 {
        return Err(AppError::field("comment", "须填写处理意见（不超过 500 字）"));
    }
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    use star_objections::Column as O;
    let resolved = star_objections::Entity::update_many()
        .col_expr(O::Status, Expr::value(if req.upheld { "upheld" } else { "dismissed" }))
        .col_expr(O::ResolvedBy, Expr::value(caller.user_id))
        .col_expr(O::Resolution, Expr::value(comment.clone()))
        .col_expr(O::ResolvedAt, Expr::value(now))
        .filter(O::Id.eq(objection.id))
        .filter(O::Status.eq("open"))
        .exec_with_returning(&txn)
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::Conflict { code: ErrorCode::Conflict, message: "该异议已处理" })?;
    if req.upheld {
        let from = Status::Publicized;
        let to = next(from, Move::ObjectionUpheld).ok_or_else(|| invalid_transition(from, caller, &branch))?;
        let clear = vec![(star_applications::Column::PublicityEndsAt, Option::<DateTime<Utc>>::None.into())];
        let Some(moved) = move_app(&txn, app.id, from, to, clear, now).await? else {
            let status = status_of(&app)?;
            return Err(invalid_transition(status, caller, &branch));
        };
        record(&txn, &moved, Move::ObjectionUpheld.action(), Some(caller.user_id), Some(from), Some(comment), now)
            .await?;
    }
    txn.commit().await?;
    Ok(objection_view(resolved))
}

fn objection_view(o: star_objections::Model) -> ObjectionView {
    ObjectionView {
        id: o.id,
        text: o.text,
        status: o.status,
        author_id: o.author_id,
        resolution: o.resolution,
        created_at: o.created_at,
        resolved_at: o.resolved_at,
    }
}

/// One pass of the award job at `now`: every publicized application whose window has passed
/// with no open objection becomes `awarded`, and its stars the branch's rating for the year.
/// Safe with N servers: the move is conditional. Returns how many this pass awarded.
pub async fn award_due(state: &AppState, now: DateTime<Utc>) -> Result<u64> {
    use star_applications::Column as A;
    let due = star_applications::Entity::find()
        .filter(A::Status.eq(Status::Publicized.as_str()))
        .filter(A::PublicityEndsAt.lte(now))
        .order_by_asc(A::PublicityEndsAt)
        .all(&state.db)
        .await?;
    let mut awarded = 0;
    for app in due {
        let txn = begin_write(&state.writer).await?;
        let moved = star_applications::Entity::update_many()
            .col_expr(A::Status, Expr::value(Status::Awarded.as_str()))
            .col_expr(A::UpdatedAt, Expr::value(now))
            .filter(A::Id.eq(app.id))
            .filter(A::Status.eq(Status::Publicized.as_str()))
            .filter(A::PublicityEndsAt.lte(now))
            .filter(Expr::cust(
                "NOT EXISTS (SELECT 1 FROM star_objections o WHERE o.application_id = star_applications.id \
                 AND o.status = 'open')",
            ))
            .exec_with_returning(&txn)
            .await?
            .into_iter()
            .next();
        let Some(moved) = moved else { continue };
        for star in stars_of(&moved) {
            let rating = star_ratings::ActiveModel {
                branch_id: Set(moved.branch_id),
                year: Set(moved.year),
                star: Set(star.as_str().to_owned()),
                application_id: Set(moved.id),
                awarded_at: Set(now),
                revoked_at: Set(None),
                revoked_by: Set(None),
                revoke_reason: Set(None),
                ..Default::default()
            };
            star_ratings::Entity::insert(rating)
                .on_conflict(
                    sea_orm::sea_query::OnConflict::columns([
                        star_ratings::Column::BranchId,
                        star_ratings::Column::Year,
                        star_ratings::Column::Star,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
        record(&txn, &moved, Move::Award.action(), None, Some(Status::Publicized), None, now).await?;
        txn.commit().await?;
        awarded += 1;
    }
    Ok(awarded)
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct Revocation {
    #[schema(value_type = Star)]
    pub star: String,
    /// Why (1–500 characters), kept on the history and in the audit log.
    #[schema(min_length = 1, max_length = 500, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub reason: String,
}

/// 摘星: the county takes an awarded star back.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    branch_id: i64,
    year: i32,
    req: Revocation,
) -> Result<Vec<Star>> {
    let branch = access::reachable(state, caller, branch_id).await?;
    access::authorize(caller, &branch, Role::CountyAdmin)?;
    let mut fields = FieldErrors::new();
    let star = Star::parse(&req.star);
    if star.is_none() {
        fields.insert("star".into(), STAR_INVALID.into());
    }
    let reason = req.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 500 {
        fields.insert("reason".into(), "须填写摘星原因（不超过 500 字）".into());
    }
    let Some(star) = star.filter(|_| fields.is_empty()) else { return Err(AppError::Validation(fields)) };
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    use star_ratings::Column as R;
    let revoked = star_ratings::Entity::update_many()
        .col_expr(R::RevokedAt, Expr::value(now))
        .col_expr(R::RevokedBy, Expr::value(caller.user_id))
        .col_expr(R::RevokeReason, Expr::value(reason.clone()))
        .filter(R::BranchId.eq(branch.id))
        .filter(R::Year.eq(year))
        .filter(R::Star.eq(star.as_str()))
        .filter(R::RevokedAt.is_null())
        .exec_with_returning(&txn)
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::Absent { code: ErrorCode::NotFound, message: "该支部该年度没有这颗星" })?;
    if let Some(app) = star_applications::Entity::find_by_id(revoked.application_id).one(&txn).await? {
        let comment = Some(format!("摘除{}：{}", star.label(), reason));
        record(&txn, &app, "revoke", Some(caller.user_id), Some(Status::Awarded), comment, now).await?;
    }
    txn.commit().await?;
    rating(&state.db, branch.id, year).await
}

/// The stars a branch holds for a year (awarded, not revoked).
pub async fn rating<C: ConnectionTrait>(db: &C, branch_id: i64, year: i32) -> Result<Vec<Star>> {
    use star_ratings::Column as R;
    let rows = star_ratings::Entity::find()
        .filter(R::BranchId.eq(branch_id))
        .filter(R::Year.eq(year))
        .filter(R::RevokedAt.is_null())
        .all(db)
        .await?;
    let mut stars: Vec<Star> = rows.iter().filter_map(|r| Star::parse(&r.star)).collect();
    stars.sort_by_key(|s| Star::ALL.iter().position(|x| x == s));
    Ok(stars)
}

/// Evidence per indicator code in the branch's live application for the year.
pub async fn evidence_counts<C: ConnectionTrait>(
    db: &C,
    branch_id: i64,
    year: i32,
) -> Result<std::collections::HashMap<String, u64>> {
    let live = star_applications::Entity::find()
        .filter(star_applications::Column::BranchId.eq(branch_id))
        .filter(star_applications::Column::Year.eq(year))
        .filter(star_applications::Column::Status.ne(Status::Rejected.as_str()))
        .one(db)
        .await?;
    let mut counts = std::collections::HashMap::new();
    if let Some(app) = live {
        for e in star_evidence::Entity::find().filter(star_evidence::Column::ApplicationId.eq(app.id)).all(db).await? {
            *counts.entry(e.indicator_code).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

/// One application with its evidence and history (staff over the branch), and its
/// objections for the township and the county only.
pub async fn get(state: &AppState, caller: &Caller, id: i64) -> Result<ApplicationView> {
    let app = find(state, id).await?;
    let branch = branch_of(state, caller, &app).await?;
    access::authorize(caller, &branch, Role::Secretary)?;
    let evidence = star_evidence::Entity::find()
        .filter(star_evidence::Column::ApplicationId.eq(app.id))
        .order_by_asc(star_evidence::Column::Id)
        .all(&state.db)
        .await?;
    let events = star_events::Entity::find()
        .filter(star_events::Column::ApplicationId.eq(app.id))
        .order_by_asc(star_events::Column::Id)
        .all(&state.db)
        .await?;
    let names = state.caches.names.lookup(&state.db, events.iter().filter_map(|e| e.actor_id)).await?;
    let history = events
        .into_iter()
        .map(|e| HistoryView {
            actor_name: names.of_opt(e.actor_id),
            action: e.action,
            actor_id: e.actor_id,
            from_status: e.from_status,
            to_status: e.to_status,
            comment: e.comment,
            at: e.at,
        })
        .collect();
    let objections = if caller.has_at(&branch.path, Role::TownshipAdmin) {
        let rows = star_objections::Entity::find()
            .filter(star_objections::Column::ApplicationId.eq(app.id))
            .order_by_asc(star_objections::Column::Id)
            .all(&state.db)
            .await?;
        Some(rows.into_iter().map(objection_view).collect())
    } else {
        None
    };
    let evidence = evidence_views(state, evidence).await?;
    Ok(ApplicationView { evidence: Some(evidence), history: Some(history), objections, ..view(app) })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ApplicationQuery {
    /// Default: this year (Asia/Shanghai).
    #[param(minimum = 2020, maximum = 2100)]
    pub year: Option<i32>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// A branch's applications for a year, newest first (staff over the branch).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    branch_id: i64,
    q: &ApplicationQuery,
) -> Result<Page<ApplicationView>> {
    let branch = access::reachable(state, caller, branch_id).await?;
    access::authorize(caller, &branch, Role::Secretary)?;
    let year = q.year.unwrap_or_else(|| year_of(state.clock.now()));
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit }.parse()?;
    let mut query = star_applications::Entity::find()
        .filter(star_applications::Column::BranchId.eq(branch.id))
        .filter(star_applications::Column::Year.eq(year));
    if let Some(before) = page.after {
        query = query.filter(star_applications::Column::Id.lt(before));
    }
    let rows = query.order_by_desc(star_applications::Column::Id).limit(page.limit + 1).all(&state.db).await?;
    Ok(Page::from_rows(rows, page, |r| r.id, view))
}
