//! Leaderboards on Redis: updating them after a credit (one pipelined round trip),
//! reading a page plus the caller's own rank (one round trip), and writing rebuilt
//! boards so readers never see a half-built one (build aside, then RENAME).
//!
//! Each org has a board version, moved by every write to any of its boards (in the same
//! script as a credit's increments; right after a repair's or a rebuild's writes). A
//! server keeps the pages it read with the version they were read at, and a read sends
//! that version: Redis returns the top entries only when the version has moved since. So
//! a page is never served past a change, whichever server made it, and a county board
//! read thousands of times between two credits costs Redis a rank lookup, not a range.
use std::collections::BTreeSet;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};

use super::domain::{board_expiry, decode_score, period_key, tie, Metric, PeriodKind};
use crate::infra::keys::Keys;
use crate::infra::pending::Owed;
use crate::infra::redis::Redis;

/// Moves an org's board version (`Keys::board_version`) past every value it held: `INCR`,
/// or, when the key is missing (a flushed or new Redis), a start from Redis's clock in
/// microseconds, which no earlier life of the key reached by increments. A key that does
/// not hold a number (written by hand) is restarted the same way, not left to fail every
/// credit.
const NEXT_VERSION: &str = r#"
local function next_version(key)
  local v = redis.pcall('INCR', key)
  if type(v) ~= 'number' or v == 1 then
    local t = redis.call('TIME')
    v = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('SET', key, string.format('%d', v))
  end
  return v
end
"#;

/// Adds `delta` to each board's points while keeping the tie part: for each key,
/// new = (floor(old / 2^24) + delta) * 2^24 + tie, then moves the org's board version
/// (KEYS[1]). One script per org, so all its keys share that org's hash tag (Redis
/// Cluster safe). Sent whole (`EVAL`) inside the update's pipeline: a Redis restarted
/// without its script cache still runs it, where a failed `EVALSHA` could not be retried
/// without applying the pipeline's other increments twice.
static BUMP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{NEXT_VERSION}{}",
        r#"
local member = ARGV[1]
for i = 2, #KEYS do
  local key = KEYS[i]
  local base = 2 + (i - 2) * 3
  local delta = tonumber(ARGV[base])
  local tie = tonumber(ARGV[base + 1])
  local expire_at = tonumber(ARGV[base + 2])
  local old = redis.call('ZSCORE', key, member)
  local points = 0
  if old then points = math.floor(tonumber(old) / 16777216) end
  redis.call('ZADD', key, (points + delta) * 16777216 + tie, member)
  if expire_at > 0 then redis.call('EXPIREAT', key, expire_at) end
end
return next_version(KEYS[1])
"#
    )
});

/// Moves the board version of the org KEYS[1] belongs to, after its boards were written
/// by plain commands (a repair, a rebuild). Sent whole, as `BUMP` is.
static BUMP_VERSION: LazyLock<String> = LazyLock::new(|| format!("{NEXT_VERSION}return next_version(KEYS[1])"));

/// A board page in one round trip: the org's board version (0 while it has none or holds
/// no number), the member's rank and score, and the top `ARGV[2]` entries unless the
/// caller already holds them at this version (`ARGV[3]`).
static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local v = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local rank = redis.call('ZREVRANK', KEYS[1], ARGV[1])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local top = false
if v == 0 or v ~= tonumber(ARGV[3]) then
  top = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
end
return {v, rank, score, top}
"#,
    )
});

/// What a committed ledger entry changes on the boards.
#[derive(Debug, Clone)]
pub struct BoardUpdate {
    pub user_id: i64,
    pub branch_id: i64,
    /// The branch and its ancestors (township, county), from the branch's path.
    pub org_ids: Vec<i64>,
    pub delta_points: i64,
    pub delta_minutes: i64,
    pub at: DateTime<Utc>,
    /// The record of this bump, cleared once Redis has it.
    pub owed: Owed,
}

