//! Group commit: on SQLite, the hot write transactions (draw, review, filing) of many
//! requests share one `BEGIN IMMEDIATE … COMMIT`, each inside a savepoint of its own.
//!
//! SQLite has one writer at a time, so writes queue whatever we do. Run one by one, each
//! pays its own `BEGIN`, `COMMIT` (WAL frames written, sometimes a checkpoint) and every
//! statement's hop between the request's thread and sqlx's worker thread, with the writer's
//! turn held all along. Here a thread of its own (`sql-writer`, a single-threaded runtime
//! that does nothing else, so its hops are not queued behind HTTP work) takes the queued
//! jobs in order and runs them back to back in one transaction:
//!
//! - each job runs in a savepoint: an error (or `Finish::Discard`) rolls back that job
//!   alone, and the next job sees exactly what the earlier ones left, as if run in turn;
//! - nobody hears back before the `COMMIT`: a job's answer (even a refusal) is sent once
//!   the whole batch has committed, and if the commit fails every job in it gets the error;
//! - a job that fails with a server error (5xx) or panics ends the batch: SQLite may have
//!   rolled the whole transaction back by itself (`SQLITE_FULL`, `SQLITE_IOERR`…), and the
//!   next job's statements must not run outside it;
//! - a batch is one `db::begin_write` transaction, holding the process's writer turn like
//!   every other write transaction, so batches interleave with the rest;
//! - a job runs SQL and nothing else: Redis, HTTP or another `run` awaited inside it would
//!   hold up every job behind it (a nested `run` would wait forever). Read what it needs
//!   before, publish what it changed after.
//!
//! On PostgreSQL a job is a plain transaction on the pool: its writers run in parallel.
//!
//! `/metrics` shows how busy the writer is (`WriterMetrics`): on SQLite, its busy seconds
//! per second of wall time is its share of the writer's capacity in use, and busy
//! seconds over jobs its time per job.
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use prometheus::{Counter, IntCounter, Registry};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use crate::error::{AppError, Result};
use crate::infra::db::begin_write;

/// What a job's work asks for its writes once it has its answer.
pub enum Finish<T> {
    /// Keep them: they commit with the batch.
    Commit(T),
    /// Roll them back (nothing worth keeping, or a check failed after a write).
    Discard(T),
}

/// A job's work: the statements of one transaction, given the connection to run them on.
pub trait Work<T>:
    for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<Finish<T>>> + Send + 'static
{
}

impl<T, F> Work<T> for F where
    F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<Finish<T>>> + Send + 'static
{
}

/// Most jobs one transaction carries: bounds how long the writer's turn is held and how
/// long the first job waits for its commit.
const MAX_BATCH: usize = 64;
/// Jobs waiting for the writer beyond this make their senders wait (backpressure).
const QUEUE: usize = 1024;

#[derive(Clone)]
pub struct GroupCommit {
    inner: Inner,
    metrics: WriterMetrics,
}

/// The writer's work so far. On PostgreSQL every job is a batch of its own, and busy
/// time adds up over transactions that run side by side.
#[derive(Clone)]
pub struct WriterMetrics {
    batches: IntCounter,
    jobs: IntCounter,
    busy: Counter,
}

impl WriterMetrics {
    fn new() -> prometheus::Result<WriterMetrics> {
        Ok(WriterMetrics {
            batches: IntCounter::new("sql_writer_batches_total", "Write transactions run for group commit jobs")?,
            jobs: IntCounter::new("sql_writer_jobs_total", "Group commit jobs run (draws, reviews, filings)")?,
            busy: Counter::new(
                "sql_writer_busy_seconds_total",
                "Time in group commit transactions, from taking the first job (waiting for the writer's turn \
                 included) to the end of the commit",
            )?,
        })
    }

    /// Adds these counters to a server's registry.
    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.batches.clone()))?;
        registry.register(Box::new(self.jobs.clone()))?;
        registry.register(Box::new(self.busy.clone()))
    }

    /// Write transactions run so far (tests check that jobs shared them).
    pub fn batches(&self) -> u64 {
        self.batches.get()
    }

    /// Jobs run so far.
    pub fn jobs(&self) -> u64 {
        self.jobs.get()
    }

    fn record(&self, jobs: usize, started: Instant) {
        self.batches.inc();
        self.jobs.inc_by(jobs as u64);
        self.busy.inc_by(started.elapsed().as_secs_f64());
    }
}

#[derive(Clone)]
enum Inner {
    Queue(mpsc::Sender<Box<dyn Job>>),
    Direct(DatabaseConnection),
}

