//! The phone page's files at `/m/`: caching, the history fallback, gzip, the folder's walls
//! and the page shown when nothing is built. (The page itself is tested in a browser:
//! web/e2e/, run by scripts/web-e2e.sh in `make test`.)
use std::path::{Path, PathBuf};

use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION, VARY,
};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app_with, TestApp};

const INDEX: &str = "<!doctype html><title>五星支部</title><script type=module src=/m/assets/index-Ab12.js></script>";
const SCRIPT: &str = "console.log('五星支部')";
const GZIPPED: &[u8] = b"\x1f\x8b pretend gzip of the script";

/// A built app: index.html, a hashed script with its gzipped copy, an icon, and a hidden
/// manifest that must never be served.
fn built_app() -> PathBuf {
    let dir = std::env::temp_dir().join("fivestar-tests").join(format!("web-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::create_dir_all(dir.join(".vite")).unwrap();
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    std::fs::write(dir.join("assets/index-Ab12.js"), SCRIPT).unwrap();
    std::fs::write(dir.join("assets/index-Ab12.js.gz"), GZIPPED).unwrap();
    std::fs::write(dir.join("favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>").unwrap();
    std::fs::write(dir.join(".vite/manifest.json"), "{}").unwrap();
    std::fs::write(dir.parent().unwrap().join("secret.txt"), "outside").unwrap();
    dir
}

async fn app_serving(dir: &Path) -> TestApp {
    let dir = dir.display().to_string();
    spawn_app_with(|s| s.web_dir = dir).await
}

async fn fetch(app: &TestApp, path: &str, headers: &[(reqwest::header::HeaderName, &str)]) -> reqwest::Response {
    let mut req = app.client.get(format!("{}{path}", app.address));
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    req.send().await.unwrap()
}

fn header(res: &reqwest::Response, name: reqwest::header::HeaderName) -> &str {
    res.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

#[tokio::test]
async fn the_page_and_its_addresses_get_index_html_revalidated_every_time() {
    let dir = built_app();
    let app = app_serving(&dir).await;

    let res = fetch(&app, "/m", &[]).await;
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(header(&res, LOCATION), "/m/");

    for path in ["/m/", "/m/home", "/m/cards/12", "/m/report?draft=1"] {
        let res = fetch(&app, path, &[]).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&res, CACHE_CONTROL), "no-cache", "{path}");
        assert!(header(&res, CONTENT_TYPE).starts_with("text/html"), "{path}");
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.text().await.unwrap(), INDEX, "{path}");
    }

    // Revalidation: the ETag answers 304 with no body.
    let res = fetch(&app, "/m/", &[]).await;
    let etag = header(&res, ETAG).to_owned();
    assert!(!etag.is_empty());
    let res = fetch(&app, "/m/", &[(IF_NONE_MATCH, &etag)]).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // A new build is served at once, with a new ETag, and the old tag no longer matches.
    let rebuilt = INDEX.replace("index-Ab12", "index-Cd34-rebuilt");
    std::fs::write(dir.join("index.html"), &rebuilt).unwrap();
    let res = fetch(&app, "/m/home", &[(IF_NONE_MATCH, &etag)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_ne!(header(&res, ETAG), etag);
    assert_eq!(res.text().await.unwrap(), rebuilt);

    let res = app.client.head(format!("{}/m/", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "");

    // Unhashed files are revalidated too.
    let res = fetch(&app, "/m/favicon.svg", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, CONTENT_TYPE), "image/svg+xml");
    assert_eq!(header(&res, CACHE_CONTROL), "no-cache");
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year_and_sent_gzipped_to_who_takes_it() {
    let app = app_serving(&built_app()).await;

    let res = fetch(&app, "/m/assets/index-Ab12.js", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, CACHE_CONTROL), "public, max-age=31536000, immutable");
    assert_eq!(header(&res, CONTENT_TYPE), "text/javascript; charset=utf-8");
    assert_eq!(header(&res, CONTENT_ENCODING), "");
    assert_eq!(header(&res, VARY), "accept-encoding");
    assert_eq!(res.text().await.unwrap(), SCRIPT);

    let res = fetch(&app, "/m/assets/index-Ab12.js", &[(ACCEPT_ENCODING, "br, gzip;q=0.8")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, CONTENT_ENCODING), "gzip");
    assert_eq!(header(&res, CONTENT_TYPE), "text/javascript; charset=utf-8");
    assert_eq!(header(&res, CACHE_CONTROL), "public, max-age=31536000, immutable");
    let gzip_tag = header(&res, ETAG).to_owned();
    assert_eq!(res.bytes().await.unwrap().as_ref(), GZIPPED);

    // Each representation has its own tag: the plain file's does not answer for the gzipped one.
    let plain_tag = header(&fetch(&app, "/m/assets/index-Ab12.js", &[]).await, ETAG).to_owned();
    assert_ne!(plain_tag, gzip_tag);
    let res = fetch(&app, "/m/assets/index-Ab12.js", &[(ACCEPT_ENCODING, "gzip"), (IF_NONE_MATCH, &plain_tag)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = fetch(&app, "/m/assets/index-Ab12.js", &[(ACCEPT_ENCODING, "gzip"), (IF_NONE_MATCH, &gzip_tag)]).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // gzip refused by q=0: the plain file.
    let res = fetch(&app, "/m/assets/index-Ab12.js", &[(ACCEPT_ENCODING, "gzip;q=0, identity")]).await;
    assert_eq!(header(&res, CONTENT_ENCODING), "");
    assert_eq!(res.text().await.unwrap(), SCRIPT);
}

#[tokio::test]
async fn a_missing_asset_is_404_and_nothing_outside_the_app_or_hidden_is_served() {
    let app = app_serving(&built_app()).await;
    for path in [
        "/m/assets/index-Gone.js",
        "/m/assets/index-Ab12.js.map",
        "/m/.vite/manifest.json",
        "/m/../secret.txt",
        "/m/%2e%2e/secret.txt",
        "/m/assets/%2e%2e/%2e%2e/secret.txt",
        "/m/..%2fsecret.txt",
    ] {
        let res = fetch(&app, path, &[]).await;
        let status = res.status();
        let body = res.text().await.unwrap();
        assert!(!body.contains("outside"), "{path} leaked a file outside the app");
        assert_ne!(body, INDEX, "{path}");
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["code"], "not_found", "{path}");
    }
}

#[tokio::test]
async fn with_nothing_built_the_page_says_how_to_build_it() {
    let missing = std::env::temp_dir().join("fivestar-tests").join(format!("no-web-{}", uuid::Uuid::new_v4().simple()));
    let app = app_serving(&missing).await;
    for path in ["/m/", "/m/home"] {
        let res = fetch(&app, path, &[]).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(header(&res, CONTENT_TYPE).starts_with("text/html"));
        let body = res.text().await.unwrap();
        assert!(body.contains("scripts/build-web.sh"), "{body}");
        assert!(body.contains("手机页面尚未构建"), "{body}");
        assert!(body.contains(&missing.display().to_string()), "{body}");
    }
    // The API is unaffected.
    let res = fetch(&app, "/healthz", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
}
