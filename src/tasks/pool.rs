//! A branch's card pool on Redis: a set of open cards (a random draw is `SPOP`) and a
//! sorted set of leases scored by claim deadline. Draw, return and expiry are each one
//! Lua script, so a card is never in neither or both. SQL is the record: every move here
//! follows (or is undone after) a conditional move of the card's row.
use std::sync::LazyLock;

use redis::{RedisResult, Script};

use crate::infra::redis::Redis;

/// Pop a random open card and lease it until now + its claim time (read from the member).
static DRAW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local m = redis.call('SPOP', KEYS[1])
if not m then return false end
local ttl = tonumber(string.match(m, ':(%d+)$')) or 0
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + ttl * 60000, m)
return m
"#,
    )
});

/// Put cards back into the pool (released, rejected, expired claims, a failed draw):
/// drop their leases and add them to the open set. Called once SQL says they are open.
static PUT_BACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
for _, m in ipairs(ARGV) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('SADD', KEYS[1], m)
end
return #ARGV
"#,
    )
});

/// Return a leased card only if its lease is still the one seen (same deadline): a card
/// drawn again since then keeps its new holder.
static EXPIRE_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local s = redis.call('ZSCORE', KEYS[2], ARGV[1])
if s and tonumber(s) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('SADD', KEYS[1], ARGV[1])
  return 1
end
return 0
"#,
    )
});

/// How old a lease of a card SQL says is open must be before a pool rebuild takes it as
/// stale: far longer than any draw takes between its pop and its commit.
const RESTORE_GRACE_MS: i64 = 60_000;

pub async fn draw(redis: &Redis, branch_id: i64, now_ms: i64) -> RedisResult<Option<String>> {
    let keys = redis.keys();
    let mut conn = redis.conn().await?;
    DRAW.key(keys.pool(branch_id)).key(keys.leases(branch_id)).arg(now_ms).invoke_async(&mut conn).await
}

pub async fn put_back(redis: &Redis, branch_id: i64, members: &[String]) -> RedisResult<()> {
    if members.is_empty() {
        return Ok(());
    }
    let keys = redis.keys();
    let mut conn = redis.conn().await?;
    PUT_BACK
        .key(keys.pool(branch_id))
        .key(keys.leases(branch_id))
        .arg(members)
        .invoke_async::<i64>(&mut conn)
        .await
        .map(drop)
}

pub async fn expire_lease(redis: &Redis, branch_id: i64, member: &str, deadline_ms: i64) -> RedisResult<bool> {
    let keys = redis.keys();
    let mut conn = redis.conn().await?;
    EXPIRE_LEASE
        .key(keys.pool(branch_id))
        .key(keys.leases(branch_id))
        .arg(member)
        .arg(deadline_ms)
        .invoke_async::<i64>(&mut conn)
        .await
        .map(|n| n == 1)
}

/// New cards go into the pool.
pub async fn add_open(redis: &Redis, branch_id: i64, members: &[String]) -> RedisResult<()> {
    if members.is_empty() {
        return Ok(());
    }
    let mut conn = redis.conn().await?;
    let mut pipe = redis::pipe();
    for chunk in members.chunks(1000) {
        pipe.sadd(redis.keys().pool(branch_id), chunk).ignore();
    }
    pipe.query_async::<()>(&mut conn).await
}

/// Whether the pools hold what SQL says: false after Redis lost its data and until the
/// rebuild has put the pools back (`maintenance::rebuild`). The epoch marker counts too:
/// it is set after a whole rebuild (and by deployments older than the pools' marker).
pub async fn ready(redis: &Redis) -> RedisResult<bool> {
    let mut conn = redis.conn().await?;
    let keys = redis.keys();
    // One key per command: the two need not share a Redis Cluster slot.
    for key in [keys.pools_ready(), keys.epoch()] {
        if redis::cmd("EXISTS").arg(key).query_async::<bool>(&mut conn).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Record that every pool has been rebuilt from SQL.
pub async fn mark_ready(redis: &Redis) -> RedisResult<()> {
    let mut conn = redis.conn().await?;
    redis::cmd("SET").arg(redis.keys().pools_ready()).arg(1).query_async(&mut conn).await
}

/// Take cards out of the pool and their leases (submitted, or their task ended).
pub async fn forget(redis: &Redis, branch_id: i64, members: &[String]) -> RedisResult<()> {
    if members.is_empty() {
        return Ok(());
    }
    let keys = redis.keys();
    let mut conn = redis.conn().await?;
    let mut pipe = redis::pipe();
    for chunk in members.chunks(1000) {
        pipe.srem(keys.pool(branch_id), chunk).ignore().zrem(keys.leases(branch_id), chunk).ignore();
    }
    pipe.query_async::<()>(&mut conn).await
}

/// Drop one lease (its card is neither open nor held any more).
pub async fn drop_lease(redis: &Redis, branch_id: i64, member: &str) -> RedisResult<()> {
    let mut conn = redis.conn().await?;
    redis::cmd("ZREM").arg(redis.keys().leases(branch_id)).arg(member).query_async::<()>(&mut conn).await
}

/// Set a lease's deadline to the one SQL holds.
pub async fn set_lease(redis: &Redis, branch_id: i64, member: &str, deadline_ms: i64) -> RedisResult<()> {
    let mut conn = redis.conn().await?;
    redis::cmd("ZADD")
        .arg(redis.keys().leases(branch_id))
        .arg(deadline_ms)
        .arg(member)
        .query_async::<()>(&mut conn)
        .await
}

/// Leases past their deadline in these branches: (branch, member, deadline ms), at most
/// `limit` per branch, in one pipelined round trip.
pub async fn leases_due(
    redis: &Redis,
    branch_ids: &[i64],
    now_ms: i64,
    limit: usize,
) -> RedisResult<Vec<(i64, String, i64)>> {
    if branch_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for b in branch_ids {
        pipe.cmd("ZRANGEBYSCORE")
            .arg(redis.keys().leases(*b))
            .arg("-inf")
            .arg(now_ms)
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit);
    }
    let mut conn = redis.conn().await?;
    let rows: Vec<Vec<(String, f64)>> = pipe.query_async(&mut conn).await?;
    Ok(branch_ids.iter().zip(rows).flat_map(|(b, due)| due.into_iter().map(move |(m, s)| (*b, m, s as i64))).collect())
}

/// Swap a pool and its leases built aside (from an SQL snapshot) over the live keys, in
/// one step. A young live lease (a draw made while the snapshot was read, whose claim SQL
/// may not show yet) wins over the snapshot for a card the snapshot has open or claimed:
/// the card stays out of the pool and keeps that lease. KEYS: pool, leases, pool built
/// aside, leases built aside; ARGV: now in ms, the grace in ms.
static SWAP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = tonumber(ARGV[1])
local grace = tonumber(ARGV[2])
local live = redis.call('ZRANGEBYSCORE', KEYS[2], now - grace, '+inf', 'WITHSCORES')
for i = 1, #live, 2 do
  local m, deadline = live[i], tonumber(live[i + 1])
  local ttl = tonumber(string.match(m, ':(%d+)$')) or 0
  if now - (deadline - ttl * 60000) <= grace then
    if redis.call('SREM', KEYS[3], m) == 1 or redis.call('ZSCORE', KEYS[4], m) then
      redis.call('ZADD', KEYS[4], deadline, m)
    end
  end
end
for i = 1, 2 do
  if redis.call('EXISTS', KEYS[i + 2]) == 1 then
    redis.call('RENAME', KEYS[i + 2], KEYS[i])
  else
    redis.call('DEL', KEYS[i])
  end
end
return 1
"#,
    )
});

