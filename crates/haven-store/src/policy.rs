//! Console policy changes (schema version 6) and unblock requests and activity-search records
//! (version 7). The overlay tables hold what is in force; `policy_changes` holds every change
//! with who, when, before, after and why, and the database refuses to change or delete its rows.

use jiff::Timestamp;
use sqlx::Row;

use crate::error::RecordError;
use crate::sql::{on_read, on_write, ts};
use crate::store::{Db, Store};

/// One change to record: who made it, what it touched, before and after, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewChange {
    /// The account that made it (`it.admin`, or `system` for expiries).
    pub actor: String,
    /// What kind of change (`site_added`, `site_removed`, `rule_set`, ...).
    pub kind: String,
    /// What it touched (`ks3 site-12 example.com`); may name a pupil in a scope.
    pub target: String,
    /// The state before, in words.
    pub before: String,
    /// The state after, in words.
    pub after: String,
    /// Why; mandatory.
    pub reason: String,
    /// True when target, before or after name a pupil (governors see `public_text` instead).
    pub names_pupil: bool,
    /// The target with any pupil replaced by "a pupil", for governors.
    pub public_text: String,
}

/// A recorded change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChangeRecord {
    /// Row id, in the order changes were made.
    pub id: i64,
    /// When.
    pub time: Timestamp,
    /// The change.
    pub change: NewChange,
}

/// A search of the change log, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeQuery {
    /// Actor, kind, target or reason containing this (case-insensitive).
    pub search: Option<String>,
    /// From this time, inclusive.
    pub from: Option<Timestamp>,
    /// Until this time, exclusive.
    pub to: Option<Timestamp>,
    /// Only changes older than this id (the previous page's last).
    pub before_id: Option<i64>,
    /// At most this many (100 when 0).
    pub limit: u32,
}

/// A per-site entry to add from the console or an approved unblock request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSite {
    /// The filtering group it belongs to.
    pub group: String,
    /// `allow` or `block`.
    pub action: String,
    /// Domain or `host/path`.
    pub site: String,
    /// Why; mandatory.
    pub reason: String,
    /// Who made or approved it.
    pub author: String,
    /// Only these user names; empty: the whole group.
    pub users: Vec<String>,
    /// The scope in words ("Year 8 group", "pupil Sam Smith", "8B").
    pub scope: String,
    /// True when the scope names a pupil.
    pub names_pupil: bool,
    /// When it stops applying.
    pub expires: Option<Timestamp>,
}

/// A stored site entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRecord {
    /// Row id; the entry's reference is `site-{id}`.
    pub id: i64,
    /// The entry.
    pub site: NewSite,
    /// When it was made.
    pub created: Timestamp,
    /// When it was removed (kept, never deleted).
    pub removed: Option<Timestamp>,
    /// Who removed it.
    pub removed_by: Option<String>,
}

impl SiteRecord {
    /// The reference shown on block pages and in the change log.
    pub fn reference(&self) -> String {
        format!("site-{}", self.id)
    }

    /// Whether the entry applies at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.removed.is_none() && self.site.expires.is_none_or(|e| e > now)
    }
}

/// A category rule set from the console for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRecord {
    /// The group.
    pub group: String,
    /// The category id.
    pub category: String,
    /// `allow`, `block` or `during`.
    pub base: String,
    /// Window ids for `during`.
    pub windows: Vec<String>,
    /// Nominated users and `@sub-groups`.
    pub nominated: Vec<String>,
}

/// A time window set from the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRecord {
    /// Identifier (`lunch`).
    pub id: String,
    /// Title ("Lunch").
    pub title: String,
    /// Spans (`Mon-Fri 12:15-13:15`).
    pub spans: Vec<String>,
}

