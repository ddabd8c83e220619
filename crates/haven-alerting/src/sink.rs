//! The fan-out sink: every event goes to the activity writer, and the few that could raise an
//! alert are also offered to the monitor's bounded queue. Offering never waits: when the monitor
//! is behind, the event is dropped for monitoring only (the activity log still has it) and counted.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use haven_activity::{Channel, Event, EventSink, Flags};
use tokio::sync::mpsc;

use crate::metrics::MonitorMetrics;

/// True when an event could make any rule fire: blocked, carrying the illegal or bypass flag, or
/// a proxied URL with a query string (search terms). Allowed DNS answers — nearly all traffic —
/// are never cloned or queued, so monitoring costs the answer path a few comparisons.
pub fn worth_monitoring(e: &Event) -> bool {
    e.action == "block"
        || e.flags.contains(Flags::ILLEGAL)
        || e.flags.contains(Flags::BYPASS)
        || (e.channel == Channel::Proxy && e.name.contains('?'))
}

/// An [`EventSink`] that feeds the activity writer and the monitor.
pub struct MonitorSink {
    writer: Arc<dyn EventSink>,
    tx: mpsc::Sender<Event>,
    metrics: Arc<MonitorMetrics>,
}

impl MonitorSink {
    /// A sink in front of `writer` that also offers events to the monitor queue `tx`.
    pub fn new(writer: Arc<dyn EventSink>, tx: mpsc::Sender<Event>, metrics: Arc<MonitorMetrics>) -> MonitorSink {
        MonitorSink { writer, tx, metrics }
    }
}

impl EventSink for MonitorSink {
    fn record(&self, event: Event) -> bool {
        if worth_monitoring(&event) {
            match self.tx.try_send(event.clone()) {
                Ok(()) => {
                    self.metrics.queued.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.writer.record(event)
    }
}
