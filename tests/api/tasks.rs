//! Tasks after publishing (CONTRACT.md, wave 2, "Tasks"): read one, correct it, add copies,
//! cancel it; a cancelled task's open cards leave the pool at once while drawn ones finish.
use entity::cards;
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::{parts, spawn_app, Session, TestApp, Tree};

struct Branch {
    admin: Session,
    tree: Tree,
    secretary: Session,
    member: Session,
}

async fn setup(app: &TestApp) -> Branch {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "t-sec", tree.branch_a, "secretary").await;
    let member = app.user_with_role(&admin, "t-member", tree.branch_a, "resident").await;
    Branch { admin, tree, secretary, member }
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

async fn patch(app: &TestApp, token: &str, task: i64, body: Value) -> (StatusCode, Value) {
    parts(app.call(Method::PATCH, &format!("/tasks/{task}"), Some(token), Some(body)).await).await
}

async fn cards_in(app: &TestApp, task: i64, status: &str) -> u64 {
    cards::Entity::find()
        .filter(cards::Column::TaskId.eq(task))
        .filter(cards::Column::Status.eq(status))
        .count(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_task_is_read_and_corrected_by_its_branch() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let task = app.publish_task(&b.secretary, b.tree.branch_a, 2, false).await;
    let t = id(&task);

    let (status, seen) = app.get(&format!("/tasks/{t}"), &b.member.token).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!((seen["state"].as_str(), seen["open_copies"].as_i64()), (Some("active"), Some(2)), "{seen}");
    let outsider = app.user_with_role(&b.admin, "t-out", b.tree.branch_b, "resident").await;
    let (status, _) = app.get(&format!("/tasks/{t}"), &outsider.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another branch's task is out of reach");

    let deadline = (app.clock.now() + chrono::Duration::days(3)).to_rfc3339();
    let (status, edited) =
        patch(&app, &b.secretary.token, t, json!({"title": "反诈宣传（第二期）", "expires_at": deadline})).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["title"], "反诈宣传（第二期）");
    assert_eq!(edited["description"], task["description"], "what is not given stays");
    assert!(edited["expires_at"].is_string() && edited["updated_at"].is_string(), "{edited}");
    let (_, card) = app.draw(&b.member.token, b.tree.branch_a).await;
    assert_eq!(card["task"]["title"], "反诈宣传（第二期）", "a draw shows the corrected task");
    let (status, cleared) = patch(&app, &b.secretary.token, t, json!({"expires_at": null})).await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert!(cleared["expires_at"].is_null(), "null removes the deadline: {cleared}");

    let (status, body) = patch(&app, &b.member.token, t, json!({"title": "改"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["required_role"], "secretary");
    let past = (app.clock.now() - chrono::Duration::hours(1)).to_rfc3339();
    let (status, body) = patch(&app, &b.secretary.token, t, json!({"expires_at": past, "title": " "})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["expires_at"].is_string() && body["fields"]["title"].is_string(), "{body}");
    let (status, body) = patch(&app, &b.secretary.token, t, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an empty edit: {body}");
    let (_, unchanged) = app.get(&format!("/tasks/{t}"), &b.member.token).await;
    assert_eq!(unchanged["title"], "反诈宣传（第二期）", "refusals changed nothing");
}

#[tokio::test]
async fn copies_go_into_the_pool() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let t = id(&app.publish_task(&b.secretary, b.tree.branch_a, 1, false).await);
    let (status, grown) = app.post(&format!("/tasks/{t}/copies"), &b.secretary.token, json!({"count": 4})).await;
    assert_eq!(status, StatusCode::OK, "{grown}");
    assert_eq!((grown["copies"].as_i64(), grown["open_copies"].as_i64()), (Some(5), Some(5)), "{grown}");
    assert_eq!(app.pool_size(b.tree.branch_a).await, 5);
    assert_eq!(cards_in(&app, t, "open").await, 5);

    for count in [0, 1001] {
        let (status, body) = app.post(&format!("/tasks/{t}/copies"), &b.secretary.token, json!({"count": count})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["fields"]["count"].is_string(), "{body}");
    }
    let (status, _) = app.post(&format!("/tasks/{t}/copies"), &b.member.token, json!({"count": 1})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.pool_size(b.tree.branch_a).await, 5, "refusals added nothing");

    // Five members draw the five cards: every copy is a real card.
    let mut members = Vec::new();
    for i in 0..5 {
        members.push(app.user_with_role(&b.admin, &format!("t-c{i}"), b.tree.branch_a, "resident").await);
    }
    for m in &members {
        let (status, card) = app.draw(&m.token, b.tree.branch_a).await;
        assert_eq!(status, StatusCode::CREATED, "{card}");
    }
    assert_eq!(app.pool_size(b.tree.branch_a).await, 0);
}

#[tokio::test]
async fn a_cancelled_task_leaves_the_pool_and_its_drawn_card_is_still_approved() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let t = id(&app.publish_task(&b.secretary, b.tree.branch_a, 4, false).await);
    let (_, drawn) = app.draw(&b.member.token, b.tree.branch_a).await;
    let other = app.user_with_role(&b.admin, "t-other", b.tree.branch_a, "resident").await;
    let (_, released) = app.draw(&other.token, b.tree.branch_a).await;

    let (status, body) = app.post(&format!("/tasks/{t}/cancel"), &b.secretary.token, json!({"reason": " "})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a reason is required: {body}");
    let (status, body) = app.post(&format!("/tasks/{t}/cancel"), &b.member.token, json!({"reason": "不想做"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, cancelled) =
        app.post(&format!("/tasks/{t}/cancel"), &b.secretary.token, json!({"reason": "活动取消"})).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(cancelled["cancel_reason"], "活动取消");
    assert_eq!(
        (
            cancelled["open_copies"].as_i64(),
            cancelled["claimed_copies"].as_i64(),
            cancelled["cancelled_copies"].as_i64()
        ),
        (Some(0), Some(2), Some(2)),
        "{cancelled}"
    );
    assert_eq!(app.pool_size(b.tree.branch_a).await, 0, "open cards left the pool at once");
    let newcomer = app.user_with_role(&b.admin, "t-new", b.tree.branch_a, "resident").await;
    let (status, body) = app.draw(&newcomer.token, b.tree.branch_a).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("pool_empty")));

    // No new copies, no edits, no second cancel.
    let (status, body) = app.post(&format!("/tasks/{t}/copies"), &b.secretary.token, json!({"count": 3})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("task_cancelled")), "{body}");
    let (status, body) = patch(&app, &b.secretary.token, t, json!({"title": "新标题"})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("task_cancelled")), "{body}");
    let (status, body) = app.post(&format!("/tasks/{t}/cancel"), &b.secretary.token, json!({"reason": "再撤"})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("task_cancelled")), "{body}");
    assert_eq!(cards_in(&app, t, "open").await, 0);
    assert_eq!(app.pool_size(b.tree.branch_a).await, 0);

    // A drawn card released after the cancel does not go back to the pool.
    let (status, body) = app.release_card(&other.token, id(&released)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.pool_size(b.tree.branch_a).await, 0);
    assert_eq!(cards_in(&app, t, "cancelled").await, 3);

    // The card drawn before the cancel is still submitted, approved and credited.
    let (status, body) = app.submit_card(&b.member.token, id(&drawn), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.review_card(&b.secretary.token, id(&drawn), true).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("approved")), "{body}");
    let (_, points) = app.get("/me/points", &b.member.token).await;
    assert_eq!(points["balance"], 5, "{points}");
    let (_, seen) = app.get(&format!("/tasks/{t}"), &b.member.token).await;
    assert_eq!((seen["done_copies"].as_i64(), seen["cancelled_copies"].as_i64()), (Some(1), Some(3)), "{seen}");
}