/// After a swap, the cards whose SQL state moved since the snapshot. ARGV: k, then k
/// pairs (member, the lease the snapshot gave it or '') of cards open now but not in the
/// snapshot: each goes into the pool unless its lease changed (drawn again since); then
/// pairs (member, the lease the snapshot gave it) of claims that ended otherwise than
/// open: that lease goes if it is still the one. Returns the cards added.
static CATCH_UP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local k = tonumber(ARGV[1])
local added = 0
for i = 2, 2 * k, 2 do
  local m, seen = ARGV[i], ARGV[i + 1]
  local s = redis.call('ZSCORE', KEYS[2], m)
  if (not s and seen == '') or (s and seen ~= '' and tonumber(s) == tonumber(seen)) then
    redis.call('ZREM', KEYS[2], m)
    added = added + redis.call('SADD', KEYS[1], m)
  end
end
for i = 2 * k + 2, #ARGV, 2 do
  local m, seen = ARGV[i], ARGV[i + 1]
  local s = redis.call('ZSCORE', KEYS[2], m)
  if s and tonumber(s) == tonumber(seen) then
    redis.call('ZREM', KEYS[2], m)
  end
end
return added
"#,
    )
});

/// Replace one branch's pool and leases with what an SQL snapshot says: built aside, then
/// swapped over the live keys in one step (`SWAP`), so a draw never sees a half-built
/// pool. `now_ms` is the time of the swap.
pub async fn replace(
    redis: &Redis,
    branch_id: i64,
    open: &[String],
    leases: &[(String, i64)],
    token: &str,
    now_ms: i64,
) -> RedisResult<()> {
    let keys = redis.keys();
    let (pool, lease_key) = (keys.pool(branch_id), keys.leases(branch_id));
    let (pool_tmp, lease_tmp) = (format!("{pool}:rebuild:{token}"), format!("{lease_key}:rebuild:{token}"));
    let mut pipe = redis::pipe();
    pipe.del(&pool_tmp).ignore().del(&lease_tmp).ignore();
    for chunk in open.chunks(1000) {
        pipe.sadd(&pool_tmp, chunk).ignore();
    }
    for chunk in leases.chunks(1000) {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(&lease_tmp);
        for (member, deadline) in chunk {
            cmd.arg(*deadline).arg(member);
        }
        pipe.add_command(cmd).ignore();
    }
    let mut conn = redis.conn().await?;
    pipe.query_async::<()>(&mut conn).await?;
    SWAP.key(pool)
        .key(lease_key)
        .key(pool_tmp)
        .key(lease_tmp)
        .arg(now_ms)
        .arg(RESTORE_GRACE_MS)
        .invoke_async::<i64>(&mut conn)
        .await
        .map(drop)
}

/// Cards that moved while their pool was rebuilt (see `CATCH_UP`): `reopened` are open
/// now, with the lease the snapshot gave them if any; `ended` are claims the snapshot
/// had that are neither open nor claimed now. Returns how many cards went into the pool.
pub async fn catch_up(
    redis: &Redis,
    branch_id: i64,
    reopened: &[(String, Option<i64>)],
    ended: &[(String, i64)],
) -> RedisResult<u64> {
    if reopened.is_empty() && ended.is_empty() {
        return Ok(0);
    }
    let keys = redis.keys();
    let mut script = CATCH_UP.key(keys.pool(branch_id));
    script.key(keys.leases(branch_id)).arg(reopened.len());
    for (member, seen) in reopened {
        script.arg(member).arg(seen.map(|s| s.to_string()).unwrap_or_default());
    }
    for (member, seen) in ended {
        script.arg(member).arg(*seen);
    }
    let mut conn = redis.conn().await?;
    script.invoke_async(&mut conn).await
}
