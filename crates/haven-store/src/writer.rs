//! `EventWriter`: the production `EventSink`. A bounded queue in front of one batching task.
//!
//! `record` never waits: it `try_send`s into the queue and, when the queue is full (the database
//! has fallen behind), drops the event, counts it and warns at most every ten seconds that the
//! activity record has a gap. The task takes up to `batch_size` events, or what arrived within
//! `flush_interval` of the first, and writes them in one transaction (on PostgreSQL, up to
//! `concurrent_batches` transactions at once). `flush_interval` is at most one second, so while
//! the database keeps up a SIGKILL loses at most the last second or so (what was queued and the
//! batch being committed). `shutdown` writes everything queued.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use haven_activity::{Event, EventSink};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::error::StoreError;
use crate::store::{Backend, Store};

/// The longest a queued event may wait before its batch is written.
pub const MAX_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Least time between two "queue full" warnings.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Attempts at writing one batch before its events are counted as dropped.
const WRITE_ATTEMPTS: u32 = 6;

/// First retry delay after a failed write; doubles up to `MAX_RETRY_DELAY`.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Longest retry delay.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);

/// Queue, batch and concurrency settings. Batches of 8,192 keep what a batch holds in memory
/// small (a few MB, with two batches alive at once) for about 10% more SQLite CPU per event than
/// 16,384; the queue absorbs more than half a second of stall at 100,000 events/s.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Events the queue holds before `record` starts dropping.
    pub queue_capacity: usize,
    /// Most events per transaction. Large batches matter for SQLite: each commit rewrites every
    /// index page it touched, so rows per page touched is what sets the write rate.
    pub batch_size: usize,
    /// Longest an event waits for its batch to fill (at most [`MAX_FLUSH_INTERVAL`]).
    pub flush_interval: Duration,
    /// Batches written at once. PostgreSQL indexes each row on the server's CPU, so two
    /// connections nearly double its rate; ids then follow recording order within a batch but
    /// may interleave between two batches committed together (`time` orders them either way).
    /// SQLite has a single writer connection, so there batches are always written one at a time.
    pub concurrent_batches: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig { queue_capacity: 65_536, batch_size: 8_192, flush_interval: Duration::from_millis(250), concurrent_batches: 2 }
    }
}

impl WriterConfig {
    fn check(&self) -> Result<(), StoreError> {
        let bad = |what, reason: &str| Err(StoreError::Invalid { what, reason: reason.to_owned() });
        if self.queue_capacity == 0 {
            return bad("writer queue capacity", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("writer batch size", "must be at least 1");
        }
        if self.concurrent_batches == 0 {
            return bad("writer concurrent batches", "must be at least 1");
        }
        if self.flush_interval.is_zero() || self.flush_interval > MAX_FLUSH_INTERVAL {
            return bad("writer flush interval", "must be more than zero and at most one second");
        }
        Ok(())
    }
}

/// A snapshot of the writer's counters, for metrics and the shutdown log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Events written to the database.
    pub written: u64,
    /// Events lost: queue full, writer stopped, or a batch that failed every attempt.
    pub dropped: u64,
    /// Batches (transactions) written.
    pub batches: u64,
    /// Failed write attempts (each retried, up to a limit).
    pub write_errors: u64,
    /// Events waiting in the queue.
    pub queue_depth: usize,
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    batches: AtomicU64,
    write_errors: AtomicU64,
    /// Milliseconds after `started` of the last warning, plus one (0: never warned).
    last_warn: AtomicU64,
    /// `dropped` when the last warning was given.
    dropped_at_warn: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    tx: mpsc::Sender<Event>,
    capacity: usize,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    started: Instant,
    location: String,
}

/// The batched writer: hand it events from any thread without waiting; clones share one queue.
#[derive(Debug, Clone)]
pub struct EventWriter {
    shared: Arc<Shared>,
}

impl EventWriter {
    /// Start the writer task on the current Tokio runtime, writing into `store`.
    pub fn spawn(store: Store, config: WriterConfig) -> Result<EventWriter, StoreError> {
        config.check()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| StoreError::NoRuntime(e.to_string()))?;
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let (stop, stop_rx) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let location = store.location().to_owned();
        let task = runtime.spawn(run(store, rx, stop_rx, Arc::clone(&counters), config.clone()));
        Ok(EventWriter {
            shared: Arc::new(Shared {
                tx,
                capacity: config.queue_capacity,
                counters,
                stop,
                task: Mutex::new(Some(task)),
                started: Instant::now(),
                location,
            }),
        })
    }

    /// Events waiting in the queue.
    pub fn queue_depth(&self) -> usize {
        self.shared.capacity.saturating_sub(self.shared.tx.capacity())
    }

    /// The queue's capacity.
    pub fn queue_capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Events written to the database so far.
    pub fn written(&self) -> u64 {
        self.shared.counters.written.load(Ordering::Relaxed)
    }

    /// Events lost so far (queue full, writer stopped, or a batch that failed every attempt).
    pub fn dropped(&self) -> u64 {
        self.shared.counters.dropped.load(Ordering::Relaxed)
    }

    /// Batches (transactions) written so far.
    pub fn batches(&self) -> u64 {
        self.shared.counters.batches.load(Ordering::Relaxed)
    }

    /// Failed write attempts so far.
    pub fn write_errors(&self) -> u64 {
        self.shared.counters.write_errors.load(Ordering::Relaxed)
    }

    /// All counters at once.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            written: self.written(),
            dropped: self.dropped(),
            batches: self.batches(),
            write_errors: self.write_errors(),
            queue_depth: self.queue_depth(),
        }
    }

    /// Stop taking events, write everything already queued, and wait for the task to end.
    ///
    /// Events recorded after this is called are dropped and counted. Calling it again (from any
    /// clone) returns the counters at once.
    pub async fn shutdown(&self) -> Result<WriterStats, StoreError> {
        self.shared.stop.send_replace(true);
        let task = self.shared.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(task) = task {
            task.await.map_err(|e| StoreError::WriterTask(e.to_string()))?;
        }
        let stats = self.stats();
        tracing::info!(
            location = %self.shared.location,
            written = stats.written,
            dropped = stats.dropped,
            batches = stats.batches,
            "activity writer stopped"
        );
        Ok(stats)
    }

    /// Count a dropped event and, at most every ten seconds, say that the record has a gap.
    fn note_drop(&self, why: &'static str) {
        let c = &self.shared.counters;
        let total = c.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let now = u64::try_from(self.shared.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
        let last = c.last_warn.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= u64::try_from(WARN_EVERY.as_millis()).unwrap_or(u64::MAX);
        if due && c.last_warn.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            let before = c.dropped_at_warn.swap(total, Ordering::Relaxed);
            tracing::warn!(
                location = %self.shared.location,
                reason = why,
                dropped_since_last_warning = total.saturating_sub(before),
                dropped_total = total,
                "activity events dropped: the activity record has a gap"
            );
        }
    }
}

