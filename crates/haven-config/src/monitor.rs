//! `[monitor]`: the live alert stage in `haven serve` — whether it runs, who alerts go to (named
//! contacts with their role and groups, an escalation chain per severity, out-of-hours cover,
//! school hours), and how they are delivered (SMTP email, signed webhooks, the weekly digest).
//! Secrets (SMTP password, webhook keys) are read here, from the file or an environment
//! variable, and never printed.

use std::time::Duration;

use haven_monitor::routing::{Contact, Routing};
use haven_monitor::rules::parse_duration;
use haven_policy::PolicyError;
use haven_policy::Severity;
use haven_policy::schedule::Span;
use indexmap::IndexMap;
use serde::Deserialize;

use crate::err;

/// `[monitor]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMonitor {
    /// Run the monitor stage (default true).
    pub enabled: Option<bool>,
    /// Events waiting for the monitor before further ones are dropped for monitoring only.
    pub queue: Option<usize>,
    /// How often rules, exclusions and closed alerts are re-read from the store (`5s`).
    pub reload: Option<String>,
    /// How often unacknowledged alerts are checked for escalation (`5s`).
    pub tick: Option<String>,
    /// The console's address as staff reach it, for links in emails (`https://haven.school.example`).
    pub console_url: Option<String>,
    /// School hours, local time (`["Mon-Fri 08:00-17:00"]`); outside them only out-of-hours contacts.
    pub school_hours: Option<Vec<String>>,
    /// Lowest severity sent at once (lower ones wait for the digest); default `high`.
    pub notify_from: Option<String>,
    /// Escalation delay per severity (`critical = "5m"`).
    pub escalate_after: Option<IndexMap<String, String>>,
    /// The escalation chain per severity, by contact name, in order.
    pub chains: Option<IndexMap<String, Vec<String>>>,
    /// Named people alerts go to, in default escalation order.
    #[serde(default)]
    pub contacts: Vec<RawContact>,
    /// SMTP delivery.
    pub email: Option<RawEmail>,
    /// Signed webhooks.
    #[serde(default)]
    pub webhooks: Vec<RawWebhook>,
    /// Email the weekly digest to the DSL contacts on Monday 07:00 (default true when email is set).
    pub digest: Option<bool>,
}

/// `[[monitor.contacts]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContact {
    /// Their name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// `dsl`, `deputy` or `head_of_year`.
    pub role: String,
    /// Groups a head of year covers (empty: every group).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Lowest severity they hear about (default `high`).
    pub min_severity: Option<String>,
    /// On the out-of-hours rota (default false).
    pub out_of_hours: Option<bool>,
    /// Used in school hours (default true).
    pub in_hours: Option<bool>,
}

/// `[monitor.email]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmail {
    /// SMTP server host.
    pub host: String,
    /// Port (default 587 for starttls, 465 for tls, 25 for none).
    pub port: Option<u16>,
    /// `none`, `starttls` (default) or `tls`.
    pub tls: Option<String>,
    /// Sender address.
    pub from: String,
    /// SMTP user name.
    pub username: Option<String>,
    /// SMTP password, inline (prefer `password_env`).
    pub password: Option<String>,
    /// Environment variable holding the SMTP password.
    pub password_env: Option<String>,
}

/// `[[monitor.webhooks]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// Receiver URL (`https://...`; `http://` only for loopback).
    pub url: String,
    /// HMAC key, inline (prefer `secret_env`).
    pub secret: Option<String>,
    /// Environment variable holding the HMAC key.
    pub secret_env: Option<String>,
    /// The receiver is a trusted moderation service: send the person's name too (default false).
    pub trusted_moderation: Option<bool>,
    /// Lowest severity sent (default `high`).
    pub min_severity: Option<String>,
    /// Attempts before giving up (default 5).
    pub attempts: Option<u32>,
}

/// A secret from the configuration; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (loopback relays only).
    None,
    /// Plain then STARTTLS, required.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// `[monitor.email]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    /// SMTP host.
    pub host: String,
    /// SMTP port.
    pub port: u16,
    /// TLS mode.
    pub tls: SmtpTls,
    /// Sender.
    pub from: String,
    /// User name and password, if the server wants them.
    pub credentials: Option<(String, Secret)>,
}

/// `[[monitor.webhooks]]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Receiver URL.
    pub url: String,
    /// HMAC-SHA256 key.
    pub secret: Secret,
    /// Send the person's name (trusted moderation services only).
    pub trusted_moderation: bool,
    /// Lowest severity sent.
    pub min_severity: Severity,
    /// Attempts before giving up.
    pub attempts: u32,
}

