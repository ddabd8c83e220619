//! Haven's configuration: `haven.toml` in, a checked policy and list plan out.
//!
//! Two stages, so a bad file is refused before any port is bound or any list is read:
//! `Config::from_file` parses and checks everything it can (unknown keys, categories, windows,
//! groups, attempts on the illegal floor); `Config::build` then loads the lists and freezes a
//! `Snapshot`. A failed build changes nothing, so the snapshot in force stays in force.

mod console;
mod directory;
mod portal;
mod radius;
mod monitor;
mod raw;
mod taxonomy_data;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use haven_lists::{LoadError, LoadReport, SourceSpec, Ut1Mapping};
use haven_policy::{
    Action, BaseSpec, BlockAnswer, CategoryId, CategoryKind, DirectorySpec, GroupKind, GroupSpec, ListFormat, ListSet, Matching, Policy,
    PolicyError, PolicySpec, RuleSpec, SafeSearch, SiteSpec, Snapshot, SnapshotError, Taxonomy, WindowSpec, YouTubeMode,
};
use jiff::tz::TimeZone;

use raw::{RawConfig, RawFloorSource, RawGroup, RawList};
pub use taxonomy_data::{Audience, AudienceDefault, builtin_taxonomy};
pub use console::{ConsoleConfig, ConsoleTls, DEFAULT_CONSOLE_LISTEN, RawConsole};
pub use directory::{
    DirectoryAttributeNames, DirectoryGroupSettings, DirectoryPassword, DirectorySettings, DirectoryTransport, RawDirectory, RawDirectoryAttributes,
    RawDirectoryGroup,
};
pub use portal::{PortalConfig, RawPortal};
pub use monitor::{EmailSettings, MonitorSettings, RawContact, RawEmail, RawMonitor, RawWebhook, Secret, SmtpTls, WebhookSettings};
pub use radius::{DEFAULT_RADIUS_LISTEN, RadiusClientConfig, RadiusSecret, RadiusSettings, RawRadius, RawRadiusClient};

/// The built-in default policy (St John's acceptable-use table, made age-appropriate).
pub const DEFAULT_POLICY: &str = include_str!("../data/default-policy.toml");
/// The built-in UT1 directory-to-category mapping.
pub const UT1_MAPPING: &str = include_str!("../data/ut1-categories.toml");
/// The clearly-labelled illegal-floor test list, so the floor can be tested without a licensed feed.
pub const ILLEGAL_TEST_LIST: &str = include_str!("../data/illegal-test-list.txt");

/// Why a configuration was refused or could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML does not parse, or has a key Haven does not know.
    #[error("{path}: {message}")]
    Toml {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// Fields that parse but make no sense; every one is listed.
    #[error("{}", invalid_text(.path, .errors))]
    Invalid {
        /// The file.
        path: String,
        /// Each problem, naming its field.
        errors: Vec<PolicyError>,
        /// Where refused floor overrides among `errors` must be recorded.
        audit_path: PathBuf,
    },
    /// A list could not be loaded.
    #[error(transparent)]
    Lists(#[from] LoadError),
    /// Lists and policy do not fit together.
    #[error("{path}: {source}")]
    Snapshot {
        /// The file.
        path: String,
        /// The cause.
        source: SnapshotError,
    },
}

fn invalid_text(path: &str, errors: &[PolicyError]) -> String {
    let lines: Vec<String> = errors.iter().map(|e| format!("{path}: {e}")).collect();
    lines.join("\n")
}

impl ConfigError {
    /// Attempts to exempt something from the illegal floor, which callers must record for audit.
    pub fn floor_overrides(&self) -> Vec<&PolicyError> {
        match self {
            ConfigError::Invalid { errors, .. } => errors.iter().filter(|e| e.floor_override).collect(),
            _ => Vec::new(),
        }
    }

    /// Where floor overrides in this error must be recorded, if it holds any.
    pub fn audit_path(&self) -> Option<&Path> {
        match self {
            ConfigError::Invalid { audit_path, .. } => Some(audit_path),
            _ => None,
        }
    }
}

/// One planned floor source.
#[derive(Debug, Clone)]
struct FloorPlan {
    name: String,
    path: PathBuf,
    format: FloorFormat,
    category: CategoryId,
}

#[derive(Debug, Clone, Copy)]
enum FloorFormat {
    List(ListFormat),
    Sha256,
}

/// Settings for `haven serve`: plain values, checked here, mapped onto the services by the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSettings {
    /// DNS listen addresses (UDP and TCP).
    pub dns_listen: Vec<SocketAddr>,
    /// Upstream resolvers.
    pub upstreams: Vec<UpstreamSetting>,
    /// Per-try upstream timeout.
    pub upstream_timeout: Duration,
    /// SERVFAIL deadline.
    pub servfail_after: Duration,
    /// Block page IPv4 address.
    pub block_page_ipv4: Option<Ipv4Addr>,
    /// Block page IPv6 address.
    pub block_page_ipv6: Option<Ipv6Addr>,
    /// TTL of blocked answers.
    pub blocked_ttl: u32,
    /// Cache size in answers.
    pub cache_entries: usize,
    /// TCP connection cap.
    pub max_tcp_connections: usize,
    /// TCP idle timeout.
    pub tcp_idle_timeout: Duration,
    /// Activity store URL (`sqlite://...` resolved against the config folder, or `postgres://...`).
    pub store_url: String,
    /// Days of activity kept.
    pub retention_days: u32,
    /// Writer queue length.
    pub store_queue: usize,
    /// Metrics and control endpoint.
    pub metrics_listen: SocketAddr,
    /// The web proxy.
    pub proxy: ProxySettings,
}

