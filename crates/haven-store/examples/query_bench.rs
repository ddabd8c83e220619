//! Query latency on a large activity log: the one-day, one-user question and a few others.
//!
//! ```text
//! cargo run --release -p haven-store --example query_bench -- [sqlite|postgres] [rows] [--keep]
//! ```
//!
//! Generates `rows` events (default 10,000,000) spread evenly over ten days, 1,000 users each on
//! their own device, 12 groups, 5,000 names, one in twenty blocked, one in 500 flagged: so a
//! user-day holds `rows / 10,000` events. Rows are generated inside the database in chunks of
//! 500,000 (SQL, with every index in place, as in production). Then each query runs once
//! (first run) and 25 more times over different users and days; median, 95th percentile and
//! max are printed, with the plan.
//!
//! SQLite goes to a file under `HAVEN_BENCH_DIR` (default: the temporary directory),
//! PostgreSQL to a database created through `HAVEN_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Without `--keep` both are removed afterwards; with
//! it they are kept (`query-bench-<rows>.db`, `haven_qbench_<rows>`) and reused on the next run.

use std::error::Error;
use std::time::{Duration, Instant};

use haven_activity::Flags;
use haven_store::{Action, ActivityQuery, Store};
use jiff::Timestamp;
use sqlx::Connection;

type Res<T> = Result<T, Box<dyn Error>>;

/// 2025-01-06T00:00:00Z: the first generated day.
const START: i64 = 1_736_121_600_000;
const DAY: i64 = 86_400_000;
const DAYS: i64 = 10;
const USERS: i64 = 1_000;
const CHUNK: i64 = 500_000;

/// The generated columns for row `g` of `rows`, the same SQL on both databases.
fn select_list(rows: i64) -> String {
    let u = "((g * 7919) % 1000)";
    format!(
        "{START} + (g * {span}) / {rows}, 'dns', '10.0.' || ({u} / 256) || '.' || ({u} % 256), 'dev' || {u}, 'user' || {u}, \
         'grp' || ({u} % 12), 'site' || ((g * 31) % 5000) || '.example.com', 'A', \
         CASE WHEN g % 20 = 0 THEN 'block' ELSE 'allow' END, CASE WHEN g % 20 = 0 THEN 'gambling' END, \
         CASE WHEN g % 20 = 0 THEN 'ks3/gambling' ELSE 'ks3/default' END, CASE WHEN g % 20 = 0 THEN 'ut1/gambling' END, \
         CASE WHEN g % 20 = 0 THEN 'site' || ((g * 31) % 5000) || '.example.com' END, CASE WHEN g % 500 = 0 THEN 1 ELSE 0 END, \
         CASE WHEN g % 20 = 0 THEN NULL ELSE 'NOERROR' END, g % 5000",
        span = DAYS * DAY
    )
}

const COLUMNS: &str = "time_ms, channel, client, device, user_name, grp, name, qtype, action, category, rule, list_source, \
                       list_entry, flags, upstream, latency_us";

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let keep = args.iter().any(|a| a == "--keep");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let backend = positional.first().map_or("sqlite", |s| s.as_str()).to_owned();
    let rows: i64 = positional.get(1).map(|s| s.parse()).transpose()?.unwrap_or(10_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        match backend.as_str() {
            "sqlite" => sqlite(rows, keep).await,
            "postgres" => postgres(rows, keep).await,
            other => Err(format!("unknown backend {other:?}: sqlite or postgres").into()),
        }
    })
}

