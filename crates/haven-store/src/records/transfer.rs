//! Moving school (schema version 13): gather a pupil's whole file for a package, store a
//! verified package as transferred-in records, and the transfer log (sent, received, receipt
//! confirmed).
//!
//! **Invariant:** [`Store::import_pupil_file`] takes a [`Package`] that
//! `haven_records::package::read_package` already verified, and stores everything in one
//! chained transaction: all of it, or (on any error) nothing.

use std::collections::BTreeMap;

use haven_records::chain::{GENESIS_HASH, entry_hash};
use haven_records::package::{Package, PackagedAttachment, PackagedEntry, PackagedRecord, RecordsFile, referenced_hashes};
use jiff::Timestamp;
use sqlx::{Connection, Row};

use super::{NewEntry, NewRecord, PG_CHAIN_LOCK, StoredEntry};
use crate::error::RecordError;
use crate::sql::{on_read, on_write, ts};
use crate::store::{Db, Store};

/// One line of the transfer log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// `sent`, `received` or `receipt_confirmed`.
    pub direction: String,
    /// Hex SHA-256 of the package file.
    pub package_sha256: String,
    /// The pupil here.
    pub pupil_id: Option<i64>,
    /// The other school.
    pub school: String,
    /// The other school's public key (our own for `sent`).
    pub public_key: String,
    /// Who did it.
    pub actor: String,
    /// Records in the package.
    pub records: i64,
    /// Entries in the package.
    pub entries: i64,
    /// Attachments in the package.
    pub attachments: i64,
    /// When.
    pub at: Timestamp,
}

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Records created here.
    pub records: u64,
    /// The sender's entries kept.
    pub entries: u64,
    /// Attachments stored (already-held bytes count once).
    pub attachments: u64,
    /// The `received` entries written to this school's chain, one per record.
    pub received: Vec<StoredEntry>,
}

