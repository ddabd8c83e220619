//! `haven serve`: the filtering DNS service, the web proxy, the activity log writer, retention,
//! metrics, and reload on SIGHUP or `haven reload`, all sharing one policy snapshot.
//!
//! Order of work: the configuration is parsed and every list loaded before any port is bound, so
//! a bad file never leaves a half-started service. Shutdown stops the listeners, drains queries in
//! flight and flushes the activity log.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use haven_config::{Config, PortalConfig, ProxySettings, ServiceSettings};
use haven_console::live::LivePolicy;
use haven_dns::{DnsConfig, DnsServer, Upstream};
use haven_policy::{PolicyHandle, PolicySpec};
use haven_proxy::{Authenticate, NoAccounts, PageSettings, PasswordFile, ProxyConfig, ProxyParts, ProxyServer, UpstreamResolver};
use haven_store::{EventWriter, Retention, Store, WriterConfig};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// How often retention pruning runs.
const RETENTION_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
/// First pruning run after start, so a restart loop cannot hammer the database.
const RETENTION_FIRST: Duration = Duration::from_secs(60);

/// A request to reload, answered with a summary or the reason it failed.
type ReloadRequest = oneshot::Sender<std::result::Result<String, String>>;

/// Counters the service keeps about itself, for /metrics.
#[derive(Default)]
struct ServiceCounters {
    reloads: AtomicU64,
    reload_failures: AtomicU64,
}