/// `[proxy]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// Explicit proxy listeners (empty: no explicit proxy).
    pub listen: Vec<SocketAddr>,
    /// Transparent port-80 listeners.
    pub transparent_http: Vec<SocketAddr>,
    /// Transparent port-443 listeners.
    pub transparent_https: Vec<SocketAddr>,
    /// 407 for clients that do not sign in.
    pub require_auth: bool,
    /// Sign-in prompt title.
    pub realm: String,
    /// Proxy users file, resolved against the config folder.
    pub users_file: Option<PathBuf>,
    /// Ports CONNECT may reach.
    pub connect_ports: Vec<u16>,
    /// Request head time limit.
    pub header_timeout: Duration,
    /// Idle connection limit.
    pub idle_timeout: Duration,
    /// Origin connect limit.
    pub connect_timeout: Duration,
    /// Origin response head limit.
    pub response_timeout: Duration,
    /// ClientHello time limit.
    pub hello_timeout: Duration,
    /// Largest request head.
    pub max_header_bytes: usize,
    /// Most header lines.
    pub max_headers: usize,
    /// Most connections at once.
    pub max_connections: usize,
    /// Fetch from loopback origins (tests only).
    pub allow_loopback_origins: bool,
    /// Block page branding: school name.
    pub school_name: String,
    /// Block page branding: logo address.
    pub logo_url: Option<String>,
    /// Block page: how to reach the DSL.
    pub dsl_contact: String,
    /// Block page: unblock request link.
    pub unblock_url: String,
    /// Block page: report-a-worry link.
    pub worry_url: String,
    /// Illegal-content page: appeal route.
    pub appeal_url: String,
}

/// Default explicit proxy address on embedded settings.
pub const DEFAULT_PROXY_LISTEN: &str = "127.0.0.1:3128";

/// One upstream resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSetting {
    /// Address and port.
    pub addr: SocketAddr,
    /// TLS server name when the upstream is DNS over TLS.
    pub tls_name: Option<String>,
}

/// A checked configuration, ready to build.
#[derive(Debug, Clone)]
pub struct Config {
    origin: String,
    taxonomy: Taxonomy,
    policy: PolicySpec,
    lists: Vec<SourceSpec>,
    floor: Vec<FloorPlan>,
    audit_path: PathBuf,
    tz: TimeZone,
    service: ServiceSettings,
    console: Option<ConsoleConfig>,
    portal: Option<PortalConfig>,
    radius: Option<RadiusSettings>,
    directory: Option<DirectorySettings>,
    monitor: MonitorSettings,
}

/// A built snapshot with what loading it took.
pub struct Built {
    /// The frozen snapshot, ready to swap in.
    pub snapshot: Snapshot,
    /// What the categorised lists contributed.
    pub lists: LoadReport,
    /// What the illegal floor's sources contributed.
    pub floor: LoadReport,
    /// Wall time of the whole build.
    pub elapsed: Duration,
}

