//! `AppState`: what every handler and service may reach — SQL, Redis, the clock,
//! settings and the outside clients. Cheap to clone.
use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use serde_json::value::RawValue;
use tokio::sync::Semaphore;

use crate::access::role_feed::CallerCache;
use crate::clock::Clock;
use crate::config::Settings;
use crate::infra::cache::TtlCache;
use crate::infra::group_commit::GroupCommit;
use crate::infra::jwt::JwtKeys;
use crate::infra::media_store::MediaStore;
use crate::infra::media_urls::UrlSigner;
use crate::infra::names::NameCache;
use crate::infra::pending::Pending;
use crate::infra::redis::Redis;
use crate::infra::threads::Threads;
use crate::infra::wechat::WechatClient;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Where write transactions run (`infra::db::begin_write`); on SQLite its own single
    /// connection, on PostgreSQL the same pool as `db`.
    pub writer: DatabaseConnection,
    /// The hot write transactions (draw, review, filing): on SQLite, many requests' share
    /// one commit (`infra::group_commit`).
    pub group_commit: GroupCommit,
    /// Redis writes owed by commits: done after them, their records cleared once landed
    /// (`infra::pending`).
    pub pending: Pending,
    pub redis: Redis,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    pub jwt: JwtKeys,
    pub wechat: WechatClient,
    pub caches: Arc<Caches>,
    /// Image files (local disk, or object storage later).
    pub media_store: Arc<dyn MediaStore>,
    pub media_urls: Arc<UrlSigner>,
    /// One image decode per core at a time, so uploads cannot starve the API.
    pub image_permits: Arc<Semaphore>,
    /// The threads decodes run on, one per permit (`infra::threads`).
    pub image_threads: Arc<Threads>,
    /// Uploads whose bodies may be read at once (two per decoder): the others wait before
    /// their bytes are taken in, so memory stays bounded however many phones upload.
    pub upload_permits: Arc<Semaphore>,
}

impl AppState {
    /// The state one HTTP worker serves with: the same, but with a Redis connection of the
    /// worker's own (`Redis::for_worker`). Call it on the worker's thread.
    pub fn for_worker(&self) -> AppState {
        AppState { redis: self.redis.for_worker(), ..self.clone() }
    }
}

/// Per-process caches of hot, rarely changing reads. See `infra::cache` for the rules.
pub struct Caches {
    pub names: NameCache,
    /// Who a user is and which roles they hold; dropped on every server when one of them
    /// changes a user's roles (`infra::role_feed`).
    pub callers: Arc<CallerCache>,
    /// Orgs by id: their path and kind never change once created.
    pub orgs: TtlCache<i64, entity::orgs::Model>,
    /// Leaderboard pages: (board key, limit) → (the board version they were read at, the
    /// entries with display names as JSON). Used only while that version is still
    /// Redis's, and for a minute at most, as display names are.
    pub boards: TtlCache<(String, u64), (i64, Arc<RawValue>)>,
    /// A task's cards per status (status → count), for reads of tasks: counting a large
    /// task's cards costs milliseconds, so a read may be up to `TASK_COUNTS_TTL` old. A
    /// write to a task answers fresh counts and stores them here.
    pub task_counts: TtlCache<i64, Arc<HashMap<String, i64>>>,
    /// A county's incident deadline rules and calendar rows (`incidents::sla::book`).
    pub sla: TtlCache<i64, Arc<SlaRows>>,
}

/// A county's SLA rules and calendar days as stored.
pub type SlaRows = (Vec<entity::incident_sla_rules::Model>, Vec<entity::work_calendar::Model>);

/// How old the card counts a task read shows may be.
pub const TASK_COUNTS_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl Default for Caches {
    fn default() -> Self {
        Caches {
            names: NameCache::default(),
            callers: Arc::default(),
            orgs: TtlCache::new(std::time::Duration::from_secs(60), 100_000),
            boards: TtlCache::new(std::time::Duration::from_secs(60), 4096),
            task_counts: TtlCache::new(TASK_COUNTS_TTL, 10_000),
            sla: TtlCache::new(std::time::Duration::from_secs(30), 10_000),
        }
    }
}
