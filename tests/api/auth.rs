//! Logins, tokens and refresh rotation.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fivestar::infra::jwt::JwtKeys;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{parts, session, spawn_app, spawn_app_with, wait_for, TestApp, ADMIN_PASSWORD, TEST_JWT_SECRET};

#[tokio::test]
async fn wechat_login_creates_a_user_once_per_openid() {
    let app = spawn_app().await;
    app.mock_wechat_code("code-1", "openid-alice").await;
    app.mock_wechat_code("code-2", "openid-alice").await;

    let (status, first) = app.login_wechat("code-1").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 7200);
    let (status, second) = app.login_wechat("code-2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["user"]["id"], second["user"]["id"], "same openid, same user");

    let me = session(&first);
    let (status, body) = app.get("/me", &me.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], first["user"]["id"]);
}

#[tokio::test]
async fn the_session_key_never_leaves_the_server() {
    let app = spawn_app().await;
    app.mock_wechat_code("code-sk", "openid-sk").await;
    let resp = app.call(Method::POST, "/auth/wechat", None, Some(json!({"code": "code-sk"}))).await;
    let text = resp.text().await.unwrap();
    assert!(text.contains("access_token"));
    assert!(!text.contains("SESSIONKEY"), "session_key leaked: {text}");
    assert!(!text.contains("session_key"));
}

#[tokio::test]
async fn bad_and_reused_wechat_codes_are_401() {
    let app = spawn_app().await;
    app.mock_wechat_error("bad-code", 40029).await;
    app.mock_wechat_error("used-code", 40163).await;
    for code in ["bad-code", "used-code"] {
        let (status, body) = app.login_wechat(code).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{code}: {body}");
        assert_eq!(body["code"], "wechat_code_invalid");
    }
}

#[tokio::test]
async fn wechat_down_or_garbled_is_502() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>oops</html>", "text/html"))
        .mount(&app.wechat)
        .await;
    let (status, body) = app.login_wechat("any").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["code"], "wechat_unavailable");

    // Nothing listens at the configured base URL at all.
    let down = spawn_app_with(|s| s.wechat_api_base = "http://127.0.0.1:9".into()).await;
    let (status, body) = down.login_wechat("any").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["code"], "wechat_unavailable");

    // WeChat answers 500.
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&app.wechat)
        .await;
    let (status, _) = app.login_wechat("any").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn wechat_login_without_credentials_is_503() {
    let app = spawn_app_with(|s| {
        s.wechat_appid = None;
        s.wechat_secret = None;
    })
    .await;
    let (status, body) = app.login_wechat("any").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "wechat_not_configured");
}

#[tokio::test]
async fn password_login_gives_the_same_answer_for_unknown_user_and_wrong_password() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let (_, me) = app.get("/me", &admin.token).await;
    let username = me["display_name"].as_str().unwrap().to_owned();

    let (status, wrong) = app.login_password(&username, "wrong password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, unknown) = app.login_password("nobody-here", "wrong password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let same = |mut body: serde_json::Value| {
        body.as_object_mut().unwrap().remove("request_id").expect("every error body has its request id");
        body
    };
    assert_eq!(same(wrong.clone()), same(unknown));
    assert_eq!(wrong["code"], "invalid_credentials");
}

