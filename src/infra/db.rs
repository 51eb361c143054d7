//! Connecting to SQL (SQLite by default, PostgreSQL for scale) and opening write transactions.
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use anyhow::Context;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, ExecResult, IsolationLevel, QueryResult, Select, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The pool for reads (and for the rare write that needs no transaction).
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        ensure_sqlite_dir(url)?;
    }
    open(url, if sqlite { 8 } else { 32 }, Role::Reader).await
}

/// The connection write transactions run on. SQLite has one writer at a time, so it gets
/// one connection of its own, with a larger page cache: its cache and prepared statements
/// stay warm, where a pooled connection drops its whole page cache whenever another
/// connection has written. Its temporary files (the savepoint journals of group commit,
/// `infra::group_commit`) stay in memory: a few pages per job, where a file costs a
/// `pwrite` per page. It never checkpoints: a task of its own does (`checkpoints`), so the
/// write-back of the WAL runs beside the writer instead of inside its commits. On PostgreSQL
/// it is the same pool as `db`.
pub async fn connect_writer(url: &str, db: &DatabaseConnection) -> anyhow::Result<DatabaseConnection> {
    let writer = sqlite_pool_for(url, 1, Role::Writer, db).await?;
    if writer.get_database_backend() == DbBackend::Sqlite {
        let checkpointer = open(url, 1, Role::Checkpointer).await?;
        tokio::spawn(checkpoints(checkpointer, writer.clone()));
    }
    Ok(writer)
}

/// Connections for reading a whole table once (the ledger, when Redis is rebuilt). On
/// SQLite they memory-map the file, so a page read is a memory access rather than a
/// `pread` and a copy into the page cache: those were about a third of the rebuild's
/// SQL time. Close the pool when done; mapped pages count as the process's memory while
/// it is open. On PostgreSQL it is the same pool as `db`.
pub async fn connect_scan(url: &str, connections: u32, db: &DatabaseConnection) -> anyhow::Result<DatabaseConnection> {
    sqlite_pool_for(url, connections, Role::Scan, db).await
}

/// On SQLite, a pool of its own tuned for `role`; on PostgreSQL, the shared pool `db`.
async fn sqlite_pool_for(
    url: &str,
    connections: u32,
    role: Role,
    db: &DatabaseConnection,
) -> anyhow::Result<DatabaseConnection> {
    if db.get_database_backend() == DbBackend::Sqlite {
        open(url, connections, role).await
    } else {
        Ok(db.clone())
    }
}

/// Page cache per SQLite connection, in KiB: the readers' and the writer's. A reader's
/// reads are point lookups whose leaf pages the OS page cache holds anyway: 1 MiB each (half
/// SQLite's default) keeps their interior pages, and the eight of them 8 MB less resident
/// beside the photo decodes (`make bench`'s 32 uploads run after the API loads). A memory
/// map of the database file was tried and left out, since the mapped pages count as the
/// server's RSS (315 MB after the API loads).
const SQLITE_READER_CACHE_KIB: u32 = 1024;
/// What SQLite may hold in the whole process before it recycles cached pages instead of
/// allocating more. The star metrics and reports (grouping a county's ledger and incidents)
/// grew SQLite's memory on the reader threads, and the C allocator kept it: 221 MB peak
/// during `make bench`'s 32 uploads after those loads (167 MB before they existed). With
/// this limit, on the bench data after the star view and weekly report loads: 70 MB resident
/// instead of 97-132 MB, for 0-20 % fewer of those heavy requests a second.
const SQLITE_SOFT_HEAP_LIMIT: u64 = 16 << 20;
const SQLITE_WRITER_CACHE_KIB: u32 = 16 * 1024;

/// What a pool is for, which sets its SQLite tuning.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Reader,
    Writer,
    Scan,
    Checkpointer,
}

/// How much of the database file a scan connection maps.
const SQLITE_SCAN_MMAP_BYTES: u64 = 1 << 30;

async fn open(url: &str, connections: u32, role: Role) -> anyhow::Result<DatabaseConnection> {
    let cache_kib = if role == Role::Writer { SQLITE_WRITER_CACHE_KIB } else { SQLITE_READER_CACHE_KIB };
    let mmap_bytes = if role == Role::Scan { SQLITE_SCAN_MMAP_BYTES } else { 0 };
    let mut opt = ConnectOptions::new(url.to_owned());
    opt.max_connections(connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(15))
                .foreign_keys(true)
                .pragma("cache_size", format!("-{cache_kib}"))
                .pragma("soft_heap_limit", SQLITE_SOFT_HEAP_LIMIT.to_string())
                .pragma("temp_store", if role == Role::Writer { "memory" } else { "default" })
                .pragma("mmap_size", mmap_bytes.to_string())
                .pragma("wal_autocheckpoint", if role == Role::Writer { "0" } else { "1000" })
                .pragma("journal_size_limit", SQLITE_WAL_KEEP_BYTES.to_string())
        });
    Database::connect(opt).await.with_context(|| format!("connecting to {}", redact_url(url)))
}

