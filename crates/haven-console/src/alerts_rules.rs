//! Alert rules as data, edited in the console, and the exclusions list.
//!
//! `/alerts/rules` shows the rules in force (the school's latest saved set, else the shipped
//! defaults) each in plain English, and takes either the whole set as text (the format of
//! `haven_monitor::rules`, checked before saving; an error names the line and field) or one
//! rule's severity and on/off switch. **Every change needs a reason** and is appended with the
//! before and after text to the rule change log (`record_rule_change`), shown on the same page.
//! `/alerts/exclusions` lists every exclusion, in force and expired: who made it, why, until when.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use haven_accounts::Permission;
use haven_monitor::rules::{DEFAULT_RULES, format_duration};
use haven_monitor::{Rule, RuleSet, Trigger};
use haven_policy::Severity;
use haven_store::Store;
use serde_json::{Value, json};

use crate::ConsoleState;
use crate::alerts::{HIDDEN_PERSON, severity_label};
use crate::api::ApiError;
use crate::error::ConsoleError;
use crate::guard::Principal;
use crate::pages::{Fields, field, rfc3339};
use crate::policy::json_fields;
use crate::view::{self, Layout};

/// The rules in force: (text, parsed set, whether these are the shipped defaults).
pub async fn rules_in_force(store: &Store) -> Result<(String, RuleSet, bool), ConsoleError> {
    let (text, default) = match store.current_rules().await? {
        Some(t) => (t, false),
        None => (DEFAULT_RULES.to_owned(), true),
    };
    let set = RuleSet::parse(if default { "default-rules.txt" } else { "saved rules" }, &text)
        .map_err(|e| ConsoleError::BadRequest(format!("rules: the saved rules no longer parse ({e})")))?;
    Ok((text, set, default))
}

fn trigger_words(t: &Trigger) -> String {
    match t {
        Trigger::Illegal => "someone tries to reach content on the illegal-content list (IWF/CTIRU)".into(),
        Trigger::Bypass => "someone tries to get round the filter (VPN, proxy or DNS over HTTPS)".into(),
        Trigger::Category(c) => match c.strip_suffix('*') {
            Some(prefix) => format!("the filter blocks a site in any category starting `{prefix}`"),
            None => format!("the filter blocks a site in the `{c}` category"),
        },
        Trigger::Keyword(k) if k == "*" => "a search matches any entry in the safeguarding keyword libraries".into(),
        Trigger::Keyword(k) => format!("a search matches a `{k}` entry in the keyword libraries"),
    }
}

/// One rule in plain English: what makes it fire, how serious, for whom, when, and how repeats count.
pub fn plain_english(r: &Rule) -> String {
    let mut s = format!("\"{}\" (rule `{}`): fires when {}", r.title, r.id, trigger_words(&r.trigger));
    if let Some(rep) = r.repeat {
        s += &format!(", but only once the same person has done so {} times within {}", rep.count, format_duration(rep.within));
    }
    s += &match r.severity {
        Some(sev) => format!(". Severity: {}.", severity_label(sev.as_str())),
        None => ". Severity: that of the keyword entry that matched.".to_owned(),
    };
    if !r.groups.is_empty() {
        s += &format!(" Only for pupils in {}.", r.groups.join(", "));
    }
    if !r.hours.is_empty() {
        s += &format!(" Only {} {}.", if r.outside { "outside" } else { "during" }, r.hours_text);
    }
    s += &format!(" Further hits by the same person on the same thing within {} are counted on one alert.", format_duration(r.dedupe));
    if !r.enabled {
        s += " This rule is switched off.";
    }
    s
}

/// Save a new rule set as text with a reason: refused without a reason, when the text does not
/// parse (the error names the line and field), or when nothing changed. Returns the parsed set.
pub async fn save_rules(state: &ConsoleState, actor: &str, text: &str, reason: &str) -> Result<RuleSet, ConsoleError> {
    if reason.trim().is_empty() {
        return Err(ConsoleError::BadRequest("reason: every change to the alert rules needs a reason (it goes in the change log)".into()));
    }
    if text.trim().is_empty() {
        return Err(ConsoleError::BadRequest("rules: the rule set is empty; give at least one rule".into()));
    }
    let set = RuleSet::parse("rules", text).map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
    let (before, _, _) = rules_in_force(&state.store).await?;
    let after = text.replace("\r\n", "\n");
    if after.trim() == before.trim() {
        return Err(ConsoleError::BadRequest("rules: nothing changed".into()));
    }
    state.store.record_rule_change(actor, reason, &before, &after, state.clock.now()).await?;
    Ok(set)
}

/// One rule's severity and on/off switch changed, written back as text (comments dropped).
async fn set_one(state: &ConsoleState, actor: &str, f: &Fields) -> Result<RuleSet, ConsoleError> {
    let (_, mut set, _) = rules_in_force(&state.store).await?;
    let id = field(f, "rule");
    let rule = set.rules.iter_mut().find(|r| r.id == id).ok_or_else(|| ConsoleError::BadRequest(format!("rule: there is no rule `{id}`")))?;
    match field(f, "severity") {
        "" | "keyword" if matches!(rule.trigger, Trigger::Keyword(_)) => rule.severity = None,
        s => match Severity::parse(s) {
            Some(sev) if sev != Severity::None => rule.severity = Some(sev),
            _ => return Err(ConsoleError::BadRequest(format!("severity: `{s}` must be critical, high, medium, low or digest"))),
        },
    }
    rule.enabled = field(f, "enabled") == "true";
    save_rules(state, actor, &set.to_text(), field(f, "reason")).await
}

