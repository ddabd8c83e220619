//! `Store`: opening a location (SQLite file or PostgreSQL URL), the connection pools, and writing
//! batches of events in one transaction.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use haven_activity::Event;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::error::StoreError;
use crate::priority;
use crate::row::{EventRef, EventRow, SELECT_COLUMNS, StoredEvent};
use crate::schema;

/// The file a plain data directory gets, so `Store::open("/var/lib/haven")` just works.
pub const SQLITE_FILE_NAME: &str = "activity.db";

/// Which database a store is on, for logs and for the few places the SQL differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (the default).
    Sqlite,
    /// A PostgreSQL server (a trust's central store).
    Postgres,
}

/// Connection settings; the defaults suit a school server.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections for queries (SQLite adds one dedicated write connection).
    pub max_connections: u32,
    /// How long to wait for a connection (or for PostgreSQL to answer) before failing.
    pub connect_timeout: Duration,
    /// How long SQLite waits on a lock held by another writer before failing the statement.
    pub sqlite_busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_connections: 4, connect_timeout: Duration::from_secs(10), sqlite_busy_timeout: Duration::from_secs(10) }
    }
}

/// The open activity store: cheap to clone, shared by the writer, queries and retention.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) db: Db,
    /// The location with any password removed, for messages.
    pub(crate) location: String,
}

#[derive(Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// SQLite allows one writer at a time, so writes go through a pool of one connection whose
/// page cache stays warm; reads use their own pool and, in WAL mode, never wait for it.
#[derive(Debug)]
pub(crate) struct SqlitePools {
    pub(crate) write: SqlitePool,
    pub(crate) read: SqlitePool,
}

