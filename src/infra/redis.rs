//! The Redis handle: one multiplexed `ConnectionManager`, created lazily so the server
//! starts (and `/readyz` can say so) while Redis is down, with connect and response
//! timeouts so a slow Redis fails requests fast instead of piling them up.
//!
//! Each HTTP worker also gets a connection of its own (`Redis::for_worker`). A multiplexed
//! connection's reader and writer run as a task on the runtime that opened it; with one
//! connection for the whole process, every command an HTTP worker sent went through
//! another thread's runtime and back (two thread wake-ups a command; under leaderboard
//! reads, 14% of the server's CPU samples in `perf` were that runtime's thread). A worker's
//! own connection is opened on its runtime, in the background as the worker starts; until
//! it is open (Redis down or slow at start) the worker's commands go through the shared
//! connection, as before.
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, RedisResult};
use tokio::sync::OnceCell;

use super::keys::Keys;

#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
    /// The HTTP worker's own connection, once open (`for_worker`).
    own: Option<Arc<OnceCell<ConnectionManager>>>,
}

struct Inner {
    client: redis::Client,
    timeout: Duration,
    manager: OnceCell<ConnectionManager>,
    keys: Keys,
}

/// How often a worker's own connection is checked (or, until open, tried).
const WATCH: Duration = Duration::from_millis(250);

impl Redis {
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let inner = Inner { client, timeout, manager: OnceCell::new(), keys: Keys::new(prefix) };
        Ok(Redis { inner: Arc::new(inner), own: None })
    }

    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// The client, for connections of their own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    /// A handle for one HTTP worker: call it on the worker's thread, inside its runtime.
    /// A task on that runtime opens the worker's own connection (retried while Redis is
    /// away), then pings it every `WATCH`. A connection that has been idle while Redis
    /// restarted fails its next command (broken pipe) and only then reconnects: the ping
    /// takes that failure, so a request does not. The task ends with the worker's last
    /// clone of the handle. Outside a runtime, the handle is a plain clone.
    pub fn for_worker(&self) -> Redis {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return self.clone();
        };
        let own = Arc::new(OnceCell::<ConnectionManager>::new());
        let (inner, weak) = (self.inner.clone(), Arc::downgrade(&own));
        runtime.spawn(async move {
            loop {
                let Some(slot) = weak.upgrade() else { return };
                match slot.get() {
                    Some(manager) => {
                        let _ = redis::cmd("PING").query_async::<()>(&mut manager.clone()).await;
                    }
                    None => match inner.connect().await {
                        Ok(manager) => {
                            let _ = slot.set(manager);
                        }
                        Err(err) => tracing::debug!(error = %err, "a worker's own redis connection did not open"),
                    },
                }
                drop(slot);
                tokio::time::sleep(WATCH).await;
            }
        });
        Redis { inner: self.inner.clone(), own: Some(own) }
    }

    /// A cheap clone of a connection: the worker's own when open, else the shared one
    /// (which connects on first use).
    pub async fn conn(&self) -> RedisResult<ConnectionManager> {
        if let Some(own) = self.own.as_ref().and_then(|own| own.get()) {
            return Ok(own.clone());
        }
        let inner = &self.inner;
        inner.manager.get_or_try_init(|| inner.connect()).await.cloned()
    }

    pub async fn ping(&self) -> RedisResult<()> {
        let mut conn = self.conn().await?;
        redis::cmd("PING").query_async::<()>(&mut conn).await
    }
}

/// Delete `key` only if it still holds `value` (a lock of one's own, a value one read):
/// the number of keys deleted, 0 or 1.
pub async fn delete_if_equal(conn: &mut ConnectionManager, key: &str, value: &str) -> RedisResult<i64> {
    redis::Script::new("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
        .key(key)
        .arg(value)
        .invoke_async(conn)
        .await
}

impl Inner {
    async fn connect(&self) -> RedisResult<ConnectionManager> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        match tokio::time::timeout(self.timeout * 2, ConnectionManager::new_with_config(self.client.clone(), config))
            .await
        {
            Ok(result) => result,
            Err(_) => Err(RedisError::from((ErrorKind::Io, "connect timed out"))),
        }
    }
}
