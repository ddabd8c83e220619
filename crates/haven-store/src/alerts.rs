//! Alerts (schema version 15): the alert, its evidence (the events that raised it, the keywords
//! that matched, the person's surrounding activity), its lifecycle (new -> acknowledged ->
//! closed with an outcome), deliveries, exclusions and the rule change log.
//!
//! Nothing here deletes: alerts, their log and the rule change log are refused DELETE (and the
//! logs UPDATE) by the database. Every lifecycle step and every read of the evidence is
//! appended to `alert_log` with who and when.

use haven_activity::Event;
use jiff::{SignedDuration, Timestamp};
use sqlx::Row;

use crate::error::RecordError;
use crate::query::ActivityQuery;
use crate::row::{EventRow, SELECT_COLUMNS, StoredEvent};
use crate::sql::{on_read, on_write, ts};
use crate::store::{Db, Store};

/// Minutes either side of an alert whose activity by the same person is shown as evidence.
pub const SURROUNDING_MINUTES: i64 = 5;

/// Events copied onto one alert at most; `hits` keeps counting past it.
const MAX_ALERT_EVENTS: i64 = 100;

/// A keyword that matched, as stored with the alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertKeyword {
    /// The library's term.
    pub term: String,
    /// The normalised words that matched.
    pub matched: String,
    /// Keyword category.
    pub category: String,
    /// Entry severity word.
    pub severity: String,
    /// Why the entry exists.
    pub rationale: String,
    /// `library@version`.
    pub library: String,
}

/// What the monitor stage stores when a rule fires.
#[derive(Debug, Clone)]
pub struct NewAlert<'a> {
    /// When (the triggering event's time).
    pub raised: Timestamp,
    /// Rule id.
    pub rule: &'a str,
    /// Rule title.
    pub title: &'a str,
    /// Why it fired, in a sentence.
    pub why: &'a str,
    /// Severity word (`critical` ... `digest`).
    pub severity: &'a str,
    /// Category id.
    pub category: &'a str,
    /// Who (user name, `device X` or `address A`).
    pub person: &'a str,
    /// Their group.
    pub group: &'a str,
    /// What the dedupe is keyed on (host or term).
    pub subject: &'a str,
    /// Search engine host, if a search.
    pub search_engine: Option<&'a str>,
    /// Search terms, if a search.
    pub search_terms: Option<&'a str>,
    /// Keywords that matched.
    pub keywords: &'a [AlertKeyword],
    /// The events that raised it.
    pub events: &'a [Event],
}

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// Nobody has acknowledged it.
    New,
    /// Someone has it in hand.
    Acknowledged,
    /// It has an outcome.
    Closed,
}

impl AlertState {
    /// Stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::New => "new",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Closed => "closed",
        }
    }

    fn parse(s: &str) -> Option<AlertState> {
        Some(match s {
            "new" => AlertState::New,
            "acknowledged" => AlertState::Acknowledged,
            "closed" => AlertState::Closed,
            _ => return None,
        })
    }
}

/// How an alert ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertOutcome {
    /// Raised as a safeguarding concern (linked to the record).
    Concern,
    /// Looked at; nothing more to do (reason required).
    NoFurtherAction,
    /// Not what the rule meant (reason required; counts against precision).
    FalsePositive,
    /// Suppressed for the future by an exclusion (reason required).
    Excluded,
}

impl AlertOutcome {
    /// Every outcome.
    pub const ALL: [AlertOutcome; 4] =
        [AlertOutcome::Concern, AlertOutcome::NoFurtherAction, AlertOutcome::FalsePositive, AlertOutcome::Excluded];

