//! Keeping Redis derived from SQL: the deployment's epoch marker and `rebuild-redis`.
//! Safe with several servers: one rebuild at a time, under a lock with a TTL.
use indicatif::ProgressBar;
use redis::AsyncCommands;

use crate::state::AppState;

const REBUILD_LOCK_SECS: u64 = 600;

pub struct RebuildReport {
    pub steps: Vec<(&'static str, u64)>,
}

/// Rebuild when Redis lacks this deployment's epoch marker (flushed or replaced).
pub async fn ensure_epoch(state: &AppState) -> anyhow::Result<bool> {
    let mut conn = state.redis.conn().await?;
    let present: bool = conn.exists(state.redis.keys().epoch()).await?;
    if present {
        return Ok(false);
    }
    tracing::warn!("redis has no epoch marker; rebuilding derived data from SQL");
    rebuild(state, None).await?;
    Ok(true)
}

/// How often each server looks for the epoch marker: one EXISTS, so a Redis that came
/// back empty is rebuilt within about a second, not at the next reconcile pass.
pub const EPOCH_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Recompute every Redis structure from SQL, then set the epoch marker. Each domain that
/// keeps derived data in Redis adds its step to `rebuild_steps`.
pub async fn rebuild(state: &AppState, progress: Option<&ProgressBar>) -> anyhow::Result<RebuildReport> {
    let keys = state.redis.keys();
    let mut conn = state.redis.conn().await?;
    let token = crate::infra::random::token_hex(8);
    let locked: bool = redis::cmd("SET")
        .arg(keys.rebuild_lock())
        .arg(&token)
        .arg("NX")
        .arg("EX")
        .arg(REBUILD_LOCK_SECS)
        .query_async::<Option<String>>(&mut conn)
        .await?
        .is_some();
    if !locked {
        anyhow::bail!("another process is rebuilding Redis");
    }
    let result = rebuild_steps(state, progress).await;
    if result.is_ok() {
        let _: () = conn.set(keys.epoch(), state.clock.now().to_rfc3339()).await?;
    }
    // Release only our own lock.
    crate::infra::redis::delete_if_equal(&mut conn, &keys.rebuild_lock(), &token).await?;
    Ok(RebuildReport { steps: result? })
}

/// A new step on the bar: its count starts again at zero, its length comes when known.
fn step(progress: Option<&ProgressBar>, name: &'static str) {
    if let Some(bar) = progress {
        bar.set_position(0);
        bar.set_length(0);
        bar.set_message(name);
    }
}

async fn rebuild_steps(state: &AppState, progress: Option<&ProgressBar>) -> anyhow::Result<Vec<(&'static str, u64)>> {
    // Pools first: they are small, and until they are back every draw waits for them.
    // Each step counts its own units from zero: branches, then leaderboard keys.
    step(progress, "card pools (branches)");
    let pools = crate::tasks::sweeper::rebuild_pools(state, progress).await?;
    step(progress, "leaderboards (keys)");
    let boards = crate::points::reconcile::rebuild_boards(state, progress).await?;
    Ok(vec![("card pool keys", pools), ("leaderboard keys", boards)])
}
