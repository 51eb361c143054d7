//! Client methods for logins and tokens.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{parts, session, Session, TestApp, ADMIN_PASSWORD};

impl TestApp {
    pub async fn login_wechat(&self, code: &str) -> (StatusCode, Value) {
        parts(self.call(Method::POST, "/auth/wechat", None, Some(json!({"code": code}))).await).await
    }

    pub async fn login_password(&self, username: &str, password: &str) -> (StatusCode, Value) {
        parts(
            self.call(Method::POST, "/auth/password", None, Some(json!({"username": username, "password": password})))
                .await,
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        parts(self.call(Method::POST, "/auth/refresh", None, Some(json!({"refresh_token": refresh_token}))).await).await
    }

    /// A new WeChat user, logged in.
    pub async fn wechat_user(&self, openid: &str) -> Session {
        let code = format!("code-{openid}-{}", uuid::Uuid::new_v4().simple());
        self.mock_wechat_code(&code, openid).await;
        let (status, body) = self.login_wechat(&code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        session(&body)
    }

    /// A super_admin made the way `fivestar admin create` makes one, logged in by password.
    pub async fn super_admin(&self) -> Session {
        let username = format!("root{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        fivestar::auth::service::create_super_admin(&self.state.db, &username, ADMIN_PASSWORD, self.clock.now())
            .await
            .expect("create a super admin");
        let (status, body) = self.login_password(&username, ADMIN_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        session(&body)
    }

    /// Set `user`'s display name (asserting success).
    pub async fn rename(&self, user: &Session, name: &str) {
        let (status, body) =
            parts(self.call(Method::PATCH, "/me", Some(&user.token), Some(json!({"display_name": name}))).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}
