//! HTTP for the five-star rating.
use actix_web::{web, HttpRequest, HttpResponse};

use super::applications::{
    self, ApplicationQuery, ApplicationView, EvidenceView, NewApplication, NewEvidence, NewObjection, ObjectionCreated,
    ObjectionView, Resolution, Resubmission, Revocation, StarReview,
};
use super::indicators::{self, DefaultsRequest, DefaultsView, IndicatorQuery, IndicatorView, NewIndicatorRequest};
use super::reports::{self, MonthlyQuery, Period, Report, WeeklyQuery};
use super::summary::{self, StarSummary};
use super::view::{self, StarView, YearQuery};
use super::Star;
use crate::access::extractor::CurrentUser;
use crate::error::{ErrorBody, Result};
use crate::http::json::JsonBody;
use crate::http::query::Query;
use crate::idempotency::IdempotencyKey;
use crate::pagination::Page;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/orgs/{id}/star-indicators")
            .route(web::get().to(list_indicators))
            .route(web::post().to(create_indicator)),
    )
    .service(web::resource("/orgs/{id}/star-indicators/defaults").route(web::post().to(copy_defaults)))
    .service(web::resource("/orgs/{id}/stars").route(web::get().to(branch_stars)))
    .service(web::resource("/orgs/{id}/stars/summary").route(web::get().to(summary)))
    .service(web::resource("/orgs/{id}/reports/weekly").route(web::get().to(weekly)))
    .service(web::resource("/orgs/{id}/reports/monthly").route(web::get().to(monthly)))
    .service(
        web::resource("/orgs/{id}/star-applications")
            .route(web::post().to(apply))
            .route(web::get().to(list_applications)),
    )
    .service(web::resource("/orgs/{id}/star-ratings/{year}/revoke").route(web::post().to(revoke)))
    .service(web::resource("/star-applications/{id}").route(web::get().to(application)))
    .service(web::resource("/star-applications/{id}/evidence").route(web::post().to(evidence)))
    .service(web::resource("/star-applications/{id}/review").route(web::post().to(review)))
    .service(web::resource("/star-applications/{id}/submit").route(web::post().to(resubmit)))
    .service(web::resource("/star-applications/{id}/objections").route(web::post().to(object)))
    .service(web::resource("/objections/{id}/resolve").route(web::post().to(resolve)));
}

