//! Retention: deleting events older than a school's period, in small batches, with every run
//! recorded in `retention_log`.
//!
//! A run first inserts its log row (`outcome = 'running'`), then deletes oldest-first in batches,
//! each batch in its own short transaction that also adds its count to the log row. So writers
//! are never held up for more than one batch, and the log accounts for every deleted row even if
//! Haven is killed mid-run (the row then stays `running`). Nothing is deleted silently.

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use sqlx::Connection;

use crate::error::StoreError;
use crate::store::{Db, Store};

/// Days of activity kept when a school sets nothing: one school year and a bit.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;

/// The longest retention accepted (about 100 years), so cutoffs stay representable.
const MAX_RETENTION_DAYS: u32 = 36_500;

/// The largest batch accepted, so one batch never holds the write lock for long.
const MAX_BATCH: u32 = 100_000;

/// Pause between batches so queued writer batches get the write lock.
const BATCH_PAUSE: Duration = Duration::from_millis(5);

/// A school's retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    keep_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { keep_days: DEFAULT_RETENTION_DAYS }
    }
}

impl Retention {
    /// Keep `keep_days` days (1 to 36,500); zero is refused because it would empty the log.
    pub fn days(keep_days: u32) -> Result<Retention, StoreError> {
        if keep_days == 0 || keep_days > MAX_RETENTION_DAYS {
            return Err(StoreError::Invalid {
                what: "retention period",
                reason: format!("{keep_days} days is not between 1 and {MAX_RETENTION_DAYS}"),
            });
        }
        Ok(Retention { keep_days })
    }

    /// Days kept.
    pub fn keep_days(self) -> u32 {
        self.keep_days
    }

    /// The oldest time kept at `now`: events strictly before it are due for deletion.
    pub fn cutoff(self, now: Timestamp) -> Timestamp {
        let keep = SignedDuration::from_hours(24 * i64::from(self.keep_days));
        now.checked_sub(keep).unwrap_or(Timestamp::MIN)
    }
}

/// What one pruning run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneReport {
    /// The run's row in `retention_log`.
    pub log_id: i64,
    /// Events strictly before this were deleted.
    pub cutoff: Timestamp,
    /// How many events were deleted.
    pub rows_deleted: u64,
    /// How many non-empty batches (transactions) it took.
    pub batches: u64,
    /// Time of the oldest deleted event.
    pub oldest_deleted: Option<Timestamp>,
    /// Time of the newest deleted event.
    pub newest_deleted: Option<Timestamp>,
    /// Wall time the run took.
    pub elapsed: Duration,
}

/// One row of `retention_log`: a pruning run as recorded, for audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRecord {
    /// Row id.
    pub id: i64,
    /// When the run started.
    pub started: Timestamp,
    /// When it finished (`None` if it is running or was killed).
    pub finished: Option<Timestamp>,
    /// Events strictly before this were due for deletion.
    pub cutoff: Timestamp,
    /// The retention period that set the cutoff, when the run came from one.
    pub keep_days: Option<u32>,
    /// Events deleted.
    pub rows_deleted: u64,
    /// Batches (transactions) that deleted something.
    pub batches: u64,
    /// Time of the oldest deleted event.
    pub oldest_deleted: Option<Timestamp>,
    /// Time of the newest deleted event.
    pub newest_deleted: Option<Timestamp>,
    /// `running`, `complete`, or `failed: <error>`.
    pub outcome: String,
}

const DELETE_BATCH: &str =
    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_ms < $1 ORDER BY time_ms, id LIMIT $2) RETURNING time_ms";
const LOG_BATCH: &str = "UPDATE retention_log SET rows_deleted = rows_deleted + $1, batches = batches + 1, \
                         oldest_deleted_ms = $2, newest_deleted_ms = $3 WHERE id = $4";

impl Store {
    /// Delete events older than `retention` allows at `now`, recording the run.
    pub async fn apply_retention(&self, retention: Retention, now: Timestamp) -> Result<PruneReport, StoreError> {
        self.prune_inner(retention.cutoff(now), 10_000, Some(retention.keep_days)).await
    }

