//! Hidden `haven records seed-bench` and `haven records bench`: fill a store with synthetic
//! safeguarding records (100,000 concerns and 1M chronology entries for the issue-7 scale
//! numbers) and time a pupil's chronology, the DSL inbox and the chain check. Kept out of the
//! normal test run; bench/records.sh drives them and BENCHMARKS.md quotes the results.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use haven_store::{NewEntry, NewRecord, Store};
use jiff::Timestamp;

/// `haven records seed-bench`.
#[derive(Args)]
pub struct SeedArgs {
    /// Records (concerns) to add.
    #[arg(long, default_value_t = 100_000)]
    concerns: u64,
    /// Entries per record (the concern itself included).
    #[arg(long, default_value_t = 10)]
    entries_per_concern: u64,
    /// Pupils the records are spread over.
    #[arg(long, default_value_t = 2_000)]
    pupils: u64,
}

/// `haven records bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Pupils the seed spread records over (chronologies are read for pupils 1..=N).
    #[arg(long, default_value_t = 2_000)]
    pupils: u64,
    /// Reads of each kind.
    #[arg(long, default_value_t = 200)]
    samples: u64,
}

const T0: i64 = 1_741_597_200_000;

fn entry(record_id: &str, kind: &str, occurred_ms: i64, body: String) -> NewEntry {
    NewEntry {
        record_id: record_id.to_owned(),
        kind: kind.into(),
        record_type: "safeguarding_concern".into(),
        sensitivity: "normal".into(),
        author_id: Some(2),
        author: "Jo Teacher, Class teacher".into(),
        occurred: Timestamp::from_millisecond(occurred_ms).unwrap_or(Timestamp::UNIX_EPOCH),
        body,
    }
}

/// Add the synthetic records in transactions of 1,000 records.
pub async fn seed(store: &Store, a: &SeedArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let pupils = a.pupils.max(1);
    let mut done = 0u64;
    while done < a.concerns {
        let n = (a.concerns - done).min(1_000);
        let mut records = Vec::with_capacity(n as usize);
        let mut entries = Vec::with_capacity((n * a.entries_per_concern) as usize);
        for i in done..done + n {
            let id = format!("bench:{i:08}");
            let pupil = (i % pupils) as i64 + 1;
            let at = T0 + (i as i64) * 60_000;
            records.push(NewRecord {
                entry: entry(&id, "concern", at, format!(r#"{{"account":"Synthetic concern {i}: said they were hungry and tired","category":"neglect"}}"#)),
                category: "neglect".into(),
                pupil_id: Some(pupil),
                pupil_name: format!("Pupil {pupil}"),
                subject_account: None,
                source: "staff_observation".into(),
                pupils: vec![(pupil, "subject".into())],
                named: vec![],
                event_ids: vec![],
            });
            for k in 1..a.entries_per_concern {
                entries.push(entry(&id, "note", at + k as i64 * 3_600_000, format!(r#"{{"note":"Follow-up {k} on concern {i}"}}"#)));
            }
        }
        store.create_records_bulk(&records, &entries, Timestamp::now()).await?;
        done += n;
        if done % 10_000 == 0 {
            eprintln!("seeded {done} records ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    println!("seeded {} records and {} entries in {:.1} s", a.concerns, a.concerns * a.entries_per_concern, started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

fn stats(name: &str, mut d: Vec<Duration>) {
    d.sort();
    let at = |q: f64| d[((d.len() as f64 * q).ceil() as usize).clamp(1, d.len()) - 1].as_secs_f64() * 1000.0;
    println!("{name}: {} reads, median {:.2} ms, p99 {:.2} ms, max {:.2} ms", d.len(), at(0.5), at(0.99), at(1.0));
}

/// Time chronology and inbox reads, then a full verify.
pub async fn bench(store: &Store, a: &BenchArgs) -> Result<ExitCode> {
    let mut chron = Vec::new();
    let mut sizes = 0usize;
    for s in 0..a.samples.max(1) {
        let pupil = (s * 7919 % a.pupils.max(1)) as i64 + 1;
        let t = Instant::now();
        sizes += store.chronology(pupil).await?.len();
        chron.push(t.elapsed());
    }
    stats(&format!("chronology (avg {} items)", sizes / chron.len()), chron);
    let mut inbox = Vec::new();
    for _ in 0..a.samples.max(1) {
        let t = Instant::now();
        store.record_list(9, None, false, 50).await?;
        inbox.push(t.elapsed());
    }
    stats("inbox (record_list, newest 50)", inbox);
    let t = Instant::now();
    let r = store.verify_records().await?;
    println!("verify: {} entries, {} attachments in {:.2} s; intact {}", r.entries, r.attachments, t.elapsed().as_secs_f64(), r.first_break.is_none());
    Ok(ExitCode::SUCCESS)
}
