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
