//! The escalation ticker and webhook delivery. The ticker reads unacknowledged alerts from the
//! store and, with `haven_monitor::Routing`, works out how many people should have been told by
//! now; whoever is due and not yet told gets an email (step 1 at once, one more per delay). The
//! store's delivery records are the only state, so a restart neither repeats nor forgets a step.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use haven_monitor::Contact;
use haven_policy::Severity;
use haven_store::{AlertQuery, AlertRecord, AlertState, DeliveryRecord};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;

use crate::Shared;
use crate::deliver::{Notice, post_once, webhook_body};

/// How far back the ticker looks for unacknowledged alerts.
const LOOK_BACK: SignedDuration = SignedDuration::from_hours(7 * 24);

/// The contacts for an alert, in the order of its severity's chain.
pub fn chain_for<'a>(shared: &'a Shared, severity: Severity, group: &str, raised: Timestamp) -> Vec<&'a Contact> {
    let routing = &shared.settings.routing;
    let mut chain = routing.chain_for(severity, group, raised, &shared.tz);
    if let Some((_, names)) = shared.settings.chains.iter().find(|(s, _)| *s == severity) {
        chain = names.iter().filter_map(|n| chain.iter().find(|c| &c.name == n).copied()).collect();
    }
    chain
}

/// Run forever: on every tick, and whenever a new alert is stored, send what is due.
pub async fn ticker(shared: Arc<Shared>, wake: Arc<Notify>) {
    loop {
        tick(&shared).await;
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(shared.settings.tick) => {}
        }
    }
}

/// One pass over the unacknowledged alerts.
pub async fn tick(shared: &Shared) {
    let now = shared.clock.now();
    let routing = &shared.settings.routing;
    let severities: Vec<String> =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low].iter().filter(|s| **s >= routing.notify_from).map(|s| s.as_str().to_owned()).collect();
    let q = AlertQuery { state: Some(AlertState::New), severities, from: now.checked_sub(LOOK_BACK).ok(), limit: 500, ..AlertQuery::default() };
    let alerts = match shared.store.alerts(&q).await {
        Ok(a) => a,
        Err(e) => {
            shared.metrics.store_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "reading unacknowledged alerts failed; escalation retries next tick");
            return;
        }
    };
    for alert in alerts {
        let Some(severity) = Severity::parse(&alert.severity) else { continue };
        let chain = chain_for(shared, severity, &alert.group, alert.raised);
        let due = routing.due_steps(severity, chain.len(), alert.raised, now);
        if due == 0 {
            continue;
        }
        let told = match shared.store.alert_deliveries(alert.id).await {
            Ok(d) => d.iter().filter(|d| d.channel == "email").map(|d| d.step).max().unwrap_or(0),
            Err(e) => {
                shared.metrics.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, alert = alert.id, "reading deliveries failed");
                continue;
            }
        };
        let told = usize::try_from(told).unwrap_or(0);
        for step in told + 1..=due {
            let Some(contact) = chain.get(step - 1) else { break };
            notify(shared, &alert, severity, contact, step, now).await;
        }
    }
}

async fn notify(shared: &Shared, alert: &AlertRecord, severity: Severity, contact: &Contact, step: usize, now: Timestamp) {
    let notice = Notice::of(alert, &shared.settings.console_url);
    let step_i = i64::try_from(step).unwrap_or(i64::MAX);
    let escalation = (step > 1).then(|| {
        let waited = shared.settings.routing.delay(severity).map_or(String::new(), haven_monitor::rules::format_duration);
        format!("Nobody has acknowledged it after {waited} per step; you are contact {step} in the escalation chain.")
    });
    let (status, detail) = match &shared.mailer {
        Some(m) => match m.send(&contact.email, &notice.subject(step > 1), notice.body(&shared.tz, escalation.as_deref())).await {
            Ok(()) => {
                shared.metrics.emails_sent.fetch_add(1, Ordering::Relaxed);
                ("sent", format!("{} ({})", contact.name, contact.role))
            }
            Err(e) => {
                shared.metrics.emails_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, alert = alert.id, "an alert email failed");
                ("failed", e.to_string())
            }
        },
        None => ("not_sent", "no [monitor.email] configured; the console inbox has it".to_owned()),
    };
    let d = DeliveryRecord { at: Timestamp::now(), channel: "email".into(), recipient: contact.email.clone(), step: step_i, status: status.into(), detail };
    if let Err(e) = shared.store.record_delivery(alert.id, &d).await {
        shared.metrics.store_errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %e, alert = alert.id, "recording an email delivery failed");
    }
    if step > 1 {
        shared.metrics.escalations.fetch_add(1, Ordering::Relaxed);
        let detail = format!("not acknowledged; escalated to {} ({}), step {step}", contact.name, contact.role);
        if let Err(e) = shared.store.append_alert_log(alert.id, now, "monitor", "escalated", &detail).await {
            tracing::error!(error = %e, alert = alert.id, "recording an escalation failed");
        }
        webhooks(shared, alert.id, severity, "escalated", step_i).await;
    }
}

/// Send an alert to every webhook that takes its severity, each in its own task with retries
/// and backoff; every attempt is recorded.
pub async fn webhooks(shared: &Shared, id: i64, severity: Severity, event: &'static str, step: i64) {
    let hooks: Vec<_> = shared.settings.webhooks.iter().filter(|h| severity >= h.min_severity).cloned().collect();
    if hooks.is_empty() {
        return;
    }
    let alert = match shared.store.alert(id).await {
        Ok(Some(a)) => a,
        _ => return,
    };
    let notice = Notice::of(&alert, &shared.settings.console_url);
    for hook in hooks {
        let body = webhook_body(&alert, &notice, event, step, hook.trusted_moderation);
        let (store, metrics, clock, backoff) = (shared.store.clone(), shared.metrics.clone(), shared.clock.clone(), shared.webhook_backoff);
        tokio::spawn(async move {
            let mut wait = backoff;
            for attempt in 1..=hook.attempts {
                let result = post_once(&hook, &body, clock.now()).await;
                let (status, detail) = match &result {
                    Ok(code) => ("sent", format!("attempt {attempt}: HTTP {code}")),
                    Err(e) => ("failed", format!("attempt {attempt} of {}: {e}", hook.attempts)),
                };
                let counter = if result.is_ok() { &metrics.webhooks_sent } else { &metrics.webhooks_failed };
                counter.fetch_add(1, Ordering::Relaxed);
                let d = DeliveryRecord { at: Timestamp::now(), channel: "webhook".into(), recipient: hook.url.clone(), step, status: status.into(), detail };
                if let Err(e) = store.record_delivery(id, &d).await {
                    tracing::error!(error = %e, alert = id, "recording a webhook delivery failed");
                }
                if result.is_ok() {
                    return;
                }
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            tracing::warn!(alert = id, url = %hook.url, "webhook delivery gave up after every attempt");
        });
    }
}
