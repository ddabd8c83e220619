//! The activity event: one attributed record per DNS query or web request.
//!
//! Front ends (DNS, proxy) build an `Event` from each decision and hand it to an `EventSink`
//! without waiting; the store's batched writer is the production sink. This crate sits between
//! them so the front ends never depend on a database and the store never depends on a protocol.

use std::net::IpAddr;

use jiff::Timestamp;

/// Which front end saw the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A DNS query.
    Dns,
    /// A web request through the proxy.
    Proxy,
}

impl Channel {
    /// Stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Dns => "dns",
            Channel::Proxy => "proxy",
        }
    }

    /// Parse the stored word.
    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "dns" => Some(Channel::Dns),
            "proxy" => Some(Channel::Proxy),
            _ => None,
        }
    }
}

/// Flags a DSL filters on: bypass attempts, safe-search rewrites, illegal-floor hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Flags(u8);

impl Flags {
    /// An attempt to get round the filter (DoH canary, Private Relay, VPN, proxy, DoH category).
    pub const BYPASS: Flags = Flags(1);
    /// The answer was rewritten to a safe-search host.
    pub const SAFE_SEARCH: Flags = Flags(2);
    /// The illegal-content floor blocked it.
    pub const ILLEGAL: Flags = Flags(4);
    /// Served from Haven's cache rather than an upstream.
    pub const CACHED: Flags = Flags(8);
    /// HTTPS seen without interception: only host-level rules (name, SNI) could apply, not URL rules.
    pub const HOST_ONLY: Flags = Flags(16);

    /// Raw bits, for storage.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// From stored bits.
    pub fn from_bits(b: u8) -> Flags {
        Flags(b)
    }

    /// True when every flag in `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Set the flags in `other`.
    pub fn insert(&mut self, other: Flags) {
        self.0 |= other.0;
    }
}

/// One request, attributed to a person, a device and a time, with the decision and its reason.
///
/// These fields meet the DfE requirement to record device, address, individual, time and the
/// content being blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When, in UTC (millisecond precision is stored).
    pub time: Timestamp,
    /// DNS or proxy.
    pub channel: Channel,
    /// Client address.
    pub client: IpAddr,
    /// Device name, if known.
    pub device: Option<String>,
    /// User name, if known.
    pub user: Option<String>,
    /// Group whose policy applied.
    pub group: String,
    /// Query name (DNS) or URL (proxy).
    pub name: String,
    /// DNS query type (`A`, `AAAA`, `HTTPS`, ...) or HTTP method.
    pub qtype: String,
    /// `allow` or `block`.
    pub action: String,
    /// Deciding category id, if any.
    pub category: Option<String>,
    /// The deciding rule's reference (`ks3/gambling`, `floor/iwf`, `ks3-site-2`).
    pub rule: String,
    /// The list source and entry that matched, if a list decided.
    pub list_source: Option<String>,
    /// The matched list entry.
    pub list_entry: Option<String>,
    /// Bypass, safe-search, illegal, cached.
    pub flags: Flags,
    /// Upstream outcome (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, `timeout`, or empty when not forwarded).
    pub upstream: Option<String>,
    /// Time to answer, microseconds (for the proxy: the whole request or tunnel).
    pub latency_us: u32,
    /// What only a web request has (status, bytes, SNI); `None` for DNS queries.
    pub web: Option<WebDetail>,
}

/// The parts of a proxied web request that a DNS query does not have.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebDetail {
    /// The TLS server name the client sent inside a CONNECT tunnel or to the transparent port.
    pub sni: Option<String>,
    /// HTTP status returned to the client (200 for an established tunnel, 403 for a block).
    pub status: u16,
    /// Bytes from the client to the origin (request body, or tunnel upstream).
    pub bytes_up: u64,
    /// Bytes from the origin to the client (response body, or tunnel downstream).
    pub bytes_down: u64,
}

/// Where front ends put events. Must never block the answer path: a full queue drops and counts.
pub trait EventSink: Send + Sync {
    /// Queue an event; returns false when it had to be dropped (the sink counts drops).
    fn record(&self, event: Event) -> bool;
}

/// A sink that keeps nothing, for tools and tests that do not log.
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard;

impl EventSink for Discard {
    fn record(&self, _event: Event) -> bool {
        true
    }
}
