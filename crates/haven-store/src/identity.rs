//! Who is behind each address (schema version 8): the live bindings the captive portal, guest
//! passes, RADIUS and registered devices make, kept so a restart restores them; the append-only
//! record of every binding's start and end; and pupils' network passwords (argon2id only).
//!
//! [`LiveIdentity`] is the one way to bind or release an address: it writes the row and the
//! record first, then updates the in-memory [`IdentityBook`] the DNS service and the proxy read,
//! so nothing counts for filtering that is not also on record.

use std::net::IpAddr;
use std::sync::Arc;

use haven_identity::{Binding, BindingSource, IdentityBook};
use jiff::Timestamp;
use sqlx::Row;

use crate::error::RecordError;
use crate::sql::{is_unique_violation, on_read, on_write, ts};
use crate::store::Store;

/// One line of the binding record: a binding starting or ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingLogRecord {
    /// Row id, increasing.
    pub id: i64,
    /// When it was recorded.
    pub time: Timestamp,
    /// `start` or `end`.
    pub event: String,
    /// The client address.
    pub address: String,
    /// The binding as it was.
    pub user: Option<String>,
    /// The filtering group it gave.
    pub group: Option<String>,
    /// The device, if known.
    pub device: Option<String>,
    /// Where it came from (`portal`, `guest`, `radius`, `device`).
    pub source: String,
    /// When the binding began.
    pub since: Timestamp,
    /// When it was due to end.
    pub expires: Option<Timestamp>,
    /// Who made or ended it (the person signing in, an administrator, `haven` for expiry).
    pub actor: String,
    /// Why, in words (`signed in at the portal`, `expired`, `signed out by it_admin`).
    pub detail: String,
}

/// A pupil's (or any person's) network sign-in, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkLogin {
    /// The person in the directory.
    pub person_id: i64,
    /// What they type at the portal.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// When it was last set.
    pub set: Timestamp,
    /// Who set it.
    pub set_by: String,
}

macro_rules! log_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, sqlx::Error>(BindingLogRecord {
            id: r.try_get("id")?,
            time: ts(r.try_get("time_ms")?),
            event: r.try_get("event")?,
            address: r.try_get("address")?,
            user: r.try_get("user_name")?,
            group: r.try_get("group_name")?,
            device: r.try_get("device")?,
            source: r.try_get("source")?,
            since: ts(r.try_get("since_ms")?),
            expires: r.try_get::<Option<i64>, _>("expires_ms")?.map(ts),
            actor: r.try_get("actor")?,
            detail: r.try_get("detail")?,
        })
    }};
}

macro_rules! login_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, sqlx::Error>(NetworkLogin {
            person_id: r.try_get("person_id")?,
            username: r.try_get("username")?,
            password_hash: r.try_get("password_hash")?,
            set: ts(r.try_get("set_ms")?),
            set_by: r.try_get("set_by")?,
        })
    }};
}

fn corrupt(field: &'static str, value: String) -> RecordError {
    RecordError::Corrupt { table: "address_bindings", id: 0, field, value }
}

