//! HTTP for logins and token refresh.
use actix_web::{web, HttpRequest, HttpResponse};

use super::service::{self, PasswordLogin, RefreshRequest, TokenResponse, WechatLogin};
use crate::error::{ErrorBody, Result};
use crate::http::client_addr;
use crate::http::json::JsonBody;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/wechat").route(web::post().to(wechat)))
        .service(web::resource("/auth/password").route(web::post().to(password)))
        .service(web::resource("/auth/refresh").route(web::post().to(refresh)))
        .service(web::resource("/auth/logout").route(web::post().to(logout)));
}

/// Log in from the mini-program with a `wx.login()` code; creates the user on first login.
#[utoipa::path(post, path = "/api/v1/auth/wechat", tag = "auth", request_body = WechatLogin,
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody),
        (status = 401, description = "wechat_code_invalid", body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, description = "wechat_unavailable", body = ErrorBody),
        (status = 503, description = "wechat_not_configured", body = ErrorBody)))]
pub async fn wechat(state: web::Data<AppState>, body: JsonBody<WechatLogin>) -> Result<HttpResponse> {
    Ok(no_store().json(service::login_wechat(&state, body.into_inner()).await?))
}

/// Staff log in with a username and password. Failures slow down the address they come
/// from (429 with Retry-After): 5 for one username, 30 in all; never anyone else.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordLogin,
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody),
        (status = 401, description = "invalid_credentials", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody)))]
pub async fn password(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<PasswordLogin>,
) -> Result<HttpResponse> {
    let ip = client_addr(&req, &state.settings);
    Ok(no_store().json(service::login_password(&state, body.into_inner(), &ip).await?))
}

/// Trade a refresh token for a new pair. The same token again within 30 s answers the same
/// pair (a retry); later it is `refresh_token_reused` and ends the login everywhere.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody),
        (status = 401, description = "unauthenticated or refresh_token_reused", body = ErrorBody)))]
pub async fn refresh(state: web::Data<AppState>, body: JsonBody<RefreshRequest>) -> Result<HttpResponse> {
    Ok(no_store().json(service::refresh(&state, body.into_inner()).await?))
}

/// Tokens are not for caches: every login and refresh answer says `no-store`.
fn no_store() -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::Ok();
    builder.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    builder
}

/// End this login: its refresh tokens stop working and its access tokens answer 401 on
/// every server within 2 s.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "logged out"), (status = 400, body = ErrorBody),
        (status = 401, description = "unknown refresh token", body = ErrorBody)))]
pub async fn logout(state: web::Data<AppState>, body: JsonBody<RefreshRequest>) -> Result<HttpResponse> {
    service::logout(&state, body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