/// An unblock request as made from the block page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUnblockRequest {
    /// Who asked: a console account's user name, or the pupil's name as typed.
    pub requester: String,
    /// True when a pupil (no console account) asked.
    pub from_pupil: bool,
    /// The site to allow (domain or `host/path`).
    pub site: String,
    /// The blocked address, as the block page gave it.
    pub url: String,
    /// The category that blocked it.
    pub category: String,
    /// The rule reference that blocked it.
    pub rule: String,
    /// Why it is needed.
    pub reason: String,
    /// The filtering group the entry would go in.
    pub group: String,
    /// The scope in words.
    pub scope: String,
    /// The user names the entry would be limited to (empty: the whole group).
    pub users: Vec<String>,
    /// True when the scope or requester names a pupil.
    pub names_pupil: bool,
    /// How long an approved entry lasts, in seconds (`None`: until removed).
    pub expires_secs: Option<i64>,
    /// Who it goes to (`it`, or a staff user name: the pupil's tutor).
    pub route_to: String,
    /// SHA-256 of the one-time decision link's token.
    pub link_hash: String,
}

/// A stored unblock request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnblockRecord {
    /// Row id.
    pub id: i64,
    /// When it was made.
    pub created: Timestamp,
    /// The request.
    pub request: NewUnblockRequest,
    /// `pending`, `approved` or `declined`.
    pub status: String,
    /// When it was decided.
    pub decided: Option<Timestamp>,
    /// Who decided it.
    pub decided_by: Option<String>,
    /// The approver's note.
    pub note: String,
    /// The site entry an approval made.
    pub site_id: Option<i64>,
}

/// One recorded search of a named person's activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivitySearchRecord {
    /// Row id.
    pub id: i64,
    /// When.
    pub time: Timestamp,
    /// Who looked.
    pub actor: String,
    /// Whose activity.
    pub person: String,
    /// The filters, in words.
    pub filters: String,
    /// Why.
    pub reason: String,
    /// From which address.
    pub client: String,
}

fn split(s: String) -> Vec<String> {
    s.split('\n').filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

fn opt_ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(ts)
}

macro_rules! site_row {
    ($r:expr) => {{
        let r = $r;
        (|| -> Result<SiteRecord, sqlx::Error> {
            Ok(SiteRecord {
                id: r.try_get("id")?,
                site: NewSite {
                    group: r.try_get("group_id")?,
                    action: r.try_get("action")?,
                    site: r.try_get("site")?,
                    reason: r.try_get("reason")?,
                    author: r.try_get("author")?,
                    users: split(r.try_get("users")?),
                    scope: r.try_get("scope")?,
                    names_pupil: r.try_get("names_pupil")?,
                    expires: opt_ts(r.try_get("expires_ms")?),
                },
                created: ts(r.try_get("created_ms")?),
                removed: opt_ts(r.try_get("removed_ms")?),
                removed_by: r.try_get("removed_by")?,
            })
        })()
    }};
}

macro_rules! change_row {
    ($r:expr) => {{
        let r = $r;
        (|| -> Result<PolicyChangeRecord, sqlx::Error> {
            Ok(PolicyChangeRecord {
                id: r.try_get("id")?,
                time: ts(r.try_get("time_ms")?),
                change: NewChange {
                    actor: r.try_get("actor")?,
                    kind: r.try_get("kind")?,
                    target: r.try_get("target")?,
                    before: r.try_get("before_text")?,
                    after: r.try_get("after_text")?,
                    reason: r.try_get("reason")?,
                    names_pupil: r.try_get("names_pupil")?,
                    public_text: r.try_get("public_text")?,
                },
            })
        })()
    }};
}

macro_rules! unblock_row {
    ($r:expr) => {{
        let r = $r;
        (|| -> Result<UnblockRecord, sqlx::Error> {
            Ok(UnblockRecord {
                id: r.try_get("id")?,
                created: ts(r.try_get("created_ms")?),
                request: NewUnblockRequest {
                    requester: r.try_get("requester")?,
                    from_pupil: r.try_get("from_pupil")?,
                    site: r.try_get("site")?,
                    url: r.try_get("url")?,
                    category: r.try_get("category")?,
                    rule: r.try_get("rule")?,
                    reason: r.try_get("reason")?,
                    group: r.try_get("group_id")?,
                    scope: r.try_get("scope")?,
                    users: split(r.try_get("users")?),
                    names_pupil: r.try_get("names_pupil")?,
                    expires_secs: r.try_get("expires_secs")?,
                    route_to: r.try_get("route_to")?,
                    link_hash: r.try_get("link_hash")?,
                },
                status: r.try_get("status")?,
                decided: opt_ts(r.try_get("decided_ms")?),
                decided_by: r.try_get("decided_by")?,
                note: r.try_get("note")?,
                site_id: r.try_get("site_id")?,
            })
        })()
    }};
}