    /// Stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertOutcome::Concern => "concern",
            AlertOutcome::NoFurtherAction => "no_further_action",
            AlertOutcome::FalsePositive => "false_positive",
            AlertOutcome::Excluded => "excluded",
        }
    }

    /// Parse the stored word.
    pub fn parse(s: &str) -> Option<AlertOutcome> {
        AlertOutcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The words a DSL reads.
    pub fn label(self) -> &'static str {
        match self {
            AlertOutcome::Concern => "Raised as a concern",
            AlertOutcome::NoFurtherAction => "No further action",
            AlertOutcome::FalsePositive => "False positive",
            AlertOutcome::Excluded => "Excluded",
        }
    }
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    /// Row id.
    pub id: i64,
    /// When raised.
    pub raised: Timestamp,
    /// Last hit counted on it.
    pub last: Timestamp,
    /// Hits counted (1 + deduplicated repeats).
    pub hits: i64,
    /// Rule id.
    pub rule: String,
    /// Rule title.
    pub title: String,
    /// Why it fired.
    pub why: String,
    /// Severity word.
    pub severity: String,
    /// Category id.
    pub category: String,
    /// Who.
    pub person: String,
    /// Their group.
    pub group: String,
    /// Host or term.
    pub subject: String,
    /// Device, if known.
    pub device: Option<String>,
    /// Client address.
    pub client: String,
    /// Search engine host.
    pub search_engine: Option<String>,
    /// Search terms.
    pub search_terms: Option<String>,
    /// Lifecycle state.
    pub state: AlertState,
    /// Who acknowledged it.
    pub ack_by: Option<String>,
    /// When.
    pub ack_at: Option<Timestamp>,
    /// Outcome.
    pub outcome: Option<AlertOutcome>,
    /// Reason given with the outcome.
    pub outcome_reason: Option<String>,
    /// Who recorded the outcome.
    pub outcome_by: Option<String>,
    /// When.
    pub outcome_at: Option<Timestamp>,
    /// Link to the safeguarding record (for `Concern`).
    pub concern_link: Option<String>,
}

/// Filters for the inbox.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// Only alerts without an outcome.
    pub open_only: bool,
    /// Only this state.
    pub state: Option<AlertState>,
    /// Only these severities (empty: all).
    pub severities: Vec<String>,
    /// Raised at or after.
    pub from: Option<Timestamp>,
    /// Raised before.
    pub to: Option<Timestamp>,
    /// Only this category.
    pub category: Option<String>,
    /// Only this filtering group.
    pub group: Option<String>,
    /// Most rows (500 when 0).
    pub limit: u32,
}

/// One lifecycle or audit step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLogEntry {
    /// When.
    pub at: Timestamp,
    /// Who (an account name, or `monitor`).
    pub actor: String,
    /// What (`raised`, `acknowledged`, `outcome`, `viewed`, `escalated`, ...).
    pub action: String,
    /// Detail in words.
    pub detail: String,
}

/// One notification attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// When.
    pub at: Timestamp,
    /// `email`, `webhook`, `console`.
    pub channel: String,
    /// Address or URL (never a secret).
    pub recipient: String,
    /// Escalation step (0: first person).
    pub step: i64,
    /// `sent` or `failed`.
    pub status: String,
    /// Error text or server reply.
    pub detail: String,
}

/// A new exclusion.
#[derive(Debug, Clone)]
pub struct NewExclusion<'a> {
    /// Who made it.
    pub created_by: &'a str,
    /// Only this person.
    pub person: Option<&'a str>,
    /// Only this rule.
    pub rule: Option<&'a str>,
    /// Only this host (and subdomains) or term.
    pub subject: Option<&'a str>,
    /// Until.
    pub until: Timestamp,
    /// Why.
    pub reason: &'a str,
    /// The alert it came from.
    pub from_alert: Option<i64>,
}

/// An exclusion as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExclusionRecord {
    /// Row id.
    pub id: i64,
    /// When made.
    pub created: Timestamp,
    /// Who made it.
    pub created_by: String,
    /// Only this person.
    pub person: Option<String>,
    /// Only this rule.
    pub rule: Option<String>,
    /// Only this subject.
    pub subject: Option<String>,
    /// Until.
    pub until: Timestamp,
    /// Why.
    pub reason: String,
    /// Alert it came from.
    pub from_alert: Option<i64>,
}

/// One change to the rules, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleChange {
    /// Row id.
    pub id: i64,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// The rules before.
    pub before: String,
    /// The rules after.
    pub after: String,
}

