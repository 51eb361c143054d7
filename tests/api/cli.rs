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

    let out = cli.run(&["seed-demo"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(text.contains("demo county created") && text.contains("secretary"), "{text}");
    let again = cli.run(&["seed-demo"], "");
    assert!(stdout(&again).contains("already present"), "a second run only prints the logins");

    let out = cli.run(&["rebuild-redis"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("redis rebuilt"));
}

#[tokio::test]
async fn the_demo_logins_work() {
    let (mut settings, _, _wechat) = test_settings().await;
    let cli = Cli::new().await;
    let out = cli.run(&["seed-demo"], "");
    assert!(out.status.success());
    settings.database_url = cli.envs[0].1.clone();
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
    let resident: serde_json::Value = client
        .post(format!("{address}/api/v1/auth/password"))
        .json(&serde_json::json!({"username": "resident", "password": fivestar::seed::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let branch = resident["user"]["home_branch_id"].as_i64().expect("the resident has a home branch");
    let token = resident["access_token"].as_str().unwrap();
    let tasks: serde_json::Value = client
        .get(format!("{address}/api/v1/orgs/{branch}/tasks"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(3), "{tasks}");
    let draw = client.post(format!("{address}/api/v1/orgs/{branch}/cards/draw")).bearer_auth(token).send().await;
    let draw = draw.unwrap();
    assert_eq!(draw.status(), 201, "{:?}", draw.text().await);
    handle.stop(false).await;
}

#[tokio::test]
async fn production_refuses_to_start_without_secrets() {
    let cli = Cli::new().await;
    let out =
        cli.command(&["serve"]).env("FIVESTAR_ENV", "production").env("FIVESTAR_BIND", "127.0.0.1:0").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FIVESTAR_JWT_SECRET") && err.contains("FIVESTAR_WECHAT_APPID"), "{err}");
}

#[tokio::test]
async fn serve_stops_cleanly_on_sigterm() {
    let cli = Cli::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = cli
        .command(&["serve"])
        .env("FIVESTAR_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("http://127.0.0.1:{port}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server came up");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server did not stop within 10 s of SIGTERM")
    });
    assert!(status.success(), "{status:?}");
}
