//! The committed `api-docs/openapi.json` is exactly what `fivestar openapi` prints and
//! what the server serves.
use reqwest::StatusCode;

use crate::helpers::spawn_app;

fn committed() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/api-docs/openapi.json");
    std::fs::read_to_string(path).expect("api-docs/openapi.json is committed")
}

#[test]
fn the_committed_spec_has_not_drifted() {
    let generated = fivestar::openapi::spec_json();
    assert!(
        generated == committed(),
        "api-docs/openapi.json is stale: run `cargo run -q -- openapi > api-docs/openapi.json`"
    );
}

#[test]
fn the_cli_prints_the_committed_spec() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fivestar")).arg("openapi").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed());
}

#[tokio::test]
async fn the_server_serves_the_committed_spec() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/api-docs/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let served: serde_json::Value = resp.json().await.unwrap();
    let committed: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    assert_eq!(served, committed);
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/api/v1/auth/wechat", "/api/v1/orgs/{id}/invites", "/api/v1/me/join"] {
        assert!(served["paths"][path].is_object(), "{path} missing from the spec");
    }
}

/// Every `$ref` of the document names a schema it defines.
#[test]
fn no_ref_dangles() {
    fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let spec: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    let mut found = Vec::new();
    refs(&spec, &mut found);
    assert!(found.len() > 50, "the walk finds the document's refs: {}", found.len());
    let dangling: Vec<&String> = found
        .iter()
        .filter(|r| {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
            spec["components"]["schemas"][name].is_null()
        })
        .collect();
    assert!(dangling.is_empty(), "dangling: {dangling:?}");
}

/// The `src` and `href` values of an HTML page's tags.
fn linked(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        for attr in ["src", "href"] {
            for quote in ['"', '\''] {
                let needle = format!("{attr}={quote}");
                let mut rest = tag;
                while let Some(at) = rest.find(&needle) {
                    let before = rest[..at].chars().last();
                    rest = &rest[at + needle.len()..];
                    let Some(end) = rest.find(quote) else { break };
                    if before.is_none_or(char::is_whitespace) {
                        out.push(rest[..end].to_owned());
                    }
                    rest = &rest[end..];
                }
            }
        }
    }
    out
}

#[test]
fn links_are_found_in_tags() {
    let html = r#"<link rel="stylesheet" href="./a.css" /><script src='b.js'></script><a data-href="x" href=c>"#;
    assert_eq!(linked(html), ["./a.css", "b.js"]);
}

/// `/docs` works on an intranet: the page and every asset it loads come from us.
#[tokio::test]
async fn docs_are_served_entirely_by_us() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/docs")).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    assert_eq!(resp.headers()["location"], "/docs/");
    let resp = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.url().clone();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = resp.text().await.unwrap();
    let links = linked(&html);
    assert!(links.len() >= 3, "the page loads its script and styles: {links:?}");
    for link in &links {
        assert!(!link.starts_with("//") && !link.contains("://"), "{link} is on another host");
        let url = page.join(link).unwrap();
        assert_eq!(url.host_str(), page.host_str(), "{link}");
        let resp = app.client.get(url.clone()).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        assert!(!resp.bytes().await.unwrap().is_empty(), "{url}");
    }
    // The page's script reads the spec from us, and no validator badge calls out.
    let init = app.client.get(page.join("swagger-initializer.js").unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(init.contains("\"/api-docs/openapi.json\""), "{init}");
    assert!(!init.contains("http://") && !init.contains("https://"), "{init}");
}