impl Config {
    /// Read and check a configuration file; paths inside it are relative to its folder.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: origin.clone(), source })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::from_toml(&text, &origin, &base)
    }

    /// Haven's embedded defaults: the default policy, the test floor, no category lists yet.
    pub fn embedded() -> Result<Config, ConfigError> {
        Config::from_toml("", "(embedded defaults)", Path::new("."))
    }

    /// Check configuration text; `origin` names it in errors, `base` resolves relative paths.
    pub fn from_toml(text: &str, origin: &str, base: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = parse_toml(text, origin)?;
        let mut errors = Vec::new();

        let audit_path = base.join(raw.audit.path.as_deref().unwrap_or("haven-audit.jsonl"));
        let service = service_settings(&raw, base, &mut errors);
        let console = console::console_config(raw.console.as_ref(), base, &mut errors);
        let mut service = service;
        if raw.proxy.pages.unblock_url.is_none()
            && let Some(c) = &console
        {
            service.proxy.unblock_url = console_unblock_url(c);
        }
        if raw.proxy.pages.worry_url.is_none()
            && let Some(c) = &console
        {
            service.proxy.worry_url = console_worry_url(c);
        }
        let radius = radius::radius_settings(raw.radius.as_ref(), base, &mut errors);
        let directory = directory::directory_settings(raw.directory.as_ref(), base, &mut errors);
        let console_base = console.as_ref().map(|c| console_unblock_url(c).trim_end_matches("/unblock").to_owned());
        let monitor = monitor::monitor_settings(raw.monitor.as_ref(), console_base, &mut errors);
        let (taxonomy, audience) = match builtin_taxonomy(&raw.categories) {
            Ok(t) => t,
            Err(e) => return Err(ConfigError::Invalid { path: origin.into(), errors: e, audit_path }),
        };

        let tz_name = raw.timezone.clone().unwrap_or_else(|| "Europe/London".into());
        let tz = match TimeZone::get(&tz_name) {
            Ok(tz) => tz,
            Err(_) => {
                errors.push(err("timezone", format!("`{tz_name}` is not an IANA time zone such as Europe/London")));
                haven_policy::london()
            }
        };

        let base_policy = raw.base_policy.as_deref().unwrap_or("default");
        let merged = match base_policy {
            "default" => {
                let default: RawConfig = parse_toml(DEFAULT_POLICY, "(built-in default policy)")?;
                merge(default, raw)
            }
            "none" => raw,
            other => {
                errors.push(err("base_policy", format!("`{other}` must be `default` or `none`")));
                raw
            }
        };

        let policy = policy_spec(&merged, &taxonomy, &audience, &mut errors);
        let portal = portal::portal_config(merged.portal.as_ref(), &policy, &mut errors);
        let lists = list_plans(&merged.lists, &taxonomy, base, &mut errors);
        let floor = floor_plans(merged.illegal.as_ref(), &taxonomy, base, &mut errors);

        // Check the policy now, against the test floor, so mistakes surface before anything binds.
        // It runs even after earlier errors so one pass reports every problem; a field already
        // reported is not reported twice.
        let test_floor = build_test_floor(&taxonomy).map_err(ConfigError::Lists)?;
        if let Err(more) = Policy::compile(&policy, &taxonomy, &test_floor) {
            for e in more {
                if !errors.iter().any(|x| x.field == e.field) {
                    errors.push(e);
                }
            }
        }
        if !errors.is_empty() {
            return Err(ConfigError::Invalid { path: origin.into(), errors, audit_path });
        }
        Ok(Config { origin: origin.into(), taxonomy, policy, lists, floor, audit_path, tz, service, console, portal, radius, directory, monitor })
    }

    /// Load every list and freeze a snapshot. Nothing is changed on failure.
    pub fn build(&self) -> Result<Built, ConfigError> {
        let started = Instant::now();
        let mut floor_specs = test_floor_specs(&self.taxonomy);
        for f in &self.floor {
            floor_specs.push(match f.format {
                FloorFormat::List(format) => SourceSpec::File {
                    name: f.name.clone(),
                    path: f.path.clone(),
                    format,
                    category: f.category,
                    matching: Matching::Subdomains,
                },
                FloorFormat::Sha256 => SourceSpec::Hashed { name: f.name.clone(), path: f.path.clone(), category: f.category },
            });
        }
        let (floor, floor_report) = haven_lists::build(&self.taxonomy, &floor_specs)?;
        let (lists, list_report) = haven_lists::build(&self.taxonomy, &self.lists)?;
        let policy = Policy::compile(&self.policy, &self.taxonomy, &floor).map_err(|errors| ConfigError::Invalid {
            path: self.origin.clone(),
            errors,
            audit_path: self.audit_path.clone(),
        })?;
        let snapshot = Snapshot::new(self.taxonomy.clone(), floor, lists, policy, self.tz.clone())
            .map_err(|source| ConfigError::Snapshot { path: self.origin.clone(), source })?;
        Ok(Built { snapshot, lists: list_report, floor: floor_report, elapsed: started.elapsed() })
    }

    /// This configuration with its lists replaced by one source, for `haven lists import PATH`.
    pub fn with_single_list(&self, path: &Path, format: &str, category: Option<&str>) -> Result<Config, ConfigError> {
        let name = path.file_name().map_or_else(|| "list".to_string(), |n| n.to_string_lossy().into_owned());
        let raw = RawList {
            name,
            format: format.to_string(),
            path: path.display().to_string(),
            category: category.map(str::to_string),
            matching: None,
            map: BTreeMap::new(),
        };
        let mut errors = Vec::new();
        let lists = list_plans(std::slice::from_ref(&raw), &self.taxonomy, Path::new(""), &mut errors);
        if !errors.is_empty() {
            return Err(ConfigError::Invalid { path: "(command line)".into(), errors, audit_path: self.audit_path.clone() });
        }
        Ok(Config { lists, ..self.clone() })
    }

    /// Settings for `haven serve`.
    pub fn service(&self) -> &ServiceSettings {
        &self.service
    }

    /// The web console's settings, when `[console]` is present.
    pub fn console(&self) -> Option<&ConsoleConfig> {
        self.console.as_ref()
    }

    /// The captive portal's settings, when `[portal]` is present and on.
    pub fn portal(&self) -> Option<&PortalConfig> {
        self.portal.as_ref()
    }

    /// `[directory]`, if people are synced from LDAP / Active Directory.
    pub fn directory(&self) -> Option<&DirectorySettings> {
        self.directory.as_ref()
    }

    /// `[radius]`, if the RADIUS accounting listener is configured.
    pub fn radius(&self) -> Option<&RadiusSettings> {
        self.radius.as_ref()
    }

    /// The school's time zone (`timezone`, default Europe/London).
    pub fn timezone(&self) -> &TimeZone {
        &self.tz
    }

    /// `[monitor]`: the alert stage, routing and delivery (defaults when absent).
    pub fn monitor(&self) -> &MonitorSettings {
        &self.monitor
    }

    /// Where the configuration came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The taxonomy in force.
    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    /// The policy as it will be compiled.
    pub fn policy(&self) -> &PolicySpec {
        &self.policy
    }

    /// The planned list sources.
    pub fn lists(&self) -> &[SourceSpec] {
        &self.lists
    }

    /// Where refused floor overrides are recorded.
    pub fn audit_path(&self) -> &Path {
        &self.audit_path
    }
}