/// Where a location string points.
#[derive(Debug, PartialEq, Eq)]
enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Store {
    /// Open (creating and migrating as needed) `sqlite://path`, `sqlite:path`, a plain path, a
    /// data directory (which gets [`SQLITE_FILE_NAME`]) or a `postgres://` / `postgresql://` URL.
    pub async fn open(location: &str) -> Result<Store, StoreError> {
        Store::open_with(location, &StoreOptions::default()).await
    }

    /// [`Store::open`] with explicit pool settings.
    pub async fn open_with(location: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        if options.max_connections == 0 {
            return Err(StoreError::Invalid { what: "max_connections", reason: "must be at least 1".into() });
        }
        let store = match parse_location(location)? {
            Location::Sqlite(path) => Store::open_sqlite(&path, options).await?,
            Location::Postgres(url) => Store::open_postgres(&url, options).await?,
        };
        schema::migrate(&store).await?;
        tracing::info!(location = %store.location(), backend = ?store.backend(), "activity store open");
        Ok(store)
    }

    async fn open_sqlite(path: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
        let location = format!("sqlite://{}", path.display());
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::DataDir { path: parent.to_path_buf(), source })?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a committed batch survives a crash of Haven; only a power cut can
            // lose the last commits. FULL would cost an fsync per batch for little gain.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(options.sqlite_busy_timeout)
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        let pool = |max, connect: SqliteConnectOptions| {
            SqlitePoolOptions::new().max_connections(max).acquire_timeout(options.connect_timeout).connect_with(connect)
        };
        // The writer does not checkpoint; `checkpointer` does, off the writer's thread.
        let write = pool(1, connect.clone().pragma("wal_autocheckpoint", "0").thread_name(|id| format!("{}{id}", priority::WRITER_THREAD)))
            .await
            .map_err(|source| StoreError::Connect { location: location.clone(), source })?;
        priority::lower_writer_threads();
        let read =
            pool(options.max_connections, connect).await.map_err(|source| StoreError::Connect { location: location.clone(), source })?;
        let inner = Arc::new(Inner { db: Db::Sqlite(SqlitePools { write, read }), location });
        tokio::spawn(checkpointer(Arc::downgrade(&inner)));
        Ok(Store { inner })
    }

    async fn open_postgres(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let location = redact(url);
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadLocation { location: location.clone(), reason: e.to_string() })?
            .application_name("haven");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.connect_timeout)
            .connect_with(connect)
            .await
            .map_err(|source| StoreError::Connect { location: location.clone(), source })?;
        Ok(Store { inner: Arc::new(Inner { db: Db::Postgres(pool), location }) })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.inner.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// The location, password removed, for logs and messages.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The schema version the database is at (equal to [`crate::SCHEMA_VERSION`] once open).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let sql = "SELECT COALESCE(MAX(version), 0) FROM haven_schema";
        let r = match &self.inner.db {
            Db::Sqlite(s) => sqlx::query_scalar::<_, i64>(sql).fetch_one(&s.read).await,
            Db::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
        };
        r.map_err(|e| self.db_error("read schema version", e))
    }

    /// Write `events` now, in one transaction, in order; returns how many rows were written.
    ///
    /// The [`crate::EventWriter`] calls this per batch; imports and tools may call it directly.
    /// PostgreSQL cannot store NUL characters in text, so they are written as U+FFFD there.
    pub async fn insert_batch(&self, events: &[Event]) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let r = match &self.inner.db {
            Db::Sqlite(s) => insert_sqlite(&s.write, events).await,
            Db::Postgres(p) => insert_postgres(p, events).await,
        };
        r.map_err(|e| self.db_error("insert events", e))
    }

    /// One stored event by id, for linking a safeguarding record to the request behind it.
    pub async fn get(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        let sql = format!("SELECT {SELECT_COLUMNS} FROM events WHERE id = $1");
        let row = match &self.inner.db {
            Db::Sqlite(s) => {
                sqlx::query(&sql).bind(id).fetch_optional(&s.read).await.and_then(|r| r.as_ref().map(EventRow::from_sqlite).transpose())
            }
            Db::Postgres(p) => {
                sqlx::query(&sql).bind(id).fetch_optional(p).await.and_then(|r| r.as_ref().map(EventRow::from_postgres).transpose())
            }
        };
        row.map_err(|e| self.db_error("get event", e))?.map(EventRow::into_stored).transpose()
    }

    /// Close the pools, waiting for queries in flight; later calls fail with a database error.
    pub async fn close(&self) {
        match &self.inner.db {
            Db::Sqlite(s) => {
                s.write.close().await;
                s.read.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }

    pub(crate) fn db_error(&self, operation: &'static str, source: sqlx::Error) -> StoreError {
        StoreError::Database { operation, location: self.inner.location.clone(), source }
    }
}

/// How often the SQLite WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Copy the SQLite WAL into the database file every second from a read connection, so the
/// writer's thread spends no time on it (about a seventh of its work when it did). Ends when the
/// store is dropped or closed.
async fn checkpointer(store: Weak<Inner>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut failures = 0u32;
    loop {
        tick.tick().await;
        let Some(inner) = store.upgrade() else { return };
        let Db::Sqlite(pools) = &inner.db else { return };
        // The pool may have reopened its connection on a new thread since the last tick.
        priority::lower_writer_threads();
        if pools.read.is_closed() {
            return;
        }
        // PASSIVE never waits for readers or the writer; whatever it cannot copy now it copies
        // next time. The WAL restarts from its beginning once a checkpoint has caught up.
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pools.read).await {
            Ok(_) => failures = 0,
            Err(_) if pools.read.is_closed() => return,
            Err(e) => {
                failures += 1;
                if failures == 1 || failures.is_power_of_two() {
                    tracing::warn!(location = %inner.location, error = %e, failures, "SQLite checkpoint failed; the WAL file grows until one succeeds");
                }
            }
        }
    }
}

/// Rows per SQLite INSERT statement at most: 512 rows x 20 columns stays far below SQLite's
/// 32,766 bound-parameter limit.
const SQLITE_MAX_ROWS_PER_STATEMENT: usize = 512;

/// Column list shared by both INSERTs.
const INSERT_COLUMNS: &str = "time_ms, channel, client, device, user_name, grp, name, qtype, action, category, rule, \
                              list_source, list_entry, flags, upstream, latency_us, sni, status, bytes_up, bytes_down";

