//! HTTP for the inbox, the subscribe-message consents and a branch's draw code.
use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::draw_code;
use super::service::{self, Consents, InboxPage, InboxQuery, MarkRead, MarkedRead, SubscribeRequest};
use crate::access::extractor::CurrentUser;
use crate::error::{ErrorBody, Result};
use crate::http::json::JsonBody;
use crate::http::query::Query;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/me/notifications").route(web::get().to(inbox)))
        .service(web::resource("/me/notifications/read").route(web::post().to(mark_read)))
        .service(web::resource("/me/subscriptions").route(web::post().to(subscribe)).route(web::get().to(consents)))
        .service(web::resource("/orgs/{id}/draw-code.png").route(web::get().to(draw_code)));
}

/// The caller's inbox, newest first: cards reviewed, redemptions ready and expiring,
/// incidents assigned, overdue and escalated, star applications reviewed.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "notifications", security(("bearer" = [])),
    params(InboxQuery),
    responses((status = 200, body = InboxPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn inbox(state: web::Data<AppState>, user: CurrentUser, q: Query<InboxQuery>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::inbox(&state, &user.0, &q).await?))
}

/// Mark some of the caller's notifications read (ids that are not theirs are ignored).
#[utoipa::path(post, path = "/api/v1/me/notifications/read", tag = "notifications", security(("bearer" = [])),
    request_body = MarkRead,
    responses((status = 200, body = MarkedRead), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn mark_read(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: JsonBody<MarkRead>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::mark_read(&state, &user.0, body.into_inner()).await?))
}

/// Record the one-time subscribe-message consents the mini-program just collected
/// (`wx.requestSubscribeMessage`): each allows one message with that template.
#[utoipa::path(post, path = "/api/v1/me/subscriptions", tag = "notifications", security(("bearer" = [])),
    request_body = SubscribeRequest,
    responses((status = 200, body = Consents), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn subscribe(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: JsonBody<SubscribeRequest>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::subscribe(&state, &user.0, body.into_inner()).await?))
}

/// The consents the caller has left, per template.
#[utoipa::path(get, path = "/api/v1/me/subscriptions", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Consents), (status = 401, body = ErrorBody)))]
pub async fn consents(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::consents(&state, &user.0).await?))
}

/// The branch's mini-program code (scene `b=<branch_id>`) to post at a service point, for
/// staff holding a role at the branch or above it (its secretary, the township and county
/// admins); fetched from WeChat once and kept.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/draw-code.png", tag = "notifications", security(("bearer" = [])),
    params(("id" = i64, Path, description = "a branch")),
    responses((status = 200, description = "the image", content_type = "image/png"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`", body = ErrorBody),
        (status = 503, description = "`wechat_not_configured`", body = ErrorBody)))]
pub async fn draw_code(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Result<HttpResponse> {
    let bytes = draw_code::get(&state, &user.0, id.into_inner()).await?;
    let kind = if bytes.starts_with(&[0xff, 0xd8]) { "image/jpeg" } else { "image/png" };
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "private, max-age=86400"))
        .body(bytes))
}
