//! Errors a handler can end in, each turned into a page or JSON answer that says what happened
//! without revealing internals (the detail goes to the service log).

use axum::http::StatusCode;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The store failed.
    #[error(transparent)]
    Record(#[from] haven_store::RecordError),
    /// A template failed to render (a bug).
    #[error("rendering {template}: {source}")]
    Render {
        /// Which template.
        template: &'static str,
        /// Askama's error.
        source: askama::Error,
    },
    /// The operating system's random source failed.
    #[error(transparent)]
    Random(#[from] haven_accounts::random::RandomError),
    /// A password could not be hashed.
    #[error(transparent)]
    Password(#[from] haven_accounts::PasswordError),
    /// Something the request named does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request was malformed.
    #[error("{0}")]
    BadRequest(String),
}

impl ConsoleError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Record(haven_store::RecordError::NotFound { .. }) => StatusCode::NOT_FOUND,
            ConsoleError::Record(haven_store::RecordError::Conflict { .. }) => StatusCode::CONFLICT,
            ConsoleError::Record(haven_store::RecordError::AlertInput { .. }) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the user is told: internal failures get a generic sentence.
    pub fn public_message(&self) -> String {
        match self.status() {
            StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong on the server; the details are in Haven's log.".into(),
            _ => self.to_string(),
        }
    }
}
