//! Console sessions: random tokens in an HttpOnly cookie, stored only as hashes, each with its
//! own CSRF token, and expired when idle and at an absolute age.
//!
//! A new session is issued at every sign-in step (password, then second factor), and the old one
//! deleted, so a session identifier planted before sign-in is never promoted (no fixation).

use std::time::Duration;

use jiff::Timestamp;

use crate::lockout::add;
use crate::random::{self, RandomError};

/// How long sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, however busy.
    pub absolute: Duration,
    /// A half-finished sign-in (password given, second factor not yet) ends after this long.
    pub pending: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy { idle: Duration::from_secs(30 * 60), absolute: Duration::from_secs(12 * 60 * 60), pending: Duration::from_secs(5 * 60) }
    }
}

/// How far a session has got through sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Password accepted; the TOTP code is still to come.
    NeedsTotp,
    /// Password accepted; the role requires a second factor the account has not enrolled yet.
    NeedsEnrolment,
    /// Password accepted; an administrator reset it, so a new one must be chosen first.
    NeedsPasswordChange,
    /// Fully signed in.
    Full,
}

impl Stage {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::NeedsTotp => "needs_totp",
            Stage::NeedsEnrolment => "needs_enrolment",
            Stage::NeedsPasswordChange => "needs_password_change",
            Stage::Full => "full",
        }
    }

    /// Parse the stored name.
    pub fn parse(s: &str) -> Option<Stage> {
        Some(match s {
            "needs_totp" => Stage::NeedsTotp,
            "needs_enrolment" => Stage::NeedsEnrolment,
            "needs_password_change" => Stage::NeedsPasswordChange,
            "full" => Stage::Full,
            _ => return None,
        })
    }
}

/// Why a session is no longer valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Unused for longer than the idle limit.
    Idle,
    /// Older than the absolute limit (or, before full sign-in, the pending limit).
    Absolute,
}

impl SessionPolicy {
    /// Whether a session created at `created` and last used at `last_seen` is still live at `now`.
    pub fn check(&self, stage: Stage, created: Timestamp, last_seen: Timestamp, now: Timestamp) -> Result<(), Expiry> {
        let absolute = if stage == Stage::Full { self.absolute } else { self.pending };
        if now >= add(created, absolute) {
            return Err(Expiry::Absolute);
        }
        if now >= add(last_seen, self.idle) {
            return Err(Expiry::Idle);
        }
        Ok(())
    }
}

/// A new random session or CSRF token (256 bits, hex).
pub fn new_token() -> Result<String, RandomError> {
    Ok(random::hex(&random::bytes::<32>()?))
}