/// How often the checkpointer copies the WAL's new pages back into the database file.
const SQLITE_CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// WAL size (pages) beyond which a checkpoint also waits for the writer's turn, so that
/// it completes and the next write transaction starts the WAL over from its beginning.
const SQLITE_WAL_RESTART_PAGES: i64 = 4000;
/// What a WAL file keeps of its size when it starts over.
const SQLITE_WAL_KEEP_BYTES: u64 = 64 << 20;

/// The writer's checkpoints, on a connection of their own. SQLite would otherwise run one
/// inside the commit that takes the WAL past 1,000 pages, with the writer's turn held, and
/// every job of that group commit would wait for the write-back and its `fsync`. Draws,
/// SQLite alone (`bench/sqlite/draw.py`): 2,272-2,917/s with its own checkpoints,
/// 4,130-6,097/s with them beside; through the API by hand: 1,501-1,587/s, 1,879-2,022/s.
///
/// Each tick, a `PASSIVE` checkpoint copies what no reader still needs while the writer
/// goes on appending. A WAL only starts over once a checkpoint has copied all of it, which
/// never happens while the writer keeps appending: so once it holds more than
/// `SQLITE_WAL_RESTART_PAGES`, a second checkpoint takes the writer's turn and copies the
/// little the first one left. Ends when the writer's pool is closed.
async fn checkpoints(checkpointer: DatabaseConnection, writer: DatabaseConnection) {
    let mut tick = tokio::time::interval(SQLITE_CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if writer.get_sqlite_connection_pool().is_closed() {
            return;
        }
        let pages = match checkpoint(&checkpointer).await {
            Ok(pages) => pages,
            Err(err) => {
                tracing::warn!(error = %err, "a WAL checkpoint failed");
                continue;
            }
        };
        if pages > SQLITE_WAL_RESTART_PAGES {
            let Ok(_turn) = writer_turn().await else { return };
            if let Err(err) = checkpoint(&checkpointer).await {
                tracing::warn!(error = %err, "a WAL checkpoint failed");
            }
        }
    }
}

/// One `PASSIVE` checkpoint; gives the WAL's size in pages.
async fn checkpoint(checkpointer: &DatabaseConnection) -> Result<i64, DbErr> {
    let sql = Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_checkpoint(PASSIVE)");
    let row = checkpointer.query_one_raw(sql).await?.ok_or_else(|| DbErr::Custom("no checkpoint row".into()))?;
    row.try_get_by_index(1)
}

/// The row a select on a key (primary or unique) finds, if any. Not `.one()`: its bound
/// `LIMIT ?` makes SQLite (3.51 here) re-prepare the statement on every run, since the
/// planner reads the bound limit and so each new binding expires the plan (gdb on
/// `sqlite3Reprepare` under load: every hit was a `LIMIT ?` select; perf: 8% of a draw's
/// CPU went to re-preparing one of them).
pub async fn by_key<E: EntityTrait, C: ConnectionTrait>(select: Select<E>, db: &C) -> Result<Option<E::Model>, DbErr> {
    Ok(select.all(db).await?.into_iter().next())
}

/// SQLite has one writer at a time. Writers take turns here, in the process, before
/// `BEGIN IMMEDIATE`: waiting on this queue hands the lock over at once, where SQLite's
/// own busy handler sleeps 1, 2, 5, 10… ms between retries (draws at 64 connections:
/// p99 561 ms before, 153 ms after). One process per SQLite file, as DESIGN.md says.
static SQLITE_WRITER: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(1)));

/// The process's SQLite writer turn: held for a whole write transaction.
async fn writer_turn() -> Result<OwnedSemaphorePermit, DbErr> {
    SQLITE_WRITER.clone().acquire_owned().await.map_err(|e| DbErr::Custom(format!("writer queue: {e}")))
}

/// A write transaction: on SQLite it holds the writer's turn until commit or drop.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<OwnedSemaphorePermit>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub fn inner(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// A transaction that takes SQLite's write lock up front (`BEGIN IMMEDIATE`, after the
/// process's writer turn), so writers queue instead of failing with "database is locked"
/// when one of them upgrades a read lock. On PostgreSQL it is a plain `BEGIN`.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    let turn = match db.get_database_backend() {
        DbBackend::Sqlite => Some(writer_turn().await?),
        _ => None,
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(WriteTxn { txn, _turn: turn })
}

/// A read-only transaction whose reads all see one moment: on PostgreSQL `REPEATABLE
/// READ`; on SQLite a deferred `BEGIN`, whose first read fixes the moment (WAL).
pub async fn begin_snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await
        }
        _ => db.begin().await,
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

fn ensure_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//").split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
    }
    Ok(())
}

/// A database URL without its password, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://fs:secret@127.0.0.1:5432/db"), "postgres://fs:***@127.0.0.1:5432/db");
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
