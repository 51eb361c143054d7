//! The five stars (CONTRACT.md, "The five stars"): a county's indicators per year.
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Session, TestApp, Tree};

struct County {
    tree: Tree,
    county_admin: Session,
    township_admin: Session,
    resident: Session,
}

async fn setup(app: &TestApp) -> County {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let county_admin = app.user_with_role(&admin, "star-county", tree.county, "county_admin").await;
    let township_admin = app.user_with_role(&admin, "star-town", tree.township, "township_admin").await;
    let secretary = app.user_with_role(&admin, "star-sec", tree.branch_a, "secretary").await;
    let resident = app.user_with_role(&secretary, "star-res", tree.branch_a, "resident").await;
    County { tree, county_admin, township_admin, resident }
}

fn indicator(code: &str, kind: &str) -> Value {
    let mut body =
        json!({"year": 2026, "star": "safe_lawful", "code": code, "title": "矛盾纠纷化解率不低于 98%", "kind": kind});
    if kind == "auto" {
        body["metric"] = json!("disputes_closed_share");
        body["threshold"] = json!(0.98);
    }
    body
}

#[tokio::test]
async fn a_county_copies_the_built_in_indicators_once_and_adds_its_own() {
    let app = spawn_app().await;
    let c = setup(&app).await;
    let path = format!("/orgs/{}/star-indicators/defaults", c.tree.county);
    let (status, copied) = app.post(&path, &c.county_admin.token, json!({"year": 2026})).await;
    assert_eq!(status, StatusCode::OK, "{copied}");
    let items = copied["items"].as_array().unwrap();
    assert_eq!(copied["created"].as_u64(), Some(items.len() as u64));
    assert!(items.len() >= 15, "at least three per star: {}", items.len());
    for star in ["strong_branch", "thriving_industry", "eco_livable", "safe_lawful", "civil_happy"] {
        let of: Vec<&Value> = items.iter().filter(|i| i["star"] == star).collect();
        assert!(of.len() >= 3, "{star}: {}", of.len());
        assert!(of.iter().any(|i| i["kind"] == "auto" && i["metric"].is_string() && i["threshold"].is_number()));
        assert!(of.iter().any(|i| i["kind"] == "evidence" && i["metric"].is_null()));
    }
    assert!(items.iter().all(|i| i["title"].as_str().unwrap().chars().any(|ch| ch > '\u{2e80}')), "worded in Chinese");
    let (status, again) = app.post(&path, &c.county_admin.token, json!({"year": 2026})).await;
    assert_eq!((status, again["created"].as_u64()), (StatusCode::OK, Some(0)), "copying again adds nothing");
    assert_eq!(again["items"].as_array().map(Vec::len), Some(items.len()));

    let own = format!("/orgs/{}/star-indicators", c.tree.county);
    let (status, made) = app.post(&own, &c.county_admin.token, indicator("SL9", "auto")).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!((made["metric"].as_str(), made["threshold"].as_f64()), (Some("disputes_closed_share"), Some(0.98)));
    let (status, err) = app.post(&own, &c.county_admin.token, indicator("SL9", "evidence")).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "a code once a year: {err}");
    let (status, _) = app
        .post(
            &own,
            &c.county_admin.token,
            json!({"year": 2027, "star": "civil_happy", "code": "SL9",
        "title": "明年的同号指标", "kind": "evidence"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "another year may reuse the code");

    // Anyone in the county reads them, one year at a time.
    let (status, list) = app.get(&format!("{own}?year=2026&limit=100"), &c.resident.token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(items.len() + 1));
    let (_, next_year) = app.get(&format!("{own}?year=2027"), &c.resident.token).await;
    assert_eq!(next_year["items"].as_array().map(Vec::len), Some(1));
    let (status, page) = app.get(&format!("{own}?year=2026&limit=5"), &c.resident.token).await;
    assert_eq!((status, page["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(5)));
    assert!(page["next_cursor"].is_string(), "paginated");

    let (status, audit) = app.get(&format!("/orgs/{}/audit", c.tree.county), &c.county_admin.token).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert!(
        actions.contains(&"stars.indicator.defaults") && actions.contains(&"stars.indicator.create"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn only_the_county_admin_sets_indicators_and_bad_ones_name_their_field() {
    let app = spawn_app().await;
    let c = setup(&app).await;
    let own = format!("/orgs/{}/star-indicators", c.tree.county);
    let (status, err) = app.post(&own, &c.township_admin.token, indicator("X1", "evidence")).await;
    assert_eq!((status, err["required_role"].as_str()), (StatusCode::FORBIDDEN, Some("county_admin")), "{err}");
    let (status, _) = app.post(&own, &c.resident.token, indicator("X1", "evidence")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, err) = app
        .post(&format!("/orgs/{}/star-indicators", c.tree.township), &c.county_admin.token, indicator("X1", "evidence"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "indicators belong to a county: {err}");

    let other_admin = app.super_admin().await;
    let (status, other) = app.create_org(&other_admin.token, None, "另一县", "county").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) =
        app.get(&format!("/orgs/{}/star-indicators", other["id"].as_i64().unwrap()), &c.county_admin.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another county is out of reach");

    for (body, field) in [
        (json!({"year": 2026, "star": "six_star", "code": "A", "title": "t", "kind": "evidence"}), "star"),
        (json!({"year": 1999, "star": "eco_livable", "code": "A", "title": "t", "kind": "evidence"}), "year"),
        (json!({"year": 2026, "star": "eco_livable", "code": "A B", "title": "t", "kind": "evidence"}), "code"),
        (
            json!({"year": 2026, "star": "eco_livable", "code": "A", "title": "t", "kind": "auto", "threshold": 1}),
            "metric",
        ),
        (
            json!({"year": 2026, "star": "eco_livable", "code": "A", "title": "t", "kind": "auto", "metric": "points_per_member"}),
            "threshold",
        ),
        (
            json!({"year": 2026, "star": "eco_livable", "code": "A", "title": "t", "kind": "auto", "metric": "happiness", "threshold": 1}),
            "metric",
        ),
        (
            json!({"year": 2026, "star": "eco_livable", "code": "A", "title": "t", "kind": "evidence", "metric": "points_per_member"}),
            "kind",
        ),
        (json!({"year": 2026, "star": "eco_livable", "code": "A", "title": "t", "kind": "maybe"}), "kind"),
    ] {
        let (status, err) = app.post(&own, &c.county_admin.token, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert!(err["fields"][field].is_string(), "{body} names {field}: {err}");
    }
    let (_, list) = app.get(&format!("{own}?year=2026"), &c.county_admin.token).await;
    assert_eq!(list["items"], json!([]), "nothing was stored");
}
