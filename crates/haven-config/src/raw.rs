//! The configuration file exactly as written (`RawConfig`), before any checking beyond TOML shape.
//! Unknown keys are refused by name, so a typo never silently does nothing.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use serde::Deserialize;

/// The whole `haven.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `default` starts from Haven's built-in policy; `none` uses only this file.
    pub base_policy: Option<String>,
    /// IANA time zone for windows; Europe/London unless a school is elsewhere.
    pub timezone: Option<String>,
    /// Group for unidentified clients.
    pub fallback_group: Option<String>,
    /// Extra categories beyond Haven's taxonomy.
    #[serde(default)]
    pub categories: IndexMap<String, RawCategory>,
    /// Named time windows.
    #[serde(default)]
    pub windows: IndexMap<String, RawWindow>,
    /// Groups and their policies.
    #[serde(default)]
    pub groups: IndexMap<String, RawGroup>,
    /// Categorised list sources.
    #[serde(default)]
    pub lists: Vec<RawList>,
    /// The illegal-content floor's sources.
    pub illegal: Option<toml::Table>,
    /// Static identity.
    #[serde(default)]
    pub identity: RawIdentity,
    /// Where refused attempts to change the floor are recorded.
    #[serde(default)]
    pub audit: RawAudit,
    /// The filtering DNS service.
    #[serde(default)]
    pub dns: RawDns,
    /// The activity log.
    #[serde(default)]
    pub store: RawStore,
    /// The Prometheus metrics and local control endpoint.
    #[serde(default)]
    pub metrics: RawMetrics,
    /// The filtering web proxy.
    #[serde(default)]
    pub proxy: RawProxy,
    /// The web console; absent means no console.
    pub console: Option<crate::console::RawConsole>,
    /// The captive portal; absent means none.
    pub portal: Option<crate::portal::RawPortal>,
    /// The RADIUS accounting listener; absent means none.
    pub radius: Option<crate::radius::RawRadius>,
    /// `[directory]`: LDAP / Active Directory sync.
    pub directory: Option<crate::directory::RawDirectory>,
    /// The monitor stage, alert routing and delivery.
    pub monitor: Option<crate::monitor::RawMonitor>,
}

/// `[proxy]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProxy {
    /// Explicit proxy addresses (`0.0.0.0:3128` in a school); `[]` turns the proxy off.
    pub listen: Option<Vec<String>>,
    /// Transparent port-80 addresses (redirected traffic, and the block page address).
    pub transparent_http: Option<Vec<String>>,
    /// Transparent port-443 addresses (redirected TLS, decided on the SNI).
    pub transparent_https: Option<Vec<String>>,
    /// Answer 407 to clients that do not sign in.
    pub require_auth: Option<bool>,
    /// The browser's sign-in prompt title.
    pub realm: Option<String>,
    /// File of `user:$argon2id$...` lines for proxy sign-in.
    pub users_file: Option<String>,
    /// Ports CONNECT may reach.
    pub connect_ports: Option<Vec<u16>>,
    /// Time for a whole request head.
    pub header_timeout_ms: Option<u64>,
    /// Idle connections are closed after this long.
    pub idle_timeout_ms: Option<u64>,
    /// Time to connect to an origin.
    pub connect_timeout_ms: Option<u64>,
    /// Time for an origin's response head.
    pub response_timeout_ms: Option<u64>,
    /// Time for a TLS ClientHello.
    pub hello_timeout_ms: Option<u64>,
    /// Largest request head in bytes.
    pub max_header_bytes: Option<usize>,
    /// Most header lines in a request.
    pub max_headers: Option<usize>,
    /// Most client connections at once.
    pub max_connections: Option<usize>,
    /// Allow fetching from this machine's loopback addresses (tests only).
    pub allow_loopback_origins: Option<bool>,
    /// Block page branding and links.
    #[serde(default)]
    pub pages: RawPages,
}

/// `[proxy.pages]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPages {
    /// The school's name.
    pub school_name: Option<String>,
    /// The school's logo image address.
    pub logo_url: Option<String>,
    /// How to reach the DSL.
    pub dsl_contact: Option<String>,
    /// Where "ask for this site to be unblocked" goes.
    pub unblock_url: Option<String>,
    /// Where "tell someone you're worried" goes.
    pub worry_url: Option<String>,
    /// The illegal-content page's appeal route.
    pub appeal_url: Option<String>,
}

