//! Client methods for points, volunteer logs and leaderboards.
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{parts, Session, TestApp};

impl TestApp {
    /// Report `minutes` of service that ended an hour ago.
    pub async fn log_service(&self, token: &str, branch_id: i64, minutes: i64, star: &str) -> (StatusCode, Value) {
        let ended = self.clock.now() - chrono::Duration::hours(1);
        let started = ended - chrono::Duration::minutes(minutes);
        self.post(
            &format!("/orgs/{branch_id}/volunteer-logs"),
            token,
            json!({"description": "敬老院帮厨", "star": star, "started_at": started, "ended_at": ended, "media_ids": []}),
        )
        .await
    }

    pub async fn review_log(&self, token: &str, log_id: i64, approve: bool) -> (StatusCode, Value) {
        self.post(&format!("/volunteer-logs/{log_id}/review"), token, json!({"approve": approve, "comment": "好"}))
            .await
    }

    /// An adjustment with this `Idempotency-Key`, or a fresh one for None (the key is
    /// required; `post` sends a request without one).
    pub async fn adjust(
        &self,
        token: &str,
        branch_id: i64,
        user_id: i64,
        delta: i64,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let fresh = uuid::Uuid::new_v4().to_string();
        let req = self
            .client
            .post(self.url(&format!("/api/v1/orgs/{branch_id}/points/adjust")))
            .bearer_auth(token)
            .header("Idempotency-Key", key.unwrap_or(&fresh))
            .json(&json!({"user_id": user_id, "delta": delta, "reason": "补录积分"}));
        parts(req.send().await.unwrap()).await
    }

    /// Credit `points` to a member through a secretary's adjustment (asserting success).
    pub async fn credit(&self, secretary: &Session, branch_id: i64, user_id: i64, points: i64) {
        let (status, body) = self.adjust(&secretary.token, branch_id, user_id, points, None).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    pub async fn board(&self, token: &str, org_id: i64, metric: &str, period: &str) -> (StatusCode, Value) {
        self.get(&format!("/orgs/{org_id}/leaderboard?metric={metric}&period={period}"), token).await
    }
}
