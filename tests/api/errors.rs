//! Every error is `{code, message}` JSON with the right status, including actix's own.
use reqwest::{Method, StatusCode};

use crate::helpers::{parts, spawn_app};

#[tokio::test]
async fn malformed_json_is_400_invalid_request() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(app.url("/api/v1/auth/wechat"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = parts(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_request");
    assert!(body["message"].is_string());
}

#[tokio::test]
async fn a_missing_field_is_400_invalid_request() {
    let app = spawn_app().await;
    let (status, body) =
        parts(app.call(Method::POST, "/auth/password", None, Some(serde_json::json!({"username": "x"}))).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_request");
}

#[tokio::test]
async fn unknown_routes_are_json_404() {
    let app = spawn_app().await;
    let (status, body) = parts(app.client.get(app.url("/api/v1/no/such/thing")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_json_405() {
    let app = spawn_app().await;
    let (status, body) = parts(app.client.get(app.url("/api/v1/auth/wechat")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_non_numeric_id_names_nothing() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let (status, body) = app.get("/orgs/abc", &admin.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn an_out_of_range_limit_is_422_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let (status, body) = app.get(&format!("/orgs/{}/children?limit=1000", tree.county), &admin.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "validation_failed");
    assert!(body["fields"]["limit"].is_string(), "{body}");
    let (status, body) = app.get(&format!("/orgs/{}/children?cursor=garbage!", tree.county), &admin.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["cursor"].is_string(), "{body}");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_json() {
    let app = spawn_app().await;
    let resp = app.client.post(app.url("/api/v1/auth/wechat")).body("code=1").send().await.unwrap();
    let (status, body) = parts(resp).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["code"], "unsupported_media_type", "{body}");
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let app = spawn_app().await;
    let huge = format!("{{\"code\": \"{}\"}}", "x".repeat(300 * 1024));
    let resp = app
        .client
        .post(app.url("/api/v1/auth/wechat"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let (status, body) = parts(resp).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "payload_too_large");
}

#[tokio::test]
async fn a_nul_character_in_a_body_is_400_and_stores_nothing() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let body = serde_json::json!({"title": "扫\u{0}地", "star": "strong_branch", "points": 5, "copies": 1});
    let (status, err) = app.post(&format!("/orgs/{}/tasks", tree.branch_a), &admin.token, body).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{err}");
    let (_, tasks) = app.get(&format!("/orgs/{}/tasks", tree.branch_a), &admin.token).await;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(0), "{tasks}");
}

#[tokio::test]
async fn a_body_must_be_an_object_and_whole_floats_are_integers() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    // serde would read a struct from an array; the API takes objects only.
    let (status, err) = app.post(&format!("/orgs/{}/tasks", tree.branch_a), &admin.token, serde_json::json!([])).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{err}");
    // 2.0 is the integer 2 (as JSON Schema counts it); 2.5 is not an integer.
    let task = |copies: serde_json::Value| serde_json::json!({"title": "t", "star": "strong_branch", "points": 5.0, "copies": copies});
    let (status, created) = app.post(&format!("/orgs/{}/tasks", tree.branch_a), &admin.token, task(2.0.into())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((created["copies"].as_i64(), created["points"].as_i64()), (Some(2), Some(5)));
    let (status, err) = app.post(&format!("/orgs/{}/tasks", tree.branch_a), &admin.token, task(2.5.into())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_every_error_body_repeats_it() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    let made = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(made.len() == 32 && made.bytes().all(|b| b.is_ascii_hexdigit()), "{made}");

    // 404 from a handler, 405 rewritten by the error middleware, 401 from an extractor,
    // 400 from the JSON extractor: the body's id is the header's.
    let calls = [
        app.client.get(app.url("/api/v1/no/such/thing")),
        app.client.get(app.url("/api/v1/auth/wechat")),
        app.client.get(app.url("/api/v1/me")),
        app.client.post(app.url("/api/v1/auth/password")).json(&serde_json::json!({"username": 5})),
    ];
    let mut seen = std::collections::HashSet::new();
    for (call, expected) in calls.into_iter().zip([404, 405, 401, 400]) {
        let resp = call.send().await.unwrap();
        let header = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        let (status, body) = parts(resp).await;
        assert_eq!(status.as_u16(), expected, "{body}");
        assert_eq!(body["request_id"], header, "{body}");
        assert!(seen.insert(header), "each request has its own id");
    }

    // A caller's (or proxy's) id is kept; one that could forge a log line is replaced.
    let resp = app.client.get(app.url("/api/v1/me")).header("x-request-id", "gw-2026.11.29:abc").send().await.unwrap();
    assert_eq!(resp.headers()["x-request-id"], "gw-2026.11.29:abc");
    assert_eq!(parts(resp).await.1["request_id"], "gw-2026.11.29:abc");
    let resp = app.client.get(app.url("/api/v1/me")).header("x-request-id", "a b\"c").send().await.unwrap();
    let replaced = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(replaced, "a b\"c");
    assert_eq!(parts(resp).await.1["request_id"], replaced);
}

#[tokio::test]
async fn each_kind_of_400_names_its_field_and_the_expected_format_in_chinese() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "e-sec", tree.branch_a, "secretary").await;
    let tasks = format!("/orgs/{}/tasks", tree.branch_a);
    let task = |extra: serde_json::Value| {
        let mut body = serde_json::json!({"title": "扫雪", "star": "civil_happy", "points": 2, "copies": 1});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let expect = |body: &serde_json::Value, field: &str, why: &str| {
        assert_eq!(body["code"], "invalid_request", "{body}");
        let said = body["fields"][field].as_str().unwrap_or_else(|| panic!("no fields.{field}: {body}"));
        assert!(said.contains(why), "fields.{field} = {said}");
        assert!(!said.contains("expected") && !said.contains("missing"), "Chinese, not serde's English: {said}");
        assert!(body["message"].as_str().unwrap().contains(field), "{body}");
    };

    // Missing.
    let mut body = task(serde_json::json!({}));
    body.as_object_mut().unwrap().remove("title");
    let (status, body) = app.post(&tasks, &secretary.token, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    expect(&body, "title", "缺少");
    // Mistyped.
    let (status, body) = app.post(&tasks, &secretary.token, task(serde_json::json!({"points": "two"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    expect(&body, "points", "整数");
    // Malformed: a time without its zone.
    let (status, body) =
        app.post(&tasks, &secretary.token, task(serde_json::json!({"expires_at": "2026-12-01T08:00:00"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    expect(&body, "expires_at", "RFC 3339");
    assert!(body["fields"]["expires_at"].as_str().unwrap().contains("+08:00"), "an example with a zone: {body}");
    // A query parameter.
    let (status, body) = app.get("/me/cards?limit=ten", &secretary.token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    expect(&body, "limit", "整数");
    // Nothing was published by any of them.
    let (_, list) = app.get(&tasks, &secretary.token).await;
    assert_eq!(list["items"], serde_json::json!([]), "{list}");
}

#[tokio::test]
async fn a_json_key_given_twice_is_400_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let (_, before) = app.get("/me", &admin.token).await;
    for body in
        [r#"{"display_name": "甲", "display_name": "乙"}"#, r#"{"phone": "13812340000", "nested": {"k": 1, "k": 2}}"#]
    {
        let resp = app
            .client
            .patch(app.url("/api/v1/me"))
            .bearer_auth(&admin.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, err) = parts(resp).await;
        assert_eq!((status, err["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");
        assert!(err["message"].as_str().unwrap().contains("两次"), "{err}");
    }
    let (_, after) = app.get("/me", &admin.token).await;
    assert_eq!(before, after);
}
