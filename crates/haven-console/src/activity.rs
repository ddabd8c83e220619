//! Activity search: by person, device, group, category, decision, name and time, newest first,
//! 50 to a page by keyset (never a count over the whole log), with CSV export. Every search
//! that names a person is itself recorded (who looked, when, from where, and a mandatory
//! reason) before any result is shown; the DSL can read that record.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use haven_store::{Action, ActivityQuery, Cursor, StoredEvent};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::ConsoleState;
use crate::api::ApiError;
use crate::error::ConsoleError;
use crate::guard::{ClientAddr, Principal};
use crate::pages::{Fields, field, rfc3339};
use crate::view::{self, Layout};

/// Rows per page.
pub const PAGE_ROWS: u32 = 50;
/// Most rows one CSV export holds.
pub const CSV_ROWS: u32 = 10_000;

fn when_field(q: &Fields, name: &str) -> Result<Option<Timestamp>, ConsoleError> {
    let v = field(q, name);
    if v.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = v.parse::<Timestamp>() {
        return Ok(Some(t));
    }
    let tz = jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC);
    let civil: Result<jiff::civil::DateTime, _> = v.parse();
    let date: Result<jiff::civil::Date, _> = v.parse();
    let z = match (civil, date) {
        (Ok(c), _) => c.to_zoned(tz),
        (_, Ok(d)) => d.to_zoned(tz),
        _ => return Err(ConsoleError::BadRequest(format!("{name}: `{v}` is not a time such as 2026-09-01 or 2026-09-01T12:30"))),
    };
    z.map(|z| Some(z.timestamp())).map_err(|e| ConsoleError::BadRequest(format!("{name}: {e}")))
}

/// The query a form asks for, and the person it names (if any).
pub fn query_of(q: &Fields, limit: u32) -> Result<(ActivityQuery, Option<String>), ConsoleError> {
    let mut a = ActivityQuery::new().limit(limit);
    let opt = |n: &str| Some(field(q, n)).filter(|v| !v.is_empty()).map(str::to_owned);
    a.user = opt("user");
    a.device = opt("device");
    a.group = opt("group");
    a.category = opt("category");
    a.name = opt("name");
    a.action = match field(q, "decision") {
        "" | "any" => None,
        "allow" => Some(Action::Allow),
        "block" => Some(Action::Block),
        other => return Err(ConsoleError::BadRequest(format!("decision: `{other}` must be allow or block"))),
    };
    a.from = when_field(q, "from")?;
    a.to = when_field(q, "to")?;
    if let Some((t, i)) = field(q, "before").split_once('.') {
        a.before = Some(Cursor {
            time_ms: t.parse().map_err(|_| ConsoleError::BadRequest("before: not a page position".into()))?,
            id: i.parse().map_err(|_| ConsoleError::BadRequest("before: not a page position".into()))?,
        });
    }
    let person = a.user.clone().or_else(|| a.device.clone());
    Ok((a, person))
}

