//! Sustained write throughput of `EventWriter` into SQLite and PostgreSQL.
//!
//! ```text
//! cargo run --release -p haven-store --example writer_bench -- [sqlite|postgres|both] [events]
//! ```
//!
//! One producer thread offers events as fast as the queue takes them (it waits while the queue
//! is full instead of dropping, so every event is written); the clock runs from the first
//! `record` until the writer has committed the last. SQLite goes to a fresh file under
//! `HAVEN_BENCH_DIR` (default: a temporary directory); PostgreSQL to a fresh database created
//! through `HAVEN_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`) and dropped
//! afterwards. CPU seconds of this process and of every `postgres` process are printed too: on a
//! shared machine they say more than the wall clock.
//!
//! Knobs: `HAVEN_BENCH_BATCH` and `HAVEN_BENCH_QUEUE` override the writer's batch size and queue;
//! `HAVEN_BENCH_DIRECT=1` skips the writer and calls `Store::insert_batch` directly (the
//! database's ceiling), from `HAVEN_BENCH_PAR` tasks at once (default 1).

use std::error::Error;
use std::time::{Duration, Instant};

use haven_activity::{Channel, Event, EventSink, Flags};
use haven_store::{EventWriter, Store, WriterConfig};
use jiff::Timestamp;
use sqlx::Connection;

type Res<T> = Result<T, Box<dyn Error>>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map_or("both", String::as_str).to_owned();
    let events: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        if which == "sqlite" || which == "both" {
            let dir = bench_dir()?;
            let location = format!("sqlite://{}", dir.path().join("writer-bench.db").display());
            let store = Store::open(&location).await?;
            run("sqlite", store, events).await?;
        }
        if which == "postgres" || which == "both" {
            let admin_url = std::env::var("HAVEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let name = format!("haven_bench_{}", std::process::id());
            let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
            sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
            let location = with_database(&admin_url, &name);
            let result = async {
                let store = Store::open(&location).await?;
                run("postgres", store, events).await
            }
            .await;
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await?;
            result?;
        }
        Ok(())
    })
}

async fn run(backend: &str, store: Store, events: u64) -> Res<()> {
    if std::env::var("HAVEN_BENCH_DIRECT").is_ok() {
        return direct(backend, store, events).await;
    }
    let mut config = WriterConfig::default();
    if let Ok(b) = std::env::var("HAVEN_BENCH_BATCH") {
        config.batch_size = b.parse()?;
    }
    if let Ok(q) = std::env::var("HAVEN_BENCH_QUEUE") {
        config.queue_capacity = q.parse()?;
    }
    let writer = EventWriter::spawn(store.clone(), config.clone())?;
    let producer_writer = writer.clone();
    let cpu0 = cpu_seconds();
    let server0 = postgres_cpu_seconds();
    let start = Instant::now();
    // The producer stands in for the DNS front end: a plain thread calling `record`.
    let producer = std::thread::spawn(move || {
        let templates = templates();
        let base = Timestamp::now().as_millisecond();
        let mut record_ns: u128 = 0;
        let mut waits = 0u64;
        for i in 0..events {
            while producer_writer.queue_depth() + 1 >= producer_writer.queue_capacity() {
                waits += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            let idx = usize::try_from(i % 10_000).unwrap_or(0);
            let mut e = templates.get(idx).cloned().unwrap_or_else(|| templates[0].clone());
            e.time = Timestamp::from_millisecond(base + i64::try_from(i / 100).unwrap_or(0)).unwrap_or(e.time);
            let t = Instant::now();
            producer_writer.record(e);
            record_ns += t.elapsed().as_nanos();
        }
        (record_ns, waits)
    });
    let (record_ns, waits) = producer.join().map_err(|_| "producer thread panicked")?;
    let offered = start.elapsed();
    while writer.written() + writer.dropped() < events {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = start.elapsed();
    let (cpu, server) = (cpu_seconds() - cpu0, postgres_cpu_seconds() - server0);
    let stats = writer.shutdown().await?;
    let rate = events as f64 / elapsed.as_secs_f64();
    println!(
        "{backend}: {events} events in {:.2} s = {:.0} events/s sustained; {} batches (mean {:.0} events); dropped {}; \
         record() mean {:.0} ns; producer finished offering after {:.2} s, waited for room {waits} times; \
         CPU: this process {cpu:.2} s, postgres {server:.2} s",
        elapsed.as_secs_f64(),
        rate,
        stats.batches,
        stats.written as f64 / stats.batches.max(1) as f64,
        stats.dropped,
        record_ns as f64 / events as f64,
        offered.as_secs_f64(),
    );
    store.close().await;
    Ok(())
}

/// The database's own ceiling: `insert_batch` straight from this task, no queue.
async fn direct(backend: &str, store: Store, events: u64) -> Res<()> {
    let batch: usize =
        std::env::var("HAVEN_BENCH_BATCH").ok().map(|b| b.parse()).transpose()?.unwrap_or(WriterConfig::default().batch_size);
    let templates = templates();
    let base = Timestamp::now().as_millisecond();
    let cpu0 = cpu_seconds();
    let server0 = postgres_cpu_seconds();
    let start = Instant::now();
    let par: u64 = std::env::var("HAVEN_BENCH_PAR").ok().map(|p| p.parse()).transpose()?.unwrap_or(1);
    let mut tasks = Vec::new();
    for part in 0..par {
        let store = store.clone();
        let templates = templates.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = Vec::with_capacity(batch);
            let mut written = 0;
            for i in (part..events).step_by(usize::try_from(par).unwrap_or(1)) {
                let idx = usize::try_from(i % 10_000).unwrap_or(0);
                let mut e = templates.get(idx).cloned().unwrap_or_else(|| templates[0].clone());
                e.time = Timestamp::from_millisecond(base + i64::try_from(i / 100).unwrap_or(0)).unwrap_or(e.time);
                buf.push(e);
                if buf.len() == batch {
                    written += store.insert_batch(&buf).await?;
                    buf.clear();
                }
            }
            written += store.insert_batch(&buf).await?;
            Ok::<u64, haven_store::StoreError>(written)
        }));
    }
    let mut written = 0;
    for t in tasks {
        written += t.await??;
    }
    let elapsed = start.elapsed();
    println!(
        "{backend} direct insert_batch({batch}): {written} events in {:.2} s = {:.0} events/s; CPU: this process {:.2} s, postgres {:.2} s",
        elapsed.as_secs_f64(),
        written as f64 / elapsed.as_secs_f64(),
        cpu_seconds() - cpu0,
        postgres_cpu_seconds() - server0,
    );
    store.close().await;
    Ok(())
}

