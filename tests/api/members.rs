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

mod leaving {
    use reqwest::{Method, StatusCode};
    use serde_json::{json, Value};

    use crate::helpers::{parts, spawn_app, Session, TestApp};

    async fn remove(app: &TestApp, who: &Session, branch: i64, user: i64, body: Value) -> (StatusCode, Value) {
        let resp =
            app.call(Method::DELETE, &format!("/orgs/{branch}/members/{user}"), Some(&who.token), Some(body)).await;
        let status = resp.status();
        if status == StatusCode::NO_CONTENT {
            return (status, Value::Null);
        }
        parts(resp).await
    }

    #[tokio::test]
    async fn a_removed_member_loses_the_branch_and_their_card_but_keeps_the_ledger() {
        let app = spawn_app().await;
        let admin = app.super_admin().await;
        let tree = app.tree(&admin).await;
        let secretary = app.user_with_role(&admin, "l-sec", tree.branch_a, "secretary").await;
        let member = app.user_with_role(&admin, "l-mem", tree.branch_a, "resident").await;
        let other = app.user_with_role(&admin, "l-other", tree.branch_a, "resident").await;
        let outsider = app.user_with_role(&admin, "l-out", tree.branch_b, "resident").await;
        app.credit(&secretary, tree.branch_a, member.user_id, 9).await;
        app.publish_task(&secretary, tree.branch_a, 1, false).await;
        let (status, card) = app.draw(&member.token, tree.branch_a).await;
        assert_eq!(status, StatusCode::CREATED, "{card}");
        let (status, body) = app.draw(&other.token, tree.branch_a).await;
        assert_eq!(body["code"], "pool_empty", "{status}");

        // A reason is required; a non-member cannot be removed; nobody removes themselves.
        let (status, body) = remove(&app, &secretary, tree.branch_a, member.user_id, json!({"reason": " "})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["fields"]["reason"].is_string(), "{body}");
        let (status, body) =
            remove(&app, &secretary, tree.branch_a, outsider.user_id, json!({"reason": "不在本支部"})).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("not_a_member")), "{body}");
        let (status, body) = remove(&app, &member, tree.branch_a, other.user_id, json!({"reason": "我不是书记"})).await;
        assert_eq!((status, body["required_role"].as_str()), (StatusCode::FORBIDDEN, Some("secretary")), "{body}");

        let (status, body) =
            remove(&app, &secretary, tree.branch_a, member.user_id, json!({"reason": "已搬离本社区"})).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (_, me) = app.get("/me", &member.token).await;
        assert_eq!((me["roles"].as_array().map(Vec::len), me["home_branch_id"].is_null()), (Some(0), true), "{me}");
        let (status, _) = app.draw(&member.token, tree.branch_a).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "no longer a member");
        let (status, drawn) = app.draw(&other.token, tree.branch_a).await;
        assert_eq!(status, StatusCode::CREATED, "the released card is drawable by another member: {drawn}");
        assert_eq!(drawn["id"], card["id"]);
        let (_, points) = app.get("/me/points", &member.token).await;
        assert_eq!(points["balance"], 9, "the ledger stays: {points}");

        let (_, audit) =
            app.get(&format!("/orgs/{}/audit?action=member.remove", tree.branch_a), &secretary.token).await;
        let row = &audit["items"][0];
        assert_eq!(
            (row["reason"].as_str(), row["actor_id"].as_i64()),
            (Some("已搬离本社区"), Some(secretary.user_id)),
            "{audit}"
        );
        assert_eq!(row["target"], format!("user:{}", member.user_id));
        assert_eq!(row["after"]["cards_released"], 1);
    }

    #[tokio::test]
    async fn a_member_leaves_by_themselves() {
        let app = spawn_app().await;
        let admin = app.super_admin().await;
        let tree = app.tree(&admin).await;
        let secretary = app.user_with_role(&admin, "lv-sec", tree.branch_a, "secretary").await;
        let member = app.user_with_role(&admin, "lv-mem", tree.branch_a, "party_member").await;
        app.publish_task(&secretary, tree.branch_a, 2, false).await;
        app.draw(&member.token, tree.branch_a).await;
        let (status, me) = app.post("/me/leave", &member.token, json!({"reason": "工作调动"})).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert!(me["home_branch_id"].is_null() && me["roles"] == json!([]), "{me}");
        assert_eq!(app.pool_size(tree.branch_a).await, 2, "the held card is back");
        let (status, body) = app.post("/me/leave", &member.token, json!({})).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("not_a_member")));
        let (_, audit) = app.get(&format!("/orgs/{}/audit?action=member.leave", tree.branch_a), &secretary.token).await;
        assert_eq!(audit["items"][0]["actor_id"], member.user_id, "{audit}");
    }

    #[tokio::test]
    async fn invites_are_listed_and_ended() {
        let app = spawn_app().await;
        let admin = app.super_admin().await;
        let tree = app.tree(&admin).await;
        let secretary = app.user_with_role(&admin, "inv-sec", tree.branch_a, "secretary").await;
        let resident = app.user_with_role(&admin, "inv-res", tree.branch_a, "resident").await;
        let (_, first) = app.invite(&secretary.token, tree.branch_a, "resident", 5, 24).await;
        let (_, second) = app.invite(&secretary.token, tree.branch_a, "party_member", 1, 24).await;
        let (status, list) = app.get(&format!("/orgs/{}/invites", tree.branch_a), &secretary.token).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let codes: Vec<&str> = list["items"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
        assert_eq!(codes, [second["code"].as_str().unwrap(), first["code"].as_str().unwrap()], "newest first");
        let (status, _) = app.get(&format!("/orgs/{}/invites", tree.branch_a), &resident.token).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let code = first["code"].as_str().unwrap();
        let (status, _) =
            parts(app.call(Method::DELETE, &format!("/invites/{code}"), Some(&resident.token), None).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a resident ends no invite");
        let resp = app.call(Method::DELETE, &format!("/invites/{code}"), Some(&secretary.token), None).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let (_, list) = app.get(&format!("/orgs/{}/invites", tree.branch_a), &secretary.token).await;
        assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
        let newcomer = app.wechat_user("inv-new").await;
        let (status, body) = app.join(&newcomer.token, code).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::GONE, Some("invite_expired")), "{body}");
        let (status, _) =
            parts(app.call(Method::DELETE, "/invites/NOSUCHCODE", Some(&secretary.token), None).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn the_audit_log_is_read_by_the_branch_and_the_admins_above_with_filters() {
        let app = spawn_app().await;
        let admin = app.super_admin().await;
        let tree = app.tree(&admin).await;
        let secretary = app.user_with_role(&admin, "au-sec", tree.branch_a, "secretary").await;
        let township = app.user_with_role(&admin, "au-town", tree.township, "township_admin").await;
        let member = app.user_with_role(&admin, "au-mem", tree.branch_a, "resident").await;
        let body = json!({"user_id": member.user_id, "role": "party_member", "reason": "表现突出，转为党员"});
        let resp =
            app.call(Method::PUT, &format!("/orgs/{}/roles", tree.branch_a), Some(&secretary.token), Some(body)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        app.credit(&secretary, tree.branch_a, member.user_id, 3).await;

        let (status, log) = app.get(&format!("/orgs/{}/audit", tree.branch_a), &secretary.token).await;
        assert_eq!(status, StatusCode::OK, "{log}");
        let items = log["items"].as_array().unwrap();
        let ids: Vec<i64> = items.iter().map(|i| i["id"].as_i64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
        assert_eq!(items[0]["action"], "points.adjust");
        let grant = items.iter().find(|i| i["action"] == "role.grant" && i["actor_id"] == secretary.user_id).unwrap();
        assert_eq!(grant["reason"], "表现突出，转为党员");
        assert!(grant["actor_name"].is_string(), "{grant}");

        let (_, only) = app
            .get(
                &format!("/orgs/{}/audit?action=role.grant&actor_id={}", tree.branch_a, secretary.user_id),
                &secretary.token,
            )
            .await;
        assert_eq!(only["items"].as_array().map(Vec::len), Some(1), "{only}");
        let later = (app.clock.now() + chrono::Duration::hours(1)).to_rfc3339().replace('+', "%2B");
        let (_, none) = app.get(&format!("/orgs/{}/audit?from={later}", tree.branch_a), &secretary.token).await;
        assert_eq!(none["items"], json!([]), "{none}");

        // The township admin reads the branch's rows through the township; the secretary
        // does not read the township's; a resident reads none.
        let (status, above) =
            app.get(&format!("/orgs/{}/audit?action=role.grant", tree.township), &township.token).await;
        assert_eq!(status, StatusCode::OK);
        assert!(above["items"].as_array().unwrap().iter().any(|i| i["reason"] == "表现突出，转为党员"), "{above}");
        let (status, body) = app.get(&format!("/orgs/{}/audit", tree.township), &secretary.token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = app.get(&format!("/orgs/{}/audit", tree.branch_a), &member.token).await;
        assert_eq!((status, body["required_role"].as_str()), (StatusCode::FORBIDDEN, Some("secretary")));
    }
}