impl BoardUpdate {
    fn deltas(&self) -> impl Iterator<Item = (Metric, i64)> + '_ {
        [(Metric::Points, self.delta_points), (Metric::VolunteerMinutes, self.delta_minutes)]
            .into_iter()
            .filter(|(_, d)| *d != 0)
    }
}

/// The org ids of a materialised path, root first: `/1/7/42/` → [1, 7, 42].
pub fn path_ids(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|p| p.parse().ok()).collect()
}

fn expire_arg(period: &str) -> i64 {
    board_expiry(period).map_or(0, |t| t.timestamp())
}

/// Apply committed entries to every board they touch, in one pipelined round trip.
pub async fn bump(redis: &Redis, updates: &[BoardUpdate]) -> RedisResult<()> {
    let keys = redis.keys();
    let mut pipe = redis::pipe();
    for u in updates {
        let periods: Vec<String> = PeriodKind::ALL.iter().map(|k| period_key(*k, u.at)).collect();
        let tie = tie(u.at);
        for org in &u.org_ids {
            let mut args: Vec<String> = vec![u.user_id.to_string()];
            let mut board_keys = vec![keys.board_version(*org)];
            for (metric, delta) in u.deltas() {
                for period in &periods {
                    board_keys.push(keys.board(*org, metric.as_str(), period));
                    args.extend([delta.to_string(), tie.to_string(), expire_arg(period).to_string()]);
                }
            }
            if board_keys.len() == 1 {
                continue;
            }
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(BUMP.as_str()).arg(board_keys.len()).arg(&board_keys).arg(&args);
            pipe.add_command(cmd).ignore();
            // Branch totals live on the ancestors above the branch.
            if *org != u.branch_id {
                for (metric, delta) in u.deltas() {
                    for period in &periods {
                        let key = keys.branch_totals(*org, metric.as_str(), period);
                        pipe.zincr(&key, u.branch_id, delta).ignore();
                        let expire_at = expire_arg(period);
                        if expire_at > 0 {
                            pipe.expire_at(&key, expire_at).ignore();
                        }
                    }
                }
            }
        }
    }
    let mut conn = redis.conn().await?;
    pipe.query_async::<()>(&mut conn).await
}

/// A read of a board: its version, the member's own (rank, points), and (user id,
/// points) best first unless the reader already held them at this version.
pub struct BoardRead {
    /// 0 while the org has no version (a flushed Redis before its first write): nothing
    /// read at 0 may be kept.
    pub version: i64,
    pub top: Option<Vec<(i64, i64)>>,
    pub me: Option<(u64, i64)>,
}

/// One round trip: `known` is the version of the top entries the caller holds, if any.
pub async fn read(
    redis: &Redis,
    org_id: i64,
    key: &str,
    limit: u64,
    me: i64,
    known: Option<i64>,
) -> RedisResult<BoardRead> {
    let mut conn = redis.conn().await?;
    type Reply = (i64, Option<u64>, Option<f64>, Option<Vec<(i64, f64)>>);
    let (version, rank, score, top): Reply = READ
        .key(key)
        .key(redis.keys().board_version(org_id))
        .arg(me)
        .arg(limit)
        .arg(known.unwrap_or(0))
        .invoke_async(&mut conn)
        .await?;
    Ok(BoardRead {
        version,
        top: top.map(|top| top.into_iter().map(|(id, s)| (id, decode_score(s))).collect()),
        me: rank.zip(score).map(|(r, s)| (r + 1, decode_score(s))),
    })
}

/// Move these orgs' board versions, after writing their boards by plain commands.
fn bump_versions(pipe: &mut redis::Pipeline, keys: &Keys, org_ids: impl IntoIterator<Item = i64>) {
    for org in org_ids {
        pipe.cmd("EVAL").arg(BUMP_VERSION.as_str()).arg(1).arg(keys.board_version(org)).ignore();
    }
}

/// Move these orgs' board versions after a rebuild replaced or dropped their boards.
pub async fn bump_versions_of(
    conn: &mut ConnectionManager,
    keys: &Keys,
    org_ids: impl IntoIterator<Item = i64>,
) -> RedisResult<()> {
    let mut pipe = redis::pipe();
    bump_versions(&mut pipe, keys, org_ids);
    if pipe.is_empty() {
        return Ok(());
    }
    pipe.query_async::<()>(conn).await
}