/// `[monitor]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSettings {
    /// Run the monitor stage.
    pub enabled: bool,
    /// Monitor queue capacity.
    pub queue: usize,
    /// Store re-read interval.
    pub reload: Duration,
    /// Escalation check interval.
    pub tick: Duration,
    /// Console base URL for links.
    pub console_url: String,
    /// Contacts, school hours, delays.
    pub routing: Routing,
    /// Per-severity chain order, by contact name (absent severity: the contacts' order).
    pub chains: Vec<(Severity, Vec<String>)>,
    /// SMTP, if email is configured.
    pub email: Option<EmailSettings>,
    /// Webhooks.
    pub webhooks: Vec<WebhookSettings>,
    /// Email the weekly digest.
    pub digest: bool,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings {
            enabled: true,
            queue: 4096,
            reload: Duration::from_secs(5),
            tick: Duration::from_secs(5),
            console_url: "http://127.0.0.1:8443".to_owned(),
            routing: Routing::default(),
            chains: Vec::new(),
            email: None,
            webhooks: Vec::new(),
            digest: false,
        }
    }
}

fn severity(text: &str, field: &str, errors: &mut Vec<PolicyError>) -> Severity {
    match Severity::parse(text) {
        Some(s) if s != Severity::None => s,
        _ => {
            errors.push(err(field, format!("`{text}` must be critical, high, medium, low or digest")));
            Severity::High
        }
    }
}

fn duration(text: &str, field: &str, errors: &mut Vec<PolicyError>, default: Duration) -> Duration {
    parse_duration(text).unwrap_or_else(|| {
        errors.push(err(field, format!("`{text}` is not a time such as 5m, 30s or 1h")));
        default
    })
}

/// A secret given inline or through an environment variable (exactly one).
fn secret(inline: Option<&String>, env: Option<&String>, field: &str, errors: &mut Vec<PolicyError>) -> Option<Secret> {
    match (inline, env) {
        (Some(s), None) => Some(Secret(s.clone())),
        (None, Some(var)) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(Secret(v)),
            _ => {
                errors.push(err(format!("{field}_env"), format!("the environment variable `{var}` is not set")));
                None
            }
        },
        (Some(_), Some(_)) => {
            errors.push(err(field, format!("give `{field}` or `{field}_env`, not both")));
            None
        }
        (None, None) => None,
    }
}

