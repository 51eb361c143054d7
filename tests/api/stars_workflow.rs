//! The star application workflow (申报 → 初审 → 审核 → 公示 → 授星, and 摘星) on the
//! black-box API: each step and its history, each wrong turn, each role, objections and
//! the award the background jobs make by themselves.
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, wait_for, Session, TestApp, Tree};

struct Rating {
    tree: Tree,
    county_admin: Session,
    township_admin: Session,
    secretary: Session,
    resident: Session,
}

async fn setup(app: &TestApp) -> Rating {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let county_admin = app.user_with_role(&admin, "wf-county", tree.county, "county_admin").await;
    let township_admin = app.user_with_role(&admin, "wf-town", tree.township, "township_admin").await;
    let secretary = app.user_with_role(&admin, "wf-sec", tree.branch_a, "secretary").await;
    let resident = app.user_with_role(&secretary, "wf-res", tree.branch_a, "resident").await;
    app.rename(&township_admin, "乡镇审核员").await;
    let (status, body) = app
        .post(&format!("/orgs/{}/star-indicators/defaults", tree.county), &county_admin.token, json!({"year": 2026}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Rating { tree, county_admin, township_admin, secretary, resident }
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

async fn apply(app: &TestApp, r: &Rating, stars: Value) -> Value {
    let (status, body) = app
        .post(
            &format!("/orgs/{}/star-applications", r.tree.branch_a),
            &r.secretary.token,
            json!({"year": 2026, "stars": stars, "statement": "我支部全年开展志愿服务，申报星级"}),
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::CREATED, Some("submitted")), "{body}");
    body
}

async fn review(app: &TestApp, who: &Session, app_id: i64, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/star-applications/{app_id}/review"), &who.token, body).await
}

async fn set_publicity(app: &TestApp, r: &Rating, days: f64) {
    let (status, body) = app
        .patch(&format!("/orgs/{}/settings", r.tree.county), &r.county_admin.token, json!({"publicity_days": days}))
        .await;
    assert_eq!((status, body["publicity_days"].as_f64()), (StatusCode::OK, Some(days)), "{body}");
}

#[tokio::test]
async fn an_application_goes_from_declaration_to_stars_by_itself_after_publicity() {
    let app = spawn_app().await;
    let r = setup(&app).await;
    let a = apply(&app, &r, json!(["safe_lawful", "civil_happy", "eco_livable"])).await;
    let (status, err) = app
        .post(
            &format!("/orgs/{}/star-applications", r.tree.branch_a),
            &r.secretary.token,
            json!({"year": 2026, "stars": ["safe_lawful"], "statement": "再报一次"}),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("application_exists")), "{err}");

    let photo = app.photo(&r.secretary).await;
    let (status, ev) = app
        .post(
            &format!("/star-applications/{}/evidence", id(&a)),
            &r.secretary.token,
            json!({"indicator_code": "SL3", "note": "全年安全生产台账", "media_ids": [photo]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ev}");
    assert_eq!(ev["media"][0]["id"].as_i64(), Some(photo));
    let (status, err) = app
        .post(
            &format!("/star-applications/{}/evidence", id(&a)),
            &r.secretary.token,
            json!({"indicator_code": "NOPE", "note": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["fields"]["indicator_code"].is_string());

    // 初审: returned for revision (a reason is required), resubmitted, passed.
    let (status, err) = review(&app, &r.township_admin, id(&a), json!({"decision": "return"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, body) =
        review(&app, &r.township_admin, id(&a), json!({"decision": "return", "comment": "请补充佐证"})).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("returned")), "{body}");
    let (status, body) = app
        .post(
            &format!("/star-applications/{}/submit", id(&a)),
            &r.secretary.token,
            json!({"statement": "已补充安全台账"}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str(), body["statement"].as_str()),
        (StatusCode::OK, Some("submitted"), Some("已补充安全台账"))
    );
    let (status, body) =
        review(&app, &r.township_admin, id(&a), json!({"decision": "pass", "comment": "同意上报"})).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("township_passed")), "{body}");

    // 审核: the county narrows the stars and opens publicity.
    set_publicity(&app, &r, 2.0 / 86_400.0).await;
    let (status, err) =
        review(&app, &r.county_admin, id(&a), json!({"decision": "pass", "stars": ["strong_branch"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "only stars applied for: {err}");
    let (status, body) =
        review(&app, &r.county_admin, id(&a), json!({"decision": "pass", "stars": ["safe_lawful", "civil_happy"]}))
            .await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("publicized")), "{body}");
    assert_eq!(body["stars"], json!(["safe_lawful", "civil_happy"]));
    assert!(body["publicity_ends_at"].is_string());

    // 授星 by itself once the window has passed.
    let url = format!("/star-applications/{}", id(&a));
    wait_for("the award after publicity", || async {
        app.get(&url, &r.secretary.token).await.1["status"] == "awarded"
    })
    .await;
    let (_, view) = app.get(&format!("/orgs/{}/stars?year=2026", r.tree.branch_a), &r.resident.token).await;
    assert_eq!(view["rating"], json!(["safe_lawful", "civil_happy"]), "{view}");
    let sl3 = view["stars"][3]["indicators"].as_array().unwrap().iter().find(|i| i["code"] == "SL3").cloned().unwrap();
    assert_eq!((sl3["evidence_count"].as_u64(), sl3["met"].as_bool()), (Some(1), Some(true)), "{sl3}");

    let (_, full) = app.get(&url, &r.secretary.token).await;
    let steps: Vec<(&str, Option<&str>, &str)> = full["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["action"].as_str().unwrap(), h["from_status"].as_str(), h["to_status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("apply", None, "submitted"),
            ("evidence", Some("submitted"), "submitted"),
            ("return", Some("submitted"), "returned"),
            ("submit", Some("returned"), "submitted"),
            ("pass", Some("submitted"), "township_passed"),
            ("pass", Some("township_passed"), "publicized"),
            ("award", Some("publicized"), "awarded"),
        ]
    );
    assert_eq!(full["history"][2]["actor_name"].as_str(), Some("乡镇审核员"));
    assert_eq!(full["history"][6]["actor_id"], Value::Null, "awarded by the background jobs");
    assert_eq!(full["evidence"].as_array().map(Vec::len), Some(1));

    // 摘星.
    let revoke = format!("/orgs/{}/star-ratings/2026/revoke", r.tree.branch_a);
    let (status, _) = app.post(&revoke, &r.township_admin.token, json!({"star": "civil_happy", "reason": "x"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the county revokes");
    let (status, rating) =
        app.post(&revoke, &r.county_admin.token, json!({"star": "civil_happy", "reason": "发生负面事件"})).await;
    assert_eq!((status, rating), (StatusCode::OK, json!(["safe_lawful"])));
    let (status, _) = app.post(&revoke, &r.county_admin.token, json!({"star": "civil_happy", "reason": "再摘"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "revoked once");
    let (_, full) = app.get(&url, &r.secretary.token).await;
    assert_eq!(full["history"].as_array().unwrap().last().unwrap()["action"], "revoke");
    let (_, audit) = app.get(&format!("/orgs/{}/audit", r.tree.branch_a), &r.secretary.token).await;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|x| x["action"].as_str().unwrap()).collect();
    for action in
        ["stars.application.apply", "stars.application.pass", "stars.application.award", "stars.application.revoke"]
    {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn wrong_turns_and_wrong_people_are_refused() {
    let app = spawn_app().await;
    let r = setup(&app).await;
    let a = apply(&app, &r, json!(["eco_livable"])).await;
    let (status, err) = review(&app, &r.county_admin, id(&a), json!({"decision": "pass"})).await;
    assert_eq!(status, StatusCode::OK, "an admin above the township may do the first check: {err}");
    let (status, err) = review(&app, &r.township_admin, id(&a), json!({"decision": "pass"})).await;
    assert_eq!((status, err["required_role"].as_str()), (StatusCode::FORBIDDEN, Some("county_admin")), "{err}");
    let (status, err) = app.post(&format!("/star-applications/{}/submit", id(&a)), &r.secretary.token, json!({})).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")), "{err}");
    assert_eq!(err["status"].as_str(), Some("township_passed"), "{err}");
    assert_eq!(err["allowed_actions"], json!([]), "the secretary can do nothing now: {err}");
    let (status, err) = app
        .post(&format!("/star-applications/{}/objections", id(&a)), &r.resident.token, json!({"text": "不同意"}))
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_transition")),
        "not publicized: {err}"
    );
    let (status, err) =
        review(&app, &r.county_admin, id(&a), json!({"decision": "reject", "comment": "指标未达标"})).await;
    assert_eq!((status, err["status"].as_str()), (StatusCode::OK, Some("rejected")), "{err}");
    let (status, err) = review(&app, &r.county_admin, id(&a), json!({"decision": "pass"})).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")), "rejected is final");
    let again = apply(&app, &r, json!(["eco_livable"])).await;
    assert_ne!(id(&again), id(&a), "a rejected application makes room for another");

    // A township admin of another township does not see the branch at all.
    let admin = app.super_admin().await;
    let (_, other) = app.create_org(&admin.token, Some(r.tree.county), "另一镇", "township").await;
    let stranger = app.user_with_role(&admin, "wf-stranger", other["id"].as_i64().unwrap(), "township_admin").await;
    let (status, _) = review(&app, &stranger, id(&again), json!({"decision": "pass"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get(&format!("/star-applications/{}", id(&again)), &stranger.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get(&format!("/star-applications/{}", id(&again)), &r.resident.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "members do not read applications");
}

#[tokio::test]
async fn a_secretary_who_also_reviews_cannot_pass_her_own_application() {
    let app = spawn_app().await;
    let r = setup(&app).await;
    app.grant(&r.county_admin.token, r.tree.township, r.secretary.user_id, "township_admin").await;
    let a = apply(&app, &r, json!(["strong_branch"])).await;
    let (status, err) = review(&app, &r.secretary, id(&a), json!({"decision": "pass"})).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("self_dealing")), "{err}");
    let (_, still) = app.get(&format!("/star-applications/{}", id(&a)), &r.township_admin.token).await;
    assert_eq!(still["status"], "submitted");
}

#[tokio::test]
async fn an_open_objection_holds_the_award_and_an_upheld_one_sends_it_back() {
    let app = spawn_app().await;
    let r = setup(&app).await;
    set_publicity(&app, &r, 1.0).await;
    let a = apply(&app, &r, json!(["civil_happy"])).await;
    review(&app, &r.township_admin, id(&a), json!({"decision": "pass"})).await;
    let (_, body) = review(&app, &r.county_admin, id(&a), json!({"decision": "pass"})).await;
    assert_eq!(body["status"], "publicized");
    let (status, objection) = app
        .post(&format!("/star-applications/{}/objections", id(&a)), &r.resident.token, json!({"text": "活动照片造假"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{objection}");

    // The branch never sees objections; the county does, with who raised them.
    let url = format!("/star-applications/{}", id(&a));
    let (_, mine) = app.get(&url, &r.secretary.token).await;
    assert!(mine.get("objections").is_none(), "{mine}");
    assert!(!mine.to_string().contains("活动照片造假"), "nothing of it on the branch's view");
    let (_, theirs) = app.get(&url, &r.county_admin.token).await;
    assert_eq!(theirs["objections"][0]["author_id"].as_i64(), Some(r.resident.user_id));

    // The window passes with the objection open: no award.
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(fivestar::stars::applications::award_due(&app.state, app.clock.now()).await.unwrap(), 0);
    assert_eq!(app.get(&url, &r.secretary.token).await.1["status"], "publicized");

    let resolve = format!("/objections/{}/resolve", id(&objection));
    let (status, _) = app.post(&resolve, &r.township_admin.token, json!({"upheld": true, "comment": "属实"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the county resolves");
    let (status, done) =
        app.post(&resolve, &r.county_admin.token, json!({"upheld": true, "comment": "经核实属实"})).await;
    assert_eq!((status, done["status"].as_str()), (StatusCode::OK, Some("upheld")), "{done}");
    assert_eq!(app.get(&url, &r.secretary.token).await.1["status"], "township_passed", "back to the county's review");
    let (status, _) = app.post(&resolve, &r.county_admin.token, json!({"upheld": false, "comment": "再处理"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "resolved once");

    // Publicized again, a dismissed objection does not hold the award.
    let (_, body) = review(&app, &r.county_admin, id(&a), json!({"decision": "pass"})).await;
    assert_eq!(body["status"], "publicized");
    let (_, second) = app
        .post(&format!("/star-applications/{}/objections", id(&a)), &r.resident.token, json!({"text": "再提异议"}))
        .await;
    let resolve = format!("/objections/{}/resolve", id(&second));
    app.post(&resolve, &r.county_admin.token, json!({"upheld": false, "comment": "不属实"})).await;
    // Two servers' award passes at once: one award, one rating. They are called for a
    // moment past the window while the shared clock stays inside it, so the servers' own
    // background passes (every second in tests) cannot award it first.
    let sibling = app.spawn_sibling().await;
    let now = app.clock.now() + chrono::Duration::days(2);
    let (x, y) = tokio::join!(
        fivestar::stars::applications::award_due(&app.state, now),
        fivestar::stars::applications::award_due(&sibling.state, now)
    );
    assert_eq!(x.unwrap() + y.unwrap(), 1, "awarded once");
    let (_, view) = app.get(&format!("/orgs/{}/stars?year=2026", r.tree.branch_a), &r.secretary.token).await;
    assert_eq!(view["rating"], json!(["civil_happy"]));
    let (_, full) = app.get(&url, &r.secretary.token).await;
    let awards = full["history"].as_array().unwrap().iter().filter(|h| h["action"] == "award").count();
    assert_eq!(awards, 1);
}