/// The console's own unblock page, where the block page's "ask for this site to be unblocked"
/// goes when `[proxy.pages] unblock_url` is not set: absolute, so it works from any site's page.
pub fn console_unblock_url(c: &ConsoleConfig) -> String {
    let scheme = if c.tls.is_some() { "https" } else { "http" };
    let host = match (c.tls.as_ref().and_then(|t| t.names.first()), c.listen.ip()) {
        (Some(name), _) => name.clone(),
        (None, ip) if ip.is_unspecified() => "localhost".to_owned(),
        (None, std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
        (None, ip) => ip.to_string(),
    };
    format!("{scheme}://{host}:{}/unblock", c.listen.port())
}

/// The console's "tell someone you're worried" page, where the block page's worry link goes
/// when `[proxy.pages] worry_url` is not set (same host and port as the unblock page).
pub fn console_worry_url(c: &ConsoleConfig) -> String {
    let unblock = console_unblock_url(c);
    format!("{}/worry", unblock.trim_end_matches("/unblock"))
}

/// Defaults for `haven serve` on embedded settings: loopback, unprivileged ports, a local SQLite file.
pub const DEFAULT_DNS_LISTEN: &str = "127.0.0.1:5353";
/// Default metrics and control endpoint.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9153";

fn service_settings(raw: &RawConfig, base: &Path, errors: &mut Vec<PolicyError>) -> ServiceSettings {
    let d = &raw.dns;
    let addr = |field: &str, text: &str, errors: &mut Vec<PolicyError>| -> Option<SocketAddr> {
        match text.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                errors.push(err(field, format!("`{text}` is not an address with a port, such as 0.0.0.0:53")));
                None
            }
        }
    };
    let listen_text = d.listen.clone().unwrap_or_else(|| vec![DEFAULT_DNS_LISTEN.to_string()]);
    let dns_listen = listen_text.iter().enumerate().filter_map(|(i, t)| addr(&format!("dns.listen[{i}]"), t, errors)).collect();
    // No resolv.conf: forwarding to ourselves would loop. Public resolvers unless the school names its own.
    let up_text = d.upstreams.clone().unwrap_or_else(|| vec!["1.1.1.1:53".into(), "9.9.9.9:53".into()]);
    if up_text.is_empty() {
        errors.push(err("dns.upstreams", "at least one upstream resolver is needed"));
    }
    let mut upstreams = Vec::new();
    for (i, t) in up_text.iter().enumerate() {
        let field = format!("dns.upstreams[{i}]");
        let (rest, tls) = match t.strip_prefix("tls://") {
            Some(r) => (r, true),
            None => (t.as_str(), false),
        };
        let (hostport, name) = match rest.split_once('#') {
            Some((a, n)) => (a, Some(n.to_string())),
            None => (rest, None),
        };
        if tls && name.is_none() {
            errors.push(err(&field, "a DNS-over-TLS upstream needs its certificate name: tls://1.1.1.1:853#cloudflare-dns.com"));
            continue;
        }
        if let Some(a) = addr(&field, hostport, errors) {
            upstreams.push(UpstreamSetting { addr: a, tls_name: if tls { name } else { None } });
        }
    }
    let ipv4 = d.block_page_ipv4.as_deref().and_then(|t| {
        t.parse::<Ipv4Addr>().map_err(|_| errors.push(err("dns.block_page_ipv4", format!("`{t}` is not an IPv4 address")))).ok()
    });
    let ipv6 = d.block_page_ipv6.as_deref().and_then(|t| {
        t.parse::<Ipv6Addr>().map_err(|_| errors.push(err("dns.block_page_ipv6", format!("`{t}` is not an IPv6 address")))).ok()
    });
    let store_url = match raw.store.url.as_deref() {
        None => format!("sqlite://{}", base.join("haven-data/activity.db").display()),
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => u.to_string(),
        Some(u) => {
            let path = u.strip_prefix("sqlite://").unwrap_or(u);
            format!("sqlite://{}", base.join(path).display())
        }
    };
    let metrics_text = raw.metrics.listen.clone().unwrap_or_else(|| DEFAULT_METRICS_LISTEN.to_string());
    let metrics_listen = addr("metrics.listen", &metrics_text, errors).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9153)));
    let retention_days = raw.store.retention_days.unwrap_or(365);
    if retention_days == 0 {
        errors.push(err("store.retention_days", "must be at least 1; activity records are evidence a school may need"));
    }
    let proxy = proxy_settings(&raw.proxy, base, errors);
    ServiceSettings {
        proxy,
        dns_listen,
        upstreams,
        upstream_timeout: Duration::from_millis(d.upstream_timeout_ms.unwrap_or(700)),
        servfail_after: Duration::from_millis(d.servfail_after_ms.unwrap_or(2000)),
        block_page_ipv4: ipv4,
        block_page_ipv6: ipv6,
        blocked_ttl: d.blocked_ttl.unwrap_or(60),
        cache_entries: d.cache_entries.unwrap_or(100_000),
        max_tcp_connections: d.max_tcp_connections.unwrap_or(1024),
        tcp_idle_timeout: Duration::from_millis(d.tcp_idle_timeout_ms.unwrap_or(10_000)),
        store_url,
        retention_days,
        store_queue: raw.store.queue.unwrap_or(65_536),
        metrics_listen,
    }
}