const CHANGE_INSERT: &str = "INSERT INTO policy_changes (time_ms, actor, kind, target, before_text, after_text, reason, names_pupil, public_text) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Append one change inside a transaction.
macro_rules! log_change {
    ($tx:expr, $c:expr, $ms:expr) => {{
        let c: &NewChange = $c;
        sqlx::query(CHANGE_INSERT)
            .bind($ms)
            .bind(&c.actor)
            .bind(&c.kind)
            .bind(&c.target)
            .bind(&c.before)
            .bind(&c.after)
            .bind(&c.reason)
            .bind(c.names_pupil)
            .bind(&c.public_text)
            .execute($tx)
            .await
            .map(|_| ())
    }};
}

const SITE_INSERT: &str = "INSERT INTO policy_sites (group_id, action, site, reason, author, users, scope, names_pupil, expires_ms, created_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";

macro_rules! insert_site {
    ($tx:expr, $s:expr, $ms:expr) => {{
        let s: &NewSite = $s;
        sqlx::query_scalar::<_, i64>(SITE_INSERT)
            .bind(&s.group)
            .bind(&s.action)
            .bind(&s.site)
            .bind(&s.reason)
            .bind(&s.author)
            .bind(s.users.join("\n"))
            .bind(&s.scope)
            .bind(s.names_pupil)
            .bind(s.expires.map(|e| e.as_millisecond()))
            .bind($ms)
            .fetch_one($tx)
            .await
    }};
}

/// Run `$body` in one write transaction on either backend; `$tx` is the connection inside it.
macro_rules! in_tx {
    ($store:expr, $op:literal, |$tx:ident| $body:expr) => {{
        let r = match &$store.inner.db {
            Db::Sqlite(s) => {
                async {
                    let mut t = s.write.begin().await?;
                    let out = {
                        let $tx = &mut *t;
                        $body
                    }?;
                    t.commit().await?;
                    Ok(out)
                }
                .await
            }
            Db::Postgres(p) => {
                async {
                    let mut t = p.begin().await?;
                    let out = {
                        let $tx = &mut *t;
                        $body
                    }?;
                    t.commit().await?;
                    Ok(out)
                }
                .await
            }
        };
        r.map_err(|e: sqlx::Error| RecordError::from($store.db_error($op, e)))
    }};
}

/// How a site entry reads in the change log.
pub fn describe_site(s: &NewSite) -> String {
    let until = s.expires.map_or_else(String::new, |e| format!(", until {}", e.strftime("%Y-%m-%d %H:%M:%S UTC")));
    let scope = if s.scope.is_empty() { String::new() } else { format!(", for {}", s.scope) };
    format!("{} {} in {}{scope}{until}", s.action, s.site, s.group)
}

impl Store {
    /// Append a change on its own (declines, requests, expiries).
    pub async fn record_policy_change(&self, c: &NewChange, at: Timestamp) -> Result<i64, RecordError> {
        let ms = at.as_millisecond();
        in_tx!(self, "record policy change", |tx| async {
            log_change!(&mut *tx, c, ms)?;
            sqlx::query_scalar::<_, i64>("SELECT MAX(id) FROM policy_changes").fetch_one(&mut *tx).await
        }
        .await)
    }

    /// Add a site entry and its change-log line in one transaction; returns the entry's id.
    pub async fn add_policy_site(&self, s: &NewSite, c: &NewChange, at: Timestamp) -> Result<i64, RecordError> {
        let ms = at.as_millisecond();
        in_tx!(self, "add site entry", |tx| async {
            let id = insert_site!(&mut *tx, s, ms)?;
            let mut c = c.clone();
            c.target = format!("site-{id} {}", c.target);
            c.public_text = format!("site-{id} {}", c.public_text);
            log_change!(&mut *tx, &c, ms)?;
            Ok::<i64, sqlx::Error>(id)
        }
        .await)
    }

