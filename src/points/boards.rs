//! Leaderboards on Redis: updating them after a credit (one pipelined round trip),
//! reading a page plus the caller's own rank (one round trip), and writing rebuilt
//! boards so readers never see a half-built one (build aside, then RENAME).
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use redis::RedisResult;

use super::domain::{board_expiry, decode_score, period_key, tie, Metric, PeriodKind};
use crate::infra::keys::Keys;
use crate::infra::redis::Redis;

/// Adds `delta` to each board's points while keeping the tie part: for each key,
/// new = (floor(old / 2^24) + delta) * 2^24 + tie. One script per org, so all its keys
/// share that org's hash tag (Redis Cluster safe).
const BUMP: &str = r#"
local member = ARGV[1]
for i, key in ipairs(KEYS) do
  local base = 2 + (i - 1) * 3
  local delta = tonumber(ARGV[base])
  local tie = tonumber(ARGV[base + 1])
  local expire_at = tonumber(ARGV[base + 2])
  local old = redis.call('ZSCORE', key, member)
  local points = 0
  if old then points = math.floor(tonumber(old) / 16777216) end
  redis.call('ZADD', key, (points + delta) * 16777216 + tie, member)
  if expire_at > 0 then redis.call('EXPIREAT', key, expire_at) end
end
return #KEYS
"#;

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
            let mut cmd = redis::cmd("EVAL");
            let mut args: Vec<String> = vec![u.user_id.to_string()];
            let mut board_keys = Vec::new();
            for (metric, delta) in u.deltas() {
                for period in &periods {
                    board_keys.push(keys.board(*org, metric.as_str(), period));
                    args.extend([delta.to_string(), tie.to_string(), expire_arg(period).to_string()]);
                }
            }
            if board_keys.is_empty() {
                continue;
            }
            cmd.arg(BUMP).arg(board_keys.len()).arg(&board_keys).arg(&args);
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

/// A page of a board: (user id, points) best first, and the member's own (rank, points).
pub struct BoardPage {
    pub top: Vec<(i64, i64)>,
    pub me: Option<(u64, i64)>,
}

pub async fn read(redis: &Redis, key: &str, limit: u64, me: i64) -> RedisResult<BoardPage> {
    let mut conn = redis.conn().await?;
    let (top, rank, score): (Vec<(i64, f64)>, Option<u64>, Option<f64>) = redis::pipe()
        .zrevrange_withscores(key, 0, limit as isize - 1)
        .zrevrank(key, me)
        .zscore(key, me)
        .query_async(&mut conn)
        .await?;
    Ok(BoardPage {
        top: top.into_iter().map(|(id, s)| (id, decode_score(s))).collect(),
        me: rank.zip(score).map(|(r, s)| (r + 1, decode_score(s))),
    })
}

/// Branch totals under a township or county: (branch id, total).
pub async fn branch_totals(redis: &Redis, key: &str) -> RedisResult<Vec<(i64, i64)>> {
    let mut conn = redis.conn().await?;
    let rows: Vec<(i64, f64)> =
        redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES").query_async(&mut conn).await?;
    Ok(rows.into_iter().map(|(id, s)| (id, s.round() as i64)).collect())
}

/// Set members to absolute scores (used when repairing one member from SQL).
pub async fn set_scores(redis: &Redis, writes: &[(String, i64, f64)]) -> RedisResult<()> {
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