fn proxy_settings(p: &raw::RawProxy, base: &Path, errors: &mut Vec<PolicyError>) -> ProxySettings {
    let addrs = |field: &str, list: Option<&Vec<String>>, default: &[&str], errors: &mut Vec<PolicyError>| -> Vec<SocketAddr> {
        let owned: Vec<String> = match list {
            Some(l) => l.clone(),
            None => default.iter().map(|s| s.to_string()).collect(),
        };
        owned
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    errors.push(err(&format!("proxy.{field}[{i}]"), format!("`{t}` is not an address with a port, such as 0.0.0.0:3128")));
                    None
                }
            })
            .collect()
    };
    let ms = |field: &str, v: Option<u64>, default: u64, errors: &mut Vec<PolicyError>| -> Duration {
        let v = v.unwrap_or(default);
        if v == 0 {
            errors.push(err(&format!("proxy.{field}"), "must be greater than zero"));
        }
        Duration::from_millis(v.max(1))
    };
    let count = |field: &str, v: Option<usize>, default: usize, errors: &mut Vec<PolicyError>| -> usize {
        let v = v.unwrap_or(default);
        if v == 0 {
            errors.push(err(&format!("proxy.{field}"), "must be greater than zero"));
        }
        v.max(1)
    };
    let connect_ports = p.connect_ports.clone().unwrap_or_else(|| vec![443]);
    if connect_ports.iter().any(|&port| port == 0) {
        errors.push(err("proxy.connect_ports", "port 0 is not a port"));
    }
    let max_header_bytes = count("max_header_bytes", p.max_header_bytes, 64 * 1024, errors);
    if max_header_bytes < 1024 {
        errors.push(err("proxy.max_header_bytes", "must be at least 1024: real browsers send heads of several hundred bytes"));
    }
    let pages = &p.pages;
    let require_auth = p.require_auth.unwrap_or(false);
    let users_file = p.users_file.as_ref().map(|f| base.join(f));
    if require_auth && users_file.is_none() {
        errors.push(err("proxy.require_auth", "sign-in is required but no `users_file` gives the accounts to check against"));
    }
    ProxySettings {
        listen: addrs("listen", p.listen.as_ref(), &[DEFAULT_PROXY_LISTEN], errors),
        transparent_http: addrs("transparent_http", p.transparent_http.as_ref(), &[], errors),
        transparent_https: addrs("transparent_https", p.transparent_https.as_ref(), &[], errors),
        require_auth,
        realm: p.realm.clone().unwrap_or_else(|| "Haven web filter".into()),
        users_file,
        connect_ports,
        header_timeout: ms("header_timeout_ms", p.header_timeout_ms, 10_000, errors),
        idle_timeout: ms("idle_timeout_ms", p.idle_timeout_ms, 120_000, errors),
        connect_timeout: ms("connect_timeout_ms", p.connect_timeout_ms, 10_000, errors),
        response_timeout: ms("response_timeout_ms", p.response_timeout_ms, 60_000, errors),
        hello_timeout: ms("hello_timeout_ms", p.hello_timeout_ms, 10_000, errors),
        max_header_bytes,
        max_headers: count("max_headers", p.max_headers, 100, errors),
        max_connections: count("max_connections", p.max_connections, 20_000, errors),
        allow_loopback_origins: p.allow_loopback_origins.unwrap_or(false),
        school_name: pages.school_name.clone().unwrap_or_else(|| "Your school".into()),
        logo_url: pages.logo_url.clone(),
        dsl_contact: pages.dsl_contact.clone().unwrap_or_else(|| "your Designated Safeguarding Lead".into()),
        unblock_url: pages.unblock_url.clone().unwrap_or_else(|| "/haven/unblock".into()),
        worry_url: pages.worry_url.clone().unwrap_or_else(|| "/haven/worry".into()),
        appeal_url: pages.appeal_url.clone().unwrap_or_else(|| "https://www.iwf.org.uk/about-us/complaints/".into()),
    }
}

fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, origin: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Toml { path: origin.into(), message: one_line_toml_error(&e) })
}

fn one_line_toml_error(e: &toml::de::Error) -> String {
    // toml's message spans lines with a source excerpt; keep the location and the first sentence.
    let text = e.to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let head = lines.next().unwrap_or("invalid TOML").trim().trim_start_matches("TOML parse error at ").to_string();
    let msg = text.lines().last().unwrap_or("").trim().to_string();
    if msg.is_empty() || head.contains(&msg) { head } else { format!("{head}: {msg}") }
}

fn err(field: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError { field: field.into(), message: message.into(), floor_override: false }
}

/// Overlay a school's file on the built-in default policy, key by key.
fn merge(mut base: RawConfig, over: RawConfig) -> RawConfig {
    for (id, w) in over.windows {
        base.windows.insert(id, w);
    }
    for (id, g) in over.groups {
        match base.groups.get_mut(&id) {
            Some(b) => merge_group(b, g),
            None => {
                base.groups.insert(id, g);
            }
        }
    }
    base.fallback_group = over.fallback_group.or(base.fallback_group);
    base.timezone = over.timezone.or(base.timezone);
    base.base_policy = over.base_policy;
    base.categories = over.categories;
    base.lists = over.lists;
    base.illegal = over.illegal;
    base.identity = over.identity;
    base.audit = over.audit;
    base.dns = over.dns;
    base.store = over.store;
    base.metrics = over.metrics;
    base.proxy = over.proxy;
    base.portal = over.portal;
    base
}

fn merge_group(b: &mut RawGroup, g: RawGroup) {
    b.title = g.title.or(b.title.take());
    b.kind = g.kind.or(b.kind.take());
    b.like = g.like.or(b.like.take());
    b.default = g.default.or(b.default.take());
    b.free_time = g.free_time.or(b.free_time.take());
    b.safe_search = g.safe_search.or(b.safe_search.take());
    b.youtube = g.youtube.or(b.youtube.take());
    b.block_answer = g.block_answer.or(b.block_answer.take());
    b.categories.extend(g.categories);
    b.subgroups.extend(g.subgroups);
    b.sites.extend(g.sites);
}

