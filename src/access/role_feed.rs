//! Role changes seen by every app server at once: the server that changes a user's roles
//! publishes the user id on a Redis channel, and every server (itself included) drops
//! that user from its callers cache. While a server is not subscribed (Redis down,
//! reconnecting) it keeps cached roles for two seconds only, and it empties the cache
//! each time it subscribes, since it may have missed messages.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::roles::Caller;
use crate::infra::cache::TtlCache;
use crate::infra::redis::Redis;
use crate::infra::shutdown::Stop;

/// How long cached roles live while the feed is up, and while it is not.
const LIVE_TTL: Duration = Duration::from_secs(30);
const FALLBACK_TTL: Duration = Duration::from_secs(2);

/// The callers cache with the feed's state.
pub struct CallerCache {
    cache: TtlCache<i64, Caller>,
    subscribed: AtomicBool,
    /// Bumped on every drop, so a load that raced a role change is not cached.
    generation: AtomicU64,
}

impl Default for CallerCache {
    fn default() -> Self {
        CallerCache {
            cache: TtlCache::new(LIVE_TTL, 100_000),
            subscribed: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        }
    }
}

impl CallerCache {
    pub fn get(&self, user_id: i64) -> Option<Caller> {
        let ttl = if self.subscribed() { LIVE_TTL } else { FALLBACK_TTL };
        self.cache.get_within(&user_id, ttl)
    }

    /// The generation to hand back to `insert` after loading a caller from SQL.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Cache a caller loaded when the generation was `seen`, unless a role change was
    /// announced since (the load may predate it).
    pub fn insert(&self, user_id: i64, caller: Caller, seen: u64) {
        if self.generation() == seen {
            self.cache.insert(user_id, caller);
        }
    }

    pub fn invalidate(&self, user_id: i64) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate(&user_id);
    }

    /// Whether this server is subscribed to the role feed now.
    pub fn subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    fn resubscribed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.clear();
        self.subscribed.store(true, Ordering::Release);
    }
}

/// After a committed role change: drop the user here and tell the other servers.
pub async fn announce(redis: &Redis, callers: &CallerCache, user_id: i64) {
    callers.invalidate(user_id);
    let published = async {
        let mut conn = redis.conn().await?;
        redis::cmd("PUBLISH").arg(redis.keys().role_changes()).arg(user_id).query_async::<i64>(&mut conn).await
    };
    if let Err(err) = published.await {
        // The others see the change within LIVE_TTL (or FALLBACK_TTL if Redis is down).
        tracing::warn!(error = %err, user_id, "role change not announced to other servers");
    }
}

/// Listen to the feed until `stop` fires, resubscribing after any failure.
pub async fn listen(redis: Redis, callers: Arc<CallerCache>, timeout: Duration, mut stop: Stop) {
    loop {
        tokio::select! {
            result = listen_once(&redis, &callers, timeout) => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "role feed down; retrying");
                }
            }
            _ = stop.stopped() => return,
        }
        callers.subscribed.store(false, Ordering::Release);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.stopped() => return,
        }
    }
}

async fn listen_once(redis: &Redis, callers: &CallerCache, timeout: Duration) -> redis::RedisResult<()> {
    let mut pubsub = tokio::time::timeout(timeout * 2, redis.client().get_async_pubsub())
        .await
        .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connect timed out")))??;
    pubsub.subscribe(redis.keys().role_changes()).await?;
    callers.resubscribed();
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        match msg.get_payload::<i64>() {
            Ok(user_id) => callers.invalidate(user_id),
            Err(_) => tracing::warn!("unreadable message on the role feed"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user_id: i64) -> Caller {
        Caller { user_id, roles: Vec::new() }
    }

    #[test]
    fn a_load_that_raced_a_role_change_is_not_cached() {
        let cache = CallerCache::default();
        let seen = cache.generation();
        cache.invalidate(7); // announced while the load was running
        cache.insert(7, caller(7), seen);
        assert!(cache.get(7).is_none());
        let seen = cache.generation();
        cache.insert(7, caller(7), seen);
        assert_eq!(cache.get(7).map(|c| c.user_id), Some(7));
        cache.resubscribed();
        assert!(cache.get(7).is_none(), "subscribing empties the cache: messages may have been missed");
        assert!(cache.subscribed());
    }
}
