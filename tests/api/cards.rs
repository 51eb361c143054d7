//! Micro-task cards: publish, draw at random, submit, release, review; the pool on Redis
//! under races, two app servers, lease expiry and a flushed Redis.
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use entity::{card_claims, cards, points_ledger};
use futures_util::future::join_all;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::{parts, spawn_app, spawn_app_with, wait_for, OwnRedis, Session, TestApp, Tree};

struct Branch {
    admin: Session,
    tree: Tree,
    secretary: Session,
}

async fn setup(app: &TestApp) -> Branch {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "c-sec", tree.branch_a, "secretary").await;
    Branch { admin, tree, secretary }
}

async fn members(app: &TestApp, b: &Branch, prefix: &str, n: usize) -> Vec<Session> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(app.user_with_role(&b.admin, &format!("{prefix}-{i}"), b.tree.branch_a, "resident").await);
    }
    out
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

async fn pool_size(app: &TestApp, branch: i64) -> usize {
    app.pool_size(branch).await
}

async fn try_pool_size(app: &TestApp, branch: i64) -> redis::RedisResult<usize> {
    app.try_pool_size(branch).await
}

async fn open_in_sql(app: &TestApp) -> u64 {
    cards::Entity::find().filter(cards::Column::Status.eq("open")).count(&app.state.db).await.unwrap()
}

async fn task_counts(app: &TestApp, token: &str, branch: i64) -> Value {
    let (status, tasks) = app.get(&format!("/orgs/{branch}/tasks"), token).await;
    assert_eq!(status, StatusCode::OK, "{tasks}");
    tasks["items"][0].clone()
}

#[tokio::test]
async fn the_whole_happy_path_credits_the_holder_once() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let member = app.user_with_role(&b.admin, "c-happy", b.tree.branch_a, "party_member").await;
    app.rename(&member, "刘党员").await;
    app.rename(&b.secretary, "陈书记").await;
    let task = app.publish_task(&b.secretary, b.tree.branch_a, 3, true).await;
    assert_eq!(task["copies"], 3);
    assert_eq!(task["open_copies"], 3);
    assert_eq!(pool_size(&app, b.tree.branch_a).await, 3);

    let (status, card) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    assert_eq!(card["status"], "claimed");
    assert_eq!((card["holder_name"].as_str(), card["reviewer_name"].is_null()), (Some("刘党员"), true), "{card}");
    assert_eq!(card["task"]["id"], task["id"]);
    assert_eq!(card["task"]["points"], 5);
    assert!(card["claim_expires_at"].as_str().is_some());
    let card_id = id(&card);
    let counts = task_counts(&app, &member.token, b.tree.branch_a).await;
    assert_eq!((counts["open_copies"].as_i64(), counts["claimed_copies"].as_i64()), (Some(2), Some(1)), "{counts}");

    let (status, body) = app.submit_card(&member.token, card_id, &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "photo_required");
    let stranger = app.user_with_role(&b.admin, "c-stranger", b.tree.branch_a, "resident").await;
    let foreign_photo = app.photo(&stranger).await;
    let (status, body) = app.submit_card(&member.token, card_id, &[foreign_photo]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["media_ids"].is_string(), "{body}");
    let (status, body) = app.submit_card(&stranger.token, card_id, &[foreign_photo]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not the holder: {body}");

    let photo = app.photo(&member).await;
    let (status, submitted) = app.submit_card(&member.token, card_id, &[photo]).await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["status"], "submitted");
    assert_eq!(submitted["media_ids"], json!([photo]));
    let (status, again) = app.submit_card(&member.token, card_id, &[photo]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    let (status, queue) =
        app.get(&format!("/orgs/{}/cards?status=submitted", b.tree.branch_a), &b.secretary.token).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["items"].as_array().unwrap().len(), 1);
    assert_eq!(queue["items"][0]["id"], card_id);
    assert_eq!(queue["items"][0]["holder_name"], "刘党员", "the reviewer sees who did it by name");
    let (status, _) = app.get(&format!("/orgs/{}/cards", b.tree.branch_a), &member.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the queue is for secretaries");

    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 0, "nothing before review");
    let (status, body) = app.review_card(&member.token, card_id, true).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a member does not review: {body}");
    let (status, reviewed) = app.review_card(&b.secretary.token, card_id, true).await;
    assert_eq!(status, StatusCode::OK, "{reviewed}");
    assert_eq!(reviewed["status"], "approved");
    assert_eq!(
        (reviewed["holder_name"].as_str(), reviewed["reviewer_name"].as_str()),
        (Some("刘党员"), Some("陈书记"))
    );
    let (status, again) = app.review_card(&b.secretary.token, card_id, false).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(again["code"], "already_reviewed");

    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 5, "{points}");
    assert_eq!(points["volunteer_minutes_total"], 30);
    assert_eq!(points["by_star"]["safe_lawful"], 5);
    let (_, ledger) = app.get("/me/ledger", &member.token).await;
    assert_eq!(ledger["items"].as_array().unwrap().len(), 1);
    assert_eq!(ledger["items"][0]["kind"], "task");
    assert_eq!(ledger["items"][0]["ref"], format!("card:{card_id}"));
    let (_, board) = app.board(&member.token, b.tree.branch_a, "points", "week").await;
    assert_eq!(board["me"]["score"], 5, "{board}");

    let (_, mine) = app.get("/me/cards", &member.token).await;
    assert_eq!(mine["items"][0]["id"], card_id);
    assert_eq!(mine["items"][0]["reviewer_name"], "陈书记", "{mine}");
    assert_eq!(mine["items"][0]["status"], "approved");
    let counts = task_counts(&app, &member.token, b.tree.branch_a).await;
    assert_eq!((counts["open_copies"].as_i64(), counts["done_copies"].as_i64()), (Some(2), Some(1)), "{counts}");
    assert_eq!(pool_size(&app, b.tree.branch_a).await, 2);
}