#[tokio::test]
async fn repeated_password_failures_are_throttled() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let (_, me) = app.get("/me", &admin.token).await;
    let username = me["display_name"].as_str().unwrap().to_owned();

    for _ in 0..5 {
        let (status, _) = app.login_password(&username, "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let resp = app
        .call(Method::POST, "/auth/password", None, Some(json!({"username": username, "password": ADMIN_PASSWORD})))
        .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(resp.headers().get("retry-after").is_some());
    let (_, body) = parts(resp).await;
    assert_eq!(body["code"], "rate_limited");
}

/// A stranger guessing from elsewhere slows only their own address: the account's owner
/// logs in with the right password. (The test client is the trusted proxy, so
/// `X-Forwarded-For` names the client; without a trusted proxy the header counts for nothing.)
#[tokio::test]
async fn a_strangers_failures_never_lock_someone_else_out() {
    let app = spawn_app_with(|s| s.trusted_proxies = Some("127.0.0.1, ::1".into())).await;
    let admin = app.super_admin().await;
    let (_, me) = app.get("/me", &admin.token).await;
    let username = me["display_name"].as_str().unwrap().to_owned();
    let login = |from: &'static str, password: &'static str| {
        let body = json!({"username": username, "password": password});
        app.client.post(app.url("/api/v1/auth/password")).header("x-forwarded-for", from).json(&body).send()
    };
    for _ in 0..6 {
        let resp = login("203.0.113.9, 10.0.0.1, 198.51.100.7", "guess").await.unwrap();
        assert!([401, 429].contains(&resp.status().as_u16()), "{}", resp.status());
    }
    let resp = login("198.51.100.7", "guess").await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "the stranger's address (the last one) is slowed");
    let resp = login("192.0.2.44", ADMIN_PASSWORD).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the owner, from their own address, is not");
}

