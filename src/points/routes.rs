//! HTTP for points, the ledger, volunteer logs, adjustments and leaderboards.
use actix_web::{web, HttpRequest, HttpResponse};

use super::service::{
    self, AdjustRequest, BoardQuery, BoardView, BranchRankingView, LedgerEntryView, PointsView, RankingQuery,
};
use super::volunteer::{self, LogListQuery, LogView, NewLogRequest, ReviewRequest};
use crate::access::extractor::CurrentUser;
use crate::error::{ErrorBody, Result};
use crate::http::json::JsonBody;
use crate::http::query::Query;
use crate::idempotency::IdempotencyKey;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

/// The leaderboard first: actix tries resources in order, and each pattern with an id
/// tried before the match costs a regex run (about 5% of a board read's CPU when it came
/// eighth behind the other `/orgs/{id}/…` resources).
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/orgs/{id}/leaderboard").route(web::get().to(leaderboard)))
        .service(web::resource("/me/points").route(web::get().to(my_points)))
        .service(web::resource("/me/ledger").route(web::get().to(my_ledger)))
        .service(web::resource("/me/volunteer-logs").route(web::get().to(my_logs)))
        .service(
            web::resource("/orgs/{id}/volunteer-logs")
                .route(web::post().to(create_log))
                .route(web::get().to(branch_logs)),
        )
        .service(web::resource("/volunteer-logs/{id}/review").route(web::post().to(review_log)))
        .service(web::resource("/orgs/{id}/points/adjust").route(web::post().to(adjust)))
        .service(web::resource("/orgs/{id}/branch-ranking").route(web::get().to(branch_ranking)));
}

/// The caller's balance, totals and points per star.
#[utoipa::path(get, path = "/api/v1/me/points", tag = "points", security(("bearer" = [])),
    responses((status = 200, body = PointsView), (status = 401, body = ErrorBody)))]
pub async fn my_points(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::my_points(&state, &user.0).await?))
}

/// The caller's ledger entries, newest first.
#[utoipa::path(get, path = "/api/v1/me/ledger", tag = "points", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<LedgerEntryView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn my_ledger(state: web::Data<AppState>, user: CurrentUser, page: Query<PageQuery>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::my_ledger(&state, &user.0, page.parse()?).await?))
}

/// The caller's volunteer logs, newest first.
#[utoipa::path(get, path = "/api/v1/me/volunteer-logs", tag = "points", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<LogView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn my_logs(state: web::Data<AppState>, user: CurrentUser, page: Query<PageQuery>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(volunteer::list_mine(&state, &user.0, page.parse()?).await?))
}

/// Report volunteer service (at most 24 h, ended, not in the future); pending review.
#[utoipa::path(post, path = "/api/v1/orgs/{id}/volunteer-logs", tag = "points", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch"),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,64}$",
            description = "optional: a retry with the same key and body answers the first response again")), request_body = NewLogRequest,
    responses((status = 201, body = LogView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_log(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<NewLogRequest>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(volunteer::create(&state, &user.0, id.into_inner(), body.into_inner(), key).await?.into_http())
}

/// A branch's volunteer logs for its secretaries; `status=pending` is the review queue.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/volunteer-logs", tag = "points", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch"), LogListQuery),
    responses((status = 200, body = Page<LogView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn branch_logs(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<LogListQuery>,
) -> Result<HttpResponse> {
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit }.parse()?;
    let logs = volunteer::list_for_branch(&state, &user.0, id.into_inner(), q.status.as_deref(), page).await?;
    Ok(HttpResponse::Ok().json(logs))
}

/// Approve (credits minutes and points at the branch's rate) or reject a log.
#[utoipa::path(post, path = "/api/v1/volunteer-logs/{id}/review", tag = "points", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ReviewRequest,
    responses((status = 200, body = LogView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "already_reviewed", body = ErrorBody)))]
pub async fn review_log(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<ReviewRequest>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(volunteer::review(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// A secretary's adjustment of someone else's points: a ledger entry of kind `adjust` with
/// a reason. `Idempotency-Key` is required: a retry with the same key and body answers the
/// first response again (`Idempotent-Replayed: true`) and credits nothing more.
#[utoipa::path(post, path = "/api/v1/orgs/{id}/points/adjust", tag = "points", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch"),
        ("Idempotency-Key" = String, Header, pattern = r"^[!-~]{1,64}$",
            description = "required, 1–64 visible ASCII characters; the same key credits once")),
    request_body = AdjustRequest,
    responses((status = 201, description = "the entry; a replay answers the first response again", body = LedgerEntryView),
        (status = 400, description = "`idempotency_key_required`, or a malformed body", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "not a secretary of the branch, or `self_dealing`", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "insufficient_points", body = ErrorBody),
        (status = 422, description = "bad fields, or `idempotency_conflict`", body = ErrorBody)))]
pub async fn adjust(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<AdjustRequest>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(service::adjust(&state, &user.0, id.into_inner(), body.into_inner(), key).await?.into_http())
}

/// Top members of an org's board and the caller's own rank. Ties: who got there first
/// ranks higher.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/leaderboard", tag = "points", security(("bearer" = [])),
    params(("id" = i64, Path), BoardQuery),
    responses((status = 200, body = BoardView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn leaderboard(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<BoardQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::leaderboard(&state, &user.0, id.into_inner(), q.into_inner()).await?))
}

/// Branches below a township or county by score per member (staff).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/branch-ranking", tag = "points", security(("bearer" = [])),
    params(("id" = i64, Path), RankingQuery),
    responses((status = 200, body = BranchRankingView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn branch_ranking(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<RankingQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::branch_ranking(&state, &user.0, id.into_inner(), q.into_inner()).await?))
}