#[tokio::test]
async fn publishing_checks_fields_and_rights() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let member = app.user_with_role(&b.admin, "c-pub-m", b.tree.branch_a, "resident").await;
    let sec_b = app.user_with_role(&b.admin, "c-pub-sb", b.tree.branch_b, "secretary").await;
    let good = json!({"title": "清理楼道", "star": "eco_livable", "points": 3, "copies": 2, "claim_ttl_minutes": 30,
                      "requires_photo": false, "volunteer_minutes": 20, "description": ""});
    let path = format!("/orgs/{}/tasks", b.tree.branch_a);
    for (field, value) in [
        ("copies", json!(0)),
        ("copies", json!(1001)),
        ("star", json!("gold")),
        ("points", json!(-1)),
        ("title", json!("")),
        ("claim_ttl_minutes", json!(0)),
        ("expires_at", json!("2001-01-01T00:00:00Z")),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let (status, err) = app.post(&path, &b.secretary.token, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {err}");
        assert!(err["fields"][field].is_string(), "{field} named: {err}");
    }
    let (status, _) = app.post(&path, &b.secretary.token, json!({"title": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "missing fields");
    let (status, _) = app.post(&path, &member.token, good.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a resident does not publish");
    let (status, _) = app.post(&path, &sec_b.token, good.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another branch's secretary: {status}");
    let (status, _) = app.post(&format!("/orgs/{}/tasks", b.tree.township), &b.admin.token, good.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "tasks belong to branches");
    assert_eq!(open_in_sql(&app).await, 0, "nothing was published");
    let (status, task) = app.post(&path, &b.secretary.token, good).await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
}

#[tokio::test]
async fn draw_errors_pool_empty_card_limit_and_non_members() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let member = app.user_with_role(&b.admin, "c-lim", b.tree.branch_a, "resident").await;
    let outsider = app.user_with_role(&b.admin, "c-out", b.tree.branch_b, "resident").await;
    let (status, body) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "pool_empty");

    app.publish_task(&b.secretary, b.tree.branch_a, 3, false).await;
    let (status, body) = app.draw(&outsider.token, b.tree.branch_a).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["required_role"], "resident", "{body}");
    assert!(body["message"].as_str().unwrap().contains("本支部"), "{body}");
    let (status, _) = app.draw(&member.token, 999_999).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "card_limit");
    assert_eq!(pool_size(&app, b.tree.branch_a).await, 2, "a refused draw takes nothing");

    let settings = format!("/orgs/{}/settings", b.tree.branch_a);
    let patch = |token: &str, body: Value| {
        let token = token.to_owned();
        let settings = settings.clone();
        let app = &app;
        async move { parts(app.call(reqwest::Method::PATCH, &settings, Some(&token), Some(body)).await).await }
    };
    let (status, _) = patch(&member.token, json!({"card_limit": 2})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "members do not change settings");
    let (status, err) = patch(&b.secretary.token, json!({"card_limit": 0})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["fields"]["card_limit"].is_string(), "{err}");
    let (status, org) = patch(&b.secretary.token, json!({"card_limit": 2})).await;
    assert_eq!((status, org["card_limit"].as_i64()), (StatusCode::OK, Some(2)), "{org}");
    let (status, body) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!(status, StatusCode::CREATED, "the raised limit allows a second card: {body}");
    let (status, body) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!(body["code"], "card_limit", "{status}");
}