/// Run the service until SIGTERM or SIGINT.
pub fn run(config_path: Option<PathBuf>, config: Config) -> Result<ExitCode> {
    init_logging();
    let settings = config.service().clone();
    let built = match crate::build(&config) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    tracing::info!(
        distinct_domains = built.snapshot.lists().distinct_domains(),
        rejected_lines = built.lists.total_rejected,
        load_ms = built.elapsed.as_millis() as u64,
        "lists loaded"
    );
    let handle = Arc::new(PolicyHandle::new(built.snapshot));
    let portal = config.portal().cloned();
    let base = config.policy().clone();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let radius = config.radius().cloned();
    // Directory sync settings are mapped (and the CA file read) before any port is bound.
    let directory = match config.directory().and_then(|d| d.sync_every.map(|every| (d, every))) {
        Some((d, every)) => Some((crate::directory::directory_config(d)?, crate::people::group_map(&config)?, every)),
        None => None,
    };
    let monitor = (config.monitor().clone(), config.timezone().clone());
    runtime.block_on(serve(config_path, settings, handle, portal, base, radius, directory, monitor))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HAVEN_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Map checked settings onto the DNS service's configuration.
pub fn dns_config(s: &ServiceSettings) -> DnsConfig {
    DnsConfig {
        listen_udp: s.dns_listen.clone(),
        listen_tcp: s.dns_listen.clone(),
        upstreams: s
            .upstreams
            .iter()
            .map(|u| match &u.tls_name {
                Some(name) => Upstream::tls(u.addr, name.clone()),
                None => Upstream::plain(u.addr),
            })
            .collect(),
        upstream_timeout: s.upstream_timeout,
        servfail_after: s.servfail_after,
        block_page_v4: s.block_page_ipv4,
        block_page_v6: s.block_page_ipv6,
        blocked_ttl: s.blocked_ttl,
        cache_entries: s.cache_entries,
        max_tcp_connections: s.max_tcp_connections,
        tcp_idle_timeout: s.tcp_idle_timeout,
        ..DnsConfig::default()
    }
}

/// Map checked settings onto the proxy's configuration.
pub fn proxy_config(p: &ProxySettings) -> ProxyConfig {
    ProxyConfig {
        listen: p.listen.clone(),
        transparent_http: p.transparent_http.clone(),
        transparent_https: p.transparent_https.clone(),
        require_auth: p.require_auth,
        realm: p.realm.clone(),
        connect_ports: p.connect_ports.clone(),
        header_timeout: p.header_timeout,
        idle_timeout: p.idle_timeout,
        connect_timeout: p.connect_timeout,
        response_timeout: p.response_timeout,
        hello_timeout: p.hello_timeout,
        max_header_bytes: p.max_header_bytes,
        max_headers: p.max_headers,
        max_connections: p.max_connections,
        allow_loopback_origins: p.allow_loopback_origins,
        pages: PageSettings {
            school_name: p.school_name.clone(),
            logo_url: p.logo_url.clone(),
            dsl_contact: p.dsl_contact.clone(),
            unblock_url: p.unblock_url.clone(),
            worry_url: p.worry_url.clone(),
            appeal_url: p.appeal_url.clone(),
        },
        ..ProxyConfig::default()
    }
}

/// True when any proxy listener is configured.
fn proxy_enabled(p: &ProxySettings) -> bool {
    !(p.listen.is_empty() && p.transparent_http.is_empty() && p.transparent_https.is_empty())
}

/// Everything the proxy needs that is read from disk, loaded before any port is bound.
fn proxy_accounts(p: &ProxySettings) -> Result<Arc<dyn Authenticate>> {
    Ok(match &p.users_file {
        Some(path) => {
            let file = PasswordFile::load(path)?;
            tracing::info!(path = %path.display(), accounts = file.len(), "proxy sign-in accounts loaded");
            Arc::new(file)
        }
        None => Arc::new(NoAccounts),
    })
}

async fn serve(
    config_path: Option<PathBuf>,
    settings: ServiceSettings,
    handle: Arc<PolicyHandle>,
    portal: Option<PortalConfig>,
    base: PolicySpec,
    radius: Option<haven_config::RadiusSettings>,
    directory: Option<(haven_directory::DirectoryConfig, haven_accounts::people::GroupMap, Duration)>,
    (monitor_settings, tz): (haven_config::MonitorSettings, jiff::tz::TimeZone),
) -> Result<ExitCode> {
    let proxy_auth = proxy_accounts(&settings.proxy)?;
    let proxy_resolvers: Vec<SocketAddr> = settings.upstreams.iter().filter(|u| u.tls_name.is_none()).map(|u| u.addr).collect();
    if proxy_enabled(&settings.proxy) && proxy_resolvers.is_empty() {
        anyhow::bail!("the proxy looks up origins through the plain DNS upstreams in [dns] upstreams, and every upstream is DNS over TLS; add a plain one");
    }
    let store =
        Store::open(&settings.store_url).await.with_context(|| format!("opening the activity store {}", redact(&settings.store_url)))?;
    // Console policy changes over the configuration's policy, in force before any port is bound;
    // then kept live (notified by the console, polled for other Havens, rebuilt at each expiry).
    let live = LivePolicy::new(handle.clone(), base, store.clone(), jiff::Timestamp::now());
    if let Err(e) = live.refresh(jiff::Timestamp::now()).await {
        tracing::error!(error = %e, "console policy changes could not be applied; the configuration's policy is in force");
    }
    let live_task = tokio::spawn(live.clone().watch(Arc::new(haven_accounts::SystemClock)));
    let writer = Arc::new(
        EventWriter::spawn(store.clone(), WriterConfig { queue_capacity: settings.store_queue, ..WriterConfig::default() })
            .context("starting the activity writer")?,
    );
    // The monitor stage: events that could raise an alert are offered to its bounded queue beside
    // the activity writer; it never back-pressures filtering (a full queue drops for monitoring only).
    let tz_digest = tz.clone();
    let monitor_digest = match (&monitor_settings.email, monitor_settings.digest) {
        (Some(e), true) => Some((
            e.clone(),
            monitor_settings.routing.chain.iter().filter(|c| c.role == "DSL").map(|c| c.email.clone()).collect::<Vec<_>>(),
            monitor_settings.console_url.clone(),
        )),
        _ => None,
    };
    let monitor = if monitor_settings.enabled {
        let m = haven_alerting::Monitor::start(store.clone(), monitor_settings, tz, Arc::new(haven_alerting::SystemClock))
            .await
            .context("starting the monitor stage")?;
        tracing::info!("monitor stage running: alerts are raised, stored and delivered");
        Some(m)
    } else {
        tracing::info!("monitor stage off ([monitor] enabled = false)");
        None
    };
    let digest_task = match (&monitor, &monitor_digest) {
        (Some(_), Some((email, contacts, console_url))) => Some(tokio::spawn(weekly_digest(store.clone(), email.clone(), contacts.clone(), console_url.clone(), tz_digest.clone()))),
        _ => None,
    };
    let sink: Arc<dyn haven_activity::EventSink> = match &monitor {
        Some(m) => m.sink(writer.clone()),
        None => writer.clone(),
    };
    // Who is behind each address: restored from the store, then shared by DNS, proxy and console.
    let identity = crate::identity::start(&store).await?;
    let mut dns_settings = dns_config(&settings);
    dns_settings.captive_portal = portal.is_some();
    let book = identity.book().clone();
    let dns = DnsServer::bind(dns_settings, handle.clone(), identity.book().clone(), sink.clone())
        .await
        .context("starting the DNS service")?;
    let addrs = dns.local_addrs();
    tracing::info!(udp = ?addrs.udp, tcp = ?addrs.tcp, store = %redact(&settings.store_url), "DNS service answering");
    let proxy = if proxy_enabled(&settings.proxy) {
        let parts = ProxyParts {
            policy: handle.clone(),
            identify: book.clone(),
            auth: proxy_auth,
            resolver: Arc::new(UpstreamResolver::new(proxy_resolvers, settings.upstream_timeout)),
            sink: sink.clone(),
        };
        let mut proxy_settings = proxy_config(&settings.proxy);
        proxy_settings.portal_url = portal.as_ref().map(|p| p.url.clone());
        let p = ProxyServer::bind(proxy_settings, parts).await.context("starting the web proxy")?;
        let a = p.local_addrs();
        tracing::info!(explicit = ?a.explicit, transparent_http = ?a.transparent_http, transparent_https = ?a.transparent_https, "web proxy serving");
        Some(p)
    } else {
        None
    };

    let radius = crate::radius::start(radius.as_ref(), book.clone(), &store).await?;
    let radius_metrics = radius.as_ref().map(haven_radius::RadiusServer::metrics);

    let counters = Arc::new(ServiceCounters::default());
    let (reload_tx, mut reload_rx) = mpsc::channel::<ReloadRequest>(4);
    let metrics_listener = TcpListener::bind(settings.metrics_listen)
        .await
        .with_context(|| format!("binding the metrics endpoint {}", settings.metrics_listen))?;
    tracing::info!(addr = %settings.metrics_listen, "metrics and control endpoint at /metrics, /-/healthy, POST /-/reload");
    let dns_metrics = dns.metrics();
    let proxy_metrics = proxy.as_ref().map(ProxyServer::metrics);
    let monitor_metrics = monitor.as_ref().map(haven_alerting::Monitor::renderer);
    let metrics_task = {
        let (writer, counters, reload_tx) = (writer.clone(), counters.clone(), reload_tx.clone());
        tokio::spawn(async move {
            serve_metrics(
                metrics_listener,
                move || {
                    let mut out = String::new();
                    dns_metrics.render_prometheus(&mut out);
                    if let Some(p) = &proxy_metrics {
                        p.render_prometheus(&mut out);
                    }
                    if let Some(r) = &radius_metrics {
                        r.render_prometheus(&mut out);
                    }
                    if let Some(m) = &monitor_metrics {
                        m(&mut out);
                    }
                    render_service_metrics(&mut out, &writer, &counters);
                    out
                },
                reload_tx,
            )
            .await
        })
    };

    let retention_task = {
        let store = store.clone();
        let days = settings.retention_days;
        tokio::spawn(async move {
            tokio::time::sleep(RETENTION_FIRST).await;
            loop {
                match Retention::days(days) {
                    Ok(r) => match store.apply_retention(r, jiff::Timestamp::now()).await {
                        Ok(rep) => {
                            tracing::info!(deleted = rep.rows_deleted, cutoff = %rep.cutoff, batches = rep.batches, "retention pruning done")
                        }
                        Err(e) => tracing::error!(error = %e, "retention pruning failed; will retry"),
                    },
                    Err(e) => tracing::error!(error = %e, "retention setting unusable"),
                }
                tokio::time::sleep(RETENTION_EVERY).await;
            }
        })
    };

    // The web console (`[console]`), over the same store; stops when this function returns.
    let _console =
        crate::console::start(config_path.as_deref(), &store, identity.clone(), live.clone()).await.context("starting the web console")?;
    let sweep_task = tokio::spawn(crate::identity::sweep(identity.clone()));
    // Directory sync (`[directory]`, `sync_minutes`): people and their sign-in names kept current.
    let directory_task = directory.map(|(dc, groups, every)| tokio::spawn(crate::directory::sync_every(store.clone(), dc, groups, every)));

    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).context("listening for SIGHUP")?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("listening for SIGTERM")?;
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                let outcome = reload(config_path.clone(), &counters, &live).await;
                if let Err(e) = outcome { tracing::error!(error = %e, "reload failed; the lists and policy in force stay in force"); }
            }
            Some(reply) = reload_rx.recv() => {
                let outcome = reload(config_path.clone(), &counters, &live).await;
                if let Err(e) = &outcome { tracing::error!(error = %e, "reload failed; the lists and policy in force stay in force"); }
                let _ = reply.send(outcome);
            }
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("shutting down: draining queries in flight");
    metrics_task.abort();
    retention_task.abort();
    sweep_task.abort();
    if let Some(t) = directory_task {
        t.abort();
    }
    live_task.abort();
    dns.shutdown().await;
    if let Some(r) = radius {
        r.shutdown().await;
    }
    if let Some(p) = proxy {
        p.shutdown().await;
    }
    if let Some(m) = monitor {
        m.shutdown();
    }
    if let Some(t) = digest_task {
        t.abort();
    }
    match writer.shutdown().await {
        Ok(stats) => tracing::info!(written = stats.written, dropped = stats.dropped, "activity log flushed"),
        Err(e) => tracing::error!(error = %e, "activity log flush failed"),
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Email the weekly digest to the DSL contacts every Monday 07:00 school time: counts and a link,
/// no pupil names.
async fn weekly_digest(store: Store, email: haven_config::EmailSettings, to: Vec<String>, console_url: String, tz: jiff::tz::TimeZone) {
    let mailer = match haven_alerting::Mailer::new(&email) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "the weekly digest cannot be emailed");
            return;
        }
    };
    loop {
        let now = jiff::Timestamp::now();
        let due = haven_monitor::digest::next_due(now, &tz);
        tokio::time::sleep(due.duration_since(now).unsigned_abs()).await;
        let week = haven_monitor::Week::containing(jiff::Timestamp::now(), &tz).previous(&tz);
        match crate::alerts::digest_text(&store, week, &tz, &console_url).await {
            Ok(text) => {
                for addr in &to {
                    let subject = format!("[Haven] Weekly safeguarding digest, {}", week.label());
                    if let Err(e) = mailer.send(addr, &subject, text.clone()).await {
                        tracing::warn!(error = %e, "a weekly digest email failed");
                    }
                }
                tracing::info!(week = %week.label(), recipients = to.len(), "weekly digest emailed");
            }
            Err(e) => tracing::error!(error = %e, "building the weekly digest failed"),
        }
        // Past the due minute, so the next loop looks a week ahead.
        tokio::time::sleep(Duration::from_secs(61)).await;
    }
}

