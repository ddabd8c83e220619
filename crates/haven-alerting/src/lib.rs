//! The monitor stage of `haven serve`: turns the live event stream into stored, routed and
//! delivered alerts, without ever slowing filtering.
//!
//! Data flow: DNS/proxy build an `Event` → [`MonitorSink`] hands it to the activity writer and,
//! if it could raise an alert at all, offers a copy to a bounded queue (full: dropped for
//! monitoring only, counted) → the engine task ([`stage`]) runs `haven_monitor::Engine`, stores
//! new alerts with evidence and counts repeat hits → the console inbox has it; webhooks are
//! POSTed, signed ([`deliver`]); the escalation ticker ([`escalate`]) emails the first contact at
//! once and the next after each delay while nobody acknowledges it.
//!
//! Invariants: monitoring never back-pressures filtering (one `try_send`, only for events that
//! could alert); emails carry no pupil details (severity, category, time and a console link).

pub mod deliver;
pub mod escalate;
pub mod metrics;
pub mod sink;
pub mod stage;

use std::sync::Arc;
use std::time::Duration;

use haven_activity::{Event, EventSink};
use haven_config::MonitorSettings;
use haven_store::Store;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

pub use deliver::{DeliveryError, Mailer, Notice, sign};
pub use metrics::MonitorMetrics;
pub use sink::{MonitorSink, worth_monitoring};
pub use stage::StartError;

/// Where the monitor reads the time; tests pass a controllable one.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> jiff::Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// What the engine task, the ticker and the deliveries share.
pub struct Shared {
    /// The store alerts live in.
    pub store: Store,
    /// `[monitor]`.
    pub settings: MonitorSettings,
    /// School time zone.
    pub tz: jiff::tz::TimeZone,
    /// Counters.
    pub metrics: Arc<MonitorMetrics>,
    /// SMTP, when configured.
    pub mailer: Option<Mailer>,
    /// The clock escalation is timed by.
    pub clock: Arc<dyn Clock>,
    /// First wait between webhook attempts (doubles each time).
    pub webhook_backoff: Duration,
}

/// The running monitor stage.
pub struct Monitor {
    tx: mpsc::Sender<Event>,
    metrics: Arc<MonitorMetrics>,
    capacity: usize,
    tasks: Vec<JoinHandle<()>>,
}

impl Monitor {
    /// Start the engine task and the escalation ticker over `store`.
    pub async fn start(store: Store, settings: MonitorSettings, tz: jiff::tz::TimeZone, clock: Arc<dyn Clock>) -> Result<Monitor, StartError> {
        let mailer = match &settings.email {
            Some(e) => Some(Mailer::new(e).map_err(|e| StartError::Email(e.to_string()))?),
            None => None,
        };
        let (engine, rules_text) = stage::engine(&store, tz.clone()).await?;
        let capacity = settings.queue;
        let (tx, rx) = mpsc::channel(capacity);
        let metrics = Arc::new(MonitorMetrics::default());
        let shared =
            Arc::new(Shared { store, settings, tz, metrics: metrics.clone(), mailer, clock, webhook_backoff: Duration::from_millis(500) });
        let wake = Arc::new(Notify::new());
        let tasks = vec![
            tokio::spawn(stage::run(shared.clone(), engine, rules_text, rx, wake.clone())),
            tokio::spawn(escalate::ticker(shared, wake)),
        ];
        Ok(Monitor { tx, metrics, capacity, tasks })
    }

    /// The sink DNS and the proxy write to: the activity writer plus this monitor.
    pub fn sink(&self, writer: Arc<dyn EventSink>) -> Arc<MonitorSink> {
        Arc::new(MonitorSink::new(writer, self.tx.clone(), self.metrics.clone()))
    }

    /// Counters, for /metrics.
    pub fn metrics(&self) -> Arc<MonitorMetrics> {
        self.metrics.clone()
    }

    /// A renderer for /metrics: counters, queue depth and capacity, in Prometheus text form.
    pub fn renderer(&self) -> impl Fn(&mut String) + Send + Sync + 'static {
        let (tx, metrics, capacity) = (self.tx.clone(), self.metrics.clone(), self.capacity);
        move |out: &mut String| metrics.render_prometheus(out, capacity.saturating_sub(tx.capacity()), capacity)
    }

    /// Stop the tasks (events still queued are not evaluated; the activity log has them).
    pub fn shutdown(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}
