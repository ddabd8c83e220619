//! The resolver's settings: where to listen, where to forward, how to answer blocks, and the limits
//! that keep hostile clients from exhausting it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// One upstream resolver: plain DNS (UDP, with TCP when truncated) or DNS over TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// Address and port (53 for plain DNS, 853 for DNS over TLS).
    pub addr: SocketAddr,
    /// The name to verify the upstream's certificate against; `Some` selects DNS over TLS.
    pub tls_name: Option<String>,
}

impl Upstream {
    /// A plain-DNS upstream (UDP, retried over TCP when the answer is truncated).
    pub fn plain(addr: SocketAddr) -> Upstream {
        Upstream { addr, tls_name: None }
    }

    /// A DNS-over-TLS upstream whose certificate must name `tls_name`.
    pub fn tls(addr: SocketAddr, tls_name: impl Into<String>) -> Upstream {
        Upstream { addr, tls_name: Some(tls_name.into()) }
    }
}

/// Everything the DNS service needs besides the policy, the identity source and the event sink.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// UDP addresses to answer on (port 0 picks a free port; see `DnsServer::local_addrs`).
    pub listen_udp: Vec<SocketAddr>,
    /// TCP addresses to answer on.
    pub listen_tcp: Vec<SocketAddr>,
    /// Upstream resolvers, tried in order with failover; never read from `/etc/resolv.conf`.
    pub upstreams: Vec<Upstream>,
    /// How long one try at one upstream may take.
    pub upstream_timeout: Duration,
    /// Total time before a client gets SERVFAIL when no upstream answers.
    pub servfail_after: Duration,
    /// Block-page address for blocked A queries of groups answering with the block page.
    pub block_page_v4: Option<Ipv4Addr>,
    /// Block-page address for blocked AAAA queries of groups answering with the block page.
    pub block_page_v6: Option<Ipv6Addr>,
    /// TTL of block answers, kept short so an unblock takes effect quickly.
    pub blocked_ttl: u32,
    /// TTL of the synthetic safe-search CNAME (or Yandex address), so a changed level applies soon.
    pub rewrite_ttl: u32,
    /// Most answers the cache holds; 0 turns the cache off.
    pub cache_entries: usize,
    /// Longest time a positive answer is cached, whatever its TTL.
    pub cache_max_ttl: u32,
    /// Longest time a negative answer (NXDOMAIN, no data) is cached (RFC 2308 suggests hours at most).
    pub negative_max_ttl: u32,
    /// Most open client TCP connections; further connections are closed at once.
    pub max_tcp_connections: usize,
    /// A TCP connection with no complete query for this long is closed.
    pub tcp_idle_timeout: Duration,
    /// Most queries being answered at once across all listeners; beyond it UDP queries are dropped.
    pub max_in_flight: usize,
    /// Extra trust anchors (DER certificates) for DNS-over-TLS upstreams, beside the built-in Mozilla roots.
    pub tls_extra_roots_der: Vec<Vec<u8>>,
    /// The captive portal is on: unknown devices get the block-page address for the OS
    /// connectivity-check names (`captive::PROBE_NAMES`), so their OS opens the portal.
    pub captive_portal: bool,
}

impl Default for DnsConfig {
    fn default() -> DnsConfig {
        let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 53);
        DnsConfig {
            listen_udp: vec![any],
            listen_tcp: vec![any],
            upstreams: Vec::new(),
            upstream_timeout: Duration::from_millis(700),
            servfail_after: Duration::from_secs(2),
            block_page_v4: None,
            block_page_v6: None,
            blocked_ttl: 60,
            rewrite_ttl: 60,
            cache_entries: 20_000,
            cache_max_ttl: 86_400,
            negative_max_ttl: 900,
            max_tcp_connections: 1_000,
            tcp_idle_timeout: Duration::from_secs(10),
            max_in_flight: 10_000,
            tls_extra_roots_der: Vec::new(),
            captive_portal: false,
        }
    }
}