fn policy_spec(raw: &RawConfig, taxonomy: &Taxonomy, audience: &[AudienceDefault], errors: &mut Vec<PolicyError>) -> PolicySpec {
    let windows: Vec<WindowSpec> = raw
        .windows
        .iter()
        .map(|(id, w)| WindowSpec {
            id: id.clone(),
            title: w.title.clone().unwrap_or_else(|| title_case(id)),
            spans: w.spans.clone().unwrap_or_default(),
        })
        .collect();
    let mut resolved: HashMap<String, Vec<(String, RuleSpec)>> = HashMap::new();
    let mut groups = Vec::new();
    for id in raw.groups.keys() {
        let mut visiting = HashSet::new();
        let rules = group_rules(id, raw, taxonomy, audience, &mut resolved, &mut visiting, errors);
        let g = &raw.groups[id];
        let field = format!("groups.{id}");
        let kind = match g.kind.as_deref().map(|k| (k, GroupKind::parse(k))) {
            Some((_, Some(k))) => k,
            Some((k, None)) => {
                errors.push(err(format!("{field}.kind"), format!("`{k}` must be pupil, staff, guest or unknown")));
                GroupKind::Pupil
            }
            None => {
                errors.push(err(format!("{field}.kind"), "missing: say whether this is a pupil, staff, guest or unknown group"));
                GroupKind::Pupil
            }
        };
        let default = match g.default.as_deref() {
            None | Some("allow") => Action::Allow,
            Some("block") => Action::Block,
            Some(other) => {
                errors.push(err(format!("{field}.default"), format!("`{other}` must be allow or block")));
                Action::Allow
            }
        };
        let sites = g
            .sites
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let action = match s.action.as_str() {
                    "allow" => Action::Allow,
                    "block" => Action::Block,
                    other => {
                        errors.push(err(format!("{field}.sites[{i}].action"), format!("`{other}` must be allow or block")));
                        return None;
                    }
                };
                Some(SiteSpec {
                    action,
                    site: s.site.clone(),
                    reason: s.reason.clone().unwrap_or_default(),
                    author: s.author.clone().unwrap_or_default(),
                    users: Vec::new(), reference: None,
                })
            })
            .collect();
        let lax = kind == GroupKind::Staff;
        let safe_search = SafeSearch {
            search: g.safe_search.unwrap_or(!lax),
            youtube: match g.youtube.as_deref() {
                None if lax => YouTubeMode::Off,
                None => YouTubeMode::Strict,
                Some(y) => YouTubeMode::parse(y).unwrap_or_else(|| {
                    errors.push(err(format!("{field}.youtube"), format!("`{y}` must be strict, moderate or off")));
                    YouTubeMode::Strict
                }),
            },
        };
        let block_answer = match g.block_answer.as_deref() {
            None => BlockAnswer::BlockPage,
            Some(b) => BlockAnswer::parse(b).unwrap_or_else(|| {
                errors.push(err(format!("{field}.block_answer"), format!("`{b}` must be block_page or nxdomain")));
                BlockAnswer::BlockPage
            }),
        };
        groups.push(GroupSpec {
            safe_search,
            block_answer,
            id: id.clone(),
            title: g.title.clone().unwrap_or_else(|| title_case(id)),
            kind,
            default,
            rules,
            subgroups: g.subgroups.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            sites,
        });
    }
    let directory = DirectorySpec {
        users: raw.identity.users.iter().map(|u| (u.user.clone(), u.group.clone())).collect(),
        devices: raw.identity.devices.iter().map(|d| (d.address.clone(), d.name.clone(), d.user.clone(), d.group.clone())).collect(),
        networks: raw.identity.networks.iter().map(|n| (n.cidr.clone(), n.group.clone())).collect(),
    };
    let fallback_group = raw.fallback_group.clone().unwrap_or_else(|| {
        errors.push(err("fallback_group", "missing: name the group unknown clients get"));
        String::new()
    });
    PolicySpec { groups, windows, fallback_group, directory }
}

