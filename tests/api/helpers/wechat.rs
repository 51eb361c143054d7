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

impl TestApp {
    /// `/cgi-bin/stable_token` answers this token (after `delay`), at most `times` times
    /// when given.
    pub async fn mock_stable_token(&self, token: &str, delay: std::time::Duration, times: Option<u64>) {
        let body = json!({"access_token": token, "expires_in": 7200});
        let mut mock = Mock::given(method("POST"))
            .and(path("/cgi-bin/stable_token"))
            .and(wiremock::matchers::body_partial_json(
                json!({"grant_type": "client_credential", "appid": "wx-test-appid", "force_refresh": false}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(body).set_delay(delay));
        if let Some(times) = times {
            mock = mock.up_to_n_times(times);
        }
        mock.mount(&self.wechat).await;
    }

    /// `/cgi-bin/message/subscribe/send` answers this errcode (to this token, when given;
    /// at most `times` times, when given).
    pub async fn mock_subscribe_send(&self, errcode: i64, token: Option<&str>, times: Option<u64>) {
        let mut mock = Mock::given(method("POST")).and(path("/cgi-bin/message/subscribe/send"));
        if let Some(token) = token {
            mock = mock.and(query_param("access_token", token));
        }
        let mut mock = mock.respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": errcode, "errmsg": format!("errcode {errcode}")})),
        );
        if let Some(times) = times {
            mock = mock.up_to_n_times(times);
        }
        mock.mount(&self.wechat).await;
    }

    /// The requests WeChat's fake received at this path.
    pub async fn wechat_requests(&self, at: &str) -> Vec<wiremock::Request> {
        self.wechat.received_requests().await.unwrap_or_default().into_iter().filter(|r| r.url.path() == at).collect()
    }
}