impl EventSink for EventWriter {
    fn record(&self, event: Event) -> bool {
        match self.shared.tx.try_send(event) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.note_drop("queue full: the database is not keeping up");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.note_drop("the writer has stopped");
                false
            }
        }
    }
}

/// The writer task: gather a batch, hand it to a write task, repeat; on stop, drain the queue,
/// wait for every write in flight, and end.
async fn run(store: Store, mut rx: mpsc::Receiver<Event>, mut stop: watch::Receiver<bool>, counters: Arc<Counters>, config: WriterConfig) {
    let in_flight_max = match store.backend() {
        Backend::Sqlite => 1,
        Backend::Postgres => config.concurrent_batches,
    };
    let mut writes = Writes { store, counters, tasks: JoinSet::new(), max: in_flight_max };
    let mut batch: Vec<Event> = Vec::with_capacity(config.batch_size);
    let mut stopping = false;
    while !stopping {
        tokio::select! {
            biased;
            r = stop.changed() => {
                // An error means every EventWriter is gone: stop too.
                stopping = r.is_err() || *stop.borrow();
                continue;
            }
            n = rx.recv_many(&mut batch, config.batch_size) => {
                if n == 0 {
                    break;
                }
            }
        }
        let deadline = tokio::time::Instant::now() + config.flush_interval;
        while batch.len() < config.batch_size {
            let room = config.batch_size - batch.len();
            tokio::select! {
                biased;
                r = stop.changed() => {
                    stopping = r.is_err() || *stop.borrow();
                    if stopping {
                        break;
                    }
                }
                n = rx.recv_many(&mut batch, room) => {
                    if n == 0 {
                        break;
                    }
                }
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        writes.submit(std::mem::replace(&mut batch, Vec::with_capacity(config.batch_size))).await;
    }
    // Refuse new events, then write everything already queued.
    rx.close();
    writes.submit(std::mem::take(&mut batch)).await;
    loop {
        let mut rest = Vec::with_capacity(config.batch_size);
        if rx.recv_many(&mut rest, config.batch_size).await == 0 {
            break;
        }
        writes.submit(rest).await;
    }
    writes.finish().await;
}

/// Batches being written, at most `max` at once.
struct Writes {
    store: Store,
    counters: Arc<Counters>,
    tasks: JoinSet<()>,
    max: usize,
}

impl Writes {
    /// Start writing `batch`, first waiting for a slot if `max` writes are in flight.
    async fn submit(&mut self, batch: Vec<Event>) {
        if batch.is_empty() {
            return;
        }
        while self.tasks.len() >= self.max {
            self.join_one().await;
        }
        let (store, counters) = (self.store.clone(), Arc::clone(&self.counters));
        self.tasks.spawn(async move { write(&store, batch, &counters).await });
    }

    /// Wait for every write in flight.
    async fn finish(&mut self) {
        while !self.tasks.is_empty() {
            self.join_one().await;
        }
    }

    async fn join_one(&mut self) {
        if let Some(Err(e)) = self.tasks.join_next().await {
            // A write task only ends abnormally if it panicked; its events are unaccounted for.
            tracing::error!(error = %e, "activity batch write task failed: the activity record may have a gap");
        }
    }
}

/// Write `batch`, retrying with backoff; a batch that fails every attempt is counted as dropped
/// and logged as an error.
async fn write(store: &Store, batch: Vec<Event>, counters: &Counters) {
    let mut delay = FIRST_RETRY_DELAY;
    for attempt in 1..=WRITE_ATTEMPTS {
        match store.insert_batch(&batch).await {
            Ok(n) => {
                counters.written.fetch_add(n, Ordering::Relaxed);
                counters.batches.fetch_add(1, Ordering::Relaxed);
                if attempt > 1 {
                    tracing::info!(location = %store.location(), attempt, events = batch.len(), "activity batch written after retrying");
                }
                return;
            }
            Err(e) => {
                counters.write_errors.fetch_add(1, Ordering::Relaxed);
                if attempt == WRITE_ATTEMPTS {
                    let lost = u64::try_from(batch.len()).unwrap_or(u64::MAX);
                    counters.dropped.fetch_add(lost, Ordering::Relaxed);
                    tracing::error!(error = %e, events = lost, attempts = attempt, "activity batch could not be written and is lost: the activity record has a gap");
                    return;
                }
                tracing::warn!(error = %e, events = batch.len(), attempt, retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), "activity batch write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
        }
    }
}