/// Draws racing a cancel: every card ends either drawn (one holder each) or cancelled, and
/// nothing of the task is left in the pool.
#[tokio::test]
async fn a_cancel_racing_draws_leaves_each_card_drawn_or_cancelled() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let t = id(&app.publish_task(&b.secretary, b.tree.branch_a, 30, false).await);
    let mut members = Vec::new();
    for i in 0..12 {
        members.push(app.user_with_role(&b.admin, &format!("t-r{i}"), b.tree.branch_a, "resident").await);
    }
    let draws = join_all(members.iter().map(|m| app.draw(&m.token, b.tree.branch_a)));
    let path = format!("/tasks/{t}/cancel");
    let cancel = app.post(&path, &b.secretary.token, json!({"reason": "临时取消"}));
    let (draws, (status, cancelled)) = tokio::join!(draws, cancel);
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    let won: Vec<i64> = draws.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, c)| id(c)).collect();
    for (status, body) in &draws {
        assert!(*status == StatusCode::CREATED || body["code"] == "pool_empty", "{status} {body}");
    }
    let claimed = cards_in(&app, t, "claimed").await;
    assert_eq!(claimed as usize, won.len(), "every winner holds a card");
    assert_eq!(claimed + cards_in(&app, t, "cancelled").await, 30, "the rest were cancelled");
    assert_eq!(cards_in(&app, t, "open").await, 0);
    assert_eq!(app.pool_size(b.tree.branch_a).await, 0);
}
