//! Passwords: argon2id hashes and the school's password policy.
//!
//! Parameters follow the OWASP argon2id baseline (19 MiB, 2 passes, 1 lane). Hashes are PHC
//! strings, so parameters can be raised later and old hashes still verify.

use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use jiff::Timestamp;

use crate::random;

/// Longest password accepted, so a megabyte "password" cannot tie up the hasher.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A school's password rules; the default is the issue's: 8+ characters with upper, lower and
/// digits, and a change reminder after a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode scalar values).
    pub min_length: usize,
    /// At least one upper-case letter.
    pub require_upper: bool,
    /// At least one lower-case letter.
    pub require_lower: bool,
    /// At least one digit.
    pub require_digit: bool,
    /// At least one character that is neither a letter nor a digit.
    pub require_symbol: bool,
    /// Remind the holder to change it after this long (`None`: never).
    pub change_after: Option<Duration>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 8,
            require_upper: true,
            require_lower: true,
            require_digit: true,
            require_symbol: false,
            change_after: Some(Duration::from_secs(365 * 24 * 60 * 60)),
        }
    }
}

/// Why a password was refused or could not be hashed; messages are safe to show the user and
/// never contain the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The password breaks one or more rules of the policy; every broken rule is listed.
    #[error("the password {}", .0.join("; "))]
    Policy(Vec<String>),
    /// The hasher failed (bad parameters or no randomness).
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

impl PasswordPolicy {
    /// Check a new password against the policy; `context` lists words it must not contain
    /// (the username, the person's name), compared case-insensitively.
    pub fn check(&self, password: &str, context: &[&str]) -> Result<(), PasswordError> {
        let mut broken = Vec::new();
        let chars = password.chars().count();
        if chars < self.min_length {
            broken.push(format!("must be at least {} characters (it has {chars})", self.min_length));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            broken.push(format!("must be at most {MAX_PASSWORD_BYTES} bytes"));
        }
        if self.require_upper && !password.chars().any(char::is_uppercase) {
            broken.push("must contain an upper-case letter".into());
        }
        if self.require_lower && !password.chars().any(char::is_lowercase) {
            broken.push("must contain a lower-case letter".into());
        }
        if self.require_digit && !password.chars().any(|c| c.is_ascii_digit()) {
            broken.push("must contain a digit".into());
        }
        if self.require_symbol && !password.chars().any(|c| !c.is_alphanumeric()) {
            broken.push("must contain a symbol (neither a letter nor a digit)".into());
        }
        let lower = password.to_lowercase();
        for word in context.iter().map(|w| w.trim().to_lowercase()).filter(|w| w.chars().count() >= 3) {
            if lower.contains(&word) {
                broken.push("must not contain your username or name".into());
                break;
            }
        }
        if broken.is_empty() { Ok(()) } else { Err(PasswordError::Policy(broken)) }
    }

    /// Whether a password set at `changed_at` is due a change reminder at `now`.
    pub fn change_due(&self, changed_at: Timestamp, now: Timestamp) -> bool {
        match self.change_after {
            Some(after) => now.as_millisecond().saturating_sub(changed_at.as_millisecond()) >= i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            None => false,
        }
    }

    /// One sentence describing the rules, for the form that asks for a new password.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("at least {} characters", self.min_length)];
        if self.require_upper {
            parts.push("an upper-case letter".into());
        }
        if self.require_lower {
            parts.push("a lower-case letter".into());
        }
        if self.require_digit {
            parts.push("a digit".into());
        }
        if self.require_symbol {
            parts.push("a symbol".into());
        }
        format!("Use {}.", parts.join(", "))
    }
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hash a password (or recovery code) with argon2id and a fresh random salt; returns a PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::Policy(vec![format!("must be at most {MAX_PASSWORD_BYTES} bytes")]));
    }
    let salt = random::bytes::<16>().map_err(|e| PasswordError::Hash(e.to_string()))?;
    let hash = hasher()?.hash_password_with_salt(password.as_bytes(), &salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches a stored PHC hash; a malformed hash never matches.
pub fn verify_password(hash: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match hasher() {
        Ok(h) => h.verify_password(password.as_bytes(), hash).is_ok(),
        Err(_) => false,
    }
}

/// Spend the same time as a real verification, for sign-ins naming an unknown account, so
/// response times do not reveal which usernames exist.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(hash) = DUMMY.get_or_init(|| hash_password("not-a-real-password-0").ok()) {
        let _ = verify_password(hash, password);
    }
}
