//! Liveness, readiness (with a Redis that really stops), metrics and docs.
use reqwest::StatusCode;

use crate::helpers::{parts, spawn_app, spawn_app_with, OwnRedis, TestApp};

#[tokio::test]
async fn healthz_answers_while_the_process_lives() {
    let app = spawn_app().await;
    let (status, body) = parts(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_is_503_naming_redis_once_redis_stops() {
    let mut redis = OwnRedis::start().await;
    let port = redis.port;
    let app = spawn_app_with(|s| s.redis_url = format!("redis://127.0.0.1:{port}")).await;
    let (status, body) = parts(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    redis.stop();
    let (status, body) = parts(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "not_ready");
    assert_eq!(body["down"], serde_json::json!(["redis"]));

    // And /healthz still says the process lives.
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_server_starts_and_logs_in_staff_while_redis_is_down() {
    let app = spawn_app_with(|s| s.redis_url = "redis://127.0.0.1:9".into()).await;
    let (status, body) = parts(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["down"], serde_json::json!(["redis"]));
    let admin = app.super_admin().await;
    let (status, _) = app.get("/me", &admin.token).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_per_route_pattern() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    app.get(&format!("/orgs/{}", tree.county), &admin.token).await;
    app.get(&format!("/orgs/{}", tree.township), &admin.token).await;
    let text = metrics_text(&app).await;
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total")
                && l.contains(r#"route="/api/v1/orgs/{id}""#)
                && l.contains(r#"status="200""#)
        })
        .unwrap_or_else(|| panic!("no counter for /api/v1/orgs/{{id}}:\n{text}"));
    assert!(line.ends_with(" 2"), "{line}");
    assert!(text.contains("http_request_duration_seconds_bucket"));
}

/// The server's `/metrics` page.
async fn metrics_text(app: &TestApp) -> String {
    app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap()
}

/// A sample's value in Prometheus text, for a metric without labels.
fn sample(text: &str, name: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"));
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{line}"))
}

#[tokio::test]
async fn metrics_show_the_sql_writers_work() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "m-sec", tree.branch_a, "secretary").await;
    let first = app.user_with_role(&admin, "m-first", tree.branch_a, "resident").await;
    let second = app.user_with_role(&admin, "m-second", tree.branch_a, "resident").await;
    let text = metrics_text(&app).await;
    assert_eq!(sample(&text, "sql_writer_jobs_total"), 0.0, "nothing drawn yet");

    app.publish_task(&secretary, tree.branch_a, 2, false).await;
    for member in [&first, &second] {
        let (status, body) = app.draw(&member.token, tree.branch_a).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let text = metrics_text(&app).await;
    // One after the other, each draw is a batch of its own.
    assert_eq!(sample(&text, "sql_writer_jobs_total"), 2.0);
    assert_eq!(sample(&text, "sql_writer_batches_total"), 2.0);
    assert!(sample(&text, "sql_writer_busy_seconds_total") > 0.0, "{text}");
}

#[tokio::test]
async fn every_answer_says_nosniff_and_token_answers_say_no_store() {
    let app = spawn_app().await;
    for path in ["/healthz", "/api/v1/no/such/thing", "/api/v1/me"] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    let username = format!("nosniff{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    fivestar::auth::service::create_super_admin(
        &app.state.db,
        &username,
        crate::helpers::ADMIN_PASSWORD,
        app.clock.now(),
    )
    .await
    .unwrap();
    let login = serde_json::json!({"username": username, "password": crate::helpers::ADMIN_PASSWORD});
    let resp = app.client.post(app.url("/api/v1/auth/password")).json(&login).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let (_, body) = parts(resp).await;
    let refresh = serde_json::json!({"refresh_token": body["refresh_token"]});
    let resp = app.client.post(app.url("/api/v1/auth/refresh")).json(&refresh).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
}

/// Production: WeChat credentials are not needed to start (WeChat login answers 503), and
/// `/metrics` is behind its token (404 when none is set).
#[tokio::test]
async fn production_serves_without_wechat_and_guards_metrics() {
    let secret = "production-secret-production-secret-0123";
    let app = spawn_app_with(|s| {
        s.env = fivestar::config::Environment::Production;
        s.jwt_secret = Some(secret.to_owned().into());
        s.wechat_appid = None;
        s.wechat_secret = None;
    })
    .await;
    let (status, body) = app.login_wechat("any-code").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("wechat_not_configured")));
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "no token set: no metrics");

    let token = "metrics-token-1234";
    let app = spawn_app_with(|s| {
        s.env = fivestar::config::Environment::Production;
        s.jwt_secret = Some(secret.to_owned().into());
        s.metrics_token = Some(token.to_owned().into());
    })
    .await;
    for given in [None, Some("Bearer wrong-token-0000"), Some("Bearer metrics-token-123")] {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(given) = given {
            req = req.header("authorization", given);
        }
        let (status, body) = parts(req.send().await.unwrap()).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{given:?}");
    }
    let resp = app.client.get(app.url("/metrics")).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("http_requests_total"));
}
