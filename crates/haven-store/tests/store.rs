//! Integration tests for the activity store. Every store test runs twice: against SQLite in a
//! temporary directory and against PostgreSQL in a fresh database of its own.
//!
//! PostgreSQL is read from `HAVEN_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`);
//! if it cannot be reached the PostgreSQL tests fail, they are never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Run each named `async fn(Ctx)` once per backend, as `<name>::sqlite` and `<name>::postgres`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    crate::common::with_sqlite(super::$name).await
                }
                #[tokio::test]
                async fn postgres() {
                    crate::common::with_postgres(super::$name).await
                }
            }
        )*
    };
}

mod common {
    //! Per-test databases, sample events and raw SQL access behind the store's back.

    use std::future::Future;
    use std::net::IpAddr;
    use std::sync::atomic::{AtomicU64, Ordering};

    pub use haven_activity::{Channel, Event, Flags, WebDetail};
    use haven_store::{Backend, Store};
    use jiff::Timestamp;
    use sqlx::Connection;

    /// 2025-03-10T09:00:00Z, a Monday morning.
    pub const T0: i64 = 1_741_597_200_000;
    /// One day in milliseconds.
    pub const DAY: i64 = 86_400_000;

    /// What a test body gets: an open, migrated store and the location to reopen it.
    pub struct Ctx {
        pub store: Store,
        pub location: String,
    }

    pub fn ts(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(ms).unwrap()
    }

    /// A fully populated event.
    pub fn event(time_ms: i64, user: &str, name: &str) -> Event {
        Event {
            time: ts(time_ms),
            channel: Channel::Dns,
            client: "10.1.2.3".parse().unwrap(),
            device: Some("LAPTOP-07".into()),
            user: Some(user.into()),
            group: "ks3".into(),
            name: name.into(),
            qtype: "A".into(),
            action: "allow".into(),
            category: None,
            rule: "ks3/default".into(),
            list_source: None,
            list_entry: None,
            flags: Flags::default(),
            upstream: Some("NOERROR".into()),
            latency_us: 1200,
            web: None,
        }
    }

    pub async fn with_sqlite<F, Fut>(body: F)
    where
        F: FnOnce(Ctx) -> Fut,
        Fut: Future<Output = ()>,
    {
        let dir = tempfile::tempdir().unwrap();
        let location = format!("sqlite://{}", dir.path().join("activity.db").display());
        let store = Store::open(&location).await.unwrap();
        body(Ctx { store: store.clone(), location }).await;
        store.close().await;
        drop(dir);
    }

    pub fn admin_url() -> String {
        std::env::var("HAVEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    pub async fn admin() -> sqlx::PgConnection {
        let url = admin_url();
        sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL for the haven-store tests is unreachable at {url}: {e}\n\
                 Start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) \
                 or point HAVEN_TEST_POSTGRES at a server where this user may CREATE DATABASE."
            )
        })
    }

    /// A fresh database named for this process and test, and its URL.
    pub async fn create_database(admin: &mut sqlx::PgConnection) -> (String, String) {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("haven_test_{}_{}_{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut *admin).await.unwrap();
        let mut url = url::Url::parse(&admin_url()).unwrap();
        url.set_path(&format!("/{name}"));
        (name, url.to_string())
    }

    pub async fn drop_database(admin: &mut sqlx::PgConnection, name: &str) {
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut *admin).await.unwrap();
    }

    /// Drops the test's database when the test ends, also when it panics.
    struct DropDatabase(String);

    impl Drop for DropDatabase {
        fn drop(&mut self) {
            let name = self.0.clone();
            // A runtime of its own on another thread: this may run while the test's runtime unwinds.
            let dropper = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let mut admin = admin().await;
                    drop_database(&mut admin, &name).await;
                });
            });
            let _ = dropper.join();
        }
    }

    pub async fn with_postgres<F, Fut>(body: F)
    where
        F: FnOnce(Ctx) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut admin = admin().await;
        let (name, location) = create_database(&mut admin).await;
        drop(admin);
        let _cleanup = DropDatabase(name);
        let store = Store::open(&location).await.unwrap();
        body(Ctx { store: store.clone(), location }).await;
        store.close().await;
    }

    /// Run one statement behind the store's back.
    pub async fn exec(ctx: &Ctx, sql: &str) {
        match ctx.store.backend() {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&ctx.location).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&ctx.location).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
            }
        }
    }

    /// Run one statement behind the store's back, returning the database's answer.
    pub async fn try_exec(ctx: &Ctx, sql: &str) -> Result<(), sqlx::Error> {
        match ctx.store.backend() {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&ctx.location).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut c).await.map(drop)
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&ctx.location).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut c).await.map(drop)
            }
        }
    }

    /// Read one integer behind the store's back.
    pub async fn scalar(ctx: &Ctx, sql: &str) -> i64 {
        match ctx.store.backend() {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&ctx.location).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&ctx.location).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
            }
        }
    }

    pub fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
}

