//! Client methods for incident reports.
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{parts, TestApp};

impl TestApp {
    /// POST /incidents with an optional Idempotency-Key: (status, body, replayed header).
    pub async fn file_incident(&self, token: &str, key: Option<&str>, body: &Value) -> (StatusCode, Value, bool) {
        let mut req = self.client.post(self.url("/api/v1/incidents")).bearer_auth(token).json(body);
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        let resp = req.send().await.unwrap();
        let replayed = resp.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
        let (status, body) = parts(resp).await;
        (status, body, replayed)
    }

    pub async fn incident_action(&self, token: &str, id: i64, action: &str, extra: Value) -> (StatusCode, Value) {
        let mut body = json!({"action": action, "note": format!("{action} 备注")});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.post(&format!("/incidents/{id}/actions"), token, body).await
    }
}