/// A group's full rule table: its `like` group's (or its audience's defaults), then its own overrides.
fn group_rules(
    id: &str,
    raw: &RawConfig,
    taxonomy: &Taxonomy,
    audience: &[AudienceDefault],
    resolved: &mut HashMap<String, Vec<(String, RuleSpec)>>,
    visiting: &mut HashSet<String>,
    errors: &mut Vec<PolicyError>,
) -> Vec<(String, RuleSpec)> {
    if let Some(r) = resolved.get(id) {
        return r.clone();
    }
    let Some(g) = raw.groups.get(id) else { return Vec::new() };
    let field = format!("groups.{id}");
    if !visiting.insert(id.to_string()) {
        errors.push(err(format!("{field}.like"), "groups refer to each other in a circle"));
        return Vec::new();
    }
    let free_time = g.free_time.clone().unwrap_or_default();
    let mut rules: BTreeMap<String, RuleSpec> = BTreeMap::new();
    match &g.like {
        Some(like) if raw.groups.contains_key(like) => {
            rules.extend(group_rules(like, raw, taxonomy, audience, resolved, visiting, errors));
        }
        Some(like) => errors.push(err(format!("{field}.like"), format!("group `{like}` is not defined"))),
        None => {
            let aud = match g.kind.as_deref() {
                Some("staff") => Audience::Staff,
                Some("guest") => Audience::Guest,
                _ => Audience::Pupil,
            };
            for (cid, c) in taxonomy.iter() {
                if c.kind == CategoryKind::Illegal {
                    continue;
                }
                let d = audience[cid.index()].for_audience(aud);
                let base = match d {
                    "allow" => BaseSpec::Allow,
                    "free_time" if free_time.is_empty() => BaseSpec::Block,
                    "free_time" => BaseSpec::During(free_time.clone()),
                    _ => BaseSpec::Block,
                };
                rules.insert(c.id.to_string(), RuleSpec { base, nominated: Vec::new() });
            }
        }
    }
    for (cat, v) in &g.categories {
        let f = format!("{field}.categories.{cat}");
        if let Some(rule) = rule_value(v, &free_time, &f, errors) {
            rules.insert(cat.clone(), rule);
        }
    }
    let out: Vec<(String, RuleSpec)> = rules.into_iter().collect();
    visiting.remove(id);
    resolved.insert(id.to_string(), out.clone());
    out
}

fn rule_value(v: &toml::Value, free_time: &[String], field: &str, errors: &mut Vec<PolicyError>) -> Option<RuleSpec> {
    let during_free = |errors: &mut Vec<PolicyError>| {
        if free_time.is_empty() {
            errors.push(err(field, "`free_time` needs the group's `free_time` windows to be set"));
        }
        BaseSpec::During(free_time.to_vec())
    };
    match v {
        toml::Value::String(s) => match s.as_str() {
            "allow" => Some(RuleSpec { base: BaseSpec::Allow, nominated: Vec::new() }),
            "block" => Some(RuleSpec { base: BaseSpec::Block, nominated: Vec::new() }),
            "free_time" => Some(RuleSpec { base: during_free(errors), nominated: Vec::new() }),
            other => {
                errors.push(err(field, format!("`{other}` must be allow, block, free_time or a table such as {{ during = [\"lunch\"] }}")));
                None
            }
        },
        toml::Value::Table(t) => {
            for k in t.keys() {
                if !matches!(k.as_str(), "action" | "during" | "nominated") {
                    errors.push(err(format!("{field}.{k}"), "unknown key; use action, during or nominated"));
                    return None;
                }
            }
            let strings = |key: &str, errors: &mut Vec<PolicyError>| -> Vec<String> {
                match t.get(key) {
                    None => Vec::new(),
                    Some(toml::Value::Array(a)) => a
                        .iter()
                        .filter_map(|x| match x.as_str() {
                            Some(s) => Some(s.to_string()),
                            None => {
                                errors.push(err(format!("{field}.{key}"), "must be a list of strings"));
                                None
                            }
                        })
                        .collect(),
                    Some(_) => {
                        errors.push(err(format!("{field}.{key}"), "must be a list of strings"));
                        Vec::new()
                    }
                }
            };
            let nominated = strings("nominated", errors);
            let base = match (t.get("action").and_then(|a| a.as_str()), t.contains_key("during")) {
                (Some(_), true) => {
                    errors.push(err(field, "give either `action` or `during`, not both"));
                    return None;
                }
                (None, true) => {
                    let ws = strings("during", errors);
                    if ws.iter().any(|w| w == "free_time") {
                        let mut all: Vec<String> = ws.into_iter().filter(|w| w != "free_time").collect();
                        all.extend(free_time.iter().cloned());
                        if free_time.is_empty() {
                            errors.push(err(field, "`free_time` needs the group's `free_time` windows to be set"));
                        }
                        BaseSpec::During(all)
                    } else {
                        BaseSpec::During(ws)
                    }
                }
                (Some("allow"), false) => BaseSpec::Allow,
                (Some("block"), false) | (None, false) => BaseSpec::Block,
                (Some("free_time"), false) => during_free(errors),
                (Some(other), false) => {
                    errors.push(err(format!("{field}.action"), format!("`{other}` must be allow, block or free_time")));
                    return None;
                }
            };
            Some(RuleSpec { base, nominated })
        }
        _ => {
            errors.push(err(field, "must be allow, block, free_time or a table"));
            None
        }
    }
}

fn list_plans(lists: &[RawList], taxonomy: &Taxonomy, base: &Path, errors: &mut Vec<PolicyError>) -> Vec<SourceSpec> {
    let builtin = ut1_mapping(taxonomy, errors);
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for (i, l) in lists.iter().enumerate() {
        let field = format!("lists[{i}]");
        if !names.insert(l.name.clone()) {
            errors.push(err(format!("{field}.name"), format!("list name `{}` is used twice", l.name)));
        }
        let path = base.join(&l.path);
        if l.format == "ut1" {
            if l.category.is_some() || l.matching.is_some() {
                errors.push(err(&field, "a ut1 list takes its categories from the mapping; use `map` instead of `category`/`match`"));
            }
            let mut mapping = builtin.clone();
            for (dir, cat) in &l.map {
                let value = if cat.is_empty() { None } else { category(taxonomy, cat, &format!("{field}.map.{dir}"), errors) };
                mapping.insert(dir.clone(), value);
            }
            out.push(SourceSpec::Ut1 { name: l.name.clone(), path, mapping: Ut1Mapping(mapping) });
            continue;
        }
        if !l.map.is_empty() {
            errors.push(err(format!("{field}.map"), "only ut1 lists take a `map`"));
        }
        let Some(format) = ListFormat::parse(&l.format) else {
            errors.push(err(
                format!("{field}.format"),
                format!("`{}` must be ut1, domains, hosts, adblock, urls, mixed or expressions", l.format),
            ));
            continue;
        };
        let Some(cat_text) = &l.category else {
            errors.push(err(format!("{field}.category"), "missing: every list needs a Haven category"));
            continue;
        };
        let Some(cat) = category(taxonomy, cat_text, &format!("{field}.category"), errors) else { continue };
        let matching = match l.matching.as_deref() {
            None if format == ListFormat::Hosts => Matching::Exact,
            None | Some("subdomains") => Matching::Subdomains,
            Some("exact") => Matching::Exact,
            Some(other) => {
                errors.push(err(format!("{field}.match"), format!("`{other}` must be subdomains or exact")));
                continue;
            }
        };
        out.push(SourceSpec::File { name: l.name.clone(), path, format, category: cat, matching });
    }
    out
}

