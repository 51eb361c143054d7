//! HTTP for the points shop: items, redemptions, the counter and the stock ledger.
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::domain::{FulfilRequest, ItemEdit, NewItemRequest, RedeemRequest, RestockRequest};
use super::redemptions::{self, OfferView, RedemptionQuery, RedemptionView};
use super::service::{self, ItemView};
use super::stock_ledger::{self, Format, LedgerQuery, StockLineView};
use crate::access::extractor::CurrentUser;
use crate::error::{ErrorBody, Result};
use crate::http::export::origin;
use crate::http::json::JsonBody;
use crate::http::query::Query;
use crate::idempotency::IdempotencyKey;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/me/shop").route(web::get().to(offers)))
        .service(web::resource("/me/redemptions").route(web::get().to(my_redemptions)))
        .service(web::resource("/orgs/{id}/shop/items").route(web::post().to(create_item)).route(web::get().to(items)))
        .service(web::resource("/orgs/{id}/shop/ledger").route(web::get().to(ledger)))
        .service(web::resource("/orgs/{id}/redemptions").route(web::get().to(shop_redemptions)))
        .service(web::resource("/orgs/{id}/redemptions/fulfil").route(web::post().to(fulfil)))
        .service(web::resource("/shop/items/{id}").route(web::get().to(item)).route(web::patch().to(update_item)))
        .service(web::resource("/shop/items/{id}/restock").route(web::post().to(restock)))
        .service(web::resource("/shop/items/{id}/retire").route(web::post().to(retire)))
        .service(web::resource("/shop/items/{id}/redeem").route(web::post().to(redeem)))
        .service(web::resource("/redemptions/{id}").route(web::get().to(redemption)))
        .service(web::resource("/redemptions/{id}/cancel").route(web::post().to(cancel)));
}

/// Put an item on a shop's shelf (a branch's secretary, a township's admin, or above).
#[utoipa::path(post, path = "/api/v1/orgs/{id}/shop/items", tag = "shop", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the shop: a branch or a township"),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,64}$",
            description = "optional: a retry with the same key and body answers the first response again")),
    request_body = NewItemRequest,
    responses((status = 201, body = ItemView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_item(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<NewItemRequest>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(service::create_item(&state, &user.0, id.into_inner(), body.into_inner(), key).await?.into_http())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ItemListQuery {
    /// `active` or `retired` (those who keep the shop; members see the active ones).
    pub status: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// A shop's items, oldest first.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/shop/items", tag = "shop", security(("bearer" = [])),
    params(("id" = i64, Path), ItemListQuery),
    responses((status = 200, body = Page<ItemView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn items(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<ItemListQuery>,
) -> Result<HttpResponse> {
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit }.parse()?;
    Ok(HttpResponse::Ok().json(service::list_items(&state, &user.0, id.into_inner(), q.status.as_deref(), page).await?))
}

#[utoipa::path(get, path = "/api/v1/shop/items/{id}", tag = "shop", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = ItemView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn item(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::get_item(&state, &user.0, id.into_inner()).await?))
}

/// Edit an item (not its stock: restock for that); audited.
#[utoipa::path(patch, path = "/api/v1/shop/items/{id}", tag = "shop", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = ItemEdit,
    responses((status = 200, body = ItemView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_item(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<ItemEdit>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::update_item(&state, &user.0, id.into_inner(), body.into_inner()).await?))
}

/// Add stock, with its donor and a note in the stock ledger.
#[utoipa::path(post, path = "/api/v1/shop/items/{id}/restock", tag = "shop", security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,64}$",
        description = "optional: a retry with the same key and body restocks once")),
    request_body = RestockRequest,
    responses((status = 200, body = ItemView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn restock(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<RestockRequest>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(service::restock(&state, &user.0, id.into_inner(), body.into_inner(), key).await?.into_http())
}

/// Take an item off the shelf; reserved redemptions may still be picked up.
#[utoipa::path(post, path = "/api/v1/shop/items/{id}/retire", tag = "shop", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ItemView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn retire(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::retire(&state, &user.0, id.into_inner()).await?))
}

/// Redeem: in one transaction the points are spent (a `redeem` ledger entry, boards
/// unchanged), the stock taken and the reservation stored with its pickup code.
#[utoipa::path(post, path = "/api/v1/shop/items/{id}/redeem", tag = "shop", security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = String, Header, pattern = r"^[!-~]{1,64}$",
        description = "required, 1–64 visible ASCII characters; the same key redeems once")),
    request_body = RedeemRequest,
    responses((status = 201, description = "reserved; a replay answers the first response again", body = RedemptionView),
        (status = 400, description = "`idempotency_key_required`, or a malformed body", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "not a member of the shop's subtree", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`insufficient_points`, `out_of_stock`, `limit_reached` or `item_unavailable`", body = ErrorBody),
        (status = 422, description = "bad quantity, or `idempotency_conflict`", body = ErrorBody)))]
