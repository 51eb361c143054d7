//! The org tree: nesting rules, scope, role grants, audit rows.
use entity::audit_log;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use std::time::{Duration, Instant};

use crate::helpers::{spawn_app, wait_for};

#[tokio::test]
async fn orgs_nest_one_level_at_a_time() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let (status, county) = app.create_org(&admin.token, None, "县", "county").await;
    assert_eq!(status, StatusCode::CREATED, "{county}");
    assert_eq!(county["kind"], "county");
    let county = county["id"].as_i64().unwrap();

    let (status, body) = app.create_org(&admin.token, Some(county), "支部", "branch").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a branch directly under a county");
    assert_eq!(body["code"], "validation_failed");
    assert!(body["fields"]["kind"].is_string(), "{body}");

    let (status, body) = app.create_org(&admin.token, Some(county), "县二", "county").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app.create_org(&admin.token, None, "镇", "township").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "only a county has no parent: {body}");
    let (status, body) = app.create_org(&admin.token, Some(county), "", "village").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["kind"].is_string() && body["fields"]["name"].is_string(), "{body}");

    let (status, township) = app.create_org(&admin.token, Some(county), "镇", "township").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(township["parent_id"], county);
    let township_id = township["id"].as_i64().unwrap();
    let (_, branch) = app.create_org(&admin.token, Some(township_id), "支部", "branch").await;
    assert_eq!((branch["points_per_hour"].as_i64(), branch["card_limit"].as_i64()), (Some(10), Some(1)), "{branch}");
    let (_, grid) = app.create_org(&admin.token, Some(branch["id"].as_i64().unwrap()), "网格", "grid").await;
    for org in [&township, &grid] {
        let obj = org.as_object().unwrap();
        assert!(!obj.contains_key("points_per_hour") && !obj.contains_key("card_limit"), "branch-only settings: {org}");
    }
    let (status, body) = app.create_org(&admin.token, Some(township["id"].as_i64().unwrap()), "网格", "grid").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn only_a_super_admin_creates_a_county_and_admins_create_below_them() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let county_admin = app.user_with_role(&admin, "o-county", tree.county, "county_admin").await;
    let secretary = app.user_with_role(&admin, "o-sec", tree.branch_a, "secretary").await;

    let (status, _) = app.create_org(&county_admin.token, None, "另一个县", "county").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.create_org(&county_admin.token, Some(tree.county), "新镇", "township").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = app.create_org(&secretary.token, Some(tree.branch_a), "新网格", "grid").await;
    assert_eq!(status, StatusCode::CREATED, "a secretary adds grids to their branch");
    let (status, _) = app.create_org(&secretary.token, Some(tree.township), "新支部", "branch").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the township is above the secretary's scope");
}

#[tokio::test]
async fn a_secretary_of_branch_a_sees_nothing_of_branch_b() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let sec_a = app.user_with_role(&admin, "o-sec-a", tree.branch_a, "secretary").await;
    let outsider = app.wechat_user("o-outsider").await;

    let (status, _) = app.get(&format!("/orgs/{}", tree.branch_a), &sec_a.token).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        format!("/orgs/{}", tree.branch_b),
        format!("/orgs/{}/children", tree.branch_b),
        format!("/orgs/{}/members", tree.branch_b),
        format!("/orgs/{}", tree.grid_b),
        format!("/orgs/{}", tree.township),
    ] {
        let (status, body) = app.get(&path, &sec_a.token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {status} {body}");
    }
    let (status, _) = app.invite(&sec_a.token, tree.branch_b, "resident", 5, 24).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "out of reach: 404");
    let (status, _) = app.grant(&sec_a.token, tree.branch_b, outsider.user_id, "resident").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "out of reach: 404");
    let (status, _) = app.create_org(&sec_a.token, Some(tree.branch_b), "网格", "grid").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "out of reach: 404");

    // A user with no role sees no org at all.
    let (status, _) = app.get(&format!("/orgs/{}", tree.county), &outsider.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn children_are_paginated_by_cursor() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let (status, page1) = app.get(&format!("/orgs/{}/children?limit=1", tree.township), &admin.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page1["items"].as_array().unwrap().len(), 1);
    assert_eq!(page1["items"][0]["id"], tree.branch_a);
    let cursor = page1["next_cursor"].as_str().expect("a second page exists");
    let (_, page2) = app.get(&format!("/orgs/{}/children?limit=1&cursor={cursor}", tree.township), &admin.token).await;
    assert_eq!(page2["items"][0]["id"], tree.branch_b);
    assert!(page2["next_cursor"].is_null());
}

