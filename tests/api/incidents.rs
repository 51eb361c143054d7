//! Incident reports: idempotent filing, validation and rights, possible duplicates, the
//! workflow and escalation, dispute privacy, statistics and exports parsed back.
use std::io::Cursor;

use calamine::{Reader, Xlsx};
use chrono::{Duration, Utc};
use entity::incidents;
use futures_util::future::join_all;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Session, TestApp, Tree};

struct Field {
    admin: Session,
    tree: Tree,
    worker: Session,
    secretary: Session,
    township: Session,
    resident: Session,
}

async fn setup(app: &TestApp) -> Field {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let worker = app.user_with_role(&admin, "i-worker", tree.grid_a, "grid_worker").await;
    let secretary = app.user_with_role(&admin, "i-sec", tree.branch_a, "secretary").await;
    let township = app.user_with_role(&admin, "i-town", tree.township, "township_admin").await;
    let resident = app.user_with_role(&admin, "i-res", tree.branch_a, "resident").await;
    Field { admin, tree, worker, secretary, township, resident }
}

const LAT: f64 = 30.25;
const LNG: f64 = 120.15;

/// A filing at a point `north_m` metres north of (LAT, LNG).
fn report(grid: i64, category: &str, north_m: f64) -> Value {
    json!({
        "grid_id": grid, "category": category, "title": "路口井盖缺失", "description": "东街与北路交叉口井盖缺失，夜间危险",
        "severity": "high", "lat": LAT + north_m / 111_195.0, "lng": LNG, "address": "东街 12 号旁",
        "occurred_at": (Utc::now() - Duration::hours(1)).to_rfc3339(), "media_ids": []
    })
}

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn file(app: &TestApp, who: &Session, body: &Value) -> Value {
    let (status, filed, _) = app.file_incident(&who.token, Some(&key()), body).await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    filed
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

async fn count(app: &TestApp) -> u64 {
    incidents::Entity::find().count(&app.state.db).await.unwrap()
}

#[tokio::test]
async fn filing_replay_conflict_and_missing_key() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    let body = report(f.tree.grid_a, "hazard", 0.0);
    let (status, first, replayed) = app.file_incident(&f.worker.token, Some("k-1"), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert!(!replayed);
    assert_eq!(first["status"], "reported");
    // Numbers take the year in Asia/Shanghai (on 31 December after 16:00 UTC it is the next).
    let filed_at = chrono::DateTime::parse_from_rfc3339(first["created_at"].as_str().unwrap()).unwrap();
    let year = filed_at.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).format("%Y").to_string();
    assert!(first["number"].as_str().unwrap().starts_with(&format!("NH-{year}-")), "{first}");
    assert_eq!(first["possible_duplicates"], json!([]));

    let (status, again, replayed) = app.file_incident(&f.worker.token, Some("k-1"), &body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(replayed, "the stored response is replayed");
    assert_eq!(again, first, "the very same answer");
    assert_eq!(count(&app).await, 1);

    let mut other = body.clone();
    other["title"] = json!("另一件事");
    let (status, err, _) = app.file_incident(&f.worker.token, Some("k-1"), &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["code"], "idempotency_conflict");

    let (status, err, _) = app.file_incident(&f.worker.token, None, &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["code"], "idempotency_key_required");
    let (status, _, _) = app.file_incident(&f.worker.token, Some(&"k".repeat(65)), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "keys are at most 64 characters");
    assert_eq!(count(&app).await, 1, "refusals create nothing");

    // Keys belong to their user: the secretary's "k-1" is a new filing.
    let (status, theirs, replayed) = app.file_incident(&f.secretary.token, Some("k-1"), &body).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false), "{theirs}");
    assert_ne!(id(&theirs), id(&first));

    let (status, detail) = app.get(&format!("/incidents/{}", id(&first)), &f.worker.token).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["number"], first["number"]);
    let timeline = detail["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!((timeline[0]["action"].as_str(), timeline[0]["to_status"].as_str()), (Some("report"), Some("reported")));
    assert_eq!(timeline[0]["actor_id"], f.worker.user_id);
}

