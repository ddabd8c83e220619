//! Lock-free counters for the proxy, rendered as Prometheus text beside the DNS service's.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the proxy has done since it started.
#[derive(Debug, Default)]
pub struct ProxyMetrics {
    pub(crate) allowed: AtomicU64,
    pub(crate) blocked: AtomicU64,
    pub(crate) tunnels: AtomicU64,
    pub(crate) sni_blocked: AtomicU64,
    pub(crate) not_tls: AtomicU64,
    pub(crate) bad_gateway: AtomicU64,
    pub(crate) gateway_timeout: AtomicU64,
    pub(crate) bad_requests: AtomicU64,
    pub(crate) auth_required: AtomicU64,
    pub(crate) auth_failed: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) open_connections: AtomicU64,
    pub(crate) bytes_up: AtomicU64,
    pub(crate) bytes_down: AtomicU64,
    pub(crate) events_dropped: AtomicU64,
}

/// A copy of the counters at one moment, for tests and the console.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyCounts {
    /// Requests and tunnels allowed.
    pub allowed: u64,
    /// Requests and tunnels blocked (by host, URL or SNI).
    pub blocked: u64,
    /// Tunnels (CONNECT or transparent 443) passed through.
    pub tunnels: u64,
    /// Tunnels refused because the ClientHello named a blocked site.
    pub sni_blocked: u64,
    /// Tunnels refused because the client did not speak TLS.
    pub not_tls: u64,
    /// Origins that could not be reached (502).
    pub bad_gateway: u64,
    /// Origins that did not answer in time (504).
    pub gateway_timeout: u64,
    /// Malformed or refused requests (400, 431, 501).
    pub bad_requests: u64,
    /// 407 challenges sent.
    pub auth_required: u64,
    /// Sign-ins that failed.
    pub auth_failed: u64,
    /// Client connections accepted.
    pub connections: u64,
    /// Client connections open now.
    pub open_connections: u64,
    /// Activity events the sink had to drop.
    pub events_dropped: u64,
}

impl ProxyMetrics {
    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn counts(&self) -> ProxyCounts {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ProxyCounts {
            allowed: g(&self.allowed),
            blocked: g(&self.blocked),
            tunnels: g(&self.tunnels),
            sni_blocked: g(&self.sni_blocked),
            not_tls: g(&self.not_tls),
            bad_gateway: g(&self.bad_gateway),
            gateway_timeout: g(&self.gateway_timeout),
            bad_requests: g(&self.bad_requests),
            auth_required: g(&self.auth_required),
            auth_failed: g(&self.auth_failed),
            connections: g(&self.connections),
            open_connections: g(&self.open_connections),
            events_dropped: g(&self.events_dropped),
        }
    }

    /// Append Prometheus text exposition.
    pub fn render_prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let c = self.counts();
        let _ = writeln!(out, "# HELP haven_proxy_requests_total Web requests and tunnels by decision.");
        let _ = writeln!(out, "# TYPE haven_proxy_requests_total counter");
        let _ = writeln!(out, "haven_proxy_requests_total{{decision=\"allow\"}} {}", c.allowed);
        let _ = writeln!(out, "haven_proxy_requests_total{{decision=\"block\"}} {}", c.blocked);
        let lines = [
            ("haven_proxy_tunnels_total", "counter", "TLS tunnels passed through.", c.tunnels),
            ("haven_proxy_sni_blocked_total", "counter", "Tunnels refused on the ClientHello's server name.", c.sni_blocked),
            ("haven_proxy_not_tls_total", "counter", "Tunnels refused because the client did not speak TLS.", c.not_tls),
            ("haven_proxy_bad_gateway_total", "counter", "Origins that could not be reached (502).", c.bad_gateway),
            ("haven_proxy_gateway_timeout_total", "counter", "Origins that did not answer in time (504).", c.gateway_timeout),
            ("haven_proxy_bad_requests_total", "counter", "Malformed or refused requests.", c.bad_requests),
            ("haven_proxy_auth_required_total", "counter", "Proxy sign-in challenges (407) sent.", c.auth_required),
            ("haven_proxy_auth_failed_total", "counter", "Proxy sign-ins that failed.", c.auth_failed),
            ("haven_proxy_connections_total", "counter", "Client connections accepted.", c.connections),
            ("haven_proxy_open_connections", "gauge", "Client connections open now.", c.open_connections),
            ("haven_proxy_bytes_up_total", "counter", "Bytes from clients to origins.", self.bytes_up.load(Ordering::Relaxed)),
            ("haven_proxy_bytes_down_total", "counter", "Bytes from origins to clients.", self.bytes_down.load(Ordering::Relaxed)),
            ("haven_proxy_events_dropped_total", "counter", "Activity events dropped by a full queue.", c.events_dropped),
        ];
        for (name, kind, help, value) in lines {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
    }
}