async fn rules_page(state: &ConsoleState, p: &Principal, text: Option<&str>, message: Option<String>, error: Option<String>, reason: &str) -> Result<Response, ConsoleError> {
    let (current, set, default) = rules_in_force(&state.store).await?;
    let rows = set
        .rules
        .iter()
        .map(|r| view::RuleRow {
            id: r.id.clone(),
            words: plain_english(r),
            severity: r.severity.map_or("keyword", |s| s.as_str()).to_owned(),
            keyword: matches!(r.trigger, Trigger::Keyword(_)),
            enabled: r.enabled,
        })
        .collect();
    let changes = state
        .store
        .rule_changes(50)
        .await?
        .into_iter()
        .map(|c| view::RuleChangeRow { time: view::when(c.at), actor: c.actor, reason: c.reason, before: c.before, after: c.after })
        .collect();
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(view::render(
        status,
        &view::AlertRulesPage {
            layout: Layout::new(state, Some(p), "Alert rules", "/alerts/rules"),
            rows,
            text: text.map_or(current, str::to_owned),
            default,
            changes,
            message,
            error,
            reason: reason.to_owned(),
            levels: crate::alerts::LEVELS.iter().map(|l| (l.id, l.label)).collect(),
        },
    ))
}

/// `GET /alerts/rules`.
pub async fn page(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> Result<Response, ConsoleError> {
    rules_page(&state, &p, None, None, None, "").await
}

/// `POST /alerts/rules`: `text` and `reason` (the whole set), or `rule`, `severity`, `enabled`
/// and `reason` (one rule).
pub async fn save(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, Form(f): Form<Fields>) -> Result<Response, ConsoleError> {
    let actor = p.account.username.as_str();
    let whole = !field(&f, "text").is_empty() || field(&f, "rule").is_empty();
    let result = if whole {
        let text = f.iter().find(|(k, _)| k == "text").map_or("", |(_, v)| v.as_str());
        save_rules(&state, actor, text, field(&f, "reason")).await
    } else {
        set_one(&state, actor, &f).await
    };
    match result {
        Ok(set) => rules_page(&state, &p, None, Some(format!("Saved: {} rules in force. The change is in the log below.", set.rules.len())), None, "").await,
        Err(ConsoleError::BadRequest(m)) => {
            let text = if whole { f.iter().find(|(k, _)| k == "text").map(|(_, v)| v.as_str()) } else { None };
            rules_page(&state, &p, text, None, Some(m), field(&f, "reason")).await
        }
        Err(e) => Err(e),
    }
}

fn exclusion_rows(p: &Principal, list: Vec<haven_store::ExclusionRecord>, now: jiff::Timestamp) -> Vec<view::ExclusionRow> {
    let names = p.can(Permission::ViewPeople);
    list.into_iter()
        .map(|x| {
            let mut scope = Vec::new();
            if let Some(person) = &x.person {
                scope.push(format!("person {}", if names { person.as_str() } else { HIDDEN_PERSON }));
            }
            if let Some(rule) = &x.rule {
                scope.push(format!("rule {rule}"));
            }
            if let Some(subject) = &x.subject {
                scope.push(format!("site or search {subject}"));
            }
            view::ExclusionRow {
                id: x.id,
                created: view::when(x.created),
                created_at: rfc3339(x.created),
                created_by: x.created_by,
                scope: if scope.is_empty() { "everything".into() } else { scope.join(", ") },
                until: view::when(x.until),
                until_at: rfc3339(x.until),
                active: x.until > now,
                reason: x.reason,
                from_alert: x.from_alert,
            }
        })
        .collect()
}

/// `GET /alerts/exclusions`.
pub async fn exclusions(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> Result<Response, ConsoleError> {
    let rows = exclusion_rows(&p, state.store.exclusions(500).await?, state.clock.now());
    Ok(view::render(StatusCode::OK, &view::ExclusionsPage { layout: Layout::new(&state, Some(&p), "Alert exclusions", "/alerts"), rows }))
}

/// `GET /api/v1/alerts/exclusions`.
pub async fn api_exclusions(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> Result<Response, ApiError> {
    let rows: Vec<Value> = exclusion_rows(&p, state.store.exclusions(500).await?, state.clock.now())
        .into_iter()
        .map(|x| json!({ "id": x.id, "created": x.created_at, "created_by": x.created_by, "scope": x.scope, "until": x.until_at, "active": x.active, "reason": x.reason, "from_alert": x.from_alert }))
        .collect();
    Ok(Json(json!({ "exclusions": rows })).into_response())
}

/// `GET /api/v1/alerts/rules`: the text, each rule in plain English, and the change log.
pub async fn api_rules(State(state): State<ConsoleState>) -> Result<Response, ApiError> {
    let (text, set, default) = rules_in_force(&state.store).await?;
    let rules: Vec<Value> = set.rules.iter().map(|r| json!({ "id": r.id, "line": r.to_line(), "plain_english": plain_english(r), "enabled": r.enabled })).collect();
    let changes: Vec<Value> = state
        .store
        .rule_changes(50)
        .await?
        .into_iter()
        .map(|c| json!({ "id": c.id, "at": rfc3339(c.at), "actor": c.actor, "reason": c.reason, "before": c.before, "after": c.after }))
        .collect();
    Ok(Json(json!({ "text": text, "defaults": default, "rules": rules, "changes": changes })).into_response())
}

/// `PUT /api/v1/alerts/rules` (JSON: text, reason).
pub async fn api_put_rules(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, body: Option<Json<Value>>) -> Result<Response, ApiError> {
    let f = json_fields(&body.map_or(Value::Null, |b| b.0));
    let set = save_rules(&state, &p.account.username, field(&f, "text"), field(&f, "reason")).await?;
    Ok(Json(json!({ "saved": true, "rules": set.rules.len() })).into_response())
}
