//! `Idempotency-Key` on the POSTs that create something or move points (CONTRACT.md, wave 2):
//! the same key and body answer the first response again (`Idempotent-Replayed: true`) and
//! change nothing; another body is 422 `idempotency_conflict`.
use entity::{incident_events, tasks, volunteer_logs};
use futures_util::future::join_all;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

use crate::helpers::{parts, spawn_app, Session, TestApp};

async fn post_keyed(app: &TestApp, path: &str, who: &Session, key: &str, body: &Value) -> (StatusCode, Value, bool) {
    let resp = app
        .client
        .post(app.url(&format!("/api/v1{path}")))
        .bearer_auth(&who.token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let replayed = resp.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    let (status, body) = parts(resp).await;
    (status, body, replayed)
}

/// The first answer, then the same again as a replay; then another body is refused.
async fn once(app: &TestApp, path: &str, who: &Session, key: &str, body: Value, other: Value) -> Value {
    let (status, first, replayed) = post_keyed(app, path, who, key, &body).await;
    assert!(status.is_success() && !replayed, "{path}: {status} {first}");
    let (again_status, again, replayed) = post_keyed(app, path, who, key, &body).await;
    assert_eq!((again_status, replayed), (status, true), "{path}: {again}");
    assert_eq!(again, first, "{path}: the first answer again");
    let (status, body, _) = post_keyed(app, path, who, key, &other).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("idempotency_conflict")),
        "{path}"
    );
    first
}

#[tokio::test]
async fn every_post_that_creates_or_moves_replays_its_first_answer() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "ik-sec", tree.branch_a, "secretary").await;
    let member = app.user_with_role(&admin, "ik-mem", tree.branch_a, "resident").await;
    let worker = app.user_with_role(&admin, "ik-worker", tree.grid_a, "grid_worker").await;

    // Task publishing.
    let task = json!({"title": "清扫楼道", "star": "eco_livable", "points": 4, "copies": 2});
    let other = json!({"title": "清扫楼道", "star": "eco_livable", "points": 5, "copies": 2});
    once(&app, &format!("/orgs/{}/tasks", tree.branch_a), &secretary, "pub-1", task, other).await;
    assert_eq!(tasks::Entity::find().count(&app.state.db).await.unwrap(), 1, "published once");
    assert_eq!(app.pool_size(tree.branch_a).await, 2);

    // Card submit and review.
    let (_, card) = app.draw(&member.token, tree.branch_a).await;
    let card_id = card["id"].as_i64().unwrap();
    let submitted = once(
        &app,
        &format!("/cards/{card_id}/submit"),
        &member,
        "sub-1",
        json!({"note": "扫完了"}),
        json!({"note": "另一个"}),
    )
    .await;
    assert_eq!(submitted["status"], "submitted");
    let reviewed = once(
        &app,
        &format!("/cards/{card_id}/review"),
        &secretary,
        "rev-1",
        json!({"approve": true}),
        json!({"approve": false}),
    )
    .await;
    assert_eq!(reviewed["status"], "approved");
    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 4, "credited once: {points}");

    // A volunteer log.
    let ended = app.clock.now() - chrono::Duration::hours(1);
    let log = json!({"description": "帮厨", "star": "civil_happy", "started_at": ended - chrono::Duration::hours(1), "ended_at": ended});
    let mut other = log.clone();
    other["description"] = json!("帮厨两小时");
    once(&app, &format!("/orgs/{}/volunteer-logs", tree.branch_a), &member, "log-1", log, other).await;
    assert_eq!(volunteer_logs::Entity::find().count(&app.state.db).await.unwrap(), 1);

    // An incident action.
    let filing = json!({"grid_id": tree.grid_a, "category": "hazard", "title": "井盖", "description": "缺失", "severity": "high",
        "lat": 30.25, "lng": 120.15, "occurred_at": (app.clock.now() - chrono::Duration::hours(1)).to_rfc3339()});
    let (_, incident, _) = app.file_incident(&worker.token, Some("file-ik"), &filing).await;
    let n = incident["id"].as_i64().unwrap();
    let accepted = once(
        &app,
        &format!("/incidents/{n}/actions"),
        &secretary,
        "act-1",
        json!({"action": "accept"}),
        json!({"action": "reject"}),
    )
    .await;
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(incident_events::Entity::find().count(&app.state.db).await.unwrap(), 2, "one filing, one move");
}

#[tokio::test]
async fn ten_retries_of_a_volunteer_log_at_once_add_one() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let member = app.user_with_role(&admin, "ik-ten", tree.branch_a, "resident").await;
    let ended = app.clock.now() - chrono::Duration::hours(1);
    let log = json!({"description": "巡逻", "star": "safe_lawful", "started_at": ended - chrono::Duration::hours(1), "ended_at": ended});
    let path = format!("/orgs/{}/volunteer-logs", tree.branch_a);
    let answers = join_all((0..10).map(|_| post_keyed(&app, &path, &member, "ten-1", &log))).await;
    let first = &answers.iter().find(|(_, _, replayed)| !replayed).expect("one first answer").1;
    for (status, body, _) in &answers {
        assert_eq!((*status, &body["id"]), (StatusCode::CREATED, &first["id"]), "{body}");
    }
    assert_eq!(volunteer_logs::Entity::find().count(&app.state.db).await.unwrap(), 1);
}