/// Build a new snapshot off to the side and swap it in (with the console's changes); on any
/// error the old one stays.
async fn reload(
    config_path: Option<PathBuf>,
    counters: &ServiceCounters,
    live: &LivePolicy,
) -> std::result::Result<String, String> {
    let started = std::time::Instant::now();
    let built = tokio::task::spawn_blocking(move || {
        let config = match &config_path {
            Some(p) => Config::from_file(p),
            None => Config::embedded(),
        };
        config.and_then(|c| c.build().map(|b| (b, c.policy().clone())))
    })
    .await
    .map_err(|e| format!("reload task failed: {e}"));
    let (built, base) = match built {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            counters.reload_failures.fetch_add(1, Ordering::Relaxed);
            crate::report_config_error(&e);
            return Err(e.to_string());
        }
        Err(e) => {
            counters.reload_failures.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
    };
    let summary = format!(
        "reloaded: {} distinct domains, {} bad lines skipped, built in {} ms",
        built.snapshot.lists().distinct_domains(),
        built.lists.total_rejected,
        started.elapsed().as_millis()
    );
    // The new lists and base policy, with the console's changes laid over them, in one swap.
    if let Err(e) = live.install(built.snapshot, base, jiff::Timestamp::now(), jiff::Timestamp::now()).await {
        tracing::error!(error = %e, "console policy changes could not be applied over the reloaded configuration");
    }
    counters.reloads.fetch_add(1, Ordering::Relaxed);
    tracing::info!("{summary}");
    Ok(summary)
}