const ALERT_COLUMNS: &str = "id, raised_ms, last_ms, hits, rule, title, why, severity, category, person, grp, subject, device, client, \
                             search_engine, search_terms, state, ack_by, ack_ms, outcome, outcome_reason, outcome_by, outcome_ms, concern_link";

macro_rules! alert_row {
    ($r:expr) => {{
        let r = $r;
        (|| -> Result<RawAlert, sqlx::Error> {
            Ok(RawAlert {
                id: r.try_get("id")?,
                raised_ms: r.try_get("raised_ms")?,
                last_ms: r.try_get("last_ms")?,
                hits: r.try_get("hits")?,
                rule: r.try_get("rule")?,
                title: r.try_get("title")?,
                why: r.try_get("why")?,
                severity: r.try_get("severity")?,
                category: r.try_get("category")?,
                person: r.try_get("person")?,
                group: r.try_get("grp")?,
                subject: r.try_get("subject")?,
                device: r.try_get("device")?,
                client: r.try_get("client")?,
                search_engine: r.try_get("search_engine")?,
                search_terms: r.try_get("search_terms")?,
                state: r.try_get("state")?,
                ack_by: r.try_get("ack_by")?,
                ack_ms: r.try_get("ack_ms")?,
                outcome: r.try_get("outcome")?,
                outcome_reason: r.try_get("outcome_reason")?,
                outcome_by: r.try_get("outcome_by")?,
                outcome_ms: r.try_get("outcome_ms")?,
                concern_link: r.try_get("concern_link")?,
            })
        })()
    }};
}

struct RawAlert {
    id: i64,
    raised_ms: i64,
    last_ms: i64,
    hits: i64,
    rule: String,
    title: String,
    why: String,
    severity: String,
    category: String,
    person: String,
    group: String,
    subject: String,
    device: Option<String>,
    client: String,
    search_engine: Option<String>,
    search_terms: Option<String>,
    state: String,
    ack_by: Option<String>,
    ack_ms: Option<i64>,
    outcome: Option<String>,
    outcome_reason: Option<String>,
    outcome_by: Option<String>,
    outcome_ms: Option<i64>,
    concern_link: Option<String>,
}

impl RawAlert {
    fn into_record(self) -> Result<AlertRecord, RecordError> {
        let corrupt = |field, value: &str| RecordError::Corrupt { table: "alerts", id: self.id, field, value: value.to_owned() };
        let state = AlertState::parse(&self.state).ok_or_else(|| corrupt("state", &self.state))?;
        let outcome = match &self.outcome {
            Some(o) => Some(AlertOutcome::parse(o).ok_or_else(|| corrupt("outcome", o))?),
            None => None,
        };
        Ok(AlertRecord {
            id: self.id,
            raised: ts(self.raised_ms),
            last: ts(self.last_ms),
            hits: self.hits,
            rule: self.rule,
            title: self.title,
            why: self.why,
            severity: self.severity,
            category: self.category,
            person: self.person,
            group: self.group,
            subject: self.subject,
            device: self.device,
            client: self.client,
            search_engine: self.search_engine,
            search_terms: self.search_terms,
            state,
            ack_by: self.ack_by,
            ack_at: self.ack_ms.map(ts),
            outcome,
            outcome_reason: self.outcome_reason,
            outcome_by: self.outcome_by,
            outcome_at: self.outcome_ms.map(ts),
            concern_link: self.concern_link,
        })
    }
}

const EXCLUSION_COLUMNS: &str = "id, created_ms, created_by, person, rule, subject, until_ms, reason, from_alert";

macro_rules! exclusion_row {
    ($r:expr) => {{
        let r = $r;
        (|| -> Result<ExclusionRecord, sqlx::Error> {
            Ok(ExclusionRecord {
                id: r.try_get("id")?,
                created: ts(r.try_get("created_ms")?),
                created_by: r.try_get("created_by")?,
                person: r.try_get("person")?,
                rule: r.try_get("rule")?,
                subject: r.try_get("subject")?,
                until: ts(r.try_get("until_ms")?),
                reason: r.try_get("reason")?,
                from_alert: r.try_get("from_alert")?,
            })
        })()
    }};
}

