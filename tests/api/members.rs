//! `/me` and member lists, with phone masking.
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{parts, spawn_app};

#[tokio::test]
async fn the_owner_sees_their_phone_everyone_else_sees_it_masked() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "m-sec", tree.branch_a, "secretary").await;
    let resident = app.user_with_role(&admin, "m-res", tree.branch_a, "resident").await;

    let (status, me) = parts(
        app.call(
            Method::PATCH,
            "/me",
            Some(&resident.token),
            Some(json!({"display_name": " 小张 ", "phone": "13812340000"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["display_name"], "小张");
    assert_eq!(me["phone"], "13812340000");
    assert_eq!(me["phone_masked"], "138****0000");

    let resp = app.call(Method::GET, &format!("/orgs/{}/members", tree.branch_a), Some(&secretary.token), None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("13812340000"), "a full phone number leaked: {text}");
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entry =
        list["items"].as_array().unwrap().iter().find(|m| m["id"] == resident.user_id).expect("the resident is listed");
    assert_eq!(entry["phone_masked"], "138****0000");
    assert_eq!(entry["roles"], json!([{"role": "resident", "org_id": tree.branch_a}]));
}

#[tokio::test]
async fn a_resident_cannot_list_members_and_the_township_sees_every_branch() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let resident = app.user_with_role(&admin, "m-res", tree.branch_a, "resident").await;
    let other = app.user_with_role(&admin, "m-other", tree.branch_b, "resident").await;
    let township = app.user_with_role(&admin, "m-town", tree.township, "township_admin").await;

    let (status, body) = app.get(&format!("/orgs/{}/members", tree.branch_a), &resident.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (status, list) = app.get(&format!("/orgs/{}/members", tree.township), &township.token).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<i64> = list["items"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert!(
        ids.contains(&resident.user_id) && ids.contains(&other.user_id) && ids.contains(&township.user_id),
        "{ids:?}"
    );
}

#[tokio::test]
async fn profile_updates_are_validated_and_change_nothing_when_refused() {
    let app = spawn_app().await;
    let user = app.wechat_user("m-val").await;
    let (status, body) = parts(
        app.call(Method::PATCH, "/me", Some(&user.token), Some(json!({"display_name": "", "phone": "12345"}))).await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["display_name"].is_string() && body["fields"]["phone"].is_string(), "{body}");
    // A name that hides or reorders text reads as someone else's: refused.
    for hidden in ["王\u{200B}书记", "\u{202E}记书王", "王书记\u{2066}"] {
        let (status, body) =
            parts(app.call(Method::PATCH, "/me", Some(&user.token), Some(json!({"display_name": hidden}))).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{hidden:?}: {body}");
        assert!(body["fields"]["display_name"].is_string(), "{body}");
    }
    let (_, me) = app.get("/me", &user.token).await;
    assert_eq!(me["display_name"], "微信用户");
    assert!(me["phone"].is_null());
}
