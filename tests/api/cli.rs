//! The `fivestar` binary's subcommands, run as a person would run them.
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::helpers::{redis_url, test_settings};

/// The binary with a fresh database and Redis prefix, configured only by environment.
struct Cli {
    envs: Vec<(String, String)>,
    _dir: tempdir::Dir,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Cli {
    async fn new() -> Cli {
        let (settings, _, _wechat) = test_settings().await;
        let dir = std::env::temp_dir().join(format!("fivestar-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let envs = vec![
            ("FIVESTAR_DATABASE_URL".into(), settings.database_url.clone()),
            ("FIVESTAR_REDIS_URL".into(), redis_url()),
            ("FIVESTAR_REDIS_PREFIX".into(), settings.redis_prefix.clone()),
            ("FIVESTAR_DATA_DIR".into(), dir.display().to_string()),
            ("RUST_LOG".into(), "warn".into()),
        ];
        Cli { envs, _dir: tempdir::Dir(dir) }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fivestar"));
        cmd.args(args).envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        // Run from the data dir so no fivestar.toml of the developer's is picked up.
        cmd.current_dir(&self._dir.0);
        cmd
    }

    /// `fivestar serve` on a free port, once `/readyz` answers 200: (the process, its port).
    async fn serve(&self) -> (std::process::Child, u16) {
        self.serve_with(&[]).await
    }

    /// `serve` with more environment variables.
    async fn serve_with(&self, env: &[(&str, &str)]) -> (std::process::Child, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = self
            .command(&["serve"])
            .envs(env.iter().copied())
            .env("FIVESTAR_BIND", format!("127.0.0.1:{port}"))
            .stdout(std::fs::File::create(self.log_path()).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let client = reqwest::Client::new();
        let mut up = false;
        for _ in 0..100 {
            if client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "the server came up");
        (child, port)
    }

    /// Where `serve` writes the server's log.
    fn log_path(&self) -> std::path::PathBuf {
        self._dir.0.join("serve.log")
    }

    /// `fivestar seed-demo`, asserting it succeeds.
    fn seed_demo(&self) -> Output {
        let out = self.run(&["seed-demo"], "");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }
}

/// The process's exit status, waiting up to `secs` (killed, and the test failed, after).
async fn exit_status(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
    for _ in 0..secs * 10 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not stop within {secs} s of SIGTERM")
}

/// Send a request and read its JSON body.
async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn admin_create_prints_the_id_and_a_clash_exits_1() {
    let cli = Cli::new().await;
    let out = cli.run(&["admin", "create", "--username", "chief", "--password-stdin"], "a long password\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id: i64 = stdout(&out).trim().parse().expect("the user id is printed");
    assert!(id > 0);

    let again = cli.run(&["admin", "create", "--username", "chief", "--password-stdin"], "another password\n");
    assert_eq!(again.status.code(), Some(1), "a clash exits 1");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already taken"));

    let short = cli.run(&["admin", "create", "--username", "other", "--password-stdin"], "short\n");
    assert!(!short.status.success(), "a too-short password is refused");
}

#[tokio::test]
async fn migrate_seed_demo_and_rebuild_redis_run() {
    let cli = Cli::new().await;
    let out = cli.run(&["migrate"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let text = stdout(&cli.seed_demo());
    assert!(text.contains("demo county created") && text.contains("secretary"), "{text}");
    let again = cli.run(&["seed-demo"], "");
    assert!(stdout(&again).contains("already present"), "a second run only prints the logins");

    let out = cli.run(&["rebuild-redis"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("redis rebuilt"));

    // verify-redis agrees after a rebuild, and notices a lost card and a forged score.
    let out = cli.run(&["verify-redis"], "");
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("card pools: 4 branches, 100 open cards, 0 leases; 0 branches differ"),
        "{}",
        stdout(&out)
    );
    let keys = fivestar::infra::keys::Keys::new(&cli.envs[2].1);
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let pools: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}*pool", &cli.envs[2].1)).query_async(&mut conn).await.unwrap();
    let _: Option<String> = redis::cmd("SPOP").arg(&pools[0]).query_async(&mut conn).await.unwrap();
    let _: i64 =
        redis::cmd("ZADD").arg(keys.board(1, "points", "all")).arg(5).arg(42).query_async(&mut conn).await.unwrap();
    let out = cli.run(&["verify-redis"], "");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    // The demo's credits made that board: the forged member is one it should not have.
    assert!(text.contains("member 42 should have None") && text.contains("1 branches differ"), "{text}");
}

#[tokio::test]
async fn the_demo_logins_work() {
    let (mut settings, _, _wechat) = test_settings().await;
    let cli = Cli::new().await;
    cli.seed_demo();
    settings.database_url = cli.envs[0].1.clone();
    // seed-demo ran in the data dir, where the default media dir is.
    let data_dir = cli.envs.iter().find(|(k, _)| k == "FIVESTAR_DATA_DIR").unwrap().1.clone();
    settings.media_dir = format!("{data_dir}/data/media");
    let app = fivestar::startup::Application::build(settings).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let resp = reqwest::Client::new()
        .post(format!("{address}/api/v1/auth/password"))
        .json(&serde_json::json!({"username": "secretary", "password": fivestar::seed::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["roles"][0]["role"], "secretary");
    // The demo branches have tasks: a resident draws a card from the pool.
    let client = reqwest::Client::new();
    let login = serde_json::json!({"username": "resident", "password": fivestar::seed::DEMO_PASSWORD});
    let resident = json_of(client.post(format!("{address}/api/v1/auth/password")).json(&login)).await;
    let branch = resident["user"]["home_branch_id"].as_i64().expect("the resident has a home branch");
    let token = resident["access_token"].as_str().unwrap();
    let tasks = json_of(client.get(format!("{address}/api/v1/orgs/{branch}/tasks")).bearer_auth(token)).await;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(3), "{tasks}");
    let draw = client.post(format!("{address}/api/v1/orgs/{branch}/cards/draw")).bearer_auth(token).send().await;
    let draw = draw.unwrap();
    assert_eq!(draw.status(), 201, "{:?}", draw.text().await);

    // The demo has a branch shop and a township shop, and points to spend there.
    let points = json_of(client.get(format!("{address}/api/v1/me/points")).bearer_auth(token)).await;
    assert_eq!(points["balance"].as_i64(), Some(120), "{points}");
    let shop = json_of(client.get(format!("{address}/api/v1/me/shop")).bearer_auth(token)).await;
    let offers = shop["items"].as_array().expect("offers");
    let shops: std::collections::BTreeSet<i64> = offers.iter().map(|i| i["org_id"].as_i64().unwrap()).collect();
    assert_eq!((offers.len(), shops.len()), (5, 2), "{shop}");
    assert!(shops.contains(&branch), "the resident's own branch keeps one of them");
    let soap = offers.iter().find(|i| i["name"] == "洗衣皂").expect("soap on the shelf");
    let reserved = client
        .post(format!("{address}/api/v1/shop/items/{}/redeem", soap["id"]))
        .bearer_auth(token)
        .header("Idempotency-Key", "demo-redeem")
        .json(&serde_json::json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(reserved.status(), 201);
    let code = reserved.json::<serde_json::Value>().await.unwrap()["code"].as_str().unwrap().to_owned();
    let login = serde_json::json!({"username": "shop-keeper", "password": fivestar::seed::DEMO_PASSWORD});
    let keeper = json_of(client.post(format!("{address}/api/v1/auth/password")).json(&login)).await;
    let fulfilled = client
        .post(format!("{address}/api/v1/orgs/{branch}/redemptions/fulfil"))
        .bearer_auth(keeper["access_token"].as_str().unwrap())
        .json(&serde_json::json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(fulfilled.status(), 200, "the demo counter fulfils");

    // The demo has this year's indicators, an application in each state and a rated branch.
    let login = serde_json::json!({"username": "county-admin", "password": fivestar::seed::DEMO_PASSWORD});
    let county_admin = json_of(client.post(format!("{address}/api/v1/auth/password")).json(&login)).await;
    let county_token = county_admin["access_token"].as_str().unwrap();
    let county = county_admin["user"]["roles"][0]["org_id"].as_i64().expect("the county admin's county");
    let summary =
        json_of(client.get(format!("{address}/api/v1/orgs/{county}/stars/summary")).bearer_auth(county_token)).await;
    assert_eq!(summary["branches"].as_u64(), Some(5), "{summary}");
    assert_eq!(summary["by_count"]["3"].as_u64(), Some(1), "one rated branch with three stars: {summary}");
    for status in ["submitted", "returned", "township_passed", "publicized", "awarded", "rejected"] {
        assert_eq!(summary["applications"][status].as_u64(), Some(1), "{status}: {summary}");
    }
    let stars = json_of(client.get(format!("{address}/api/v1/orgs/{branch}/stars")).bearer_auth(county_token)).await;
    assert_eq!(stars["rating"], serde_json::json!(["strong_branch", "safe_lawful", "civil_happy"]), "{stars}");

    // The demo has a ledger: reports on its grids, with photos, at several steps.
    let token = body["access_token"].as_str().unwrap();
    let ledger = json_of(client.get(format!("{address}/api/v1/orgs/{branch}/incidents")).bearer_auth(token)).await;
    let items = ledger["items"].as_array().expect("a ledger");
    assert_eq!(items.len(), 4, "{ledger}");
    let statuses: std::collections::BTreeSet<&str> = items.iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.into_iter().collect::<Vec<_>>(), ["closed", "in_progress", "reported"], "{ledger}");
    for item in items {
        assert_eq!(item["reporter_name"], "李网格员", "{item}");
        let url = item["media"][0]["url"].as_str().unwrap_or_else(|| panic!("a photo: {item}"));
        let photo = client.get(format!("{address}{url}")).send().await.unwrap();
        assert_eq!(photo.status(), 200, "{url}");
        assert_eq!(&photo.bytes().await.unwrap()[..2], &[0xFF, 0xD8]);
    }
    handle.stop(false).await;
}

#[tokio::test]
async fn production_refuses_to_start_without_secrets() {
    let cli = Cli::new().await;
    let out =
        cli.command(&["serve"]).env("FIVESTAR_ENV", "production").env("FIVESTAR_BIND", "127.0.0.1:0").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FIVESTAR_JWT_SECRET"), "{err}");
    assert!(!err.contains("WECHAT"), "WeChat is optional: its login answers 503 without it: {err}");
}

#[tokio::test]
async fn serve_stops_cleanly_on_sigterm() {
    let cli = Cli::new().await;
    let (mut child, _) = cli.serve().await;
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = exit_status(&mut child, 10).await;
    assert!(status.success(), "{status:?}");
}

/// POST JSON with a token on a fresh connection; None when the server did not answer.
async fn post_json(
    client: &reqwest::Client,
    url: String,
    token: &str,
    body: serde_json::Value,
) -> Option<(u16, serde_json::Value)> {
    let resp = client.post(url).bearer_auth(token).json(&body).send().await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.json().await.unwrap_or_default()))
}

#[tokio::test]
async fn sigterm_under_load_finishes_in_flight_approvals_and_writes_nothing_partial() {
    use entity::{cards, points_ledger, points_summary};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let cli = Cli::new().await;
    assert!(cli.run(&["seed-demo"], "").status.success());
    let (mut child, port) = cli.serve().await;
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let login = |username: &'static str| {
        let body = serde_json::json!({"username": username, "password": fivestar::seed::DEMO_PASSWORD});
        post_json(&client, format!("{base}/auth/password"), "", body)
    };
    let (_, secretary) = login("secretary").await.unwrap();
    let (_, resident) = login("resident").await.unwrap();
    let (sec_token, token) = (secretary["access_token"].as_str().unwrap(), resident["access_token"].as_str().unwrap());
    let branch = resident["user"]["home_branch_id"].as_i64().unwrap();
    let resident_id = resident["user"]["id"].as_i64().unwrap();

    // The resident holds and submits 20 cards, each with a photo.
    let settings = client
        .patch(format!("{base}/orgs/{branch}/settings"))
        .bearer_auth(sec_token)
        .json(&serde_json::json!({"card_limit": 20}))
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 200);
    let media_id = upload_photo(&client, &base, token).await;
    let mut submitted = Vec::new();
    for _ in 0..20 {
        let (status, card) =
            post_json(&client, format!("{base}/orgs/{branch}/cards/draw"), token, serde_json::json!({})).await.unwrap();
        assert_eq!(status, 201, "{card}");
        let id = card["id"].as_i64().unwrap();
        let body = serde_json::json!({"note": "完成", "media_ids": [media_id]});
        let (status, body) = post_json(&client, format!("{base}/cards/{id}/submit"), token, body).await.unwrap();
        assert_eq!(status, 200, "{body}");
        submitted.push(id);
    }

    // Approvals start one every 10 ms; SIGTERM comes in the middle of them.
    let approvals = futures_util::future::join_all(submitted.iter().enumerate().map(|(i, id)| {
        let body = serde_json::json!({"approve": true});
        let (client, url) = (&client, format!("{base}/cards/{id}/review"));
        async move {
            tokio::time::sleep(Duration::from_millis(10 * i as u64)).await;
            post_json(client, url, sec_token, body).await
        }
    }));
    let term = async {
        tokio::time::sleep(Duration::from_millis(95)).await;
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    };
    let (answers, ()) = tokio::join!(approvals, term);
    let status = exit_status(&mut child, 15).await;
    assert!(status.success(), "{status:?}");

    let answered: Vec<u16> = answers.iter().flatten().map(|(s, _)| *s).collect();
    println!("{} of {} approvals answered around SIGTERM", answered.len(), answers.len());
    assert!(answered.iter().all(|s| *s == 200), "in-flight approvals finish, none fails: {answers:?}");
    assert!(!answered.is_empty(), "at least the approvals sent before SIGTERM were answered: {answers:?}");
    let db = sea_orm::Database::connect(&cli.envs[0].1).await.unwrap();
    let approved = cards::Entity::find()
        .filter(cards::Column::Id.is_in(submitted.clone()))
        .filter(cards::Column::Status.eq("approved"))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(approved.len(), answered.len(), "every approval that committed was answered, and only those");
    let entries = points_ledger::Entity::find().filter(points_ledger::Column::UserId.eq(resident_id)).all(&db).await;
    let entries = entries.unwrap();
    for card in &approved {
        let key = format!("card:{}", card.id);
        assert_eq!(entries.iter().filter(|e| e.idempotency_key == key).count(), 1, "one credit for card {}", card.id);
    }
    let task_entries = entries.iter().filter(|e| e.kind == "task").count();
    assert_eq!(task_entries, approved.len(), "no credit without an approved card");
    let summary = points_summary::Entity::find_by_id(resident_id).one(&db).await.unwrap();
    let balance: i64 = entries.iter().map(|e| e.delta_points).sum();
    assert_eq!(summary.map_or(0, |s| s.balance), balance, "summary == sum(ledger)");
}

/// `audit-moved-members` finds the membership grants the old grant path made (they moved a
/// home branch), and not the joins nor today's grants.
#[tokio::test]
async fn audit_moved_members_lists_grants_that_moved_a_home_branch() {
    use sea_orm::{ActiveModelTrait, Set};
    let cli = Cli::new().await;
    cli.seed_demo();
    let out = cli.run(&["audit-moved-members"], "");
    assert!(out.status.success(), "a fresh demo has none: {}", stdout(&out));
    assert!(stdout(&out).contains("0 membership grants moved a home branch"), "{}", stdout(&out));

    // Rows as the code before the fix wrote them: a grant by secretary 4 that moved user 6
    // into branch 3 and dropped his resident role at branch 9, and user 7's own join.
    let db = fivestar::infra::db::connect(&cli.envs[0].1).await.unwrap();
    let legacy = |actor: i64, target: i64, before: serde_json::Value| entity::audit_log::ActiveModel {
        actor_id: Set(Some(actor)),
        action: Set("role.grant".into()),
        target_type: Set("user".into()),
        target_id: Set(target.to_string()),
        org_id: Set(Some(3)),
        before: Set(Some(before)),
        after: Set(Some(serde_json::json!({"org_id": 3, "role": "resident", "home_branch_id": 3}))),
        reason: Set(None),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    };
    legacy(4, 6, serde_json::json!({"membership": [{"org_id": 9, "role": "resident"}]})).insert(&db).await.unwrap();
    legacy(7, 7, serde_json::json!({"membership": []})).insert(&db).await.unwrap();

    let out = cli.run(&["audit-moved-members"], "");
    assert_eq!(out.status.code(), Some(1), "found ones exit 1: {}", stdout(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("audit ")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("actor 4 moved user 6 into branch 3 dropped resident@9"), "{text}");
    assert!(text.contains("1 membership grants moved a home branch"), "{text}");
}

/// Logs written to a pipe or a file carry no colour codes.
#[tokio::test]
async fn logs_to_a_pipe_have_no_colour_codes() {
    let cli = Cli::new().await;
    let out = cli.command(&["migrate"]).env("RUST_LOG", "debug").stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(text.contains("DEBUG") || text.contains("INFO"), "the log was written: {text}");
    assert!(!text.contains('\u{1b}'), "no ANSI escape in a piped log: {text:?}");
}

/// An unconfigured WeChat login is a setting, not a fault: one WARN, no ERROR per call;
/// and each refused request's log line carries its request id.
#[tokio::test]
async fn unconfigured_wechat_is_logged_once_as_a_warning() {
    let mut cli = Cli::new().await;
    // At the default level, where each request's span and its refusal line are written.
    cli.envs.retain(|(k, _)| k != "RUST_LOG");
    cli.envs.push(("RUST_LOG".into(), "info".into()));
    let (mut child, port) = cli.serve().await;
    let client = reqwest::Client::new();
    for n in 0..3 {
        let resp = client
            .post(format!("http://127.0.0.1:{port}/api/v1/auth/wechat"))
            .header("x-request-id", format!("probe-{n}"))
            .json(&serde_json::json!({"code": "a-code"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 503);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "wechat_not_configured");
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    exit_status(&mut child, 10).await;
    let log = std::fs::read_to_string(cli.log_path()).unwrap();
    let told: Vec<&str> = log.lines().filter(|l| l.contains("WeChat login is not configured")).collect();
    assert_eq!(told.len(), 1, "{log}");
    assert!(told[0].contains("WARN"), "{log}");
    assert!(!log.contains("ERROR"), "no ERROR for an expected 503: {log}");
    // Each refused request has one line carrying its request id, as the error body did.
    for n in 0..3 {
        let id = format!("request_id=probe-{n}");
        let lines: Vec<&str> =
            log.lines().filter(|l| l.contains(&id) && l.contains("answered with an error")).collect();
        assert_eq!(lines.len(), 1, "{id}: {log}");
        assert!(lines[0].contains("status=503"), "{log}");
    }
}

/// A photo of the resident's, for a card that asks for one: its media id.
async fn upload_photo(client: &reqwest::Client, base: &str, token: &str) -> i64 {
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(32, 32, image::Rgb([30, 120, 30])).write_to(&mut png, image::ImageFormat::Png).unwrap();
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(png.into_inner()).file_name("p.png"));
    let media = client.post(format!("{base}/media")).bearer_auth(token).multipart(form).send().await.unwrap();
    assert_eq!(media.status(), 201);
    media.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// A server killed between a commit and the Redis write it owes (the crash point aborts
/// the process there: once after an approval, before the board bump; once after a task's
/// publication, before its cards reach the pool) loses nothing: with a server running
/// again, `verify-redis` is clean within 30 s.
#[cfg(feature = "failpoints")]
#[tokio::test]
async fn a_server_killed_between_commit_and_redis_write_leaves_redis_equal_to_sql_within_30_s() {
    use entity::{cards, points_ledger, tasks};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    use std::os::unix::process::ExitStatusExt;

    let cli = Cli::new().await;
    cli.seed_demo();
    let out = cli.run(&["verify-redis"], "");
    assert!(out.status.success(), "clean to begin with: {}", stdout(&out));
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let login = |base: String, username: &'static str| {
        let body = serde_json::json!({"username": username, "password": fivestar::seed::DEMO_PASSWORD});
        let client = &client;
        async move { post_json(client, format!("{base}/auth/password"), "", body).await.unwrap().1 }
    };

    // On a healthy server, the resident draws a card and submits it.
    let (mut healthy, port) = cli.serve().await;
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let (secretary, resident) = (login(base.clone(), "secretary").await, login(base.clone(), "resident").await);
    let (sec_token, token) = (secretary["access_token"].as_str().unwrap(), resident["access_token"].as_str().unwrap());
    let branch = resident["user"]["home_branch_id"].as_i64().unwrap();
    let resident_id = resident["user"]["id"].as_i64().unwrap();
    let (status, card) =
        post_json(&client, format!("{base}/orgs/{branch}/cards/draw"), token, serde_json::json!({})).await.unwrap();
    assert_eq!(status, 201, "{card}");
    let card_id = card["id"].as_i64().unwrap();
    let media_id = upload_photo(&client, &base, token).await;
    let body = serde_json::json!({"note": "完成", "media_ids": [media_id]});
    let (status, body) = post_json(&client, format!("{base}/cards/{card_id}/submit"), token, body).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(Command::new("kill").args(["-TERM", &healthy.id().to_string()]).status().unwrap().success());
    assert!(exit_status(&mut healthy, 15).await.success());

    // A server armed to die before a board bump: the approval commits, nobody hears back.
    let (mut doomed, port) = cli.serve_with(&[("FAILPOINTS", "redis-after-commit=return(board)")]).await;
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let url = format!("{base}/cards/{card_id}/review");
    let answer = post_json(&client, url, sec_token, serde_json::json!({"approve": true})).await;
    assert!(answer.is_none(), "the server died before answering: {answer:?}");
    let status = exit_status(&mut doomed, 10).await;
    assert_eq!(status.signal(), Some(6), "aborted at the crash point: {status:?}");
    let db = sea_orm::Database::connect(&cli.envs[0].1).await.unwrap();
    let card = cards::Entity::find_by_id(card_id).one(&db).await.unwrap().unwrap();
    assert_eq!(card.status, cards::CardStatus::Approved, "the approval committed");
    let credits = points_ledger::Entity::find()
        .filter(points_ledger::Column::IdempotencyKey.eq(format!("card:{card_id}")))
        .filter(points_ledger::Column::UserId.eq(resident_id))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(credits, 1);
    let out = cli.run(&["verify-redis"], "");
    assert_eq!(out.status.code(), Some(1), "the boards lack the credit: {}", stdout(&out));

    // A server armed to die before a pool write: the task is published, its cards are not pooled.
    let (mut doomed, port) = cli.serve_with(&[("FAILPOINTS", "redis-after-commit=return(pool)")]).await;
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let task = serde_json::json!({"title": "清理楼道", "description": "清理一层楼道杂物", "star": "eco_livable",
        "points": 3, "volunteer_minutes": 20, "copies": 4, "claim_ttl_minutes": 60, "requires_photo": false});
    let answer = post_json(&client, format!("{base}/orgs/{branch}/tasks"), sec_token, task).await;
    assert!(answer.is_none(), "the server died before answering: {answer:?}");
    let status = exit_status(&mut doomed, 10).await;
    assert_eq!(status.signal(), Some(6), "aborted at the crash point: {status:?}");
    let published = tasks::Entity::find().filter(tasks::Column::Title.eq("清理楼道")).one(&db).await.unwrap();
    let published = published.expect("the task committed");
    let open = cards::Entity::find()
        .filter(cards::Column::TaskId.eq(published.id))
        .filter(cards::Column::Status.eq(cards::CardStatus::Open))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(open, 4);
    let out = cli.run(&["verify-redis"], "");
    let text = stdout(&out);
    assert!(out.status.code() == Some(1) && text.contains("1 branches differ"), "the pool lacks the cards: {text}");

    // A server runs again (default settings): within 30 s Redis equals SQL.
    let started = std::time::Instant::now();
    let (mut server, port) = cli.serve().await;
    let mut last = String::new();
    let mut clean = false;
    while started.elapsed() < Duration::from_secs(30) {
        let out = cli.run(&["verify-redis"], "");
        last = stdout(&out);
        if out.status.success() {
            clean = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("redis equal to SQL {:?} after the server started", started.elapsed());
    assert!(clean, "verify-redis still differs after 30 s: {last}");
    // And the board a member reads shows the credit the dead server committed.
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let board = client
        .get(format!("{base}/orgs/{branch}/leaderboard?metric=points&period=all"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let summary: i64 = points_ledger::Entity::find()
        .filter(points_ledger::Column::UserId.eq(resident_id))
        .all(&db)
        .await
        .unwrap()
        .iter()
        .map(|e| e.delta_points)
        .sum();
    let mine = board["entries"].as_array().unwrap().iter().find(|e| e["user_id"] == resident_id);
    assert_eq!(mine.map(|e| e["score"].as_i64().unwrap()), Some(summary), "{board}");
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let _ = exit_status(&mut server, 15).await;
}
