//! Guest passes and registered devices (schema version 9). A guest pass is requested at the
//! portal, decided once by its sponsor (or an IT administrator), and expires; a registered device
//! maps a MAC or a fixed address to an owner in the people directory. Neither is ever deleted:
//! passes keep their decision, retired devices are marked inactive.

use std::net::IpAddr;

use jiff::Timestamp;
use sqlx::Row;

use crate::error::RecordError;
use crate::sql::{is_unique_violation, on_read, on_write, ts};
use crate::store::Store;

/// Where a guest pass stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestStatus {
    /// Waiting for the sponsor.
    Pending,
    /// Approved: the guest's device is bound until `expires`.
    Approved,
    /// Declined by the sponsor.
    Declined,
}

impl GuestStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestStatus::Pending => "pending",
            GuestStatus::Approved => "approved",
            GuestStatus::Declined => "declined",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<GuestStatus> {
        Some(match s {
            "pending" => GuestStatus::Pending,
            "approved" => GuestStatus::Approved,
            "declined" => GuestStatus::Declined,
            _ => return None,
        })
    }
}

/// A guest pass as stored (the guest's status token only as its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestPass {
    /// Row id.
    pub id: i64,
    /// The guest's name as they typed it.
    pub name: String,
    /// Why they are here.
    pub reason: String,
    /// The member of staff named as sponsor.
    pub sponsor_account_id: Option<i64>,
    /// The sponsor's display name.
    pub sponsor_name: String,
    /// The address the guest registered from (bound when approved).
    pub address: String,
    /// Where it stands.
    pub status: GuestStatus,
    /// When requested.
    pub requested: Timestamp,
    /// When decided.
    pub decided: Option<Timestamp>,
    /// Who decided.
    pub decided_by: String,
    /// Hours granted.
    pub hours: Option<i64>,
    /// When the access ends.
    pub expires: Option<Timestamp>,
}

/// A registered device as stored, with its owner from the people directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// Row id.
    pub id: i64,
    /// What the school calls it (`IT-LAPTOP-042`).
    pub name: String,
    /// Normalised MAC (`aa:bb:cc:dd:ee:ff`), for RADIUS `Calling-Station-Id` to match.
    pub mac: Option<String>,
    /// A fixed address, bound in the identity book.
    pub address: Option<IpAddr>,
    /// The owner in the people directory.
    pub owner_person_id: Option<i64>,
    /// The owner's name.
    pub owner_name: Option<String>,
    /// The owner's user name for the activity log (school email, else directory key).
    pub owner_user: Option<String>,
    /// The owner's filtering group.
    pub owner_group: Option<String>,
    /// Free text.
    pub notes: String,
    /// False once retired.
    pub active: bool,
    /// Last change.
    pub updated: Timestamp,
}

/// What registering a device needs.
#[derive(Debug, Clone, Default)]
pub struct NewDevice {
    /// Name.
    pub name: String,
    /// Normalised MAC.
    pub mac: Option<String>,
    /// Fixed address.
    pub address: Option<IpAddr>,
    /// Owner.
    pub owner_person_id: Option<i64>,
    /// Notes.
    pub notes: String,
}

const GUEST_COLUMNS: &str = "g.id, g.name, g.reason, g.sponsor_account_id, COALESCE(a.display_name, '') AS sponsor_name, g.address, \
    g.status, g.requested_ms, g.decided_ms, g.decided_by, g.hours, g.expires_ms";

const DEVICE_COLUMNS: &str = "d.id, d.name, d.mac, d.address, d.owner_person_id, d.notes, d.active, d.updated_ms, \
    p.given_name || ' ' || p.family_name AS owner_name, COALESCE(p.email, p.person_key) AS owner_user, p.filter_group AS owner_group";

macro_rules! guest_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, sqlx::Error>((
            r.try_get::<String, _>("status")?,
            GuestPass {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                reason: r.try_get("reason")?,
                sponsor_account_id: r.try_get("sponsor_account_id")?,
                sponsor_name: r.try_get("sponsor_name")?,
                address: r.try_get("address")?,
                status: GuestStatus::Pending,
                requested: ts(r.try_get("requested_ms")?),
                decided: r.try_get::<Option<i64>, _>("decided_ms")?.map(ts),
                decided_by: r.try_get("decided_by")?,
                hours: r.try_get("hours")?,
                expires: r.try_get::<Option<i64>, _>("expires_ms")?.map(ts),
            },
        ))
    }};
}

