//! Leaderboards: order, ties, periods, the caller's rank, scope, branch ranking, and
//! Redis being derived (rebuild after FLUSHALL, repair after a failed update).
use std::collections::BTreeMap;

use entity::redis_pending::{self, PendingKind};
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, wait_for, OwnRedis, Session, TestApp, Tree};

struct Branches {
    tree: Tree,
    sec_a: Session,
    sec_b: Session,
}

async fn setup(app: &TestApp) -> (Session, Branches) {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let sec_a = app.user_with_role(&admin, "l-sec-a", tree.branch_a, "secretary").await;
    let sec_b = app.user_with_role(&admin, "l-sec-b", tree.branch_b, "secretary").await;
    (admin, Branches { tree, sec_a, sec_b })
}

fn ids(board: &serde_json::Value) -> Vec<i64> {
    board["entries"].as_array().unwrap().iter().map(|e| e["user_id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn boards_rank_by_score_and_ties_go_to_who_got_there_first() {
    let app = spawn_app().await;
    let (admin, b) = setup(&app).await;
    let a1 = app.user_with_role(&admin, "l-a1", b.tree.branch_a, "resident").await;
    let a2 = app.user_with_role(&admin, "l-a2", b.tree.branch_a, "resident").await;
    let a3 = app.user_with_role(&admin, "l-a3", b.tree.branch_a, "resident").await;
    app.credit(&b.sec_a, b.tree.branch_a, a1.user_id, 30).await;
    app.credit(&b.sec_a, b.tree.branch_a, a2.user_id, 20).await;
    app.clock.advance(chrono::Duration::minutes(2));
    app.credit(&b.sec_a, b.tree.branch_a, a3.user_id, 20).await;

    let (status, board) = app.board(&a3.token, b.tree.branch_a, "points", "week").await;
    assert_eq!(status, StatusCode::OK, "{board}");
    assert_eq!(ids(&board), vec![a1.user_id, a2.user_id, a3.user_id], "{board}");
    let entries = board["entries"].as_array().unwrap();
    assert_eq!(entries[0]["rank"], 1);
    assert_eq!(entries[0]["score"], 30);
    assert_eq!(entries[2]["score"], 20);
    assert_eq!(entries[0]["display_name"], "微信用户");
    assert_eq!(board["me"], serde_json::json!({"rank": 3, "score": 20}));
    assert!(board["period_key"].as_str().unwrap().starts_with('w'));

    app.credit(&b.sec_a, b.tree.branch_a, a3.user_id, 1).await;
    let (_, board) = app.board(&a3.token, b.tree.branch_a, "points", "week").await;
    assert_eq!(ids(&board), vec![a1.user_id, a3.user_id, a2.user_id]);

    let (_, limited) = app.get(&format!("/orgs/{}/leaderboard?period=all&limit=1", b.tree.branch_a), &a2.token).await;
    assert_eq!(ids(&limited), vec![a1.user_id]);
    assert_eq!(limited["me"]["rank"], 3, "me is given even below the page");
    let outsider_board = app.board(&b.sec_b.token, b.tree.branch_b, "points", "week").await.1;
    assert!(outsider_board["me"].is_null() && ids(&outsider_board).is_empty(), "staff, not a member: null");
}

#[tokio::test]
async fn a_member_with_nothing_in_the_period_is_told_so_and_staff_are_not() {
    let app = spawn_app().await;
    let (admin, b) = setup(&app).await;
    let earner = app.user_with_role(&admin, "l-earner", b.tree.branch_a, "resident").await;
    let idle = app.user_with_role(&admin, "l-idle", b.tree.branch_a, "party_member").await;
    app.credit(&b.sec_a, b.tree.branch_a, earner.user_id, 4).await;

    for org in [b.tree.branch_a, b.tree.township, b.tree.county] {
        let (status, board) = app.board(&idle.token, org, "points", "month").await;
        assert_eq!(status, StatusCode::OK, "{board}");
        assert_eq!(board["me"], serde_json::json!({"rank": null, "score": 0}), "org {org}: {board}");
        assert_eq!(ids(&board), vec![earner.user_id]);
    }
    let (_, board) = app.board(&earner.token, b.tree.township, "points", "month").await;
    assert_eq!(board["me"], serde_json::json!({"rank": 1, "score": 4}));
    // The secretary of the branch is staff there, not a member of it.
    let (_, board) = app.board(&b.sec_a.token, b.tree.branch_a, "points", "month").await;
    assert!(board["me"].is_null(), "{board}");
    // A member of branch B sees branch B's board with her zero, and nothing of branch A's.
    let other = app.user_with_role(&admin, "l-other", b.tree.branch_b, "resident").await;
    let (_, board) = app.board(&other.token, b.tree.branch_b, "points", "month").await;
    assert_eq!(board["me"], serde_json::json!({"rank": null, "score": 0}));
    let (status, _) = app.board(&other.token, b.tree.branch_a, "points", "month").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_period_only_holds_what_was_earned_in_it() {
    let app = spawn_app().await;
    let (admin, b) = setup(&app).await;
    let early = app.user_with_role(&admin, "l-early", b.tree.branch_a, "resident").await;
    let late = app.user_with_role(&admin, "l-late", b.tree.branch_a, "resident").await;
    app.credit(&b.sec_a, b.tree.branch_a, early.user_id, 10).await;
    app.clock.advance(chrono::Duration::days(8));
    app.credit(&b.sec_a, b.tree.branch_a, late.user_id, 5).await;

    let (_, week) = app.board(&late.token, b.tree.branch_a, "points", "week").await;
    assert_eq!(ids(&week), vec![late.user_id], "last week's credit is not on this week's board");
    let (_, all) = app.board(&late.token, b.tree.branch_a, "points", "all").await;
    assert_eq!(ids(&all), vec![early.user_id, late.user_id]);
    let (_, minutes) = app.board(&late.token, b.tree.branch_a, "volunteer_minutes", "all").await;
    assert!(ids(&minutes).is_empty(), "adjustments carry no minutes");

    let (status, body) = app.board(&late.token, b.tree.branch_a, "points", "decade").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["period"].is_string());
}

#[tokio::test]
async fn volunteer_minutes_have_their_own_board_up_the_tree() {
    let app = spawn_app().await;
    let (admin, b) = setup(&app).await;
    let member = app.user_with_role(&admin, "l-vol", b.tree.branch_b, "party_member").await;
    let (_, log) = app.log_service(&member.token, b.tree.branch_b, 90, "civil_happy").await;
    app.review_log(&b.sec_b.token, log["id"].as_i64().unwrap(), true).await;
    for org in [b.tree.branch_b, b.tree.township, b.tree.county] {
        let (status, board) = app.board(&member.token, org, "volunteer_minutes", "month").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(board["entries"][0]["score"], 90, "org {org}: {board}");
        let (_, points) = app.board(&member.token, org, "points", "year").await;
        assert_eq!(points["entries"][0]["score"], 15);
    }
}

#[tokio::test]
async fn boards_are_visible_only_to_their_subtree_and_above() {
    let app = spawn_app().await;
    let (admin, b) = setup(&app).await;
    let resident = app.user_with_role(&admin, "l-res", b.tree.branch_a, "resident").await;
    let other = app.user_with_role(&admin, "l-other", b.tree.branch_b, "resident").await;
    app.credit(&b.sec_b, b.tree.branch_b, other.user_id, 9).await;
    let outsider = app.wechat_user("l-outsider").await;

    for org in [b.tree.branch_a, b.tree.township, b.tree.county] {
        let (status, _) = app.board(&resident.token, org, "points", "week").await;
        assert_eq!(status, StatusCode::OK, "org {org}");
    }
    let (_, county) = app.board(&resident.token, b.tree.county, "points", "week").await;
    assert_eq!(ids(&county), vec![other.user_id], "the county board spans every branch");
    let (status, _) = app.board(&resident.token, b.tree.branch_b, "points", "week").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a sibling branch's board");
    let (status, _) = app.board(&outsider.token, b.tree.county, "points", "week").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn branches_rank_by_points_per_member() {
    let app = spawn_app().await;
    let (admin, b) = setup(&app).await;
    let a1 = app.user_with_role(&admin, "l-r-a1", b.tree.branch_a, "resident").await;
    let a2 = app.user_with_role(&admin, "l-r-a2", b.tree.branch_a, "resident").await;
    let b1 = app.user_with_role(&admin, "l-r-b1", b.tree.branch_b, "resident").await;
    app.credit(&b.sec_a, b.tree.branch_a, a1.user_id, 30).await;
    app.credit(&b.sec_a, b.tree.branch_a, a2.user_id, 30).await;
    app.credit(&b.sec_b, b.tree.branch_b, b1.user_id, 40).await;
    let township = app.user_with_role(&admin, "l-town", b.tree.township, "township_admin").await;

    let (status, ranking) =
        app.get(&format!("/orgs/{}/branch-ranking?metric=points&period=month", b.tree.township), &township.token).await;
    assert_eq!(status, StatusCode::OK, "{ranking}");
    let rows = ranking["items"].as_array().unwrap();
    assert_eq!(ranking["next_cursor"], Value::Null);
    assert_eq!(rows[0]["branch_id"], b.tree.branch_b);
    assert_eq!(rows[0]["per_member"], 40.0);
    assert_eq!(rows[1]["branch_id"], b.tree.branch_a);
    assert_eq!(rows[1]["members"], 2);
    assert_eq!(rows[1]["total"], 60);
    assert_eq!(rows[1]["per_member"], 30.0);
    assert_eq!(ranking["total"], 100);

    // The list convention: one branch a page, the totals of all on every page.
    let url = format!("/orgs/{}/branch-ranking?metric=points&period=month&limit=1", b.tree.township);
    let (status, first) = app.get(&url, &township.token).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    assert_eq!(first["items"][0]["branch_id"], b.tree.branch_b);
    assert_eq!(first["total"], 100);
    let cursor = first["next_cursor"].as_str().expect("a second page").to_owned();
    let (_, second) = app.get(&format!("{url}&cursor={cursor}"), &township.token).await;
    assert_eq!(second["items"][0]["branch_id"], b.tree.branch_a);
    assert_eq!(second["items"][0]["rank"], 2);
    assert_eq!(second["next_cursor"], Value::Null);
    let (status, bad) = app.get(&format!("{url}&cursor=%21%21"), &township.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (status, bad) = app.get(&url.replace("limit=1", "limit=101"), &township.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");

    let (status, _) = app.get(&format!("/orgs/{}/branch-ranking", b.tree.township), &a1.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get(&format!("/orgs/{}/branch-ranking", b.tree.branch_a), &admin.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Every board and branch-total key under the app's prefix with its members and scores
/// (not the boards' version counters).
async fn snapshot(url: &str, prefix: &str) -> BTreeMap<String, Vec<(String, f64)>> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:{{o*")).query_async(&mut conn).await.unwrap();
    let mut out = BTreeMap::new();
    for key in keys.into_iter().filter(|k| !k.ends_with(":lbv")) {
        let members: Vec<(String, f64)> =
            redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).arg("WITHSCORES").query_async(&mut conn).await.unwrap();
        out.insert(key, members);
    }
    out
}

#[tokio::test]
async fn a_rebuild_after_flushall_gives_identical_boards() {
    let redis = OwnRedis::start().await;
    let url = redis.url();
    let app = spawn_app_with(|s| s.redis_url = url.clone()).await;
    let (admin, b) = setup(&app).await;
    let a1 = app.user_with_role(&admin, "l-f-a1", b.tree.branch_a, "resident").await;
    let b1 = app.user_with_role(&admin, "l-f-b1", b.tree.branch_b, "resident").await;
    app.credit(&b.sec_a, b.tree.branch_a, a1.user_id, 12).await;
    app.clock.advance(chrono::Duration::days(9));
    app.credit(&b.sec_b, b.tree.branch_b, b1.user_id, 7).await;
    app.credit(&b.sec_b, b.tree.branch_b, b1.user_id, -2).await;
    let (_, log) = app.log_service(&a1.token, b.tree.branch_a, 45, "safe_lawful").await;
    app.review_log(&b.sec_a.token, log["id"].as_i64().unwrap(), true).await;

    let prefix = app.state.redis.keys().prefix().to_owned();
    let before = snapshot(&url, &prefix).await;
    assert!(before.len() > 20, "boards for 3 orgs × 2 metrics × 4 periods plus totals: {}", before.len());

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
    assert!(snapshot(&url, &prefix).await.is_empty());

    // The reconciler notices the missing epoch marker and rebuilds from the ledger.
    wait_for("the rebuild", || async { snapshot(&url, &prefix).await.len() == before.len() }).await;
    assert_eq!(snapshot(&url, &prefix).await, before);
    let (_, board) = app.board(&a1.token, b.tree.county, "points", "all").await;
    assert_eq!(ids(&board), vec![a1.user_id, b1.user_id]);
}

#[tokio::test]
async fn a_rebuild_replaces_the_board_pages_servers_hold() {
    let redis = OwnRedis::start().await;
    let url = redis.url();
    let app = spawn_app_with(|s| s.redis_url = url.clone()).await;
    let (admin, b) = setup(&app).await;
    let a1 = app.user_with_role(&admin, "l-p-a1", b.tree.branch_a, "resident").await;
    let b1 = app.user_with_role(&admin, "l-p-b1", b.tree.branch_b, "resident").await;
    app.credit(&b.sec_a, b.tree.branch_a, a1.user_id, 12).await;
    app.credit(&b.sec_b, b.tree.branch_b, b1.user_id, 5).await;

    // Redis loses its boards but keeps (gets back) the epoch marker, so nothing rebuilds
    // yet; a credit then leaves the county board holding that credit alone, and a read
    // makes the server keep that page.
    let keys = app.state.redis.keys().clone();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let epoch: bool = redis::cmd("EXISTS").arg(keys.epoch()).query_async(&mut conn).await.unwrap();
    assert!(epoch, "the start-up rebuild (of a deployment without orgs then) set the marker");
    let _: () = redis::pipe()
        .atomic()
        .cmd("FLUSHALL")
        .cmd("SET")
        .arg(keys.epoch())
        .arg("kept")
        .query_async(&mut conn)
        .await
        .unwrap();
    app.credit(&b.sec_b, b.tree.branch_b, b1.user_id, 1).await;
    let (_, board) = app.board(&a1.token, b.tree.county, "points", "all").await;
    assert_eq!(ids(&board), vec![b1.user_id], "{board}");

    // The marker goes; the rebuild puts the whole ledger back, and the kept page gives way
    // (two minutes on, so the rebuild's catch-up repairs nobody: the rebuild alone must).
    app.clock.advance(chrono::Duration::minutes(2));
    let _: () = redis::cmd("DEL").arg(keys.epoch()).query_async(&mut conn).await.unwrap();
    wait_for("the rebuild", || async {
        let (_, board) = app.board(&a1.token, b.tree.county, "points", "all").await;
        ids(&board) == vec![a1.user_id, b1.user_id]
    })
    .await;
    let (_, board) = app.board(&b1.token, b.tree.county, "points", "all").await;
    assert_eq!(board["entries"][1]["score"], 6, "{board}");
    assert_eq!(board["me"], serde_json::json!({"rank": 2, "score": 6}));
}

#[tokio::test]
async fn a_credit_while_redis_is_down_succeeds_and_the_board_is_repaired() {
    let redis = OwnRedis::start().await;
    let url = redis.url();
    let app = spawn_app_with(|s| s.redis_url = url.clone()).await;
    let (admin, b) = setup(&app).await;
    let member = app.user_with_role(&admin, "l-down", b.tree.branch_a, "resident").await;
    app.credit(&b.sec_a, b.tree.branch_a, member.user_id, 10).await;
    // Read now, so this server holds the page at 10: the repair must replace it.
    let (_, county) = app.board(&member.token, b.tree.county, "points", "all").await;
    assert_eq!(county["entries"][0]["score"], 10);

    let (port, dir) = redis.save_and_stop();
    let (status, body) = app.adjust(&b.sec_a.token, b.tree.branch_a, member.user_id, 5, None).await;
    assert_eq!(status, StatusCode::CREATED, "the credit does not depend on Redis: {body}");
    let (_, points) = app.get("/me/points", &member.token).await;
    assert_eq!(points["balance"], 15, "the ledger is right");
    let (status, body) = app.board(&member.token, b.tree.branch_a, "points", "week").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "redis_unavailable");
    // The bump failed; the credit's record of it stays for the reconciler.
    app.state.pending.flush().await;
    let owed = redis_pending::Entity::find().all(&app.state.db).await.unwrap();
    let boards: Vec<i64> = owed.iter().filter(|r| r.kind == PendingKind::Board).map(|r| r.target_id).collect();
    assert_eq!(boards, vec![member.user_id]);

    // Redis comes back with its old data (epoch present, board stale at 10).
    let _redis = OwnRedis::start_at(port, dir).await;
    wait_for("the repair", || async {
        app.board(&member.token, b.tree.branch_a, "points", "week").await.1["entries"][0]["score"] == 15
    })
    .await;
    let (_, county) = app.board(&member.token, b.tree.county, "points", "all").await;
    assert_eq!(county["entries"][0]["score"], 15);
    wait_for("the record to clear", || async {
        redis_pending::Entity::find().count(&app.state.db).await.unwrap() == 0
    })
    .await;
}

#[tokio::test]
async fn a_board_page_a_server_holds_gives_way_to_credits_made_through_another() {
    let app = spawn_app().await;
    let sibling = app.spawn_sibling().await;
    let (admin, b) = setup(&app).await;
    let a1 = app.user_with_role(&admin, "l-s-a1", b.tree.branch_a, "resident").await;
    let a2 = app.user_with_role(&admin, "l-s-a2", b.tree.branch_a, "resident").await;
    app.credit(&b.sec_a, b.tree.branch_a, a1.user_id, 5).await;
    app.credit(&b.sec_a, b.tree.branch_a, a2.user_id, 3).await;
    for server in [&app, &sibling] {
        for _ in 0..2 {
            let (_, board) = server.board(&a2.token, b.tree.county, "points", "week").await;
            assert_eq!(ids(&board), vec![a1.user_id, a2.user_id], "{board}");
        }
    }

    // Through the sibling: the first server's page of the county board is out of date.
    let (status, body) = sibling.adjust(&b.sec_a.token, b.tree.branch_a, a2.user_id, 4, None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, board) = app.board(&a2.token, b.tree.county, "points", "week").await;
    assert_eq!(ids(&board), vec![a2.user_id, a1.user_id], "{board}");
    assert_eq!(board["entries"][0]["score"], 7);
    assert_eq!(board["me"], serde_json::json!({"rank": 1, "score": 7}));
    // A page of another size is its own page; the caller's rank is never kept.
    let (_, top1) = app.get(&format!("/orgs/{}/leaderboard?period=week&limit=1", b.tree.county), &a1.token).await;
    assert_eq!(ids(&top1), vec![a2.user_id]);
    assert_eq!(top1["me"], serde_json::json!({"rank": 2, "score": 5}));

    // A version key holding garbage (written by hand) neither breaks reads nor credits.
    let mut conn = app.state.redis.conn().await.unwrap();
    let version = app.state.redis.keys().board_version(b.tree.county);
    let _: () = redis::cmd("SET").arg(&version).arg("garbage").query_async(&mut conn).await.unwrap();
    let (status, board) = app.board(&a1.token, b.tree.county, "points", "week").await;
    assert_eq!((status, ids(&board)), (StatusCode::OK, vec![a2.user_id, a1.user_id]), "{board}");
    app.credit(&b.sec_a, b.tree.branch_a, a1.user_id, 3).await;
    let (_, board) = sibling.board(&a1.token, b.tree.county, "points", "week").await;
    assert_eq!(ids(&board), vec![a1.user_id, a2.user_id], "{board}");
    let restarted: i64 = redis::cmd("GET").arg(&version).query_async(&mut conn).await.unwrap();
    assert!(restarted > 1_000_000_000_000_000, "restarted from Redis's clock: {restarted}");
}

/// `rebuild-redis`'s bar counts each step from zero to its length: the last step, the
/// leaderboards, ends at as many keys as it wrote.
#[tokio::test]
async fn the_rebuild_progress_counts_what_it_writes() {
    let app = spawn_app().await;
    let (admin, b) = setup(&app).await;
    let a1 = app.user_with_role(&admin, "l-p-a1", b.tree.branch_a, "resident").await;
    app.credit(&b.sec_a, b.tree.branch_a, a1.user_id, 5).await;
    let bar = indicatif::ProgressBar::hidden();
    let report = fivestar::maintenance::rebuild(&app.state, Some(&bar)).await.expect("the rebuild");
    let boards = report.steps.iter().find(|(step, _)| step.starts_with("leaderboard")).unwrap().1;
    assert!(boards > 0, "{:?}", report.steps);
    assert_eq!((bar.position(), bar.length()), (boards, Some(boards)), "{:?}", report.steps);
}