#[tokio::test]
async fn ten_concurrent_filings_with_one_key_make_one_incident() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    let body = report(f.tree.grid_a, "event", 0.0);
    let results = join_all((0..10).map(|_| app.file_incident(&f.worker.token, Some("same-key"), &body))).await;
    assert!(results.iter().all(|(s, _, _)| *s == StatusCode::CREATED), "{results:?}");
    let ids: std::collections::HashSet<i64> = results.iter().map(|(_, b, _)| id(b)).collect();
    assert_eq!(ids.len(), 1, "every answer names the one incident");
    assert_eq!(results.iter().filter(|(_, _, replayed)| !replayed).count(), 1, "one first answer, nine replays");
    assert_eq!(count(&app).await, 1);
}

#[tokio::test]
async fn bad_fields_are_named_and_rights_are_checked() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    for (field, value) in [
        ("lat", json!(91.0)),
        ("lng", json!(-180.5)),
        ("category", json!("fire")),
        ("severity", json!("extreme")),
        ("title", json!("")),
        ("description", json!("x".repeat(2001))),
        ("occurred_at", json!((Utc::now() + Duration::hours(2)).to_rfc3339())),
        ("star", json!("gold")),
        ("grid_id", json!(f.tree.branch_a)),
    ] {
        let mut body = report(f.tree.grid_a, "hazard", 0.0);
        body[field] = value;
        let (status, err, _) = app.file_incident(&f.worker.token, Some(&key()), &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {err}");
        assert!(err["fields"][field].is_string(), "{field} named: {err}");
    }
    let mut body = report(f.tree.grid_a, "hazard", 0.0);
    body.as_object_mut().unwrap().remove("lat");
    let (status, _, _) = app.file_incident(&f.worker.token, Some(&key()), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a missing field");

    let body = report(f.tree.grid_a, "hazard", 0.0);
    let (status, _, _) = app.file_incident(&f.resident.token, Some(&key()), &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "residents do not file");
    let other_worker = app.user_with_role(&f.admin, "i-worker-b", f.tree.grid_b, "grid_worker").await;
    let (status, _, _) = app.file_incident(&other_worker.token, Some(&key()), &body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another grid's worker: {status}");
    assert_eq!(count(&app).await, 0);
    let (status, _, _) = app.file_incident(&f.secretary.token, Some(&key()), &body).await;
    assert_eq!(status, StatusCode::CREATED, "staff above the grid file too");
    let (status, _, _) = app.file_incident(&f.township.token, Some(&key()), &body).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn possible_duplicates_are_near_recent_open_and_of_the_category() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    let first = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", 0.0)).await;
    let near = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", 50.0)).await;
    let dups = near["possible_duplicates"].as_array().unwrap();
    assert_eq!(dups.len(), 1, "{near}");
    assert_eq!(dups[0]["id"], first["id"]);
    assert_eq!(dups[0]["number"], first["number"]);
    let d = dups[0]["distance_m"].as_f64().unwrap();
    assert!((d - 50.0).abs() < 1.0, "{d}");

    // Nearest first.
    let third = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", 10.0)).await;
    let ids: Vec<i64> = third["possible_duplicates"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids, vec![id(&first), id(&near)], "{third}");

    let far = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", -101.0)).await;
    assert_eq!(far["possible_duplicates"], json!([]), "101 m south of the first is too far");
    let other = file(&app, &f.worker, &report(f.tree.grid_a, "environment", 0.0)).await;
    assert_eq!(other["possible_duplicates"], json!([]), "another category");

    // A closed (rejected) incident is not a duplicate.
    let lone = file(&app, &f.worker, &report(f.tree.grid_a, "event", 500.0)).await;
    let (status, _) = app.incident_action(&f.secretary.token, id(&lone), "reject", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let after = file(&app, &f.worker, &report(f.tree.grid_a, "event", 500.0)).await;
    assert_eq!(after["possible_duplicates"], json!([]), "{after}");

    // Older than 72 hours is not a duplicate.
    app.clock.advance(Duration::hours(73));
    let later = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", 0.0)).await;
    assert_eq!(later["possible_duplicates"], json!([]), "{later}");
}

async fn walk(app: &TestApp, who: &Session, id: i64, action: &str, extra: Value, to: &str) -> Value {
    let (status, body) = app.incident_action(&who.token, id, action, extra).await;
    assert_eq!(status, StatusCode::OK, "{action}: {body}");
    assert_eq!(body["status"], to, "{action}: {body}");
    body
}

#[tokio::test]
async fn the_workflow_moves_allowed_steps_and_refuses_the_rest() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    let incident = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", 0.0)).await;
    let n = id(&incident);

    let (status, body) = app.incident_action(&f.secretary.token, n, "close", json!({})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")));
    assert_eq!(body["status"], "reported", "the 409 names the current status: {body}");
    assert_eq!(body["allowed_actions"], json!(["accept", "escalate", "reject"]), "{body}");
    assert!(body["message"].as_str().unwrap().contains("已上报"), "{body}");
    let (status, body) = app.incident_action(&f.worker.token, n, "accept", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a grid worker does not accept");
    assert_eq!(body["required_role"], "secretary", "{body}");
    let (_, seen) = app.get(&format!("/incidents/{n}"), &f.worker.token).await;
    assert_eq!(seen["status"], "reported", "a refusal moves nothing: {seen}");
    assert_eq!(seen["allowed_actions"], json!([]), "the reporter may not move it: {seen}");
    let (_, seen) = app.get(&format!("/incidents/{n}"), &f.secretary.token).await;
    assert_eq!(seen["allowed_actions"], json!(["accept", "escalate", "reject", "extend"]), "{seen}");
    let (status, body) = app.incident_action(&f.secretary.token, n, "fly", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    walk(&app, &f.secretary, n, "accept", json!({}), "accepted").await;
    let (status, body) = app.incident_action(&f.secretary.token, n, "assign", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an assignee is required: {body}");
    let outsider = app.user_with_role(&f.admin, "i-out", f.tree.branch_b, "resident").await;
    let (status, body) =
        app.incident_action(&f.secretary.token, n, "assign", json!({"assignee_id": outsider.user_id})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an assignee outside the subtree: {body}");
    assert!(body["fields"]["assignee_id"].is_string());
    let body = walk(&app, &f.secretary, n, "assign", json!({"assignee_id": f.worker.user_id}), "assigned").await;
    assert_eq!(body["assignee_id"], f.worker.user_id);
    let (status, _) = app.incident_action(&f.resident.token, n, "start", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the handler or staff");
    let (status, body) = app.incident_action(&f.worker.token, n, "resolve", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!((body["status"].as_str(), &body["allowed_actions"]), (Some("assigned"), &json!(["start"])), "{body}");
    walk(&app, &f.worker, n, "start", json!({}), "in_progress").await;
    let photo = app.photo(&f.worker).await;
    walk(&app, &f.worker, n, "resolve", json!({"media_ids": [photo]}), "resolved").await;
    walk(&app, &f.secretary, n, "reopen", json!({}), "in_progress").await;
    walk(&app, &f.worker, n, "resolve", json!({}), "resolved").await;
    let closed = walk(&app, &f.secretary, n, "close", json!({}), "closed").await;
    assert!(closed["closed_at"].is_string());
    let (status, body) = app.incident_action(&f.secretary.token, n, "reopen", json!({})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")));
    assert_eq!((body["status"].as_str(), &body["allowed_actions"]), (Some("closed"), &json!([])), "{body}");
    let (status, _) = app.incident_action(&f.secretary.token, n, "escalate", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "a closed incident is not open");

    let timeline = closed["timeline"].as_array().unwrap();
    let steps: Vec<(&str, &str, &str)> = timeline
        .iter()
        .skip(1)
        .map(|e| (e["action"].as_str().unwrap(), e["from_status"].as_str().unwrap(), e["to_status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("accept", "reported", "accepted"),
            ("assign", "accepted", "assigned"),
            ("start", "assigned", "in_progress"),
            ("resolve", "in_progress", "resolved"),
            ("reopen", "resolved", "in_progress"),
            ("resolve", "in_progress", "resolved"),
            ("close", "resolved", "closed"),
        ]
    );
    assert_eq!(timeline[4]["media_ids"], json!([photo]));
    assert_eq!(timeline[1]["actor_id"], f.secretary.user_id);
    assert_eq!(timeline[1]["note"], "accept 备注");

    let other = file(&app, &f.worker, &report(f.tree.grid_a, "event", 0.0)).await;
    walk(&app, &f.secretary, id(&other), "reject", json!({}), "rejected").await;
    let (status, _) = app.incident_action(&f.secretary.token, id(&other), "accept", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn escalation_moves_the_incident_to_the_township_ledger() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    let incident = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", 0.0)).await;
    let n = id(&incident);
    walk(&app, &f.secretary, n, "accept", json!({}), "accepted").await;
    let escalated = walk(&app, &f.secretary, n, "escalate", json!({}), "escalated").await;
    assert_eq!(escalated["owner_org_id"], f.tree.township);
    let (status, _) = app.incident_action(&f.secretary.token, n, "accept", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the branch no longer handles it");
    let (status, list) =
        app.get(&format!("/orgs/{}/incidents?status=escalated", f.tree.township), &f.township.token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), vec![n]);
    walk(&app, &f.township, n, "accept", json!({}), "accepted").await;
    let (status, _) = app.incident_action(&f.township.token, n, "escalate", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing above the township's ledger here");
}

#[tokio::test]
async fn disputes_are_for_staff_and_the_handler_only() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    let dispute = file(&app, &f.worker, &report(f.tree.grid_a, "dispute", 0.0)).await;
    let hazard = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", 0.0)).await;
    let neighbour = app.user_with_role(&f.admin, "i-neighbour", f.tree.branch_a, "party_member").await;

    let (status, _) = app.get(&format!("/incidents/{}", id(&dispute)), &f.resident.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a resident does not see a dispute");
    let (status, _) = app.get(&format!("/incidents/{}", id(&hazard)), &f.resident.token).await;
    assert_eq!(status, StatusCode::OK, "but sees a hazard in their branch");
    let (_, list) = app.get(&format!("/orgs/{}/incidents", f.tree.branch_a), &f.resident.token).await;
    let seen: Vec<i64> = list["items"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(seen, vec![id(&hazard)], "{list}");
    for staff in [&f.secretary, &f.township, &f.worker] {
        let (status, _) = app.get(&format!("/incidents/{}", id(&dispute)), &staff.token).await;
        assert_eq!(status, StatusCode::OK);
    }

    walk(&app, &f.secretary, id(&dispute), "accept", json!({}), "accepted").await;
    walk(&app, &f.secretary, id(&dispute), "assign", json!({"assignee_id": neighbour.user_id}), "assigned").await;
    let (status, _) = app.get(&format!("/incidents/{}", id(&dispute)), &neighbour.token).await;
    assert_eq!(status, StatusCode::OK, "the assigned handler sees it");
    let (_, list) = app.get(&format!("/orgs/{}/incidents?category=dispute", f.tree.branch_a), &neighbour.token).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    walk(&app, &neighbour, id(&dispute), "start", json!({}), "in_progress").await;
    let (status, _) = app.get(&format!("/incidents/{}", id(&dispute)), &f.resident.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "still not for other residents");

    let outsider = app.user_with_role(&f.admin, "i-out2", f.tree.branch_b, "secretary").await;
    let (status, _) = app.get(&format!("/incidents/{}", id(&hazard)), &outsider.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another branch sees nothing");
    let (status, _) = app.get(&format!("/orgs/{}/incidents", f.tree.branch_a), &outsider.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stats_on_a_known_set() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    let a = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", 0.0)).await;
    let b = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", 300.0)).await;
    file(&app, &f.worker, &report(f.tree.grid_a, "dispute", 0.0)).await;
    file(&app, &f.worker, &report(f.tree.grid_a, "event", 0.0)).await;
    for (incident, hours) in [(&a, 10), (&b, 10)] {
        let n = id(incident);
        walk(&app, &f.secretary, n, "accept", json!({}), "accepted").await;
        walk(&app, &f.secretary, n, "assign", json!({"assignee_id": f.worker.user_id}), "assigned").await;
        walk(&app, &f.worker, n, "start", json!({}), "in_progress").await;
        walk(&app, &f.worker, n, "resolve", json!({}), "resolved").await;
        app.clock.advance(Duration::hours(hours));
        walk(&app, &f.secretary, n, "close", json!({}), "closed").await;
    }
    // a closed after 10 h, b after 20 h: the median is 15 h.
    let (status, stats) = app.get(&format!("/orgs/{}/incidents/stats", f.tree.township), &f.township.token).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["total"], 4);
    assert_eq!(stats["by_category"]["hazard"], 2);
    assert_eq!(stats["by_category"]["dispute"], 1);
    assert_eq!(stats["by_category"]["other"], 0);
    assert_eq!(stats["by_status"]["closed"], 2);
    assert_eq!(stats["by_status"]["reported"], 2);
    assert_eq!(stats["closure_rate"], 0.5);
    assert_eq!(stats["median_hours_to_close"], 15.0);

    let later = (app.clock.now() + Duration::hours(1)).to_rfc3339();
    let (_, empty) = app
        .get(&format!("/orgs/{}/incidents/stats?from={}", f.tree.branch_a, urlencode(&later)), &f.secretary.token)
        .await;
    assert_eq!((empty["total"].as_i64(), empty["median_hours_to_close"].is_null()), (Some(0), true), "{empty}");
    let (status, _) = app.get(&format!("/orgs/{}/incidents/stats", f.tree.branch_a), &f.resident.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "stats are for staff");
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// The text of one file inside an XLSX (a zip).
fn xlsx_part(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("an xlsx is a zip");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut zip.by_name(name).expect(name), &mut text).unwrap();
    text
}

/// Whatever a grid worker types, no CSV cell starts with a character a spreadsheet reads as
/// a formula (`=`, `+`, `-`, `@`, tab, CR): each such cell gets a leading `'`, the rest of
/// its text kept.
#[tokio::test]
async fn no_csv_cell_starts_with_a_formula_lead_character() {
    const LEADS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
    let app = spawn_app().await;
    let f = setup(&app).await;
    let mut sent = Vec::new();
    for (i, lead) in LEADS.iter().enumerate() {
        let mut body = report(f.tree.grid_a, "hazard", i as f64 * 1000.0);
        let title = format!("{lead}SUM(A1:A9) 第{i}件");
        body["title"] = json!(title);
        body["description"] = json!(format!("{lead}cmd|' /C calc'!A0"));
        body["address"] = json!(format!("{lead}1+2"));
        let filed = file(&app, &f.worker, &body).await;
        sent.push((filed["number"].as_str().unwrap().to_owned(), filed["title"].as_str().unwrap().to_owned()));
    }
    let url = app.url(&format!("/api/v1/orgs/{}/incidents/export?format=csv", f.tree.branch_a));
    let resp = app.client.get(&url).bearer_auth(&f.secretary.token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), LEADS.len());
    for row in &rows {
        for cell in row.iter() {
            assert!(!cell.starts_with(LEADS), "a cell a spreadsheet would run: {cell:?} in {row:?}");
        }
    }
    // Every lead the server kept is still there, behind the quote.
    for (number, title) in &sent {
        let row = rows.iter().find(|r| &r[0] == number).expect("every incident is exported");
        let expected = if title.starts_with(LEADS) { format!("'{title}") } else { title.clone() };
        assert_eq!(&row[3], expected.as_str());
    }
    let quoted = rows.iter().filter(|r| r[3].starts_with('\'')).count();
    assert!(quoted >= 4, "at least =, +, - and @ reach the title as typed: {rows:?}");
}

#[tokio::test]
async fn csv_and_xlsx_exports_parse_back() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    app.rename(&f.worker, "李网格员").await;
    app.rename(&f.resident, "张居民").await;
    let mut filed = Vec::new();
    for (i, category) in ["hazard", "dispute", "event"].iter().enumerate() {
        let mut body = report(f.tree.grid_a, category, i as f64 * 1000.0);
        if i == 0 {
            body["media_ids"] = json!([app.photo(&f.worker).await]);
        }
        if i == 2 {
            // What a spreadsheet would run as a formula.
            body["title"] = json!("=HYPERLINK(\"http://evil.example/\",\"点我\")");
            body["address"] = json!("-2+3");
        }
        filed.push(file(&app, &f.worker, &body).await);
    }
    walk(&app, &f.secretary, id(&filed[0]), "accept", json!({}), "accepted").await;
    walk(&app, &f.secretary, id(&filed[0]), "assign", json!({"assignee_id": f.worker.user_id}), "assigned").await;

    let url = app.url(&format!("/api/v1/orgs/{}/incidents/export?format=csv", f.tree.branch_a));
    let resp = app.client.get(&url).bearer_auth(&f.secretary.token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let bytes = resp.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "UTF-8 with a BOM");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!((header[0].as_str(), header[12].as_str(), header[13].as_str()), ("编号", "上报人", "处置人"));
    assert_eq!((header[15].as_str(), header[16].as_str(), header[17].as_str()), ("办理期限", "时限状态", "最后操作"));
    assert!(header[19].starts_with("照片"), "{header:?}");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    // Newest first.
    let first = &rows[2];
    assert_eq!(&first[0], filed[0]["number"].as_str().unwrap());
    assert_eq!((&first[2], &first[6], &first[17]), ("安全隐患", "已分派", "分派"));
    assert_eq!(&first[16], "正常", "the deadline's state: {first:?}");
    assert_eq!((&first[12], &first[13]), ("李网格员", "李网格员"), "people by name");
    assert_eq!(&rows[1][2], "矛盾纠纷");
    let minute =
        |s: &str| s.len() == 16 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b' ' && s.as_bytes()[13] == b':';
    assert!(minute(&first[10]) && minute(&first[11]) && minute(&first[15]), "YYYY-MM-DD HH:MM: {first:?}");
    let link = &first[19];
    assert!(link.starts_with("http://127.0.0.1:"), "an absolute link: {link}");
    let photo = app.client.get(link).send().await.unwrap();
    assert_eq!(photo.status(), StatusCode::OK);
    assert_eq!(&photo.bytes().await.unwrap()[..2], &[0xFF, 0xD8], "the link loads the JPEG");
    // Formulas from a report are text in the township's Excel.
    assert!(rows[0][3].starts_with("'=HYPERLINK("), "{:?}", &rows[0][3]);
    assert_eq!(&rows[0][9], "'-2+3");

    let url = app.url(&format!("/api/v1/orgs/{}/incidents/export?format=xlsx", f.tree.branch_a));
    let resp = app.client.get(&url).bearer_auth(&f.secretary.token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes.clone())).expect("a valid xlsx");
    let sheet = book.worksheet_range("事件台账").expect("the ledger sheet");
    let cells: Vec<Vec<calamine::Data>> = sheet.rows().map(|r| r.to_vec()).collect();
    let text = |c: &calamine::Data| c.to_string();
    assert_eq!(cells.len(), 4, "a header and three incidents");
    assert_eq!((text(&cells[0][0]), text(&cells[0][12])), ("编号".to_owned(), "上报人".to_owned()));
    let row = &cells[3];
    assert_eq!(text(&row[0]), filed[0]["number"].as_str().unwrap());
    assert_eq!(
        (text(&row[12]), text(&row[16]), text(&row[17])),
        ("李网格员".to_owned(), "正常".to_owned(), "分派".to_owned())
    );
    assert!(matches!(row[7], calamine::Data::Float(_)), "latitude is a number: {:?}", row[7]);
    for col in [10, 11, 15, 18] {
        assert!(matches!(row[col], calamine::Data::DateTime(_)), "column {col} is a date cell: {:?}", row[col]);
    }
    // The filing time, in Asia/Shanghai, as Excel counts days (from 1899-12-30).
    let calamine::Data::DateTime(at) = &row[11] else { unreachable!() };
    let filed_at = chrono::DateTime::parse_from_rfc3339(filed[0]["created_at"].as_str().unwrap()).unwrap();
    let local = filed_at.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).naive_local();
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let serial = (local - epoch).num_milliseconds() as f64 / 86_400_000.0;
    assert!((at.as_f64() - serial).abs() < 2.0 / 86_400.0, "filed at {local} ({serial}), cell {}", at.as_f64());
    assert_eq!(text(&cells[1][3]), "=HYPERLINK(\"http://evil.example/\",\"点我\")", "XLSX keeps text as text");
    let xml = xlsx_part(&bytes, "xl/worksheets/sheet1.xml");
    assert!(xml.contains(r#"state="frozen""#) && xml.contains(r#"ySplit="1""#), "a frozen header row: {xml:.600}");
    assert!(xml.contains(r#"<autoFilter ref="A1:T4"/>"#), "an autofilter over the table");
    assert!(xml.contains("<cols>") && xml.contains("customWidth=\"1\""), "column widths are set");
    assert!(xml.contains("<hyperlink "), "the photo is a link");
    assert!(!xml.contains("<f>"), "no formula in the sheet");

    let (status, err) =
        app.get(&format!("/orgs/{}/incidents/export?format=pdf", f.tree.branch_a), &f.secretary.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, _) =
        app.get(&format!("/orgs/{}/incidents/export?format=csv", f.tree.branch_a), &f.resident.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn keys_are_forgotten_after_thirty_days() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    let body = report(f.tree.grid_a, "other", 0.0);
    let (_, first, _) = app.file_incident(&f.worker.token, Some("old-key"), &body).await;
    app.clock.advance(Duration::days(29));
    let purged = fivestar::idempotency::purge(&app.state.db, app.clock.now()).await;
    assert_eq!(purged.unwrap(), 0, "a 29-day-old key is kept");
    let (_, again, replayed) = app.file_incident(&f.worker.token, Some("old-key"), &body).await;
    assert!(replayed && id(&again) == id(&first));
    app.clock.advance(Duration::days(2));
    let purged = fivestar::idempotency::purge(&app.state.db, app.clock.now()).await;
    assert_eq!(purged.unwrap(), 1);
    let (status, fresh, replayed) = app.file_incident(&f.worker.token, Some("old-key"), &body).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false));
    assert_ne!(id(&fresh), id(&first), "a forgotten key files anew");
}

#[tokio::test]
async fn a_gcj02_filing_and_a_wgs84_filing_of_one_place_are_duplicates() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    // A phone's GPS fix of a place…
    let mut gps = report(f.tree.grid_a, "hazard", 0.0);
    gps["coord_system"] = json!("wgs84");
    let first = file(&app, &f.worker, &gps).await;
    let (lat, lng) = fivestar::geo::wgs84_to_gcj02(LAT, LNG);
    assert_eq!(first["coord_system"], "gcj02", "{first}");
    assert!((first["lat"].as_f64().unwrap() - lat).abs() < 1e-9, "stored in GCJ-02: {first}");
    assert!((first["lng"].as_f64().unwrap() - lng).abs() < 1e-9, "{first}");

    // …and WeChat's map pin of the same place (GCJ-02, the default) are one incident twice.
    let mut pin = report(f.tree.grid_a, "hazard", 0.0);
    pin["lat"] = json!(lat);
    pin["lng"] = json!(lng);
    let second = file(&app, &f.worker, &pin).await;
    assert_eq!(second["possible_duplicates"][0]["id"], first["id"], "{second}");
    assert!(second["possible_duplicates"][0]["distance_m"].as_f64().unwrap() < 1.0, "{second}");

    // The GPS numbers taken as GCJ-02 are a different place, hundreds of metres off.
    let raw = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", 0.0)).await;
    assert_eq!(raw["possible_duplicates"], json!([]), "{raw}");

    let mut bad = report(f.tree.grid_a, "hazard", 0.0);
    bad["coord_system"] = json!("bd09");
    let (status, body, _) = app.file_incident(&f.worker.token, Some(&key()), &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["coord_system"].is_string(), "{body}");
}
