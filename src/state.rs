//! `AppState`: what every handler and service may reach — SQL, Redis, the clock,
//! settings and the outside clients. Cheap to clone.
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::clock::Clock;
use crate::config::Settings;
use crate::infra::jwt::JwtKeys;
use crate::infra::names::NameCache;
use crate::infra::redis::Redis;
use crate::infra::wechat::WechatClient;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub redis: Redis,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    pub jwt: JwtKeys,
    pub wechat: WechatClient,
    pub names: Arc<NameCache>,
}
