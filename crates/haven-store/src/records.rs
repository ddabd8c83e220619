//! Safeguarding records (schema version 11): the append-only, hash-chained entries, the current
//! state of each record (for the DSL inbox), linked pupils and events, attachments by content
//! hash, and the record-access audit.
//!
//! **Invariant:** nothing here issues an UPDATE or DELETE on `record_entries`,
//! `record_pupils`, `record_attachments` or `record_access`; the database refuses them anyway.
//! An entry is chained inside the transaction that writes it, under a lock (SQLite's immediate
//! write lock, a PostgreSQL advisory lock), so two writers never fork the chain.

use haven_records::chain::{ChainBreak, ChainVerifier, EntryHashInput, GENESIS_HASH, content_hash, entry_hash};
use jiff::Timestamp;
use sqlx::{Connection, Row};

use crate::error::RecordError;
use crate::sql::{on_read, on_write, ts};
use crate::store::{Db, Store};

/// Arbitrary constant naming the records chain among PostgreSQL advisory locks.
const PG_CHAIN_LOCK: i64 = 0x4861_7665_6e52_6563; // "HavenRec"

/// One entry to append to a record.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// The record.
    pub record_id: String,
    /// The entry kind's stored name (`haven_records::EntryKind`).
    pub kind: String,
    /// The record type's stored name.
    pub record_type: String,
    /// The sensitivity's stored name.
    pub sensitivity: String,
    /// The author's account (none for a pupil's worry or an import).
    pub author_id: Option<i64>,
    /// The author's full name and job title at the time.
    pub author: String,
    /// When it happened.
    pub occurred: Timestamp,
    /// The entry's content as JSON text, hashed exactly as given.
    pub body: String,
}

/// A saved entry, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// Position in the chain.
    pub seq: i64,
    /// The record.
    pub record_id: String,
    /// The entry kind.
    pub kind: String,
    /// The record type.
    pub record_type: String,
    /// The sensitivity.
    pub sensitivity: String,
    /// The author's account.
    pub author_id: Option<i64>,
    /// The author's name and job title at the time.
    pub author: String,
    /// When it happened.
    pub occurred: Timestamp,
    /// When it was saved.
    pub created: Timestamp,
    /// JSON content.
    pub body: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl StoredEntry {
    /// The fields its hash covers.
    pub fn hash_input(&self) -> EntryHashInput<'_> {
        EntryHashInput {
            seq: self.seq,
            record_id: &self.record_id,
            kind: &self.kind,
            record_type: &self.record_type,
            sensitivity: &self.sensitivity,
            author_id: self.author_id,
            author: &self.author,
            occurred_ms: self.occurred.as_millisecond(),
            created_ms: self.created.as_millisecond(),
            body: &self.body,
            prev_hash: &self.prev_hash,
        }
    }
}

/// A new record: its first entry plus who and what it is about.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// The first entry (kind `concern` or `received`).
    pub entry: NewEntry,
    /// The category key.
    pub category: String,
    /// The pupil it is about, if known.
    pub pupil_id: Option<i64>,
    /// That pupil's name at the time.
    pub pupil_name: String,
    /// For a staff allegation: the subject's account, who must never see it.
    pub subject_account: Option<i64>,
    /// Where it came from (`haven_records::Source`).
    pub source: String,
    /// Every linked pupil with their role (the subject pupil included).
    pub pupils: Vec<(i64, String)>,
    /// Accounts named on it (restricted records).
    pub named: Vec<i64>,
    /// Activity events it was raised from.
    pub event_ids: Vec<i64>,
}

/// What an entry changes in a record's current state (the entry itself says it for ever).
#[derive(Debug, Clone, Default)]
pub struct StateChange {
    /// New status.
    pub status: Option<String>,
    /// New risk level.
    pub risk: Option<String>,
    /// New owner: account and name.
    pub owner: Option<(i64, String)>,
    /// Acknowledged by this person.
    pub acknowledged_by: Option<String>,
    /// Set to this sensitivity.
    pub sensitivity: Option<String>,
}