    /// Delete every event before `older_than`, `batch_size` rows per transaction, oldest first,
    /// recording the run in `retention_log`.
    pub async fn prune(&self, older_than: Timestamp, batch_size: u32) -> Result<PruneReport, StoreError> {
        self.prune_inner(older_than, batch_size, None).await
    }

    async fn prune_inner(&self, cutoff: Timestamp, batch_size: u32, keep_days: Option<u32>) -> Result<PruneReport, StoreError> {
        if batch_size == 0 || batch_size > MAX_BATCH {
            return Err(StoreError::Invalid { what: "prune batch size", reason: format!("{batch_size} is not between 1 and {MAX_BATCH}") });
        }
        let clock = Instant::now();
        let cutoff_ms = cutoff.as_millisecond();
        let log_id = self.start_log(cutoff_ms, keep_days).await?;
        let mut report = PruneReport {
            log_id,
            cutoff,
            rows_deleted: 0,
            batches: 0,
            oldest_deleted: None,
            newest_deleted: None,
            elapsed: Duration::ZERO,
        };
        let (mut oldest, mut newest) = (None::<i64>, None::<i64>);
        loop {
            let deleted = match self.delete_batch(log_id, cutoff_ms, batch_size, &mut oldest, &mut newest).await {
                Ok(n) => n,
                Err(e) => {
                    let outcome = format!("failed: {e}");
                    if let Err(log_err) = self.finish_log(log_id, &outcome).await {
                        tracing::error!(error = %log_err, log_id, "could not record the failed retention run's outcome");
                    }
                    tracing::error!(error = %e, log_id, deleted = report.rows_deleted, "retention run failed part-way; retention_log has what was deleted");
                    return Err(e);
                }
            };
            if deleted > 0 {
                report.rows_deleted += deleted;
                report.batches += 1;
            }
            if deleted < u64::from(batch_size) {
                break;
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
        self.finish_log(log_id, "complete").await?;
        report.oldest_deleted = oldest.and_then(|t| Timestamp::from_millisecond(t).ok());
        report.newest_deleted = newest.and_then(|t| Timestamp::from_millisecond(t).ok());
        report.elapsed = clock.elapsed();
        tracing::info!(
            location = %self.location(),
            cutoff = %cutoff,
            keep_days,
            rows_deleted = report.rows_deleted,
            batches = report.batches,
            log_id,
            "activity retention run complete"
        );
        Ok(report)
    }

    async fn start_log(&self, cutoff_ms: i64, keep_days: Option<u32>) -> Result<i64, StoreError> {
        let sql = "INSERT INTO retention_log (started_ms, cutoff_ms, keep_days, outcome) VALUES ($1, $2, $3, 'running') RETURNING id";
        let now = Timestamp::now().as_millisecond();
        let keep = keep_days.map(i64::from);
        let r = match &self.inner.db {
            Db::Sqlite(s) => sqlx::query_scalar::<_, i64>(sql).bind(now).bind(cutoff_ms).bind(keep).fetch_one(&s.write).await,
            Db::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).bind(now).bind(cutoff_ms).bind(keep).fetch_one(p).await,
        };
        r.map_err(|e| self.db_error("start retention log", e))
    }

    async fn finish_log(&self, log_id: i64, outcome: &str) -> Result<(), StoreError> {
        let sql = "UPDATE retention_log SET finished_ms = $1, outcome = $2 WHERE id = $3";
        let now = Timestamp::now().as_millisecond();
        let r = match &self.inner.db {
            Db::Sqlite(s) => sqlx::query(sql).bind(now).bind(outcome).bind(log_id).execute(&s.write).await.map(|_| ()),
            Db::Postgres(p) => sqlx::query(sql).bind(now).bind(outcome).bind(log_id).execute(p).await.map(|_| ()),
        };
        r.map_err(|e| self.db_error("finish retention log", e))
    }

    /// Delete one batch and account for it in the log row, in one transaction.
    async fn delete_batch(
        &self,
        log_id: i64,
        cutoff_ms: i64,
        batch_size: u32,
        oldest: &mut Option<i64>,
        newest: &mut Option<i64>,
    ) -> Result<u64, StoreError> {
        let limit = i64::from(batch_size);
        let r: Result<Vec<i64>, sqlx::Error> = async {
            match &self.inner.db {
                Db::Sqlite(s) => {
                    let mut conn = s.write.acquire().await?;
                    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                    let times: Vec<i64> = sqlx::query_scalar(DELETE_BATCH).bind(cutoff_ms).bind(limit).fetch_all(&mut *tx).await?;
                    if let Some((lo, hi)) = extend(oldest, newest, &times) {
                        sqlx::query(LOG_BATCH).bind(len_i64(&times)).bind(lo).bind(hi).bind(log_id).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(times)
                }
                Db::Postgres(p) => {
                    let mut tx = p.begin().await?;
                    let times: Vec<i64> = sqlx::query_scalar(DELETE_BATCH).bind(cutoff_ms).bind(limit).fetch_all(&mut *tx).await?;
                    if let Some((lo, hi)) = extend(oldest, newest, &times) {
                        sqlx::query(LOG_BATCH).bind(len_i64(&times)).bind(lo).bind(hi).bind(log_id).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(times)
                }
            }
        }
        .await;
        let times = r.map_err(|e| self.db_error("prune events", e))?;
        Ok(u64::try_from(times.len()).unwrap_or(u64::MAX))
    }

    /// The newest `limit` retention runs, newest first, for an audit screen.
    pub async fn retention_log(&self, limit: u32) -> Result<Vec<RetentionRecord>, StoreError> {
        let sql = "SELECT id, started_ms, finished_ms, cutoff_ms, keep_days, rows_deleted, batches, oldest_deleted_ms, \
                   newest_deleted_ms, outcome FROM retention_log ORDER BY id DESC LIMIT $1";
        type Raw = (i64, i64, Option<i64>, i64, Option<i64>, i64, i64, Option<i64>, Option<i64>, String);
        let rows: Result<Vec<Raw>, sqlx::Error> = match &self.inner.db {
            Db::Sqlite(s) => sqlx::query_as(sql).bind(i64::from(limit)).fetch_all(&s.read).await,
            Db::Postgres(p) => sqlx::query_as(sql).bind(i64::from(limit)).fetch_all(p).await,
        };
        let rows = rows.map_err(|e| self.db_error("read retention log", e))?;
        rows.into_iter()
            .map(|(id, started, finished, cutoff, keep_days, rows_deleted, batches, oldest, newest, outcome)| {
                let ts = |field: &'static str, ms: i64| {
                    Timestamp::from_millisecond(ms).map_err(|_| StoreError::Corrupt { id, field, value: ms.to_string() })
                };
                let count =
                    |field: &'static str, n: i64| u64::try_from(n).map_err(|_| StoreError::Corrupt { id, field, value: n.to_string() });
                Ok(RetentionRecord {
                    id,
                    started: ts("retention_log.started_ms", started)?,
                    finished: finished.map(|t| ts("retention_log.finished_ms", t)).transpose()?,
                    cutoff: ts("retention_log.cutoff_ms", cutoff)?,
                    keep_days: keep_days
                        .map(|d| {
                            u32::try_from(d).map_err(|_| StoreError::Corrupt { id, field: "retention_log.keep_days", value: d.to_string() })
                        })
                        .transpose()?,
                    rows_deleted: count("retention_log.rows_deleted", rows_deleted)?,
                    batches: count("retention_log.batches", batches)?,
                    oldest_deleted: oldest.map(|t| ts("retention_log.oldest_deleted_ms", t)).transpose()?,
                    newest_deleted: newest.map(|t| ts("retention_log.newest_deleted_ms", t)).transpose()?,
                    outcome,
                })
            })
            .collect()
    }
}

/// Fold a batch's deleted times into the run's oldest and newest; `None` for an empty batch.
fn extend(oldest: &mut Option<i64>, newest: &mut Option<i64>, times: &[i64]) -> Option<(i64, i64)> {
    let lo = times.iter().copied().min()?;
    let hi = times.iter().copied().max()?;
    let lo = oldest.map_or(lo, |o| o.min(lo));
    let hi = newest.map_or(hi, |n| n.max(hi));
    *oldest = Some(lo);
    *newest = Some(hi);
    Some((lo, hi))
}

fn len_i64(v: &[i64]) -> i64 {
    i64::try_from(v.len()).unwrap_or(i64::MAX)
}