/// A branch's stars for a year: each indicator measured (auto) or evidenced, and the rating.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/stars", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch"), YearQuery),
    responses((status = 200, body = StarView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn branch_stars(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<YearQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(view::branch_view(&state, &user.0, id.into_inner(), &q).await?))
}

/// A county's indicators for a year (anyone whose roles reach the county).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/star-indicators", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path, description = "county"), IndicatorQuery),
    responses((status = 200, body = Page<IndicatorView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list_indicators(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<IndicatorQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(indicators::list(&state, &user.0, id.into_inner(), &q).await?))
}

/// Add an indicator (county_admin).
#[utoipa::path(post, path = "/api/v1/orgs/{id}/star-indicators", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path, description = "county")), request_body = NewIndicatorRequest,
    responses((status = 201, body = IndicatorView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "the code is taken in that year", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_indicator(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<NewIndicatorRequest>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Created().json(indicators::create(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// Copy the built-in indicators into a year (county_admin); codes already there are kept.
#[utoipa::path(post, path = "/api/v1/orgs/{id}/star-indicators/defaults", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path, description = "county")), request_body = DefaultsRequest,
    responses((status = 200, body = DefaultsView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn copy_defaults(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<DefaultsRequest>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(indicators::copy_defaults(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// 申报: a branch's secretary applies for stars (one live application per branch and year).
#[utoipa::path(post, path = "/api/v1/orgs/{id}/star-applications", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch"),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,64}$",
            description = "optional: a retry with the same key and body answers the first response again")),
    request_body = NewApplication,
    responses((status = 201, body = ApplicationView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`application_exists`", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn apply(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<NewApplication>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(applications::apply(&state, &user.0, id.into_inner(), body.into_inner(), key).await?.into_http())
}

/// A branch's applications for a year, newest first (staff over the branch).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/star-applications", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch"), ApplicationQuery),
    responses((status = 200, body = Page<ApplicationView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_applications(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<ApplicationQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(applications::list(&state, &user.0, id.into_inner(), &q).await?))
}

/// One application with its evidence and history; its objections for the township and county.
#[utoipa::path(get, path = "/api/v1/star-applications/{id}", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ApplicationView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn application(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(applications::get(&state, &user.0, id.into_inner()).await?))
}

/// Evidence for an indicator (the branch's secretary, while submitted or returned).
#[utoipa::path(post, path = "/api/v1/star-applications/{id}/evidence", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = NewEvidence,
    responses((status = 201, body = EvidenceView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn evidence(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<NewEvidence>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Created()
        .json(applications::add_evidence(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// 初审 (township_admin, when submitted) or 审核 (county_admin, when township_passed).
#[utoipa::path(post, path = "/api/v1/star-applications/{id}/review", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = StarReview,
    responses((status = 200, body = ApplicationView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "not the reviewer, or `self_dealing`", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn review(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<StarReview>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(applications::review(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// Submit a returned application again (the branch's secretary).
#[utoipa::path(post, path = "/api/v1/star-applications/{id}/submit", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = Resubmission,
    responses((status = 200, body = ApplicationView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn resubmit(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<Resubmission>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(applications::resubmit(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// Object to a publicized application (anyone whose roles reach its county).
#[utoipa::path(post, path = "/api/v1/star-applications/{id}/objections", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = NewObjection,
    responses((status = 201, body = ObjectionCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "`invalid_transition`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn object(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<NewObjection>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Created().json(applications::object(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// Resolve an objection (county_admin); upheld sends the application back to the county's review.
#[utoipa::path(post, path = "/api/v1/objections/{id}/resolve", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = Resolution,
    responses((status = 200, body = ObjectionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn resolve(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<Resolution>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(applications::resolve(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// 摘星: the county takes an awarded star back; answers the branch's rating after.
#[utoipa::path(post, path = "/api/v1/orgs/{id}/star-ratings/{year}/revoke", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch"), ("year" = i32, Path)), request_body = Revocation,
    responses((status = 200, body = Vec<Star>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn revoke(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(i64, i32)>,
    body: JsonBody<Revocation>,
) -> Result<HttpResponse> {
    let (branch, year) = path.into_inner();
    Ok(HttpResponse::Ok().json(applications::revoke(&state, &user.0, branch, year, body.into_inner()).await?))
}

/// A township's or county's rating: branches by stars, the share with three or more, per
/// star, applications by status, and the same share per child org (township staff or above).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/stars/summary", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path, description = "a township or a county"), YearQuery),
    responses((status = 200, body = StarSummary), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn summary(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<YearQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(summary::summary(&state, &user.0, id.into_inner(), &q).await?))
}

/// A report as JSON, or as XLSX (the table with a bar chart of the top 20, and the rank changes).
async fn answer(
    state: &AppState,
    user: &CurrentUser,
    org: i64,
    period: Period,
    format: Option<&str>,
    title: &str,
) -> Result<HttpResponse> {
    let xlsx = match format.unwrap_or("json") {
        "json" => false,
        "xlsx" => true,
        _ => return Err(crate::error::AppError::field("format", "须为 json 或 xlsx")),
    };
    let report = reports::report(state, &user.0, org, period).await?;
    if !xlsx {
        return Ok(HttpResponse::Ok().json(report));
    }
    let name = format!("report-{org}-{}.xlsx", report.period);
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}\"")))
        .body(reports::xlsx(&report, title)?))
}

/// 周通报: per branch of a township or county over an ISO week, ranked by points per member
/// with the change against the week before (township staff or above).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/reports/weekly", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path, description = "a township or a county"), WeeklyQuery),
    responses((status = 200, description = "JSON, or the XLSX file", body = Report), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn weekly(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<WeeklyQuery>,
) -> Result<HttpResponse> {
    let period = reports::parse_week(q.week.as_deref(), state.clock.now())
        .ok_or_else(|| crate::error::AppError::field("week", "须为 ISO 周，如 2026-W48"))?;
    answer(&state, &user, id.into_inner(), period, q.format.as_deref(), "周通报").await
}

/// 月调度: the same over a month.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/reports/monthly", tag = "stars", security(("bearer" = [])),
    params(("id" = i64, Path, description = "a township or a county"), MonthlyQuery),
    responses((status = 200, description = "JSON, or the XLSX file", body = Report), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn monthly(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<MonthlyQuery>,
) -> Result<HttpResponse> {
    let period = reports::parse_month(q.month.as_deref(), state.clock.now())
        .ok_or_else(|| crate::error::AppError::field("month", "须为月份，如 2026-11"))?;
    answer(&state, &user, id.into_inner(), period, q.format.as_deref(), "月调度").await
}
