//! The DSL's alert inbox and each alert's evidence and lifecycle, as pages and as JSON.
//!
//! - `/alerts`: newest first, filtered by severity, state, category and group; an
//!   unacknowledged critical alert is marked with its age (severity is always written out, never
//!   shown by colour alone).
//! - `/alerts/{id}`: who, which device, when (school time), what (the address and the search
//!   terms with the matched words in `<mark>`), the rule that fired and why in plain English, the
//!   person's activity five minutes either side, the lifecycle log and the deliveries. **Every
//!   view is appended to the alert's log** before anything is shown.
//! - Acknowledge, then exactly one outcome: no further action, false positive or excluded (each
//!   with a reason; an exclusion with a scope and an end), or raised as a concern through the
//!   records page (`/records/new?alert=ID`), which links the record. A closed alert has no way
//!   back to open: the store refuses a second outcome and there is no reopen route.
//!
//! Pupils' names appear only to viewers with [`Permission::ViewPeople`].

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use haven_accounts::Permission;
use haven_store::{AlertOutcome, AlertQuery, AlertRecord, AlertState, NewExclusion, StoredEvent};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::ConsoleState;
use crate::api::ApiError;
use crate::error::ConsoleError;
use crate::guard::Principal;
use crate::pages::{Fields, field, rfc3339};
use crate::policy::json_fields;
use crate::view::{self, Layout};

/// One of the five severities: its stored word, the word people read, and the dashboard keys.
pub struct Level {
    /// Stored word.
    pub id: &'static str,
    /// What the DSL reads.
    pub label: &'static str,
    /// Dashboard/API key for open alerts of this severity.
    pub open_key: &'static str,
    /// Dashboard/API key for unacknowledged alerts of this severity.
    pub new_key: &'static str,
}

/// The five severities, most urgent first.
pub const LEVELS: [Level; 5] = [
    Level { id: "critical", label: "Critical", open_key: "alerts_open_critical", new_key: "alerts_unacknowledged_critical" },
    Level { id: "high", label: "High", open_key: "alerts_open_high", new_key: "alerts_unacknowledged_high" },
    Level { id: "medium", label: "Medium", open_key: "alerts_open_medium", new_key: "alerts_unacknowledged_medium" },
    Level { id: "low", label: "Low", open_key: "alerts_open_low", new_key: "alerts_unacknowledged_low" },
    Level { id: "digest", label: "Weekly report", open_key: "alerts_open_digest", new_key: "alerts_unacknowledged_digest" },
];

/// The word a DSL reads for a stored severity.
pub fn severity_label(sev: &str) -> &str {
    LEVELS.iter().find(|l| l.id == sev).map_or(sev, |l| l.label)
}

/// Where an alert stands, in words ("New", "Acknowledged by jo", "Closed: False positive").
pub fn state_words(a: &AlertRecord) -> String {
    match (a.state, a.outcome) {
        (AlertState::Closed, Some(o)) => format!("Closed: {}", o.label()),
        (AlertState::Closed, None) => "Closed".into(),
        (AlertState::Acknowledged, _) => format!("Acknowledged by {}", a.ack_by.as_deref().unwrap_or("someone")),
        (AlertState::New, _) => "New".into(),
    }
}

/// What a viewer without `ViewPeople` sees instead of a person's name.
pub const HIDDEN_PERSON: &str = "a pupil (name hidden)";

/// The person's name, or [`HIDDEN_PERSON`] for viewers who may not read names.
pub fn who(p: &Principal, person: &str) -> String {
    if p.can(Permission::ViewPeople) { person.to_owned() } else { HIDDEN_PERSON.to_owned() }
}

/// How long ago, in words ("12 min", "3 h 5 min", "2 days").
pub fn age(now: Timestamp, then: Timestamp) -> String {
    let mins = now.duration_since(then).as_secs().max(0) / 60;
    match mins {
        0 => "under a minute".into(),
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} days", m / (24 * 60)),
    }
}

/// The open-alert counts per severity for the dashboard (aggregates; no names).
pub async fn dashboard_stats(state: &ConsoleState) -> Result<Vec<view::Stat>, ConsoleError> {
    let counts = state.store.open_alert_counts().await?;
    let mut stats = Vec::new();
    for l in &LEVELS {
        let open: i64 = counts.iter().filter(|(s, _, _)| s == l.id).map(|(_, _, n)| n).sum();
        let new: i64 = counts.iter().filter(|(s, st, _)| s == l.id && *st == AlertState::New).map(|(_, _, n)| n).sum();
        stats.push(view::Stat { key: l.open_key, label: format!("open {} alerts", l.label.to_lowercase()), value: open });
        stats.push(view::Stat { key: l.new_key, label: format!("{} alerts nobody has acknowledged", l.label.to_lowercase()), value: new });
    }
    Ok(stats)
}