/// A record's current state, for lists and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSummary {
    /// The record.
    pub record_id: String,
    /// Record type.
    pub record_type: String,
    /// Sensitivity.
    pub sensitivity: String,
    /// Category key.
    pub category: String,
    /// The pupil.
    pub pupil_id: Option<i64>,
    /// The pupil's name at the time.
    pub pupil_name: String,
    /// Who logged it.
    pub reporter_id: Option<i64>,
    /// Their name and job title.
    pub reporter: String,
    /// A staff allegation's subject.
    pub subject_account: Option<i64>,
    /// Source.
    pub source: String,
    /// Status.
    pub status: String,
    /// Risk level once triaged.
    pub risk: Option<String>,
    /// Owner once triaged.
    pub owner_id: Option<i64>,
    /// Owner's name.
    pub owner: Option<String>,
    /// When it happened.
    pub occurred: Timestamp,
    /// When it was logged.
    pub created: Timestamp,
    /// Last entry.
    pub updated: Timestamp,
    /// When a DSL acknowledged it.
    pub acknowledged: Option<Timestamp>,
    /// Who.
    pub acknowledged_by: Option<String>,
    /// The asking account has opened it.
    pub read: bool,
    /// The asking account is named on it.
    pub named: bool,
}

/// One line of a pupil's chronology: an entry of a record they are linked to, or a linked event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChronologyItem {
    /// When it happened.
    pub occurred: Timestamp,
    /// The entry (none for an activity event).
    pub entry: Option<StoredEntry>,
    /// The pupil's role in the record.
    pub role: String,
    /// A linked activity event: id, name visited, action, category.
    pub event: Option<(i64, String, String, Option<String>)>,
}

/// One read of a record, for the access audit.
#[derive(Debug, Clone)]
pub struct RecordAccess<'a> {
    /// Who.
    pub account_id: Option<i64>,
    /// Their name.
    pub actor: &'a str,
    /// `view`, `search`, `export`, `print`, `attachment`, `inbox`.
    pub action: &'a str,
    /// The record.
    pub record_id: Option<&'a str>,
    /// The child whose file it is.
    pub pupil_id: Option<i64>,
    /// The search query or other detail.
    pub detail: &'a str,
    /// The client address.
    pub client: &'a str,
}

/// A stored access-audit line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAccessRecord {
    /// Row id.
    pub id: i64,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub account_id: Option<i64>,
    /// Their name.
    pub actor: String,
    /// What.
    pub action: String,
    /// The record.
    pub record_id: Option<String>,
    /// The child.
    pub pupil_id: Option<i64>,
    /// Detail.
    pub detail: String,
    /// Client address.
    pub client: String,
}

/// An attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Hex SHA-256 of the content: its name.
    pub sha256: String,
    /// The uploaded file name.
    pub file_name: String,
    /// Media type.
    pub media_type: String,
    /// The bytes.
    pub content: Vec<u8>,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When.
    pub uploaded: Timestamp,
}

/// What `haven records verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries that matched before the first break (all of them when intact).
    pub entries: u64,
    /// Attachments checked.
    pub attachments: u64,
    /// Entries received from other schools whose hashes were recomputed.
    pub received: u64,
    /// The chain head: the last good entry's hash.
    pub head: String,
    /// The first entry or attachment that does not match.
    pub first_break: Option<ChainBreak>,
}

const ENTRY_COLUMNS: &str = "seq, record_id, kind, record_type, sensitivity, author_id, author, occurred_ms, created_ms, body, prev_hash, hash";
const SUMMARY_COLUMNS: &str = "r.record_id, r.record_type, r.sensitivity, r.category, r.pupil_id, r.pupil_name, r.reporter_id, r.reporter, \
    r.subject_account, r.source, r.status, r.risk, r.owner_id, r.owner, r.occurred_ms, r.created_ms, r.updated_ms, r.acknowledged_ms, r.acknowledged_by";

