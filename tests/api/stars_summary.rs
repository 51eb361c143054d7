//! The stars' summary for a county and a township (三星以上支部占比), against a small known
//! rating: branch A holds three stars, branch B one, branch C (another township) none with
//! an application waiting.
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Session, TestApp};

/// Apply for `stars` at `branch` as `secretary`, pass it at both levels and award it.
async fn award(app: &TestApp, secretary: &Session, reviewer: &Session, branch: i64, stars: Value) {
    let (status, a) = app
        .post(
            &format!("/orgs/{branch}/star-applications"),
            &secretary.token,
            json!({"year": 2026, "stars": stars, "statement": "申报"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let review = format!("/star-applications/{}/review", a["id"]);
    for _ in 0..2 {
        let (status, body) = app.post(&review, &reviewer.token, json!({"decision": "pass"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let later = app.clock.now() + chrono::Duration::days(6);
    assert_eq!(fivestar::stars::applications::award_due(&app.state, later).await.unwrap(), 1);
}

#[tokio::test]
async fn the_summary_counts_branches_by_stars_for_the_county_and_each_child() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let (_, east) = app.create_org(&admin.token, Some(tree.county), "东乡", "township").await;
    let east = east["id"].as_i64().unwrap();
    let (_, branch_c) = app.create_org(&admin.token, Some(east), "丙村党支部", "branch").await;
    let branch_c = branch_c["id"].as_i64().unwrap();
    let county = app.user_with_role(&admin, "sum-county", tree.county, "county_admin").await;
    let town = app.user_with_role(&admin, "sum-town", tree.township, "township_admin").await;
    let sec_a = app.user_with_role(&admin, "sum-a", tree.branch_a, "secretary").await;
    let sec_b = app.user_with_role(&admin, "sum-b", tree.branch_b, "secretary").await;
    let sec_c = app.user_with_role(&admin, "sum-c", branch_c, "secretary").await;
    award(&app, &sec_a, &county, tree.branch_a, json!(["strong_branch", "safe_lawful", "civil_happy"])).await;
    award(&app, &sec_b, &county, tree.branch_b, json!(["civil_happy"])).await;
    let (status, _) = app
        .post(
            &format!("/orgs/{branch_c}/star-applications"),
            &sec_c.token,
            json!({"year": 2026, "stars": ["eco_livable"], "statement": "申报"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, s) = app.get(&format!("/orgs/{}/stars/summary?year=2026", tree.county), &county.token).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["branches"].as_u64(), Some(3));
    assert_eq!(s["by_count"], json!({"0": 1, "1": 1, "2": 0, "3": 1, "4": 0, "5": 0}));
    assert!((s["three_plus_share"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9, "{s}");
    assert_eq!(
        s["by_star"],
        json!({"civil_happy": 2, "eco_livable": 0, "safe_lawful": 1, "strong_branch": 1, "thriving_industry": 0})
    );
    assert_eq!(s["applications"]["awarded"].as_u64(), Some(2));
    assert_eq!(s["applications"]["submitted"].as_u64(), Some(1));
    assert_eq!(s["applications"]["rejected"].as_u64(), Some(0), "every status present: {s}");
    let children = s["children"].as_array().unwrap();
    assert_eq!(children.len(), 2, "{s}");
    let of = |id: i64| children.iter().find(|c| c["org_id"].as_i64() == Some(id)).cloned().unwrap();
    assert_eq!(
        (of(tree.township)["branches"].as_u64(), of(tree.township)["three_plus_share"].as_f64()),
        (Some(2), Some(0.5))
    );
    assert_eq!((of(east)["branches"].as_u64(), of(east)["three_plus_share"].as_f64()), (Some(1), Some(0.0)));

    // The same for a township, whose children are its branches.
    let (status, t) = app.get(&format!("/orgs/{}/stars/summary?year=2026", tree.township), &town.token).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!((t["branches"].as_u64(), t["three_plus_share"].as_f64()), (Some(2), Some(0.5)));
    let shares: Vec<(i64, f64)> = t["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["org_id"].as_i64().unwrap(), c["three_plus_share"].as_f64().unwrap()))
        .collect();
    assert!(shares.contains(&(tree.branch_a, 1.0)) && shares.contains(&(tree.branch_b, 0.0)), "{t}");

    // A revoked star no longer counts.
    let (status, _) = app
        .post(
            &format!("/orgs/{}/star-ratings/2026/revoke", tree.branch_a),
            &county.token,
            json!({"star": "civil_happy", "reason": "摘星"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, s) = app.get(&format!("/orgs/{}/stars/summary?year=2026", tree.county), &county.token).await;
    assert_eq!((s["by_count"]["2"].as_u64(), s["three_plus_share"].as_f64()), (Some(1), Some(0.0)));

    let (status, _) = app.get(&format!("/orgs/{}/stars/summary", tree.county), &sec_a.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a branch's secretary is not township staff");
    let (status, _) = app.get(&format!("/orgs/{}/stars/summary", tree.branch_a), &county.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a summary is of a township or a county");
    let (status, empty) = app.get(&format!("/orgs/{}/stars/summary?year=2027", tree.county), &county.token).await;
    assert_eq!((status, empty["three_plus_share"].as_f64()), (StatusCode::OK, Some(0.0)));
    assert_eq!(empty["by_count"]["0"].as_u64(), Some(3), "another year: nothing rated");
}