impl Store {
    /// Keep a binding so a restart restores it (one row per address: the newest wins).
    pub async fn save_binding(&self, addr: IpAddr, b: &Binding) -> Result<(), RecordError> {
        let sql = "INSERT INTO address_bindings (address, user_name, group_name, device, source, since_ms, expires_ms) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (address) DO UPDATE SET user_name = excluded.user_name, \
                   group_name = excluded.group_name, device = excluded.device, source = excluded.source, \
                   since_ms = excluded.since_ms, expires_ms = excluded.expires_ms";
        on_write!(self, "save an address binding", |pool| {
            sqlx::query(sql)
                .bind(addr.to_string())
                .bind(&b.user)
                .bind(&b.group)
                .bind(&b.device)
                .bind(b.source.as_str())
                .bind(b.since.as_millisecond())
                .bind(b.expires.map(|e| e.as_millisecond()))
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Forget a kept binding.
    pub async fn delete_binding(&self, addr: IpAddr) -> Result<(), RecordError> {
        let sql = "DELETE FROM address_bindings WHERE address = $1";
        on_write!(self, "delete an address binding", |pool| sqlx::query(sql).bind(addr.to_string()).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Every kept binding, live or not, by address.
    pub async fn saved_bindings(&self) -> Result<Vec<(IpAddr, Binding)>, RecordError> {
        let sql = "SELECT address, user_name, group_name, device, source, since_ms, expires_ms FROM address_bindings ORDER BY address";
        let rows = on_read!(self, "read address bindings", |pool| {
            sqlx::query(sql).fetch_all(pool).await.and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get::<String, _>("address")?,
                            r.try_get::<String, _>("source")?,
                            Binding {
                                user: r.try_get("user_name")?,
                                group: r.try_get("group_name")?,
                                device: r.try_get("device")?,
                                source: BindingSource::Portal,
                                since: ts(r.try_get("since_ms")?),
                                expires: r.try_get::<Option<i64>, _>("expires_ms")?.map(ts),
                            },
                        ))
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })
        })?;
        rows.into_iter()
            .map(|(a, s, mut b)| {
                let addr = a.parse::<IpAddr>().map_err(|_| corrupt("address", a.clone()))?;
                b.source = BindingSource::parse(&s).ok_or_else(|| corrupt("source", s.clone()))?;
                Ok((addr, b))
            })
            .collect()
    }

    /// Append a binding's start or end to the record (the only write it accepts).
    pub async fn append_binding_log(
        &self,
        event: &str,
        addr: IpAddr,
        b: &Binding,
        actor: &str,
        detail: &str,
        at: Timestamp,
    ) -> Result<i64, RecordError> {
        let sql = "INSERT INTO binding_log (time_ms, event, address, user_name, group_name, device, source, since_ms, expires_ms, actor, detail) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id";
        Ok(on_write!(self, "record an address binding", |pool| {
            sqlx::query_scalar(sql)
                .bind(at.as_millisecond())
                .bind(event)
                .bind(addr.to_string())
                .bind(&b.user)
                .bind(&b.group)
                .bind(&b.device)
                .bind(b.source.as_str())
                .bind(b.since.as_millisecond())
                .bind(b.expires.map(|e| e.as_millisecond()))
                .bind(actor)
                .bind(detail)
                .fetch_one(pool)
                .await
        })?)
    }

    /// The binding record, newest first; `address` limits it to one address.
    pub async fn binding_log(&self, address: Option<&str>, limit: u32) -> Result<Vec<BindingLogRecord>, RecordError> {
        let limit = i64::from(if limit == 0 { 100 } else { limit.min(1000) });
        let sql = "SELECT id, time_ms, event, address, user_name, group_name, device, source, since_ms, expires_ms, actor, detail \
                   FROM binding_log WHERE ($1 IS NULL OR address = $1) ORDER BY id DESC LIMIT $2";
        Ok(on_read!(self, "read the binding record", |pool| {
            sqlx::query(sql)
                .bind(address)
                .bind(limit)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| log_row!(r)).collect::<Result<Vec<_>, _>>())
        })?)
    }

    /// Set (or replace) a person's network sign-in; a username another person has is
    /// [`RecordError::Conflict`].
    pub async fn set_network_password(
        &self,
        person_id: i64,
        username: &str,
        hash: &str,
        by: &str,
        at: Timestamp,
    ) -> Result<(), RecordError> {
        let username = crate::normalise_username(username);
        let sql = "INSERT INTO network_passwords (person_id, username, password_hash, set_ms, set_by) VALUES ($1, $2, $3, $4, $5) \
                   ON CONFLICT (person_id) DO UPDATE SET username = excluded.username, password_hash = excluded.password_hash, \
                   set_ms = excluded.set_ms, set_by = excluded.set_by";
        let r = on_write!(self, "set a network password", |pool| {
            sqlx::query(sql).bind(person_id).bind(&username).bind(hash).bind(at.as_millisecond()).bind(by).execute(pool).await.map(|_| ())
        });
        r.map(|_| ()).map_err(|e| {
            if is_unique_violation(&e) { RecordError::Conflict { what: "network username", value: username } } else { e.into() }
        })
    }

    /// The network sign-in with this username, if any.
    pub async fn network_login(&self, username: &str) -> Result<Option<NetworkLogin>, RecordError> {
        let sql = "SELECT person_id, username, password_hash, set_ms, set_by FROM network_passwords WHERE username = $1";
        let username = crate::normalise_username(username);
        Ok(on_read!(self, "find a network sign-in", |pool| {
            sqlx::query(sql).bind(&username).fetch_optional(pool).await.and_then(|r| r.as_ref().map(|r| login_row!(r)).transpose())
        })?)
    }

    /// Every network sign-in (hashes included: callers show only names and dates).
    pub async fn network_logins(&self) -> Result<Vec<NetworkLogin>, RecordError> {
        let sql = "SELECT person_id, username, password_hash, set_ms, set_by FROM network_passwords ORDER BY username";
        Ok(on_read!(self, "list network sign-ins", |pool| {
            sqlx::query(sql).fetch_all(pool).await.and_then(|rows| rows.iter().map(|r| login_row!(r)).collect::<Result<Vec<_>, _>>())
        })?)
    }
}

