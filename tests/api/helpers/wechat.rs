//! The fake WeChat API (wiremock) the tests script.
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use serde_json::json;

use super::TestApp;

impl TestApp {
    /// WeChat answers this code with this openid, as text/plain like the real one.
    pub async fn mock_wechat_code(&self, code: &str, openid: &str) {
        let body =
            json!({"openid": openid, "session_key": format!("SESSIONKEY-{openid}"), "unionid": format!("U-{openid}")});
        Mock::given(method("GET"))
            .and(path("/sns/jscode2session"))
            .and(query_param("js_code", code))
            .and(query_param("appid", "wx-test-appid"))
            .and(query_param("secret", "wx-test-secret"))
            .and(query_param("grant_type", "authorization_code"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_string(), "text/plain"))
            .mount(&self.wechat)
            .await;
    }

    /// WeChat answers this code with an error code.
    pub async fn mock_wechat_error(&self, code: &str, errcode: i64) {
        let body = json!({"errcode": errcode, "errmsg": "invalid code"});
        Mock::given(method("GET"))
            .and(path("/sns/jscode2session"))
            .and(query_param("js_code", code))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_string(), "text/plain"))
            .mount(&self.wechat)
            .await;
    }
}
