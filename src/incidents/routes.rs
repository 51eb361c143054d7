//! HTTP for incident reports: extract, call one service function, shape the response.
use actix_web::{web, HttpRequest, HttpResponse};

use super::domain::NewIncidentRequest;
use super::export;
use super::ledger::{self, StatsView};
use super::sla::{self, CalendarRequest, CalendarView, SlaRulesRequest, SlaRulesView};
use super::views::{ActionRequest, FiledView, IncidentDetail, IncidentQuery, IncidentView};
use super::workflow::FeedbackRequest;
use super::{filing, workflow};
use crate::access::extractor::CurrentUser;
use crate::error::{AppError, ErrorBody, Result};
use crate::http::export::origin;
use crate::http::json::JsonBody;
use crate::http::query::Query;
use crate::idempotency::IdempotencyKey;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/incidents").route(web::post().to(file)))
        .service(web::resource("/incidents/{id}").route(web::get().to(get)))
        .service(web::resource("/incidents/{id}/actions").route(web::post().to(act)))
        .service(web::resource("/incidents/{id}/feedback").route(web::post().to(feedback)))
        .service(
            web::resource("/orgs/{id}/incident-sla")
                .route(web::get().to(sla_rules))
                .route(web::put().to(set_sla_rules)),
        )
        .service(
            web::resource("/orgs/{id}/calendar/{year}")
                .route(web::get().to(calendar))
                .route(web::put().to(set_calendar)),
        )
        .service(web::resource("/orgs/{id}/incidents").route(web::get().to(list)))
        .service(web::resource("/orgs/{id}/incidents/stats").route(web::get().to(stats)))
        .service(web::resource("/orgs/{id}/incidents/export").route(web::get().to(export_ledger)));
}

/// File an incident (grid workers of the grid, or staff above it). `Idempotency-Key` is
/// required: a retry with the same key and body answers the first response again
/// (header `Idempotent-Replayed: true`); with another body, 422 `idempotency_conflict`.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, pattern = r"^[!-~]{1,64}$",
        description = "required, 1–64 visible ASCII characters; kept 30 days")),
    request_body = NewIncidentRequest,
    responses((status = 201, body = FiledView),
        (status = 400, description = "`idempotency_key_required`, or malformed", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`idempotency_in_progress`", body = ErrorBody),
        (status = 422, description = "`validation_failed` or `idempotency_conflict`", body = ErrorBody)))]
pub async fn file(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    body: JsonBody<NewIncidentRequest>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(filing::file(&state, &user.0, key, body.into_inner()).await?.into_http())
}

/// One incident with its timeline (disputes: staff and the people on them only).
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = IncidentDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(workflow::get(&state, &user.0, id.into_inner()).await?))
}