/// The inbox filters a request asks for.
pub fn inbox_query(q: &Fields) -> Result<AlertQuery, ConsoleError> {
    let mut a = AlertQuery { limit: 200, ..Default::default() };
    match field(q, "severity") {
        "" | "any" => {}
        s if LEVELS.iter().any(|l| l.id == s) => a.severities = vec![s.to_owned()],
        other => return Err(ConsoleError::BadRequest(format!("severity: `{other}` must be critical, high, medium, low or digest"))),
    }
    match field(q, "state") {
        "" | "any" => {}
        "open" => a.open_only = true,
        "new" => a.state = Some(AlertState::New),
        "acknowledged" => a.state = Some(AlertState::Acknowledged),
        "closed" => a.state = Some(AlertState::Closed),
        other => return Err(ConsoleError::BadRequest(format!("state: `{other}` must be open, new, acknowledged or closed"))),
    }
    let opt = |n: &str| Some(field(q, n)).filter(|v| !v.is_empty()).map(str::to_owned);
    a.category = opt("category");
    a.group = opt("group");
    Ok(a)
}

fn row(state: &ConsoleState, p: &Principal, a: &AlertRecord) -> view::AlertRow {
    let urgent = a.severity == "critical" && a.state == AlertState::New;
    view::AlertRow {
        id: a.id,
        raised: view::when(a.raised),
        age: age(state.clock.now(), a.raised),
        severity: a.severity.clone(),
        severity_label: severity_label(&a.severity).to_owned(),
        state: a.state.as_str().to_owned(),
        state_words: state_words(a),
        hits: a.hits,
        category: a.category.clone(),
        rule: a.rule.clone(),
        title: a.title.clone(),
        who: who(p, &a.person),
        group: a.group.clone(),
        urgent,
    }
}

/// `GET /alerts` (`severity`, `state`, `category`, `group`).
pub async fn inbox(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<Fields>,
) -> Result<Response, ConsoleError> {
    let (rows, error, status) = match inbox_query(&q) {
        Ok(query) => (state.store.alerts(&query).await?.iter().map(|a| row(&state, &p, a)).collect(), None, StatusCode::OK),
        Err(ConsoleError::BadRequest(m)) => (Vec::new(), Some(m), StatusCode::BAD_REQUEST),
        Err(e) => return Err(e),
    };
    let v = |n: &str| field(&q, n).to_owned();
    Ok(view::render(
        status,
        &view::AlertsPage {
            layout: Layout::new(&state, Some(&p), "Alerts", "/alerts"),
            levels: LEVELS.iter().map(|l| (l.id, l.label)).collect(),
            rows,
            error,
            severity: v("severity"),
            state: v("state"),
            category: v("category"),
            group: v("group"),
        },
    ))
}

/// Split search terms into pieces, marking the words that the matched keywords cover (compared
/// after the monitor's own normalisation, so `k1ll` is marked for a match on `kill`). Phrases
/// are marked only where their words appear in order.
pub fn highlight(terms: &str, matched: &[String]) -> Vec<(String, bool)> {
    let mut tokens: Vec<(String, bool)> = Vec::new();
    for c in terms.chars() {
        let word = !c.is_whitespace();
        match tokens.last_mut() {
            Some((t, w)) if *w == word => t.push(c),
            _ => tokens.push((c.to_string(), word)),
        }
    }
    // Each whitespace-separated token may normalise to several words (`kill-my_self`).
    let flat: Vec<(String, usize)> = tokens
        .iter()
        .enumerate()
        .filter(|(_, (_, w))| *w)
        .flat_map(|(i, (t, _))| haven_monitor::normalise(t).split_whitespace().map(|w| (w.to_owned(), i)).collect::<Vec<_>>())
        .collect();
    let mut marked = vec![false; tokens.len()];
    for m in matched {
        let phrase: Vec<String> = haven_monitor::normalise(m).split_whitespace().map(str::to_owned).collect();
        if phrase.is_empty() || phrase.len() > flat.len() {
            continue;
        }
        for start in 0..=(flat.len() - phrase.len()) {
            if flat[start..start + phrase.len()].iter().map(|(w, _)| w).eq(phrase.iter()) {
                let (first, last) = (flat[start].1, flat[start + phrase.len() - 1].1);
                for flag in &mut marked[first..=last] {
                    *flag = true;
                }
            }
        }
    }
    let mut out: Vec<(String, bool)> = Vec::new();
    for (i, (t, _)) in tokens.into_iter().enumerate() {
        match out.last_mut() {
            Some((s, m)) if *m == marked[i] => s.push_str(&t),
            _ => out.push((t, marked[i])),
        }
    }
    out
}