#[tokio::test]
async fn guesses_across_many_usernames_are_throttled_per_address() {
    let app = spawn_app_with(|s| s.login_max_failures_per_ip = 4).await;
    for i in 0..4 {
        let (status, _) = app.login_password(&format!("user{i}"), "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = app.login_password("user-new", "guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let first = app.wechat_user("openid-rot").await;

    let (status, body) = app.refresh(&first.refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = session(&body);
    assert_ne!(second.refresh, first.refresh);
    let (status, _) = app.get("/me", &second.token).await;
    assert_eq!(status, StatusCode::OK);

    // The first token again within 30 s: a phone that retried gets the same pair.
    let (status, again) = app.refresh(&first.refresh).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        (again["access_token"].as_str(), again["refresh_token"].as_str()),
        (Some(&*second.token), Some(&*second.refresh))
    );

    // Past the grace it is reuse: the family dies, the second token and its access token too.
    app.clock.advance(chrono::Duration::seconds(31));
    let (status, body) = app.refresh(&first.refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "refresh_token_reused");
    let (status, body) = app.refresh(&second.refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = app.get("/me", &second.token).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{body}");

    // Another login's family is untouched.
    let other = app.wechat_user("openid-rot").await;
    let (status, _) = app.refresh(&other.refresh).await;
    assert_eq!(status, StatusCode::OK);
}

/// Two refreshes of one token racing (a phone's retry): both get the same new pair, one
/// family, and the user stays logged in.
#[tokio::test]
async fn two_concurrent_refreshes_of_one_token_answer_the_same_pair() {
    let app = spawn_app().await;
    let user = app.wechat_user("openid-race").await;
    let (a, b) = tokio::join!(app.refresh(&user.refresh), app.refresh(&user.refresh));
    assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK), "{} {}", a.1, b.1);
    assert_eq!(a.1["refresh_token"], b.1["refresh_token"]);
    assert_eq!(a.1["access_token"], b.1["access_token"]);
    let next = session(&a.1);
    let (status, _) = app.get("/me", &next.token).await;
    assert_eq!(status, StatusCode::OK, "the family works");
    let (status, body) = app.refresh(&next.refresh).await;
    assert_eq!(status, StatusCode::OK, "and rotates on: {body}");
}

/// Logout through one server: the access token answers 401 on another server within 2 s,
/// and the refresh token is dead.
#[tokio::test]
async fn a_logout_on_one_server_ends_the_access_token_on_another() {
    let app = spawn_app().await;
    let other = app.spawn_sibling().await;
    let user = app.wechat_user("openid-logout").await;
    let keep = app.wechat_user("openid-logout").await;
    let (status, _) = other.get("/me", &user.token).await;
    assert_eq!(status, StatusCode::OK, "verified and cached on the other server");

    let resp = app.call(Method::POST, "/auth/logout", None, Some(json!({"refresh_token": user.refresh}))).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (status, _) = app.get("/me", &user.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "at once on the server that logged out");
    let started = std::time::Instant::now();
    loop {
        let (status, body) = other.get("/me", &user.token).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["code"], "unauthenticated");
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "still {status} on the other server");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, body) = app.refresh(&user.refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The same person's other login goes on.
    let (status, _) = other.get("/me", &keep.token).await;
    assert_eq!(status, StatusCode::OK);
    let resp = app.call(Method::POST, "/auth/logout", None, Some(json!({"refresh_token": "nope"}))).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // A server that subscribes later learns the revocation too.
    let late = app.spawn_sibling().await;
    wait_for("the late server's feed", || async { late.state.caches.callers.subscribed() }).await;
    let (status, _) = late.get("/me", &user.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_refresh_token_is_401() {
    let app = spawn_app().await;
    let (status, body) = app.refresh("not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthenticated");
}

#[tokio::test]
async fn tampered_expired_foreign_and_unsigned_tokens_are_401() {
    let app = spawn_app().await;
    let user = app.wechat_user("openid-tok").await;

    // Flip one character in the middle of the signature.
    let (head, sig) = user.token.rsplit_once('.').unwrap();
    let mut sig: Vec<char> = sig.chars().collect();
    sig[10] = if sig[10] == 'A' { 'B' } else { 'A' };
    let tampered = format!("{head}.{}", sig.into_iter().collect::<String>());

    let keys = JwtKeys::new(&SecretString::from(TEST_JWT_SECRET), 7200);
    let expired = keys.issue(user.user_id, None, chrono::Utc::now() - chrono::Duration::hours(3)).unwrap();
    let foreign = JwtKeys::new(&SecretString::from("another-secret-another-secret-0000"), 7200)
        .issue(user.user_id, None, chrono::Utc::now())
        .unwrap();
    let claims = user.token.split('.').nth(1).unwrap().to_owned();
    let unsigned = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#), claims);

    for (what, token) in [("tampered", tampered), ("expired", expired), ("foreign", foreign), ("alg none", unsigned)] {
        let (status, body) = app.get("/me", &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(body["code"], "unauthenticated");
    }
    let resp = app.call(Method::GET, "/me", None, None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "no token at all");
}

/// 120 writes a minute per user, counted across servers: the 121st is 429 with
/// Retry-After on either; reads go on, and so do other users' writes.
#[tokio::test]
async fn the_121st_write_in_a_minute_is_429_on_either_server() {
    let app = spawn_app_with(|s| s.write_limit_per_minute = 120).await;
    let other = app.spawn_sibling().await;
    let user = app.wechat_user("openid-writes").await;
    let neighbour = app.wechat_user("openid-writes-2").await;
    async fn rename(server: &TestApp, who: &str, n: usize) -> reqwest::Response {
        server.call(Method::PATCH, "/me", Some(who), Some(json!({"display_name": format!("写{n}")}))).await
    }
    // Fresh minute, so all 121 fall in one window.
    let second = chrono::Utc::now().timestamp() % 60;
    if second > 40 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
    let mut statuses = Vec::new();
    for n in 0..120 {
        let server = if n % 2 == 0 { &app } else { &other };
        statuses.push(rename(server, &user.token, n).await.status());
    }
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    for server in [&app, &other] {
        let resp = rename(server, &user.token, 121).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        let (_, body) = parts(resp).await;
        assert_eq!(body["code"], "rate_limited");
    }
    let (_, me) = other.get("/me", &user.token).await;
    assert_eq!(me["display_name"], "写119", "reads go on, and the refused writes changed nothing");
    assert_eq!(rename(&app, &neighbour.token, 1).await.status(), StatusCode::OK, "another user is not limited");
}