macro_rules! device_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, sqlx::Error>((
            r.try_get::<Option<String>, _>("address")?,
            DeviceRecord {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                mac: r.try_get("mac")?,
                address: None,
                owner_person_id: r.try_get("owner_person_id")?,
                owner_name: r.try_get("owner_name")?,
                owner_user: r.try_get("owner_user")?,
                owner_group: r.try_get("owner_group")?,
                notes: r.try_get("notes")?,
                active: r.try_get("active")?,
                updated: ts(r.try_get("updated_ms")?),
            },
        ))
    }};
}

fn finish_guest((status, mut g): (String, GuestPass)) -> Result<GuestPass, RecordError> {
    g.status =
        GuestStatus::parse(&status).ok_or(RecordError::Corrupt { table: "guest_passes", id: g.id, field: "status", value: status })?;
    Ok(g)
}

fn finish_device((address, mut d): (Option<String>, DeviceRecord)) -> Result<DeviceRecord, RecordError> {
    d.address = match address {
        Some(a) => Some(a.parse().map_err(|_| RecordError::Corrupt { table: "devices", id: d.id, field: "address", value: a })?),
        None => None,
    };
    Ok(d)
}

/// Filters for listing guest passes, newest first.
#[derive(Debug, Clone, Default)]
pub struct GuestQuery {
    /// Only passes naming this sponsor.
    pub sponsor: Option<i64>,
    /// Only this status.
    pub status: Option<GuestStatus>,
    /// Most rows (200 when 0).
    pub limit: u32,
}

impl Store {
    /// Record a guest's request; returns its id.
    pub async fn request_guest_pass(
        &self,
        name: &str,
        reason: &str,
        sponsor: i64,
        address: IpAddr,
        token_hash: &str,
        at: Timestamp,
    ) -> Result<i64, RecordError> {
        let sql = "INSERT INTO guest_passes (name, reason, sponsor_account_id, address, token_hash, status, requested_ms) \
                   VALUES ($1, $2, $3, $4, $5, 'pending', $6) RETURNING id";
        Ok(on_write!(self, "record a guest request", |pool| {
            sqlx::query_scalar(sql)
                .bind(name)
                .bind(reason)
                .bind(sponsor)
                .bind(address.to_string())
                .bind(token_hash)
                .bind(at.as_millisecond())
                .fetch_one(pool)
                .await
        })?)
    }