fn event_row(e: &StoredEvent, raised_by: &[StoredEvent]) -> view::EvidenceRow {
    let ev = &e.event;
    let tz = jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC);
    view::EvidenceRow {
        time: ev.time.to_zoned(tz).strftime("%H:%M:%S").to_string(),
        channel: if ev.channel.as_str() == "dns" { "Looked up".into() } else { "Web request".into() },
        name: ev.name.clone(),
        decision: if ev.action == "block" { "Blocked".into() } else { "Allowed".into() },
        category: ev.category.clone().unwrap_or_default(),
        trigger: raised_by.iter().any(|r| r.event.time == ev.time && r.event.name == ev.name),
    }
}

/// Load an alert or answer 404.
async fn load(state: &ConsoleState, id: i64) -> Result<AlertRecord, ConsoleError> {
    state.store.alert(id).await?.ok_or(ConsoleError::NotFound("alert"))
}

/// Record that `p` looked at alert `id`'s evidence (before it is shown).
async fn record_view(state: &ConsoleState, p: &Principal, id: i64, surface: &str) -> Result<(), ConsoleError> {
    state.store.append_alert_log(id, state.clock.now(), &p.account.username, "viewed", surface).await?;
    Ok(())
}

/// The rule that fired, explained, from the rules in force (or a note that it has gone).
async fn rule_words(state: &ConsoleState, rule: &str) -> String {
    match crate::alerts_rules::rules_in_force(&state.store).await {
        Ok((_, set, _)) => set.get(rule).map_or_else(
            || format!("The rule `{rule}` is no longer in the rule set."),
            crate::alerts_rules::plain_english,
        ),
        Err(_) => format!("The rule `{rule}` (the rule set could not be read)."),
    }
}

/// The detail page for alert `id`, with an optional message or error, logged as a view.
async fn detail_page(
    state: &ConsoleState,
    p: &Principal,
    id: i64,
    message: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let a = load(state, id).await?;
    record_view(state, p, id, "page").await?;
    let keywords = state.store.alert_keywords(id).await?;
    let raised_by = state.store.alert_events(id).await?;
    let around = state.store.alert_surrounding(&a).await?;
    let names = p.can(Permission::ViewPeople);
    let matched: Vec<String> = keywords.iter().map(|k| k.matched.clone()).chain(keywords.iter().map(|k| k.term.clone())).collect();
    let terms = a.search_terms.as_deref().map(|t| highlight(t, &matched)).unwrap_or_default();
    let first_url = raised_by.first().map(|e| e.event.name.clone()).unwrap_or_default();
    let log = state
        .store
        .alert_log(id)
        .await?
        .into_iter()
        .map(|l| view::LogRow { time: view::when(l.at), actor: l.actor, action: l.action, detail: l.detail })
        .collect();
    let deliveries = state
        .store
        .alert_deliveries(id)
        .await?
        .into_iter()
        .map(|d| view::DeliveryRow {
            time: view::when(d.at),
            channel: d.channel,
            recipient: d.recipient,
            step: d.step,
            status: d.status,
            detail: d.detail,
        })
        .collect();
    Ok(view::render(
        status,
        &view::AlertPage {
            layout: Layout::new(state, Some(p), &format!("Alert {id}: {}", a.title), "/alerts"),
            row: row(state, p, &a),
            why: a.why.clone(),
            rule_words: rule_words(state, &a.rule).await,
            device: a.device.clone().unwrap_or_else(|| "not known".into()),
            client: a.client.clone(),
            last: view::when(a.last),
            subject: a.subject.clone(),
            url: first_url,
            search_engine: a.search_engine.clone().unwrap_or_default(),
            terms,
            keywords: keywords
                .into_iter()
                .map(|k| view::KeywordRow { term: k.term, category: k.category, severity: k.severity, rationale: k.rationale, library: k.library })
                .collect(),
            evidence: if names { around.iter().map(|e| event_row(e, &raised_by)).collect() } else { Vec::new() },
            evidence_hidden: !names,
            log,
            deliveries,
            closed: a.state == AlertState::Closed,
            acknowledged: a.state != AlertState::New,
            outcome_reason: a.outcome_reason.clone().unwrap_or_default(),
            outcome_by: a.outcome_by.clone().unwrap_or_default(),
            outcome_at: a.outcome_at.map(view::when).unwrap_or_default(),
            concern_link: a.concern_link.clone().unwrap_or_default(),
            message,
            error,
        },
    ))
}

