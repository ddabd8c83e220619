//! Who hears about an alert, and when it escalates: by severity and pupil group, to named
//! people in an ordered chain, with out-of-hours contacts. Pure: times are passed in.

use std::time::Duration;

use haven_policy::Severity;
use haven_policy::schedule::{LocalTime, Span};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A named person alerts can go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Their name, as the school knows them.
    pub name: String,
    /// Their safeguarding role (`DSL`, `Deputy DSL`, `Head of Year 9`).
    pub role: String,
    /// Where email goes.
    pub email: String,
    /// Only alerts about pupils in these groups (empty: every group).
    pub groups: Vec<String>,
    /// Lowest severity they are told about at once.
    pub min_severity: Severity,
    /// True when they are on the out-of-hours rota (the only contacts used out of hours).
    pub out_of_hours: bool,
    /// True when they are used in school hours.
    pub in_hours: bool,
}

/// Routing settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// The escalation chain, in order: the first suitable contact hears first.
    pub chain: Vec<Contact>,
    /// School hours (local time); outside them only out-of-hours contacts are used.
    pub school_hours: Vec<Span>,
    /// How long an unacknowledged alert waits before going to the next person, per severity
    /// (no entry: that severity does not escalate).
    pub escalate_after: Vec<(Severity, Duration)>,
    /// Lowest severity that is sent immediately at all (lower ones wait for the digest).
    pub notify_from: Severity,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            chain: Vec::new(),
            school_hours: Span::parse("Mon-Fri 08:00-17:00").into_iter().collect(),
            escalate_after: vec![(Severity::Critical, Duration::from_secs(300)), (Severity::High, Duration::from_secs(3600))],
            notify_from: Severity::High,
        }
    }
}

/// One step of the chain: who to tell, and why them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<'a> {
    /// Position in the suitable contacts (0: first).
    pub index: usize,
    /// The contact.
    pub contact: &'a Contact,
}

impl Routing {
    /// True at school hours.
    pub fn in_school_hours(&self, at: Timestamp, tz: &TimeZone) -> bool {
        let local = LocalTime::at(at, tz);
        self.school_hours.iter().any(|s| s.contains(local))
    }

    /// The contacts suitable for an alert raised at `raised`, in escalation order.
    pub fn chain_for(&self, severity: Severity, group: &str, raised: Timestamp, tz: &TimeZone) -> Vec<&Contact> {
        if severity < self.notify_from {
            return Vec::new();
        }
        let in_hours = self.in_school_hours(raised, tz);
        self.chain
            .iter()
            .filter(|c| severity >= c.min_severity)
            .filter(|c| c.groups.is_empty() || c.groups.iter().any(|g| g == group))
            .filter(|c| if in_hours { c.in_hours } else { c.out_of_hours })
            .collect()
    }

    /// The delay before escalating an unacknowledged alert of this severity.
    pub fn delay(&self, severity: Severity) -> Option<Duration> {
        self.escalate_after.iter().find(|(s, _)| *s == severity).map(|(_, d)| *d)
    }

    /// How many people should have been told by `now` about an alert raised at `raised` and not
    /// yet acknowledged: 1 at once, one more per elapsed delay, up to the chain's length.
    pub fn due_steps(&self, severity: Severity, chain_len: usize, raised: Timestamp, now: Timestamp) -> usize {
        if chain_len == 0 {
            return 0;
        }
        let Some(delay) = self.delay(severity) else { return 1 };
        let elapsed = now.duration_since(raised);
        if elapsed.is_negative() || delay.is_zero() {
            return 1;
        }
        let steps = elapsed.unsigned_abs().as_millis() / delay.as_millis().max(1);
        (1 + usize::try_from(steps).unwrap_or(usize::MAX)).min(chain_len)
    }

    /// The time the next escalation falls due after `told` people have been told.
    pub fn next_due(&self, severity: Severity, chain_len: usize, raised: Timestamp, told: usize) -> Option<Timestamp> {
        if told >= chain_len {
            return None;
        }
        let delay = self.delay(severity)?;
        let span = jiff::SignedDuration::try_from(delay.checked_mul(u32::try_from(told).ok()?)?).ok()?;
        raised.checked_add(span).ok()
    }
}