/// `[dns]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    /// Addresses to answer on, UDP and TCP (`0.0.0.0:53` in a school).
    pub listen: Option<Vec<String>>,
    /// Upstream resolvers: `ip:port`, or `tls://ip:port#name` for DNS over TLS.
    pub upstreams: Option<Vec<String>>,
    /// Per-try upstream timeout.
    pub upstream_timeout_ms: Option<u64>,
    /// SERVFAIL after this long if no upstream answers.
    pub servfail_after_ms: Option<u64>,
    /// Block page address for A answers.
    pub block_page_ipv4: Option<String>,
    /// Block page address for AAAA answers.
    pub block_page_ipv6: Option<String>,
    /// TTL of blocked answers.
    pub blocked_ttl: Option<u32>,
    /// Answers kept in the cache.
    pub cache_entries: Option<usize>,
    /// Open TCP connections allowed at once.
    pub max_tcp_connections: Option<usize>,
    /// Idle TCP connections are closed after this long.
    pub tcp_idle_timeout_ms: Option<u64>,
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// `sqlite://path` (relative to this file), a plain path, or `postgres://...`.
    pub url: Option<String>,
    /// Days of activity kept.
    pub retention_days: Option<u32>,
    /// Events that may wait for the writer before new ones are dropped (and counted).
    pub queue: Option<usize>,
}

/// `[metrics]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Address of the metrics and control endpoint; keep it on loopback or a management network.
    pub listen: Option<String>,
}

/// A category definition (built-in file or a school's addition).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCategory {
    /// Plain-English title.
    pub title: String,
    /// illegal | harm | bypass | security | policy | allow.
    pub kind: String,
    /// UKSIC category it answers to.
    pub uksic: Option<String>,
    /// KCSIE Cs.
    #[serde(default)]
    pub four_cs: Vec<String>,
    /// Default alert severity.
    pub severity: Option<String>,
    /// Default for pupil groups: allow | block | free_time.
    pub pupil: Option<String>,
    /// Default for staff groups.
    pub staff: Option<String>,
    /// Default for guest groups.
    pub guest: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// A named window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    /// Title for block pages.
    pub title: Option<String>,
    /// Spans like `Mon-Fri 12:15-13:15`.
    pub spans: Option<Vec<String>>,
}

/// A group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    /// Title for people.
    pub title: Option<String>,
    /// pupil | staff | guest | unknown.
    pub kind: Option<String>,
    /// Start from another group's rules instead of the audience defaults.
    pub like: Option<String>,
    /// allow | block for uncategorised names.
    pub default: Option<String>,
    /// Force safe search on search engines (default: on for pupil, guest and unknown groups).
    pub safe_search: Option<bool>,
    /// YouTube Restricted Mode: strict | moderate | off.
    pub youtube: Option<String>,
    /// How DNS answers blocked names: block_page | nxdomain.
    pub block_answer: Option<String>,
    /// Windows that `free_time` rules mean for this group.
    pub free_time: Option<Vec<String>>,
    /// Category rules.
    #[serde(default)]
    pub categories: BTreeMap<String, toml::Value>,
    /// Sub-groups for nominated-user rules.
    #[serde(default)]
    pub subgroups: IndexMap<String, Vec<String>>,
    /// Per-site entries.
    #[serde(default)]
    pub sites: Vec<RawSite>,
}

/// A per-site entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    /// allow | block.
    pub action: String,
    /// Domain or host/path.
    pub site: String,
    /// Why (mandatory).
    pub reason: Option<String>,
    /// Who (mandatory).
    pub author: Option<String>,
}

/// A list source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawList {
    /// Short name used in decisions.
    pub name: String,
    /// ut1 | domains | hosts | adblock | urls | mixed.
    pub format: String,
    /// File, directory or tarball; relative to the configuration file.
    pub path: String,
    /// Haven category (not for ut1).
    pub category: Option<String>,
    /// subdomains | exact.
    #[serde(rename = "match")]
    pub matching: Option<String>,
    /// UT1 only: override the built-in directory-to-category mapping ("" = do not import).
    #[serde(default)]
    pub map: BTreeMap<String, String>,
}

/// One illegal-floor source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFloorSource {
    /// Short name used in decisions (e.g. `iwf`).
    pub name: String,
    /// domains | urls | mixed | sha256.
    pub format: String,
    /// File path, relative to the configuration file.
    pub path: String,
    /// illegal_csam | illegal_terrorism.
    pub category: String,
}

/// Static identity.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    /// Users and their groups.
    #[serde(default)]
    pub users: Vec<RawUser>,
    /// Fixed device addresses.
    #[serde(default)]
    pub devices: Vec<RawDevice>,
    /// Networks and their groups.
    #[serde(default)]
    pub networks: Vec<RawNetwork>,
}

/// A user.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    /// User name.
    pub user: String,
    /// Group id.
    pub group: String,
}

/// A device with a fixed address.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    /// IP address.
    pub address: String,
    /// Device name.
    pub name: String,
    /// Its usual user.
    pub user: Option<String>,
    /// Its group, if not the user's.
    pub group: Option<String>,
}

/// A network.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// CIDR.
    pub cidr: String,
    /// Group id.
    pub group: String,
}

/// Audit settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// JSON-lines file for refused floor overrides; relative to the configuration file.
    pub path: Option<String>,
}