/// `GET /alerts/{id}`.
pub async fn detail(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, Path(id): Path<i64>) -> Result<Response, ConsoleError> {
    detail_page(&state, &p, id, None, None, StatusCode::OK).await
}

/// Acknowledge: the first acknowledgement counts; a second is refused with who had it.
pub async fn acknowledge_alert(state: &ConsoleState, p: &Principal, id: i64) -> Result<AlertRecord, ConsoleError> {
    if !state.store.acknowledge_alert(id, &p.account.username, state.clock.now()).await? {
        let a = load(state, id).await?;
        return Err(ConsoleError::BadRequest(format!("state: this alert is already {}", state_words(&a).to_lowercase())));
    }
    load(state, id).await
}

/// Parse the `until` of an exclusion: a length such as `7d` or a date (`2026-12-31`, school time).
fn exclusion_end(text: &str, now: Timestamp) -> Result<Timestamp, ConsoleError> {
    let t = text.trim();
    if t.is_empty() || t == "never" {
        return Err(ConsoleError::BadRequest("until: an exclusion must end; give a length such as 30d or a date such as 2026-12-31".into()));
    }
    if let Ok(d) = t.parse::<jiff::civil::Date>() {
        let tz = jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC);
        return d.to_zoned(tz).map(|z| z.timestamp()).map_err(|e| ConsoleError::BadRequest(format!("until: {e}")));
    }
    let len = crate::policy::parse_expiry(t)
        .map_err(|_| ConsoleError::BadRequest(format!("until: `{t}` is not a length such as 30d or a date such as 2026-12-31")))?
        .ok_or_else(|| ConsoleError::BadRequest("until: an exclusion must end".into()))?;
    now.checked_add(len).map_err(|e| ConsoleError::BadRequest(format!("until: {e}")))
}

/// Record an outcome from form or JSON fields: `outcome` (`no_further_action`, `false_positive`,
/// `excluded`), `reason`, and for an exclusion `scope` (`person`, `subject`, `rule`) and `until`.
/// A concern is raised from the records page, which links the record; it is refused here.
pub async fn close_alert(state: &ConsoleState, p: &Principal, id: i64, f: &Fields) -> Result<AlertRecord, ConsoleError> {
    let a = load(state, id).await?;
    if a.state == AlertState::Closed {
        return Err(ConsoleError::BadRequest(format!("outcome: this alert is already {}; an outcome cannot be changed", state_words(&a).to_lowercase())));
    }
    let now = state.clock.now();
    let who_ = p.account.username.as_str();
    let reason = field(f, "reason");
    let outcome = match field(f, "outcome") {
        "" => return Err(ConsoleError::BadRequest("outcome: choose no further action, false positive or excluded".into())),
        "concern" => {
            return Err(ConsoleError::BadRequest(format!(
                "outcome: raise a concern from the records page (/records/new?alert={id}), which links the record to this alert"
            )));
        }
        o => AlertOutcome::parse(o).ok_or_else(|| {
            ConsoleError::BadRequest(format!("outcome: `{o}` must be no_further_action, false_positive or excluded"))
        })?,
    };
    if reason.is_empty() {
        return Err(ConsoleError::BadRequest(format!("reason: \"{}\" needs a reason", outcome.label())));
    }
    if outcome == AlertOutcome::Excluded {
        let until = exclusion_end(field(f, "until"), now)?;
        let (person, rule, subject) = match field(f, "scope") {
            "person" => (Some(a.person.as_str()), None, None),
            "subject" => (None, None, Some(a.subject.as_str())),
            "rule" => (None, Some(a.rule.as_str()), None),
            "person_rule" => (Some(a.person.as_str()), Some(a.rule.as_str()), None),
            other => {
                return Err(ConsoleError::BadRequest(format!(
                    "scope: `{other}` must be person (this person), subject (this site or search), rule (this rule) or person_rule"
                )));
            }
        };
        let x = NewExclusion { created_by: who_, person, rule, subject, until, reason, from_alert: Some(id) };
        state.store.add_exclusion(&x, now).await?;
    }
    if !state.store.close_alert(id, outcome, reason, who_, now, None).await? {
        return Err(ConsoleError::BadRequest("outcome: this alert already has an outcome".into()));
    }
    load(state, id).await
}

