//! Counters and a latency histogram for the DNS service, lock-free, rendered in the Prometheus
//! text exposition format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds (0.1 ms to 2 s, then +Inf).
pub const LATENCY_BUCKETS: [f64; 14] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0];

/// How one query ended, for the per-outcome counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered from upstream or cache.
    Allowed,
    /// Blocked by policy or the illegal floor.
    Blocked,
    /// Answered with a safe-search rewrite.
    Rewritten,
    /// A bypass attempt (canary, Private Relay, bypass category).
    Bypass,
    /// No upstream answered in time.
    Servfail,
    /// Refused: unreadable name, zone transfer, non-IN class.
    Refused,
}

impl Outcome {
    const ALL: [Outcome; 6] =
        [Outcome::Allowed, Outcome::Blocked, Outcome::Rewritten, Outcome::Bypass, Outcome::Servfail, Outcome::Refused];

    fn label(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Blocked => "blocked",
            Outcome::Rewritten => "rewritten",
            Outcome::Bypass => "bypass",
            Outcome::Servfail => "servfail",
            Outcome::Refused => "refused",
        }
    }
}

/// A point-in-time copy of the counters, for tests and status pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnsCounts {
    /// Queries answered from upstream or cache.
    pub allowed: u64,
    /// Queries blocked.
    pub blocked: u64,
    /// Queries answered with a safe-search rewrite.
    pub rewritten: u64,
    /// Bypass attempts.
    pub bypass: u64,
    /// Queries answered SERVFAIL because no upstream answered.
    pub servfail: u64,
    /// Queries refused.
    pub refused: u64,
    /// Malformed queries answered FORMERR (or NOTIMP / BADVERS).
    pub formerr: u64,
    /// Packets dropped unanswered: unparseable, responses sent to us, or over the in-flight limit.
    pub dropped: u64,
    /// Answers sent with the TC bit because they did not fit the client's UDP size.
    pub truncated: u64,
    /// Failed tries at an upstream (timeouts, errors, SERVFAIL/REFUSED answers).
    pub upstream_errors: u64,
    /// Questions answered from the cache.
    pub cache_hits: u64,
    /// Questions that had to go upstream.
    pub cache_misses: u64,
    /// TCP connections closed at once because the connection limit was reached.
    pub tcp_rejected: u64,
    /// Client TCP connections open now.
    pub tcp_open: u64,
    /// Events the sink refused (its queue was full).
    pub events_dropped: u64,
}

/// The DNS service's counters; shared with whoever serves `/metrics`.
#[derive(Debug, Default)]
pub struct DnsMetrics {
    outcomes: [AtomicU64; 6],
    formerr: AtomicU64,
    dropped: AtomicU64,
    truncated: AtomicU64,
    upstream_errors: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    tcp_rejected: AtomicU64,
    tcp_open: AtomicU64,
    events_dropped: AtomicU64,
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl DnsMetrics {
    /// Fresh counters, all zero.
    pub fn new() -> DnsMetrics {
        DnsMetrics::default()
    }

    pub(crate) fn outcome(&self, o: Outcome, latency: Duration) {
        if let Some(c) = self.outcomes.get(o as usize) {
            bump(c);
        }
        let secs = latency.as_secs_f64();
        let i = LATENCY_BUCKETS.iter().position(|&b| secs <= b).unwrap_or(LATENCY_BUCKETS.len());
        if let Some(c) = self.latency.get(i) {
            bump(c);
        }
        self.latency_sum_us.fetch_add(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub(crate) fn formerr(&self) {
        bump(&self.formerr);
    }
    pub(crate) fn dropped(&self) {
        bump(&self.dropped);
    }
    pub(crate) fn truncated(&self) {
        bump(&self.truncated);
    }
    pub(crate) fn upstream_error(&self) {
        bump(&self.upstream_errors);
    }
    pub(crate) fn cache_hit(&self) {
        bump(&self.cache_hits);
    }
    pub(crate) fn cache_miss(&self) {
        bump(&self.cache_misses);
    }
    pub(crate) fn tcp_rejected(&self) {
        bump(&self.tcp_rejected);
    }
    pub(crate) fn tcp_opened(&self) {
        bump(&self.tcp_open);
    }
    pub(crate) fn tcp_closed(&self) {
        self.tcp_open.fetch_sub(1, Ordering::Relaxed);
    }
    pub(crate) fn event_dropped(&self) {
        bump(&self.events_dropped);
    }

    /// Copy every counter now.
    pub fn counts(&self) -> DnsCounts {
        let o = |x: Outcome| self.outcomes[x as usize].load(Ordering::Relaxed);
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DnsCounts {
            allowed: o(Outcome::Allowed),
            blocked: o(Outcome::Blocked),
            rewritten: o(Outcome::Rewritten),
            bypass: o(Outcome::Bypass),
            servfail: o(Outcome::Servfail),
            refused: o(Outcome::Refused),
            formerr: l(&self.formerr),
            dropped: l(&self.dropped),
            truncated: l(&self.truncated),
            upstream_errors: l(&self.upstream_errors),
            cache_hits: l(&self.cache_hits),
            cache_misses: l(&self.cache_misses),
            tcp_rejected: l(&self.tcp_rejected),
            tcp_open: l(&self.tcp_open),
            events_dropped: l(&self.events_dropped),
        }
    }

    /// Append every metric in the Prometheus text format (version 0.0.4) to `out`.
    pub fn render_prometheus(&self, out: &mut String) {
        let c = self.counts();
        // Writing to a String cannot fail; the results are ignored for that reason.
        let _ = writeln!(out, "# HELP haven_dns_queries_total DNS queries answered, by outcome.");
        let _ = writeln!(out, "# TYPE haven_dns_queries_total counter");
        for o in Outcome::ALL {
            let _ =
                writeln!(out, "haven_dns_queries_total{{outcome=\"{}\"}} {}", o.label(), self.outcomes[o as usize].load(Ordering::Relaxed));
        }
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {v}");
        };
        counter("haven_dns_malformed_total", "Malformed queries answered FORMERR, NOTIMP or BADVERS.", c.formerr);
        counter("haven_dns_dropped_total", "Packets dropped unanswered (garbage, stray responses, overload).", c.dropped);
        counter("haven_dns_truncated_total", "UDP answers sent truncated (TC) for the client to retry over TCP.", c.truncated);
        counter("haven_dns_upstream_errors_total", "Failed tries at an upstream resolver.", c.upstream_errors);
        counter("haven_dns_cache_hits_total", "Questions answered from the cache.", c.cache_hits);
        counter("haven_dns_cache_misses_total", "Questions sent upstream.", c.cache_misses);
        counter("haven_dns_tcp_rejected_total", "TCP connections closed because the connection limit was reached.", c.tcp_rejected);
        counter("haven_dns_events_dropped_total", "Activity events the sink refused.", c.events_dropped);
        let _ = writeln!(out, "# HELP haven_dns_tcp_connections Client TCP connections open now.");
        let _ = writeln!(out, "# TYPE haven_dns_tcp_connections gauge");
        let _ = writeln!(out, "haven_dns_tcp_connections {}", c.tcp_open);
        let _ = writeln!(out, "# HELP haven_dns_query_duration_seconds Time from receiving a query to having its answer.");
        let _ = writeln!(out, "# TYPE haven_dns_query_duration_seconds histogram");
        let mut cumulative = 0u64;
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.latency[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "haven_dns_query_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}");
        }
        cumulative += self.latency[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "haven_dns_query_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "haven_dns_query_duration_seconds_sum {sum}");
        let _ = writeln!(out, "haven_dns_query_duration_seconds_count {cumulative}");
    }
}
