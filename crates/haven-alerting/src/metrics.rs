//! Counters the monitor stage keeps for /metrics: queued and dropped events, alerts raised by
//! severity, deliveries sent and failed, escalations.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use haven_policy::Severity;

/// Severities alerts are counted under, in /metrics order.
const SEVERITIES: [Severity; 5] = [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Digest];

/// The monitor's counters; shared by the sink, the engine task and the deliveries.
#[derive(Debug, Default)]
pub struct MonitorMetrics {
    /// Events offered to the monitor queue.
    pub queued: AtomicU64,
    /// Events dropped for monitoring only because the queue was full.
    pub dropped: AtomicU64,
    /// Events the engine looked at.
    pub evaluated: AtomicU64,
    /// Alerts raised, by severity (index into `SEVERITIES`).
    alerts: [AtomicU64; 5],
    /// Hits counted on an open alert.
    pub deduplicated: AtomicU64,
    /// Hits an exclusion suppressed.
    pub excluded: AtomicU64,
    /// Store writes that failed.
    pub store_errors: AtomicU64,
    /// Emails handed to SMTP.
    pub emails_sent: AtomicU64,
    /// Emails SMTP refused or could not take.
    pub emails_failed: AtomicU64,
    /// Webhook POSTs the receiver accepted.
    pub webhooks_sent: AtomicU64,
    /// Webhook attempts that failed.
    pub webhooks_failed: AtomicU64,
    /// Escalations to a further contact.
    pub escalations: AtomicU64,
}

impl MonitorMetrics {
    /// Count a new alert of this severity.
    pub fn alert(&self, severity: Severity) {
        if let Some(i) = SEVERITIES.iter().position(|s| *s == severity) {
            self.alerts[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Alerts raised at this severity so far.
    pub fn alerts(&self, severity: Severity) -> u64 {
        SEVERITIES.iter().position(|s| *s == severity).map_or(0, |i| self.alerts[i].load(Ordering::Relaxed))
    }

    /// Append the Prometheus text form; `depth` and `capacity` describe the queue.
    pub fn render_prometheus(&self, out: &mut String, depth: usize, capacity: usize) {
        let counters = [
            ("haven_monitor_queued_total", "Events offered to the monitor.", &self.queued),
            ("haven_monitor_dropped_total", "Events dropped for monitoring only (queue full); the activity log still has them.", &self.dropped),
            ("haven_monitor_evaluated_total", "Events the rule engine looked at.", &self.evaluated),
            ("haven_monitor_deduplicated_total", "Hits counted on an open alert instead of raising another.", &self.deduplicated),
            ("haven_monitor_excluded_total", "Hits suppressed by an exclusion.", &self.excluded),
            ("haven_monitor_store_errors_total", "Alert writes or reads that failed.", &self.store_errors),
            ("haven_monitor_emails_sent_total", "Alert emails handed to SMTP.", &self.emails_sent),
            ("haven_monitor_emails_failed_total", "Alert emails SMTP did not take.", &self.emails_failed),
            ("haven_monitor_webhooks_sent_total", "Webhook deliveries accepted.", &self.webhooks_sent),
            ("haven_monitor_webhooks_failed_total", "Webhook attempts that failed.", &self.webhooks_failed),
            ("haven_monitor_escalations_total", "Unacknowledged alerts escalated to a further contact.", &self.escalations),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP haven_monitor_alerts_total Alerts raised, by severity.\n# TYPE haven_monitor_alerts_total counter");
        for (i, s) in SEVERITIES.iter().enumerate() {
            let _ = writeln!(out, "haven_monitor_alerts_total{{severity=\"{}\"}} {}", s.as_str(), self.alerts[i].load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP haven_monitor_queue_depth Events waiting for the monitor.\n# TYPE haven_monitor_queue_depth gauge\nhaven_monitor_queue_depth {depth}");
        let _ = writeln!(
            out,
            "# HELP haven_monitor_queue_capacity Events the monitor queue holds before dropping.\n# TYPE haven_monitor_queue_capacity gauge\nhaven_monitor_queue_capacity {capacity}"
        );
    }
}
