//! `[radius]`: the RADIUS accounting listener's address, the Wi-Fi controllers allowed to send
//! (network and shared secret), how long a binding lasts without a Stop, and how User-Name maps
//! to a person. Secrets are read here, before any port is bound, and never printed.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use haven_policy::PolicyError;
use ipnet::IpNet;
use serde::Deserialize;

use crate::err;

/// Default accounting address: the IANA RADIUS accounting port on every interface.
pub const DEFAULT_RADIUS_LISTEN: &str = "0.0.0.0:1813";

/// `[radius]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRadius {
    /// UDP addresses to listen on.
    pub listen: Option<Vec<String>>,
    /// How long a binding lasts when the NAS sends no Acct-Interim-Interval and no Stop.
    pub binding_minutes: Option<u64>,
    /// With an interim interval, a binding lasts this many intervals past the last update.
    pub interim_factor: Option<u32>,
    /// Strip `@realm` and `DOMAIN\` from User-Name before looking the person up (default true).
    pub strip_realm: Option<bool>,
    /// The NASes allowed to send accounting.
    #[serde(default)]
    pub clients: Vec<RawRadiusClient>,
}

/// `[[radius.clients]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRadiusClient {
    /// Name for logs (`wifi-controller`).
    pub name: Option<String>,
    /// Address or CIDR network the NAS sends from.
    pub cidr: String,
    /// The shared secret, written inline.
    pub secret: Option<String>,
    /// A file holding the shared secret (first line), relative to the configuration file.
    pub secret_file: Option<String>,
}

/// A shared secret; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RadiusSecret(String);

impl RadiusSecret {
    /// The secret's bytes, for the listener only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RadiusSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RadiusSecret(***)")
    }
}

/// One allowed NAS, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadiusClientConfig {
    /// Name for logs.
    pub name: String,
    /// Source network.
    pub network: IpNet,
    /// Shared secret.
    pub secret: RadiusSecret,
}

/// `[radius]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadiusSettings {
    /// UDP listen addresses.
    pub listen: Vec<SocketAddr>,
    /// Allowed NASes.
    pub clients: Vec<RadiusClientConfig>,
    /// Binding lifetime without an interim interval.
    pub binding_lifetime: Duration,
    /// Intervals a binding outlives the last interim update.
    pub interim_factor: u32,
    /// Strip realms from User-Name.
    pub strip_realm: bool,
}

/// Check `[radius]`; `None` when the section is absent (no listener).
pub fn radius_settings(raw: Option<&RawRadius>, base: &Path, errors: &mut Vec<PolicyError>) -> Option<RadiusSettings> {
    let raw = raw?;
    let listen_text = raw.listen.clone().unwrap_or_else(|| vec![DEFAULT_RADIUS_LISTEN.to_owned()]);
    let mut listen = Vec::new();
    for (i, a) in listen_text.iter().enumerate() {
        match a.parse::<SocketAddr>() {
            Ok(a) => listen.push(a),
            Err(_) => errors.push(err(format!("radius.listen[{i}]"), format!("`{a}` is not an address with a port, such as 0.0.0.0:1813"))),
        }
    }
    let mut clients = Vec::new();
    for (i, c) in raw.clients.iter().enumerate() {
        let field = format!("radius.clients[{i}]");
        let network = match c.cidr.parse::<IpNet>().or_else(|_| c.cidr.parse::<std::net::IpAddr>().map(IpNet::from)) {
            Ok(n) => n.trunc(),
            Err(_) => {
                errors.push(err(format!("{field}.cidr"), format!("`{}` is not an address or CIDR network such as 10.0.0.0/24", c.cidr)));
                continue;
            }
        };
        let secret = match (&c.secret, &c.secret_file) {
            (Some(s), None) => s.clone(),
            (None, Some(f)) => {
                let path = base.join(f);
                match std::fs::read_to_string(&path) {
                    Ok(t) => t.lines().next().unwrap_or("").trim_end().to_owned(),
                    Err(e) => {
                        errors.push(err(format!("{field}.secret_file"), format!("cannot read {}: {e}", path.display())));
                        continue;
                    }
                }
            }
            (Some(_), Some(_)) => {
                errors.push(err(&field, "give `secret` or `secret_file`, not both"));
                continue;
            }
            (None, None) => {
                errors.push(err(&field, "needs a shared `secret` or a `secret_file`"));
                continue;
            }
        };
        if secret.is_empty() {
            errors.push(err(format!("{field}.secret"), "is empty; a RADIUS client needs a shared secret"));
            continue;
        }
        if secret.len() < 8 {
            errors.push(err(format!("{field}.secret"), "is shorter than 8 characters; use a long random secret (16 or more)"));
            continue;
        }
        let name = c.name.clone().unwrap_or_else(|| network.to_string());
        clients.push(RadiusClientConfig { name, network, secret: RadiusSecret(secret) });
    }
    if raw.clients.is_empty() {
        errors.push(err("radius.clients", "no clients: add a [[radius.clients]] entry with the Wi-Fi controller's cidr and shared secret"));
    }
    let minutes = raw.binding_minutes.unwrap_or(8 * 60);
    if minutes == 0 {
        errors.push(err("radius.binding_minutes", "must be at least 1"));
    }
    let interim_factor = raw.interim_factor.unwrap_or(2);
    if interim_factor == 0 {
        errors.push(err("radius.interim_factor", "must be at least 1"));
    }
    Some(RadiusSettings {
        listen,
        clients,
        binding_lifetime: Duration::from_secs(minutes.max(1) * 60),
        interim_factor: interim_factor.max(1),
        strip_realm: raw.strip_realm.unwrap_or(true),
    })
}
