//! Errors from opening, migrating, writing, querying and pruning the activity store.

use std::path::PathBuf;

/// Everything that can go wrong in the store, each naming the location or value at fault.
///
/// Locations in messages have any password removed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The location is neither a path, a `sqlite:` URL nor a `postgres://` URL.
    #[error("activity store location {location:?} is not understood: {reason}")]
    BadLocation {
        /// The location as given (password removed).
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The directory for the SQLite file could not be created.
    #[error("cannot create the directory {} for the activity store: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database could not be opened or reached.
    #[error("cannot open the activity store at {location}: {source}")]
    Connect {
        /// Where (password removed).
        location: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A schema migration failed; the transaction was rolled back and the schema is unchanged.
    #[error("activity store migration {version} ({description}) failed at {location}: {source}")]
    Migrate {
        /// Where (password removed).
        location: String,
        /// The migration's version (0 for the bookkeeping before any migration).
        version: i64,
        /// What the migration does.
        description: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The database was written by a newer Haven; refusing rather than guessing at its schema.
    #[error("the activity store at {location} has schema version {found}, newer than this Haven understands ({supported}); upgrade Haven")]
    SchemaTooNew {
        /// Where (password removed).
        location: String,
        /// The version found in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A statement failed.
    #[error("activity store: {operation} failed at {location}: {source}")]
    Database {
        /// What was being done (`insert events`, `query events`, `prune`, ...).
        operation: &'static str,
        /// Where (password removed).
        location: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A stored row holds a value no `Event` can carry (edited by hand, or a bug).
    #[error("stored activity event {id} has a bad {field}: {value:?}")]
    Corrupt {
        /// The row id.
        id: i64,
        /// The column.
        field: &'static str,
        /// The stored value.
        value: String,
    },
    /// A query, writer or retention setting is out of range.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which setting.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The writer was started outside a Tokio runtime.
    #[error("the activity writer needs a Tokio runtime: {0}")]
    NoRuntime(String),
    /// The writer task panicked or was cancelled.
    #[error("the activity writer task ended abnormally: {0}")]
    WriterTask(String),
}

/// Errors from the console tables (accounts, sessions, tokens, audit, people): kept apart from
/// [`StoreError`]'s activity-log variants, and converted into it.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A stored row holds a value Haven cannot read (edited by hand, or a bug).
    #[error("stored {table} row {id} has a bad {field}: {value:?}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row id.
        id: i64,
        /// The column.
        field: &'static str,
        /// The stored value.
        value: String,
    },
    /// A value that must be unique is already taken.
    #[error("{what} {value:?} already exists")]
    Conflict {
        /// What kind of value (`username`, `UPN`, ...).
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The row to change does not exist.
    #[error("no {what} with id {id}")]
    NotFound {
        /// What kind of row.
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// A value given for an alert is not acceptable (a missing reason, an end in the past).
    #[error("{field}: {reason}")]
    AlertInput {
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
