//! The ledger: volunteer logs, adjustments, balances, idempotency and races.
use entity::{audit_log, points_ledger, redis_pending};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::helpers::{spawn_app, Session, TestApp, Tree};

async fn branch_with(app: &TestApp) -> (Tree, Session, Session) {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "p-sec", tree.branch_a, "secretary").await;
    let member = app.user_with_role(&admin, "p-member", tree.branch_a, "party_member").await;
    (tree, secretary, member)
}

#[tokio::test]
async fn an_approved_volunteer_log_credits_minutes_and_points_once() {
    let app = spawn_app().await;
    let (tree, secretary, member) = branch_with(&app).await;
    let (status, log) = app.log_service(&member.token, tree.branch_a, 120, "civil_happy").await;
    assert_eq!(status, StatusCode::CREATED, "{log}");
    assert_eq!(log["status"], "pending");
    assert_eq!(log["minutes"], 120);
    let log_id = log["id"].as_i64().unwrap();

    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 0, "nothing before review");

    let (status, reviewed) = app.review_log(&secretary.token, log_id, true).await;
    assert_eq!(status, StatusCode::OK, "{reviewed}");
    assert_eq!(reviewed["status"], "approved");
    let (status, again) = app.review_log(&secretary.token, log_id, false).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(again["code"], "already_reviewed");

    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 20, "2 h at the default 10 points per hour: {points}");
    assert_eq!(points["earned_total"], 20);
    assert_eq!(points["volunteer_minutes_total"], 120);
    assert_eq!(points["by_star"]["civil_happy"], 20);
    assert_eq!(points["by_star"]["strong_branch"], 0);

    let (_, ledger) = app.get("/me/ledger", &member.token).await;
    let items = ledger["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "volunteer");
    assert_eq!(items[0]["ref"], format!("volunteer_log:{log_id}"));
    assert_eq!(items[0]["delta_minutes"], 120);
    assert_eq!(items[0]["star"], "civil_happy");
}

#[tokio::test]
async fn two_concurrent_approvals_credit_once() {
    let app = spawn_app().await;
    let (tree, secretary, member) = branch_with(&app).await;
    let (_, log) = app.log_service(&member.token, tree.branch_a, 60, "eco_livable").await;
    let id = log["id"].as_i64().unwrap();
    let (a, b) = tokio::join!(app.review_log(&secretary.token, id, true), app.review_log(&secretary.token, id, true));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let entries = points_ledger::Entity::find().count(&app.state.db).await.unwrap();
    assert_eq!(entries, 1);
    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 10);
}

#[tokio::test]
async fn a_rejected_log_credits_nothing() {
    let app = spawn_app().await;
    let (tree, secretary, member) = branch_with(&app).await;
    let (_, log) = app.log_service(&member.token, tree.branch_a, 60, "eco_livable").await;
    let (status, body) = app.review_log(&secretary.token, log["id"].as_i64().unwrap(), false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "rejected");
    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 0);
    assert_eq!(points["volunteer_minutes_total"], 0);
}

