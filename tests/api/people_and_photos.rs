//! Photos beside every `media_ids` and names beside every person's id (CONTRACT.md, wave 2,
//! "Across the API"): whoever can see an object sees its photos; nobody else gets a URL.
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Session, TestApp};

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

/// Fetch a signed link (relative to the API's origin): (status, content type, bytes).
async fn fetch(app: &TestApp, link: &Value) -> (StatusCode, String, Vec<u8>) {
    let link = link.as_str().unwrap_or_else(|| panic!("not a link: {link}"));
    let resp = app.client.get(app.url(link)).send().await.unwrap();
    let status = resp.status();
    let kind = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, kind, resp.bytes().await.unwrap().to_vec())
}

/// `media` holds the photos of `media_ids`, in order, each loadable as a JPEG.
async fn assert_photos(app: &TestApp, object: &Value, ids: &[i64]) {
    assert_eq!(object["media_ids"], json!(ids), "{object}");
    let media = object["media"].as_array().unwrap_or_else(|| panic!("no media in {object}"));
    assert_eq!(media.iter().map(id).collect::<Vec<_>>(), ids, "same order: {object}");
    for m in media {
        assert!(m["width"].as_i64().unwrap() > 0 && m["height"].as_i64().unwrap() > 0, "{m}");
        for link in [&m["url"], &m["thumbnail_url"]] {
            let (status, kind, bytes) = fetch(app, link).await;
            assert_eq!(status, StatusCode::OK, "{link}");
            assert_eq!(kind, "image/jpeg");
            assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");
        }
    }
}

fn has_a_url(v: &Value) -> bool {
    v.to_string().contains("/media/")
}

struct World {
    admin: Session,
    branch_a: i64,
    branch_b: i64,
    grid_a: i64,
    secretary: Session,
    member: Session,
    outsider: Session,
}

async fn world(app: &TestApp) -> World {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "pp-sec", tree.branch_a, "secretary").await;
    let member = app.user_with_role(&admin, "pp-member", tree.branch_a, "resident").await;
    let outsider = app.user_with_role(&admin, "pp-out", tree.branch_b, "resident").await;
    app.rename(&secretary, "陈书记").await;
    app.rename(&member, "刘大妈").await;
    World { admin, branch_a: tree.branch_a, branch_b: tree.branch_b, grid_a: tree.grid_a, secretary, member, outsider }
}