/// SQLite multi-row INSERT texts for 1, 2, 4, ... 512 rows. A batch is split into these
/// power-of-two chunks, so at most ten distinct statements are ever prepared and cached.
fn sqlite_insert_sql(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        let one = format!("({})", ["?"; 20].join(", "));
        let mut v = Vec::new();
        let mut n = 1;
        while n <= SQLITE_MAX_ROWS_PER_STATEMENT {
            // OR FAIL rather than the default ABORT: SQLite then needs no statement journal for
            // a multi-row INSERT (a large share of the cost); a failure still rolls back the
            // whole batch, because the transaction is dropped uncommitted.
            v.push(format!("INSERT OR FAIL INTO events ({INSERT_COLUMNS}) VALUES {}", vec![one.as_str(); n].join(", ")));
            n *= 2;
        }
        v
    });
    // rows is a power of two no larger than the maximum, so its log2 indexes `all`.
    let i = rows.trailing_zeros() as usize;
    all.get(i).map(String::as_str).unwrap_or("")
}

/// Page cache of the SQLite write connection (KiB when negative). 12 MiB holds the hot index
/// leaves of a batch: 8 MiB re-read them (88k events/s), 12 MiB sustains 109-111k events/s and
/// keeps `haven serve` with the 1M list under dnsmasq's resident memory (BENCHMARKS.md).
const WRITER_CACHE_PRAGMA: &str = "PRAGMA cache_size = -12288";

async fn insert_sqlite(pool: &SqlitePool, events: &[Event]) -> Result<u64, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    // The write connection appends: it needs the index pages it is inserting into, not the 64 MiB
    // page cache the readers get, which it would otherwise fill (and keep resident) as the file
    // grows. Per connection and cheap, so set here where only the writer runs it.
    sqlx::query(WRITER_CACHE_PRAGMA).execute(&mut *conn).await?;
    // IMMEDIATE takes the write lock up front, so a busy database waits in busy_timeout rather
    // than failing part-way through the batch.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let mut written = 0;
    let mut rest = events;
    while !rest.is_empty() {
        let n = chunk_len(rest.len());
        let (chunk, tail) = rest.split_at(n);
        let mut q = sqlx::query(sqlite_insert_sql(n));
        for ev in chunk {
            q = crate::row::bind_event_columns!(q, ev);
        }
        written += q.execute(&mut *tx).await?.rows_affected();
        rest = tail;
    }
    tx.commit().await?;
    Ok(written)
}

/// The largest power of two that is at most `n` and at most the per-statement row limit.
fn chunk_len(n: usize) -> usize {
    let n = n.min(SQLITE_MAX_ROWS_PER_STATEMENT);
    1 << (usize::BITS - 1 - n.leading_zeros())
}

async fn insert_postgres(pool: &PgPool, events: &[Event]) -> Result<u64, sqlx::Error> {
    // COPY is PostgreSQL's bulk path: one statement per batch, rows streamed in order, no
    // per-row executor work. A COPY is atomic: the whole batch lands or none of it.
    const SQL: &str = "COPY events (time_ms, channel, client, device, user_name, grp, name, qtype, action, category, rule, \
                       list_source, list_entry, flags, upstream, latency_us, sni, status, bytes_up, bytes_down) FROM STDIN";
    let mut buf = Vec::with_capacity(events.len() * 160);
    for ev in events {
        copy_row(&mut buf, &EventRef::new(ev));
    }
    let mut conn = pool.acquire().await?;
    let mut copy = conn.copy_in_raw(SQL).await?;
    copy.send(buf).await?;
    copy.finish().await
}

/// One row of COPY text format: tab-separated, `\N` for NULL, backslash escapes.
fn copy_row(out: &mut Vec<u8>, r: &EventRef<'_>) {
    use std::io::Write as _;
    let _ = write!(out, "{}\t", r.time_ms);
    copy_text(out, Some(r.channel));
    copy_text(out, Some(&r.client));
    copy_text(out, r.device);
    copy_text(out, r.user);
    copy_text(out, Some(r.grp));
    copy_text(out, Some(r.name));
    copy_text(out, Some(r.qtype));
    copy_text(out, Some(r.action));
    copy_text(out, r.category);
    copy_text(out, Some(r.rule));
    copy_text(out, r.list_source);
    copy_text(out, r.list_entry);
    let _ = write!(out, "{}\t", r.flags);
    copy_text(out, r.upstream);
    let _ = write!(out, "{}\t", r.latency_us);
    copy_text(out, r.sni);
    copy_int(out, r.status.map(i64::from));
    copy_int(out, r.bytes_up);
    match r.bytes_down {
        Some(v) => {
            let _ = writeln!(out, "{v}");
        }
        None => out.extend_from_slice(b"\\N\n"),
    }
}

