//! Redis writes a commit owes (DESIGN.md, "whatever must reach Redis after a commit is
//! made durable in that commit").
//!
//! SQL is the record and Redis follows it: a board bump or a card-pool move is sent after
//! the commit that caused it. A process killed between the two would lose the write, and
//! Redis would disagree with SQL until someone ran `rebuild-redis`. So the transaction
//! itself records what it owes (`owe`: one `redis_pending` row, committed or rolled back
//! with the rest), and `Pending::settle` does the write after the commit and lets the row
//! go once Redis has it. The deletes are batched off the request path (one small write
//! transaction per `CLEAR_EVERY`), so a write path pays one insert for its safety.
//!
//! A row left behind (the process died, Redis failed, or the batch of deletes was lost)
//! is repaired from SQL by its kind's background pass once it is `settle_time` old — by
//! then its write has either landed or failed: a member's boards by
//! `points::reconcile`, a branch's pool by `tasks::sweeper`. A repair reads SQL and sets
//! Redis to match, so doing it for a write that did land costs time but is never wrong.
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use tokio::sync::{mpsc, oneshot};

use entity::redis_pending;
pub use entity::redis_pending::PendingKind;

use crate::infra::group_commit::{Finish, GroupCommit};

/// A Redis write recorded in a transaction, to be done after it commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owed {
    id: i64,
    kind: PendingKind,
}

/// Record in `txn` that once it commits, Redis owes a write of `kind` to `target` (a
/// user for boards, a branch for pools).
pub async fn owe<C: ConnectionTrait>(
    txn: &C,
    kind: PendingKind,
    target: i64,
    at: DateTime<Utc>,
) -> Result<Owed, DbErr> {
    let row = redis_pending::ActiveModel {
        kind: Set(kind),
        target_id: Set(target),
        created_at: Set(at),
        ..Default::default()
    };
    let id = redis_pending::Entity::insert(row).exec(txn).await?.last_insert_id;
    Ok(Owed { id, kind })
}

/// How old a record must be before a repair takes it: its write has landed or failed by
/// then (a Redis call gives up after `redis_timeout_ms`), and a write that landed has had
/// its record deleted (`CLEAR_EVERY`, plus a wait for the writer).
pub fn settle_time(redis_timeout_ms: u64) -> chrono::Duration {
    chrono::Duration::milliseconds(redis_timeout_ms as i64 + 2_000)
}

/// The records of `kind` created at or before `before`, oldest first (in id order: the
/// table has no other index, and ids follow insertion).
pub async fn due<C: ConnectionTrait>(
    db: &C,
    kind: PendingKind,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<redis_pending::Model>, DbErr> {
    redis_pending::Entity::find()
        .filter(redis_pending::Column::Kind.eq(kind))
        .filter(redis_pending::Column::CreatedAt.lte(before))
        .order_by_asc(redis_pending::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Delete records: their writes landed, or a repair has put Redis right.
pub async fn remove<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<(), DbErr> {
    for chunk in ids.chunks(500) {
        redis_pending::Entity::delete_many()
            .filter(redis_pending::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Where a test may kill the process: after a commit, before the Redis write it owes.
/// Compiled in only with the `failpoints` feature; armed with
/// `FAILPOINTS=redis-after-commit=return(board)` (or `pool`, or no argument for both).
pub fn crash_point(kind: PendingKind) {
    #[cfg(feature = "failpoints")]
    fail::fail_point!("redis-after-commit", |only: Option<String>| {
        if only.is_none_or(|k| k == sea_orm::ActiveEnum::to_value(&kind)) {
            std::process::abort()
        }
    });
    let _ = kind;
}

/// How long settled records gather before one transaction deletes them.
const CLEAR_EVERY: Duration = Duration::from_millis(100);
/// Most records deleted by one transaction.
const CLEAR_BATCH: usize = 2_000;
/// Settled batches waiting for the clearer; past this they are dropped (and repaired).
const QUEUE: usize = 4_096;

enum Message {
    Settled(Vec<i64>),
    Flush(oneshot::Sender<()>),
}

/// Does the owed writes and clears their records (in the background, batched).
#[derive(Clone)]
pub struct Pending {
    queue: mpsc::Sender<Message>,
}

impl Pending {
    /// Starts the clearer, which deletes settled records through `writer` until every
    /// handle is gone.
    pub fn start(writer: GroupCommit) -> Pending {
        let (queue, inbox) = mpsc::channel(QUEUE);
        tokio::spawn(clear(writer, inbox));
        Pending { queue }
    }

    /// After the commit that recorded `owed`: the Redis write. If it lands, the records
    /// go; if not, they stay for the repair and the failure is logged here (the request
    /// has succeeded either way; a background pass may stop on the returned error).
    pub async fn settle<T>(
        &self,
        owed: &[Owed],
        write: impl Future<Output = redis::RedisResult<T>>,
    ) -> redis::RedisResult<T> {
        if let Some(first) = owed.first() {
            crash_point(first.kind);
        }
        let result = write.await;
        match &result {
            Ok(_) if !owed.is_empty() => {
                let ids = owed.iter().map(|o| o.id).collect();
                if self.queue.try_send(Message::Settled(ids)).is_err() {
                    tracing::debug!("settled Redis writes not cleared (queue full); their repair will redo them");
                }
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, kind = ?owed.first().map(|o| o.kind), "Redis write after a commit failed; repaired from SQL shortly")
            }
        }
        result
    }

    /// Wait until every record settled so far is deleted (shutdown, tests).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn clear(writer: GroupCommit, mut inbox: mpsc::Receiver<Message>) {
    let mut ids = Vec::new();
    let mut flushed = Vec::new();
    while let Some(first) = inbox.recv().await {
        take(first, &mut ids, &mut flushed);
        let until = tokio::time::Instant::now() + CLEAR_EVERY;
        while ids.len() < CLEAR_BATCH && flushed.is_empty() {
            match tokio::time::timeout_at(until, inbox.recv()).await {
                Ok(Some(message)) => take(message, &mut ids, &mut flushed),
                Ok(None) | Err(_) => break,
            }
        }
        if !ids.is_empty() {
            let settled = std::mem::take(&mut ids);
            let deleted =
                writer.run(move |txn| Box::pin(async move { Ok(Finish::Commit(remove(txn, &settled).await?)) })).await;
            if let Err(err) = deleted {
                tracing::warn!(error = %err, "settled Redis writes not cleared; their repair will redo them");
            }
        }
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
    }
}

fn take(message: Message, ids: &mut Vec<i64>, flushed: &mut Vec<oneshot::Sender<()>>) {
    match message {
        Message::Settled(more) => ids.extend(more),
        Message::Flush(done) => flushed.push(done),
    }
}
