//! Counters for the RADIUS listener, rendered in the Prometheus text format beside the DNS and
//! proxy metrics, so a school can see that its Wi-Fi controller is talking to Haven.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::packet::StatusType;

const TYPES: [&str; 6] = ["start", "interim_update", "stop", "accounting_on", "accounting_off", "other"];

/// The listener's counters; shared with whoever serves `/metrics`.
#[derive(Debug, Default)]
pub struct RadiusMetrics {
    by_type: [AtomicU64; 6],
    bad_authenticator: AtomicU64,
    unknown_client: AtomicU64,
    malformed: AtomicU64,
    responses: AtomicU64,
    not_in_directory: AtomicU64,
    sessions: AtomicU64,
}

/// A point-in-time copy, for tests and status pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RadiusCounts {
    /// Verified Accounting-Start packets.
    pub start: u64,
    /// Verified Interim-Update packets.
    pub interim_update: u64,
    /// Verified Stop packets.
    pub stop: u64,
    /// Verified Accounting-On packets.
    pub accounting_on: u64,
    /// Verified Accounting-Off packets.
    pub accounting_off: u64,
    /// Verified packets of other status types.
    pub other: u64,
    /// Packets dropped because the Request Authenticator did not match the client's secret.
    pub bad_authenticator: u64,
    /// Packets dropped because their source is no configured client.
    pub unknown_client: u64,
    /// Packets dropped because they were not readable accounting requests.
    pub malformed: u64,
    /// Accounting-Responses sent.
    pub responses: u64,
    /// Start/Interim users not found in the people directory (bound with the fallback group).
    pub not_in_directory: u64,
    /// Sessions open now.
    pub sessions: u64,
}

impl RadiusMetrics {
    fn idx(s: StatusType) -> usize {
        match s {
            StatusType::Start => 0,
            StatusType::InterimUpdate => 1,
            StatusType::Stop => 2,
            StatusType::AccountingOn => 3,
            StatusType::AccountingOff => 4,
            StatusType::Other(_) => 5,
        }
    }

    pub(crate) fn packet(&self, s: StatusType) {
        self.by_type[Self::idx(s)].fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn bad_authenticator(&self) {
        self.bad_authenticator.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn unknown_client(&self) {
        self.unknown_client.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn malformed(&self) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn response(&self) {
        self.responses.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn not_in_directory(&self) {
        self.not_in_directory.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn set_sessions(&self, n: usize) {
        self.sessions.store(n as u64, Ordering::Relaxed);
    }

    /// A copy of every counter.
    pub fn counts(&self) -> RadiusCounts {
        let t = |i: usize| self.by_type[i].load(Ordering::Relaxed);
        RadiusCounts {
            start: t(0),
            interim_update: t(1),
            stop: t(2),
            accounting_on: t(3),
            accounting_off: t(4),
            other: t(5),
            bad_authenticator: self.bad_authenticator.load(Ordering::Relaxed),
            unknown_client: self.unknown_client.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
            responses: self.responses.load(Ordering::Relaxed),
            not_in_directory: self.not_in_directory.load(Ordering::Relaxed),
            sessions: self.sessions.load(Ordering::Relaxed),
        }
    }

    /// Append the Prometheus text exposition.
    pub fn render_prometheus(&self, out: &mut String) {
        let c = self.counts();
        let _ = writeln!(out, "# HELP haven_radius_packets_total Verified RADIUS accounting packets by Acct-Status-Type.");
        let _ = writeln!(out, "# TYPE haven_radius_packets_total counter");
        for (i, t) in TYPES.iter().enumerate() {
            let _ = writeln!(out, "haven_radius_packets_total{{type=\"{t}\"}} {}", self.by_type[i].load(Ordering::Relaxed));
        }
        let lines = [
            (
                "haven_radius_bad_authenticator_total",
                "counter",
                "Packets dropped: the authenticator did not match the client's shared secret.",
                c.bad_authenticator,
            ),
            (
                "haven_radius_unknown_client_total",
                "counter",
                "Packets dropped: the source address is no configured RADIUS client.",
                c.unknown_client,
            ),
            ("haven_radius_malformed_total", "counter", "Packets dropped: not a readable Accounting-Request.", c.malformed),
            ("haven_radius_responses_total", "counter", "Accounting-Responses sent.", c.responses),
            (
                "haven_radius_not_in_directory_total",
                "counter",
                "Users not found in the people directory (fallback group applies).",
                c.not_in_directory,
            ),
            ("haven_radius_sessions", "gauge", "RADIUS sessions open now.", c.sessions),
        ];
        for (name, kind, help, value) in lines {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
    }
}
