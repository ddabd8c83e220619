//! Versioned migrations, one SQL file per version per backend, applied in one transaction.
//!
//! `haven_schema` records each version applied, with when. Opening a store applies whatever is
//! missing; opening one written by a newer Haven is refused ([`StoreError::SchemaTooNew`]).
//! PostgreSQL takes an advisory lock and SQLite an immediate write lock, so two processes
//! opening the same new database at once cannot both migrate it.

use jiff::Timestamp;
use sqlx::Connection;

use crate::error::StoreError;
use crate::store::{Db, Store};

/// The newest schema version this build knows; a freshly opened store is at this version.
pub const SCHEMA_VERSION: i64 = 15;

/// How many migrations this build knows (versions may have gaps: numbers are reserved per feature).
pub const MIGRATION_COUNT: i64 = MIGRATIONS.len() as i64;

/// One schema step, written once per backend.
struct Migration {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "events, their indexes, and the retention log",
        sqlite: include_str!("../migrations/sqlite/0001_activity.sql"),
        postgres: include_str!("../migrations/postgres/0001_activity.sql"),
    },
    Migration {
        version: 3,
        description: "web request detail on events: SNI, status, bytes each way",
        sqlite: include_str!("../migrations/sqlite/0003_web_detail.sql"),
        postgres: include_str!("../migrations/postgres/0003_web_detail.sql"),
    },
    Migration {
        version: 4,
        description: "console accounts, sessions, API tokens, recovery code, sign-in audit log",
        sqlite: include_str!("../migrations/sqlite/0004_accounts.sql"),
        postgres: include_str!("../migrations/postgres/0004_accounts.sql"),
    },
    Migration {
        version: 5,
        description: "people directory",
        sqlite: include_str!("../migrations/sqlite/0005_people.sql"),
        postgres: include_str!("../migrations/postgres/0005_people.sql"),
    },
    Migration {
        version: 6,
        description: "console policy overlay (rules, windows, site entries) and the append-only change log",
        sqlite: include_str!("../migrations/sqlite/0006_policy_changes.sql"),
        postgres: include_str!("../migrations/postgres/0006_policy_changes.sql"),
    },
    Migration {
        version: 7,
        description: "unblock requests and the record of activity searches",
        sqlite: include_str!("../migrations/sqlite/0007_unblock_requests.sql"),
        postgres: include_str!("../migrations/postgres/0007_unblock_requests.sql"),
    },
    Migration {
        version: 8,
        description: "network identity: live address bindings, the binding record, network passwords",
        sqlite: include_str!("../migrations/sqlite/0008_network_identity.sql"),
        postgres: include_str!("../migrations/postgres/0008_network_identity.sql"),
    },
    Migration {
        version: 9,
        description: "guest passes and registered devices",
        sqlite: include_str!("../migrations/sqlite/0009_guests_devices.sql"),
        postgres: include_str!("../migrations/postgres/0009_guests_devices.sql"),
    },
    Migration {
        version: 11,
        description: "safeguarding records: hash-chained entries, record state, links, attachments, access audit",
        sqlite: include_str!("../migrations/sqlite/0011_records.sql"),
        postgres: include_str!("../migrations/postgres/0011_records.sql"),
    },
    Migration {
        version: 13,
        description: "safeguarding records moving school: entries received from another school, the transfer log",
        sqlite: include_str!("../migrations/sqlite/0013_records_transfer.sql"),
        postgres: include_str!("../migrations/postgres/0013_records_transfer.sql"),
    },
    Migration {
        version: 10,
        description: "sign-in names of people (LDAP uid, sAMAccountName, UPN) for RADIUS",
        sqlite: include_str!("../migrations/sqlite/0010_person_logins.sql"),
        postgres: include_str!("../migrations/postgres/0010_person_logins.sql"),
    },
    Migration {
        version: 15,
        description: "alerts: evidence, lifecycle log, deliveries, exclusions, rule change log",
        sqlite: include_str!("../migrations/sqlite/0015_alerts.sql"),
        postgres: include_str!("../migrations/postgres/0015_alerts.sql"),
    },
];

const CREATE_SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS haven_schema (\
    version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_ms BIGINT NOT NULL)";

/// Arbitrary constant naming Haven's migration lock among PostgreSQL advisory locks.
const PG_MIGRATION_LOCK: i64 = 0x4861_7665_6e41_6374; // "HavenAct"

/// Bring the database up to [`SCHEMA_VERSION`].
pub(crate) async fn migrate(store: &Store) -> Result<(), StoreError> {
    let location = store.location().to_owned();
    let fail = |version: i64, description: &'static str| {
        let location = location.clone();
        move |source: sqlx::Error| StoreError::Migrate { location, version, description, source }
    };
    let setup = "schema bookkeeping";
    let applied = match &store.inner.db {
        Db::Sqlite(pools) => {
            let mut conn = pools.write.acquire().await.map_err(fail(0, setup))?;
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(fail(0, setup))?;
            sqlx::raw_sql(CREATE_SCHEMA_TABLE).execute(&mut *tx).await.map_err(fail(0, setup))?;
            let done: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM haven_schema").fetch_all(&mut *tx).await.map_err(fail(0, setup))?;
            check_not_newer(&location, done.iter().copied().max().unwrap_or(0))?;
            let mut applied = Vec::new();
            for m in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
                sqlx::raw_sql(m.sqlite).execute(&mut *tx).await.map_err(fail(m.version, m.description))?;
                sqlx::query("INSERT INTO haven_schema (version, description, applied_ms) VALUES ($1, $2, $3)")
                    .bind(m.version)
                    .bind(m.description)
                    .bind(Timestamp::now().as_millisecond())
                    .execute(&mut *tx)
                    .await
                    .map_err(fail(m.version, m.description))?;
                applied.push(m.version);
            }
            tx.commit().await.map_err(fail(0, setup))?;
            applied
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await.map_err(fail(0, setup))?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PG_MIGRATION_LOCK).execute(&mut *tx).await.map_err(fail(0, setup))?;
            sqlx::raw_sql(CREATE_SCHEMA_TABLE).execute(&mut *tx).await.map_err(fail(0, setup))?;
            let done: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM haven_schema").fetch_all(&mut *tx).await.map_err(fail(0, setup))?;
            check_not_newer(&location, done.iter().copied().max().unwrap_or(0))?;
            let mut applied = Vec::new();
            // Every migration not yet recorded, in order: versions are numbered in parallel
            // branches, so a lower one can arrive after a higher one was applied.
            for m in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
                sqlx::raw_sql(m.postgres).execute(&mut *tx).await.map_err(fail(m.version, m.description))?;
                sqlx::query("INSERT INTO haven_schema (version, description, applied_ms) VALUES ($1, $2, $3)")
                    .bind(m.version)
                    .bind(m.description)
                    .bind(Timestamp::now().as_millisecond())
                    .execute(&mut *tx)
                    .await
                    .map_err(fail(m.version, m.description))?;
                applied.push(m.version);
            }
            tx.commit().await.map_err(fail(0, setup))?;
            applied
        }
    };
    for version in applied {
        tracing::info!(location = %location, version, "activity store migrated");
    }
    Ok(())
}

fn check_not_newer(location: &str, found: i64) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { location: location.to_owned(), found, supported: SCHEMA_VERSION });
    }
    Ok(())
}