macro_rules! entry_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, sqlx::Error>(StoredEntry {
            seq: r.try_get("seq")?,
            record_id: r.try_get("record_id")?,
            kind: r.try_get("kind")?,
            record_type: r.try_get("record_type")?,
            sensitivity: r.try_get("sensitivity")?,
            author_id: r.try_get("author_id")?,
            author: r.try_get("author")?,
            occurred: ts(r.try_get("occurred_ms")?),
            created: ts(r.try_get("created_ms")?),
            body: r.try_get("body")?,
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        })
    }};
}

macro_rules! summary_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, sqlx::Error>(RecordSummary {
            record_id: r.try_get("record_id")?,
            record_type: r.try_get("record_type")?,
            sensitivity: r.try_get("sensitivity")?,
            category: r.try_get("category")?,
            pupil_id: r.try_get("pupil_id")?,
            pupil_name: r.try_get("pupil_name")?,
            reporter_id: r.try_get("reporter_id")?,
            reporter: r.try_get("reporter")?,
            subject_account: r.try_get("subject_account")?,
            source: r.try_get("source")?,
            status: r.try_get("status")?,
            risk: r.try_get("risk")?,
            owner_id: r.try_get("owner_id")?,
            owner: r.try_get("owner")?,
            occurred: ts(r.try_get("occurred_ms")?),
            created: ts(r.try_get("created_ms")?),
            updated: ts(r.try_get("updated_ms")?),
            acknowledged: r.try_get::<Option<i64>, _>("acknowledged_ms")?.map(ts),
            acknowledged_by: r.try_get("acknowledged_by")?,
            read: r.try_get("is_read")?,
            named: r.try_get("is_named")?,
        })
    }};
}

macro_rules! access_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, sqlx::Error>(RecordAccessRecord {
            id: r.try_get("id")?,
            at: ts(r.try_get("at_ms")?),
            account_id: r.try_get("account_id")?,
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            record_id: r.try_get("record_id")?,
            pupil_id: r.try_get("pupil_id")?,
            detail: r.try_get("detail")?,
            client: r.try_get("client")?,
        })
    }};
}

/// Chain one entry onto the head, inside a transaction that already holds the chain lock.
macro_rules! chain_entry {
    ($tx:expr, $e:expr, $created_ms:expr) => {{
        let e: &NewEntry = $e;
        let head: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM record_entries ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *$tx).await?;
        let (prev_seq, prev_hash) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
        let mut stored = StoredEntry {
            seq: prev_seq + 1,
            record_id: e.record_id.clone(),
            kind: e.kind.clone(),
            record_type: e.record_type.clone(),
            sensitivity: e.sensitivity.clone(),
            author_id: e.author_id,
            author: e.author.clone(),
            occurred: e.occurred,
            created: ts($created_ms),
            body: e.body.clone(),
            prev_hash,
            hash: String::new(),
        };
        stored.hash = entry_hash(&stored.hash_input());
        sqlx::query(
            "INSERT INTO record_entries (seq, record_id, kind, record_type, sensitivity, author_id, author, occurred_ms, created_ms, body, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(stored.seq)
        .bind(&stored.record_id)
        .bind(&stored.kind)
        .bind(&stored.record_type)
        .bind(&stored.sensitivity)
        .bind(stored.author_id)
        .bind(&stored.author)
        .bind(stored.occurred.as_millisecond())
        .bind($created_ms)
        .bind(&stored.body)
        .bind(&stored.prev_hash)
        .bind(&stored.hash)
        .execute(&mut *$tx)
        .await?;
        stored
    }};
}