#[tokio::test]
async fn released_rejected_and_expired_cards_are_drawable_again() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let member = app.user_with_role(&b.admin, "c-again", b.tree.branch_a, "resident").await;
    app.publish_task(&b.secretary, b.tree.branch_a, 1, false).await;

    // Released.
    let (_, card) = app.draw(&member.token, b.tree.branch_a).await;
    let card_id = id(&card);
    let (status, released) = app.release_card(&member.token, card_id).await;
    assert_eq!(status, StatusCode::OK, "{released}");
    assert_eq!(released["status"], "released");
    let (status, body) = app.release_card(&member.token, card_id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Rejected.
    let (status, card) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!((status, id(&card)), (StatusCode::CREATED, card_id));
    let (status, body) = app.review_card(&b.secretary.token, card_id, true).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("not_submitted")));
    app.submit_card(&member.token, card_id, &[]).await;
    let (status, rejected) = app.review_card(&b.secretary.token, card_id, false).await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    let (status, body) = app.review_card(&b.secretary.token, card_id, false).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("already_reviewed")));
    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 0, "a rejection credits nothing");

    // Expired: the claim lapses, submit says so, and the sweeper returns the card.
    let (status, card) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!((status, id(&card)), (StatusCode::CREATED, card_id));
    app.clock.advance(chrono::Duration::minutes(61));
    let (status, body) = app.submit_card(&member.token, card_id, &[]).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("claim_expired")), "{body}");
    wait_for("the sweeper", || async { pool_size(&app, b.tree.branch_a).await == 1 }).await;
    let (status, body) = app.submit_card(&member.token, card_id, &[]).await;
    assert_eq!(body["code"], "claim_expired", "{status}");
    let (_, mine) = app.get("/me/cards?status=expired", &member.token).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");
    let (status, card) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!((status, id(&card)), (StatusCode::CREATED, card_id), "{card}");
}

#[tokio::test]
async fn twenty_members_drawing_five_cards_at_once_give_five_winners() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let people = members(&app, &b, "c-race", 20).await;
    app.publish_task(&b.secretary, b.tree.branch_a, 5, false).await;
    let results = join_all(people.iter().map(|m| app.draw(&m.token, b.tree.branch_a))).await;
    let winners: Vec<i64> = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, c)| id(c)).collect();
    let empty = results.iter().filter(|(s, body)| *s == StatusCode::NOT_FOUND && body["code"] == "pool_empty").count();
    assert_eq!(winners.len(), 5, "{results:?}");
    assert_eq!(winners.iter().collect::<HashSet<_>>().len(), 5, "distinct cards");
    assert_eq!(empty, 15);
    let held = card_claims::Entity::find().filter(card_claims::Column::Status.eq("claimed")).count(&app.state.db);
    assert_eq!(held.await.unwrap(), 5);
}

#[tokio::test]
async fn ten_draws_at_once_by_one_member_give_one_card() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let member = app.user_with_role(&b.admin, "c-greedy", b.tree.branch_a, "resident").await;
    app.publish_task(&b.secretary, b.tree.branch_a, 10, false).await;
    let results = join_all((0..10).map(|_| app.draw(&member.token, b.tree.branch_a))).await;
    let won = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    let limited = results.iter().filter(|(s, body)| *s == StatusCode::CONFLICT && body["code"] == "card_limit").count();
    assert_eq!((won, limited), (1, 9), "{results:?}");
    assert_eq!(open_in_sql(&app).await, 9);
    assert_eq!(pool_size(&app, b.tree.branch_a).await, 9, "refused draws put their cards back");
}

#[tokio::test]
async fn two_app_servers_never_hand_out_one_card_twice() {
    let app = spawn_app().await;
    let sibling = app.spawn_sibling().await;
    let b = setup(&app).await;
    let people = members(&app, &b, "c-two", 16).await;
    app.publish_task(&b.secretary, b.tree.branch_a, 6, false).await;
    let results = join_all(people.iter().enumerate().map(|(i, m)| {
        let server = if i % 2 == 0 { &app } else { &sibling };
        server.draw(&m.token, b.tree.branch_a)
    }))
    .await;
    let winners: Vec<i64> = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, c)| id(c)).collect();
    assert_eq!(winners.len(), 6, "{results:?}");
    assert_eq!(winners.iter().collect::<HashSet<_>>().len(), 6);
    assert!(results.iter().all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::NOT_FOUND), "{results:?}");
    let rows = cards::Entity::find().all(&app.state.db).await.unwrap();
    let holders: HashSet<i64> = rows.iter().filter_map(|c| c.holder_id).collect();
    assert_eq!(holders.len(), 6, "six cards, six different holders");
}