mod migrations {
    //! Schema from empty, re-opening, and refusing a newer schema.

    use haven_activity::EventSink as _;
    use haven_store::{ActivityQuery, MIGRATION_COUNT, SCHEMA_VERSION, Store, StoreError};

    use crate::common::*;

    async fn from_empty(ctx: Ctx) {
        assert_eq!(ctx.store.schema_version().await.unwrap(), SCHEMA_VERSION);
        assert_eq!(ctx.store.count(&ActivityQuery::new()).await.unwrap(), 0);
        assert!(ctx.store.retention_log(10).await.unwrap().is_empty());
        for table in ["events", "retention_log", "haven_schema"] {
            assert_eq!(scalar(&ctx, &format!("SELECT COUNT(*) FROM {table} WHERE 1 = 0")).await, 0, "{table} exists");
        }
        assert_eq!(scalar(&ctx, "SELECT COUNT(*) FROM haven_schema").await, MIGRATION_COUNT);
        assert_eq!(ctx.store.insert_batch(&[event(T0, "a", "x.test")]).await.unwrap(), 1);
        let _ = haven_activity::Discard.record(event(T0, "a", "x.test"));
    }

    async fn reopen_is_idempotent(ctx: Ctx) {
        ctx.store.insert_batch(&[event(T0, "a", "1.test"), event(T0 + 1, "b", "2.test")]).await.unwrap();
        for _ in 0..2 {
            let again = Store::open(&ctx.location).await.unwrap();
            assert_eq!(again.schema_version().await.unwrap(), SCHEMA_VERSION);
            assert_eq!(again.count(&ActivityQuery::new()).await.unwrap(), 2);
            again.close().await;
        }
        // Each migration is recorded exactly once.
        assert_eq!(scalar(&ctx, "SELECT COUNT(*) FROM haven_schema").await, MIGRATION_COUNT);
    }