/// User plus system CPU seconds of every `postgres` process on this machine (the server's work).
fn postgres_cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    let mut total = 0.0;
    for entry in dir.flatten() {
        let path = entry.path();
        if std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == "postgres") {
            total += stat_cpu(&path.join("stat"));
        }
    }
    total
}

fn stat_cpu(path: &std::path::Path) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else { return 0.0 };
    let Some((_, after)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// User plus system CPU time of this process so far, from /proc (0 where unavailable).
fn cpu_seconds() -> f64 {
    stat_cpu(std::path::Path::new("/proc/self/stat"))
}

/// Ten thousand varied events: 1,000 users on their own devices, 12 groups, 5,000 names,
/// one in twenty blocked.
fn templates() -> Vec<Event> {
    (0..10_000u32)
        .map(|i| {
            let u = (i * 7919) % 1000;
            let blocked = i % 20 == 0;
            Event {
                time: Timestamp::UNIX_EPOCH,
                channel: Channel::Dns,
                client: std::net::IpAddr::from([10, 0, (u / 256) as u8, (u % 256) as u8]),
                device: Some(format!("dev{u:04}")),
                user: Some(format!("user{u:04}")),
                group: format!("grp{}", u % 12),
                name: format!("site{}.example.com", (i * 31) % 5000),
                qtype: "A".into(),
                action: if blocked { "block" } else { "allow" }.into(),
                category: blocked.then(|| "gambling".into()),
                rule: if blocked { "ks3/gambling" } else { "ks3/default" }.into(),
                list_source: blocked.then(|| "ut1/gambling".into()),
                list_entry: blocked.then(|| format!("site{}.example.com", (i * 31) % 5000)),
                flags: if i % 500 == 0 { Flags::BYPASS } else { Flags::default() },
                upstream: (!blocked).then(|| "NOERROR".into()),
                latency_us: i % 5000,
                web: None,
            }
        })
        .collect()
}

fn bench_dir() -> Res<tempfile::TempDir> {
    Ok(match std::env::var("HAVEN_BENCH_DIR") {
        Ok(d) => tempfile::tempdir_in(d)?,
        Err(_) => tempfile::tempdir()?,
    })
}

fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}