/// Move an incident along its workflow; every move adds a timeline row.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/actions", tag = "incidents", security(("bearer" = [])),
    params(("id" = i64, Path),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,64}$",
            description = "optional: a retry with the same key and body answers the first response again")), request_body = ActionRequest,
    responses((status = 200, body = IncidentDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<ActionRequest>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(workflow::act(&state, &user.0, id.into_inner(), body.into_inner(), key).await?.into_http())
}

/// The reporter's feedback (回访) on a closed incident, within 7 days of its closing, once
/// per closing: `satisfied: false` reopens it (`in_progress`, same assignee, a new deadline).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/feedback", tag = "incidents", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = FeedbackRequest,
    responses((status = 200, body = IncidentDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "not the reporter", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`feedback_refused`: not closed, past 7 days, or given already", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn feedback(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<FeedbackRequest>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(workflow::feedback(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// A county's incident deadlines: every category and severity, the county's own or the
/// default (for anyone whose roles reach the county).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/incident-sla", tag = "incidents", security(("bearer" = [])),
    params(("id" = i64, Path, description = "a county")),
    responses((status = 200, body = SlaRulesView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn sla_rules(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(sla::rules(&state, &user.0, id.into_inner()).await?))
}

/// Replace a county's incident deadlines (county admin); pairs left out take the default.
/// Applies to incidents filed from now on.
#[utoipa::path(put, path = "/api/v1/orgs/{id}/incident-sla", tag = "incidents", security(("bearer" = [])),
    params(("id" = i64, Path, description = "a county")), request_body = SlaRulesRequest,
    responses((status = 200, body = SlaRulesView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_sla_rules(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<SlaRulesRequest>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(sla::set_rules(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// A county's holidays and make-up workdays (调休) for a year.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/calendar/{year}", tag = "incidents", security(("bearer" = [])),
    params(("id" = i64, Path, description = "a county"), ("year" = i32, Path, minimum = 2000, maximum = 2100)),
    responses((status = 200, body = CalendarView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn calendar(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(i64, i32)>,
) -> Result<HttpResponse> {
    let (id, year) = path.into_inner();
    Ok(HttpResponse::Ok().json(sla::calendar(&state, &user.0, id, year).await?))
}

/// Replace a county's holidays and make-up workdays for a year (county admin). Working-day
/// deadlines of incidents filed from now on follow it.
#[utoipa::path(put, path = "/api/v1/orgs/{id}/calendar/{year}", tag = "incidents", security(("bearer" = [])),
    params(("id" = i64, Path, description = "a county"), ("year" = i32, Path, minimum = 2000, maximum = 2100)),
    request_body = CalendarRequest,
    responses((status = 200, body = CalendarView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_calendar(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(i64, i32)>,
    body: JsonBody<CalendarRequest>,
) -> Result<HttpResponse> {
    let (id, year) = path.into_inner();
    Ok(HttpResponse::Ok().json(sla::set_calendar(&state, &user.0, id, year, body.into_inner()).await?))
}

/// An org's incidents, newest first, filtered; only what the caller may see.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/incidents", tag = "incidents", security(("bearer" = [])),
    params(("id" = i64, Path), IncidentQuery),
    responses((status = 200, body = Page<IncidentView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<IncidentQuery>,
) -> Result<HttpResponse> {
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit }.parse()?;
    Ok(HttpResponse::Ok().json(ledger::list(&state, &user.0, id.into_inner(), &q, page).await?))
}

/// Counts by category and status, closure rate and median hours to close, for incidents
/// filed in `[from, to)` (staff).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/incidents/stats", tag = "incidents", security(("bearer" = [])),
    params(("id" = i64, Path), IncidentQuery),
    responses((status = 200, body = StatsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn stats(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<IncidentQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(ledger::stats(&state, &user.0, id.into_inner(), &q).await?))
}

/// The ledger (台账) as `xlsx` (default) or `csv` (UTF-8 with BOM), newest first (staff).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/incidents/export", tag = "incidents", security(("bearer" = [])),
    params(("id" = i64, Path), IncidentQuery),
    responses(
        (status = 200, description = "the file: text/csv or \
application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn export_ledger(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<IncidentQuery>,
) -> Result<HttpResponse> {
    let format = q.format.as_deref().unwrap_or("xlsx");
    if !matches!(format, "xlsx" | "csv") {
        return Err(AppError::field("format", "须为 xlsx 或 csv"));
    }
    let filter = q.filter(state.clock.now())?;
    let vis = ledger::staff_visibility(&state, &user.0, id.into_inner()).await?;
    let name = format!("incidents-{}.{format}", state.clock.now().format("%Y%m%d"));
    let origin = origin(&req);
    let disposition = ("Content-Disposition", format!("attachment; filename=\"{name}\""));
    if format == "csv" {
        let stream = export::csv_stream(state.get_ref().clone(), vis, filter, origin);
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(disposition)
            .streaming(stream));
    }
    let bytes = export::xlsx(&state, &vis, &filter, &origin).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header(disposition)
        .body(bytes))
}