impl GroupCommit {
    /// For SQLite, starts the `sql-writer` thread, which ends once every handle is gone.
    pub fn new(writer: &DatabaseConnection) -> anyhow::Result<GroupCommit> {
        let metrics = WriterMetrics::new()?;
        if writer.get_database_backend() != DbBackend::Sqlite {
            return Ok(GroupCommit { inner: Inner::Direct(writer.clone()), metrics });
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
        let (db, counters) = (writer.clone(), metrics.clone());
        std::thread::Builder::new()
            .name("sql-writer".into())
            .spawn(move || runtime.block_on(serve(db, rx, counters)))?;
        Ok(GroupCommit { inner: Inner::Queue(tx), metrics })
    }

    /// The writer's counters, for `/metrics`.
    pub fn metrics(&self) -> &WriterMetrics {
        &self.metrics
    }

    /// Run `work` in a write transaction (on SQLite, its share of one) and answer once
    /// its writes are committed (or rolled back: an error or `Finish::Discard`).
    pub async fn run<T: Send + 'static>(&self, work: impl Work<T>) -> Result<T> {
        match &self.inner {
            Inner::Direct(db) => {
                let started = Instant::now();
                let outcome = async {
                    let txn = begin_write(db).await?;
                    match guarded(work(txn.inner())).await? {
                        Finish::Commit(value) => {
                            txn.commit().await?;
                            Ok(value)
                        }
                        Finish::Discard(value) => Ok(value),
                    }
                }
                .await;
                // Refused and failed jobs count too, as in a batch.
                self.metrics.record(1, started);
                outcome
            }
            Inner::Queue(queue) => {
                let (done, answer) = oneshot::channel();
                let job: Box<dyn Job> = Box::new(Pending { work, done });
                queue.send(job).await.map_err(|_| stopped())?;
                answer.await.map_err(|_| stopped())?
            }
        }
    }
}

fn stopped() -> AppError {
    AppError::Internal(anyhow::anyhow!("the sql-writer thread has stopped"))
}

/// A queued job with its answer's type erased.
trait Job: Send {
    /// Run in a savepoint of `txn`; what comes back is told the batch's fate.
    fn run<'t>(self: Box<Self>, txn: &'t DatabaseTransaction) -> BoxFuture<'t, Ran>;
    /// The batch could not start.
    fn abort(self: Box<Self>, err: &DbErr);
}

/// How a batch's commit went.
type Committed = std::result::Result<(), DbErr>;

struct Ran {
    /// Answers the job, given how its batch's commit went.
    settle: Box<dyn FnOnce(&Committed) + Send>,
    /// The job failed in a way that may have ended the transaction (see the module doc).
    ends_batch: bool,
}

struct Pending<T, F> {
    work: F,
    done: oneshot::Sender<Result<T>>,
}

impl<T: Send + 'static, F: Work<T>> Job for Pending<T, F> {
    fn run<'t>(self: Box<Self>, txn: &'t DatabaseTransaction) -> BoxFuture<'t, Ran> {
        Box::pin(async move {
            let Pending { work, done } = *self;
            let outcome = in_savepoint(txn, work).await;
            let ends_batch = outcome.as_ref().err().is_some_and(|e| e.is_server_error());
            let settle = move |commit: &Committed| {
                let answer = match commit {
                    Ok(()) => outcome,
                    Err(err) => Err(batch_failed(err)),
                };
                // The request may have gone (client hung up); its writes stand all the same.
                let _ = done.send(answer);
            };
            Ran { settle: Box::new(settle), ends_batch }
        })
    }

    fn abort(self: Box<Self>, err: &DbErr) {
        let _ = self.done.send(Err(batch_failed(err)));
    }
}

fn batch_failed(err: &DbErr) -> AppError {
    AppError::from(DbErr::Custom(format!("group commit: {err}")))
}

async fn in_savepoint<T>(txn: &DatabaseTransaction, work: impl Work<T>) -> Result<T> {
    let part = txn.begin().await?;
    match guarded(work(&part)).await {
        Ok(Finish::Commit(value)) => {
            part.commit().await?;
            Ok(value)
        }
        Ok(Finish::Discard(value)) => {
            part.rollback().await?;
            Ok(value)
        }
        Err(err) => {
            part.rollback().await?;
            Err(err)
        }
    }
}

/// A job's work with a panic turned into a server error: the writer thread lives on.
async fn guarded<T>(work: BoxFuture<'_, Result<Finish<T>>>) -> Result<Finish<T>> {
    AssertUnwindSafe(work).catch_unwind().await.unwrap_or_else(|panic| {
        let what = panic.downcast_ref::<&str>().copied().or(panic.downcast_ref::<String>().map(String::as_str));
        Err(AppError::Internal(anyhow::anyhow!("a write job panicked: {}", what.unwrap_or("?"))))
    })
}

async fn serve(db: DatabaseConnection, mut queue: mpsc::Receiver<Box<dyn Job>>, metrics: WriterMetrics) {
    while let Some(first) = queue.recv().await {
        let started = Instant::now();
        let txn = match begin_write(&db).await {
            Ok(txn) => txn,
            Err(err) => {
                tracing::error!(error = %err, "could not begin a group commit");
                first.abort(&err);
                continue;
            }
        };
        let mut settles = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            let ran = job.run(txn.inner()).await;
            settles.push(ran.settle);
            if !ran.ends_batch && settles.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        // Committing ends the writer's turn too.
        let commit = txn.commit().await;
        if let Err(err) = &commit {
            tracing::error!(error = %err, jobs = settles.len(), "a group commit failed");
        }
        metrics.record(settles.len(), started);
        tracing::debug!(jobs = settles.len(), ok = commit.is_ok(), "group commit");
        for settle in settles {
            settle(&commit);
        }
    }
}
