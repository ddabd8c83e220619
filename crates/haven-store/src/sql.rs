//! Running one statement on whichever backend the store is on, without writing every query twice.
//!
//! The SQL is portable (`$1` placeholders work on both); only the pool's type differs, so the
//! macros expand the same body once per backend. Reads go to SQLite's read pool, so a console
//! page never queues behind the activity writer's batches.

/// Run `$body` with `$pool` bound to the backend's read pool; map errors to `StoreError::Database`.
macro_rules! on_read {
    ($store:expr, $op:literal, |$pool:ident| $body:expr) => {{
        let r = match &$store.inner.db {
            $crate::store::Db::Sqlite(s) => {
                let $pool = &s.read;
                $body
            }
            $crate::store::Db::Postgres(p) => {
                let $pool = p;
                $body
            }
        };
        r.map_err(|e| $store.db_error($op, e))
    }};
}

/// As [`on_read!`], on the backend's write pool (SQLite's single writer).
macro_rules! on_write {
    ($store:expr, $op:literal, |$pool:ident| $body:expr) => {{
        let r = match &$store.inner.db {
            $crate::store::Db::Sqlite(s) => {
                let $pool = &s.write;
                $body
            }
            $crate::store::Db::Postgres(p) => {
                let $pool = p;
                $body
            }
        };
        r.map_err(|e| $store.db_error($op, e))
    }};
}

pub(crate) use {on_read, on_write};

/// A stored millisecond count as a timestamp (clamped: only a hand-edited row is out of range).
pub(crate) fn ts(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 { jiff::Timestamp::MIN } else { jiff::Timestamp::MAX })
}

/// Whether a driver error is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &crate::StoreError) -> bool {
    matches!(e, crate::StoreError::Database { source: sqlx::Error::Database(d), .. } if d.is_unique_violation())
}