/// Write one transfer-log line on a pool or transaction (either backend).
macro_rules! insert_transfer {
    ($conn:expr, $t:expr) => {{
        let t: &Transfer = $t;
        sqlx::query(
            "INSERT INTO record_transfers (at_ms, direction, package_sha256, pupil_id, school, public_key, actor, records, entries, attachments) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(t.at.as_millisecond())
        .bind(&t.direction)
        .bind(&t.package_sha256)
        .bind(t.pupil_id)
        .bind(&t.school)
        .bind(&t.public_key)
        .bind(&t.actor)
        .bind(t.records)
        .bind(t.entries)
        .bind(t.attachments)
        .execute($conn)
        .await?;
    }};
}

fn packaged(e: &StoredEntry) -> PackagedEntry {
    PackagedEntry {
        seq: e.seq,
        record_id: e.record_id.clone(),
        kind: e.kind.clone(),
        record_type: e.record_type.clone(),
        sensitivity: e.sensitivity.clone(),
        author_id: e.author_id,
        author: e.author.clone(),
        occurred_ms: e.occurred.as_millisecond(),
        created_ms: e.created.as_millisecond(),
        body: e.body.clone(),
        prev_hash: e.prev_hash.clone(),
        hash: e.hash.clone(),
    }
}

impl Store {
    /// Every record linked to a pupil (oldest first), each with its entries, the pupil's role
    /// and the attachments its entries name, plus those attachments' bytes: a package's content.
    pub async fn pupil_file(&self, pupil_id: i64) -> Result<(RecordsFile, BTreeMap<String, Vec<u8>>), RecordError> {
        let mut summaries = self.pupil_records(pupil_id, 0).await?;
        summaries.sort_by(|a, b| (a.occurred, a.created, &a.record_id).cmp(&(b.occurred, b.created, &b.record_id)));
        let mut records = Vec::with_capacity(summaries.len());
        let mut bytes = BTreeMap::new();
        for s in summaries {
            let entries = self.record_entries(&s.record_id).await?;
            let role = self.record_pupils(&s.record_id).await?.into_iter().find(|(p, _)| *p == pupil_id).map(|(_, r)| r).unwrap_or_default();
            let mut attachments = Vec::new();
            for sha in entries.iter().flat_map(|e| referenced_hashes(&e.body)) {
                if attachments.iter().any(|a: &PackagedAttachment| a.sha256 == sha) {
                    continue;
                }
                if let Some(a) = self.attachment(&sha).await? {
                    attachments.push(PackagedAttachment { sha256: sha.clone(), file_name: a.file_name, media_type: a.media_type });
                    bytes.insert(sha, a.content);
                }
            }
            records.push(PackagedRecord {
                record_id: s.record_id,
                record_type: s.record_type,
                sensitivity: s.sensitivity,
                category: s.category,
                source: s.source,
                status: s.status,
                risk: s.risk,
                reporter: s.reporter,
                occurred_ms: s.occurred.as_millisecond(),
                created_ms: s.created.as_millisecond(),
                role,
                entries: entries.iter().map(packaged).collect(),
                attachments,
            });
        }
        Ok((RecordsFile { records }, bytes))
    }

    /// Store a verified package as transferred-in records for a pupil here: the sender's entries
    /// verbatim, their attachments, one `received` entry per record in this school's chain, and
    /// the `received` line of the transfer log. A record id already held refuses the whole import.
    pub async fn import_pupil_file(&self, p: &Package, pupil_id: i64, pupil_name: &str, actor: &str, at: Timestamp) -> Result<ImportReport, RecordError> {
        for r in &p.records.records {
            if self.record_summary(&r.record_id, None).await?.is_some() {
                return Err(RecordError::Conflict { what: "record (already held here; was this package imported before?)", value: r.record_id.clone() });
            }
        }
        let ms = at.as_millisecond();
        let m = &p.manifest;
        let news: Vec<(NewRecord, &PackagedRecord)> = p
            .records
            .records
            .iter()
            .map(|r| {
                let body = serde_json::json!({
                    "from_school": m.school,
                    "sender_key": m.public_key,
                    "package_sha256": p.sha256,
                    "sent": m.created,
                    "sent_by": m.created_by,
                    "status_at_sender": r.status,
                    "risk_at_sender": r.risk,
                    "reporter_at_sender": r.reporter,
                    "entries": r.entries.iter().map(|e| serde_json::json!({"seq": e.seq, "kind": e.kind, "hash": e.hash})).collect::<Vec<_>>(),
                    "attachments": r.attachments.iter().map(|a| a.sha256.clone()).collect::<Vec<_>>(),
                });
                let entry = NewEntry {
                    record_id: r.record_id.clone(),
                    kind: "received".into(),
                    record_type: r.record_type.clone(),
                    sensitivity: r.sensitivity.clone(),
                    author_id: None,
                    author: actor.to_owned(),
                    occurred: ts(r.occurred_ms),
                    body: body.to_string(),
                };
                let role = if r.role.is_empty() { "subject".to_owned() } else { r.role.clone() };
                let n = NewRecord {
                    entry,
                    category: r.category.clone(),
                    pupil_id: Some(pupil_id),
                    pupil_name: pupil_name.to_owned(),
                    subject_account: None,
                    source: r.source.clone(),
                    pupils: vec![(pupil_id, role)],
                    named: vec![],
                    event_ids: vec![],
                };
                (n, r)
            })
            .collect();
        let entries: u64 = p.records.records.iter().map(|r| r.entries.len() as u64).sum();
        let attachments = p.attachments.len() as u64;
        let received = chained!(self, "import a pupil's file", |tx| {
            let mut received = Vec::with_capacity(news.len());
            for (n, r) in &news {
                received.push(insert_record!(tx, n, ms));
                for e in &r.entries {
                    sqlx::query(
                        "INSERT INTO record_received_entries (record_id, seq, kind, record_type, sensitivity, author_id, author, occurred_ms, created_ms, body, \
                         prev_hash, hash, package_sha256, sender_school) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    )
                    .bind(&e.record_id)
                    .bind(e.seq)
                    .bind(&e.kind)
                    .bind(&e.record_type)
                    .bind(&e.sensitivity)
                    .bind(e.author_id)
                    .bind(&e.author)
                    .bind(e.occurred_ms)
                    .bind(e.created_ms)
                    .bind(&e.body)
                    .bind(&e.prev_hash)
                    .bind(&e.hash)
                    .bind(&p.sha256)
                    .bind(&m.school)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for r in &p.records.records {
                for a in &r.attachments {
                    let Some(content) = p.attachments.get(&a.sha256) else { continue };
                    sqlx::query(
                        "INSERT INTO record_attachments (sha256, file_name, media_type, size, content, uploaded_by, uploaded_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    )
                    .bind(&a.sha256)
                    .bind(&a.file_name)
                    .bind(&a.media_type)
                    .bind(i64::try_from(content.len()).unwrap_or(i64::MAX))
                    .bind(content)
                    .bind(format!("{} (from {})", actor, m.school))
                    .bind(ms)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            insert_transfer!(&mut *tx, &Transfer {
                direction: "received".into(),
                package_sha256: p.sha256.clone(),
                pupil_id: Some(pupil_id),
                school: m.school.clone(),
                public_key: m.public_key.clone(),
                actor: actor.to_owned(),
                records: news.len() as i64,
                entries: entries as i64,
                attachments: attachments as i64,
                at,
            });
            received
        })?;
        Ok(ImportReport { records: received.len() as u64, entries, attachments, received })
    }

    /// Add a line to the transfer log (a package sent, or a receipt confirmed).
    pub async fn log_transfer(&self, t: &Transfer) -> Result<(), RecordError> {
        on_write!(self, "log a records transfer", |pool| async { Ok::<_, sqlx::Error>(insert_transfer!(pool, t)) }.await)?;
        Ok(())
    }

    /// The transfer log for one package, oldest first.
    pub async fn transfers(&self, package_sha256: &str) -> Result<Vec<Transfer>, RecordError> {
        let sql = "SELECT direction, package_sha256, pupil_id, school, public_key, actor, records, entries, attachments, at_ms \
                   FROM record_transfers WHERE package_sha256 = $1 ORDER BY id";
        Ok(on_read!(self, "read the records transfer log", |pool| {
            sqlx::query(sql).bind(package_sha256).fetch_all(pool).await.and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok(Transfer {
                            direction: r.try_get("direction")?,
                            package_sha256: r.try_get("package_sha256")?,
                            pupil_id: r.try_get("pupil_id")?,
                            school: r.try_get("school")?,
                            public_key: r.try_get("public_key")?,
                            actor: r.try_get("actor")?,
                            records: r.try_get("records")?,
                            entries: r.try_get("entries")?,
                            attachments: r.try_get("attachments")?,
                            at: ts(r.try_get("at_ms")?),
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })
        })?)
    }

    /// The sender's entries of a transferred-in record, in the sender's chain order.
    pub async fn received_entries(&self, record_id: &str) -> Result<Vec<StoredEntry>, RecordError> {
        let sql = format!("SELECT {} FROM record_received_entries WHERE record_id = $1 ORDER BY seq", super::ENTRY_COLUMNS);
        Ok(on_read!(self, "read a transferred-in record", |pool| {
            sqlx::query(&sql).bind(record_id).fetch_all(pool).await.and_then(|rows| rows.iter().map(|r| entry_row!(r)).collect::<Result<Vec<_>, _>>())
        })?)
    }

    /// Recompute every received entry's hash from its content; the first that does not match.
    pub(crate) async fn verify_received(&self) -> Result<(u64, Option<haven_records::ChainBreak>), RecordError> {
        let sql = format!("SELECT {} FROM record_received_entries WHERE (record_id, seq) > ($1, $2) ORDER BY record_id, seq LIMIT 5000", super::ENTRY_COLUMNS);
        let (mut after_id, mut after_seq, mut checked) = (String::new(), i64::MIN, 0u64);
        loop {
            let page = on_read!(self, "verify received entries", |pool| {
                sqlx::query(&sql)
                    .bind(&after_id)
                    .bind(after_seq)
                    .fetch_all(pool)
                    .await
                    .and_then(|rows| rows.iter().map(|r| entry_row!(r)).collect::<Result<Vec<_>, _>>())
            })?;
            let Some(last) = page.last() else { break };
            (after_id, after_seq) = (last.record_id.clone(), last.seq);
            for e in &page {
                let computed = entry_hash(&e.hash_input());
                if computed != e.hash {
                    return Ok((checked, Some(haven_records::ChainBreak::Received { seq: e.seq, record_id: e.record_id.clone(), stored: e.hash.clone(), computed })));
                }
                checked += 1;
            }
        }
        Ok((checked, None))
    }
}

