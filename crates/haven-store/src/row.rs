//! Mapping between `Event` and a row of the `events` table, in both directions.

use std::net::IpAddr;

use haven_activity::{Channel, Event, Flags, WebDetail};
use jiff::Timestamp;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::error::StoreError;
use crate::query::Cursor;

/// The columns every SELECT of events reads, in the order `EventRow` decodes them.
pub(crate) const SELECT_COLUMNS: &str = "id, time_ms, channel, client, device, user_name, grp, name, qtype, action, category, \
                                         rule, list_source, list_entry, flags, upstream, latency_us, sni, status, bytes_up, bytes_down";

/// An event read back from the store, with the id that names it for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The row id: unique, increasing in write order, never reused.
    pub id: i64,
    /// The event as written (time truncated to the millisecond).
    pub event: Event,
}

impl StoredEvent {
    /// The position just after this event in newest-first order, for fetching the next page.
    pub fn cursor(&self) -> Cursor {
        Cursor { time_ms: self.event.time.as_millisecond(), id: self.id }
    }
}

/// An event's column values, borrowed, ready to bind.
pub(crate) struct EventRef<'a> {
    pub(crate) time_ms: i64,
    pub(crate) channel: &'static str,
    pub(crate) client: String,
    pub(crate) device: Option<&'a str>,
    pub(crate) user: Option<&'a str>,
    pub(crate) grp: &'a str,
    pub(crate) name: &'a str,
    pub(crate) qtype: &'a str,
    pub(crate) action: &'a str,
    pub(crate) category: Option<&'a str>,
    pub(crate) rule: &'a str,
    pub(crate) list_source: Option<&'a str>,
    pub(crate) list_entry: Option<&'a str>,
    pub(crate) flags: u8,
    pub(crate) upstream: Option<&'a str>,
    pub(crate) latency_us: i64,
    pub(crate) sni: Option<&'a str>,
    pub(crate) status: Option<i32>,
    pub(crate) bytes_up: Option<i64>,
    pub(crate) bytes_down: Option<i64>,
}

impl<'a> EventRef<'a> {
    pub(crate) fn new(ev: &'a Event) -> EventRef<'a> {
        EventRef {
            time_ms: ev.time.as_millisecond(),
            channel: ev.channel.as_str(),
            client: ev.client.to_string(),
            device: ev.device.as_deref(),
            user: ev.user.as_deref(),
            grp: &ev.group,
            name: &ev.name,
            qtype: &ev.qtype,
            action: &ev.action,
            category: ev.category.as_deref(),
            rule: &ev.rule,
            list_source: ev.list_source.as_deref(),
            list_entry: ev.list_entry.as_deref(),
            flags: ev.flags.bits(),
            upstream: ev.upstream.as_deref(),
            latency_us: i64::from(ev.latency_us),
            sni: ev.web.as_ref().and_then(|w| w.sni.as_deref()),
            status: ev.web.as_ref().map(|w| i32::from(w.status)),
            bytes_up: ev.web.as_ref().map(|w| i64::try_from(w.bytes_up).unwrap_or(i64::MAX)),
            bytes_down: ev.web.as_ref().map(|w| i64::try_from(w.bytes_down).unwrap_or(i64::MAX)),
        }
    }
}

/// A row as stored, before it is checked back into an `Event`.
pub(crate) struct EventRow {
    id: i64,
    time_ms: i64,
    channel: String,
    client: String,
    device: Option<String>,
    user: Option<String>,
    grp: String,
    name: String,
    qtype: String,
    action: String,
    category: Option<String>,
    rule: String,
    list_source: Option<String>,
    list_entry: Option<String>,
    flags: i64,
    upstream: Option<String>,
    latency_us: i64,
    sni: Option<String>,
    status: Option<i64>,
    bytes_up: Option<i64>,
    bytes_down: Option<i64>,
}

/// Read the columns of `SELECT_COLUMNS` by position; `$flags` is the driver's integer type for
/// the flags column (SQLite INTEGER is i64, PostgreSQL INTEGER is i32).
macro_rules! decode_row {
    ($row:expr, $flags:ty) => {{
        let row = $row;
        Ok(EventRow {
            id: row.try_get(0)?,
            time_ms: row.try_get(1)?,
            channel: row.try_get(2)?,
            client: row.try_get(3)?,
            device: row.try_get(4)?,
            user: row.try_get(5)?,
            grp: row.try_get(6)?,
            name: row.try_get(7)?,
            qtype: row.try_get(8)?,
            action: row.try_get(9)?,
            category: row.try_get(10)?,
            rule: row.try_get(11)?,
            list_source: row.try_get(12)?,
            list_entry: row.try_get(13)?,
            flags: i64::from(row.try_get::<$flags, _>(14)?),
            upstream: row.try_get(15)?,
            latency_us: row.try_get(16)?,
            sni: row.try_get(17)?,
            status: row.try_get::<Option<$flags>, _>(18)?.map(i64::from),
            bytes_up: row.try_get(19)?,
            bytes_down: row.try_get(20)?,
        })
    }};
}

impl EventRow {
    pub(crate) fn from_sqlite(row: &SqliteRow) -> Result<EventRow, sqlx::Error> {
        decode_row!(row, i64)
    }

