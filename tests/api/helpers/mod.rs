//! `spawn_app()` and `TestApp`: a server per test on a fresh database and Redis prefix,
//! with a client method per endpoint (one file per domain below), fixtures for a small
//! tree, and the fault proxies.
mod auth;
mod bulk;
mod cards;
mod faults;
mod incidents;
mod orgs;
mod points;
mod shop;
mod wechat;

pub use faults::{OwnRedis, SlowProxy};
use std::sync::LazyLock;
use std::time::Duration;

use fivestar::clock::Clock;
use fivestar::config::Settings;
use fivestar::startup::Application;
use fivestar::state::AppState;
use reqwest::{Method, Response, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;
use serde_json::Value;
use wiremock::MockServer;

pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        fivestar::telemetry::init(fivestar::config::Environment::Dev);
    }
});

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub wechat: MockServer,
    pub state: AppState,
    pub clock: Clock,
    sqlite_file: Option<std::path::PathBuf>,
    server: actix_web::dev::ServerHandle,
}

/// A logged-in person: their tokens and id.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub refresh: String,
    pub user_id: i64,
}

/// county > township > (branch A > grid A, branch B > grid B)
pub struct Tree {
    pub county: i64,
    pub township: i64,
    pub branch_a: i64,
    pub grid_a: i64,
    pub branch_b: i64,
    pub grid_b: i64,
}

pub fn redis_url() -> String {
    std::env::var("FIVESTAR_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A new, empty database: a PostgreSQL database of its own when
/// FIVESTAR_TEST_DATABASE_URL is set, else a new SQLite file.
async fn fresh_database() -> (String, Option<std::path::PathBuf>) {
    let name = format!("fs_test_{}", uuid::Uuid::new_v4().simple());
    match std::env::var("FIVESTAR_TEST_DATABASE_URL") {
        Ok(admin_url) => {
            let admin = Database::connect(&admin_url).await.expect("connect to the test PostgreSQL");
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
            admin.close().await.ok();
            let base = admin_url.rsplit_once('/').expect("a database URL has a path").0;
            (format!("{base}/{name}"), None)
        }
        Err(_) => {
            let dir = std::env::temp_dir().join("fivestar-tests");
            std::fs::create_dir_all(&dir).expect("create the test directory");
            let file = dir.join(format!("{name}.db"));
            (format!("sqlite://{}?mode=rwc", file.display()), Some(file))
        }
    }
}

pub async fn test_settings() -> (Settings, Option<std::path::PathBuf>, MockServer) {
    LazyLock::force(&TRACING);
    let wechat = MockServer::start().await;
    let (database_url, sqlite_file) = fresh_database().await;
    let mut settings = Settings::defaults();
    settings.bind = "127.0.0.1:0".into();
    settings.database_url = database_url;
    settings.redis_url = redis_url();
    settings.redis_prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    settings.jwt_secret = Some(SecretString::from(TEST_JWT_SECRET));
    settings.wechat_appid = Some("wx-test-appid".into());
    settings.wechat_secret = Some(SecretString::from("wx-test-secret"));
    settings.wechat_api_base = wechat.uri();
    let media = std::env::temp_dir().join("fivestar-tests").join(format!("media-{}", settings.redis_prefix));
    settings.media_dir = media.display().to_string();
    settings.data_dir = std::env::temp_dir().join("fivestar-tests").display().to_string();
    settings.reconcile_interval_secs = 1;
    settings.sweep_interval_secs = 1;
    settings.outbox_interval_secs = 1;
    // Tests drive one user hard (races, bulk reviews); the limit has tests of its own.
    settings.write_limit_per_minute = 0;
    (settings, sqlite_file, wechat)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let (mut settings, sqlite_file, wechat) = test_settings().await;
    customize(&mut settings);
    start(settings, sqlite_file, wechat, Clock::default()).await
}

async fn start(
    settings: Settings,
    sqlite_file: Option<std::path::PathBuf>,
    wechat: MockServer,
    clock: Clock,
) -> TestApp {
    let app = Application::build_with_clock(settings, clock.clone()).await.expect("the application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let server = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        // Idle pooled connections are dropped well before the server's keep-alive closes
        // them, so a test that pauses (say, encoding a large photo) never writes to a
        // socket the server already closed.
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
        wechat,
        state,
        clock,
        sqlite_file,
        server,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The stop command is sent at once; the returned future only waits for it.
        drop(self.server.stop(false));
        if let Some(file) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{}", file.display(), suffix));
            }
        }
    }
}

/// Read a response as (status, JSON body); a non-JSON body becomes `Value::String`.
pub async fn parts(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Any request to the API (`/api/v1` + path), with an optional token and JSON body.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Response {
        let mut req = self.client.request(method, self.url(&format!("/api/v1{path}")));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("the request is sent")
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        parts(self.call(Method::GET, path, Some(token), None).await).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        parts(self.call(Method::POST, path, Some(token), Some(body)).await).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        parts(self.call(Method::PUT, path, Some(token), Some(body)).await).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        parts(self.call(Method::PATCH, path, Some(token), Some(body)).await).await
    }

    /// A second server on the same database, Redis prefix and clock: another app server
    /// behind the same load balancer.
    pub async fn spawn_sibling(&self) -> TestApp {
        let mut settings = (*self.state.settings).clone();
        settings.bind = "127.0.0.1:0".into();
        // The SQLite file stays with the first server, which removes it.
        start(settings, None, MockServer::start().await, self.clock.clone()).await
    }
}

/// Poll `check` every 100 ms for up to 10 s.
pub async fn wait_for<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

pub fn session(body: &Value) -> Session {
    Session {
        token: body["access_token"].as_str().expect("access_token").to_owned(),
        refresh: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
        user_id: body["user"]["id"].as_i64().expect("user.id"),
    }
}

/// The ISO week (`2026-W48`) a moment falls in, in Asia/Shanghai.
pub fn iso_week(at: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Datelike;
    let week = at.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).iso_week();
    format!("{}-W{:02}", week.year(), week.week())
}