#[tokio::test]
async fn nobody_grants_a_role_above_their_own() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "o-sec", tree.branch_a, "secretary").await;
    let resident = app.user_with_role(&admin, "o-res", tree.branch_a, "resident").await;
    let someone = app.wechat_user("o-someone").await;

    let (status, _) = app.grant(&secretary.token, tree.branch_a, someone.user_id, "secretary").await;
    assert_eq!(status, StatusCode::OK, "a secretary may make a fellow secretary");
    let (status, _) = app.grant(&secretary.token, tree.grid_a, someone.user_id, "grid_worker").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.grant(&secretary.token, tree.branch_a, someone.user_id, "county_admin").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.grant(&resident.token, tree.branch_a, someone.user_id, "resident").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a resident grants nothing");
    let (status, body) = app.grant(&admin.token, tree.branch_a, someone.user_id, "super_admin").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "super_admin comes only from the CLI: {body}");
    let (status, body) = app.grant(&admin.token, tree.grid_a, someone.user_id, "secretary").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a secretary sits at a branch: {body}");
    let (status, _) = app.grant(&admin.token, tree.branch_a, 999_999, "resident").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The grant is effective at once, and so is its revocation.
    let (status, _) = app.get(&format!("/orgs/{}/members", tree.branch_a), &someone.token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.revoke(&secretary.token, tree.branch_a, someone.user_id, "secretary").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.revoke(&secretary.token, tree.grid_a, someone.user_id, "grid_worker").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&format!("/orgs/{}/members", tree.branch_a), &someone.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.revoke(&secretary.token, tree.branch_a, someone.user_id, "secretary").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing left to revoke");
}

#[tokio::test]
async fn privileged_changes_are_audited() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "o-sec", tree.branch_a, "secretary").await;
    let (status, _) = app.invite(&secretary.token, tree.branch_a, "resident", 3, 24).await;
    assert_eq!(status, StatusCode::CREATED);
    app.revoke(&admin.token, tree.branch_a, secretary.user_id, "secretary").await;

    let rows = audit_log::Entity::find().all(&app.state.db).await.unwrap();
    let count = |action: &str| rows.iter().filter(|r| r.action == action).count();
    assert_eq!(count("org.create"), 6, "one per org of the tree");
    let grant = rows
        .iter()
        .find(|r| r.action == "role.grant" && r.target_id == secretary.user_id.to_string())
        .expect("the grant is audited");
    assert_eq!(grant.actor_id, Some(admin.user_id));
    assert_eq!(grant.after.as_ref().unwrap()["role"], "secretary");
    let invite = rows.iter().find(|r| r.action == "invite.create").expect("the invite is audited");
    assert_eq!(invite.actor_id, Some(secretary.user_id));
    assert_eq!(invite.org_id, Some(tree.branch_a));
    let revoke = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("role.revoke"))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("the revocation is audited");
    assert_eq!(revoke.before.as_ref().unwrap()["role"], "secretary");
    assert!(revoke.after.is_none());
}

