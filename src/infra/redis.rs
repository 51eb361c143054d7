//! The Redis handle: one multiplexed `ConnectionManager`, created lazily so the server
//! starts (and `/readyz` can say so) while Redis is down, with connect and response
//! timeouts so a slow Redis fails requests fast instead of piling them up.
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, RedisResult};
use tokio::sync::OnceCell;

use super::keys::Keys;

#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    timeout: Duration,
    manager: OnceCell<ConnectionManager>,
    keys: Keys,
}

impl Redis {
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        Ok(Redis { inner: Arc::new(Inner { client, timeout, manager: OnceCell::new(), keys: Keys::new(prefix) }) })
    }

    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// The client, for connections of their own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    /// A cheap clone of the shared connection; connects on first use.
    pub async fn conn(&self) -> RedisResult<ConnectionManager> {
        let inner = &self.inner;
        inner
            .manager
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(inner.timeout))
                    .set_response_timeout(Some(inner.timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                match tokio::time::timeout(
                    inner.timeout * 2,
                    ConnectionManager::new_with_config(inner.client.clone(), config),
                )
                .await
                {
                    Ok(result) => result,
                    Err(_) => Err(RedisError::from((ErrorKind::Io, "connect timed out"))),
                }
            })
            .await
            .cloned()
    }

    pub async fn ping(&self) -> RedisResult<()> {
        let mut conn = self.conn().await?;
        redis::cmd("PING").query_async::<()>(&mut conn).await
    }
}
