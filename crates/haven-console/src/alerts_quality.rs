//! Alert quality from the DSL's own outcomes (`haven_monitor::quality`): precision per rule and
//! per category, time to acknowledge and to outcome (median and 90th percentile), the share of
//! closed alerts acted on (the goal: more than half), and how many critical alerts were
//! acknowledged within five minutes. Aggregates only, so governors may read it: no names.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use haven_monitor::quality::{Precision, Quality, Scored, quality};
use haven_store::AlertQuery;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::ConsoleState;
use crate::api::ApiError;
use crate::error::ConsoleError;
use crate::guard::Principal;
use crate::view::{self, Layout};

/// Most alerts one report reads (newest first).
pub const REPORT_ALERTS: u32 = 100_000;

/// How soon a critical alert should be acknowledged.
pub const CRITICAL_ACK_WITHIN: SignedDuration = SignedDuration::from_mins(5);

/// The report and the critical-alert figures: (report, critical alerts due, of which acknowledged in time).
pub struct Report {
    /// Precision and response times.
    pub quality: Quality,
    /// Critical alerts old enough to judge (acknowledged, or raised more than five minutes ago).
    pub critical_due: u64,
    /// Of which acknowledged within five minutes.
    pub critical_in_time: u64,
    /// Alerts read.
    pub alerts: usize,
}

/// Compute the report over the stored alerts at `now`.
pub async fn report(state: &ConsoleState, now: Timestamp) -> Result<Report, ConsoleError> {
    let alerts = state.store.alerts(&AlertQuery { limit: REPORT_ALERTS, ..Default::default() }).await?;
    let since = |t: Option<Timestamp>, raised: Timestamp| t.map(|t| t.as_millisecond() - raised.as_millisecond());
    let items: Vec<Scored> = alerts
        .iter()
        .map(|a| Scored {
            rule: a.rule.clone(),
            category: a.category.clone(),
            outcome: a.outcome.map(|o| o.as_str().to_owned()),
            ack_ms: since(a.ack_at, a.raised),
            outcome_ms: since(a.outcome_at, a.raised),
        })
        .collect();
    let window = CRITICAL_ACK_WITHIN.as_millis() as i64;
    let critical: Vec<_> = alerts
        .iter()
        .filter(|a| a.severity == "critical")
        .filter(|a| a.ack_at.is_some() || now.as_millisecond() - a.raised.as_millisecond() > window)
        .collect();
    let in_time = critical.iter().filter(|a| since(a.ack_at, a.raised).is_some_and(|ms| ms <= window)).count();
    Ok(Report { quality: quality(&items), critical_due: critical.len() as u64, critical_in_time: in_time as u64, alerts: alerts.len() })
}

/// Milliseconds in words: "45 s", "4 min 10 s", "2 h 5 min".
pub fn duration_words(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "no closed alerts yet".into(), |p| format!("{:.0} %", p * 100.0))
}

fn rows(list: &[Precision]) -> Vec<view::PrecisionRow> {
    list.iter()
        .map(|p| view::PrecisionRow {
            key: p.key.clone(),
            closed: p.closed,
            false_positives: p.false_positives,
            acted_on: p.acted_on,
            precision: percent(p.precision),
        })
        .collect()
}

/// `GET /alerts/quality`.
pub async fn page(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> Result<Response, ConsoleError> {
    let r = report(&state, state.clock.now()).await?;
    let pair = |x: Option<(i64, i64)>| x.map(|(m, p90)| (duration_words(m), duration_words(p90)));
    Ok(view::render(
        StatusCode::OK,
        &view::QualityPage {
            layout: Layout::new(&state, Some(&p), "Alert quality", "/alerts/quality"),
            alerts: r.alerts,
            by_rule: rows(&r.quality.by_rule),
            by_category: rows(&r.quality.by_category),
            ack: pair(r.quality.ack),
            outcome: pair(r.quality.outcome),
            acted_on: percent(r.quality.overall),
            goal_met: r.quality.overall.is_some_and(|x| x > 0.5),
            critical_due: r.critical_due,
            critical_in_time: r.critical_in_time,
        },
    ))
}

fn precision_json(list: &[Precision]) -> Vec<Value> {
    list.iter()
        .map(|p| json!({ "key": p.key, "closed": p.closed, "false_positives": p.false_positives, "acted_on": p.acted_on, "precision": p.precision }))
        .collect()
}

/// `GET /api/v1/alerts/quality` (times in milliseconds).
pub async fn api_quality(State(state): State<ConsoleState>) -> Result<Response, ApiError> {
    let r = report(&state, state.clock.now()).await?;
    let pair = |x: Option<(i64, i64)>| x.map(|(m, p90)| json!({ "median_ms": m, "p90_ms": p90 }));
    Ok(Json(json!({
        "alerts": r.alerts,
        "by_rule": precision_json(&r.quality.by_rule),
        "by_category": precision_json(&r.quality.by_category),
        "time_to_acknowledge": pair(r.quality.ack),
        "time_to_outcome": pair(r.quality.outcome),
        "acted_on": r.quality.overall,
        "critical_due": r.critical_due,
        "critical_acknowledged_within_5_min": r.critical_in_time,
    }))
    .into_response())
}