/// Check `[monitor]`; absent means the defaults (on, console inbox only). `console_default` is
/// the console's own address, used for links when `console_url` is not set.
pub fn monitor_settings(raw: Option<&RawMonitor>, console_default: Option<String>, errors: &mut Vec<PolicyError>) -> MonitorSettings {
    let mut out = MonitorSettings::default();
    if let Some(c) = console_default {
        out.console_url = c;
    }
    let Some(raw) = raw else { return out };
    out.enabled = raw.enabled.unwrap_or(true);
    if let Some(q) = raw.queue {
        if q == 0 {
            errors.push(err("monitor.queue", "must be at least 1"));
        }
        out.queue = q.max(1);
    }
    if let Some(r) = &raw.reload {
        out.reload = duration(r, "monitor.reload", errors, out.reload);
    }
    if let Some(t) = &raw.tick {
        out.tick = duration(t, "monitor.tick", errors, out.tick);
    }
    if let Some(u) = &raw.console_url {
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            errors.push(err("monitor.console_url", format!("`{u}` must start with https:// or http://")));
        }
        out.console_url = u.trim_end_matches('/').to_owned();
    }
    if let Some(hours) = &raw.school_hours {
        out.routing.school_hours = hours
            .iter()
            .enumerate()
            .filter_map(|(i, h)| Span::parse(h).map_err(|e| errors.push(err(format!("monitor.school_hours[{i}]"), e.to_string()))).ok())
            .collect();
    }
    if let Some(n) = &raw.notify_from {
        out.routing.notify_from = severity(n, "monitor.notify_from", errors);
    }
    if let Some(e) = &raw.escalate_after {
        out.routing.escalate_after = e
            .iter()
            .map(|(s, d)| {
                let field = format!("monitor.escalate_after.{s}");
                (severity(s, &field, errors), duration(d, &field, errors, Duration::from_secs(300)))
            })
            .collect();
    }
    for (i, c) in raw.contacts.iter().enumerate() {
        let field = format!("monitor.contacts[{i}]");
        if c.name.trim().is_empty() {
            errors.push(err(format!("{field}.name"), "must not be empty"));
        }
        if !c.email.contains('@') || c.email.contains(char::is_whitespace) {
            errors.push(err(format!("{field}.email"), format!("`{}` is not an email address", c.email)));
        }
        let role = match c.role.as_str() {
            "dsl" => "DSL".to_owned(),
            "deputy" => "Deputy DSL".to_owned(),
            "head_of_year" => "Head of Year".to_owned(),
            other => {
                errors.push(err(format!("{field}.role"), format!("`{other}` must be dsl, deputy or head_of_year")));
                continue;
            }
        };
        let min_severity = c.min_severity.as_deref().map_or(Severity::High, |s| severity(s, &format!("{field}.min_severity"), errors));
        if out.routing.chain.iter().any(|x| x.name == c.name) {
            errors.push(err(format!("{field}.name"), format!("`{}` is named twice", c.name)));
        }
        out.routing.chain.push(Contact {
            name: c.name.clone(),
            role,
            email: c.email.clone(),
            groups: c.groups.clone(),
            min_severity,
            out_of_hours: c.out_of_hours.unwrap_or(false),
            in_hours: c.in_hours.unwrap_or(true),
        });
    }
    if let Some(chains) = &raw.chains {
        for (s, names) in chains {
            let field = format!("monitor.chains.{s}");
            let sev = severity(s, &field, errors);
            for n in names {
                if !out.routing.chain.iter().any(|c| &c.name == n) {
                    errors.push(err(&field, format!("`{n}` is not one of the [[monitor.contacts]]")));
                }
            }
            out.chains.push((sev, names.clone()));
        }
    }
    if let Some(e) = &raw.email {
        let tls = match e.tls.as_deref().unwrap_or("starttls") {
            "none" => SmtpTls::None,
            "starttls" => SmtpTls::StartTls,
            "tls" => SmtpTls::Tls,
            other => {
                errors.push(err("monitor.email.tls", format!("`{other}` must be none, starttls or tls")));
                SmtpTls::StartTls
            }
        };
        let port = e.port.unwrap_or(match tls {
            SmtpTls::None => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
        });
        if e.host.trim().is_empty() {
            errors.push(err("monitor.email.host", "must not be empty"));
        }
        if !e.from.contains('@') {
            errors.push(err("monitor.email.from", format!("`{}` is not an email address", e.from)));
        }
        let password = secret(e.password.as_ref(), e.password_env.as_ref(), "monitor.email.password", errors);
        let credentials = match (&e.username, password) {
            (Some(u), Some(p)) => Some((u.clone(), p)),
            (None, None) => None,
            _ => {
                errors.push(err("monitor.email", "give both `username` and a password (`password` or `password_env`), or neither"));
                None
            }
        };
        out.email = Some(EmailSettings { host: e.host.clone(), port, tls, from: e.from.clone(), credentials });
    }
    for (i, w) in raw.webhooks.iter().enumerate() {
        let field = format!("monitor.webhooks[{i}]");
        let loopback = ["http://127.", "http://[::1]", "http://localhost"].iter().any(|p| w.url.starts_with(p));
        if !(w.url.starts_with("https://") || loopback) {
            errors.push(err(format!("{field}.url"), format!("`{}` must be https:// (http:// only to this machine)", w.url)));
        }
        let Some(key) = secret(w.secret.as_ref(), w.secret_env.as_ref(), &format!("{field}.secret"), errors) else {
            if w.secret.is_none() && w.secret_env.is_none() {
                errors.push(err(format!("{field}.secret"), "a webhook needs a signing `secret` or `secret_env`"));
            }
            continue;
        };
        if key.expose().len() < 16 {
            errors.push(err(format!("{field}.secret"), "is shorter than 16 characters; use a long random key"));
        }
        let attempts = w.attempts.unwrap_or(5);
        if attempts == 0 {
            errors.push(err(format!("{field}.attempts"), "must be at least 1"));
        }
        out.webhooks.push(WebhookSettings {
            url: w.url.clone(),
            secret: key,
            trusted_moderation: w.trusted_moderation.unwrap_or(false),
            min_severity: w.min_severity.as_deref().map_or(Severity::High, |s| severity(s, &format!("{field}.min_severity"), errors)),
            attempts: attempts.max(1),
        });
    }
    out.digest = raw.digest.unwrap_or(out.email.is_some());
    out
}
