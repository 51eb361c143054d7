//! HTTP for the org tree: extract, call one service function, shape the response.
use actix_web::{web, HttpResponse};

use super::service::{
    self, AuditQuery, AuditView, BranchSettings, InviteView, NewInvite, NewOrg, OrgView, RoleChange, RoleView,
};
use crate::access::extractor::CurrentUser;
use crate::error::{ErrorBody, Result};
use crate::http::json::JsonBody;
use crate::http::query::Query;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/orgs").route(web::post().to(create_org)))
        .service(web::resource("/orgs/{id}").route(web::get().to(get_org)))
        .service(web::resource("/orgs/{id}/settings").route(web::patch().to(update_settings)))
        .service(web::resource("/orgs/{id}/children").route(web::get().to(children)))
        .service(
            web::resource("/orgs/{id}/invites").route(web::post().to(create_invite)).route(web::get().to(list_invites)),
        )
        .service(web::resource("/invites/{code}").route(web::delete().to(end_invite)))
        .service(web::resource("/orgs/{id}/audit").route(web::get().to(audit)))
        .service(
            web::resource("/orgs/{id}/roles").route(web::put().to(grant_role)).route(web::delete().to(revoke_role)),
        );
}

/// Create an org below a parent the caller administers (a county: super_admin only).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", security(("bearer" = [])),
    request_body = NewOrg,
    responses(
        (status = 201, body = OrgView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, description = "kind is not the next level down", body = ErrorBody),
    ))]
pub async fn create_org(state: web::Data<AppState>, user: CurrentUser, body: JsonBody<NewOrg>) -> Result<HttpResponse> {
    let org = service::create_org(&state, &user.0, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(org))
}

/// One org within the caller's scope.
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = OrgView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_org(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::get_org(&state, &user.0, id.into_inner()).await?))
}

/// The children of an org, by id.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/children", tag = "orgs", security(("bearer" = [])),
    params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<OrgView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn children(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = page.parse()?;
    Ok(HttpResponse::Ok().json(service::children(&state, &user.0, id.into_inner(), page).await?))
}

/// An invite code into a branch, for `resident` or `party_member` (secretary or admin).
#[utoipa::path(post, path = "/api/v1/orgs/{id}/invites", tag = "orgs", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = NewInvite,
    responses((status = 201, body = InviteView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_invite(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<NewInvite>,
) -> Result<HttpResponse> {
    let invite = service::create_invite(&state, &user.0, id.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Created().json(invite))
}

/// Grant a role at this org. Nobody grants a role above their own. A membership role
/// (`resident`, `party_member`) goes only to a member of this branch (a promotion or a
/// change between the two); people join by invite.
#[utoipa::path(put, path = "/api/v1/orgs/{id}/roles", tag = "orgs", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = RoleChange,
    responses((status = 200, body = RoleView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`member_of_other_branch`: a membership role for someone whose home is \
            another branch; `not_a_member`: for someone with no home branch (send an invite)", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn grant_role(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<RoleChange>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::grant_role(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// Revoke a role held at this org.
#[utoipa::path(delete, path = "/api/v1/orgs/{id}/roles", tag = "orgs", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = RoleChange,
    responses((status = 204, description = "revoked"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn revoke_role(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<RoleChange>,
) -> Result<HttpResponse> {
    service::revoke_role(&state, &user.0, id.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Change a branch's points per volunteer hour and card limit (its secretaries, admins above).
#[utoipa::path(patch, path = "/api/v1/orgs/{id}/settings", tag = "orgs", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch")), request_body = BranchSettings,
    responses((status = 200, body = OrgView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_settings(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<BranchSettings>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::update_settings(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// A branch's live invites (not expired, uses left), newest first (secretary of the branch).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/invites", tag = "orgs", security(("bearer" = [])),
    params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<InviteView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_invites(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list_invites(&state, &user.0, id.into_inner(), page.parse()?).await?))
}

/// End an invite now: joining with it answers `invite_expired` (whoever may create it).
#[utoipa::path(delete, path = "/api/v1/invites/{code}", tag = "orgs", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 204, description = "ended"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn end_invite(
    state: web::Data<AppState>,
    user: CurrentUser,
    code: web::Path<String>,
) -> Result<HttpResponse> {
    service::end_invite(&state, &user.0, &code.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The audit log of an org's subtree, newest first: a branch's for its secretary, a
/// township's or county's for its admin.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/audit", tag = "orgs", security(("bearer" = [])),
    params(("id" = i64, Path), AuditQuery),
    responses((status = 200, body = Page<AuditView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn audit(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<AuditQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::audit(&state, &user.0, id.into_inner(), q.into_inner()).await?))
}
