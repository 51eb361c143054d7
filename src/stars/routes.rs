//! HTTP for the five-star rating.
use actix_web::{web, HttpResponse};

use super::indicators::{self, DefaultsRequest, DefaultsView, IndicatorQuery, IndicatorView, NewIndicatorRequest};
use super::view::{self, StarView, YearQuery};
use crate::access::extractor::CurrentUser;
use crate::error::{ErrorBody, Result};
use crate::http::json::JsonBody;
use crate::http::query::Query;
use crate::pagination::Page;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/orgs/{id}/star-indicators")
            .route(web::get().to(list_indicators))
            .route(web::post().to(create_indicator)),
    )
    .service(web::resource("/orgs/{id}/star-indicators/defaults").route(web::post().to(copy_defaults)))
    .service(web::resource("/orgs/{id}/stars").route(web::get().to(branch_stars)));
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
