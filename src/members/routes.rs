//! HTTP for people: `/me`, joining by invite, member lists.
use actix_web::{web, HttpResponse};

use super::leaving::{self, Leaving, Removal};
use super::service::{self, JoinRequest, MeView, MemberView, ProfileUpdate};
use crate::access::extractor::CurrentUser;
use crate::error::{ErrorBody, Result};
use crate::http::json::JsonBody;
use crate::http::query::Query;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/me").route(web::get().to(get_me)).route(web::patch().to(patch_me)))
        .service(web::resource("/me/join").route(web::post().to(join)))
        .service(web::resource("/me/leave").route(web::post().to(leave)))
        .service(web::resource("/orgs/{id}/members/{user_id}").route(web::delete().to(remove_member)))
        .service(web::resource("/orgs/{id}/members").route(web::get().to(members)));
}

/// The caller's profile and roles (the phone unmasked: it is their own).
#[utoipa::path(get, path = "/api/v1/me", tag = "members", security(("bearer" = [])),
    responses((status = 200, body = MeView), (status = 401, body = ErrorBody)))]
pub async fn get_me(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::me(&state.db, user.0.user_id).await?))
}

/// Change the caller's display name or phone.
#[utoipa::path(patch, path = "/api/v1/me", tag = "members", security(("bearer" = [])),
    request_body = ProfileUpdate,
    responses((status = 200, body = MeView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn patch_me(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: JsonBody<ProfileUpdate>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::update_me(&state, &user.0, body.into_inner()).await?))
}

/// Join a branch with an invite code; it becomes the caller's home branch.
#[utoipa::path(post, path = "/api/v1/me/join", tag = "members", security(("bearer" = [])),
    request_body = JoinRequest,
    responses((status = 200, body = MeView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, description = "invite_expired", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn join(state: web::Data<AppState>, user: CurrentUser, body: JsonBody<JoinRequest>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::join(&state, &user.0, body.into_inner()).await?))
}

/// People of an org's subtree, phones masked (staff over the org).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/members", tag = "members", security(("bearer" = [])),
    params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<MemberView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn members(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = page.parse()?;
    Ok(HttpResponse::Ok().json(service::list_members(&state, &user.0, id.into_inner(), page).await?))
}

/// Leave one's home branch: one's roles there end, held cards go back to the pool, the
/// ledger stays.
#[utoipa::path(post, path = "/api/v1/me/leave", tag = "members", security(("bearer" = [])),
    request_body = Leaving,
    responses((status = 200, body = MeView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "`not_a_member`: no home branch", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn leave(state: web::Data<AppState>, user: CurrentUser, body: JsonBody<Leaving>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(leaving::leave(&state, &user.0, body.into_inner()).await?))
}

/// Remove a member from a branch (its secretary or an admin above), with a reason: their
/// roles at the branch end, held cards go back to the pool, the ledger stays.
#[utoipa::path(delete, path = "/api/v1/orgs/{id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch"), ("user_id" = i64, Path)), request_body = Removal,
    responses((status = 204, description = "removed"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`not_a_member` of this branch", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn remove_member(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(i64, i64)>,
    body: JsonBody<Removal>,
) -> Result<HttpResponse> {
    let (branch_id, user_id) = path.into_inner();
    leaving::remove_member(&state, &user.0, branch_id, user_id, body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