    /// Guest passes, newest first.
    pub async fn guest_passes(&self, q: &GuestQuery) -> Result<Vec<GuestPass>, RecordError> {
        let limit = i64::from(if q.limit == 0 { 200 } else { q.limit.min(1000) });
        let sql = format!(
            "SELECT {GUEST_COLUMNS} FROM guest_passes g LEFT JOIN accounts a ON a.id = g.sponsor_account_id \
             WHERE ($1 IS NULL OR g.sponsor_account_id = $1) AND ($2 IS NULL OR g.status = $2) ORDER BY g.id DESC LIMIT $3"
        );
        let rows = on_read!(self, "list guest passes", |pool| {
            sqlx::query(&sql)
                .bind(q.sponsor)
                .bind(q.status.map(GuestStatus::as_str))
                .bind(limit)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| guest_row!(r)).collect::<Result<Vec<_>, _>>())
        })?;
        rows.into_iter().map(finish_guest).collect()
    }

    async fn guest_pass_where(&self, clause: &str, value: GuestKey<'_>) -> Result<Option<GuestPass>, RecordError> {
        let sql = format!("SELECT {GUEST_COLUMNS} FROM guest_passes g LEFT JOIN accounts a ON a.id = g.sponsor_account_id WHERE {clause}");
        let row = on_read!(self, "find a guest pass", |pool| {
            let q = sqlx::query(&sql);
            let q = match value {
                GuestKey::Id(id) => q.bind(id),
                GuestKey::Token(t) => q.bind(t),
            };
            q.fetch_optional(pool).await.and_then(|r| r.as_ref().map(|r| guest_row!(r)).transpose())
        })?;
        row.map(finish_guest).transpose()
    }

    /// One guest pass.
    pub async fn guest_pass(&self, id: i64) -> Result<Option<GuestPass>, RecordError> {
        self.guest_pass_where("g.id = $1", GuestKey::Id(id)).await
    }

    /// The guest pass whose status token hashes to this (the guest's own cookie).
    pub async fn guest_pass_by_token(&self, token_hash: &str) -> Result<Option<GuestPass>, RecordError> {
        self.guest_pass_where("g.token_hash = $1", GuestKey::Token(token_hash)).await
    }

    /// Decide a pending pass once; false if it was already decided.
    pub async fn decide_guest_pass(
        &self,
        id: i64,
        status: GuestStatus,
        by: &str,
        hours: Option<i64>,
        expires: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<bool, RecordError> {
        let sql = "UPDATE guest_passes SET status = $2, decided_by = $3, hours = $4, expires_ms = $5, decided_ms = $6 \
                   WHERE id = $1 AND status = 'pending'";
        let n = on_write!(self, "decide a guest pass", |pool| {
            sqlx::query(sql)
                .bind(id)
                .bind(status.as_str())
                .bind(by)
                .bind(hours)
                .bind(expires.map(|e| e.as_millisecond()))
                .bind(at.as_millisecond())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(n == 1)
    }

    /// Move an approved guest to the address they now use (their device's lease changed).
    pub async fn move_guest_pass(&self, id: i64, address: IpAddr) -> Result<(), RecordError> {
        let sql = "UPDATE guest_passes SET address = $2 WHERE id = $1";
        on_write!(self, "move a guest pass", |pool| sqlx::query(sql).bind(id).bind(address.to_string()).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Register a device; a MAC or address another active device has is [`RecordError::Conflict`].
    pub async fn add_device(&self, d: &NewDevice, at: Timestamp) -> Result<i64, RecordError> {
        let sql = "INSERT INTO devices (name, mac, address, owner_person_id, notes, active, created_ms, updated_ms) \
                   VALUES ($1, $2, $3, $4, $5, TRUE, $6, $6) RETURNING id";
        let r = on_write!(self, "register a device", |pool| {
            sqlx::query_scalar(sql)
                .bind(&d.name)
                .bind(&d.mac)
                .bind(d.address.map(|a| a.to_string()))
                .bind(d.owner_person_id)
                .bind(&d.notes)
                .bind(at.as_millisecond())
                .fetch_one(pool)
                .await
        });
        r.map_err(|e| {
            if is_unique_violation(&e) {
                let value = d.mac.clone().or_else(|| d.address.map(|a| a.to_string())).unwrap_or_default();
                RecordError::Conflict { what: "device MAC or address", value }
            } else {
                e.into()
            }
        })
    }

    /// Registered devices by name (retired ones too with `include_retired`).
    pub async fn devices(&self, include_retired: bool) -> Result<Vec<DeviceRecord>, RecordError> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices d LEFT JOIN people p ON p.id = d.owner_person_id WHERE ($1 OR d.active) ORDER BY d.name, d.id"
        );
        let rows = on_read!(self, "list devices", |pool| {
            sqlx::query(&sql)
                .bind(include_retired)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| device_row!(r)).collect::<Result<Vec<_>, _>>())
        })?;
        rows.into_iter().map(finish_device).collect()
    }

    /// The active device with this MAC (normalise it first with `haven_identity::normalise_mac`):
    /// what a RADIUS session's `Calling-Station-Id` resolves to.
    pub async fn device_by_mac(&self, mac: &str) -> Result<Option<DeviceRecord>, RecordError> {
        let sql =
            format!("SELECT {DEVICE_COLUMNS} FROM devices d LEFT JOIN people p ON p.id = d.owner_person_id WHERE d.active AND d.mac = $1");
        let row = on_read!(self, "find a device by MAC", |pool| {
            sqlx::query(&sql).bind(mac).fetch_optional(pool).await.and_then(|r| r.as_ref().map(|r| device_row!(r)).transpose())
        })?;
        row.map(finish_device).transpose()
    }

    /// Retire a device (kept, never deleted); false if it was not active.
    pub async fn retire_device(&self, id: i64, at: Timestamp) -> Result<bool, RecordError> {
        let sql = "UPDATE devices SET active = FALSE, updated_ms = $2 WHERE id = $1 AND active";
        let n = on_write!(self, "retire a device", |pool| sqlx::query(sql)
            .bind(id)
            .bind(at.as_millisecond())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}

#[derive(Clone, Copy)]
enum GuestKey<'a> {
    Id(i64),
    Token(&'a str),
}