    /// Mark a live site entry removed (the row is kept) and record why.
    pub async fn remove_policy_site(&self, id: i64, c: &NewChange, at: Timestamp) -> Result<(), RecordError> {
        let ms = at.as_millisecond();
        let n = in_tx!(self, "remove site entry", |tx| async {
            let n = sqlx::query("UPDATE policy_sites SET removed_ms = $2, removed_by = $3 WHERE id = $1 AND removed_ms IS NULL")
                .bind(id)
                .bind(ms)
                .bind(&c.actor)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1 {
                log_change!(&mut *tx, c, ms)?;
            }
            Ok::<u64, sqlx::Error>(n)
        }
        .await)?;
        if n == 0 {
            return Err(RecordError::NotFound { what: "site entry in force", id });
        }
        Ok(())
    }

    /// Site entries, newest first: only those not removed, or every one ever made.
    pub async fn policy_sites(&self, include_removed: bool) -> Result<Vec<SiteRecord>, RecordError> {
        let sql = "SELECT * FROM policy_sites WHERE ($1 OR removed_ms IS NULL) ORDER BY id DESC";
        Ok(on_read!(self, "list site entries", |pool| {
            sqlx::query(sql)
                .bind(include_removed)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| site_row!(r)).collect::<Result<Vec<_>, _>>())
        })?)
    }

    /// One site entry.
    pub async fn policy_site(&self, id: i64) -> Result<SiteRecord, RecordError> {
        let row = on_read!(self, "read site entry", |pool| {
            match sqlx::query("SELECT * FROM policy_sites WHERE id = $1").bind(id).fetch_optional(pool).await {
                Ok(Some(r)) => site_row!(&r).map(Some),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        row.ok_or(RecordError::NotFound { what: "site entry", id })
    }

    /// Set (or replace) a group's rule for a category and record the change.
    pub async fn set_policy_rule(&self, r: &RuleRecord, c: &NewChange, at: Timestamp) -> Result<(), RecordError> {
        let ms = at.as_millisecond();
        in_tx!(self, "set category rule", |tx| async {
            sqlx::query("DELETE FROM policy_rules WHERE group_id = $1 AND category = $2")
                .bind(&r.group)
                .bind(&r.category)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO policy_rules (group_id, category, base, windows, nominated, updated_ms) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&r.group)
            .bind(&r.category)
            .bind(&r.base)
            .bind(r.windows.join("\n"))
            .bind(r.nominated.join("\n"))
            .bind(ms)
            .execute(&mut *tx)
            .await?;
            log_change!(&mut *tx, c, ms)
        }
        .await)?;
        Ok(())
    }

    /// Return a category to the configuration's rule and record the change.
    pub async fn clear_policy_rule(&self, group: &str, category: &str, c: &NewChange, at: Timestamp) -> Result<(), RecordError> {
        let ms = at.as_millisecond();
        in_tx!(self, "clear category rule", |tx| async {
            sqlx::query("DELETE FROM policy_rules WHERE group_id = $1 AND category = $2")
                .bind(group)
                .bind(category)
                .execute(&mut *tx)
                .await?;
            log_change!(&mut *tx, c, ms)
        }
        .await)?;
        Ok(())
    }

    /// Category rules set from the console.
    pub async fn policy_rules(&self) -> Result<Vec<RuleRecord>, RecordError> {
        Ok(on_read!(self, "list category rules", |pool| {
            sqlx::query("SELECT group_id, category, base, windows, nominated FROM policy_rules ORDER BY group_id, category")
                .fetch_all(pool)
                .await
                .and_then(|rows| {
                    rows.iter()
                        .map(|r| {
                            Ok(RuleRecord {
                                group: r.try_get("group_id")?,
                                category: r.try_get("category")?,
                                base: r.try_get("base")?,
                                windows: split(r.try_get("windows")?),
                                nominated: split(r.try_get("nominated")?),
                            })
                        })
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                })
        })?)
    }

    /// Set (or replace) a time window and record the change.
    pub async fn set_policy_window(&self, w: &WindowRecord, c: &NewChange, at: Timestamp) -> Result<(), RecordError> {
        let ms = at.as_millisecond();
        in_tx!(self, "set time window", |tx| async {
            sqlx::query("DELETE FROM policy_windows WHERE id = $1").bind(&w.id).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO policy_windows (id, title, spans, updated_ms) VALUES ($1, $2, $3, $4)")
                .bind(&w.id)
                .bind(&w.title)
                .bind(w.spans.join("\n"))
                .bind(ms)
                .execute(&mut *tx)
                .await?;
            log_change!(&mut *tx, c, ms)
        }
        .await)?;
        Ok(())
    }

    /// Time windows set from the console.
    pub async fn policy_windows(&self) -> Result<Vec<WindowRecord>, RecordError> {
        Ok(on_read!(self, "list time windows", |pool| {
            sqlx::query("SELECT id, title, spans FROM policy_windows ORDER BY id").fetch_all(pool).await.and_then(|rows| {
                rows.iter()
                    .map(|r| Ok(WindowRecord { id: r.try_get("id")?, title: r.try_get("title")?, spans: split(r.try_get("spans")?) }))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })
        })?)
    }

    /// The newest change's id (0 when none): a second Haven polls this to see a change.
    pub async fn policy_change_mark(&self) -> Result<i64, RecordError> {
        let n: Option<i64> =
            on_read!(self, "read change mark", |pool| sqlx::query_scalar("SELECT MAX(id) FROM policy_changes").fetch_one(pool).await)?;
        Ok(n.unwrap_or(0))
    }

    /// Changes matching `q`, newest first (keyset by id: never a count over everything).
    pub async fn policy_changes(&self, q: &ChangeQuery) -> Result<Vec<PolicyChangeRecord>, RecordError> {
        let sql = "SELECT * FROM policy_changes WHERE ($1 IS NULL OR LOWER(actor || ' ' || kind || ' ' || target || ' ' || reason || ' ' || after_text || ' ' || before_text) LIKE $1) \
                   AND ($2 IS NULL OR time_ms >= $2) AND ($3 IS NULL OR time_ms < $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5";
        let search = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| format!("%{}%", s.to_lowercase()));
        let limit = i64::from(if q.limit == 0 { 100 } else { q.limit });
        Ok(on_read!(self, "search change log", |pool| {
            sqlx::query(sql)
                .bind(search.as_deref())
                .bind(q.from.map(|t| t.as_millisecond()))
                .bind(q.to.map(|t| t.as_millisecond()))
                .bind(q.before_id)
                .bind(limit)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| change_row!(r)).collect::<Result<Vec<_>, _>>())
        })?)
    }

    /// Store an unblock request and record it in the change log; returns its id.
    pub async fn create_unblock_request(&self, r: &NewUnblockRequest, c: &NewChange, at: Timestamp) -> Result<i64, RecordError> {
        let ms = at.as_millisecond();
        let sql = "INSERT INTO unblock_requests (created_ms, requester, from_pupil, site, url, category, rule, reason, group_id, scope, users, names_pupil, expires_secs, route_to, link_hash) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id";
        in_tx!(self, "create unblock request", |tx| async {
            let id: i64 = sqlx::query_scalar(sql)
                .bind(ms)
                .bind(&r.requester)
                .bind(r.from_pupil)
                .bind(&r.site)
                .bind(&r.url)
                .bind(&r.category)
                .bind(&r.rule)
                .bind(&r.reason)
                .bind(&r.group)
                .bind(&r.scope)
                .bind(r.users.join("\n"))
                .bind(r.names_pupil)
                .bind(r.expires_secs)
                .bind(&r.route_to)
                .bind(&r.link_hash)
                .fetch_one(&mut *tx)
                .await?;
            let mut c = c.clone();
            c.target = format!("request {id} {}", c.target);
            c.public_text = format!("request {id} {}", c.public_text);
            log_change!(&mut *tx, &c, ms)?;
            Ok::<i64, sqlx::Error>(id)
        }
        .await)
    }

    /// Unblock requests, newest first; only pending ones when `pending_only`.
    pub async fn unblock_requests(&self, pending_only: bool, limit: u32) -> Result<Vec<UnblockRecord>, RecordError> {
        let sql = "SELECT * FROM unblock_requests WHERE (NOT $1 OR status = 'pending') ORDER BY id DESC LIMIT $2";
        Ok(on_read!(self, "list unblock requests", |pool| {
            sqlx::query(sql)
                .bind(pending_only)
                .bind(i64::from(if limit == 0 { 200 } else { limit }))
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| unblock_row!(r)).collect::<Result<Vec<_>, _>>())
        })?)
    }

    /// One unblock request, by id or by its decision link's token hash.
    pub async fn unblock_request(&self, id: Option<i64>, link_hash: Option<&str>) -> Result<Option<UnblockRecord>, RecordError> {
        Ok(on_read!(self, "read unblock request", |pool| {
            match sqlx::query("SELECT * FROM unblock_requests WHERE id = $1 OR link_hash = $2")
                .bind(id)
                .bind(link_hash)
                .fetch_optional(pool)
                .await
            {
                Ok(Some(r)) => unblock_row!(&r).map(Some),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
        })?)
    }

    /// Decide a pending request in one transaction: mark it, and on approval add the site entry;
    /// both recorded in the change log. `Conflict` when it was already decided.
    pub async fn decide_unblock_request(
        &self,
        id: i64,
        decided_by: &str,
        note: &str,
        site: Option<&NewSite>,
        c: &NewChange,
        at: Timestamp,
    ) -> Result<Option<i64>, RecordError> {
        let ms = at.as_millisecond();
        let status = if site.is_some() { "approved" } else { "declined" };
        let r = in_tx!(self, "decide unblock request", |tx| async {
            let n = sqlx::query(
                "UPDATE unblock_requests SET status = $2, decided_ms = $3, decided_by = $4, note = $5 WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(status)
            .bind(ms)
            .bind(decided_by)
            .bind(note)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok::<Option<Option<i64>>, sqlx::Error>(None);
            }
            let mut c = c.clone();
            let site_id = match site {
                Some(s) => {
                    let sid = insert_site!(&mut *tx, s, ms)?;
                    sqlx::query("UPDATE unblock_requests SET site_id = $2 WHERE id = $1").bind(id).bind(sid).execute(&mut *tx).await?;
                    c.target = format!("site-{sid} {}", c.target);
                    c.public_text = format!("site-{sid} {}", c.public_text);
                    Some(sid)
                }
                None => None,
            };
            log_change!(&mut *tx, &c, ms)?;
            Ok(Some(site_id))
        }
        .await)?;
        r.ok_or(RecordError::Conflict { what: "decision on unblock request", value: id.to_string() })
    }

    /// Milliseconds from request to decision of the latest `limit` decided requests.
    pub async fn unblock_decision_times(&self, limit: u32) -> Result<Vec<i64>, RecordError> {
        let sql = "SELECT decided_ms - created_ms FROM unblock_requests WHERE decided_ms IS NOT NULL ORDER BY decided_ms DESC LIMIT $1";
        Ok(on_read!(self, "unblock decision times", |pool| sqlx::query_scalar::<_, i64>(sql).bind(i64::from(limit)).fetch_all(pool).await)?)
    }

    /// Record that someone searched a named person's activity, and why.
    pub async fn record_activity_search(
        &self,
        actor: &str,
        person: &str,
        filters: &str,
        reason: &str,
        client: &str,
        at: Timestamp,
    ) -> Result<(), RecordError> {
        let sql = "INSERT INTO activity_searches (time_ms, actor, person, filters, reason, client) VALUES ($1, $2, $3, $4, $5, $6)";
        on_write!(self, "record activity search", |pool| {
            sqlx::query(sql)
                .bind(at.as_millisecond())
                .bind(actor)
                .bind(person)
                .bind(filters)
                .bind(reason)
                .bind(client)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Recorded activity searches, newest first, older than `before_id` when given.
    pub async fn activity_searches(&self, before_id: Option<i64>, limit: u32) -> Result<Vec<ActivitySearchRecord>, RecordError> {
        let sql = "SELECT * FROM activity_searches WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2";
        Ok(on_read!(self, "list activity searches", |pool| {
            sqlx::query(sql).bind(before_id).bind(i64::from(if limit == 0 { 100 } else { limit })).fetch_all(pool).await.and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok(ActivitySearchRecord {
                            id: r.try_get("id")?,
                            time: ts(r.try_get("time_ms")?),
                            actor: r.try_get("actor")?,
                            person: r.try_get("person")?,
                            filters: r.try_get("filters")?,
                            reason: r.try_get("reason")?,
                            client: r.try_get("client")?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })
        })?)
    }
}
