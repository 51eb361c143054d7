//! HTTP for tasks and cards: extract, call one service function (`publishing` or
//! `cards`), shape the response.
use actix_web::{web, HttpRequest, HttpResponse};

use super::domain::{NewTaskRequest, TaskEdit};
use super::views::{CardListQuery, CardReview, CardView, MoreCopies, SubmitRequest, TaskCancel, TaskView};
use super::{cards, publishing};
use crate::access::extractor::CurrentUser;
use crate::error::{ErrorBody, Result};
use crate::http::json::JsonBody;
use crate::http::query::Query;
use crate::idempotency::IdempotencyKey;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/orgs/{id}/tasks").route(web::post().to(publish_task)).route(web::get().to(list_tasks)))
        .service(web::resource("/tasks/{id}").route(web::get().to(get_task)).route(web::patch().to(edit_task)))
        .service(web::resource("/tasks/{id}/copies").route(web::post().to(add_copies)))
        .service(web::resource("/tasks/{id}/cancel").route(web::post().to(cancel_task)))
        .service(web::resource("/orgs/{id}/cards/draw").route(web::post().to(draw)))
        .service(web::resource("/orgs/{id}/cards").route(web::get().to(branch_cards)))
        .service(web::resource("/cards/{id}/submit").route(web::post().to(submit)))
        .service(web::resource("/cards/{id}/release").route(web::post().to(release)))
        .service(web::resource("/cards/{id}/review").route(web::post().to(review)))
        .service(web::resource("/me/cards").route(web::get().to(my_cards)));
}

/// Publish a task (secretary of the branch): its `copies` cards go into the branch pool.
#[utoipa::path(post, path = "/api/v1/orgs/{id}/tasks", tag = "cards", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch"),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,64}$",
            description = "optional: a retry with the same key and body answers the first response again")), request_body = NewTaskRequest,
    responses((status = 201, body = TaskView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn publish_task(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<NewTaskRequest>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(publishing::publish_task(&state, &user.0, id.into_inner(), body.into_inner(), key).await?.into_http())
}

/// A branch's tasks, newest first, with open/claimed/submitted/done counts.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/tasks", tag = "cards", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch"), PageQuery),
    responses((status = 200, body = Page<TaskView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list_tasks(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    page: Query<PageQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(publishing::list_tasks(&state, &user.0, id.into_inner(), page.parse()?).await?))
}

/// A task with its counts (anyone its branch is within reach of). The counts may be up to
/// 5 s old, except right after a change made through the same server.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "cards", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = TaskView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_task(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(publishing::get_task(&state, &user.0, id.into_inner()).await?))
}

/// Correct a live task's title, description or deadline (secretary of its branch).
#[utoipa::path(patch, path = "/api/v1/tasks/{id}", tag = "cards", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = TaskEdit,
    responses((status = 200, body = TaskView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`task_cancelled`, or `conflict` for an ended task", body = ErrorBody)))]
pub async fn edit_task(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<TaskEdit>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(publishing::edit_task(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// Add 1–1000 open cards to a live task (secretary of its branch).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/copies", tag = "cards", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = MoreCopies,
    responses((status = 200, body = TaskView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`task_cancelled`, or `conflict` for an ended task", body = ErrorBody)))]
pub async fn add_copies(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<MoreCopies>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(publishing::add_copies(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// Cancel a task: its open cards leave the pool at once; drawn ones may still be
/// submitted and reviewed (secretary of its branch).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/cancel", tag = "cards", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = TaskCancel,
    responses((status = 200, body = TaskView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "`task_cancelled`", body = ErrorBody)))]
pub async fn cancel_task(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<TaskCancel>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(publishing::cancel_task(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// Draw a random open card from the branch's pool (members of the branch).
#[utoipa::path(post, path = "/api/v1/orgs/{id}/cards/draw", tag = "cards", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch")),
    responses((status = 201, body = CardView), (status = 401, body = ErrorBody),
        (status = 403, description = "not a member of the branch", body = ErrorBody),
        (status = 404, description = "`pool_empty`, or no such branch", body = ErrorBody),
        (status = 409, description = "`card_limit`", body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn draw(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Result<HttpResponse> {
    Ok(HttpResponse::Created().json(cards::draw(&state, &user.0, id.into_inner()).await?))
}

/// Submit a held card (the holder, before the claim expires; a photo where required).
#[utoipa::path(post, path = "/api/v1/cards/{id}/submit", tag = "cards", security(("bearer" = [])),
    params(("id" = i64, Path),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,64}$",
            description = "optional: a retry with the same key and body answers the first response again")), request_body = SubmitRequest,
    responses((status = 200, body = CardView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "not the holder", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`claim_expired`, `not_claimed`, `already_submitted`", body = ErrorBody),
        (status = 422, description = "`photo_required`, or bad fields", body = ErrorBody)))]
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<SubmitRequest>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(cards::submit(&state, &user.0, id.into_inner(), body.into_inner(), key).await?.into_http())
}

/// Give a held card back to the pool (the holder).
#[utoipa::path(post, path = "/api/v1/cards/{id}/release", tag = "cards", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = CardView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn release(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(cards::release(&state, &user.0, id.into_inner()).await?))
}

/// Approve (credits the task's points and minutes once) or reject (the card returns to
/// the pool) a submitted card; secretaries of its branch, never their own card.
#[utoipa::path(post, path = "/api/v1/cards/{id}/review", tag = "cards", security(("bearer" = [])),
    params(("id" = i64, Path),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,64}$",
            description = "optional: a retry with the same key and body answers the first response again")), request_body = CardReview,
    responses((status = 200, body = CardView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`already_reviewed`, `not_submitted`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn review(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<CardReview>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(cards::review(&state, &user.0, id.into_inner(), body.into_inner(), key).await?.into_http())
}

/// The caller's cards (one item per draw), newest first.
#[utoipa::path(get, path = "/api/v1/me/cards", tag = "cards", security(("bearer" = [])), params(CardListQuery),
    responses((status = 200, body = Page<CardView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn my_cards(state: web::Data<AppState>, user: CurrentUser, q: Query<CardListQuery>) -> Result<HttpResponse> {
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit }.parse()?;
    Ok(HttpResponse::Ok().json(cards::my_cards(&state, &user.0, q.status.as_deref(), page).await?))
}

/// A branch's cards in one status, oldest first; `submitted` (the default) is the review queue.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/cards", tag = "cards", security(("bearer" = [])),
    params(("id" = i64, Path, description = "branch"), CardListQuery),
    responses((status = 200, body = Page<CardView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn branch_cards(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<CardListQuery>,
) -> Result<HttpResponse> {
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit }.parse()?;
    Ok(HttpResponse::Ok().json(cards::branch_cards(&state, &user.0, id.into_inner(), q.status.as_deref(), page).await?))
}
