//! The OpenAPI 3.1 document, generated from the handlers' annotations. `fivestar openapi`
//! prints it; `api-docs/openapi.json` is its committed copy, checked for drift in tests.
use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

use crate::http::openapi::{BearerAuth, CommonErrors, DescribeResponses};
use crate::{auth, error, incidents, media, members, notify, ops, orgs, pagination, points, shop, stars, tasks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "fivestar",
        description = "五星支部 backend: micro-task cards, points and volunteer hours, grid incident reports.\n\n\
Errors are `{code, message, request_id}`, plus `fields` (field → what is wrong, in Chinese) on 422 \
`validation_failed` and on a 400 for a missing, mistyped or malformed field, `required_role` on a 403, and \
`status` with `allowed_actions` on 409 `invalid_transition`. Every response has `X-Request-Id`. Lists are \
`{items, next_cursor}` with `?cursor=&limit=` (limit 1–100, default 20). Out-of-scope resources answer 404; \
visible ones the caller may not change answer 403. Locations are GCJ-02."
    ),
    paths(
        ops::health::healthz,
        ops::health::readyz,
        auth::routes::wechat,
        auth::routes::password,
        auth::routes::refresh,
        auth::routes::logout,
        members::routes::get_me,
        members::routes::patch_me,
        members::routes::join,
        members::routes::leave,
        members::routes::remove_member,
        members::routes::members,
        orgs::routes::create_org,
        orgs::routes::get_org,
        orgs::routes::children,
        orgs::routes::create_invite,
        orgs::routes::list_invites,
        orgs::routes::end_invite,
        orgs::routes::audit,
        orgs::routes::grant_role,
        orgs::routes::revoke_role,
        orgs::routes::update_settings,
        points::routes::my_points,
        points::routes::my_ledger,
        points::routes::my_logs,
        points::routes::create_log,
        points::routes::branch_logs,
        points::routes::review_log,
        points::routes::adjust,
        points::routes::leaderboard,
        points::routes::branch_ranking,
        tasks::routes::publish_task,
        tasks::routes::list_tasks,
        tasks::routes::get_task,
        tasks::routes::edit_task,
        tasks::routes::add_copies,
        tasks::routes::cancel_task,
        tasks::routes::draw,
        tasks::routes::submit,
        tasks::routes::release,
        tasks::routes::review,
        tasks::routes::my_cards,
        tasks::routes::branch_cards,
        incidents::routes::file,
        incidents::routes::get,
        incidents::routes::act,
        incidents::routes::list,
        incidents::routes::stats,
        incidents::routes::export_ledger,
        incidents::routes::feedback,
        incidents::routes::sla_rules,
        incidents::routes::set_sla_rules,
        incidents::routes::calendar,
        incidents::routes::set_calendar,
        notify::routes::inbox,
        notify::routes::mark_read,
        notify::routes::subscribe,
        notify::routes::consents,
        notify::routes::draw_code,
        shop::routes::create_item,
        shop::routes::items,
        shop::routes::item,
        shop::routes::update_item,
        shop::routes::restock,
        shop::routes::retire,
        shop::routes::redeem,
        shop::routes::offers,
        shop::routes::my_redemptions,
        shop::routes::redemption,
        shop::routes::cancel,
        shop::routes::fulfil,
        shop::routes::shop_redemptions,
        shop::routes::ledger,
        stars::routes::list_indicators,
        stars::routes::create_indicator,
        stars::routes::copy_defaults,
        stars::routes::branch_stars,
        stars::routes::summary,
        stars::routes::weekly,
        stars::routes::monthly,
        stars::routes::apply,
        stars::routes::list_applications,
        stars::routes::application,
        stars::routes::evidence,
        stars::routes::review,
        stars::routes::resubmit,
        stars::routes::object,
        stars::routes::resolve,
        stars::routes::revoke,
        media::routes::upload,
        media::routes::file,
    ),
    components(schemas(
        error::ErrorBody,
        // Named by query parameters (`value_type`), so not reached through a body.
        points::domain::Metric,
        points::domain::PeriodKind,
        pagination::Page<orgs::service::OrgView>,
        pagination::Page<orgs::service::InviteView>,
        pagination::Page<orgs::service::AuditView>,
        pagination::Page<members::service::MemberView>,
        pagination::Page<points::service::LedgerEntryView>,
        pagination::Page<points::volunteer::LogView>,
        pagination::Page<tasks::views::TaskView>,
        pagination::Page<tasks::views::CardView>,
        pagination::Page<incidents::views::IncidentView>,
        pagination::Page<shop::service::ItemView>,
        pagination::Page<shop::redemptions::OfferView>,
        pagination::Page<shop::redemptions::RedemptionView>,
        pagination::Page<shop::stock_ledger::StockLineView>,
        entity::shop_stock_moves::StockMoveKind,
        entity::redemptions::RedemptionStatus,
        incidents::domain::Sla,
        pagination::Page<stars::indicators::IndicatorView>,
        pagination::Page<stars::applications::ApplicationView>,
    )),
    modifiers(&BearerAuth, &CommonErrors, &DescribeResponses),
    tags(
        (name = "auth", description = "Logins and tokens"),
        (name = "members", description = "People and their profiles"),
        (name = "orgs", description = "The org tree, roles and invites"),
        (name = "media", description = "Photos"),
        (name = "incidents", description = "Incident reports from the field and their ledger"),
        (name = "cards", description = "Micro-task cards: publish, draw, submit, review"),
        (name = "shop", description = "The points shop: items, redemptions, the counter and the stock ledger"),
        (name = "stars", description = "The five-star rating: indicators, applications, awards"),
        (name = "notifications", description = "The inbox, WeChat subscribe messages and a branch's draw code"),
        (name = "points", description = "Points, volunteer hours, the ledger and leaderboards"),
        (name = "ops", description = "Health and readiness"),
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON with a trailing newline, exactly as committed.
pub fn spec_json() -> String {
    let mut json = ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

/// Holds the rendered document so each request does not render it again.
pub struct SpecJson(pub String);

/// `/api-docs/openapi.json`.
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api-docs/openapi.json").route(web::get().to(serve)));
}

pub async fn serve(spec: web::Data<SpecJson>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(spec.0.clone())
}
