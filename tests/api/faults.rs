//! The quick half of the fault suite (the long half is `make faults`): a thousand draws
//! at one card, a slow Redis, and Redis restarting empty in the middle of a write load.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use entity::{card_claims, cards, points_ledger};
use futures_util::future::join_all;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{redis_url, spawn_app, spawn_app_with, wait_for, OwnRedis, Session, SlowProxy, TestApp, Tree};

struct Branch {
    tree: Tree,
    secretary: Session,
}

async fn setup(app: &TestApp) -> Branch {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "f-sec", tree.branch_a, "secretary").await;
    Branch { tree, secretary }
}

#[tokio::test]
async fn a_thousand_concurrent_draws_of_a_one_card_pool_have_one_winner() {
    let app = spawn_app().await;
    let b = setup(&app).await;
    let people = app.bulk_residents(b.tree.branch_a, 1000).await;
    app.publish_task(&b.secretary, b.tree.branch_a, 1, false).await;
    let results = join_all(people.iter().map(|p| app.draw(&p.token, b.tree.branch_a))).await;
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, _) in &results {
        *by_status.entry(status.as_u16()).or_default() += 1;
    }
    let empty = results.iter().filter(|(s, body)| *s == StatusCode::NOT_FOUND && body["code"] == "pool_empty").count();
    assert_eq!(by_status.get(&201), Some(&1), "{by_status:?}");
    assert_eq!(empty, 999, "{by_status:?}");
    let claims = card_claims::Entity::find().count(&app.state.db).await.unwrap();
    assert_eq!(claims, 1, "one claim row in SQL");
}

/// `host:port` of the shared test Redis.
fn redis_addr() -> String {
    redis_url().trim_start_matches("redis://").trim_end_matches('/').to_owned()
}

