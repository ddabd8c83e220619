//! The engine task: takes events off the monitor queue, runs the rule engine, stores new alerts
//! with their evidence and counts repeat hits; every few seconds re-reads the rules, exclusions
//! and closed alerts the console changed. New alerts go to the console inbox at once (a
//! delivery record), to the webhooks, and to the escalation ticker for email.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use haven_activity::Event;
use haven_monitor::{AlertDraft, AlertRef, Engine, Exclusion, KeywordMatcher, Library, Outcome, RuleSet};
use haven_store::{AlertKeyword, AlertState, DeliveryRecord, NewAlert, Store};
use jiff::Timestamp;
use tokio::sync::{Notify, mpsc};

use crate::Shared;

/// Why the monitor could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A shipped keyword library did not parse (a build problem, not a school's).
    #[error("keyword libraries: {0}")]
    Keywords(String),
    /// The rules (from the store, else the defaults) did not parse.
    #[error("alert rules: {0}")]
    Rules(String),
    /// `[monitor.email]` could not be used.
    #[error("{0}")]
    Email(String),
}

/// The engine with the shipped libraries and the rules in force (the store's, else the defaults).
pub async fn engine(store: &Store, tz: jiff::tz::TimeZone) -> Result<(Engine, Option<String>), StartError> {
    let libraries = Library::shipped().map_err(|e| StartError::Keywords(e.to_string()))?;
    let matcher = KeywordMatcher::new(&libraries).map_err(|e| StartError::Keywords(e.to_string()))?;
    let stored = match store.current_rules().await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "reading the alert rules failed; the shipped defaults are in force");
            None
        }
    };
    let rules = match &stored {
        Some(text) => match RuleSet::parse("console", text) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "the stored alert rules do not parse; the shipped defaults are in force");
                RuleSet::defaults().map_err(|e| StartError::Rules(e.to_string()))?
            }
        },
        None => RuleSet::defaults().map_err(|e| StartError::Rules(e.to_string()))?,
    };
    Ok((Engine::new(rules, matcher, tz), stored))
}

/// Engine reference -> stored alert id and when it was raised (to forget old ones).
type Open = HashMap<AlertRef, (i64, Timestamp)>;

/// Run until the queue closes.
pub async fn run(shared: Arc<Shared>, mut engine: Engine, mut rules_text: Option<String>, mut rx: mpsc::Receiver<Event>, wake: Arc<Notify>) {
    let mut open: Open = HashMap::new();
    let mut reload = tokio::time::interval(shared.settings.reload);
    reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => handle(&shared, &mut engine, &mut open, &ev, &wake).await,
                None => break,
            },
            _ = reload.tick() => refresh(&shared, &mut engine, &mut open, &mut rules_text).await,
        }
    }
}

async fn handle(shared: &Shared, engine: &mut Engine, open: &mut Open, ev: &Event, wake: &Notify) {
    shared.metrics.evaluated.fetch_add(1, Ordering::Relaxed);
    match engine.evaluate(ev) {
        None => {}
        Some(Outcome::Excluded { .. }) => {
            shared.metrics.excluded.fetch_add(1, Ordering::Relaxed);
        }
        Some(Outcome::Repeat { alert, event }) => {
            shared.metrics.deduplicated.fetch_add(1, Ordering::Relaxed);
            if let Some((id, _)) = open.get(&alert)
                && let Err(e) = shared.store.count_alert_hit(*id, &event).await
            {
                shared.metrics.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, alert = id, "counting a repeat hit on an alert failed");
            }
        }
        Some(Outcome::New(draft)) => match store_alert(&shared.store, &draft).await {
            Ok(id) => {
                shared.metrics.alert(draft.severity);
                open.insert(draft.reference, (id, ev.time));
                tracing::info!(alert = id, severity = draft.severity.as_str(), category = %draft.category, rule = %draft.rule, "alert raised");
                let inbox = DeliveryRecord {
                    at: Timestamp::now(),
                    channel: "console".into(),
                    recipient: "inbox".into(),
                    step: 0,
                    status: "delivered".into(),
                    detail: String::new(),
                };
                if let Err(e) = shared.store.record_delivery(id, &inbox).await {
                    shared.metrics.store_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, alert = id, "recording the console delivery failed");
                }
                crate::escalate::webhooks(shared, id, draft.severity, "raised", 0).await;
                wake.notify_one();
            }
            Err(e) => {
                shared.metrics.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, rule = %draft.rule, "storing an alert failed");
            }
        },
    }
}

/// Store a draft with its evidence.
pub async fn store_alert(store: &Store, d: &AlertDraft) -> Result<i64, haven_store::RecordError> {
    let keywords: Vec<AlertKeyword> = d
        .keywords
        .iter()
        .map(|k| AlertKeyword {
            term: k.term.clone(),
            matched: k.matched.clone(),
            category: k.category.clone(),
            severity: k.severity.as_str().to_owned(),
            rationale: k.rationale.clone(),
            library: k.library.clone(),
        })
        .collect();
    let raised = d.events.last().map_or_else(Timestamp::now, |e| e.time);
    store
        .insert_alert(&NewAlert {
            raised,
            rule: &d.rule,
            title: &d.title,
            why: &d.why,
            severity: d.severity.as_str(),
            category: &d.category,
            person: &d.person,
            group: &d.group,
            subject: &d.subject,
            search_engine: d.search.as_ref().map(|s| s.engine.as_str()),
            search_terms: d.search.as_ref().map(|s| s.terms.as_str()),
            keywords: &keywords,
            events: &d.events,
        })
        .await
}

/// Re-read rules, exclusions and closed alerts; forget state past its windows.
async fn refresh(shared: &Shared, engine: &mut Engine, open: &mut Open, rules_text: &mut Option<String>) {
    let now = shared.clock.now();
    match shared.store.current_rules().await {
        Ok(text) if text != *rules_text => {
            let parsed = match &text {
                Some(t) => RuleSet::parse("console", t),
                None => RuleSet::defaults(),
            };
            match parsed {
                Ok(r) => {
                    tracing::info!(rules = r.rules.len(), "alert rules changed in the console; now in force");
                    engine.set_rules(r);
                    *rules_text = text;
                }
                Err(e) => tracing::error!(error = %e, "the stored alert rules do not parse; the rules in force stay"),
            }
        }
        Ok(_) => {}
        Err(e) => {
            shared.metrics.store_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "reading the alert rules failed");
        }
    }
    match shared.store.active_exclusions(now).await {
        Ok(xs) => engine.set_exclusions(
            xs.into_iter()
                .map(|x| Exclusion { id: x.id, person: x.person, rule: x.rule, subject: x.subject, until: x.until, reason: x.reason })
                .collect(),
        ),
        Err(e) => {
            shared.metrics.store_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "reading the alert exclusions failed");
        }
    }
    let mut closed = Vec::new();
    for (r, (id, _)) in open.iter() {
        match shared.store.alert(*id).await {
            Ok(Some(a)) if a.state == AlertState::Closed => closed.push(*r),
            Ok(None) => closed.push(*r),
            Ok(Some(_)) => {}
            Err(e) => {
                shared.metrics.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, alert = id, "reading an alert's state failed");
                break;
            }
        }
    }
    for r in closed {
        engine.close(r);
        open.remove(&r);
    }
    engine.expire(now);
    // Past the longest dedupe window an open alert no longer collects hits; a day covers every default.
    open.retain(|_, (_, raised)| now.duration_since(*raised) < jiff::SignedDuration::from_hours(48));
}