/// Write a new record: its state row, links, and first entry.
macro_rules! insert_record {
    ($tx:expr, $n:expr, $ms:expr) => {{
        let n: &NewRecord = $n;
        let stored = chain_entry!($tx, &n.entry, $ms);
        sqlx::query(
            "INSERT INTO records (record_id, record_type, sensitivity, category, pupil_id, pupil_name, reporter_id, reporter, subject_account, \
             source, status, occurred_ms, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $12, $12)",
        )
        .bind(&n.entry.record_id)
        .bind(&n.entry.record_type)
        .bind(&n.entry.sensitivity)
        .bind(&n.category)
        .bind(n.pupil_id)
        .bind(&n.pupil_name)
        .bind(n.entry.author_id)
        .bind(&n.entry.author)
        .bind(n.subject_account)
        .bind(&n.source)
        .bind(n.entry.occurred.as_millisecond())
        .bind($ms)
        .execute(&mut *$tx)
        .await?;
        for (pupil, role) in &n.pupils {
            sqlx::query("INSERT INTO record_pupils (record_id, pupil_id, role, seq) VALUES ($1, $2, $3, $4)")
                .bind(&n.entry.record_id)
                .bind(pupil)
                .bind(role)
                .bind(stored.seq)
                .execute(&mut *$tx)
                .await?;
        }
        for account in &n.named {
            sqlx::query("INSERT INTO record_named (record_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(&n.entry.record_id)
                .bind(account)
                .execute(&mut *$tx)
                .await?;
        }
        for event in &n.event_ids {
            sqlx::query("INSERT INTO record_event_links (record_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(&n.entry.record_id)
                .bind(event)
                .execute(&mut *$tx)
                .await?;
        }
        stored
    }};
}

/// Append an entry to an existing record and apply its state change.
macro_rules! append_entry {
    ($tx:expr, $e:expr, $c:expr, $ms:expr) => {{
        let c: &StateChange = $c;
        let stored = chain_entry!($tx, $e, $ms);
        let (owner_id, owner) = c.owner.clone().map_or((None, None), |(i, n)| (Some(i), Some(n)));
        sqlx::query(
            "UPDATE records SET status = COALESCE($2, status), risk = COALESCE($3, risk), owner_id = COALESCE($4, owner_id), \
             owner = COALESCE($5, owner), acknowledged_ms = CASE WHEN $6 IS NULL THEN acknowledged_ms ELSE COALESCE(acknowledged_ms, $7) END, \
             acknowledged_by = COALESCE(acknowledged_by, $6), sensitivity = COALESCE($8, sensitivity), updated_ms = $7 WHERE record_id = $1",
        )
        .bind(&stored.record_id)
        .bind(c.status.as_deref())
        .bind(c.risk.as_deref())
        .bind(owner_id)
        .bind(owner)
        .bind(c.acknowledged_by.as_deref())
        .bind($ms)
        .bind(c.sensitivity.as_deref())
        .execute(&mut *$tx)
        .await?;
        stored
    }};
}

/// Run `$body` in a write transaction holding the chain lock, on either backend.
macro_rules! chained {
    ($store:expr, $op:literal, |$tx:ident| $body:expr) => {{
        let r = match &$store.inner.db {
            Db::Sqlite(s) => async {
                let mut conn = s.write.acquire().await?;
                let mut $tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                Ok::<_, sqlx::Error>(out)
            }
            .await,
            Db::Postgres(p) => async {
                let mut $tx = p.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PG_CHAIN_LOCK).execute(&mut *$tx).await?;
                let out = $body;
                $tx.commit().await?;
                Ok::<_, sqlx::Error>(out)
            }
            .await,
        };
        r.map_err(|e| RecordError::from($store.db_error($op, e)))
    }};
}

/// How many entries `verify` reads per query.
const VERIFY_PAGE: i64 = 20_000;

impl Store {
    /// Save a new record with its first entry, chained.
    pub async fn create_record(&self, n: &NewRecord, at: Timestamp) -> Result<StoredEntry, RecordError> {
        let ms = at.as_millisecond();
        chained!(self, "save a new record", |tx| insert_record!(tx, n, ms))
    }

    /// Save many new records and then many entries in one chained transaction (bulk loads and
    /// the scale benchmark); each entry's record must be among `records` or already stored.
    pub async fn create_records_bulk(&self, records: &[NewRecord], entries: &[NewEntry], at: Timestamp) -> Result<u64, RecordError> {
        let ms = at.as_millisecond();
        let none = StateChange::default();
        chained!(self, "save records in bulk", |tx| {
            for n in records {
                insert_record!(tx, n, ms);
            }
            for e in entries {
                append_entry!(tx, e, &none, ms);
            }
            (records.len() + entries.len()) as u64
        })
    }

    /// Append an entry to a record (a saved entry is never changed) and update its state.
    pub async fn append_record_entry(&self, e: &NewEntry, change: &StateChange, at: Timestamp) -> Result<StoredEntry, RecordError> {
        let ms = at.as_millisecond();
        if self.record_summary(&e.record_id, None).await?.is_none() {
            return Err(RecordError::Conflict { what: "record (not found)", value: e.record_id.clone() });
        }
        chained!(self, "append to a record", |tx| append_entry!(tx, e, change, ms))
    }

    /// A record's current state; `me` decides the read and named flags.
    pub async fn record_summary(&self, record_id: &str, me: Option<i64>) -> Result<Option<RecordSummary>, RecordError> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, EXISTS (SELECT 1 FROM record_reads x WHERE x.record_id = r.record_id AND x.account_id = $2) AS is_read, \
             EXISTS (SELECT 1 FROM record_named x WHERE x.record_id = r.record_id AND x.account_id = $2) AS is_named \
             FROM records r WHERE r.record_id = $1"
        );
        Ok(on_read!(self, "read a record", |pool| {
            sqlx::query(&sql).bind(record_id).bind(me).fetch_optional(pool).await.and_then(|r| r.map(|r| summary_row!(&r)).transpose())
        })?)
    }

    /// Newest records first (the DSL inbox, or one reporter's own with `reporter`), with the
    /// asking account's read and named flags. Callers filter each through the access table.
    pub async fn record_list(&self, me: i64, reporter: Option<i64>, open_only: bool, limit: u32) -> Result<Vec<RecordSummary>, RecordError> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, EXISTS (SELECT 1 FROM record_reads x WHERE x.record_id = r.record_id AND x.account_id = $1) AS is_read, \
             EXISTS (SELECT 1 FROM record_named x WHERE x.record_id = r.record_id AND x.account_id = $1) AS is_named \
             FROM records r WHERE ($2 IS NULL OR r.reporter_id = $2) AND (NOT $3 OR r.status <> 'closed') ORDER BY r.created_ms DESC LIMIT $4"
        );
        let limit = i64::from(if limit == 0 { 200 } else { limit.min(5000) });
        Ok(on_read!(self, "list records", |pool| {
            sqlx::query(&sql)
                .bind(me)
                .bind(reporter)
                .bind(open_only)
                .bind(limit)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| summary_row!(r)).collect::<Result<Vec<_>, _>>())
        })?)
    }

    /// Every record linked to a pupil, newest first.
    pub async fn pupil_records(&self, pupil_id: i64, me: i64) -> Result<Vec<RecordSummary>, RecordError> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, EXISTS (SELECT 1 FROM record_reads x WHERE x.record_id = r.record_id AND x.account_id = $2) AS is_read, \
             EXISTS (SELECT 1 FROM record_named x WHERE x.record_id = r.record_id AND x.account_id = $2) AS is_named \
             FROM records r WHERE r.record_id IN (SELECT record_id FROM record_pupils WHERE pupil_id = $1) ORDER BY r.occurred_ms DESC"
        );
        Ok(on_read!(self, "list a pupil's records", |pool| {
            sqlx::query(&sql)
                .bind(pupil_id)
                .bind(me)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| summary_row!(r)).collect::<Result<Vec<_>, _>>())
        })?)
    }

    /// A record's entries in chain order.
    pub async fn record_entries(&self, record_id: &str) -> Result<Vec<StoredEntry>, RecordError> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM record_entries WHERE record_id = $1 ORDER BY seq");
        Ok(on_read!(self, "read a record's entries", |pool| {
            sqlx::query(&sql).bind(record_id).fetch_all(pool).await.and_then(|rows| rows.iter().map(|r| entry_row!(r)).collect::<Result<Vec<_>, _>>())
        })?)
    }

    /// A record's linked pupils and their roles (latest role per pupil).
    pub async fn record_pupils(&self, record_id: &str) -> Result<Vec<(i64, String)>, RecordError> {
        let sql = "SELECT pupil_id, role FROM record_pupils p WHERE record_id = $1 \
                   AND seq = (SELECT MAX(seq) FROM record_pupils q WHERE q.record_id = p.record_id AND q.pupil_id = p.pupil_id) ORDER BY pupil_id";
        Ok(on_read!(self, "read a record's pupils", |pool| sqlx::query_as(sql).bind(record_id).fetch_all(pool).await)?)
    }

    /// Activity events linked to a record.
    pub async fn record_event_ids(&self, record_id: &str) -> Result<Vec<i64>, RecordError> {
        Ok(on_read!(self, "read a record's events", |pool| {
            sqlx::query_scalar("SELECT event_id FROM record_event_links WHERE record_id = $1 ORDER BY event_id").bind(record_id).fetch_all(pool).await
        })?)
    }

    /// Records raised from an activity event (the link back).
    pub async fn records_for_event(&self, event_id: i64) -> Result<Vec<String>, RecordError> {
        Ok(on_read!(self, "read an event's records", |pool| {
            sqlx::query_scalar("SELECT record_id FROM record_event_links WHERE event_id = $1 ORDER BY record_id").bind(event_id).fetch_all(pool).await
        })?)
    }

    /// One activity event by id, for a concern raised from it (the evidence it cites).
    pub async fn event_by_id(&self, id: i64) -> Result<Option<crate::StoredEvent>, RecordError> {
        let sql = format!("SELECT {} FROM events WHERE id = $1", crate::row::SELECT_COLUMNS);
        let rows = match &self.inner.db {
            Db::Sqlite(s) => sqlx::query(&sql)
                .bind(id)
                .fetch_all(&s.read)
                .await
                .and_then(|rows| rows.iter().map(crate::row::EventRow::from_sqlite).collect::<Result<Vec<_>, _>>()),
            Db::Postgres(p) => sqlx::query(&sql)
                .bind(id)
                .fetch_all(p)
                .await
                .and_then(|rows| rows.iter().map(crate::row::EventRow::from_postgres).collect::<Result<Vec<_>, _>>()),
        };
        let rows = rows.map_err(|e| self.db_error("read an event", e))?;
        Ok(rows.into_iter().map(crate::row::EventRow::into_stored).next().transpose()?)
    }

    /// Mark a record as opened by an account (first time only).
    pub async fn mark_record_read(&self, record_id: &str, account_id: i64, at: Timestamp) -> Result<(), RecordError> {
        on_write!(self, "mark a record read", |pool| {
            sqlx::query("INSERT INTO record_reads (record_id, account_id, read_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(record_id)
                .bind(account_id)
                .bind(at.as_millisecond())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// A pupil's chronology: every entry of every record they are linked to (entries received
    /// from another school included, with the sender's hashes), and every linked activity event,
    /// ordered by when it happened (ties in chain order).
    pub async fn chronology(&self, pupil_id: i64) -> Result<Vec<ChronologyItem>, RecordError> {
        let sql = format!(
            "SELECT {}, l.role FROM record_entries e JOIN (SELECT record_id, MAX(role) AS role FROM record_pupils WHERE pupil_id = $1 GROUP BY record_id) l \
             ON l.record_id = e.record_id ORDER BY e.occurred_ms, e.seq",
            ENTRY_COLUMNS.split(", ").map(|c| format!("e.{c}")).collect::<Vec<_>>().join(", ")
        );
        // Entries received from another school, as the sender wrote them (their own hashes).
        let received = format!(
            "SELECT {}, l.role FROM record_received_entries e JOIN (SELECT record_id, MAX(role) AS role FROM record_pupils WHERE pupil_id = $1 GROUP BY record_id) l \
             ON l.record_id = e.record_id",
            ENTRY_COLUMNS.split(", ").map(|c| format!("e.{c}")).collect::<Vec<_>>().join(", ")
        );
        let events = "SELECT v.id, v.time_ms, v.name, v.action, v.category FROM events v WHERE v.id IN \
                      (SELECT k.event_id FROM record_event_links k JOIN record_pupils p ON p.record_id = k.record_id WHERE p.pupil_id = $1)";
        let (entries, linked) = on_read!(self, "read a chronology", |pool| async {
            let entries = sqlx::query(&sql)
                .bind(pupil_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok::<_, sqlx::Error>((entry_row!(r)?, r.try_get::<String, _>("role")?)))
                .collect::<Result<Vec<_>, _>>()?;
            let linked: Vec<(i64, i64, String, String, Option<String>)> = sqlx::query_as(events).bind(pupil_id).fetch_all(pool).await?;
            let received = sqlx::query(&received)
                .bind(pupil_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok::<_, sqlx::Error>((entry_row!(r)?, r.try_get::<String, _>("role")?)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, sqlx::Error>((entries.into_iter().chain(received).collect::<Vec<_>>(), linked))
        }
        .await)?;
        let mut items: Vec<ChronologyItem> =
            entries.into_iter().map(|(e, role)| ChronologyItem { occurred: e.occurred, entry: Some(e), role, event: None }).collect();
        items.extend(linked.into_iter().map(|(id, t, name, action, category)| ChronologyItem {
            occurred: ts(t),
            entry: None,
            role: String::new(),
            event: Some((id, name, action, category)),
        }));
        items.sort_by_key(|i| (i.occurred, i.entry.as_ref().map_or(0, |e| e.seq)));
        Ok(items)
    }

    /// Record a view, search, export or print; a failure to record fails the request.
    pub async fn log_record_access(&self, a: &RecordAccess<'_>, at: Timestamp) -> Result<i64, RecordError> {
        let sql = "INSERT INTO record_access (at_ms, account_id, actor, action, record_id, pupil_id, detail, client) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
        Ok(on_write!(self, "record access to a record", |pool| {
            sqlx::query_scalar(sql)
                .bind(at.as_millisecond())
                .bind(a.account_id)
                .bind(a.actor)
                .bind(a.action)
                .bind(a.record_id)
                .bind(a.pupil_id)
                .bind(a.detail)
                .bind(a.client)
                .fetch_one(pool)
                .await
        })?)
    }

    /// Who looked at a record or a child's file, newest first.
    pub async fn record_access_log(&self, record_id: Option<&str>, pupil_id: Option<i64>, limit: u32) -> Result<Vec<RecordAccessRecord>, RecordError> {
        let sql = "SELECT id, at_ms, account_id, actor, action, record_id, pupil_id, detail, client FROM record_access \
                   WHERE ($1 IS NULL OR record_id = $1) AND ($2 IS NULL OR pupil_id = $2) ORDER BY id DESC LIMIT $3";
        let limit = i64::from(if limit == 0 { 200 } else { limit.min(5000) });
        Ok(on_read!(self, "read the record access log", |pool| {
            sqlx::query(sql)
                .bind(record_id)
                .bind(pupil_id)
                .bind(limit)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| access_row!(r)).collect::<Result<Vec<_>, _>>())
        })?)
    }

    /// Store an attachment under its content hash (storing the same bytes twice is one row).
    pub async fn put_attachment(&self, file_name: &str, media_type: &str, content: &[u8], uploaded_by: &str, at: Timestamp) -> Result<String, RecordError> {
        let sha = content_hash(content);
        let size = i64::try_from(content.len()).unwrap_or(i64::MAX);
        on_write!(self, "store an attachment", |pool| {
            sqlx::query(
                "INSERT INTO record_attachments (sha256, file_name, media_type, size, content, uploaded_by, uploaded_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(&sha)
            .bind(file_name)
            .bind(media_type)
            .bind(size)
            .bind(content)
            .bind(uploaded_by)
            .bind(at.as_millisecond())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(sha)
    }

    /// An attachment by its hash.
    pub async fn attachment(&self, sha256: &str) -> Result<Option<Attachment>, RecordError> {
        let sql = "SELECT sha256, file_name, media_type, content, uploaded_by, uploaded_ms FROM record_attachments WHERE sha256 = $1";
        Ok(on_read!(self, "read an attachment", |pool| {
            sqlx::query(sql).bind(sha256).fetch_optional(pool).await.and_then(|r| {
                r.map(|r| {
                    Ok(Attachment {
                        sha256: r.try_get("sha256")?,
                        file_name: r.try_get("file_name")?,
                        media_type: r.try_get("media_type")?,
                        content: r.try_get("content")?,
                        uploaded_by: r.try_get("uploaded_by")?,
                        uploaded: ts(r.try_get("uploaded_ms")?),
                    })
                })
                .transpose()
            })
        })?)
    }

    /// Check the whole chain, in order, and every attachment; stop at the first break.
    pub async fn verify_records(&self) -> Result<VerifyReport, RecordError> {
        let mut verifier = ChainVerifier::new();
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM record_entries WHERE seq > $1 ORDER BY seq LIMIT $2");
        let mut after = 0i64;
        loop {
            let page = on_read!(self, "verify records", |pool| {
                sqlx::query(&sql)
                    .bind(after)
                    .bind(VERIFY_PAGE)
                    .fetch_all(pool)
                    .await
                    .and_then(|rows| rows.iter().map(|r| entry_row!(r)).collect::<Result<Vec<_>, _>>())
            })?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in &page {
                if let Err(b) = verifier.check(&e.hash_input(), &e.hash) {
                    return Ok(VerifyReport { entries: verifier.checked(), attachments: 0, received: 0, head: verifier.head().to_owned(), first_break: Some(b) });
                }
            }
            if i64::try_from(page.len()).unwrap_or(0) < VERIFY_PAGE {
                break;
            }
        }
        let mut attachments = 0u64;
        let mut after = String::new();
        loop {
            let page: Vec<(String, String, Vec<u8>)> = on_read!(self, "verify attachments", |pool| {
                sqlx::query_as("SELECT sha256, file_name, content FROM record_attachments WHERE sha256 > $1 ORDER BY sha256 LIMIT 100")
                    .bind(&after)
                    .fetch_all(pool)
                    .await
            })?;
            let Some(last) = page.last() else { break };
            after = last.0.clone();
            for (stored, file_name, content) in &page {
                let computed = content_hash(content);
                if computed != *stored {
                    let b = ChainBreak::Attachment { stored: stored.clone(), file_name: file_name.clone(), computed };
                    return Ok(VerifyReport { entries: verifier.checked(), attachments, received: 0, head: verifier.head().to_owned(), first_break: Some(b) });
                }
                attachments += 1;
            }
        }
        let (received, first_break) = self.verify_received().await?;
        Ok(VerifyReport { entries: verifier.checked(), attachments, received, head: verifier.head().to_owned(), first_break })
    }
}

mod transfer;
pub use transfer::{ImportReport, Transfer};