/// `POST /alerts/{id}/acknowledge`.
pub async fn acknowledge(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Response, ConsoleError> {
    match acknowledge_alert(&state, &p, id).await {
        Ok(_) => detail_page(&state, &p, id, Some("Acknowledged: you have this alert in hand.".into()), None, StatusCode::OK).await,
        Err(ConsoleError::BadRequest(m)) => detail_page(&state, &p, id, None, Some(m), StatusCode::CONFLICT).await,
        Err(e) => Err(e),
    }
}

/// `POST /alerts/{id}/close`.
pub async fn close(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    match close_alert(&state, &p, id, &f).await {
        Ok(a) => detail_page(&state, &p, id, Some(format!("Closed: {}.", state_words(&a).trim_start_matches("Closed: "))), None, StatusCode::OK).await,
        Err(ConsoleError::BadRequest(m)) => detail_page(&state, &p, id, None, Some(m), StatusCode::BAD_REQUEST).await,
        Err(e) => Err(e),
    }
}

/// An alert as JSON (the person's name only with `ViewPeople`).
pub fn alert_json(p: &Principal, a: &AlertRecord) -> Value {
    json!({
        "id": a.id, "raised": rfc3339(a.raised), "last": rfc3339(a.last), "hits": a.hits, "severity": a.severity,
        "state": a.state.as_str(), "outcome": a.outcome.map(AlertOutcome::as_str), "outcome_reason": a.outcome_reason,
        "outcome_by": a.outcome_by, "outcome_at": a.outcome_at.map(rfc3339), "acknowledged_by": a.ack_by,
        "acknowledged_at": a.ack_at.map(rfc3339), "category": a.category, "rule": a.rule, "title": a.title, "why": a.why,
        "person": who(p, &a.person), "group": a.group, "concern_link": a.concern_link,
    })
}

/// `GET /api/v1/alerts` (same filters as the inbox).
pub async fn api_list(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, Query(q): Query<Fields>) -> Result<Response, ApiError> {
    let alerts: Vec<Value> = state.store.alerts(&inbox_query(&q)?).await?.iter().map(|a| alert_json(&p, a)).collect();
    Ok(Json(json!({ "alerts": alerts })).into_response())
}

/// `GET /api/v1/alerts/{id}`: the alert with its evidence (the read is logged).
pub async fn api_get(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let a = load(&state, id).await?;
    record_view(&state, &p, id, "api").await?;
    let mut v = alert_json(&p, &a);
    v["device"] = json!(a.device);
    v["subject"] = json!(a.subject);
    v["search_engine"] = json!(a.search_engine);
    v["search_terms"] = json!(a.search_terms);
    v["rule_words"] = json!(rule_words(&state, &a.rule).await);
    v["keywords"] = state
        .store
        .alert_keywords(id)
        .await?
        .into_iter()
        .map(|k| json!({ "term": k.term, "matched": k.matched, "category": k.category, "severity": k.severity, "rationale": k.rationale, "library": k.library }))
        .collect();
    let event = |e: &StoredEvent| json!({ "time": rfc3339(e.event.time), "channel": e.event.channel.as_str(), "name": e.event.name, "decision": e.event.action, "category": e.event.category });
    if p.can(Permission::ViewPeople) {
        v["events"] = state.store.alert_events(id).await?.iter().map(event).collect();
        v["surrounding"] = state.store.alert_surrounding(&a).await?.iter().map(event).collect();
    }
    v["log"] = state
        .store
        .alert_log(id)
        .await?
        .into_iter()
        .map(|l| json!({ "at": rfc3339(l.at), "actor": l.actor, "action": l.action, "detail": l.detail }))
        .collect();
    v["deliveries"] = state
        .store
        .alert_deliveries(id)
        .await?
        .into_iter()
        .map(|d| json!({ "at": rfc3339(d.at), "channel": d.channel, "recipient": d.recipient, "step": d.step, "status": d.status, "detail": d.detail }))
        .collect();
    Ok(Json(v).into_response())
}

/// `POST /api/v1/alerts/{id}/acknowledge`.
pub async fn api_acknowledge(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    match acknowledge_alert(&state, &p, id).await {
        Ok(a) => Ok(Json(alert_json(&p, &a)).into_response()),
        Err(ConsoleError::BadRequest(m)) => Ok(crate::guard::api_error(StatusCode::CONFLICT, &m)),
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/v1/alerts/{id}/close` (JSON: outcome, reason, scope, until).
pub async fn api_close(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    body: Option<Json<Value>>,
) -> Result<Response, ApiError> {
    let f = json_fields(&body.map_or(Value::Null, |b| b.0));
    let a = close_alert(&state, &p, id, &f).await?;
    Ok(Json(alert_json(&p, &a)).into_response())
}