async fn sqlite(rows: i64, keep: bool) -> Res<()> {
    let dir = std::env::var("HAVEN_BENCH_DIR").map_or_else(|_| std::env::temp_dir(), std::path::PathBuf::from);
    let path = dir.join(format!("query-bench-{rows}.db"));
    let location = format!("sqlite://{}", path.display());
    let store = Store::open(&location).await?;
    let existing = store.count(&ActivityQuery::new()).await?;
    if existing != u64::try_from(rows)? {
        if existing != 0 {
            return Err(format!("{} holds {existing} events, not {rows}: remove it first", path.display()).into());
        }
        let mut conn = sqlx::SqliteConnection::connect(&location).await?;
        sqlx::raw_sql("PRAGMA cache_size = -262144").execute(&mut conn).await?;
        let progress = Progress::new();
        for (lo, hi) in chunks(rows) {
            let sql = format!(
                "WITH RECURSIVE s(g) AS (SELECT {lo} UNION ALL SELECT g + 1 FROM s WHERE g < {hi}) \
                 INSERT INTO events ({COLUMNS}) SELECT {} FROM s",
                select_list(rows)
            );
            sqlx::raw_sql(&sql).execute(&mut conn).await?;
            progress.report(hi + 1);
        }
        conn.close().await?;
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("sqlite: {rows} events, database file {:.2} GiB", size as f64 / f64::from(1 << 30));
    queries(&store, rows).await?;
    store.close().await;
    if !keep {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    Ok(())
}

async fn postgres(rows: i64, keep: bool) -> Res<()> {
    let admin_url = std::env::var("HAVEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("haven_qbench_{rows}");
    let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)").bind(&name).fetch_one(&mut admin).await?;
    if !exists {
        sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
    }
    let location = with_database(&admin_url, &name);
    let result = async {
        let store = Store::open(&location).await?;
        let existing = store.count(&ActivityQuery::new()).await?;
        if existing != u64::try_from(rows)? {
            if existing != 0 {
                return Err(format!("database {name} holds {existing} events, not {rows}: drop it first").into());
            }
            let mut conn = sqlx::PgConnection::connect(&location).await?;
            let progress = Progress::new();
            for (lo, hi) in chunks(rows) {
                let sql = format!(
                    "INSERT INTO events ({COLUMNS}) SELECT {} FROM generate_series({lo}::int8, {hi}::int8) AS s(g)",
                    select_list(rows)
                );
                sqlx::raw_sql(&sql).execute(&mut conn).await?;
                progress.report(hi + 1);
            }
            let t = Instant::now();
            sqlx::raw_sql("VACUUM ANALYZE events").execute(&mut conn).await?;
            println!("postgres: VACUUM ANALYZE {:.1} s", t.elapsed().as_secs_f64());
        }
        let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&mut sqlx::PgConnection::connect(&location).await?)
            .await?;
        println!("postgres: {rows} events, database {:.2} GiB", size as f64 / f64::from(1 << 30));
        queries(&store, rows).await?;
        store.close().await;
        Ok::<(), Box<dyn Error>>(())
    }
    .await;
    if !keep {
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await?;
    }
    result
}

/// Inclusive row ranges of at most `CHUNK` rows covering `0..rows`.
fn chunks(rows: i64) -> Vec<(i64, i64)> {
    (0..rows).step_by(usize::try_from(CHUNK).unwrap_or(1)).map(|lo| (lo, (lo + CHUNK).min(rows) - 1)).collect()
}

/// Prints rows generated so far and the rate.
struct Progress(Instant);

impl Progress {
    fn new() -> Progress {
        Progress(Instant::now())
    }

    fn report(&self, done: i64) {
        let secs = self.0.elapsed().as_secs_f64();
        println!("  generated {done} rows in {secs:.0} s ({:.0} rows/s)", done as f64 / secs);
    }
}

async fn queries(store: &Store, rows: i64) -> Res<()> {
    let day = |d: i64| (ts(START + d * DAY), ts(START + (d + 1) * DAY));
    let user_day = |i: i64| {
        let (from, to) = day(3 + i % 5);
        ActivityQuery::new().user(format!("user{}", (i * 37) % USERS)).between(from, to)
    };
    println!("  a user-day holds {} events", store.count(&user_day(0)).await?);
    time(store, "one user, one day, newest 1,000 (default limit)", &user_day).await?;
    time(store, "one user, one day, every event (limit 100,000)", &|i| user_day(i).limit(100_000)).await?;
    time(store, "one device, one day, newest 1,000", &|i| {
        let (from, to) = day(3 + i % 5);
        ActivityQuery::new().device(format!("dev{}", (i * 41) % USERS)).between(from, to)
    })
    .await?;
    time(store, "one user, one day, blocked only", &|i| user_day(i).action(Action::Block)).await?;
    time(store, "whole school, one day, blocked, newest 1,000", &|i| {
        let (from, to) = day(3 + i % 5);
        ActivityQuery::new().action(Action::Block).between(from, to)
    })
    .await?;
    time(store, "whole school, one day, bypass-flagged, newest 1,000", &|i| {
        let (from, to) = day(3 + i % 5);
        ActivityQuery::new().flags(Flags::BYPASS).between(from, to)
    })
    .await?;
    time(store, "one user, one day, name glob *.example.com", &|i| user_day(i).name("site1*.example.com")).await?;
    let t = Instant::now();
    let n = store.count(&user_day(1)).await?;
    println!("  count(one user, one day) = {n} in {:.1} ms", ms(t.elapsed()));
    let t = Instant::now();
    let all = store.count(&ActivityQuery::new()).await?;
    println!("  count(everything) = {all} in {:.0} ms (expected {rows})", ms(t.elapsed()));
    Ok(())
}

async fn time(store: &Store, label: &str, q: &dyn Fn(i64) -> ActivityQuery) -> Res<()> {
    let plan = store.explain(&q(0)).await?.join(" | ");
    let t = Instant::now();
    let first_rows = store.query(&q(0)).await?.len();
    let first = t.elapsed();
    let mut times = Vec::new();
    let mut returned = 0;
    for i in 1..=25 {
        let t = Instant::now();
        returned += store.query(&q(i)).await?.len();
        times.push(t.elapsed());
    }
    times.sort();
    let pick = |p: usize| times.get(p).copied().unwrap_or_default();
    println!(
        "  {label}: first {:.1} ms ({first_rows} rows); then median {:.1} ms, p95 {:.1} ms, max {:.1} ms ({:.0} rows avg)\n    plan: {plan}",
        ms(first),
        ms(pick(12)),
        ms(pick(23)),
        ms(pick(24)),
        returned as f64 / 25.0
    );
    Ok(())
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}