fn category(taxonomy: &Taxonomy, id: &str, field: &str, errors: &mut Vec<PolicyError>) -> Option<CategoryId> {
    match taxonomy.id(id) {
        Some(c) if taxonomy.get(c).kind == CategoryKind::Illegal => {
            errors.push(PolicyError {
                field: field.into(),
                message: format!("`{id}` is illegal content; load such lists as [[illegal.sources]]"),
                floor_override: false,
            });
            None
        }
        Some(c) => Some(c),
        None => {
            errors.push(err(field, format!("`{id}` is not a category")));
            None
        }
    }
}

fn ut1_mapping(taxonomy: &Taxonomy, errors: &mut Vec<PolicyError>) -> HashMap<String, Option<CategoryId>> {
    let table: BTreeMap<String, String> = match toml::from_str(UT1_MAPPING) {
        Ok(t) => t,
        Err(e) => {
            errors.push(err("(built-in UT1 mapping)", e.to_string()));
            return HashMap::new();
        }
    };
    table
        .into_iter()
        .map(|(dir, cat)| {
            let v = if cat.is_empty() { None } else { category(taxonomy, &cat, &format!("(built-in UT1 mapping).{dir}"), errors) };
            (dir, v)
        })
        .collect()
}

fn floor_plans(illegal: Option<&toml::Table>, taxonomy: &Taxonomy, base: &Path, errors: &mut Vec<PolicyError>) -> Vec<FloorPlan> {
    let Some(t) = illegal else { return Vec::new() };
    let mut out = Vec::new();
    for (k, v) in t {
        if k != "sources" {
            // Anything but more sources is an attempt to switch the floor off or change it.
            errors.push(PolicyError {
                field: format!("illegal.{k}"),
                message: "the illegal-content floor cannot be disabled, overridden or altered; only `sources` may be added".into(),
                floor_override: true,
            });
            continue;
        }
        let sources: Vec<RawFloorSource> = match v.clone().try_into() {
            Ok(s) => s,
            Err(e) => {
                errors.push(err("illegal.sources", e.to_string().lines().next().unwrap_or("invalid").to_string()));
                continue;
            }
        };
        for (i, s) in sources.into_iter().enumerate() {
            let field = format!("illegal.sources[{i}]");
            let format = match s.format.as_str() {
                "sha256" => FloorFormat::Sha256,
                f => match ListFormat::parse(f) {
                    Some(lf @ (ListFormat::Domains | ListFormat::Urls | ListFormat::Mixed)) => FloorFormat::List(lf),
                    _ => {
                        errors.push(err(format!("{field}.format"), format!("`{f}` must be domains, urls, mixed or sha256")));
                        continue;
                    }
                },
            };
            let category = match taxonomy.id(&s.category) {
                Some(c) if taxonomy.get(c).kind == CategoryKind::Illegal => c,
                _ => {
                    errors.push(err(
                        format!("{field}.category"),
                        format!("`{}` must be an illegal-content category (illegal_csam, illegal_terrorism)", s.category),
                    ));
                    continue;
                }
            };
            out.push(FloorPlan { name: s.name, path: base.join(s.path), format, category });
        }
    }
    out
}

/// The test list as inline sources: one per category, mixed domains and URLs.
fn test_floor_specs(taxonomy: &Taxonomy) -> Vec<SourceSpec> {
    let mut by_cat: BTreeMap<String, String> = BTreeMap::new();
    for line in ILLEGAL_TEST_LIST.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some((cat, entry)) = l.split_once(char::is_whitespace) {
            let text = by_cat.entry(cat.to_string()).or_default();
            text.push_str(entry.trim());
            text.push('\n');
        }
    }
    by_cat
        .into_iter()
        .filter_map(|(cat, text)| {
            taxonomy.id(&cat).map(|c| SourceSpec::Inline {
                name: format!("haven-test-list/{cat}"),
                text,
                format: ListFormat::Mixed,
                category: c,
                matching: Matching::Subdomains,
            })
        })
        .collect()
}

fn build_test_floor(taxonomy: &Taxonomy) -> Result<ListSet, LoadError> {
    haven_lists::build(taxonomy, &test_floor_specs(taxonomy)).map(|(set, _)| set)
}

fn title_case(id: &str) -> String {
    let s = id.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} groups, {} lists, {} floor sources)", self.origin, self.policy.groups.len(), self.lists.len(), self.floor.len())
    }
}
