//! `[console]`: the web console's address, TLS, and the school's account rules (password
//! policy, session lifetimes, lockout), checked like every other section.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use haven_accounts::{LockoutPolicy, PasswordPolicy, SessionPolicy};
use haven_policy::PolicyError;
use serde::Deserialize;

use crate::err;

/// Default console address: loopback only until a school opens it up.
pub const DEFAULT_CONSOLE_LISTEN: &str = "127.0.0.1:8443";

/// `[console]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsole {
    /// Address and port to serve the console on.
    pub listen: Option<String>,
    /// Serve over TLS (default true); plain HTTP is allowed only on a loopback address.
    pub tls: Option<bool>,
    /// PEM certificate chain, relative to the configuration file.
    pub tls_cert: Option<String>,
    /// PEM private key, relative to the configuration file.
    pub tls_key: Option<String>,
    /// Names and addresses a generated self-signed certificate covers.
    pub tls_names: Option<Vec<String>>,
    /// The school's name, shown in the console and authenticator apps.
    pub school: Option<String>,
    /// Password rules.
    #[serde(default)]
    pub password: RawPassword,
    /// Session lifetimes.
    #[serde(default)]
    pub session: RawSession,
    /// Lockout and throttling.
    #[serde(default)]
    pub lockout: RawLockout,
}

/// `[console.password]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPassword {
    /// Fewest characters.
    pub min_length: Option<usize>,
    /// Require an upper-case letter.
    pub require_upper: Option<bool>,
    /// Require a lower-case letter.
    pub require_lower: Option<bool>,
    /// Require a digit.
    pub require_digit: Option<bool>,
    /// Require a symbol.
    pub require_symbol: Option<bool>,
    /// Remind holders to change their password after this many days (0: never).
    pub change_after_days: Option<u64>,
}

/// `[console.session]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    /// Minutes of inactivity that end a session.
    pub idle_minutes: Option<u64>,
    /// Hours after sign-in that end a session however busy.
    pub absolute_hours: Option<u64>,
}

/// `[console.lockout]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLockout {
    /// Consecutive failures that lock an account.
    pub max_failures: Option<u32>,
    /// Minutes a locked account stays locked.
    pub lock_minutes: Option<u64>,
    /// Failures from one address within the lock period before it is refused.
    pub address_max_failures: Option<u32>,
}

/// Checked console settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// TLS files (generated self-signed when both are absent), or `None` for plain HTTP.
    pub tls: Option<ConsoleTls>,
    /// The school's name.
    pub school: String,
    /// Password rules.
    pub password: PasswordPolicy,
    /// Session lifetimes.
    pub session: SessionPolicy,
    /// Lockout and throttling.
    pub lockout: LockoutPolicy,
}

/// Where the console's certificate and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleTls {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// Names a generated certificate covers.
    pub names: Vec<String>,
}

/// Check `[console]`; `None` when the section is absent (no console).
pub fn console_config(raw: Option<&RawConsole>, base: &Path, errors: &mut Vec<PolicyError>) -> Option<ConsoleConfig> {
    let raw = raw?;
    let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_CONSOLE_LISTEN);
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => {
            errors.push(err("console.listen", format!("`{listen_text}` is not an address with a port, such as 0.0.0.0:8443")));
            SocketAddr::from(([127, 0, 0, 1], 8443))
        }
    };
    let tls = if raw.tls.unwrap_or(true) {
        let names = raw.tls_names.clone().unwrap_or_else(|| {
            let mut n = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
            if !listen.ip().is_unspecified() && !listen.ip().is_loopback() {
                n.push(listen.ip().to_string());
            }
            n
        });
        Some(ConsoleTls {
            cert: base.join(raw.tls_cert.as_deref().unwrap_or("console-cert.pem")),
            key: base.join(raw.tls_key.as_deref().unwrap_or("console-key.pem")),
            names,
        })
    } else {
        if !listen.ip().is_loopback() {
            errors.push(err("console.tls", "plain HTTP is allowed only on a loopback address; passwords would cross the network in clear"));
        }
        None
    };
    let d = PasswordPolicy::default();
    let p = &raw.password;
    let password = PasswordPolicy {
        min_length: p.min_length.unwrap_or(d.min_length),
        require_upper: p.require_upper.unwrap_or(d.require_upper),
        require_lower: p.require_lower.unwrap_or(d.require_lower),
        require_digit: p.require_digit.unwrap_or(d.require_digit),
        require_symbol: p.require_symbol.unwrap_or(d.require_symbol),
        change_after: match p.change_after_days {
            None => d.change_after,
            Some(0) => None,
            Some(days) => Some(Duration::from_secs(days * 86_400)),
        },
    };
    if password.min_length < 8 {
        errors.push(err("console.password.min_length", "must be at least 8 (NCSC guidance)"));
    }
    let ds = SessionPolicy::default();
    let session = SessionPolicy {
        idle: raw.session.idle_minutes.map_or(ds.idle, |m| Duration::from_secs(m * 60)),
        absolute: raw.session.absolute_hours.map_or(ds.absolute, |h| Duration::from_secs(h * 3600)),
        pending: ds.pending,
    };
    if session.idle.is_zero() || session.absolute.is_zero() {
        errors.push(err("console.session", "idle_minutes and absolute_hours must be at least 1"));
    }
    if session.idle > session.absolute {
        errors.push(err("console.session.idle_minutes", "must not be longer than absolute_hours"));
    }
    let dl = LockoutPolicy::default();
    let lockout = LockoutPolicy {
        max_failures: raw.lockout.max_failures.unwrap_or(dl.max_failures),
        lock_for: raw.lockout.lock_minutes.map_or(dl.lock_for, |m| Duration::from_secs(m * 60)),
        address_max_failures: raw.lockout.address_max_failures.unwrap_or(dl.address_max_failures),
        address_window: raw.lockout.lock_minutes.map_or(dl.address_window, |m| Duration::from_secs(m * 60)),
    };
    if lockout.max_failures == 0 || lockout.address_max_failures == 0 {
        errors.push(err("console.lockout", "max_failures and address_max_failures must be at least 1"));
    }
    if lockout.lock_for.is_zero() {
        errors.push(err("console.lockout.lock_minutes", "must be at least 1"));
    }
    Some(ConsoleConfig { listen, tls, school: raw.school.clone().unwrap_or_else(|| "Haven".into()), password, session, lockout })
}