pub async fn redeem(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<RedeemRequest>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(redemptions::redeem(&state, &user.0, id.into_inner(), body.into_inner(), key).await?.into_http())
}

/// Items the caller may redeem now in the shops of their branch and township, with how
/// much their limit leaves them.
#[utoipa::path(get, path = "/api/v1/me/shop", tag = "shop", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<OfferView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn offers(state: web::Data<AppState>, user: CurrentUser, page: Query<PageQuery>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(redemptions::offers(&state, &user.0, page.parse()?).await?))
}

/// The caller's redemptions, newest first; reserved ones carry their QR image.
#[utoipa::path(get, path = "/api/v1/me/redemptions", tag = "shop", security(("bearer" = [])), params(RedemptionQuery),
    responses((status = 200, body = Page<RedemptionView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn my_redemptions(
    state: web::Data<AppState>,
    user: CurrentUser,
    q: Query<RedemptionQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(redemptions::mine(&state, &user.0, &q).await?))
}

#[utoipa::path(get, path = "/api/v1/redemptions/{id}", tag = "shop", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = RedemptionView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn redemption(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(redemptions::get(&state, &user.0, id.into_inner()).await?))
}

/// The member cancels a reservation: the points (a `refund` entry) and the stock come back.
#[utoipa::path(post, path = "/api/v1/redemptions/{id}/cancel", tag = "shop", security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,64}$",
        description = "optional: a retry answers the first cancellation again")),
    responses((status = 200, body = RedemptionView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`already_fulfilled` or `redemption_closed`", body = ErrorBody)))]
pub async fn cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(redemptions::cancel(&state, &user.0, id.into_inner(), key).await?.into_http())
}

/// The counter hands over what a code reserved (the shop's secretary or admin,
/// `shop_keeper`, or an admin above; never one's own).
#[utoipa::path(post, path = "/api/v1/orgs/{id}/redemptions/fulfil", tag = "shop", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the shop's org"),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,64}$",
            description = "optional: a retry answers the first fulfilment again")),
    request_body = FulfilRequest,
    responses((status = 200, body = RedemptionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "not keeping this shop, or `self_dealing`", body = ErrorBody),
        (status = 404, description = "no such code at this shop", body = ErrorBody),
        (status = 409, description = "`already_fulfilled` or `redemption_closed`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn fulfil(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: JsonBody<FulfilRequest>,
) -> Result<HttpResponse> {
    let key = IdempotencyKey::from_request(&req)?;
    Ok(redemptions::fulfil(&state, &user.0, id.into_inner(), body.into_inner(), key).await?.into_http())
}

/// A shop's redemptions, newest first (those who keep it).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/redemptions", tag = "shop", security(("bearer" = [])),
    params(("id" = i64, Path), RedemptionQuery),
    responses((status = 200, body = Page<RedemptionView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn shop_redemptions(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<RedemptionQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(redemptions::of_shop(&state, &user.0, id.into_inner(), &q).await?))
}

/// The stock ledger (台账): JSON pages, or the whole of it as `csv` (UTF-8 with BOM,
/// formulas neutralised) or `xlsx`.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/shop/ledger", tag = "shop", security(("bearer" = [])),
    params(("id" = i64, Path), LedgerQuery),
    responses((status = 200, description = "a page of lines (json), or the file: text/csv or \
application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Page<StockLineView>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn ledger(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    q: Query<LedgerQuery>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let format = q.format()?;
    let (content_type, ext) = match format {
        Format::Json => return Ok(HttpResponse::Ok().json(stock_ledger::page(&state, &user.0, id, &q).await?)),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Xlsx => ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    };
    let bytes = stock_ledger::file(&state, &user.0, id, &q, format, &origin(&req)).await?;
    let name = format!("shop-ledger-{id}-{}.{ext}", state.clock.now().format("%Y%m%d"));
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}\"")))
        .body(bytes))
}