#[tokio::test]
async fn the_secretary_sees_the_photos_of_a_submitted_card_and_an_outsider_gets_none() {
    let app = spawn_app().await;
    let w = world(&app).await;
    app.publish_task(&w.secretary, w.branch_a, 1, true).await;
    let (_, card) = app.draw(&w.member.token, w.branch_a).await;
    assert_eq!(card["media"], json!([]), "{card}");
    let (first, second) = (app.photo(&w.member).await, app.photo_of(&w.member, 3).await);
    let (status, submitted) = app.submit_card(&w.member.token, id(&card), &[second, first]).await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_photos(&app, &submitted, &[second, first]).await;

    // The review queue: the photos, loadable, in the order the member gave them.
    let (status, queue) = app.get(&format!("/orgs/{}/cards?status=submitted", w.branch_a), &w.secretary.token).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let item = &queue["items"][0];
    assert_eq!((item["holder_id"].as_i64(), item["holder_name"].as_str()), (Some(w.member.user_id), Some("刘大妈")));
    assert_photos(&app, item, &[second, first]).await;

    // A resident of another branch: no queue, and nothing of this card anywhere of theirs.
    let (status, body) = app.get(&format!("/orgs/{}/cards?status=submitted", w.branch_a), &w.outsider.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another branch is out of reach");
    assert!(!has_a_url(&body), "{body}");
    let (_, theirs) = app.get("/me/cards", &w.outsider.token).await;
    assert_eq!(theirs["items"], json!([]), "{theirs}");
    let (status, body) = app.get(&format!("/orgs/{}/cards?status=submitted", w.branch_b), &w.outsider.token).await;
    assert!(!has_a_url(&body), "{status} {body}");

    // The holder sees them on their own card; the reviewer is named once reviewed.
    let (status, reviewed) = app.review_card(&w.secretary.token, id(&card), true).await;
    assert_eq!(status, StatusCode::OK, "{reviewed}");
    assert_eq!(
        (reviewed["reviewer_id"].as_i64(), reviewed["reviewer_name"].as_str()),
        (Some(w.secretary.user_id), Some("陈书记"))
    );
    let (_, mine) = app.get("/me/cards", &w.member.token).await;
    assert_photos(&app, &mine["items"][0], &[second, first]).await;
    assert_eq!(mine["items"][0]["reviewer_name"], "陈书记");

    // A link whose signature is tampered with loads nothing.
    let url = item["media"][0]["url"].as_str().unwrap().replace("sig=", "sig=0");
    let (status, _, _) = fetch(&app, &json!(url)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn volunteer_logs_carry_their_photos_and_names() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let photo = app.photo(&w.member).await;
    let ended = app.clock.now() - chrono::Duration::hours(1);
    let (status, log) = app
        .post(
            &format!("/orgs/{}/volunteer-logs", w.branch_a),
            &w.member.token,
            json!({"description": "敬老院帮厨", "star": "civil_happy", "started_at": ended - chrono::Duration::hours(2),
                   "ended_at": ended, "media_ids": [photo]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{log}");
    assert_eq!(log["user_name"], "刘大妈");
    assert_photos(&app, &log, &[photo]).await;
    let (_, queue) = app.get(&format!("/orgs/{}/volunteer-logs?status=pending", w.branch_a), &w.secretary.token).await;
    assert_eq!(
        (queue["items"][0]["user_name"].as_str(), queue["items"][0]["reviewer_name"].is_null()),
        (Some("刘大妈"), true)
    );
    assert_photos(&app, &queue["items"][0], &[photo]).await;
    let (_, reviewed) = app.review_log(&w.secretary.token, id(&log), true).await;
    assert_eq!(reviewed["reviewer_name"], "陈书记", "{reviewed}");
    let (_, mine) = app.get("/me/volunteer-logs", &w.member.token).await;
    assert_photos(&app, &mine["items"][0], &[photo]).await;
    let (status, body) = app.get(&format!("/orgs/{}/volunteer-logs", w.branch_a), &w.outsider.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(!has_a_url(&body), "{body}");
}

#[tokio::test]
async fn incidents_and_each_timeline_event_carry_photos_and_names() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let worker = app.user_with_role(&w.admin, "pp-worker", w.grid_a, "grid_worker").await;
    app.rename(&worker, "李网格员").await;
    let photo = app.photo(&worker).await;
    let body = json!({
        "grid_id": w.grid_a, "category": "hazard", "title": "井盖缺失", "description": "东街井盖缺失",
        "severity": "high", "lat": 30.25, "lng": 120.15,
        "occurred_at": (app.clock.now() - chrono::Duration::hours(1)).to_rfc3339(), "media_ids": [photo]
    });
    let (status, filed, _) = app.file_incident(&worker.token, Some("pp-file-1"), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    assert_eq!(filed["reporter_name"], "李网格员");
    assert_photos(&app, &filed, &[photo]).await;
    let n = id(&filed);

    app.incident_action(&w.secretary.token, n, "accept", json!({})).await;
    let (status, assigned) =
        app.incident_action(&w.secretary.token, n, "assign", json!({"assignee_id": worker.user_id})).await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    assert_eq!(
        (assigned["assignee_id"].as_i64(), assigned["assignee_name"].as_str()),
        (Some(worker.user_id), Some("李网格员"))
    );
    app.incident_action(&worker.token, n, "start", json!({})).await;
    let after = app.photo_of(&worker, 5).await;
    let (status, resolved) = app.incident_action(&worker.token, n, "resolve", json!({"media_ids": [after]})).await;
    assert_eq!(status, StatusCode::OK, "{resolved}");

    let (_, detail) = app.get(&format!("/incidents/{n}"), &w.secretary.token).await;
    let timeline = detail["timeline"].as_array().unwrap();
    let actors: Vec<(&str, &str)> =
        timeline.iter().map(|e| (e["action"].as_str().unwrap(), e["actor_name"].as_str().unwrap())).collect();
    assert_eq!(
        actors,
        [
            ("report", "李网格员"),
            ("accept", "陈书记"),
            ("assign", "陈书记"),
            ("start", "李网格员"),
            ("resolve", "李网格员")
        ]
    );
    assert_photos(&app, &timeline[0], &[photo]).await;
    assert_photos(&app, &timeline[4], &[after]).await;
    assert_eq!(timeline[1]["media"], json!([]));

    let (_, list) = app.get(&format!("/orgs/{}/incidents", w.branch_a), &w.secretary.token).await;
    assert_eq!(list["items"][0]["reporter_name"], "李网格员");
    assert_photos(&app, &list["items"][0], &[photo]).await;
    // A resident of another branch sees neither the incident nor its photos.
    let (status, body) = app.get(&format!("/incidents/{n}"), &w.outsider.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!has_a_url(&body), "{body}");
}

#[tokio::test]
async fn a_role_grant_answers_with_the_persons_name() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let (status, body) = app.grant(&w.secretary.token, w.branch_a, w.member.user_id, "party_member").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["user_id"].as_i64(), body["user_name"].as_str()), (Some(w.member.user_id), Some("刘大妈")));
}