#[tokio::test]
async fn volunteer_logs_are_validated() {
    let app = spawn_app().await;
    let (tree, _, member) = branch_with(&app).await;
    let now = app.clock.now();
    let h = chrono::Duration::hours;
    let cases = [
        (
            "ended_at",
            json!({"description": "x", "star": "civil_happy", "started_at": now - h(30), "ended_at": now - h(1)}),
        ),
        (
            "ended_at",
            json!({"description": "x", "star": "civil_happy", "started_at": now - h(1), "ended_at": now - h(2)}),
        ),
        ("ended_at", json!({"description": "x", "star": "civil_happy", "started_at": now, "ended_at": now + h(2)})),
        ("star", json!({"description": "x", "star": "gold", "started_at": now - h(2), "ended_at": now - h(1)})),
        (
            "description",
            json!({"description": " ", "star": "civil_happy", "started_at": now - h(2), "ended_at": now - h(1)}),
        ),
        (
            "media_ids",
            json!({"description": "x", "star": "civil_happy", "started_at": now - h(2), "ended_at": now - h(1), "media_ids": [12345]}),
        ),
    ];
    for (field, body) in cases {
        let (status, resp) = app.post(&format!("/orgs/{}/volunteer-logs", tree.branch_a), &member.token, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {resp}");
        assert!(resp["fields"][field].is_string(), "{field}: {resp}");
    }
    let (status, _) =
        app.post(&format!("/orgs/{}/volunteer-logs", tree.branch_a), &member.token, json!({"star": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "missing fields");
    let (_, mine) = app.get("/me/volunteer-logs", &member.token).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0, "refused logs leave nothing behind");
}

#[tokio::test]
async fn nobody_reviews_their_own_log_and_other_branches_cannot_see_it() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let sec_a = app.user_with_role(&admin, "p-sec-a", tree.branch_a, "secretary").await;
    let sec_b = app.user_with_role(&admin, "p-sec-b", tree.branch_b, "secretary").await;
    let member = app.user_with_role(&admin, "p-m", tree.branch_a, "resident").await;

    let (_, own) = app.log_service(&sec_a.token, tree.branch_a, 30, "strong_branch").await;
    let (status, body) = app.review_log(&sec_a.token, own["id"].as_i64().unwrap(), true).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "self-review");
    assert_eq!(body["code"], "self_dealing", "{body}");

    let (_, log) = app.log_service(&member.token, tree.branch_a, 30, "strong_branch").await;
    let id = log["id"].as_i64().unwrap();
    let (status, _) = app.review_log(&sec_b.token, id, true).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{status}");
    let (status, body) = app.review_log(&member.token, id, true).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a resident reviews nothing");
    assert_eq!(body["required_role"], "secretary", "the 403 names the role: {body}");
    assert!(body["message"].as_str().unwrap().contains("支部书记"), "{body}");
    let (status, _) = app.get(&format!("/orgs/{}/volunteer-logs?status=pending", tree.branch_a), &sec_b.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "out of reach: 404");

    let (status, queue) =
        app.get(&format!("/orgs/{}/volunteer-logs?status=pending", tree.branch_a), &sec_a.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queue["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn adjustments_need_a_reason_are_audited_and_never_overdraw() {
    let app = spawn_app().await;
    let (tree, secretary, member) = branch_with(&app).await;
    app.credit(&secretary, tree.branch_a, member.user_id, 50).await;
    let (status, body) = app.adjust(&secretary.token, tree.branch_a, member.user_id, -80, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "insufficient_points");
    let (status, entry) = app.adjust(&secretary.token, tree.branch_a, member.user_id, -30, None).await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    assert_eq!(entry["kind"], "adjust");
    assert_eq!(entry["note"], "补录积分");
    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 20);

    let path = app.url(&format!("/api/v1/orgs/{}/points/adjust", tree.branch_a));
    let resp = app
        .client
        .post(&path)
        .bearer_auth(&secretary.token)
        .header("Idempotency-Key", "no-reason")
        .json(&json!({"user_id": member.user_id, "delta": 5, "reason": "  "}))
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::parts(resp).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["reason"].is_string(), "{body}");
    // The key is required: without one, 400 and nothing credited.
    let (status, body) = app
        .post(
            &format!("/orgs/{}/points/adjust", tree.branch_a),
            &secretary.token,
            json!({"user_id": member.user_id, "delta": 5, "reason": "补录"}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("idempotency_key_required")));
    // Nobody credits themselves, not even a secretary who is a member.
    let (status, body) = app.adjust(&secretary.token, tree.branch_a, secretary.user_id, 5, None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("self_dealing")), "{body}");
    let (status, _) = app.adjust(&member.token, tree.branch_a, member.user_id, 5, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "members do not adjust");
    let outsider = app.wechat_user("p-out").await;
    let (status, body) = app.adjust(&secretary.token, tree.branch_a, outsider.user_id, 5, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let audits = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("points.adjust"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(audits.len(), 2, "one row per adjustment that happened");
    assert!(audits.iter().all(|a| a.reason.as_deref() == Some("补录积分") && a.actor_id == Some(secretary.user_id)));
}

#[tokio::test]
async fn the_same_idempotency_key_credits_once_even_concurrently() {
    let app = spawn_app().await;
    let (tree, secretary, member) = branch_with(&app).await;
    let ten: Vec<_> =
        (0..10).map(|_| app.adjust(&secretary.token, tree.branch_a, member.user_id, 7, Some("retry-1"))).collect();
    let results = futures_util::future::join_all(ten).await;
    for (status, body) in &results {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
        assert_eq!(body["id"], results[0].1["id"], "every answer is the first one");
    }
    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 7);
    let entries = points_ledger::Entity::find()
        .filter(points_ledger::Column::UserId.eq(member.user_id))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(entries, 1, "one entry for ten requests");

    // A retry says it is one; the same key with another body is refused and changes nothing.
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/orgs/{}/points/adjust", tree.branch_a)))
        .bearer_auth(&secretary.token)
        .header("Idempotency-Key", "retry-1")
        .json(&json!({"user_id": member.user_id, "delta": 7, "reason": "补录积分"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["idempotent-replayed"], "true");
    let (status, body) = app.adjust(&secretary.token, tree.branch_a, member.user_id, 8, Some("retry-1")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("idempotency_conflict")));
    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 7);
}

#[tokio::test]
async fn concurrent_deductions_pass_only_while_the_balance_lasts() {
    let app = spawn_app().await;
    let (tree, secretary, member) = branch_with(&app).await;
    app.credit(&secretary, tree.branch_a, member.user_id, 50).await;
    let tasks: Vec<_> =
        (0..10).map(|_| app.adjust(&secretary.token, tree.branch_a, member.user_id, -10, None)).collect();
    let results = futures_util::future::join_all(tasks).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    let refused =
        results.iter().filter(|(s, b)| *s == StatusCode::CONFLICT && b["code"] == "insufficient_points").count();
    assert_eq!((ok, refused), (5, 5), "{results:?}");
    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 0);
    let sum: i64 = points_ledger::Entity::find()
        .filter(points_ledger::Column::UserId.eq(member.user_id))
        .all(&app.state.db)
        .await
        .unwrap()
        .iter()
        .map(|e| e.delta_points)
        .sum();
    assert_eq!(sum, 0, "the balance is the sum of the ledger");
    app.state.pending.flush().await;
    assert_eq!(
        redis_pending::Entity::find().count(&app.state.db).await.unwrap(),
        0,
        "every bump landed and was cleared"
    );
}