#[tokio::test]
async fn a_slow_redis_fails_requests_within_the_timeout_instead_of_piling_them_up() {
    let proxy = SlowProxy::start(redis_addr()).await;
    let app = spawn_app_with(|s| {
        s.redis_url = proxy.url();
        s.redis_timeout_ms = 300;
    })
    .await;
    let b = setup(&app).await;
    let people = app.bulk_residents(b.tree.branch_a, 10).await;
    app.publish_task(&b.secretary, b.tree.branch_a, 5, false).await;
    app.credit(&b.secretary, b.tree.branch_a, people[0].user_id, 7).await;

    proxy.set_delay(Duration::from_secs(2));
    let started = Instant::now();
    let reads = join_all(people.iter().map(|p| app.board(&p.token, b.tree.branch_a, "points", "all")));
    let draws = join_all(people.iter().map(|p| app.draw(&p.token, b.tree.branch_a)));
    let (reads, draws) = tokio::join!(reads, draws);
    let elapsed = started.elapsed();
    for (status, body) in reads.iter().chain(draws.iter()) {
        assert_eq!((*status, body["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("redis_unavailable")));
    }
    assert!(elapsed < Duration::from_millis(1500), "20 requests took {elapsed:?} with a 300 ms Redis timeout");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    proxy.set_delay(Duration::ZERO);
    wait_for("the board to answer again", || async {
        app.board(&people[0].token, b.tree.branch_a, "points", "all").await.0 == StatusCode::OK
    })
    .await;
    let (_, board) = app.board(&people[0].token, b.tree.branch_a, "points", "all").await;
    assert_eq!(board["me"]["score"], 7, "{board}");
}

/// Points per member of `branch`, summed from the ledger.
async fn ledger_points(app: &TestApp, branch: i64) -> HashMap<i64, i64> {
    let rows = points_ledger::Entity::find()
        .filter(points_ledger::Column::BranchId.eq(branch))
        .all(&app.state.db)
        .await
        .unwrap();
    let mut sums = HashMap::new();
    for row in rows {
        *sums.entry(row.user_id).or_insert(0) += row.delta_points;
    }
    sums.retain(|_, p| *p != 0);
    sums
}

/// The branch's all-time points board as the API shows it: member → score.
async fn board_points(app: &TestApp, token: &str, branch: i64) -> Option<HashMap<i64, i64>> {
    let (status, board) =
        app.get(&format!("/orgs/{branch}/leaderboard?metric=points&period=all&limit=100"), token).await;
    if status != StatusCode::OK {
        return None;
    }
    let entries = board["entries"].as_array()?;
    Some(entries.iter().map(|e| (e["user_id"].as_i64().unwrap(), e["score"].as_i64().unwrap())).collect())
}

async fn pool_ids(app: &TestApp, branch: i64) -> Option<HashSet<i64>> {
    let mut conn = app.state.redis.conn().await.ok()?;
    let members: Vec<String> =
        redis::cmd("SMEMBERS").arg(app.state.redis.keys().pool(branch)).query_async(&mut conn).await.ok()?;
    Some(members.iter().filter_map(|m| m.split(':').next()?.parse().ok()).collect())
}

async fn open_card_ids(app: &TestApp) -> HashSet<i64> {
    let rows = cards::Entity::find().filter(cards::Column::Status.eq("open")).all(&app.state.db).await.unwrap();
    rows.into_iter().map(|c| c.id).collect()
}

#[tokio::test]
async fn redis_restarting_empty_under_load_loses_nothing_and_is_rebuilt() {
    let mut redis = OwnRedis::start().await;
    let (port, dir) = (redis.port, std::env::temp_dir().join(format!("fivestar-redis-{}", redis.port)));
    let app = spawn_app_with(|s| {
        s.redis_url = redis.url();
        s.redis_timeout_ms = 500;
    })
    .await;
    let b = setup(&app).await;
    let people = app.bulk_residents(b.tree.branch_a, 16).await;
    app.publish_task(&b.secretary, b.tree.branch_a, 40, false).await;

    let stop = AtomicBool::new(false);
    let statuses: Mutex<BTreeMap<(&str, u16), usize>> = Mutex::new(BTreeMap::new());
    let record = |what: &'static str, status: StatusCode| {
        *statuses.lock().unwrap().entry((what, status.as_u16())).or_default() += 1;
    };
    let worker = |person: &Session| {
        let (stop, record, app, b) = (&stop, &record, &app, &b);
        let person = person.clone();
        async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, _) = app.adjust(&b.secretary.token, b.tree.branch_a, person.user_id, 3, None).await;
                record("adjust", status);
                let (status, card) = app.draw(&person.token, b.tree.branch_a).await;
                record("draw", status);
                if status == StatusCode::CREATED {
                    let (status, _) = app.release_card(&person.token, card["id"].as_i64().unwrap()).await;
                    record("release", status);
                }
            }
        }
    };
    let restarted_at = Mutex::new(None);
    let chaos = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        // SHUTDOWN NOSAVE: the process goes and its data with it.
        redis.stop();
        tokio::time::sleep(Duration::from_millis(500)).await;
        redis = OwnRedis::start_at(port, dir.clone()).await;
        *restarted_at.lock().unwrap() = Some(Instant::now());
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.store(true, Ordering::Relaxed);
    };
    tokio::join!(join_all(people.iter().map(worker)), chaos);
    let restarted_at = restarted_at.lock().unwrap().expect("redis restarted");

    let statuses = statuses.into_inner().unwrap();
    println!("statuses under the restart: {statuses:?}");
    for ((what, status), count) in &statuses {
        let fine = matches!(*status, 200 | 201 | 503) || (*what == "draw" && matches!(*status, 404 | 409));
        assert!(fine, "{count} × {what} answered {status}: {statuses:?}");
    }
    assert!(statuses.get(&("adjust", 201)).is_some_and(|n| *n > 0), "{statuses:?}");

    // The epoch check rebuilds; then boards and pools agree with SQL.
    wait_for("the epoch marker to be rebuilt", || async {
        let Ok(mut conn) = app.state.redis.conn().await else { return false };
        redis::cmd("EXISTS").arg(app.state.redis.keys().epoch()).query_async::<bool>(&mut conn).await.unwrap_or(false)
    })
    .await;
    println!("epoch rebuilt {:?} after the restart", restarted_at.elapsed());
    let expected = ledger_points(&app, b.tree.branch_a).await;
    assert!(expected.len() >= people.len(), "every member was credited: {expected:?}");
    wait_for("the board to equal the ledger", || async {
        board_points(&app, &b.secretary.token, b.tree.branch_a).await.as_ref() == Some(&expected)
    })
    .await;
    println!("board equal to the ledger {:?} after the restart", restarted_at.elapsed());
    // Every board and branch total, as `fivestar verify-redis` compares them.
    wait_for("every board to equal a recomputation", || async {
        let check = fivestar::points::reconcile::verify_boards(&app.state).await.unwrap();
        check.mismatched.is_empty() && check.unexpected.is_empty()
    })
    .await;
    let open = open_card_ids(&app).await;
    wait_for("the pool to equal the open cards", || async {
        pool_ids(&app, b.tree.branch_a).await.as_ref() == Some(&open)
    })
    .await;
    let held = card_claims::Entity::find().filter(card_claims::Column::Status.eq("claimed")).all(&app.state.db).await;
    let held = held.unwrap();
    let distinct: HashSet<i64> = held.iter().map(|c| c.card_id).collect();
    assert_eq!(distinct.len(), held.len(), "no card held twice");
}

/// The server's connections to this Redis that carry commands: not pub/sub, not `probe`.
async fn command_connections(redis: &OwnRedis) -> usize {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut probe = client.get_multiplexed_async_connection().await.unwrap();
    let me: i64 = redis::cmd("CLIENT").arg("ID").query_async(&mut probe).await.unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query_async(&mut probe).await.unwrap();
    list.lines().filter(|line| !line.split(' ').any(|field| field == format!("id={me}") || field == "flags=P")).count()
}

#[tokio::test]
async fn http_workers_open_redis_connections_of_their_own_once_redis_comes_up() {
    // A port with no Redis on it yet, and the directory of its Redis to come.
    let (port, dir) = OwnRedis::start().await.save_and_stop();
    let app = spawn_app_with(|s| {
        s.redis_url = format!("redis://127.0.0.1:{port}");
        s.redis_timeout_ms = 300;
    })
    .await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    let redis = OwnRedis::start_at(port, dir).await;
    // Meanwhile the workers answer through the shared connection.
    wait_for("the board to answer", || async {
        app.board(&admin.token, tree.county, "points", "all").await.0 == StatusCode::OK
    })
    .await;
    // actix's default: one HTTP worker per core; each opens its own connection beside
    // the shared one (the background tasks', opened by their first Redis check).
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    wait_for("every worker's own connection", || async { command_connections(&redis).await == workers + 1 }).await;
    let (status, board) = app.board(&admin.token, tree.county, "points", "all").await;
    assert_eq!(status, StatusCode::OK, "{board}");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}