/// The live address book and its stored copy, changed together: the only way to bind or release.
#[derive(Debug, Clone)]
pub struct LiveIdentity {
    store: Store,
    book: Arc<IdentityBook>,
}

/// The actor recorded for what Haven does by itself (expiry, restore).
pub const SYSTEM_ACTOR: &str = "haven";

impl LiveIdentity {
    /// Over a store and the book the front ends read.
    pub fn new(store: Store, book: Arc<IdentityBook>) -> LiveIdentity {
        LiveIdentity { store, book }
    }

    /// The book the DNS service and proxy read.
    pub fn book(&self) -> &Arc<IdentityBook> {
        &self.book
    }

    /// Bind an address (the newest binding wins): stored and recorded first, then live. The
    /// binding it replaces is recorded as ended.
    pub async fn bind(&self, addr: IpAddr, b: Binding, actor: &str, detail: &str) -> Result<(), RecordError> {
        let now = b.since;
        self.store.save_binding(addr, &b).await?;
        if let Some(old) = self.book.lookup(addr, now) {
            let why = format!("replaced by a {} binding", b.source.as_str());
            self.store.append_binding_log("end", addr, &old, actor, &why, now).await?;
        }
        self.store.append_binding_log("start", addr, &b, actor, detail, now).await?;
        self.book.bind(addr, b);
        Ok(())
    }

    /// End whatever binds an address (`source`: only if that source made it); recorded.
    pub async fn release(
        &self,
        addr: IpAddr,
        source: Option<BindingSource>,
        actor: &str,
        detail: &str,
        now: Timestamp,
    ) -> Result<Option<Binding>, RecordError> {
        let Some(current) = self.book.lookup(addr, now) else { return Ok(None) };
        if source.is_some_and(|s| s != current.source) {
            return Ok(None);
        }
        self.store.delete_binding(addr).await?;
        self.store.append_binding_log("end", addr, &current, actor, detail, now).await?;
        Ok(match source {
            Some(s) => self.book.release(addr, s),
            None => self.book.remove(addr),
        })
    }

    /// At start: put the stored live bindings back in the book; the ones that expired while
    /// Haven was stopped are recorded as ended and forgotten. Returns how many were restored.
    pub async fn restore(&self, now: Timestamp) -> Result<usize, RecordError> {
        let mut restored = 0;
        for (addr, b) in self.store.saved_bindings().await? {
            if b.is_live(now) {
                self.book.bind(addr, b);
                restored += 1;
            } else {
                self.store.delete_binding(addr).await?;
                self.store.append_binding_log("end", addr, &b, SYSTEM_ACTOR, "expired while Haven was stopped", now).await?;
            }
        }
        Ok(restored)
    }

    /// Drop expired bindings from the book and the store, recording each end.
    pub async fn sweep(&self, now: Timestamp) -> Result<usize, RecordError> {
        let gone = self.book.expire(now);
        for (addr, b) in &gone {
            self.store.delete_binding(*addr).await?;
            self.store.append_binding_log("end", *addr, b, SYSTEM_ACTOR, "expired", now).await?;
        }
        Ok(gone.len())
    }

    /// Make the book's registered-device bindings exactly `wanted`: devices removed or moved are
    /// released, new or changed ones bound; each change recorded.
    pub async fn sync_devices(&self, wanted: Vec<(IpAddr, Binding)>, actor: &str, now: Timestamp) -> Result<(), RecordError> {
        let current: Vec<(IpAddr, Binding)> =
            self.book.current(now).into_iter().filter(|(_, b)| b.source == BindingSource::Device).collect();
        for (addr, b) in &current {
            let same = wanted.iter().any(|(a, w)| a == addr && (&w.user, &w.group, &w.device) == (&b.user, &b.group, &b.device));
            if !same {
                self.release(*addr, Some(BindingSource::Device), actor, "device registration changed", now).await?;
            }
        }
        for (addr, w) in wanted {
            let same = current.iter().any(|(a, b)| *a == addr && (&w.user, &w.group, &w.device) == (&b.user, &b.group, &b.device));
            // A device's fixed address does not take over from someone signed in on it now.
            let other = self.book.lookup(addr, now).is_some_and(|b| b.source != BindingSource::Device);
            if !same && !other {
                self.bind(addr, w, actor, "registered device").await?;
            }
        }
        Ok(())
    }
}
