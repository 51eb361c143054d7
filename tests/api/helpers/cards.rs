//! Client methods for tasks, cards and photos.
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{parts, Session, TestApp};

impl TestApp {
    /// Publish a task with `copies` cards (asserting success); returns the task.
    pub async fn publish_task(&self, secretary: &Session, branch_id: i64, copies: i64, requires_photo: bool) -> Value {
        let (status, task) = self
            .post(
                &format!("/orgs/{branch_id}/tasks"),
                &secretary.token,
                json!({"title": "反诈宣传", "description": "给邻居讲一次反诈知识", "star": "safe_lawful",
                       "points": 5, "volunteer_minutes": 30, "copies": copies, "claim_ttl_minutes": 60,
                       "requires_photo": requires_photo}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{task}");
        task
    }

    /// How many cards the branch's Redis pool holds.
    pub async fn pool_size(&self, branch: i64) -> usize {
        self.try_pool_size(branch).await.unwrap()
    }

    /// After Redis restarts, the first command on a connection idle since it went away
    /// fails (broken pipe) and sets off the reconnect: waits after a restart use this.
    pub async fn try_pool_size(&self, branch: i64) -> redis::RedisResult<usize> {
        let mut conn = self.state.redis.conn().await?;
        redis::cmd("SCARD").arg(self.state.redis.keys().pool(branch)).query_async(&mut conn).await
    }

    pub async fn draw(&self, token: &str, branch_id: i64) -> (StatusCode, Value) {
        self.post(&format!("/orgs/{branch_id}/cards/draw"), token, json!({})).await
    }

    pub async fn submit_card(&self, token: &str, card_id: i64, media_ids: &[i64]) -> (StatusCode, Value) {
        self.post(&format!("/cards/{card_id}/submit"), token, json!({"note": "已完成", "media_ids": media_ids})).await
    }

    pub async fn release_card(&self, token: &str, card_id: i64) -> (StatusCode, Value) {
        self.post(&format!("/cards/{card_id}/release"), token, json!({})).await
    }

    pub async fn review_card(&self, token: &str, card_id: i64, approve: bool) -> (StatusCode, Value) {
        self.post(&format!("/cards/{card_id}/review"), token, json!({"approve": approve, "comment": "辛苦了"})).await
    }

    /// Upload a small PNG as `user` (asserting success); returns the media id.
    pub async fn photo(&self, user: &Session) -> i64 {
        self.photo_of(user, 4).await
    }

    /// Upload a small PNG whose pixels depend on `seed` (a different seed, a different
    /// photo: uploads are deduplicated per person).
    pub async fn photo_of(&self, user: &Session, seed: u32) -> i64 {
        let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * seed) as u8, (y * 5) as u8, 90]));
        let mut bytes = std::io::Cursor::new(Vec::new());
        img.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(bytes.into_inner()).file_name("p.png"));
        let resp = self.client.post(self.url("/api/v1/media")).bearer_auth(&user.token).multipart(form).send().await;
        let (status, body) = parts(resp.unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }
}
