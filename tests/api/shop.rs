//! The points shop (CONTRACT.md, "Points shop"): items, redemption and its refusals,
//! the counter, cancel and expiry with their refunds, the stock ledger and its files.
use std::io::Cursor;

use calamine::{Reader, Xlsx};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{parts, spawn_app, wait_for, Session, TestApp, Tree};

struct Shop {
    tree: Tree,
    admin: Session,
    secretary: Session,
    township_admin: Session,
    keeper: Session,
    resident: Session,
    /// A resident of the other branch (same township).
    neighbour: Session,
}

async fn setup(app: &TestApp) -> Shop {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "shop-sec", tree.branch_a, "secretary").await;
    let township_admin = app.user_with_role(&admin, "shop-town", tree.township, "township_admin").await;
    let keeper = app.user_with_role(&admin, "shop-keeper", tree.branch_a, "shop_keeper").await;
    let resident = app.user_with_role(&secretary, "shop-res", tree.branch_a, "resident").await;
    let neighbour = app.user_with_role(&admin, "shop-nb", tree.branch_b, "resident").await;
    app.rename(&resident, "王居民").await;
    app.rename(&keeper, "赵店员").await;
    app.credit(&secretary, tree.branch_a, resident.user_id, 100).await;
    Shop { tree, admin, secretary, township_admin, keeper, resident, neighbour }
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

fn code_of(v: &Value) -> &str {
    v["code"].as_str().unwrap()
}

async fn redemptions_count(app: &TestApp) -> usize {
    use sea_orm::EntityTrait;
    entity::redemptions::Entity::find().all(&app.state.db).await.unwrap().len()
}