const INSERT_EVENT: &str = "INSERT INTO alert_events (alert_id, time_ms, channel, client, device, user_name, grp, name, qtype, action, \
     category, rule, list_source, list_entry, flags, upstream, latency_us, sni, status, bytes_up, bytes_down) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)";

/// Bind one event's columns after the alert id.
macro_rules! bind_event {
    ($q:expr, $alert:expr, $ev:expr) => {
        crate::row::bind_event_columns!($q.bind($alert), $ev)
    };
}

const INSERT_LOG: &str = "INSERT INTO alert_log (alert_id, at_ms, actor, action, detail) VALUES ($1, $2, $3, $4, $5)";

impl Store {
    /// Store a new alert with its evidence, in one transaction; returns its id.
    pub async fn insert_alert(&self, a: &NewAlert<'_>) -> Result<i64, RecordError> {
        let first = a.events.first();
        let device = first.and_then(|e| e.device.clone());
        let client = first.map(|e| e.client.to_string()).unwrap_or_default();
        let last_ms = a.events.iter().map(|e| e.time.as_millisecond()).max().unwrap_or(a.raised.as_millisecond());
        let sql = "INSERT INTO alerts (raised_ms, last_ms, hits, rule, title, why, severity, category, person, grp, subject, device, \
                   client, search_engine, search_terms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id";
        let hits = i64::try_from(a.events.len().max(1)).unwrap_or(i64::MAX);
        let id = on_write!(self, "insert alert", |pool| {
            async {
                let mut tx = pool.begin().await?;
                let id: i64 = sqlx::query_scalar(sql)
                    .bind(a.raised.as_millisecond())
                    .bind(last_ms)
                    .bind(hits)
                    .bind(a.rule)
                    .bind(a.title)
                    .bind(a.why)
                    .bind(a.severity)
                    .bind(a.category)
                    .bind(a.person)
                    .bind(a.group)
                    .bind(a.subject)
                    .bind(&device)
                    .bind(&client)
                    .bind(a.search_engine)
                    .bind(a.search_terms)
                    .fetch_one(&mut *tx)
                    .await?;
                for k in a.keywords {
                    sqlx::query(
                        "INSERT INTO alert_keywords (alert_id, term, matched, category, severity, rationale, library) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(id)
                    .bind(&k.term)
                    .bind(&k.matched)
                    .bind(&k.category)
                    .bind(&k.severity)
                    .bind(&k.rationale)
                    .bind(&k.library)
                    .execute(&mut *tx)
                    .await?;
                }
                for ev in a.events.iter().take(MAX_ALERT_EVENTS as usize) {
                    bind_event!(sqlx::query(INSERT_EVENT), id, ev).execute(&mut *tx).await?;
                }
                sqlx::query(INSERT_LOG)
                    .bind(id)
                    .bind(a.raised.as_millisecond())
                    .bind("monitor")
                    .bind("raised")
                    .bind(format!("rule {}: {}", a.rule, a.why))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<i64, sqlx::Error>(id)
            }
            .await
        })?;
        Ok(id)
    }

    /// Count a deduplicated hit on an open alert, keeping the event (up to a limit) as evidence.
    pub async fn count_alert_hit(&self, id: i64, event: &Event) -> Result<(), RecordError> {
        let n = on_write!(self, "count alert hit", |pool| {
            async {
                let mut tx = pool.begin().await?;
                let n = sqlx::query(
                    "UPDATE alerts SET hits = hits + 1, last_ms = CASE WHEN last_ms < $2 THEN $2 ELSE last_ms END WHERE id = $1",
                )
                .bind(id)
                .bind(event.time.as_millisecond())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let kept: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM alert_events WHERE alert_id = $1").bind(id).fetch_one(&mut *tx).await?;
                if n > 0 && kept < MAX_ALERT_EVENTS {
                    bind_event!(sqlx::query(INSERT_EVENT), id, event).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok::<u64, sqlx::Error>(n)
            }
            .await
        })?;
        if n == 0 {
            return Err(RecordError::NotFound { what: "alert", id });
        }
        Ok(())
    }

    /// One alert.
    pub async fn alert(&self, id: i64) -> Result<Option<AlertRecord>, RecordError> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
        let raw = on_read!(self, "read alert", |pool| {
            match sqlx::query(&sql).bind(id).fetch_optional(pool).await {
                Ok(Some(r)) => alert_row!(&r).map(Some),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        raw.map(RawAlert::into_record).transpose()
    }

    /// Alerts for the inbox, newest first.
    pub async fn alerts(&self, q: &AlertQuery) -> Result<Vec<AlertRecord>, RecordError> {
        let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE raised_ms >= $1 AND raised_ms < $2");
        if q.open_only {
            sql += " AND state <> 'closed'";
        }
        if let Some(s) = q.state {
            sql += &format!(" AND state = '{}'", s.as_str());
        }
        let mut binds: Vec<String> = Vec::new();
        if !q.severities.is_empty() {
            let marks: Vec<String> = (0..q.severities.len()).map(|i| format!("${}", i + 4)).collect();
            sql += &format!(" AND severity IN ({})", marks.join(", "));
            binds.clone_from(&q.severities);
        }
        for (column, value) in [("category", &q.category), ("grp", &q.group)] {
            if let Some(v) = value {
                binds.push(v.clone());
                sql += &format!(" AND {column} = ${}", binds.len() + 3);
            }
        }
        sql += " ORDER BY raised_ms DESC, id DESC LIMIT $3";
        let from = q.from.map_or(i64::MIN, Timestamp::as_millisecond);
        let to = q.to.map_or(i64::MAX, Timestamp::as_millisecond);
        let limit = i64::from(if q.limit == 0 { 500 } else { q.limit });
        let raws = on_read!(self, "list alerts", |pool| {
            let mut query = sqlx::query(&sql).bind(from).bind(to).bind(limit);
            for b in &binds {
                query = query.bind(b);
            }
            match query.fetch_all(pool).await {
                Ok(rows) => rows.iter().map(|r| alert_row!(r)).collect::<Result<Vec<_>, _>>(),
                Err(e) => Err(e),
            }
        })?;
        raws.into_iter().map(RawAlert::into_record).collect()
    }

    /// The keywords that matched for an alert.
    pub async fn alert_keywords(&self, id: i64) -> Result<Vec<AlertKeyword>, RecordError> {
        let sql = "SELECT term, matched, category, severity, rationale, library FROM alert_keywords WHERE alert_id = $1 ORDER BY id";
        Ok(on_read!(self, "read alert keywords", |pool| {
            match sqlx::query(sql).bind(id).fetch_all(pool).await {
                Ok(rows) => rows
                    .iter()
                    .map(|r| {
                        Ok(AlertKeyword {
                            term: r.try_get("term")?,
                            matched: r.try_get("matched")?,
                            category: r.try_get("category")?,
                            severity: r.try_get("severity")?,
                            rationale: r.try_get("rationale")?,
                            library: r.try_get("library")?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>(),
                Err(e) => Err(e),
            }
        })?)
    }

    /// The events that raised or were counted on an alert, oldest first.
    pub async fn alert_events(&self, id: i64) -> Result<Vec<StoredEvent>, RecordError> {
        let sql = format!("SELECT {SELECT_COLUMNS} FROM alert_events WHERE alert_id = $1 ORDER BY time_ms, id");
        let rows = match &self.inner.db {
            Db::Sqlite(s) => sqlx::query(&sql)
                .bind(id)
                .fetch_all(&s.read)
                .await
                .and_then(|rows| rows.iter().map(EventRow::from_sqlite).collect::<Result<Vec<_>, _>>()),
            Db::Postgres(p) => sqlx::query(&sql)
                .bind(id)
                .fetch_all(p)
                .await
                .and_then(|rows| rows.iter().map(EventRow::from_postgres).collect::<Result<Vec<_>, _>>()),
        };
        let rows = rows.map_err(|e| self.db_error("read alert events", e))?;
        Ok(rows.into_iter().map(EventRow::into_stored).collect::<Result<Vec<_>, _>>()?)
    }

    /// The person's activity from five minutes before the alert was raised to five minutes
    /// after its last hit, from the activity log (oldest first).
    pub async fn alert_surrounding(&self, alert: &AlertRecord) -> Result<Vec<StoredEvent>, RecordError> {
        let pad = SignedDuration::from_mins(SURROUNDING_MINUTES);
        let from = alert.raised.checked_sub(pad).unwrap_or(alert.raised);
        let to = alert.last.checked_add(pad).unwrap_or(alert.last).checked_add(SignedDuration::from_millis(1)).unwrap_or(alert.last);
        let events = self.alert_events(alert.id).await?;
        let mut q = ActivityQuery::new().between(from, to);
        q.limit = Some(500);
        match events.first().map(|e| &e.event) {
            Some(e) if e.user.is_some() => q = q.user(e.user.clone().unwrap_or_default()),
            Some(e) => q.client = Some(e.client),
            None => return Ok(Vec::new()),
        }
        let mut found = self.query(&q).await?;
        found.reverse();
        Ok(found)
    }

    /// Acknowledge a new alert; false when it was not new (already acknowledged or closed).
    pub async fn acknowledge_alert(&self, id: i64, who: &str, at: Timestamp) -> Result<bool, RecordError> {
        let n = on_write!(self, "acknowledge alert", |pool| {
            async {
                let mut tx = pool.begin().await?;
                let n = sqlx::query("UPDATE alerts SET state = 'acknowledged', ack_by = $2, ack_ms = $3 WHERE id = $1 AND state = 'new'")
                    .bind(id)
                    .bind(who)
                    .bind(at.as_millisecond())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n > 0 {
                    sqlx::query(INSERT_LOG)
                        .bind(id)
                        .bind(at.as_millisecond())
                        .bind(who)
                        .bind("acknowledged")
                        .bind("")
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok::<u64, sqlx::Error>(n)
            }
            .await
        })?;
        if n == 0 && self.alert(id).await?.is_none() {
            return Err(RecordError::NotFound { what: "alert", id });
        }
        Ok(n > 0)
    }

    /// Record an alert's outcome. Every outcome but `Concern` needs a reason; a new alert is
    /// acknowledged by the same person at the same time. False when it already had one.
    pub async fn close_alert(
        &self,
        id: i64,
        outcome: AlertOutcome,
        reason: &str,
        who: &str,
        at: Timestamp,
        concern_link: Option<&str>,
    ) -> Result<bool, RecordError> {
        let reason = reason.trim();
        if reason.is_empty() && outcome != AlertOutcome::Concern {
            return Err(RecordError::AlertInput { field: "reason", reason: format!("\"{}\" needs a reason", outcome.label()) });
        }
        let ms = at.as_millisecond();
        let detail = if reason.is_empty() { outcome.label().to_owned() } else { format!("{}: {reason}", outcome.label()) };
        let n = on_write!(self, "close alert", |pool| {
            async {
                let mut tx = pool.begin().await?;
                let n = sqlx::query(
                    "UPDATE alerts SET state = 'closed', outcome = $2, outcome_reason = $3, outcome_by = $4, outcome_ms = $5, \
                     concern_link = $6, ack_by = COALESCE(ack_by, $4), ack_ms = COALESCE(ack_ms, $5) WHERE id = $1 AND state <> 'closed'",
                )
                .bind(id)
                .bind(outcome.as_str())
                .bind(reason)
                .bind(who)
                .bind(ms)
                .bind(concern_link)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n > 0 {
                    sqlx::query(INSERT_LOG).bind(id).bind(ms).bind(who).bind("outcome").bind(&detail).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok::<u64, sqlx::Error>(n)
            }
            .await
        })?;
        if n == 0 && self.alert(id).await?.is_none() {
            return Err(RecordError::NotFound { what: "alert", id });
        }
        Ok(n > 0)
    }

    /// Append to an alert's log (a read of its evidence, an escalation, a note).
    pub async fn append_alert_log(&self, id: i64, at: Timestamp, actor: &str, action: &str, detail: &str) -> Result<(), RecordError> {
        on_write!(self, "append alert log", |pool| {
            sqlx::query(INSERT_LOG)
                .bind(id)
                .bind(at.as_millisecond())
                .bind(actor)
                .bind(action)
                .bind(detail)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// An alert's log, oldest first.
    pub async fn alert_log(&self, id: i64) -> Result<Vec<AlertLogEntry>, RecordError> {
        let sql = "SELECT at_ms, actor, action, detail FROM alert_log WHERE alert_id = $1 ORDER BY at_ms, id";
        Ok(on_read!(self, "read alert log", |pool| {
            match sqlx::query(sql).bind(id).fetch_all(pool).await {
                Ok(rows) => rows
                    .iter()
                    .map(|r| {
                        Ok(AlertLogEntry {
                            at: ts(r.try_get("at_ms")?),
                            actor: r.try_get("actor")?,
                            action: r.try_get("action")?,
                            detail: r.try_get("detail")?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>(),
                Err(e) => Err(e),
            }
        })?)
    }

    /// Record a notification attempt.
    pub async fn record_delivery(&self, id: i64, d: &DeliveryRecord) -> Result<(), RecordError> {
        on_write!(self, "record delivery", |pool| {
            sqlx::query(
                "INSERT INTO alert_deliveries (alert_id, at_ms, channel, recipient, step, status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(d.at.as_millisecond())
            .bind(&d.channel)
            .bind(&d.recipient)
            .bind(d.step)
            .bind(&d.status)
            .bind(&d.detail)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// An alert's deliveries, oldest first.
    pub async fn alert_deliveries(&self, id: i64) -> Result<Vec<DeliveryRecord>, RecordError> {
        let sql = "SELECT at_ms, channel, recipient, step, status, detail FROM alert_deliveries WHERE alert_id = $1 ORDER BY at_ms, id";
        Ok(on_read!(self, "read deliveries", |pool| {
            match sqlx::query(sql).bind(id).fetch_all(pool).await {
                Ok(rows) => rows
                    .iter()
                    .map(|r| {
                        Ok(DeliveryRecord {
                            at: ts(r.try_get("at_ms")?),
                            channel: r.try_get("channel")?,
                            recipient: r.try_get("recipient")?,
                            step: r.try_get("step")?,
                            status: r.try_get("status")?,
                            detail: r.try_get("detail")?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>(),
                Err(e) => Err(e),
            }
        })?)
    }

    /// Add an exclusion; the reason is required.
    pub async fn add_exclusion(&self, x: &NewExclusion<'_>, at: Timestamp) -> Result<i64, RecordError> {
        if x.reason.trim().is_empty() {
            return Err(RecordError::AlertInput { field: "reason", reason: "an exclusion needs a reason".into() });
        }
        if x.until <= at {
            return Err(RecordError::AlertInput { field: "until", reason: "an exclusion must end in the future".into() });
        }
        let sql = "INSERT INTO alert_exclusions (created_ms, created_by, person, rule, subject, until_ms, reason, from_alert) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
        Ok(on_write!(self, "add exclusion", |pool| {
            sqlx::query_scalar(sql)
                .bind(at.as_millisecond())
                .bind(x.created_by)
                .bind(x.person)
                .bind(x.rule)
                .bind(x.subject)
                .bind(x.until.as_millisecond())
                .bind(x.reason.trim())
                .bind(x.from_alert)
                .fetch_one(pool)
                .await
        })?)
    }

    /// Exclusions still in force at `now`.
    pub async fn active_exclusions(&self, now: Timestamp) -> Result<Vec<ExclusionRecord>, RecordError> {
        let sql = format!("SELECT {EXCLUSION_COLUMNS} FROM alert_exclusions WHERE until_ms > $1 ORDER BY id");
        Ok(on_read!(self, "read exclusions", |pool| {
            match sqlx::query(&sql).bind(now.as_millisecond()).fetch_all(pool).await {
                Ok(rows) => rows.iter().map(|r| exclusion_row!(r)).collect::<Result<Vec<_>, sqlx::Error>>(),
                Err(e) => Err(e),
            }
        })?)
    }

    /// Every exclusion, in force or expired, newest first (the console's list of who
    /// suppressed what, why and until when).
    pub async fn exclusions(&self, limit: u32) -> Result<Vec<ExclusionRecord>, RecordError> {
        let sql = format!("SELECT {EXCLUSION_COLUMNS} FROM alert_exclusions ORDER BY id DESC LIMIT $1");
        Ok(on_read!(self, "read exclusions", |pool| {
            match sqlx::query(&sql).bind(i64::from(limit.max(1))).fetch_all(pool).await {
                Ok(rows) => rows.iter().map(|r| exclusion_row!(r)).collect::<Result<Vec<_>, sqlx::Error>>(),
                Err(e) => Err(e),
            }
        })?)
    }

    /// Open alerts counted by severity and state (`new` or `acknowledged`): the dashboard's
    /// aggregate, which names nobody.
    pub async fn open_alert_counts(&self) -> Result<Vec<(String, AlertState, i64)>, RecordError> {
        let sql = "SELECT severity, state, COUNT(*) AS n FROM alerts WHERE state <> 'closed' GROUP BY severity, state ORDER BY severity, state";
        let rows: Vec<(String, String, i64)> = on_read!(self, "count open alerts", |pool| {
            match sqlx::query(sql).fetch_all(pool).await {
                Ok(rows) => rows
                    .iter()
                    .map(|r| Ok((r.try_get("severity")?, r.try_get("state")?, r.try_get("n")?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>(),
                Err(e) => Err(e),
            }
        })?;
        rows.into_iter()
            .map(|(sev, state, n)| {
                let st = AlertState::parse(&state)
                    .ok_or_else(|| RecordError::Corrupt { table: "alerts", id: 0, field: "state", value: state.clone() })?;
                Ok((sev, st, n))
            })
            .collect()
    }

    /// Record a change to the rules; the reason is required.
    pub async fn record_rule_change(
        &self,
        actor: &str,
        reason: &str,
        before: &str,
        after: &str,
        at: Timestamp,
    ) -> Result<i64, RecordError> {
        if reason.trim().is_empty() {
            return Err(RecordError::AlertInput { field: "reason", reason: "every change to the alert rules needs a reason".into() });
        }
        let sql =
            "INSERT INTO alert_rule_changes (at_ms, actor, reason, rules_before, rules_after) VALUES ($1, $2, $3, $4, $5) RETURNING id";
        Ok(on_write!(self, "record rule change", |pool| {
            sqlx::query_scalar(sql).bind(at.as_millisecond()).bind(actor).bind(reason.trim()).bind(before).bind(after).fetch_one(pool).await
        })?)
    }

    /// The rule change log, newest first.
    pub async fn rule_changes(&self, limit: u32) -> Result<Vec<RuleChange>, RecordError> {
        let sql = "SELECT id, at_ms, actor, reason, rules_before, rules_after FROM alert_rule_changes ORDER BY id DESC LIMIT $1";
        Ok(on_read!(self, "read rule changes", |pool| {
            match sqlx::query(sql).bind(i64::from(limit.max(1))).fetch_all(pool).await {
                Ok(rows) => rows
                    .iter()
                    .map(|r| {
                        Ok(RuleChange {
                            id: r.try_get("id")?,
                            at: ts(r.try_get("at_ms")?),
                            actor: r.try_get("actor")?,
                            reason: r.try_get("reason")?,
                            before: r.try_get("rules_before")?,
                            after: r.try_get("rules_after")?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>(),
                Err(e) => Err(e),
            }
        })?)
    }

    /// The rules in force as text, if the school has changed them (else the shipped defaults apply).
    pub async fn current_rules(&self) -> Result<Option<String>, RecordError> {
        Ok(self.rule_changes(1).await?.into_iter().next().map(|c| c.after))
    }
}