fn render_service_metrics(out: &mut String, writer: &EventWriter, c: &ServiceCounters) {
    use std::fmt::Write;
    let s = writer.stats();
    let lines = [
        ("haven_activity_queue_depth", "gauge", "Events waiting for the activity writer.", writer.queue_depth() as u64),
        ("haven_activity_queue_capacity", "gauge", "Events the activity queue holds before dropping.", writer.queue_capacity() as u64),
        ("haven_activity_written_total", "counter", "Events written to the activity log.", s.written),
        ("haven_activity_dropped_total", "counter", "Events dropped because the queue was full: a gap in the record.", s.dropped),
        ("haven_activity_write_errors_total", "counter", "Failed batch writes (retried).", s.write_errors),
        ("haven_reloads_total", "counter", "Successful reloads of lists and policy.", c.reloads.load(Ordering::Relaxed)),
        (
            "haven_reload_failures_total",
            "counter",
            "Failed reloads (the previous snapshot stayed in force).",
            c.reload_failures.load(Ordering::Relaxed),
        ),
    ];
    for (name, kind, help, value) in lines {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    }
}

/// Serve /metrics, /-/healthy and POST /-/reload (loopback clients only) with hyper.
async fn serve_metrics(listener: TcpListener, render: impl Fn() -> String + Send + Sync + 'static, reload: mpsc::Sender<ReloadRequest>) {
    let render = Arc::new(render);
    loop {
        let Ok((stream, peer)) = listener.accept().await else { continue };
        let (render, reload) = (render.clone(), reload.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (render, reload) = (render.clone(), reload.clone());
                async move { Ok::<_, Infallible>(route(req, peer, &*render, &reload).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
            let _ = tokio::time::timeout(Duration::from_secs(30), conn).await;
        });
    }
}

async fn route(
    req: Request<Incoming>,
    peer: SocketAddr,
    render: &(dyn Fn() -> String + Send + Sync),
    reload: &mpsc::Sender<ReloadRequest>,
) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r
    };
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => reply(StatusCode::OK, render()),
        (&Method::GET, "/-/healthy") => reply(StatusCode::OK, "ok\n".into()),
        (&Method::POST, "/-/reload") if peer.ip().is_loopback() => {
            let (tx, rx) = oneshot::channel();
            if reload.send(tx).await.is_err() {
                return reply(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".into());
            }
            match rx.await {
                Ok(Ok(summary)) => reply(StatusCode::OK, format!("{summary}\n")),
                Ok(Err(e)) => reply(StatusCode::UNPROCESSABLE_ENTITY, format!("{e}\n")),
                Err(_) => reply(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".into()),
            }
        }
        (&Method::POST, "/-/reload") => reply(StatusCode::FORBIDDEN, "reload is accepted from this machine only\n".into()),
        _ => reply(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

/// A database URL without its password, for logs: secrets are never logged.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// `haven reload`: ask the running service, through its local control endpoint, to reload.
pub fn request_reload(settings: &ServiceSettings) -> Result<ExitCode> {
    use std::io::{Read, Write};
    let mut addr = settings.metrics_listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .with_context(|| format!("no Haven service answering at {addr} (is `haven serve` running with this configuration?)"))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    write!(s, "POST /-/reload HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp.split_whitespace().nth(1).unwrap_or("");
    let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b).trim();
    if status == "200" {
        println!("{body}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("haven: reload refused: {body}");
        Ok(ExitCode::from(crate::EXIT_CONFIG))
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(redact("postgres://haven:s3cret@db.example/haven"), "postgres://haven:***@db.example/haven");
        assert_eq!(redact("postgres://haven@db.example/haven"), "postgres://haven@db.example/haven");
        assert_eq!(redact("sqlite:///var/lib/haven/activity.db"), "sqlite:///var/lib/haven/activity.db");
    }
}