#[tokio::test]
async fn two_concurrent_approvals_credit_once() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let member = app.user_with_role(&b.admin, "c-twice", b.tree.branch_a, "resident").await;
    app.publish_task(&b.secretary, b.tree.branch_a, 1, false).await;
    let (_, card) = app.draw(&member.token, b.tree.branch_a).await;
    let card_id = id(&card);
    app.submit_card(&member.token, card_id, &[]).await;
    let (x, y) = tokio::join!(
        app.review_card(&b.secretary.token, card_id, true),
        app.review_card(&b.secretary.token, card_id, true)
    );
    let mut statuses = [x.0, y.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{x:?} {y:?}");
    let entries = points_ledger::Entity::find()
        .filter(points_ledger::Column::UserId.eq(member.user_id))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(entries, 1);
    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 5);
}

#[tokio::test]
async fn a_secretary_does_not_approve_their_own_card() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    app.publish_task(&b.secretary, b.tree.branch_a, 1, false).await;
    let (status, card) = app.draw(&b.secretary.token, b.tree.branch_a).await;
    assert_eq!(status, StatusCode::CREATED, "a secretary is a member of their branch: {card}");
    app.submit_card(&b.secretary.token, id(&card), &[]).await;
    let (status, body) = app.review_card(&b.secretary.token, id(&card), true).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "self_dealing", "{body}");
    let (_, mine) = app.get("/me/cards", &b.secretary.token).await;
    assert_eq!(mine["items"][0]["status"], "submitted", "nothing moved: {mine}");
}

#[tokio::test]
async fn an_ended_task_leaves_the_pool() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let member = app.user_with_role(&b.admin, "c-end", b.tree.branch_a, "resident").await;
    let expires = (app.clock.now() + chrono::Duration::hours(2)).to_rfc3339();
    let (status, task) = app
        .post(
            &format!("/orgs/{}/tasks", b.tree.branch_a),
            &b.secretary.token,
            json!({"title": "限时任务", "star": "civil_happy", "points": 1, "copies": 3, "expires_at": expires}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    app.clock.advance(chrono::Duration::hours(3));
    wait_for("the task to close", || async { pool_size(&app, b.tree.branch_a).await == 0 }).await;
    let (status, body) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!(body["code"], "pool_empty", "{status}");
    assert_eq!(open_in_sql(&app).await, 0);
}

#[tokio::test]
async fn pools_and_leases_are_rebuilt_after_flushall() {
    let redis = OwnRedis::start().await;
    let url = redis.url();
    let app = spawn_app_with(|s| s.redis_url = url.clone()).await;
    let b = setup(&app).await;
    let member = app.user_with_role(&b.admin, "c-flush", b.tree.branch_a, "resident").await;
    app.publish_task(&b.secretary, b.tree.branch_a, 4, false).await;
    let (_, held) = app.draw(&member.token, b.tree.branch_a).await;
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
    assert_eq!(pool_size(&app, b.tree.branch_a).await, 0);

    wait_for("the rebuild", || async { pool_size(&app, b.tree.branch_a).await == 3 }).await;
    let leases: Vec<String> = redis::cmd("ZRANGE")
        .arg(app.state.redis.keys().leases(b.tree.branch_a))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(leases.len(), 1);
    assert!(leases[0].starts_with(&format!("{}:", id(&held))), "{leases:?}");
    let others = members(&app, &b, "c-flush-o", 4).await;
    let results = join_all(others.iter().map(|m| app.draw(&m.token, b.tree.branch_a))).await;
    let drawn: HashSet<i64> = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, c)| id(c)).collect();
    assert_eq!(drawn.len(), 3, "{results:?}");
    assert!(!drawn.contains(&id(&held)), "the held card is not handed out again");
}

