//! The seven metrics of `auto` indicators against values computed by hand on a small known
//! data set, one test per metric, through a branch's star view (`GET /orgs/{id}/stars`).
//!
//! Branch A: three residents (R1, R2, R3), the only people whose home branch it is.
//! - R1: an adjustment of +30 points, and one approved card (a task worth 0 points).
//! - R2: 90 minutes of approved volunteer service (10 points an hour: +15 points).
//! - R3: nothing.
//! - Its grid: two incidents filed this year, a dispute (closed) and a hazard (open), then the
//!   clock moves 8 days on, so the hazard is overdue.
//!
//! Branch B has no members and no incidents: 0 per member, shares of 1.
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, Tree};

struct Measured {
    app: TestApp,
    tree: Tree,
    token: String,
}

async fn fixture() -> Measured {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let county = app.user_with_role(&admin, "m-county", tree.county, "county_admin").await;
    let secretary = app.user_with_role(&admin, "m-sec", tree.branch_a, "secretary").await;
    let worker = app.user_with_role(&admin, "m-worker", tree.grid_a, "grid_worker").await;
    let r1 = app.user_with_role(&secretary, "m-r1", tree.branch_a, "resident").await;
    let r2 = app.user_with_role(&secretary, "m-r2", tree.branch_a, "resident").await;
    let _r3 = app.user_with_role(&secretary, "m-r3", tree.branch_a, "resident").await;
    {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let home = entity::users::Column::HomeBranchId;
        let members = entity::users::Entity::find().filter(home.eq(tree.branch_a)).count(&app.state.db).await.unwrap();
        assert_eq!(members, 3, "the fixture's branch A has exactly its three residents");
    }
    let year = chrono::Utc::now().format("%Y").to_string().parse::<i64>().unwrap();
    let (status, body) = app
        .post(&format!("/orgs/{}/star-indicators/defaults", tree.county), &county.token, json!({"year": year}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    app.credit(&secretary, tree.branch_a, r1.user_id, 30).await;
    let (status, task) = app
        .post(
            &format!("/orgs/{}/tasks", tree.branch_a),
            &secretary.token,
            json!({"title": "清扫楼道", "description": "",
            "star": "eco_livable", "points": 0, "volunteer_minutes": 0, "copies": 1, "claim_ttl_minutes": 60}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let (status, card) = app.draw(&r1.token, tree.branch_a).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let card_id = card["id"].as_i64().unwrap();
    assert_eq!(app.submit_card(&r1.token, card_id, &[]).await.0, StatusCode::OK);
    assert_eq!(app.review_card(&secretary.token, card_id, true).await.0, StatusCode::OK);
    let (status, log) = app.log_service(&r2.token, tree.branch_a, 90, "civil_happy").await;
    assert_eq!(status, StatusCode::CREATED, "{log}");
    assert_eq!(app.review_log(&secretary.token, log["id"].as_i64().unwrap(), true).await.0, StatusCode::OK);

    let mut filed = Vec::new();
    for category in ["dispute", "hazard"] {
        let body = json!({"grid_id": tree.grid_a, "category": category, "title": "指标测试", "description": "指标测试",
            "severity": "low", "lat": 30.27, "lng": 120.15, "occurred_at": chrono::Utc::now().to_rfc3339(), "media_ids": []});
        let (status, incident, _) =
            app.file_incident(&worker.token, Some(&uuid::Uuid::new_v4().to_string()), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{incident}");
        filed.push(incident["id"].as_i64().unwrap());
    }
    for (who, action, extra) in [
        (&secretary, "accept", json!({})),
        (&secretary, "assign", json!({"assignee_id": worker.user_id})),
        (&worker, "start", json!({})),
        (&worker, "resolve", json!({})),
        (&secretary, "close", json!({})),
    ] {
        let (status, body) = app.incident_action(&who.token, filed[0], action, extra).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
    }
    app.clock.advance(chrono::Duration::days(8));
    Measured { app, tree, token: county.token }
}

/// The measured value of the indicator with this metric in a branch's star view.
async fn value(m: &Measured, branch: i64, metric: &str) -> f64 {
    let (status, view) = m.app.get(&format!("/orgs/{branch}/stars"), &m.token).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let indicator: Value = view["stars"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["indicators"].as_array().unwrap().clone())
        .find(|i| {
            let code = i["code"].as_str().unwrap();
            metric_of(code) == Some(metric)
        })
        .unwrap_or_else(|| panic!("an indicator measuring {metric}: {view}"));
    indicator["value"].as_f64().unwrap_or_else(|| panic!("{metric} measured: {indicator}"))
}

/// The built-in indicator that measures each metric.
fn metric_of(code: &str) -> Option<&'static str> {
    Some(match code {
        "SB1" => "active_member_share",
        "SB2" => "volunteer_minutes_per_member",
        "TI1" => "points_per_member",
        "EL1" => "cards_approved_per_member",
        "EL2" => "incidents_closed_share",
        "SL1" => "disputes_closed_share",
        "SL2" => "incidents_overdue",
        _ => return None,
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn volunteer_minutes_per_member() {
    let m = fixture().await;
    let v = value(&m, m.tree.branch_a, "volunteer_minutes_per_member").await;
    assert!(close(v, 90.0 / 3.0), "90 minutes over 3 members: {v}");
    assert_eq!(value(&m, m.tree.branch_b, "volunteer_minutes_per_member").await, 0.0, "no members: 0");
}

#[tokio::test]
async fn active_member_share() {
    let m = fixture().await;
    let v = value(&m, m.tree.branch_a, "active_member_share").await;
    assert!(close(v, 2.0 / 3.0), "R1 and R2 were credited, R3 was not: {v}");
    assert_eq!(value(&m, m.tree.branch_b, "active_member_share").await, 0.0);
}

#[tokio::test]
async fn cards_approved_per_member() {
    let m = fixture().await;
    let v = value(&m, m.tree.branch_a, "cards_approved_per_member").await;
    assert!(close(v, 1.0 / 3.0), "one approved card over 3 members: {v}");
}

#[tokio::test]
async fn incidents_closed_share() {
    let m = fixture().await;
    assert!(close(value(&m, m.tree.branch_a, "incidents_closed_share").await, 0.5), "one of two closed");
    assert_eq!(value(&m, m.tree.branch_b, "incidents_closed_share").await, 1.0, "none filed: nothing left open");
}

#[tokio::test]
async fn disputes_closed_share() {
    let m = fixture().await;
    assert_eq!(value(&m, m.tree.branch_a, "disputes_closed_share").await, 1.0, "the one dispute is closed");
}

#[tokio::test]
async fn incidents_overdue() {
    let m = fixture().await;
    assert_eq!(value(&m, m.tree.branch_a, "incidents_overdue").await, 1.0, "the hazard, open 8 days");
    let (_, view) = m.app.get(&format!("/orgs/{}/stars", m.tree.branch_a), &m.token).await;
    let sl2 = view["stars"][3]["indicators"].as_array().unwrap().iter().find(|i| i["code"] == "SL2").cloned().unwrap();
    assert_eq!((sl2["threshold"].as_f64(), sl2["met"].as_bool()), (Some(3.0), Some(true)), "at most 3: met");
}

#[tokio::test]
async fn points_per_member() {
    let m = fixture().await;
    let v = value(&m, m.tree.branch_a, "points_per_member").await;
    assert!(close(v, (30.0 + 15.0) / 3.0), "30 adjusted + 15 for 90 minutes, over 3 members: {v}");
    let (_, view) = m.app.get(&format!("/orgs/{}/stars", m.tree.branch_a), &m.token).await;
    assert_eq!(view["rating"], json!([]), "nothing awarded yet");
    let thriving = &view["stars"][1];
    assert_eq!(thriving["star"], "thriving_industry");
    assert_eq!(thriving["met"], false, "15 points a member is short of 100, and evidence is missing");
}