    async fn newer_schema_is_refused(ctx: Ctx) {
        exec(&ctx, "INSERT INTO haven_schema (version, description, applied_ms) VALUES (999, 'from the future', 0)").await;
        match Store::open(&ctx.location).await {
            Err(e @ StoreError::SchemaTooNew { found: 999, supported: SCHEMA_VERSION, .. }) => {
                assert!(e.to_string().contains("upgrade Haven"), "{e}");
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }

    both!(from_empty, reopen_is_idempotent, newer_schema_is_refused);
}

mod writer {
    //! The batched writer: batching, drops, shutdown, the one-second flush, a stalled database.

    use std::time::{Duration, Instant};

    use haven_activity::EventSink;
    use haven_store::{ActivityQuery, Backend, EventWriter, WriterConfig};
    use sqlx::Connection;

    use crate::common::*;

    fn config(queue_capacity: usize, batch_size: usize, flush_ms: u64) -> WriterConfig {
        WriterConfig { queue_capacity, batch_size, flush_interval: Duration::from_millis(flush_ms), concurrent_batches: 2 }
    }

    async fn wait_for_written(w: &EventWriter, n: u64) {
        let start = Instant::now();
        while w.written() < n {
            assert!(start.elapsed() < Duration::from_secs(10), "writer stuck at {} of {n}", w.written());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The tests run on a current-thread runtime: the writer task cannot run until the test
    /// awaits, so events recorded without awaiting are all queued before it takes any.
    async fn batches_batch(ctx: Ctx) {
        // One batch at a time, so ids follow recording order across batches too.
        let w = EventWriter::spawn(ctx.store.clone(), WriterConfig { concurrent_batches: 1, ..config(2_000, 256, 1_000) }).unwrap();
        for i in 0..1_000 {
            assert!(w.record(event(T0 + i, "pupil", &format!("n{i}.test"))));
        }
        assert_eq!(w.queue_depth(), 1_000);
        wait_for_written(&w, 1_000).await;
        // 256 + 256 + 256 + 232: full batches go at once, without waiting for the flush interval.
        assert_eq!(w.batches(), 4);
        assert_eq!(w.queue_depth(), 0);
        let stats = w.shutdown().await.unwrap();
        assert_eq!((stats.written, stats.dropped, stats.batches, stats.write_errors), (1_000, 0, 4, 0));
        assert_eq!(ctx.store.count(&ActivityQuery::new()).await.unwrap(), 1_000);
        // Ids follow the order events were recorded in.
        let rows = ctx.store.query(&ActivityQuery::new().limit(1_000)).await.unwrap();
        assert_eq!(rows[0].event.name, "n999.test");
        assert!(rows.windows(2).all(|p| p[0].id > p[1].id));
    }

    async fn drops_are_counted_when_the_queue_is_full(ctx: Ctx) {
        let w = EventWriter::spawn(ctx.store.clone(), config(8, 4, 50)).unwrap();
        let accepted = (0..100).filter(|i| w.record(event(T0 + i, "pupil", "x.test"))).count();
        assert_eq!(accepted, 8);
        assert_eq!(w.dropped(), 92);
        assert_eq!(w.queue_depth(), 8);
        let stats = w.shutdown().await.unwrap();
        assert_eq!((stats.written, stats.dropped), (8, 92));
        assert_eq!(ctx.store.count(&ActivityQuery::new()).await.unwrap(), 8);
    }

    async fn shutdown_flushes_everything_queued(ctx: Ctx) {
        // A huge batch and the longest interval: nothing would be written for a second.
        let w = EventWriter::spawn(ctx.store.clone(), config(10_000, 100_000, 1_000)).unwrap();
        for i in 0..3_000 {
            assert!(w.record(event(T0 + i, "pupil", "x.test")));
        }
        tokio::task::yield_now().await; // the writer takes the events and waits for more
        for i in 3_000..5_000 {
            assert!(w.record(event(T0 + i, "pupil", "x.test")));
        }
        let start = Instant::now();
        let stats = w.shutdown().await.unwrap();
        assert!(start.elapsed() < Duration::from_millis(900), "shutdown waited for the flush interval");
        assert_eq!((stats.written, stats.dropped), (5_000, 0));
        assert_eq!(ctx.store.count(&ActivityQuery::new()).await.unwrap(), 5_000);
        // Later events are refused and counted; a second shutdown is harmless.
        assert!(!w.record(event(T0, "late", "x.test")));
        assert_eq!(w.dropped(), 1);
        assert_eq!(w.shutdown().await.unwrap().written, 5_000);
    }

    async fn an_event_is_on_disk_within_a_second(ctx: Ctx) {
        let w = EventWriter::spawn(ctx.store.clone(), WriterConfig::default()).unwrap();
        let start = Instant::now();
        assert!(w.record(event(T0, "pupil", "x.test")));
        // Read through a separate connection, as a reader after a crash would.
        while scalar(&ctx, "SELECT COUNT(*) FROM events").await == 0 {
            assert!(start.elapsed() < Duration::from_secs(1), "event not on disk within a second");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        w.shutdown().await.unwrap();
    }

    async fn a_stalled_database_drops_and_counts_then_recovers(ctx: Ctx) {
        // Hold the write lock from another connection so the writer stalls mid-batch.
        enum Lock {
            Sqlite(sqlx::SqliteConnection),
            Postgres(sqlx::PgConnection),
        }
        let mut lock = match ctx.store.backend() {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&ctx.location).await.unwrap();
                sqlx::raw_sql("BEGIN EXCLUSIVE").execute(&mut c).await.unwrap();
                Lock::Sqlite(c)
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&ctx.location).await.unwrap();
                sqlx::raw_sql("BEGIN; LOCK TABLE events IN EXCLUSIVE MODE").execute(&mut c).await.unwrap();
                Lock::Postgres(c)
            }
        };
        let w = EventWriter::spawn(ctx.store.clone(), config(64, 16, 10)).unwrap();
        let mut offered = 0u64;
        for round in 0..20 {
            for i in 0..20 {
                w.record(event(T0 + round * 100 + i, "pupil", "x.test"));
                offered += 1;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A full queue, the batches being written (two at most) and the one waiting for a
        // slot are held; everything else was dropped and counted.
        assert!(w.dropped() >= offered - 64 - 3 * 16, "dropped {} of {offered}", w.dropped());
        assert_eq!(w.written(), 0);
        match &mut lock {
            Lock::Sqlite(c) => sqlx::raw_sql("COMMIT").execute(c).await.map(|_| ()).unwrap(),
            Lock::Postgres(c) => sqlx::raw_sql("COMMIT").execute(c).await.map(|_| ()).unwrap(),
        }
        let stats = w.shutdown().await.unwrap();
        assert_eq!(stats.written + stats.dropped, offered);
        assert_eq!(ctx.store.count(&ActivityQuery::new()).await.unwrap(), stats.written);
        assert!(stats.written >= 16);
    }

    async fn concurrent_batches_all_land(ctx: Ctx) {
        let w = EventWriter::spawn(ctx.store.clone(), WriterConfig { concurrent_batches: 4, ..config(10_000, 100, 1_000) }).unwrap();
        for i in 0..5_000 {
            assert!(w.record(event(T0 + i, &format!("u{}", i % 7), &format!("n{i}.test"))));
        }
        let stats = w.shutdown().await.unwrap();
        assert_eq!((stats.written, stats.dropped, stats.batches), (5_000, 0, 50));
        let rows = ctx.store.query(&ActivityQuery::new().limit(10_000)).await.unwrap();
        let mut names: Vec<_> = rows.iter().map(|r| r.event.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 5_000);
        // Newest first by time, whatever order concurrent batches committed in.
        assert_eq!(rows[0].event.name, "n4999.test");
        assert!(rows.windows(2).all(|p| p[0].event.time > p[1].event.time));
    }

    both!(
        concurrent_batches_all_land,
        batches_batch,
        drops_are_counted_when_the_queue_is_full,
        shutdown_flushes_everything_queued,
        an_event_is_on_disk_within_a_second,
        a_stalled_database_drops_and_counts_then_recovers,
    );

    #[test]
    fn a_writer_needs_a_runtime_and_a_sane_config() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = rt.block_on(haven_store::Store::open(dir.path().to_str().unwrap())).unwrap();
        assert!(matches!(EventWriter::spawn(store.clone(), WriterConfig::default()), Err(haven_store::StoreError::NoRuntime(_))));
        let _guard = rt.enter();
        let no_concurrency = WriterConfig { concurrent_batches: 0, ..config(1, 1, 10) };
        for bad in [config(0, 1, 10), config(1, 0, 10), config(1, 1, 0), config(1, 1, 1_001), no_concurrency] {
            assert!(matches!(EventWriter::spawn(store.clone(), bad), Err(haven_store::StoreError::Invalid { .. })));
        }
    }
}

mod retention {
    //! Pruning: only older rows, in batches, every run recorded.

    use haven_store::{ActivityQuery, DEFAULT_RETENTION_DAYS, EventWriter, Retention, WriterConfig};

    use crate::common::*;

    async fn prune_deletes_only_older_rows_in_batches_and_logs_it(ctx: Ctx) {
        let cutoff = T0;
        let old: Vec<_> = (0..1_000).map(|i| event(cutoff - 10 * DAY + i * 1_000, "old", "old.test")).collect();
        let mut new: Vec<_> = (0..299).map(|i| event(cutoff + 1 + i, "new", "new.test")).collect();
        new.push(event(cutoff, "edge", "edge.test")); // exactly at the cutoff: kept
        ctx.store.insert_batch(&new).await.unwrap();
        ctx.store.insert_batch(&old).await.unwrap();

        let report = ctx.store.prune(ts(cutoff), 128).await.unwrap();
        assert_eq!(report.rows_deleted, 1_000);
        assert_eq!(report.batches, 8); // 7 x 128 + 104
        assert_eq!(report.oldest_deleted, Some(ts(cutoff - 10 * DAY)));
        assert_eq!(report.newest_deleted, Some(ts(cutoff - 10 * DAY + 999_000)));
        assert_eq!(ctx.store.count(&ActivityQuery::new()).await.unwrap(), 300);
        assert_eq!(ctx.store.count(&ActivityQuery::new().user("old")).await.unwrap(), 0);
        assert_eq!(ctx.store.count(&ActivityQuery::new().user("edge")).await.unwrap(), 1);

        let log = ctx.store.retention_log(10).await.unwrap();
        assert_eq!(log.len(), 1);
        let r = &log[0];
        assert_eq!(r.id, report.log_id);
        assert_eq!((r.rows_deleted, r.batches, r.cutoff, r.keep_days), (1_000, 8, ts(cutoff), None));
        assert_eq!((r.oldest_deleted, r.newest_deleted), (report.oldest_deleted, report.newest_deleted));
        assert_eq!(r.outcome, "complete");
        assert!(r.finished.is_some_and(|f| f >= r.started));

        // A run with nothing to delete is still recorded.
        let again = ctx.store.prune(ts(cutoff), 128).await.unwrap();
        assert_eq!((again.rows_deleted, again.batches), (0, 0));
        let log = ctx.store.retention_log(10).await.unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!((log[0].id, log[0].rows_deleted, log[0].outcome.as_str()), (again.log_id, 0, "complete"));
        assert!(ctx.store.prune(ts(cutoff), 0).await.is_err());
    }

    async fn retention_period_sets_the_cutoff(ctx: Ctx) {
        let now = ts(T0);
        let ages = [400, 366, 364, 1];
        let events: Vec<_> = ages.iter().map(|d| event(T0 - d * DAY, &format!("age{d}"), "x.test")).collect();
        ctx.store.insert_batch(&events).await.unwrap();
        let retention = Retention::default();
        assert_eq!(retention.keep_days(), DEFAULT_RETENTION_DAYS);
        assert_eq!(retention.cutoff(now), ts(T0 - 365 * DAY));
        let report = ctx.store.apply_retention(retention, now).await.unwrap();
        assert_eq!(report.rows_deleted, 2);
        assert_eq!(ctx.store.count(&ActivityQuery::new()).await.unwrap(), 2);
        assert_eq!(ctx.store.retention_log(1).await.unwrap()[0].keep_days, Some(365));

        let week = Retention::days(7).unwrap();
        assert_eq!(ctx.store.apply_retention(week, now).await.unwrap().rows_deleted, 1);
        assert_eq!(ctx.store.query(&ActivityQuery::new()).await.unwrap()[0].event.user.as_deref(), Some("age1"));
        assert!(Retention::days(0).is_err());
    }

    async fn pruning_while_the_writer_writes(ctx: Ctx) {
        let old: Vec<_> = (0..2_000).map(|i| event(T0 - 400 * DAY + i, "old", "old.test")).collect();
        ctx.store.insert_batch(&old).await.unwrap();
        let w = EventWriter::spawn(ctx.store.clone(), WriterConfig::default()).unwrap();
        let writer = w.clone();
        let producer = tokio::spawn(async move {
            for i in 0..1_000 {
                assert!(haven_activity::EventSink::record(&writer, event(T0 + i, "new", "new.test")));
                if i % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        let report = ctx.store.apply_retention(Retention::default(), ts(T0)).await.unwrap();
        producer.await.unwrap();
        let stats = w.shutdown().await.unwrap();
        assert_eq!(report.rows_deleted, 2_000);
        assert_eq!((stats.written, stats.dropped), (1_000, 0));
        assert_eq!(ctx.store.count(&ActivityQuery::new()).await.unwrap(), 1_000);
    }

    both!(prune_deletes_only_older_rows_in_batches_and_logs_it, retention_period_sets_the_cutoff, pruning_while_the_writer_writes);
}

mod queries {
    //! Each filter on its own and together, ordering, limits and paging.

    use haven_activity::{Channel, Event, Flags};
    use haven_store::{Action, ActivityQuery, Store, StoreError};

    use crate::common::*;

    /// A small, varied day at school. Returns the events in insertion order.
    async fn seed(store: &Store) -> Vec<Event> {
        let mut v = Vec::new();
        let mut add = |i: i64, f: &dyn Fn(&mut Event)| {
            let mut e = event(T0 + i * 60_000, "amy", "www.bbc.co.uk");
            f(&mut e);
            v.push(e);
        };
        add(0, &|_| {});
        add(1, &|e| e.user = Some("ben".into()));
        add(2, &|e| {
            e.user = Some("ben".into());
            e.device = Some("IPAD-3".into());
            e.client = ip("10.1.9.9");
            e.name = "www.bet365.com".into();
            e.action = "block".into();
            e.category = Some("gambling".into());
            e.rule = "ks3/gambling".into();
            e.list_source = Some("ut1/gambling".into());
            e.list_entry = Some("bet365.com".into());
            e.upstream = None;
        });
        add(3, &|e| {
            e.group = "staff".into();
            e.user = Some("mr.jones".into());
            e.device = None;
            e.name = "mail.example.com".into();
        });
        add(4, &|e| {
            e.name = "dns.google".into();
            e.action = "block".into();
            e.category = Some("doh".into());
            e.flags = Flags::BYPASS;
        });
        add(5, &|e| {
            e.name = "www.google.com".into();
            e.flags = Flags::SAFE_SEARCH;
            e.flags.insert(Flags::CACHED);
        });
        add(6, &|e| {
            e.channel = Channel::Proxy;
            e.name = "https://example.com/Percent%20Page_1".into();
            e.qtype = "GET".into();
        });
        add(7, &|e| {
            e.user = None;
            e.device = None;
            e.name = "example.com".into();
        });
        add(8, &|e| {
            e.name = "bad.example.org".into();
            e.action = "block".into();
            e.category = Some("abuse".into());
            e.flags = Flags::ILLEGAL;
            e.flags.insert(Flags::BYPASS);
        });
        add(24 * 60, &|e| e.name = "tomorrow.example.com".into());
        store.insert_batch(&v).await.unwrap();
        v
    }

    /// The minute offsets (from T0) of the results, newest first.
    async fn minutes(store: &Store, q: &ActivityQuery) -> Vec<i64> {
        let rows = store.query(q).await.unwrap();
        // Every result set here is below the limit, so count agrees with it exactly.
        assert_eq!(store.count(q).await.unwrap(), u64::try_from(rows.len()).unwrap());
        rows.iter().map(|r| (r.event.time.as_millisecond() - T0) / 60_000).collect()
    }

    async fn by_user(ctx: Ctx) {
        seed(&ctx.store).await;
        assert_eq!(minutes(&ctx.store, &ActivityQuery::new().user("ben")).await, [2, 1]);
        assert_eq!(minutes(&ctx.store, &ActivityQuery::new().user("nobody")).await, Vec::<i64>::new());
        assert_eq!(minutes(&ctx.store, &ActivityQuery::new().user("Ben")).await, Vec::<i64>::new(), "names are exact");
    }

    async fn by_device_and_client(ctx: Ctx) {
        seed(&ctx.store).await;
        assert_eq!(minutes(&ctx.store, &ActivityQuery::new().device("IPAD-3")).await, [2]);
        assert_eq!(minutes(&ctx.store, &ActivityQuery::new().client(ip("10.1.9.9"))).await, [2]);
        assert_eq!(ctx.store.count(&ActivityQuery::new().device("LAPTOP-07")).await.unwrap(), 7);
    }

    async fn by_group(ctx: Ctx) {
        seed(&ctx.store).await;
        assert_eq!(minutes(&ctx.store, &ActivityQuery::new().group("staff")).await, [3]);
        assert_eq!(ctx.store.count(&ActivityQuery::new().group("ks3")).await.unwrap(), 9);
    }

    async fn by_category(ctx: Ctx) {
        seed(&ctx.store).await;
        assert_eq!(minutes(&ctx.store, &ActivityQuery::new().category("gambling")).await, [2]);
        assert_eq!(minutes(&ctx.store, &ActivityQuery::new().category("doh")).await, [4]);
    }

    async fn by_action(ctx: Ctx) {
        seed(&ctx.store).await;
        assert_eq!(minutes(&ctx.store, &ActivityQuery::new().action(Action::Block)).await, [8, 4, 2]);
        assert_eq!(ctx.store.count(&ActivityQuery::new().action(Action::Allow)).await.unwrap(), 7);
    }

    async fn by_name_substring_and_glob(ctx: Ctx) {
        seed(&ctx.store).await;
        let s = &ctx.store;
        assert_eq!(minutes(s, &ActivityQuery::new().name("bet365")).await, [2]);
        assert_eq!(minutes(s, &ActivityQuery::new().name("GOOGLE")).await, [5, 4], "ASCII case is ignored");
        assert_eq!(minutes(s, &ActivityQuery::new().name("*.example.com")).await, [1440, 3], "subdomains only");
        assert_eq!(minutes(s, &ActivityQuery::new().name("example.com")).await, [1440, 7, 6, 3], "substring");
        assert_eq!(minutes(s, &ActivityQuery::new().name("*example.*")).await, [1440, 8, 7, 6, 3]);
        assert_eq!(minutes(s, &ActivityQuery::new().name("dns.googl?")).await, [4]);
        // LIKE's own wildcards are literal in a pattern.
        assert_eq!(minutes(s, &ActivityQuery::new().name("%20page_1")).await, [6]);
        assert_eq!(minutes(s, &ActivityQuery::new().name("_")).await, [6]);
        assert_eq!(minutes(s, &ActivityQuery::new().name("%")).await, [6]);
    }

    async fn by_time_range(ctx: Ctx) {
        seed(&ctx.store).await;
        let q = ActivityQuery::new().between(ts(T0 + 2 * 60_000), ts(T0 + 5 * 60_000));
        assert_eq!(minutes(&ctx.store, &q).await, [4, 3, 2], "[from, to): from included, to excluded");
        let day = ActivityQuery::new().between(ts(T0), ts(T0 + DAY));
        assert_eq!(ctx.store.count(&day).await.unwrap(), 9);
        let mut open_ended = ActivityQuery::new();
        open_ended.from = Some(ts(T0 + DAY));
        assert_eq!(minutes(&ctx.store, &open_ended).await, [1440]);
        let backwards = ActivityQuery::new().between(ts(T0 + 1), ts(T0));
        assert!(matches!(ctx.store.query(&backwards).await, Err(StoreError::Invalid { .. })));
    }

    async fn by_flags_and_channel(ctx: Ctx) {
        seed(&ctx.store).await;
        let s = &ctx.store;
        assert_eq!(minutes(s, &ActivityQuery::new().flags(Flags::BYPASS)).await, [8, 4]);
        assert_eq!(minutes(s, &ActivityQuery::new().flags(Flags::ILLEGAL)).await, [8]);
        let mut both = Flags::SAFE_SEARCH;
        both.insert(Flags::CACHED);
        assert_eq!(minutes(s, &ActivityQuery::new().flags(both)).await, [5]);
        assert_eq!(s.count(&ActivityQuery::new().flags(Flags::default())).await.unwrap(), 10, "no flags: no filter");
        assert_eq!(minutes(s, &ActivityQuery::new().channel(Channel::Proxy)).await, [6]);
    }

    async fn combined_filters(ctx: Ctx) {
        seed(&ctx.store).await;
        let q = ActivityQuery::new().user("amy").action(Action::Block).between(ts(T0), ts(T0 + DAY)).flags(Flags::BYPASS);
        assert_eq!(minutes(&ctx.store, &q).await, [8, 4]);
        assert_eq!(ctx.store.count(&q).await.unwrap(), 2);
        let q = ActivityQuery::new().group("ks3").category("gambling").device("IPAD-3").name("bet");
        assert_eq!(minutes(&ctx.store, &q).await, [2]);
    }

    async fn newest_first_limit_and_paging(ctx: Ctx) {
        let seeded = seed(&ctx.store).await;
        // Same millisecond twice: the later write comes first.
        let twin = event(T0 + 24 * 60 * 60_000, "amy", "twin.example.com");
        ctx.store.insert_batch(&[twin]).await.unwrap();
        let all = ctx.store.query(&ActivityQuery::new()).await.unwrap();
        assert_eq!(all.len(), seeded.len() + 1);
        assert_eq!(all[0].event.name, "twin.example.com");
        assert!(all.windows(2).all(|p| (p[0].event.time, p[0].id) > (p[1].event.time, p[1].id)));

        let mut pages = Vec::new();
        let mut q = ActivityQuery::new().limit(3);
        loop {
            let page = ctx.store.query(&q).await.unwrap();
            let Some(last) = page.last() else { break };
            q = q.before(last.cursor());
            pages.push(page.iter().map(|r| r.id).collect::<Vec<_>>());
        }
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3, 2]);
        assert_eq!(pages.concat(), all.iter().map(|r| r.id).collect::<Vec<_>>());
        assert!(matches!(ctx.store.query(&ActivityQuery::new().limit(0)).await, Err(StoreError::Invalid { .. })));
        let first = ctx.store.get(all[3].id).await.unwrap().unwrap();
        assert_eq!(first, all[3]);
        assert_eq!(ctx.store.get(-1).await.unwrap(), None);
    }

    async fn the_planner_uses_the_indexes(ctx: Ctx) {
        seed(&ctx.store).await;
        let plan = ctx.store.explain(&ActivityQuery::new().user("amy").between(ts(T0), ts(T0 + DAY))).await.unwrap().join("\n");
        // On ten rows PostgreSQL may rightly prefer a scan; SQLite always picks the index.
        if ctx.store.backend() == haven_store::Backend::Sqlite {
            assert!(plan.contains("events_user_time"), "{plan}");
        } else {
            assert!(!plan.is_empty());
        }
    }

    both!(
        by_user,
        by_device_and_client,
        by_group,
        by_category,
        by_action,
        by_name_substring_and_glob,
        by_time_range,
        by_flags_and_channel,
        combined_filters,
        newest_first_limit_and_paging,
        the_planner_uses_the_indexes,
    );
}

mod roundtrip {
    //! Every field of an event comes back exactly as written, by both write paths.

    use haven_activity::{Channel, Event, EventSink, Flags};
    use haven_store::{ActivityQuery, EventWriter, WriterConfig};

    use crate::common::*;

    fn samples() -> Vec<Event> {
        let mut all_flags = Flags::BYPASS;
        for f in [Flags::SAFE_SEARCH, Flags::ILLEGAL, Flags::CACHED] {
            all_flags.insert(f);
        }
        let full = Event {
            time: ts(T0 + 123),
            channel: Channel::Proxy,
            client: ip("2001:db8::42"),
            device: Some("Chromebook «Ånna»".into()),
            user: Some("o'brien.s@school.example".into()),
            group: "year-7 \"red\"".into(),
            name: "https://example.com/a?q=100%25_off&x=\\y".into(),
            qtype: "CONNECT".into(),
            action: "block".into(),
            category: Some("self-harm".into()),
            rule: "floor/iwf".into(),
            // Tabs, newlines and backslashes are COPY's own syntax on PostgreSQL.
            list_source: Some("iwf\t(hashed)\r\nline 2 \\N \\".into()),
            list_entry: Some("sha256:0f3c".into()),
            flags: Flags::from_bits(0xff),
            upstream: Some("SERVFAIL".into()),
            latency_us: u32::MAX,
            web: Some(WebDetail { sni: Some("tab\there.example".into()), status: 403, bytes_up: u64::from(u32::MAX) * 4, bytes_down: 0 }),
        };
        let minimal = Event {
            time: ts(0),
            channel: Channel::Dns,
            client: ip("0.0.0.0"),
            device: None,
            user: None,
            group: String::new(),
            name: String::new(),
            qtype: String::new(),
            action: "allow".into(),
            category: None,
            rule: String::new(),
            list_source: None,
            list_entry: None,
            flags: Flags::default(),
            upstream: Some(String::new()),
            latency_us: 0,
            web: None,
        };
        let web_no_sni = Event {
            web: Some(WebDetail { sni: None, status: 502, bytes_up: 12, bytes_down: 345 }),
            ..event(T0 + 2, "ben", "http://example.org/")
        };
        let mut typical = event(T0 + 1, "amy", "www.bbc.co.uk");
        typical.flags = all_flags;
        vec![full, minimal, typical, web_no_sni]
    }

    async fn every_field_round_trips(ctx: Ctx) {
        let written = samples();
        ctx.store.insert_batch(&written).await.unwrap();
        let w = EventWriter::spawn(ctx.store.clone(), WriterConfig::default()).unwrap();
        for e in &written {
            assert!(w.record(e.clone()));
        }
        w.shutdown().await.unwrap();

        let mut back = ctx.store.query(&ActivityQuery::new()).await.unwrap();
        back.sort_by_key(|r| r.id);
        let events: Vec<Event> = back.iter().map(|r| r.event.clone()).collect();
        assert_eq!(events, [written.clone(), written].concat());
        for r in &back {
            assert_eq!(ctx.store.get(r.id).await.unwrap().as_ref(), Some(r));
        }
    }

    async fn time_is_kept_to_the_millisecond(ctx: Ctx) {
        let mut e = event(T0, "amy", "x.test");
        e.time = jiff::Timestamp::from_nanosecond(i128::from(T0) * 1_000_000 + 999_999).unwrap();
        ctx.store.insert_batch(&[e]).await.unwrap();
        let back = ctx.store.query(&ActivityQuery::new()).await.unwrap();
        assert_eq!(back[0].event.time, ts(T0));
        assert_eq!(scalar(&ctx, "SELECT time_ms FROM events").await, T0);
    }

    async fn nul_characters(ctx: Ctx) {
        let mut e = event(T0, "amy", "a\0b.test");
        e.rule = "\0".into();
        ctx.store.insert_batch(&[e.clone()]).await.unwrap();
        let back = ctx.store.query(&ActivityQuery::new()).await.unwrap().remove(0).event;
        match ctx.store.backend() {
            // SQLite keeps them.
            haven_store::Backend::Sqlite => assert_eq!(back, e),
            // PostgreSQL text cannot hold NUL: it is stored as U+FFFD rather than failing the batch.
            haven_store::Backend::Postgres => {
                assert_eq!((back.name.as_str(), back.rule.as_str()), ("a\u{FFFD}b.test", "\u{FFFD}"));
            }
        }
    }

    both!(every_field_round_trips, time_is_kept_to_the_millisecond, nul_characters);
}

mod open {
    //! Locations: paths, data directories, URLs, and failures that name what failed.

    use std::time::{Duration, Instant};

    use haven_store::{ActivityQuery, Backend, SQLITE_FILE_NAME, Store, StoreError, StoreOptions};

    use crate::common::*;

    #[tokio::test]
    async fn sqlite_by_path_url_and_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let by_dir = Store::open(dir.path().to_str().unwrap()).await.unwrap();
        assert_eq!(by_dir.backend(), Backend::Sqlite);
        assert!(dir.path().join(SQLITE_FILE_NAME).is_file());
        by_dir.insert_batch(&[event(T0, "a", "x.test")]).await.unwrap();
        by_dir.close().await;

        let file = dir.path().join(SQLITE_FILE_NAME);
        let by_url = Store::open(&format!("sqlite://{}", file.display())).await.unwrap();
        assert_eq!(by_url.count(&ActivityQuery::new()).await.unwrap(), 1);
        by_url.close().await;

        let nested = dir.path().join("not/yet/there/haven.db");
        let made = Store::open(nested.to_str().unwrap()).await.unwrap();
        assert!(nested.is_file());
        made.close().await;
        // WAL mode, so readers never wait for the writer.
        let ctx = Ctx { store: Store::open(file.to_str().unwrap()).await.unwrap(), location: format!("sqlite://{}", file.display()) };
        let mode: String = {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&ctx.location).await.unwrap();
            sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut c).await.unwrap()
        };
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn bad_locations_say_why() {
        for (loc, needle) in [("mysql://u@h/db", "unsupported scheme"), ("sqlite::memory:", "in-memory"), ("", "empty")] {
            match Store::open(loc).await {
                Err(e @ StoreError::BadLocation { .. }) => assert!(e.to_string().contains(needle), "{e}"),
                other => panic!("{loc}: expected BadLocation, got {other:?}"),
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let under_a_file = blocker.join("sub/activity.db");
        assert!(matches!(Store::open(under_a_file.to_str().unwrap()).await, Err(StoreError::DataDir { .. })));
    }

    #[tokio::test]
    async fn unreachable_postgres_names_the_server_but_not_the_password() {
        let options = StoreOptions { connect_timeout: Duration::from_secs(2), ..StoreOptions::default() };
        let start = Instant::now();
        let err = Store::open_with("postgres://haven:s3cret@127.0.0.1:1/haven", &options).await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10));
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Connect { .. }), "{msg}");
        assert!(msg.contains("127.0.0.1:1") && !msg.contains("s3cret"), "{msg}");
    }

    #[tokio::test]
    async fn postgres_for_these_tests_is_reachable() {
        // Fails, with instructions, rather than letting the PostgreSQL half pass vacuously.
        drop(admin().await);
    }
}

#[path = "tables/accounts.rs"]
mod accounts;

#[path = "tables/people.rs"]
mod people;

#[path = "tables/policy.rs"]
mod policy;
#[path = "tables/identity.rs"]
mod identity;
#[path = "tables/records.rs"]
mod records;
#[path = "tables/records_transfer.rs"]
mod records_transfer;
#[path = "tables/logins.rs"]
mod logins;
#[path = "tables/alerts.rs"]
mod alerts;
