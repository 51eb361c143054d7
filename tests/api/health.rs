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