#[tokio::test]
async fn a_member_redeems_an_item_and_gets_a_code_with_its_qr() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let photo = app.photo(&s.secretary).await;
    let item = app
        .shop_item(
            &s.secretary,
            s.tree.branch_a,
            30,
            5,
            json!({"per_member_limit": 2, "limit_period": "month",
            "media_ids": [photo]}),
        )
        .await;
    assert_eq!((item["org_id"].as_i64(), item["stock_left"].as_i64()), (Some(s.tree.branch_a), Some(5)));
    assert_eq!((item["per_member_limit"].as_i64(), item["limit_period"].as_str()), (Some(2), Some("month")));
    assert_eq!(item["media"][0]["id"].as_i64(), Some(photo), "the item's photo: {item}");
    assert!(item["media"][0]["url"].as_str().unwrap().contains("sig="), "signed: {item}");

    let (status, offers) = app.get("/me/shop", &s.resident.token).await;
    assert_eq!(status, StatusCode::OK, "{offers}");
    assert_eq!(offers["items"].as_array().unwrap().len(), 1, "{offers}");
    assert_eq!(
        (offers["items"][0]["id"].as_i64(), offers["items"][0]["my_remaining"].as_i64()),
        (Some(id(&item)), Some(2))
    );
    let (_, theirs) = app.get("/me/shop", &s.neighbour.token).await;
    assert_eq!(theirs["items"], json!([]), "branch A's shop is not offered in branch B");

    let (_, board_before) = app.board(&s.resident.token, s.tree.county, "points", "all").await;
    let (status, r, replayed) = app.redeem(&s.resident.token, id(&item), 1, None).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert!(!replayed);
    assert_eq!(
        (r["status"].as_str(), r["quantity"].as_i64(), r["points"].as_i64()),
        (Some("reserved"), Some(1), Some(30))
    );
    assert_eq!(r["item_id"].as_i64(), Some(id(&item)));
    let code = code_of(&r);
    assert_eq!(code.len(), 8);
    assert!(code.bytes().all(|b| b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ".contains(&b)), "{code}");
    assert!(r["code_qr"].as_str().unwrap().starts_with("data:image/png;base64,"), "{r}");
    let created = chrono::DateTime::parse_from_rfc3339(r["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(r["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, chrono::Duration::days(14), "the default pickup window");

    // Spent: the balance, not the boards, not earned_total.
    let (_, points) = app.get("/me/points", &s.resident.token).await;
    assert_eq!((points["balance"].as_i64(), points["earned_total"].as_i64()), (Some(70), Some(100)), "{points}");
    let spent = app.entries_of_kind(s.resident.user_id, "redeem").await;
    assert_eq!(spent.len(), 1);
    assert_eq!((spent[0].delta_points, spent[0].ref_id.as_str()), (-30, r["id"].to_string().as_str()));
    let (_, board_after) = app.board(&s.resident.token, s.tree.county, "points", "all").await;
    assert_eq!(board_before["entries"], board_after["entries"], "leaderboards do not move");
    assert_eq!(board_before["me"], board_after["me"]);
    assert_eq!(app.stock_left(&s.secretary, id(&item)).await, 4);

    let (_, offers) = app.get("/me/shop", &s.resident.token).await;
    assert_eq!(offers["items"][0]["my_remaining"].as_i64(), Some(1), "one left of the month's two: {offers}");
    let (status, mine) = app.get("/me/redemptions", &s.resident.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["items"][0]["code"].as_str(), Some(code));
    assert_eq!(mine["items"][0]["item_name"].as_str(), Some("洗衣皂"));
    assert!(mine["items"][0]["code_qr"].as_str().is_some(), "the member's list shows the QR while reserved");
    let (status, one) = app.get(&format!("/redemptions/{}", id(&r)), &s.keeper.token).await;
    assert_eq!((status, one["user_name"].as_str()), (StatusCode::OK, Some("王居民")), "{one}");
    let (status, _) = app.get(&format!("/redemptions/{}", id(&r)), &s.neighbour.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "someone else's redemption");
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn redeem_needs_a_key_and_a_retry_replays() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let item = app.shop_item(&s.secretary, s.tree.branch_a, 10, 5, json!({})).await;
    let resp = app
        .call(
            Method::POST,
            &format!("/shop/items/{}/redeem", id(&item)),
            Some(&s.resident.token),
            Some(json!({"quantity": 1})),
        )
        .await;
    let (status, err) = parts(resp).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::BAD_REQUEST, Some("idempotency_key_required")), "{err}");
    assert_eq!(app.balance(&s.resident).await, 100, "nothing spent");

    let (status, first, _) = app.redeem(&s.resident.token, id(&item), 2, Some("shop-key-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again, replayed) = app.redeem(&s.resident.token, id(&item), 2, Some("shop-key-1")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(replayed, "Idempotent-Replayed: true");
    assert_eq!(again, first, "the first answer again");
    let (status, err, _) = app.redeem(&s.resident.token, id(&item), 1, Some("shop-key-1")).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("idempotency_conflict")));
    assert_eq!(app.balance(&s.resident).await, 80, "spent once");
    assert_eq!(app.stock_left(&s.secretary, id(&item)).await, 3);
    assert_eq!(redemptions_count(&app).await, 1);
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn every_refusal_names_its_code_and_changes_nothing() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let now = chrono::Utc::now();
    let dear = app.shop_item(&s.secretary, s.tree.branch_a, 101, 5, json!({"name": "大米"})).await;
    let scarce = app.shop_item(&s.secretary, s.tree.branch_a, 1, 1, json!({"name": "理发券"})).await;
    let limited = app.shop_item(&s.secretary, s.tree.branch_a, 1, 9, json!({"per_member_limit": 1})).await;
    let later = app
        .shop_item(
            &s.secretary,
            s.tree.branch_a,
            1,
            9,
            json!({"available_from": (now + chrono::Duration::days(1)).to_rfc3339()}),
        )
        .await;
    let over = app
        .shop_item(
            &s.secretary,
            s.tree.branch_a,
            1,
            9,
            json!({
            "available_from": (now - chrono::Duration::days(2)).to_rfc3339(),
            "available_until": (now - chrono::Duration::days(1)).to_rfc3339()}),
        )
        .await;
    let retired = app.shop_item(&s.secretary, s.tree.branch_a, 1, 9, json!({})).await;
    let (status, body) = app.post(&format!("/shop/items/{}/retire", id(&retired)), &s.secretary.token, json!({})).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("retired")), "{body}");
    let (status, _, _) = app.redeem(&s.resident.token, id(&limited), 1, None).await;
    assert_eq!(status, StatusCode::CREATED);

    let balance = app.balance(&s.resident).await;
    let count = redemptions_count(&app).await;
    let entries = app.entries_of_kind(s.resident.user_id, "redeem").await.len();
    for (item, quantity, code) in [
        (&dear, 1, "insufficient_points"),
        (&scarce, 2, "out_of_stock"),
        (&limited, 1, "limit_reached"),
        (&later, 1, "item_unavailable"),
        (&over, 1, "item_unavailable"),
        (&retired, 1, "item_unavailable"),
    ] {
        let stock = app.stock_left(&s.secretary, id(item)).await;
        let (status, err, _) = app.redeem(&s.resident.token, id(item), quantity, None).await;
        assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some(code)), "{}: {err}", item["name"]);
        assert!(!err["message"].as_str().unwrap().is_empty());
        assert_eq!(app.stock_left(&s.secretary, id(item)).await, stock, "{code}: stock unchanged");
    }
    assert_eq!(app.balance(&s.resident).await, balance, "no points moved");
    assert_eq!(redemptions_count(&app).await, count, "no redemption stored");
    assert_eq!(app.entries_of_kind(s.resident.user_id, "redeem").await.len(), entries, "no ledger entry");

    // Who may redeem: members of the shop's subtree only.
    let (status, _, _) = app.redeem(&s.neighbour.token, id(&scarce), 1, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "branch B's member does not see branch A's shop");
    let (status, err, _) = app.redeem(&s.secretary.token, id(&scarce), 1, None).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "staff are not members: {err}"
    );
    for quantity in [0, 101] {
        let (status, err, _) = app.redeem(&s.resident.token, id(&scarce), quantity, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(err["fields"]["quantity"].is_string());
    }
    let (status, _, _) = app.redeem(&s.resident.token, 999_999, 1, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, offers) = app.get("/me/shop", &s.resident.token).await;
    let offered: Vec<&str> = offers["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(offered, vec!["大米", "理发券"], "retired, out-of-window and used-up items are not offered: {offers}");
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn a_township_shop_serves_every_branch_below_it() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    app.credit(&s.admin, s.tree.branch_b, s.neighbour.user_id, 50).await;
    let (status, err) = app
        .post(
            &format!("/orgs/{}/shop/items", s.tree.township),
            &s.secretary.token,
            json!({"name": "米", "points_cost": 1, "stock": 1}),
        )
        .await;
    assert_eq!((status, err["required_role"].as_str()), (StatusCode::FORBIDDEN, Some("township_admin")), "{err}");
    let (status, err) = app
        .post(
            &format!("/orgs/{}/shop/items", s.tree.grid_a),
            &s.admin.token,
            json!({"name": "米", "points_cost": 1, "stock": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no shop at a grid: {err}");
    let item = app.shop_item(&s.township_admin, s.tree.township, 20, 10, json!({"name": "食用油"})).await;
    for member in [&s.resident, &s.neighbour] {
        let (status, r, _) = app.redeem(&member.token, id(&item), 1, None).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }
    let spent = app.entries_of_kind(s.neighbour.user_id, "redeem").await;
    assert_eq!(spent[0].branch_id, s.tree.branch_b, "spent at the member's own branch");
    // The branch's keeper keeps the branch's shop, not the township's.
    let (status, _) = app.get(&format!("/orgs/{}/redemptions", s.tree.township), &s.keeper.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, list) =
        app.get(&format!("/orgs/{}/redemptions?status=reserved", s.tree.township), &s.township_admin.token).await;
    assert_eq!((status, list["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "{list}");
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn the_counter_fulfils_by_code_once() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let item = app.shop_item(&s.secretary, s.tree.branch_a, 10, 5, json!({})).await;
    let (_, r, _) = app.redeem(&s.resident.token, id(&item), 1, None).await;
    let code = code_of(&r).to_owned();

    let (status, err) = app.fulfil(&s.resident.token, s.tree.branch_a, &code).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a member is not the counter: {err}");
    let (status, err) = app.fulfil(&s.keeper.token, s.tree.branch_a, "ABCD").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, err) = app.fulfil(&s.keeper.token, s.tree.branch_a, "22222222").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an unknown code: {err}");
    let (status, err) = app.fulfil(&s.township_admin.token, s.tree.branch_b, &code).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another shop's counter does not know the code: {err}");

    // Typed in lower case with spaces: the same code.
    let typed = format!(" {} ", code.to_lowercase());
    let (status, done) = app.fulfil(&s.keeper.token, s.tree.branch_a, &typed).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!((done["status"].as_str(), done["closed_by_name"].as_str()), (Some("fulfilled"), Some("赵店员")));
    let (status, err) = app.fulfil(&s.secretary.token, s.tree.branch_a, &code).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("already_fulfilled")), "{err}");
    let (status, err) = app.cancel_redemption(&s.resident.token, id(&r)).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("already_fulfilled")), "{err}");
    assert_eq!(app.balance(&s.resident).await, 90, "fulfilling spends nothing more");

    // An admin above the shop may stand at the counter too; nobody fulfils their own.
    let (_, r2, _) = app.redeem(&s.resident.token, id(&item), 1, None).await;
    let (status, done) = app.fulfil(&s.township_admin.token, s.tree.branch_a, code_of(&r2)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    app.grant(&s.secretary.token, s.tree.branch_a, s.resident.user_id, "shop_keeper").await;
    let (_, r3, _) = app.redeem(&s.resident.token, id(&item), 1, None).await;
    let (status, err) = app.fulfil(&s.resident.token, s.tree.branch_a, code_of(&r3)).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("self_dealing")), "{err}");
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn a_shop_keeper_fulfils_and_reads_the_ledger_and_nothing_else() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let item = app.shop_item(&s.secretary, s.tree.branch_a, 10, 5, json!({})).await;
    let (status, _) = app.get(&format!("/orgs/{}/shop/ledger", s.tree.branch_a), &s.keeper.token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) = app
        .post(
            &format!("/orgs/{}/shop/items", s.tree.branch_a),
            &s.keeper.token,
            json!({"name": "米", "points_cost": 1, "stock": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    let (status, _) = app
        .post(&format!("/shop/items/{}/restock", id(&item)), &s.keeper.token, json!({"quantity": 1, "note": "补"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Elsewhere in the branch a keeper's role counts for nothing: the branch is theirs to
    // see, so each act is refused with 403 and the role it needs.
    for (what, path, body) in [
        (
            "points adjustment",
            format!("/orgs/{}/points/adjust", s.tree.branch_a),
            Some(json!({"user_id": s.resident.user_id, "delta": 5, "reason": "x"})),
        ),
        ("review queue", format!("/orgs/{}/volunteer-logs", s.tree.branch_a), None),
        ("audit log", format!("/orgs/{}/audit", s.tree.branch_a), None),
        ("member list", format!("/orgs/{}/members", s.tree.branch_a), None),
        (
            "task publishing",
            format!("/orgs/{}/tasks", s.tree.branch_a),
            Some(
                json!({"title": "t", "description": "", "star": "civil_happy", "points": 1, "volunteer_minutes": 0, "copies": 1, "claim_ttl_minutes": 60}),
            ),
        ),
    ] {
        let method = if body.is_some() { Method::POST } else { Method::GET };
        let mut req = app.client.request(method, app.url(&format!("/api/v1{path}"))).bearer_auth(&s.keeper.token);
        if let Some(body) = body {
            req = req.header("Idempotency-Key", "keeper-try").json(&body);
        }
        let (status, err) = parts(req.send().await.unwrap()).await;
        assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{what}: {err}");
    }
    assert_eq!(app.balance(&s.resident).await, 100);
    let (status, _) = app.get(&format!("/orgs/{}/shop/ledger", s.tree.branch_a), &s.resident.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "members do not read the books");
    let (status, err) = app.grant(&s.keeper.token, s.tree.branch_a, s.resident.user_id, "shop_keeper").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a keeper grants nothing: {err}");
    let (status, err) = app.grant(&s.admin.token, s.tree.grid_a, s.resident.user_id, "shop_keeper").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no shop at a grid: {err}");
    let (status, _) = app.grant(&s.township_admin.token, s.tree.township, s.neighbour.user_id, "shop_keeper").await;
    assert_eq!(status, StatusCode::OK, "a township's admin names the township shop's keeper");
}

#[tokio::test]
async fn cancel_refunds_once_and_puts_the_stock_back() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let item = app.shop_item(&s.secretary, s.tree.branch_a, 25, 3, json!({})).await;
    let (_, r, _) = app.redeem(&s.resident.token, id(&item), 2, None).await;
    assert_eq!(app.balance(&s.resident).await, 50);
    let (status, _) = app.cancel_redemption(&s.neighbour.token, id(&r)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only the member cancels");
    let (status, done) = app.cancel_redemption(&s.resident.token, id(&r)).await;
    assert_eq!((status, done["status"].as_str()), (StatusCode::OK, Some("cancelled")), "{done}");
    assert_eq!(app.balance(&s.resident).await, 100, "refunded");
    assert_eq!(app.stock_left(&s.secretary, id(&item)).await, 3, "the stock is back");
    let refunds = app.entries_of_kind(s.resident.user_id, "refund").await;
    assert_eq!((refunds.len(), refunds[0].delta_points), (1, 50));
    let (_, points) = app.get("/me/points", &s.resident.token).await;
    assert_eq!(points["earned_total"].as_i64(), Some(100), "a refund is not earned");
    let (status, err) = app.cancel_redemption(&s.resident.token, id(&r)).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("redemption_closed")), "{err}");
    let (status, err) = app.fulfil(&s.keeper.token, s.tree.branch_a, code_of(&r)).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("redemption_closed")), "{err}");
    assert_eq!(app.entries_of_kind(s.resident.user_id, "refund").await.len(), 1, "refunded once");
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn a_reservation_not_picked_up_expires_by_itself_and_is_refunded() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let settings = format!("/orgs/{}/settings", s.tree.branch_a);
    for days in [json!(0), json!(-1), json!(400), json!(365.5)] {
        let (status, err) = app.patch(&settings, &s.secretary.token, json!({"pickup_days": days})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{days}: {err}");
        assert!(err["fields"]["pickup_days"].is_string(), "{days}: {err}");
    }
    let (status, org) = app.patch(&settings, &s.secretary.token, json!({"pickup_days": 0.5})).await;
    assert_eq!((status, org["pickup_days"].as_f64()), (StatusCode::OK, Some(0.5)), "{org}");
    let township = format!("/orgs/{}/settings", s.tree.township);
    let (status, org) = app.patch(&township, &s.township_admin.token, json!({"pickup_days": 3})).await;
    assert_eq!(
        (status, org["pickup_days"].as_f64()),
        (StatusCode::OK, Some(3.0)),
        "a township has the setting too: {org}"
    );

    let item = app.shop_item(&s.secretary, s.tree.branch_a, 40, 2, json!({})).await;
    let (_, r, _) = app.redeem(&s.resident.token, id(&item), 1, None).await;
    let (_, kept, _) = app.redeem(&s.resident.token, id(&item), 1, None).await;
    let (status, _) = app.fulfil(&s.keeper.token, s.tree.branch_a, code_of(&kept)).await;
    assert_eq!(status, StatusCode::OK);
    let created = chrono::DateTime::parse_from_rfc3339(r["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(r["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, chrono::Duration::hours(12));
    assert_eq!(app.balance(&s.resident).await, 20);

    app.clock.advance(chrono::Duration::hours(13));
    let url = format!("/redemptions/{}", id(&r));
    wait_for("the reservation to expire", || async { app.get(&url, &s.resident.token).await.1["status"] == "expired" })
        .await;
    assert_eq!(app.balance(&s.resident).await, 60, "its points came back");
    assert_eq!(app.stock_left(&s.secretary, id(&item)).await, 1, "its stock came back; the fulfilled one's did not");
    let refunds = app.entries_of_kind(s.resident.user_id, "refund").await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].actor_id, None, "expired by the background jobs");
    let (status, err) = app.fulfil(&s.keeper.token, s.tree.branch_a, code_of(&r)).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("redemption_closed")), "{err}");
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn items_are_edited_restocked_and_retired_by_their_managers() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let item = app.shop_item(&s.secretary, s.tree.branch_a, 10, 1, json!({"per_member_limit": 1})).await;
    let path = format!("/shop/items/{}", id(&item));
    let (status, edited) = app
        .patch(&path, &s.secretary.token, json!({"points_cost": 12, "per_member_limit": null, "name": "香皂"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        (edited["points_cost"].as_i64(), edited["per_member_limit"].clone(), edited["name"].as_str()),
        (Some(12), Value::Null, Some("香皂"))
    );
    assert_eq!(edited["stock_left"].as_i64(), Some(1), "an edit leaves the stock alone");
    let (status, err) = app.patch(&path, &s.secretary.token, json!({"points_cost": 0, "limit_period": "day"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["fields"]["points_cost"].is_string() && err["fields"]["limit_period"].is_string(), "{err}");
    let (status, _) = app.patch(&path, &s.neighbour.token, json!({"points_cost": 1})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.patch(&path, &s.resident.token, json!({"points_cost": 1})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a member sees the item but does not manage it");

    let restock = format!("/shop/items/{}/restock", id(&item));
    let (status, err) = app.post(&restock, &s.secretary.token, json!({"quantity": 0, "note": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["fields"]["quantity"].is_string() && err["fields"]["note"].is_string(), "{err}");
    let (status, restocked) = app
        .post(&restock, &s.secretary.token, json!({"quantity": 20, "donor": "爱心超市", "note": "十一月捐赠"}))
        .await;
    assert_eq!((status, restocked["stock_left"].as_i64()), (StatusCode::OK, Some(21)), "{restocked}");

    let (status, retired) = app.post(&format!("/shop/items/{}/retire", id(&item)), &s.secretary.token, json!({})).await;
    assert_eq!((status, retired["status"].as_str()), (StatusCode::OK, Some("retired")));
    let (_, listed) = app.get(&format!("/orgs/{}/shop/items", s.tree.branch_a), &s.resident.token).await;
    assert_eq!(listed["items"], json!([]), "members see the active items: {listed}");
    let (_, listed) = app.get(&format!("/orgs/{}/shop/items?status=retired", s.tree.branch_a), &s.keeper.token).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1), "{listed}");

    let (status, audit) = app.get(&format!("/orgs/{}/audit", s.tree.branch_a), &s.secretary.token).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    for action in ["shop.item.create", "shop.item.update", "shop.item.restock", "shop.item.retire"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    app.assert_shop_truths().await;
}

#[tokio::test]
async fn the_stock_ledger_lists_every_movement_as_json_csv_and_xlsx() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let photo = app.photo(&s.secretary).await;
    let item = app
        .shop_item(
            &s.secretary,
            s.tree.branch_a,
            10,
            5,
            json!({"name": "=HYPERLINK(\"http://evil.example\")", "donor": "+捐赠", "media_ids": [photo]}),
        )
        .await;
    let (status, _) = app
        .post(
            &format!("/shop/items/{}/restock", id(&item)),
            &s.secretary.token,
            json!({"quantity": 3, "donor": "爱心超市", "note": "-补货"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, a, _) = app.redeem(&s.resident.token, id(&item), 2, None).await;
    let (_, b, _) = app.redeem(&s.resident.token, id(&item), 1, None).await;
    app.cancel_redemption(&s.resident.token, id(&a)).await;
    app.fulfil(&s.keeper.token, s.tree.branch_a, code_of(&b)).await;

    let (status, ledger) = app.get(&format!("/orgs/{}/shop/ledger", s.tree.branch_a), &s.keeper.token).await;
    assert_eq!(status, StatusCode::OK, "{ledger}");
    let lines = ledger["items"].as_array().unwrap();
    let got: Vec<(&str, i64, i64)> = lines
        .iter()
        .map(|l| (l["kind"].as_str().unwrap(), l["quantity"].as_i64().unwrap(), l["stock_after"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("fulfil", 0, 7),
            ("refund", 2, 7),
            ("redeem", -1, 5),
            ("redeem", -2, 6),
            ("restock", 3, 8),
            ("restock", 5, 5)
        ],
        "newest first"
    );
    assert_eq!((lines[0]["actor_name"].as_str(), lines[0]["user_name"].as_str()), (Some("赵店员"), Some("王居民")));
    assert_eq!((lines[4]["donor"].as_str(), lines[4]["note"].as_str()), (Some("爱心超市"), Some("-补货")));
    let (_, only) =
        app.get(&format!("/orgs/{}/shop/ledger?kind=restock&limit=1", s.tree.branch_a), &s.keeper.token).await;
    assert_eq!(only["items"].as_array().map(Vec::len), Some(1));
    assert!(only["next_cursor"].is_string(), "paginated: {only}");
    let (status, _) = app.get(&format!("/orgs/{}/shop/ledger?format=pdf", s.tree.branch_a), &s.keeper.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let url = app.url(&format!("/api/v1/orgs/{}/shop/ledger?format=csv", s.tree.branch_a));
    let resp = app.client.get(&url).bearer_auth(&s.secretary.token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let bytes = resp.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "UTF-8 with a BOM");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    assert_eq!(&reader.headers().unwrap()[1], "物品");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    assert!(rows[0][1].starts_with("'=HYPERLINK("), "formulas neutralised: {:?}", &rows[0][1]);
    assert_eq!((&rows[5][8], &rows[4][9]), ("'+捐赠", "'-补货"));
    assert_eq!((&rows[0][2], &rows[0][6], &rows[0][7]), ("核销领取", "王居民", "赵店员"));
    let link = &rows[0][11];
    assert!(link.starts_with("http://127.0.0.1:"), "the item's photo as an absolute link: {link}");
    let image = app.client.get(link).send().await.unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(&image.bytes().await.unwrap()[..2], &[0xFF, 0xD8], "the link loads the JPEG");

    let url = app.url(&format!("/api/v1/orgs/{}/shop/ledger?format=xlsx", s.tree.branch_a));
    let resp = app.client.get(&url).bearer_auth(&s.secretary.token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("a valid xlsx");
    let sheet = book.worksheet_range("积分超市台账").expect("the ledger sheet");
    let cells: Vec<Vec<calamine::Data>> = sheet.rows().map(|r| r.to_vec()).collect();
    assert_eq!(cells.len(), 7, "a header and six lines");
    assert!(matches!(cells[1][0], calamine::Data::DateTime(_)), "a date cell: {:?}", cells[1][0]);
    assert_eq!(cells[1][1].to_string(), "=HYPERLINK(\"http://evil.example\")", "text stays text in XLSX");
    assert_eq!(cells[3][3], calamine::Data::Float(-1.0), "quantities are numbers");
}