fn describe(q: &Fields) -> String {
    ["user", "device", "group", "category", "decision", "name", "from", "to"]
        .iter()
        .filter(|n| !field(q, n).is_empty())
        .map(|n| format!("{n}={}", field(q, n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Run a search, recording it first when it names a person (refused without a reason).
pub async fn search(state: &ConsoleState, p: &Principal, client: &str, q: &Fields, limit: u32) -> Result<Vec<StoredEvent>, ConsoleError> {
    let (query, person) = query_of(q, limit)?;
    if let Some(person) = person {
        let reason = field(q, "reason");
        if reason.is_empty() {
            return Err(ConsoleError::BadRequest("reason: a search of a named person's activity needs a reason; it is recorded".into()));
        }
        state.store.record_activity_search(&p.account.username, &person, &describe(q), reason, client, state.clock.now()).await?;
    }
    state.store.query(&query).await.map_err(|e| ConsoleError::Record(e.into()))
}

fn client(addr: Option<Extension<ClientAddr>>) -> String {
    addr.map_or_else(String::new, |c| c.0.0.ip().to_string())
}

fn row(e: &StoredEvent) -> view::ActivityRow {
    let ev = &e.event;
    view::ActivityRow {
        id: e.id,
        records: Vec::new(),
        time: view::when(ev.time),
        user: ev.user.clone().unwrap_or_default(),
        device: ev.device.clone().unwrap_or_default(),
        client: ev.client.to_string(),
        group: ev.group.clone(),
        name: ev.name.clone(),
        action: ev.action.clone(),
        category: ev.category.clone().unwrap_or_default(),
        rule: ev.rule.clone(),
    }
}

/// `GET /activity`: the search form and one page of results (`format=csv` exports).
pub async fn page(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Query(q): Query<Fields>,
) -> Result<Response, ConsoleError> {
    let searched = q.iter().any(|(k, v)| k != "reason" && k != "format" && !v.trim().is_empty());
    let csv = field(&q, "format") == "csv";
    let mut error = None;
    let mut rows = Vec::new();
    let mut older = None;
    let mut status = StatusCode::OK;
    if searched || csv {
        match search(&state, &p, &client(addr), &q, if csv { CSV_ROWS } else { PAGE_ROWS }).await {
            Ok(events) => {
                if csv {
                    return Ok(csv_response(&events));
                }
                if events.len() as u32 == PAGE_ROWS
                    && let Some(last) = events.last()
                {
                    let c = last.cursor();
                    let mut s = form_urlencoded::Serializer::new(String::new());
                    for (k, v) in q.iter().filter(|(k, _)| k != "before") {
                        s.append_pair(k, v);
                    }
                    s.append_pair("before", &format!("{}.{}", c.time_ms, c.id));
                    older = Some(format!("/activity?{}", s.finish()));
                }
                rows = events.iter().map(row).collect();
                if p.can(haven_accounts::Permission::ManageRecords) {
                    // The link back: each event shows the records that cite it.
                    for r in &mut rows {
                        r.records = state.store.records_for_event(r.id).await?;
                    }
                }
            }
            Err(ConsoleError::BadRequest(m)) => {
                error = Some(m);
                status = StatusCode::BAD_REQUEST;
            }
            Err(e) => return Err(e),
        }
    }
    let v = |n: &str| field(&q, n).to_owned();
    Ok(view::render(
        status,
        &view::ActivityPage {
            layout: Layout::new(&state, Some(&p), "Activity search", "/activity"),
            can_raise: p.can(haven_accounts::Permission::RecordConcern),
            show_records: p.can(haven_accounts::Permission::ManageRecords),
            rows,
            searched,
            error,
            older,
            user: v("user"),
            device: v("device"),
            group: v("group"),
            category: v("category"),
            decision: v("decision"),
            name: v("name"),
            from: v("from"),
            to: v("to"),
            reason: v("reason"),
            csv_href: {
                let mut s = form_urlencoded::Serializer::new(String::new());
                for (k, val) in q.iter().filter(|(k, _)| k != "before" && k != "format") {
                    s.append_pair(k, val);
                }
                s.append_pair("format", "csv");
                format!("/activity?{}", s.finish())
            },
        },
    ))
}

fn csv_response(events: &[StoredEvent]) -> Response {
    let esc = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from("id,time,channel,client,device,user,group,name,type,decision,category,rule\n");
    for e in events {
        let ev = &e.event;
        let cells = [
            e.id.to_string(),
            esc(&rfc3339(ev.time)),
            esc(ev.channel.as_str()),
            esc(&ev.client.to_string()),
            esc(ev.device.as_deref().unwrap_or("")),
            esc(ev.user.as_deref().unwrap_or("")),
            esc(&ev.group),
            esc(&ev.name),
            esc(&ev.qtype),
            esc(&ev.action),
            esc(ev.category.as_deref().unwrap_or("")),
            esc(&ev.rule),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    let mut r = out.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    r.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"haven-activity.csv\""));
    r
}

/// `GET /activity/searches`: who searched whose activity, and why.
pub async fn searches(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<Fields>,
) -> Result<Response, ConsoleError> {
    let before = field(&q, "before").parse::<i64>().ok();
    let records = state.store.activity_searches(before, 100).await?;
    let older = (records.len() >= 100).then(|| records.last().map(|r| format!("/activity/searches?before={}", r.id))).flatten();
    let rows = records
        .into_iter()
        .map(|r| view::SearchRow {
            time: view::when(r.time),
            actor: r.actor,
            person: r.person,
            filters: r.filters,
            reason: r.reason,
            client: r.client,
        })
        .collect();
    Ok(view::render(
        StatusCode::OK,
        &view::SearchesPage { layout: Layout::new(&state, Some(&p), "Activity searches", "/activity/searches"), rows, older },
    ))
}

/// `GET /api/v1/activity` (same parameters as the page; `limit` up to 1,000).
pub async fn api_search(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Query(q): Query<Fields>,
) -> Result<Response, ApiError> {
    let limit = field(&q, "limit").parse::<u32>().unwrap_or(PAGE_ROWS).clamp(1, 1000);
    let events = search(&state, &p, &client(addr), &q, limit).await?;
    let next = (events.len() as u32 == limit).then(|| events.last().map(|e| format!("{}.{}", e.cursor().time_ms, e.cursor().id))).flatten();
    let rows: Vec<Value> = events
        .iter()
        .map(|e| {
            let ev = &e.event;
            json!({ "id": e.id, "time": rfc3339(ev.time), "channel": ev.channel.as_str(), "client": ev.client.to_string(), "device": ev.device,
                    "user": ev.user, "group": ev.group, "name": ev.name, "type": ev.qtype, "decision": ev.action, "category": ev.category, "rule": ev.rule })
        })
        .collect();
    Ok(Json(json!({ "events": rows, "next": next })).into_response())
}
