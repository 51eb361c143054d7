//! `spawn_app()` and `TestApp`: one method per endpoint, plus fixtures for a small tree.
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::Duration;

use fivestar::clock::Clock;
use fivestar::config::Settings;
use fivestar::startup::Application;
use fivestar::state::AppState;
use reqwest::{Method, Response, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

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

    // --- WeChat fake -------------------------------------------------------------

    /// WeChat answers this code with this openid, as text/plain like the real one.
    pub async fn mock_wechat_code(&self, code: &str, openid: &str) {
        let body =
            json!({"openid": openid, "session_key": format!("SESSIONKEY-{openid}"), "unionid": format!("U-{openid}")});
        Mock::given(method("GET"))
            .and(path("/sns/jscode2session"))
            .and(query_param("js_code", code))
            .and(query_param("appid", "wx-test-appid"))
            .and(query_param("secret", "wx-test-secret"))
            .and(query_param("grant_type", "authorization_code"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_string(), "text/plain"))
            .mount(&self.wechat)
            .await;
    }

    /// WeChat answers this code with an error code.
    pub async fn mock_wechat_error(&self, code: &str, errcode: i64) {
        let body = json!({"errcode": errcode, "errmsg": "invalid code"});
        Mock::given(method("GET"))
            .and(path("/sns/jscode2session"))
            .and(query_param("js_code", code))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_string(), "text/plain"))
            .mount(&self.wechat)
            .await;
    }

    // --- auth ----------------------------------------------------------------------

    pub async fn login_wechat(&self, code: &str) -> (StatusCode, Value) {
        parts(self.call(Method::POST, "/auth/wechat", None, Some(json!({"code": code}))).await).await
    }

    pub async fn login_password(&self, username: &str, password: &str) -> (StatusCode, Value) {
        parts(
            self.call(Method::POST, "/auth/password", None, Some(json!({"username": username, "password": password})))
                .await,
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        parts(self.call(Method::POST, "/auth/refresh", None, Some(json!({"refresh_token": refresh_token}))).await).await
    }

    /// A new WeChat user, logged in.
    pub async fn wechat_user(&self, openid: &str) -> Session {
        let code = format!("code-{openid}-{}", uuid::Uuid::new_v4().simple());
        self.mock_wechat_code(&code, openid).await;
        let (status, body) = self.login_wechat(&code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        session(&body)
    }

    /// A super_admin made the way `fivestar admin create` makes one, logged in by password.
    pub async fn super_admin(&self) -> Session {
        let username = format!("root{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        fivestar::auth::service::create_super_admin(&self.state.db, &username, ADMIN_PASSWORD, self.clock.now())
            .await
            .expect("create a super admin");
        let (status, body) = self.login_password(&username, ADMIN_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        session(&body)
    }

    // --- orgs ----------------------------------------------------------------------

    pub async fn create_org(&self, token: &str, parent_id: Option<i64>, name: &str, kind: &str) -> (StatusCode, Value) {
        self.post("/orgs", token, json!({"parent_id": parent_id, "name": name, "kind": kind})).await
    }

    pub async fn grant(&self, token: &str, org_id: i64, user_id: i64, role: &str) -> (StatusCode, Value) {
        parts(
            self.call(
                Method::PUT,
                &format!("/orgs/{org_id}/roles"),
                Some(token),
                Some(json!({"user_id": user_id, "role": role})),
            )
            .await,
        )
        .await
    }

    pub async fn revoke(&self, token: &str, org_id: i64, user_id: i64, role: &str) -> (StatusCode, Value) {
        parts(
            self.call(
                Method::DELETE,
                &format!("/orgs/{org_id}/roles"),
                Some(token),
                Some(json!({"user_id": user_id, "role": role})),
            )
            .await,
        )
        .await
    }

    pub async fn invite(
        &self,
        token: &str,
        branch_id: i64,
        role: &str,
        max_uses: i64,
        expires_in_hours: i64,
    ) -> (StatusCode, Value) {
        let expires_at = self.clock.now() + chrono::Duration::hours(expires_in_hours);
        self.post(
            &format!("/orgs/{branch_id}/invites"),
            token,
            json!({"role": role, "max_uses": max_uses, "expires_at": expires_at}),
        )
        .await
    }

    pub async fn join(&self, token: &str, code: &str) -> (StatusCode, Value) {
        self.post("/me/join", token, json!({"code": code})).await
    }

    /// county > township > two branches, each with one grid; created by `admin`.
    pub async fn tree(&self, admin: &Session) -> Tree {
        let make = |parent: Option<i64>, name: &'static str, kind: &'static str| {
            let token = admin.token.clone();
            async move {
                let (status, body) = self.create_org(&token, parent, name, kind).await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                body["id"].as_i64().unwrap()
            }
        };
        let county = make(None, "测试县", "county").await;
        let township = make(Some(county), "测试镇", "township").await;
        let branch_a = make(Some(township), "甲村党支部", "branch").await;
        let grid_a = make(Some(branch_a), "甲村第一网格", "grid").await;
        let branch_b = make(Some(township), "乙村党支部", "branch").await;
        let grid_b = make(Some(branch_b), "乙村第一网格", "grid").await;
        Tree { county, township, branch_a, grid_a, branch_b, grid_b }
    }

    // --- points --------------------------------------------------------------------

    /// Report `minutes` of service that ended an hour ago.
    pub async fn log_service(&self, token: &str, branch_id: i64, minutes: i64, star: &str) -> (StatusCode, Value) {
        let ended = self.clock.now() - chrono::Duration::hours(1);
        let started = ended - chrono::Duration::minutes(minutes);
        self.post(
            &format!("/orgs/{branch_id}/volunteer-logs"),
            token,
            json!({"description": "敬老院帮厨", "star": star, "started_at": started, "ended_at": ended, "media_ids": []}),
        )
        .await
    }

    pub async fn review_log(&self, token: &str, log_id: i64, approve: bool) -> (StatusCode, Value) {
        self.post(&format!("/volunteer-logs/{log_id}/review"), token, json!({"approve": approve, "comment": "好"}))
            .await
    }

    pub async fn adjust(
        &self,
        token: &str,
        branch_id: i64,
        user_id: i64,
        delta: i64,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(self.url(&format!("/api/v1/orgs/{branch_id}/points/adjust")))
            .bearer_auth(token)
            .json(&json!({"user_id": user_id, "delta": delta, "reason": "补录积分"}));
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        parts(req.send().await.unwrap()).await
    }

    /// Credit `points` to a member through a secretary's adjustment (asserting success).
    pub async fn credit(&self, secretary: &Session, branch_id: i64, user_id: i64, points: i64) {
        let (status, body) = self.adjust(&secretary.token, branch_id, user_id, points, None).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    pub async fn board(&self, token: &str, org_id: i64, metric: &str, period: &str) -> (StatusCode, Value) {
        self.get(&format!("/orgs/{org_id}/leaderboard?metric={metric}&period={period}"), token).await
    }

    // --- cards -------------------------------------------------------------------

    /// Publish a task with `copies` cards (asserting success); returns the task.
    pub async fn publish_task(&self, secretary: &Session, branch_id: i64, copies: i64, requires_photo: bool) -> Value {
        let (status, task) = self
            .post(
                &format!("/orgs/{branch_id}/tasks"),
                &secretary.token,
                json!({"title": "反诈宣传", "description": "给邻居讲一次反诈知识", "star": "safe_lawful",
                       "points": 5, "volunteer_minutes": 30, "copies": copies, "claim_ttl_minutes": 60,
                       "requires_photo": requires_photo}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{task}");
        task
    }

    pub async fn draw(&self, token: &str, branch_id: i64) -> (StatusCode, Value) {
        self.post(&format!("/orgs/{branch_id}/cards/draw"), token, json!({})).await
    }

    pub async fn submit_card(&self, token: &str, card_id: i64, media_ids: &[i64]) -> (StatusCode, Value) {
        self.post(&format!("/cards/{card_id}/submit"), token, json!({"note": "已完成", "media_ids": media_ids})).await
    }

    pub async fn release_card(&self, token: &str, card_id: i64) -> (StatusCode, Value) {
        self.post(&format!("/cards/{card_id}/release"), token, json!({})).await
    }

    pub async fn review_card(&self, token: &str, card_id: i64, approve: bool) -> (StatusCode, Value) {
        self.post(&format!("/cards/{card_id}/review"), token, json!({"approve": approve, "comment": "辛苦了"})).await
    }

    /// Upload a small PNG as `user` (asserting success); returns the media id.
    pub async fn photo(&self, user: &Session) -> i64 {
        let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]));
        let mut bytes = std::io::Cursor::new(Vec::new());
        img.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(bytes.into_inner()).file_name("p.png"));
        let resp = self.client.post(self.url("/api/v1/media")).bearer_auth(&user.token).multipart(form).send().await;
        let (status, body) = parts(resp.unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }

    // --- incidents -----------------------------------------------------------------

    /// POST /incidents with an optional Idempotency-Key: (status, body, replayed header).
    pub async fn file_incident(&self, token: &str, key: Option<&str>, body: &Value) -> (StatusCode, Value, bool) {
        let mut req = self.client.post(self.url("/api/v1/incidents")).bearer_auth(token).json(body);
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        let resp = req.send().await.unwrap();
        let replayed = resp.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
        let (status, body) = parts(resp).await;
        (status, body, replayed)
    }

    pub async fn incident_action(&self, token: &str, id: i64, action: &str, extra: Value) -> (StatusCode, Value) {
        let mut body = json!({"action": action, "note": format!("{action} 备注")});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.post(&format!("/incidents/{id}/actions"), token, body).await
    }

    /// A second server on the same database, Redis prefix and clock: another app server
    /// behind the same load balancer.
    pub async fn spawn_sibling(&self) -> TestApp {
        let mut settings = (*self.state.settings).clone();
        settings.bind = "127.0.0.1:0".into();
        // The SQLite file stays with the first server, which removes it.
        start(settings, None, MockServer::start().await, self.clock.clone()).await
    }

    /// A WeChat user holding `role` at `org_id`: a staff role granted by `admin`, a
    /// membership role (resident, party_member) by joining with an invite `admin` made, as
    /// people join a branch.
    pub async fn user_with_role(&self, admin: &Session, openid: &str, org_id: i64, role: &str) -> Session {
        let user = self.wechat_user(openid).await;
        if matches!(role, "resident" | "party_member") {
            self.join_by_invite(admin, &user, org_id, role).await;
        } else {
            let (status, body) = self.grant(&admin.token, org_id, user.user_id, role).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        user
    }

    /// `user` joins `branch_id` as `role` with a one-use invite made by `inviter`.
    pub async fn join_by_invite(&self, inviter: &Session, user: &Session, branch_id: i64, role: &str) {
        let (status, invite) = self.invite(&inviter.token, branch_id, role, 1, 24).await;
        assert_eq!(status, StatusCode::CREATED, "{invite}");
        let (status, body) = self.join(&user.token, invite["code"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
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

/// A redis-server of this test's own, on a free loopback port, killed on drop.
pub struct OwnRedis {
    child: Child,
    pub port: u16,
    dir: std::path::PathBuf,
}

impl OwnRedis {
    pub async fn start() -> OwnRedis {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("fivestar-redis-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        OwnRedis::start_at(port, dir).await
    }

    /// (Re)start on this port with this data directory (a dump there is loaded).
    pub async fn start_at(port: u16, dir: std::path::PathBuf) -> OwnRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (make test installs it)");
        // Owned at once, so Drop reaps it on every path.
        let redis = OwnRedis { child, port, dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return redis;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Write a dump (so a restart keeps the data), then stop.
    pub fn save_and_stop(mut self) -> (u16, std::path::PathBuf) {
        let status = Command::new("redis-cli").args(["-p", &self.port.to_string(), "SAVE"]).output().unwrap();
        assert!(status.status.success());
        self.stop();
        (self.port, self.dir.clone())
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

impl TestApp {
    /// `n` residents of `branch`, inserted straight into SQL (as `seed-bench` does) with
    /// access tokens: for tests that need hundreds of members at once.
    pub async fn bulk_residents(&self, branch: i64, n: usize) -> Vec<Session> {
        use entity::{user_roles, users};
        use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        let now = self.clock.now();
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let rows = (0..n).map(|i| users::ActiveModel {
            display_name: Set(format!("居民{i}")),
            openid: Set(Some(format!("bulk-{tag}-{i}"))),
            home_branch_id: Set(Some(branch)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        users::Entity::insert_many(rows).exec_without_returning(&self.state.db).await.unwrap();
        let ids: Vec<i64> = users::Entity::find()
            .filter(users::Column::Openid.starts_with(format!("bulk-{tag}-")))
            .order_by_asc(users::Column::Id)
            .all(&self.state.db)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect();
        let roles = ids.iter().map(|id| user_roles::ActiveModel {
            user_id: Set(*id),
            org_id: Set(Some(branch)),
            role: Set("resident".into()),
            created_at: Set(now),
            ..Default::default()
        });
        user_roles::Entity::insert_many(roles).exec_without_returning(&self.state.db).await.unwrap();
        ids.into_iter()
            .map(|id| Session { token: self.state.jwt.issue(id, now).unwrap(), refresh: String::new(), user_id: id })
            .collect()
    }
}

/// A TCP proxy in front of a Redis that can be made slow: every reply is held back by the
/// current delay before it is passed on.
pub struct SlowProxy {
    pub port: u16,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    accept: tokio::task::JoinHandle<()>,
}

impl SlowProxy {
    pub async fn start(upstream: String) -> SlowProxy {
        use std::sync::atomic::{AtomicU64, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let delay_ms = std::sync::Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else { continue };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let delay = delay.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = server_read.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let ms = delay.load(Ordering::Relaxed);
                        if ms > 0 {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                        }
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SlowProxy { port, delay_ms, accept }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