    pub(crate) fn from_postgres(row: &PgRow) -> Result<EventRow, sqlx::Error> {
        decode_row!(row, i32)
    }

    /// Check every column back into an `Event`; a value no `Event` can hold is `Corrupt`.
    pub(crate) fn into_stored(self) -> Result<StoredEvent, StoreError> {
        let id = self.id;
        let corrupt = |field: &'static str, value: String| StoreError::Corrupt { id, field, value };
        let time = Timestamp::from_millisecond(self.time_ms).map_err(|_| corrupt("time_ms", self.time_ms.to_string()))?;
        let channel = Channel::parse(&self.channel).ok_or_else(|| corrupt("channel", self.channel.clone()))?;
        let client: IpAddr = self.client.parse().map_err(|_| corrupt("client", self.client.clone()))?;
        let flags = u8::try_from(self.flags).map_err(|_| corrupt("flags", self.flags.to_string()))?;
        let latency_us = u32::try_from(self.latency_us).map_err(|_| corrupt("latency_us", self.latency_us.to_string()))?;
        let web = match self.status {
            None => None,
            Some(status) => Some(WebDetail {
                sni: self.sni,
                status: u16::try_from(status).map_err(|_| corrupt("status", status.to_string()))?,
                bytes_up: self.bytes_up.and_then(|b| u64::try_from(b).ok()).unwrap_or(0),
                bytes_down: self.bytes_down.and_then(|b| u64::try_from(b).ok()).unwrap_or(0),
            }),
        };
        Ok(StoredEvent {
            id,
            event: Event {
                time,
                channel,
                client,
                device: self.device,
                user: self.user,
                group: self.grp,
                name: self.name,
                qtype: self.qtype,
                action: self.action,
                category: self.category,
                rule: self.rule,
                list_source: self.list_source,
                list_entry: self.list_entry,
                flags: Flags::from_bits(flags),
                upstream: self.upstream,
                latency_us,
                web,
            },
        })
    }
}

/// Bind one event's columns, in the order of the events table's insert column list, so the
/// activity writer and the alert evidence copy cannot drift apart.
macro_rules! bind_event_columns {
    ($q:expr, $ev:expr) => {{
        let r = $crate::row::EventRef::new($ev);
        $q.bind(r.time_ms)
            .bind(r.channel)
            .bind(r.client)
            .bind(r.device)
            .bind(r.user)
            .bind(r.grp)
            .bind(r.name)
            .bind(r.qtype)
            .bind(r.action)
            .bind(r.category)
            .bind(r.rule)
            .bind(r.list_source)
            .bind(r.list_entry)
            .bind(i32::from(r.flags))
            .bind(r.upstream)
            .bind(r.latency_us)
            .bind(r.sni)
            .bind(r.status)
            .bind(r.bytes_up)
            .bind(r.bytes_down)
    }};
}

pub(crate) use bind_event_columns;