/// While Redis has lost the pools and they are not rebuilt yet, an empty pool proves
/// nothing: a draw answers 503 `pool_rebuilding` with Retry-After, never `pool_empty`.
#[tokio::test]
async fn a_draw_during_a_pool_rebuild_is_503_pool_rebuilding() {
    let redis = OwnRedis::start().await;
    let url = redis.url();
    let app = spawn_app_with(|s| s.redis_url = url.clone()).await;
    let b = setup(&app).await;
    let member = app.user_with_role(&b.admin, "c-rebuilding", b.tree.branch_a, "resident").await;
    app.publish_task(&b.secretary, b.tree.branch_a, 2, false).await;
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    // Redis loses everything, and someone else holds the rebuild lock (one atomic step, so
    // the epoch watch cannot slip a rebuild in between).
    let lock = app.state.redis.keys().rebuild_lock();
    let _: () = redis::pipe()
        .atomic()
        .cmd("FLUSHALL")
        .ignore()
        .cmd("SET")
        .arg(&lock)
        .arg("another-server")
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();
    let resp = app
        .call(
            reqwest::Method::POST,
            &format!("/orgs/{}/cards/draw", b.tree.branch_a),
            Some(&member.token),
            Some(json!({})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().get("retry-after").is_some(), "{:?}", resp.headers());
    let (_, body) = parts(resp).await;
    assert_eq!(body["code"], "pool_rebuilding", "{body}");

    let _: () = redis::cmd("DEL").arg(&lock).query_async(&mut conn).await.unwrap();
    wait_for("the rebuild", || async { pool_size(&app, b.tree.branch_a).await == 2 }).await;
    let (status, card) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let other = app.user_with_role(&b.admin, "c-rebuilt", b.tree.branch_a, "resident").await;
    app.draw(&other.token, b.tree.branch_a).await;
    let third = app.user_with_role(&b.admin, "c-rebuilt-3", b.tree.branch_a, "resident").await;
    let (status, body) = app.draw(&third.token, b.tree.branch_a).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("pool_empty")), "rebuilt: really empty");
}

