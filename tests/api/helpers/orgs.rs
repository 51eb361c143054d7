//! Client methods for the org tree, roles, invites and membership.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{parts, Session, TestApp, Tree};

impl TestApp {
    pub async fn create_org(&self, token: &str, parent_id: Option<i64>, name: &str, kind: &str) -> (StatusCode, Value) {
        self.post("/orgs", token, json!({"parent_id": parent_id, "name": name, "kind": kind})).await
    }

    pub async fn grant(&self, token: &str, org_id: i64, user_id: i64, role: &str) -> (StatusCode, Value) {
        self.role_change(Method::PUT, token, org_id, user_id, role).await
    }

    pub async fn revoke(&self, token: &str, org_id: i64, user_id: i64, role: &str) -> (StatusCode, Value) {
        self.role_change(Method::DELETE, token, org_id, user_id, role).await
    }

    async fn role_change(
        &self,
        how: Method,
        token: &str,
        org_id: i64,
        user_id: i64,
        role: &str,
    ) -> (StatusCode, Value) {
        let body = json!({"user_id": user_id, "role": role});
        parts(self.call(how, &format!("/orgs/{org_id}/roles"), Some(token), Some(body)).await).await
    }

    pub async fn invite(
        &self,
        token: &str,
        branch_id: i64,
        role: &str,
        max_uses: i64,
        expires_in_hours: i64,
    ) -> (StatusCode, Value) {
        let expires_at = self.clock.now() + chrono::Duration::hours(expires_in_hours);
        self.post(
            &format!("/orgs/{branch_id}/invites"),
            token,
            json!({"role": role, "max_uses": max_uses, "expires_at": expires_at}),
        )
        .await
    }

    pub async fn join(&self, token: &str, code: &str) -> (StatusCode, Value) {
        self.post("/me/join", token, json!({"code": code})).await
    }

    /// county > township > two branches, each with one grid; created by `admin`.
    pub async fn tree(&self, admin: &Session) -> Tree {
        let make = |parent: Option<i64>, name: &'static str, kind: &'static str| {
            let token = admin.token.clone();
            async move {
                let (status, body) = self.create_org(&token, parent, name, kind).await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                body["id"].as_i64().unwrap()
            }
        };
        let county = make(None, "测试县", "county").await;
        let township = make(Some(county), "测试镇", "township").await;
        let branch_a = make(Some(township), "甲村党支部", "branch").await;
        let grid_a = make(Some(branch_a), "甲村第一网格", "grid").await;
        let branch_b = make(Some(township), "乙村党支部", "branch").await;
        let grid_b = make(Some(branch_b), "乙村第一网格", "grid").await;
        Tree { county, township, branch_a, grid_a, branch_b, grid_b }
    }

    /// A WeChat user holding `role` at `org_id`: a staff role granted by `admin`, a
    /// membership role (resident, party_member) by joining with an invite `admin` made, as
    /// people join a branch.
    pub async fn user_with_role(&self, admin: &Session, openid: &str, org_id: i64, role: &str) -> Session {
        let user = self.wechat_user(openid).await;
        if matches!(role, "resident" | "party_member") {
            self.join_by_invite(admin, &user, org_id, role).await;
        } else {
            let (status, body) = self.grant(&admin.token, org_id, user.user_id, role).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        user
    }

    /// `user` joins `branch_id` as `role` with a one-use invite made by `inviter`.
    pub async fn join_by_invite(&self, inviter: &Session, user: &Session, branch_id: i64, role: &str) {
        let (status, invite) = self.invite(&inviter.token, branch_id, role, 1, 24).await;
        assert_eq!(status, StatusCode::CREATED, "{invite}");
        let (status, body) = self.join(&user.token, invite["code"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}
