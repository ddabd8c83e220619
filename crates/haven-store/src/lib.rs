//! The activity log: every DNS query and web request, attributed and kept for the DSL.
//!
//! One store layer over two databases. SQLite (WAL mode, one file in the data directory) is the
//! embedded default; PostgreSQL, selected by a `postgres://` URL, is a trust's central server.
//! Both run the same queries through sqlx at run time (no compile-time checked macros) and carry
//! their own versioned migrations (`migrations/sqlite`, `migrations/postgres`).
//!
//! - [`Store`] opens a location, migrates it, writes batches, answers [`ActivityQuery`]s and
//!   prunes by [`Retention`], recording every pruning run in `retention_log`.
//! - [`EventWriter`] is the production [`haven_activity::EventSink`]: a bounded queue in front of
//!   a batching writer task, so the answer path never waits on disk. A full queue drops the event
//!   and counts it; nothing is lost without a count and a warning.
//!
//! The console's tables (accounts, sessions, API tokens, the sign-in audit log) live in
//! `accounts`, behind the same [`Store`].
//!
//! Times are stored as integer milliseconds since the Unix epoch, UTC.

mod accounts;
mod alerts;
mod error;
mod identity;
mod network;
mod logins;
mod people;
mod policy;
mod priority;
mod query;
mod records;
mod retention;
mod row;
mod schema;
mod sql;
mod store;
mod writer;

pub use accounts::{
    Account, ApiTokenRecord, AuthAuditQuery, AuthAuditRecord, AuthEvent, NewAccount, NewApiToken, SessionRecord, normalise_username,
};
pub use alerts::{
    AlertKeyword, AlertLogEntry, AlertOutcome, AlertQuery, AlertRecord, AlertState, DeliveryRecord, ExclusionRecord, NewAlert, NewExclusion,
    RuleChange, SURROUNDING_MINUTES,
};
pub use error::{RecordError, StoreError};
pub use identity::{BindingLogRecord, LiveIdentity, NetworkLogin, SYSTEM_ACTOR};
pub use network::{DeviceRecord, GuestPass, GuestQuery, GuestStatus, NewDevice};
pub use logins::PersonLogin;
pub use people::{ImportPlan, PeopleQuery, PersonChange, PersonRecord};
pub use policy::{
    ActivitySearchRecord, ChangeQuery, NewChange, NewSite, NewUnblockRequest, PolicyChangeRecord, RuleRecord, SiteRecord, UnblockRecord, WindowRecord,
    describe_site,
};
pub use query::{Action, ActivityQuery, Cursor, DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT};
pub use records::{
    Attachment, ChronologyItem, ImportReport, NewEntry, NewRecord, RecordAccess, RecordAccessRecord, RecordSummary, StateChange, StoredEntry, Transfer, VerifyReport,
};
pub use retention::{DEFAULT_RETENTION_DAYS, PruneReport, Retention, RetentionRecord};
pub use row::StoredEvent;
pub use schema::{MIGRATION_COUNT, SCHEMA_VERSION};
pub use store::{Backend, SQLITE_FILE_NAME, Store, StoreOptions};
pub use writer::{EventWriter, MAX_FLUSH_INTERVAL, WriterConfig, WriterStats};