#[tokio::test]
async fn a_role_revoked_through_one_server_is_gone_on_another_at_once() {
    let app = spawn_app().await;
    let other = app.spawn_sibling().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "o-feed", tree.branch_a, "secretary").await;
    wait_for("both servers on the role feed", || async {
        app.state.caches.callers.subscribed() && other.state.caches.callers.subscribed()
    })
    .await;
    let members = format!("/orgs/{}/members", tree.branch_a);
    let (status, _) = other.get(&members, &secretary.token).await;
    assert_eq!(status, StatusCode::OK, "the other server now holds the secretary's roles in its cache");

    let (status, _) = app.revoke(&admin.token, tree.branch_a, secretary.user_id, "secretary").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Well within the two seconds a cached entry used to live.
    let revoked = Instant::now();
    loop {
        let (status, _) = other.get(&members, &secretary.token).await;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        assert!(revoked.elapsed() < Duration::from_millis(1500), "the other server still answers {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The High hole of 2026-11-29: a secretary's membership grant pulled anyone into her
/// branch. Now it reaches nobody outside her branch, and a refusal changes nothing.
#[tokio::test]
async fn a_membership_grant_reaches_nobody_outside_the_granters_branch() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let county_a = app.tree(&admin).await;
    let county_b = app.tree(&admin).await;
    let sec_a = app.user_with_role(&admin, "g-sec-a", county_a.branch_a, "secretary").await;
    let sec_b = app.user_with_role(&admin, "g-sec-b", county_b.branch_a, "secretary").await;

    // A resident of county B who holds a card there.
    let resident_b = app.user_with_role(&admin, "g-res-b", county_b.branch_a, "resident").await;
    app.publish_task(&sec_b, county_b.branch_a, 3, false).await;
    let (status, card) = app.draw(&resident_b.token, county_b.branch_a).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    // County B's admin and the super admin, each a member of a branch in county B.
    let admin_b = app.user_with_role(&admin, "g-admin-b", county_b.county, "county_admin").await;
    app.join_by_invite(&admin, &admin_b, county_b.branch_b, "party_member").await;
    app.join_by_invite(&admin, &admin, county_b.branch_a, "resident").await;
    // A member of the sibling branch of her own township.
    let sibling = app.user_with_role(&admin, "g-sibling", county_a.branch_b, "resident").await;

    for (who, victim) in [
        ("county B's resident", &resident_b),
        ("county B's admin", &admin_b),
        ("the super admin", &admin),
        ("a sibling branch's member", &sibling),
    ] {
        let (_, before) = app.get("/me", &victim.token).await;
        for role in ["resident", "party_member"] {
            let (status, body) = app.grant(&sec_a.token, county_a.branch_a, victim.user_id, role).await;
            assert_eq!(status, StatusCode::CONFLICT, "{who} as {role}: {body}");
            assert_eq!(body["code"], "member_of_other_branch", "{who}: {body}");
        }
        let (status, body) = app.revoke(&sec_a.token, county_a.branch_a, victim.user_id, "resident").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{who} holds nothing at her branch to revoke: {body}");
        let (_, after) = app.get("/me", &victim.token).await;
        assert_eq!(before, after, "{who}'s home branch and roles are unchanged");
    }
    let (_, me) = app.get("/me", &resident_b.token).await;
    assert_eq!(me["home_branch_id"], county_b.branch_a);
    let (_, mine) = app.get("/me/cards", &resident_b.token).await;
    assert_eq!(mine["items"][0]["id"], card["id"], "the card is still the resident's");
    assert_eq!(mine["items"][0]["status"], "claimed");
    let (status, members) = app.get(&format!("/orgs/{}/members", county_b.branch_a), &sec_b.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        members["items"].as_array().unwrap().iter().any(|m| m["id"] == resident_b.user_id),
        "still on her own branch's member list: {members}"
    );
    let grants = audit_log::Entity::find()
        .filter(audit_log::Column::ActorId.eq(sec_a.user_id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(grants.is_empty(), "a refused grant writes nothing: {grants:?}");
}

#[tokio::test]
async fn membership_roles_go_only_to_members_of_that_branch() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let secretary = app.user_with_role(&admin, "m-sec", tree.branch_a, "secretary").await;

    // Nobody's member yet: they are sent an invite, not a role.
    let stranger = app.wechat_user("m-stranger").await;
    let (status, body) = app.grant(&secretary.token, tree.branch_a, stranger.user_id, "resident").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "not_a_member");
    let (_, me) = app.get("/me", &stranger.token).await;
    assert!(me["home_branch_id"].is_null() && me["roles"].as_array().unwrap().is_empty(), "{me}");

    // A resident of her own branch is promoted, and back: one membership role at a time.
    let resident = app.user_with_role(&admin, "m-res", tree.branch_a, "resident").await;
    let (status, body) = app.grant(&secretary.token, tree.branch_a, resident.user_id, "party_member").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "party_member");
    let (_, me) = app.get("/me", &resident.token).await;
    assert_eq!(me["home_branch_id"], tree.branch_a);
    assert_eq!(me["roles"], serde_json::json!([{"role": "party_member", "org_id": tree.branch_a}]));
    let (status, _) = app.grant(&secretary.token, tree.branch_a, resident.user_id, "resident").await;
    assert_eq!(status, StatusCode::OK);
    let (_, me) = app.get("/me", &resident.token).await;
    assert_eq!(me["roles"], serde_json::json!([{"role": "resident", "org_id": tree.branch_a}]));
    let promotion = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("role.grant"))
        .filter(audit_log::Column::ActorId.eq(secretary.user_id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(promotion.len(), 2, "each change is audited");
    assert_eq!(promotion[0].before.as_ref().unwrap()["role"], "resident");
    assert_eq!(promotion[0].after.as_ref().unwrap()["role"], "party_member");

    // A staff grant to someone of another branch adds that role only.
    let sibling = app.user_with_role(&admin, "m-sibling", tree.branch_b, "resident").await;
    let (status, _) = app.grant(&secretary.token, tree.grid_a, sibling.user_id, "grid_worker").await;
    assert_eq!(status, StatusCode::OK);
    let (_, me) = app.get("/me", &sibling.token).await;
    assert_eq!(me["home_branch_id"], tree.branch_b, "{me}");
    assert_eq!(me["roles"].as_array().unwrap().len(), 2, "resident at home and grid worker here: {me}");

    // Revoking the last membership role at her branch clears that home, nothing else.
    let (status, _) = app.revoke(&secretary.token, tree.branch_a, resident.user_id, "resident").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, me) = app.get("/me", &resident.token).await;
    assert!(me["home_branch_id"].is_null() && me["roles"].as_array().unwrap().is_empty(), "{me}");
}