/// An integer field and its tab.
fn copy_int(out: &mut Vec<u8>, v: Option<i64>) {
    use std::io::Write as _;
    match v {
        Some(v) => {
            let _ = write!(out, "{v}\t");
        }
        None => out.extend_from_slice(b"\\N\t"),
    }
}

/// A text field and its tab; PostgreSQL text cannot hold NUL, so NUL becomes U+FFFD.
fn copy_text(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        None => out.extend_from_slice(b"\\N"),
        Some(s) => {
            for &b in s.as_bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    0 => out.extend_from_slice("\u{FFFD}".as_bytes()),
                    b => out.push(b),
                }
            }
        }
    }
    out.push(b'\t');
}

/// Turn a location string into a backend and a path or URL.
fn parse_location(raw: &str) -> Result<Location, StoreError> {
    let s = raw.trim();
    let bad = |reason: &str| StoreError::BadLocation { location: redact(s), reason: reason.to_owned() };
    if s.is_empty() {
        return Err(bad("it is empty"));
    }
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        return Ok(Location::Postgres(s.to_owned()));
    }
    let path = if let Some(rest) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
        // sqlite:// URLs may carry options after '?'; the store sets its own, so they are refused
        // rather than silently ignored.
        if rest.contains('?') {
            return Err(bad("sqlite URL options are not supported; the store sets WAL mode and its own pragmas"));
        }
        rest
    } else if let Some((scheme, _)) = s.split_once("://") {
        return Err(bad(&format!("unsupported scheme {scheme:?}; use a path, sqlite://path or postgres://...")));
    } else {
        s
    };
    if path.is_empty() {
        return Err(bad("no file name after the sqlite: prefix"));
    }
    if path == ":memory:" {
        return Err(bad("an in-memory database would lose the activity log; give a file in the data directory"));
    }
    let path = PathBuf::from(path);
    Ok(Location::Sqlite(if path.is_dir() { path.join(SQLITE_FILE_NAME) } else { path }))
}

/// Remove a password from a URL (`postgres://user:secret@host` -> `postgres://user:***@host`).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(parse_location("postgres://u@h/db").unwrap(), Location::Postgres("postgres://u@h/db".into()));
        assert_eq!(parse_location("postgresql://u@h/db").unwrap(), Location::Postgres("postgresql://u@h/db".into()));
        assert_eq!(parse_location("sqlite:///var/x.db").unwrap(), Location::Sqlite("/var/x.db".into()));
        assert_eq!(parse_location("sqlite:rel.db").unwrap(), Location::Sqlite("rel.db".into()));
        assert_eq!(parse_location(" /data/a.db ").unwrap(), Location::Sqlite("/data/a.db".into()));
        let dir = std::env::temp_dir();
        assert_eq!(parse_location(dir.to_str().unwrap()).unwrap(), Location::Sqlite(dir.join(SQLITE_FILE_NAME)));
        for bad in ["", "mysql://h/db", "sqlite:", "sqlite::memory:", "sqlite://x.db?mode=ro"] {
            assert!(matches!(parse_location(bad), Err(StoreError::BadLocation { .. })), "{bad}");
        }
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("postgres://u:secret@h:5432/db?x=1"), "postgres://u:***@h:5432/db?x=1");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("/plain/path"), "/plain/path");
        let e = parse_location("mysql://u:pw@h/db").unwrap_err().to_string();
        assert!(!e.contains("pw@"), "{e}");
    }

    #[test]
    fn chunks_are_powers_of_two() {
        assert_eq!(chunk_len(1), 1);
        assert_eq!(chunk_len(3), 2);
        assert_eq!(chunk_len(511), 256);
        assert_eq!(chunk_len(512), 512);
        assert_eq!(chunk_len(100_000), 512);
        for n in [1, 2, 4, 512] {
            assert_eq!(sqlite_insert_sql(n).matches('?').count(), 20 * n);
        }
    }
}
