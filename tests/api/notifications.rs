//! Notifications on the black-box API: the inbox written with each event, WeChat
//! subscribe messages sent from it against a fake WeChat (the token shared by two
//! servers, refetched on 42001, consents used up on 43101, fields fitted, retries), and a
//! branch's draw code.
use std::time::Duration as StdDuration;

use chrono::Duration;
use entity::notifications;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use fivestar::config::JsonSetting;
use fivestar::notify::{self, domain::Event, Notice};

use crate::helpers::{spawn_app, spawn_app_with, wait_for, Session, TestApp, Tree};

struct People {
    tree: Tree,
    secretary: Session,
    resident: Session,
    worker: Session,
}

async fn people(app: &TestApp) -> People {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "n-sec", tree.branch_a, "secretary").await;
    let resident = app.user_with_role(&secretary, "n-res", tree.branch_a, "resident").await;
    let worker = app.user_with_role(&admin, "n-worker", tree.grid_a, "grid_worker").await;
    People { tree, secretary, resident, worker }
}

/// The resident draws a card of a new task and submits it; the secretary reviews it.
async fn reviewed_card(app: &TestApp, p: &People, approve: bool) -> i64 {
    app.publish_task(&p.secretary, p.tree.branch_a, 1, false).await;
    let (status, card) = app.draw(&p.resident.token, p.tree.branch_a).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let card_id = card["id"].as_i64().unwrap();
    let (status, body) = app.submit_card(&p.resident.token, card_id, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.review_card(&p.secretary.token, card_id, approve).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    card_id
}

async fn inbox(app: &TestApp, who: &Session, query: &str) -> Value {
    let (status, body) = app.get(&format!("/me/notifications{query}"), &who.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn events(page: &Value) -> Vec<(String, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["event"].as_str().unwrap().to_owned(), n["ref"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn each_event_leaves_an_entry_in_the_inbox() {
    let app = spawn_app().await;
    let p = people(&app).await;
    let approved = reviewed_card(&app, &p, true).await;
    let rejected = reviewed_card(&app, &p, false).await;

    // A reservation, with a pickup window under a day: "ready", then "expiring" by itself.
    let (status, body) = app
        .patch(&format!("/orgs/{}/settings", p.tree.branch_a), &p.secretary.token, json!({"pickup_days": 0.5}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let item = app.shop_item(&p.secretary, p.tree.branch_a, 3, 5, json!({})).await;
    let (status, redemption, _) = app.redeem(&p.resident.token, item["id"].as_i64().unwrap(), 1, None).await;
    assert_eq!(status, StatusCode::CREATED, "{redemption}");
    let r = format!("redemption:{}", redemption["id"]);
    wait_for("the expiring reminder", || async {
        events(&inbox(&app, &p.resident, "").await).contains(&("redemption_expiring".into(), r.clone()))
    })
    .await;

    // An incident assigned to the resident.
    let key = uuid::Uuid::new_v4().to_string();
    let filing = json!({"grid_id": p.tree.grid_a, "category": "event", "title": "路灯不亮", "description": "北街路灯坏了",
        "severity": "low", "lat": 30.2, "lng": 120.1, "occurred_at": chrono::Utc::now().to_rfc3339(), "media_ids": []});
    let (status, incident, _) = app.file_incident(&p.worker.token, Some(&key), &filing).await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    let incident_id = incident["id"].as_i64().unwrap();
    app.incident_action(&p.secretary.token, incident_id, "accept", json!({})).await;
    let (status, body) = app
        .incident_action(&p.secretary.token, incident_id, "assign", json!({"assignee_id": p.resident.user_id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let page = inbox(&app, &p.resident, "").await;
    let got = events(&page);
    for expected in [
        ("card_approved", format!("card:{approved}")),
        ("card_rejected", format!("card:{rejected}")),
        ("redemption_ready", r.clone()),
        ("redemption_expiring", r.clone()),
        ("incident_assigned", format!("incident:{incident_id}")),
    ] {
        assert_eq!(got.iter().filter(|g| g.0 == expected.0 && g.1 == expected.1).count(), 1, "{expected:?} in {got:?}");
    }
    // Newest first, each readable on its own.
    let items = page["items"].as_array().unwrap();
    assert_eq!(items[0]["event"], "incident_assigned");
    let ready = items.iter().find(|n| n["event"] == "redemption_ready").unwrap();
    assert!(ready["body"].as_str().unwrap().contains(redemption["code"].as_str().unwrap()), "{ready}");
    assert_eq!(page["unread_count"], json!(items.len()));

    // A star application reviewed: its applicant (the secretary) is told.
    let admin = app.super_admin().await;
    let township = app.user_with_role(&admin, "n-town", p.tree.township, "township_admin").await;
    let (status, application) = app
        .post(
            &format!("/orgs/{}/star-applications", p.tree.branch_a),
            &p.secretary.token,
            json!({"year": 2026, "stars": ["safe_lawful"], "statement": "申报平安法治星"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{application}");
    let (status, body) = app
        .post(
            &format!("/star-applications/{}/review", application["id"]),
            &township.token,
            json!({"decision": "return", "comment": "请补充台账"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sec = inbox(&app, &p.secretary, "").await;
    let reviewed = sec["items"].as_array().unwrap().iter().find(|n| n["event"] == "star_application_reviewed").cloned();
    let reviewed = reviewed.unwrap_or_else(|| panic!("{sec}"));
    assert_eq!(reviewed["ref"], format!("star_application:{}", application["id"]));
    assert!(reviewed["body"].as_str().unwrap().contains("请补充台账"), "{reviewed}");

    // Read: only one's own, and the unread filter follows.
    let first = items[0]["id"].as_i64().unwrap();
    let (status, marked) = app.post("/me/notifications/read", &p.secretary.token, json!({"ids": [first]})).await;
    assert_eq!((status, marked["updated"].as_u64()), (StatusCode::OK, Some(0)), "not the secretary's: {marked}");
    let (status, marked) = app.post("/me/notifications/read", &p.resident.token, json!({"ids": [first]})).await;
    assert_eq!((status, marked["updated"].as_u64()), (StatusCode::OK, Some(1)), "{marked}");
    let unread = inbox(&app, &p.resident, "?unread=true").await;
    assert_eq!(unread["items"].as_array().unwrap().len(), items.len() - 1);
    assert!(unread["items"].as_array().unwrap().iter().all(|n| n["read"] == false));
    let read = inbox(&app, &p.resident, "?unread=false").await;
    assert_eq!(events(&read), vec![("incident_assigned".to_owned(), format!("incident:{incident_id}"))]);
    let (status, err) = app.post("/me/notifications/read", &p.resident.token, json!({"ids": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    // Paged like every list.
    let small = inbox(&app, &p.resident, "?limit=2").await;
    assert_eq!(small["items"].as_array().unwrap().len(), 2);
    let cursor = small["next_cursor"].as_str().unwrap();
    let next = inbox(&app, &p.resident, &format!("?limit=2&cursor={cursor}")).await;
    assert!(next["items"][0]["id"].as_i64().unwrap() < small["items"][1]["id"].as_i64().unwrap());
}

fn templates(json: Value) -> impl FnOnce(&mut fivestar::config::Settings) {
    move |s| s.wechat_templates = Some(JsonSetting::Text(json.to_string()))
}

async fn consent(app: &TestApp, who: &Session, template: &str, times: usize) {
    for _ in 0..times {
        let (status, body) = app.post("/me/subscriptions", &who.token, json!({"template_ids": [template]})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

async fn wx_states(app: &TestApp, user_id: i64) -> Vec<String> {
    notifications::Entity::find()
        .filter(notifications::Column::UserId.eq(user_id))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.wx_state)
        .collect()
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn one_token_fetch_serves_50_sends_across_two_servers() {
    let app = spawn_app_with(templates(json!({"card_approved": "TPL-CARD"}))).await;
    let sibling = app.spawn_sibling().await;
    let p = people(&app).await;
    // The fetch is slow, so both servers want the token while it is under way.
    app.mock_stable_token("TOKEN-1", StdDuration::from_millis(400), None).await;
    app.mock_subscribe_send(0, Some("TOKEN-1"), None).await;
    consent(&app, &p.resident, "TPL-CARD", 50).await;
    let (status, consents) = app.get("/me/subscriptions", &p.resident.token).await;
    assert_eq!((status, consents["consents"][0]["remaining"].as_i64()), (StatusCode::OK, Some(50)), "{consents}");

    let txn = app.state.db.begin().await.unwrap();
    for n in 0..50 {
        let notice = Notice {
            event: Event::CardApproved,
            title: "任务卡审核通过",
            body: "「反诈宣传」审核通过，获得 5 积分",
            r#ref: format!("card:{n}"),
            at: app.clock.now(),
        };
        notify::push(&txn, &app.state.wechat, [p.resident.user_id], &notice).await.unwrap();
    }
    txn.commit().await.unwrap();
    wait_for("50 messages sent", || async {
        wx_states(&app, p.resident.user_id).await.iter().filter(|s| *s == "sent").count() == 50
    })
    .await;
    assert_eq!(app.wechat_requests("/cgi-bin/stable_token").await.len(), 1, "one fetch for both servers");
    let sends = app.wechat_requests("/cgi-bin/message/subscribe/send").await;
    assert_eq!(sends.len(), 50, "each notification sent once");
    let openid_of = |r: &wiremock::Request| r.body_json::<Value>().unwrap()["touser"].as_str().unwrap().to_owned();
    assert!(sends.iter().all(|r| openid_of(r) == "n-res"));
    let (_, consents) = app.get("/me/subscriptions", &p.resident.token).await;
    assert_eq!(consents["consents"][0]["remaining"], 0, "{consents}");

    // /metrics on each server: the sends and the one fetch add up.
    let mut sent = 0.0;
    let mut fetches = 0.0;
    for server in [&app, &sibling] {
        let text = server.client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
        sent += metric(&text, "notifications_total{event=\"card_approved\",outcome=\"sent\"}");
        fetches += metric(&text, "wechat_token_fetches_total");
    }
    assert_eq!((sent, fetches), (50.0, 1.0));
}

#[tokio::test]
async fn an_expired_token_is_fetched_again_once_and_fields_fit_their_types() {
    let spec = json!({"card_approved": {"template_id": "TPL-X", "data": {
        "thing1": "title", "thing2": "body", "phrase3": "status", "time4": "at", "character_string5": "ref"}}});
    let app = spawn_app_with(templates(spec)).await;
    let p = people(&app).await;
    app.mock_stable_token("TOKEN-OLD", StdDuration::ZERO, Some(1)).await;
    app.mock_stable_token("TOKEN-NEW", StdDuration::ZERO, None).await;
    app.mock_subscribe_send(42001, Some("TOKEN-OLD"), None).await;
    app.mock_subscribe_send(0, Some("TOKEN-NEW"), None).await;
    consent(&app, &p.resident, "TPL-X", 1).await;
    // A long task title, so the body is longer than a `thing` holds.
    let (status, task) = app
        .post(
            &format!("/orgs/{}/tasks", p.tree.branch_a),
            &p.secretary.token,
            json!({"title": "为独居老人上门送温暖并讲解防诈骗知识", "description": "上门一次", "star": "civil_happy",
                   "points": 8, "volunteer_minutes": 60, "copies": 1, "claim_ttl_minutes": 60, "requires_photo": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let (_, card) = app.draw(&p.resident.token, p.tree.branch_a).await;
    let card_id = card["id"].as_i64().unwrap();
    app.submit_card(&p.resident.token, card_id, &[]).await;
    let (status, body) = app.review_card(&p.secretary.token, card_id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_for("the message sent", || async { wx_states(&app, p.resident.user_id).await == ["sent"] }).await;
    assert_eq!(app.wechat_requests("/cgi-bin/stable_token").await.len(), 2, "fetched again once after 42001");
    let sends = app.wechat_requests("/cgi-bin/message/subscribe/send").await;
    assert_eq!(sends.len(), 2);
    let sent: Value = sends[1].body_json().unwrap();
    assert_eq!((sent["touser"].as_str(), sent["template_id"].as_str()), (Some("n-res"), Some("TPL-X")));
    assert_eq!(sent["page"], "pages/cards/index");
    let data = &sent["data"];
    assert_eq!(data["thing1"]["value"], "任务卡审核通过");
    let body = data["thing2"]["value"].as_str().unwrap();
    assert_eq!(body.chars().count(), 20, "{body}");
    assert!(body.starts_with("「为独居老人上门送温暖") && body.ends_with('…'), "{body}");
    assert_eq!(data["phrase3"]["value"], "审核通过");
    let at = data["time4"]["value"].as_str().unwrap();
    assert!(chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M").is_ok(), "{at}");
    assert_eq!(data["character_string5"]["value"], format!("card:{card_id}"));
}

#[tokio::test]
async fn no_consent_left_stops_sending_for_that_template() {
    let app = spawn_app_with(templates(json!({"card_approved": "TPL-A", "card_rejected": "TPL-R"}))).await;
    let p = people(&app).await;
    app.mock_stable_token("TOKEN-1", StdDuration::ZERO, None).await;
    app.mock_subscribe_send(43101, None, None).await;
    consent(&app, &p.resident, "TPL-A", 3).await;
    // Unknown templates are refused, and change nothing.
    let (status, err) =
        app.post("/me/subscriptions", &p.resident.token, json!({"template_ids": ["TPL-A", "nope"]})).await;
    assert!(status == StatusCode::UNPROCESSABLE_ENTITY && err["fields"]["template_ids[1]"].is_string(), "{err}");

    reviewed_card(&app, &p, true).await;
    wait_for("the first message tried", || async { wx_states(&app, p.resident.user_id).await == ["no_consent"] }).await;
    let (_, consents) = app.get("/me/subscriptions", &p.resident.token).await;
    assert_eq!(consents["consents"], json!([{"template_id": "TPL-A", "remaining": 0}]), "43101 used them up");
    // The next one is not sent at all; nor one for a template never consented to.
    reviewed_card(&app, &p, true).await;
    reviewed_card(&app, &p, false).await;
    wait_for("three notifications settled", || async {
        wx_states(&app, p.resident.user_id).await == ["no_consent", "no_consent", "no_consent"]
    })
    .await;
    assert_eq!(app.wechat_requests("/cgi-bin/message/subscribe/send").await.len(), 1);
}

#[tokio::test]
async fn failures_are_retried_with_backoff_and_given_up_after_a_day() {
    let app = spawn_app_with(templates(json!({"card_approved": "TPL-A"}))).await;
    let p = people(&app).await;
    app.mock_stable_token("TOKEN-1", StdDuration::ZERO, None).await;
    app.mock_subscribe_send(-1, None, Some(1)).await; // system busy, once
    app.mock_subscribe_send(0, None, None).await;
    consent(&app, &p.resident, "TPL-A", 1).await;
    reviewed_card(&app, &p, true).await;
    let row = || async {
        notifications::Entity::find()
            .filter(notifications::Column::UserId.eq(p.resident.user_id))
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
    };
    wait_for("the first attempt", || async { row().await.wx_attempts == 1 }).await;
    let first = row().await;
    assert_eq!(first.wx_state, "pending");
    let wait = first.wx_next_at.unwrap() - first.created_at;
    assert!(wait >= Duration::seconds(30) && wait < Duration::seconds(35), "30 s after the attempt: {wait}");
    let (_, consents) = app.get("/me/subscriptions", &p.resident.token).await;
    assert_eq!(consents["consents"][0]["remaining"], 1, "the consent was given back: {consents}");
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    assert_eq!(row().await.wx_attempts, 1, "not tried again before its time");
    app.clock.advance(Duration::seconds(31));
    wait_for("the retry", || async { row().await.wx_state == "sent" }).await;
    assert_eq!(row().await.wx_attempts, 2);

    // Failing for good: given up a day after the notification was made.
    let app = spawn_app_with(templates(json!({"card_approved": "TPL-A"}))).await;
    let p = people(&app).await;
    app.mock_stable_token("TOKEN-1", StdDuration::ZERO, None).await;
    app.mock_subscribe_send(-1, None, None).await;
    consent(&app, &p.resident, "TPL-A", 1).await;
    reviewed_card(&app, &p, true).await;
    wait_for("the first attempt", || async { wx_states(&app, p.resident.user_id).await == ["pending"] }).await;
    for _ in 0..12 {
        app.clock.advance(Duration::hours(2) + Duration::minutes(1));
        tokio::time::sleep(StdDuration::from_millis(1200)).await;
    }
    wait_for("given up", || async { wx_states(&app, p.resident.user_id).await == ["failed"] }).await;
    let (_, consents) = app.get("/me/subscriptions", &p.resident.token).await;
    assert_eq!(consents["consents"][0]["remaining"], 1, "a message never sent uses no consent");
}

#[tokio::test]
async fn a_branch_draw_code_is_fetched_once_and_kept() {
    let app = spawn_app().await;
    let p = people(&app).await;
    app.mock_stable_token("TOKEN-1", StdDuration::ZERO, None).await;
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(8, 8, image::Rgb([0, 120, 0])).write_to(&mut png, image::ImageFormat::Png).unwrap();
    let png = png.into_inner();
    Mock::given(method("POST"))
        .and(path("/wxa/getwxacodeunlimit"))
        .and(body_partial_json(json!({"scene": format!("b={}", p.tree.branch_a), "page": "pages/draw/index"})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(png.clone(), "image/png"))
        .mount(&app.wechat)
        .await;
    Mock::given(method("POST"))
        .and(path("/wxa/getwxacodeunlimit"))
        .and(body_partial_json(json!({"scene": format!("b={}", p.tree.branch_b)})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"errcode": 41030, "errmsg": "invalid page"})))
        .mount(&app.wechat)
        .await;
    let url = |branch: i64| app.url(&format!("/api/v1/orgs/{branch}/draw-code.png"));
    for _ in 0..2 {
        let resp = app.client.get(url(p.tree.branch_a)).bearer_auth(&p.secretary.token).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "image/png");
        assert_eq!(resp.bytes().await.unwrap().to_vec(), png);
    }
    assert_eq!(app.wechat_requests("/wxa/getwxacodeunlimit").await.len(), 1, "kept after the first fetch");

    let admin = app.super_admin().await;
    let (status, err) =
        crate::helpers::parts(app.client.get(url(p.tree.branch_b)).bearer_auth(&admin.token).send().await.unwrap())
            .await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::BAD_GATEWAY, Some("wechat_unavailable")), "{err}");
    let (status, err) = crate::helpers::parts(
        app.client.get(url(p.tree.branch_a)).bearer_auth(&p.resident.token).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    let (status, err) =
        crate::helpers::parts(app.client.get(url(p.tree.grid_a)).bearer_auth(&admin.token).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
}