#[tokio::test]
async fn a_card_popped_by_a_draw_that_never_committed_returns() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let member = app.user_with_role(&b.admin, "c-orphan", b.tree.branch_a, "resident").await;
    app.publish_task(&b.secretary, b.tree.branch_a, 1, false).await;
    // A server pops the card and dies before its SQL step.
    let popped = fivestar::tasks::pool::draw(&app.state.redis, b.tree.branch_a, app.clock.now().timestamp_millis())
        .await
        .unwrap();
    assert!(popped.is_some());
    let (_, body) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!(body["code"], "pool_empty");
    app.clock.advance(chrono::Duration::minutes(61));
    wait_for("the orphan to return", || async { pool_size(&app, b.tree.branch_a).await == 1 }).await;
    let (status, body) = app.draw(&member.token, b.tree.branch_a).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn cards_published_rejected_or_released_while_redis_is_down_come_back_to_the_pool() {
    let redis = OwnRedis::start().await;
    let url = redis.url();
    let app = spawn_app_with(|s| s.redis_url = url.clone()).await;
    let b = setup(&app).await;
    let holder = app.user_with_role(&b.admin, "c-down", b.tree.branch_a, "resident").await;
    let releaser = app.user_with_role(&b.admin, "c-down-r", b.tree.branch_a, "resident").await;
    app.publish_task(&b.secretary, b.tree.branch_a, 2, false).await;
    let (_, submitted) = app.draw(&holder.token, b.tree.branch_a).await;
    let (status, body) = app.submit_card(&holder.token, id(&submitted), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, held) = app.draw(&releaser.token, b.tree.branch_a).await;
    assert_eq!(pool_size(&app, b.tree.branch_a).await, 0);

    // Redis goes away with its data saved (the epoch stays, so nothing rebuilds the pools).
    let (port, dir) = redis.save_and_stop();
    let (status, task) = app
        .post(
            &format!("/orgs/{}/tasks", b.tree.branch_a),
            &b.secretary.token,
            json!({"title": "清理楼道", "description": "清理一层楼道杂物", "star": "eco_livable",
                   "points": 3, "volunteer_minutes": 20, "copies": 3, "claim_ttl_minutes": 60,
                   "requires_photo": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "the task is published even though its cards are not pooled yet: {task}");
    assert_eq!(task["open_copies"], 3);
    let (status, body) = app.review_card(&b.secretary.token, id(&submitted), false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "rejected");
    let (status, body) = app.release_card(&releaser.token, id(&held)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.state.pending.flush().await;
    let owed = entity::redis_pending::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(owed.len(), 3, "publish, reject and release each owe the pool: {owed:?}");
    assert!(owed.iter().all(|r| r.kind == entity::redis_pending::PendingKind::Pool && r.target_id == b.tree.branch_a));
    assert_eq!(open_in_sql(&app).await, 5);

    // Redis comes back with the old pool (empty) and the released card's lease, which is
    // stale two minutes on (its claim would run 60): the sweeper restores all five cards.
    app.clock.advance(chrono::Duration::minutes(2));
    let _redis = OwnRedis::start_at(port, dir).await;
    wait_for("the pool repair", || async { try_pool_size(&app, b.tree.branch_a).await.ok() == Some(5) }).await;
    wait_for("the records to clear", || async {
        entity::redis_pending::Entity::find().count(&app.state.db).await.unwrap() == 0
    })
    .await;
    let drawers = members(&app, &b, "c-down-d", 6).await;
    let results = join_all(drawers.iter().map(|m| app.draw(&m.token, b.tree.branch_a))).await;
    let drawn: HashSet<i64> = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, c)| id(c)).collect();
    assert_eq!(drawn.len(), 5, "{results:?}");
    assert!(drawn.contains(&id(&submitted)), "the rejected card is drawable again");
    assert!(drawn.contains(&id(&held)), "the released card is drawable again");
    assert_eq!(results.iter().filter(|(_, body)| body["code"] == "pool_empty").count(), 1);
}

/// Each round, every member draws while the pools are rebuilt, then every member releases
/// while they are rebuilt again. Once the moves have answered, the pool and the leases
/// must be SQL's exactly, with no repair, after either half.
#[tokio::test]
async fn pools_rebuilt_while_members_draw_and_release_equal_sql() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let people = app.bulk_residents(b.tree.branch_a, 16).await;
    app.publish_task(&b.secretary, b.tree.branch_a, 24, false).await;
    let rebuild = || async {
        fivestar::tasks::sweeper::rebuild_pools(&app.state, None).await.expect("the rebuild");
    };
    let exact = |what: String| {
        let app = &app;
        async move {
            let check = fivestar::tasks::sweeper::verify_pools(&app.state).await.unwrap();
            assert_eq!(check.mismatched, Vec::<i64>::new(), "{what}: {check:?}");
        }
    };
    let mut drawn_in_all = 0;
    for round in 0..20 {
        let draws = join_all(people.iter().map(|p| app.draw(&p.token, b.tree.branch_a)));
        let (draws, ()) = tokio::join!(draws, rebuild());
        let held: Vec<(&Session, i64)> = people
            .iter()
            .zip(&draws)
            .filter(|(_, (status, _))| *status == StatusCode::CREATED)
            .map(|(p, (_, card))| (p, id(card)))
            .collect();
        assert_eq!(held.len(), people.len(), "round {round}: 24 cards for 16 members: {draws:?}");
        drawn_in_all += held.len();
        exact(format!("round {round}, after the draws")).await;

        let releases = join_all(held.iter().map(|(p, card)| app.release_card(&p.token, *card)));
        let (releases, ()) = tokio::join!(releases, rebuild());
        assert!(releases.iter().all(|(status, _)| *status == StatusCode::OK), "round {round}: {releases:?}");
        exact(format!("round {round}, after the releases")).await;
    }
    assert_eq!(drawn_in_all, 20 * people.len());

    // Then members draw and release without pause while the pools are rebuilt back to
    // back: cards move between any two reads of a rebuild.
    let stop = AtomicBool::new(false);
    let worker = |person: &Session| {
        let (app, b, stop, person) = (&app, &b, &stop, person.clone());
        async move {
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let (status, card) = app.draw(&person.token, b.tree.branch_a).await;
                answers.push(status);
                if status == StatusCode::CREATED {
                    answers.push(app.release_card(&person.token, id(&card)).await.0);
                }
            }
            answers
        }
    };
    let rebuilds = async {
        for _ in 0..60 {
            rebuild().await;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        stop.store(true, Ordering::Relaxed);
    };
    let (answers, ()) = tokio::join!(join_all(people.iter().map(worker)), rebuilds);
    let answers: Vec<StatusCode> = answers.into_iter().flatten().collect();
    assert!(answers.iter().all(|s| matches!(s.as_u16(), 200 | 201 | 404)), "{answers:?}");
    assert!(answers.iter().filter(|s| **s == StatusCode::CREATED).count() > 60, "draws ran beside the rebuilds");
    exact("after drawing and releasing without pause".into()).await;
    assert_eq!(pool_size(&app, b.tree.branch_a).await, 24);
}