/// Branch totals under a township or county: (branch id, total).
pub async fn branch_totals(redis: &Redis, key: &str) -> RedisResult<Vec<(i64, i64)>> {
    let mut conn = redis.conn().await?;
    let rows: Vec<(i64, f64)> =
        redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES").query_async(&mut conn).await?;
    Ok(rows.into_iter().map(|(id, s)| (id, s.round() as i64)).collect())
}

/// Set members to absolute scores (used when repairing one member from SQL), then move
/// the board versions of `orgs`, the orgs whose boards are among the writes.
pub async fn set_scores(redis: &Redis, writes: &[(String, i64, f64)], orgs: &BTreeSet<i64>) -> RedisResult<()> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for (key, member, score) in writes {
        pipe.zadd(key, member, *score).ignore();
        if let Some(period) = key.rsplit(':').next() {
            let expire_at = expire_arg(period);
            if expire_at > 0 {
                pipe.expire_at(key, expire_at).ignore();
            }
        }
    }
    bump_versions(&mut pipe, redis.keys(), orgs.iter().copied());
    let mut conn = redis.conn().await?;
    pipe.query_async::<()>(&mut conn).await
}

/// Swap a built key in for the live one atomically, then free the old one off Redis's
/// main thread (`UNLINK`), where a plain `RENAME` over it frees it inline (≈ 1 s of a
/// county-sized rebuild). All three keys share the live key's hash tag.
const SWAP: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[3])
  redis.call('RENAME', KEYS[2], KEYS[1])
  redis.call('UNLINK', KEYS[3])
else
  redis.call('RENAME', KEYS[2], KEYS[1])
end
local expire_at = tonumber(ARGV[1])
if expire_at > 0 then redis.call('EXPIREAT', KEYS[1], expire_at) end
return 1
"#;

/// Replace whole keys with these members: each is written under a temporary name, then
/// swapped for the live one in a single step, so readers never see a half-built board.
/// All of `boards` goes in one pipeline.
pub async fn replace_many(
    conn: &mut ConnectionManager,
    boards: &[(String, Vec<(i64, f64)>)],
    token: &str,
) -> RedisResult<()> {
    if boards.is_empty() {
        return Ok(());
    }
    let swap = redis::Script::new(SWAP);
    // Loaded for each batch (one round trip), so a Redis restarted meanwhile has it too.
    swap.prepare_invoke().load_async(conn).await?;
    let mut pipe = redis::pipe();
    for (key, members) in boards {
        let temp = format!("{key}:rebuild:{token}");
        pipe.del(&temp).ignore();
        for chunk in members.chunks(1000) {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg(&temp);
            for (member, score) in chunk {
                cmd.arg(*score).arg(*member);
            }
            pipe.add_command(cmd).ignore();
        }
        if members.is_empty() {
            pipe.del(key).ignore();
            continue;
        }
        let expire_at = expire_arg(key.rsplit(':').next().unwrap_or_default());
        pipe.cmd("EVALSHA")
            .arg(swap.get_hash())
            .arg(3)
            .arg(key)
            .arg(&temp)
            .arg(format!("{key}:old:{token}"))
            .arg(expire_at)
            .ignore();
    }
    pipe.query_async::<()>(conn).await
}

/// Every board and branch-total key present now.
pub async fn existing_keys(conn: &mut ConnectionManager, keys: &Keys) -> RedisResult<Vec<String>> {
    let mut found = Vec::new();
    for pattern in keys.board_patterns() {
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(conn)
                .await?;
            found.extend(batch.into_iter().filter(|k| !k.contains(":rebuild:")));
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::path_ids;

    #[test]
    fn paths_give_their_ids_root_first() {
        assert_eq!(path_ids("/1/7/42/"), vec![1, 7, 42]);
        assert_eq!(path_ids("/"), Vec::<i64>::new());
    }
}
