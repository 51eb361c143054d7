//! Role changes and ended logins seen by every app server at once. The server that changes
//! a user's roles publishes the user id on a Redis channel, and every server (itself
//! included) drops that user from its callers cache. The server that revokes a login
//! family (logout, a reused refresh token) records it in a Redis sorted set and publishes
//! it on the same channel, and every server refuses that family's access tokens from then
//! on. While a server is not subscribed (Redis down, reconnecting) it keeps cached roles
//! for two seconds only and asks Redis about each family; each time it subscribes it
//! empties the callers cache and loads the revoked families, since it may have missed
//! messages.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
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
    /// Revoked login families → the last unix second one of their tokens is accepted.
    families: RwLock<HashMap<Arc<str>, i64>>,
}

impl Default for CallerCache {
    fn default() -> Self {
        CallerCache {
            cache: TtlCache::new(LIVE_TTL, 100_000),
            subscribed: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            families: RwLock::default(),
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

    /// Whether this server knows the family to be revoked.
    pub fn family_revoked(&self, family: &str, now: i64) -> bool {
        self.families.read().unwrap_or_else(|e| e.into_inner()).get(family).is_some_and(|until| *until >= now)
    }

    /// Remember a revoked family until its last token expires; forget the expired ones.
    fn remember_revoked(&self, family: Arc<str>, until: i64, now: i64) {
        let mut families = self.families.write().unwrap_or_else(|e| e.into_inner());
        families.retain(|_, until| *until >= now);
        families.insert(family, until);
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

/// After a committed revocation of a login family: refuse its access tokens here, record
/// it for servers that subscribe later, and tell the others. `until` is the last second
/// one of its tokens is accepted.
pub async fn announce_family(redis: &Redis, callers: &CallerCache, family: &str, until: i64, now: i64) {
    callers.remember_revoked(family.into(), until, now);
    let keys = redis.keys();
    let published = async {
        let mut conn = redis.conn().await?;
        redis::pipe()
            .cmd("ZADD")
            .arg(keys.revoked_families())
            .arg(until)
            .arg(family)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(keys.revoked_families())
            .arg("-inf")
            .arg(now - 1)
            .ignore()
            .cmd("PUBLISH")
            .arg(keys.role_changes())
            .arg(format!("{FAMILY_PREFIX}{until}:{family}"))
            .ignore()
            .query_async::<()>(&mut conn)
            .await
    };
    if let Err(err) = published.await {
        // SQL holds the revocation (no refresh works); other servers accept the family's
        // access tokens until they expire, as they would with Redis gone.
        tracing::warn!(error = %err, "login revocation not announced to other servers");
    }
}

/// Whether an access token's family was revoked: from memory while subscribed to the
/// feed; otherwise asked of Redis (a server that cannot reach Redis cannot know).
pub async fn is_revoked(redis: &Redis, callers: &CallerCache, family: &str, now: i64) -> bool {
    if callers.family_revoked(family, now) {
        return true;
    }
    if callers.subscribed() {
        return false;
    }
    let asked = async {
        let mut conn = redis.conn().await?;
        redis::cmd("ZSCORE")
            .arg(redis.keys().revoked_families())
            .arg(family)
            .query_async::<Option<i64>>(&mut conn)
            .await
    };
    matches!(asked.await, Ok(Some(until)) if until >= now)
}

/// A revoked family on the channel: `f:<until>:<family>` (role changes are bare user ids).
const FAMILY_PREFIX: &str = "f:";

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
    // Families revoked while this server was not listening: loaded after subscribing, so
    // none falls between the two.
    let now = chrono::Utc::now().timestamp();
    let revoked: Vec<(String, i64)> = {
        let mut conn = redis.conn().await?;
        redis::cmd("ZRANGEBYSCORE")
            .arg(redis.keys().revoked_families())
            .arg(now)
            .arg("+inf")
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await?
    };
    for (family, until) in revoked {
        callers.remember_revoked(family.into(), until, now);
    }
    callers.resubscribed();
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        let payload: String = msg.get_payload().unwrap_or_default();
        if let Some(rest) = payload.strip_prefix(FAMILY_PREFIX) {
            match rest.split_once(':').and_then(|(until, family)| Some((until.parse::<i64>().ok()?, family))) {
                Some((until, family)) => callers.remember_revoked(family.into(), until, chrono::Utc::now().timestamp()),
                None => tracing::warn!("unreadable family message on the role feed"),
            }
            continue;
        }
        match payload.parse::<i64>() {
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

    #[test]
    fn revoked_families_are_refused_until_their_tokens_expire() {
        let cache = CallerCache::default();
        assert!(!cache.family_revoked("f1", 100));
        cache.remember_revoked("f1".into(), 200, 100);
        assert!(cache.family_revoked("f1", 150) && cache.family_revoked("f1", 200));
        assert!(!cache.family_revoked("f1", 201), "its tokens are expired anyway");
        cache.remember_revoked("f2".into(), 400, 300);
        assert!(!cache.families.read().unwrap().contains_key("f1"), "expired families are forgotten");
    }
}
