//! Invites into a branch: joining, expiry, use limits, races.
use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn joining_by_invite_makes_the_branch_home_with_the_role() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "i-sec", tree.branch_a, "secretary").await;
    let (status, invite) = app.invite(&secretary.token, tree.branch_a, "party_member", 10, 24).await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    let code = invite["code"].as_str().unwrap();

    let newcomer = app.wechat_user("i-new").await;
    let (status, me) = app.join(&newcomer.token, code).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["home_branch_id"], tree.branch_a);
    assert_eq!(me["roles"], serde_json::json!([{"role": "party_member", "org_id": tree.branch_a}]));

    // Joining again with the same code changes nothing and takes no second use.
    let (status, _) = app.join(&newcomer.token, &code.to_lowercase()).await;
    assert_eq!(status, StatusCode::OK);

    // Joining another branch moves the home branch.
    let (_, other) = app.invite(&admin.token, tree.branch_b, "resident", 1, 24).await;
    let (status, me) = app.join(&newcomer.token, other["code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["home_branch_id"], tree.branch_b);
    assert_eq!(me["roles"], serde_json::json!([{"role": "resident", "org_id": tree.branch_b}]));
}

#[tokio::test]
async fn an_expired_invite_is_410() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let (_, invite) = app.invite(&admin.token, tree.branch_a, "resident", 10, 1).await;
    app.clock.advance(chrono::Duration::hours(2));
    let user = app.wechat_user("i-late").await;
    let (status, body) = app.join(&user.token, invite["code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(body["code"], "invite_expired");
    let (_, me) = app.get("/me", &user.token).await;
    assert!(me["home_branch_id"].is_null(), "a refused join changes nothing");
}

#[tokio::test]
async fn a_used_up_invite_is_410_and_racing_joins_take_the_last_use_once() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let (_, invite) = app.invite(&admin.token, tree.branch_a, "resident", 1, 24).await;
    let code = invite["code"].as_str().unwrap();
    let (a, b, c) = tokio::join!(app.wechat_user("i-a"), app.wechat_user("i-b"), app.wechat_user("i-c"));
    let (ra, rb, rc) = tokio::join!(app.join(&a.token, code), app.join(&b.token, code), app.join(&c.token, code));
    let statuses = [ra.0, rb.0, rc.0];
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::GONE).count(), 2, "{statuses:?}");
}

#[tokio::test]
async fn invites_are_validated() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let (status, body) = app.invite(&admin.token, tree.branch_a, "secretary", 1, 24).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["role"].is_string(), "{body}");
    let (status, body) = app.invite(&admin.token, tree.branch_a, "resident", 0, 24).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["max_uses"].is_string(), "{body}");
    let (status, body) = app.invite(&admin.token, tree.branch_a, "resident", 1, -1).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["expires_at"].is_string(), "{body}");
    let (status, _) = app.invite(&admin.token, tree.township, "resident", 1, 24).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "invites lead into a branch");

    let resident = app.user_with_role(&admin, "i-res", tree.branch_a, "resident").await;
    let (status, _) = app.invite(&resident.token, tree.branch_a, "resident", 1, 24).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = app.join(&resident.token, "NOSUCHCODE").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
