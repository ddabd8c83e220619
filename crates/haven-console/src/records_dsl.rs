//! Safeguarding records, the DSL side: the inbox of new concerns, a record with every entry in
//! chain order and the forms that append to it (triage, action, action done, referral, parents,
//! decision, note, amendment, acknowledgement, closure), a pupil's chronology with its front
//! sheet, the print view, who looked at a child's file, and the search behind a step-up.
//!
//! Every form appends one entry; nothing edits or deletes a saved one. Each record is checked
//! with [`haven_records::access::allows`] and every view, search and print is logged first.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use haven_accounts::totp::TotpSecret;
use haven_accounts::{Permission, Role};
use haven_records::bodymap::{BodyView, outline_data_url};
use haven_records::{Action, Agency, EntryKind, LinkRole, Outcome, RecordStatus, RecordType, RiskLevel, Sensitivity};
use haven_store::{NewEntry, NewRecord, RecordSummary, StateChange, StoredEntry};
use serde_json::{Value, json};

use crate::ConsoleState;
use crate::error::ConsoleError;
use crate::guard::{ClientAddr, Principal};
use crate::pages::{Fields, field};
use crate::records::{self, FRONT_SHEET, author_of, client, log_access, may, visible};
use crate::records_view::{self as rv, Opt};
use crate::view::{self, Layout};

/// `GET /records`: the DSL inbox, newest first; unread and unacknowledged marked (`all=1`
/// includes closed records).
pub async fn inbox(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Query(q): Query<Fields>,
) -> Result<Response, ConsoleError> {
    let all = field(&q, "all") == "1";
    let list = state.store.record_list(p.account.id, None, !all, 500).await?;
    let rows: Vec<rv::RecordRow> =
        list.iter().filter(|s| s.category != FRONT_SHEET && may(&p, s, Action::View)).map(|s| records::row(&state, s)).collect();
    log_access(&state, &p, &client(&addr), "inbox", None, None, &format!("{} records listed", rows.len())).await?;
    Ok(view::render(StatusCode::OK, &rv::RecordListPage { layout: Layout::new(&state, Some(&p), "Safeguarding inbox", "/records"), rows, dsl: true, all }))
}

/// New concerns this DSL may see and nobody has acknowledged: (who raised it, category, link).
/// No pupil and no content, so it can sit on the dashboard.
pub async fn notices(state: &ConsoleState, p: &Principal) -> Result<Vec<(String, String, String)>, ConsoleError> {
    if !p.can(Permission::ManageRecords) {
        return Ok(Vec::new());
    }
    let list = state.store.record_list(p.account.id, None, true, 200).await?;
    Ok(list
        .iter()
        .filter(|s| s.category != FRONT_SHEET && s.acknowledged.is_none() && may(p, s, Action::View))
        .map(|s| (s.reporter.clone(), state.records.categories.label(&s.category).to_owned(), format!("/records/{}", s.record_id)))
        .collect())
}

fn label_of(key: &str) -> String {
    let known = [
        ("occurred", "When it happened"),
        ("written", "When it was written"),
        ("account", "Account (facts)"),
        ("opinion", "Opinion"),
        ("child_words", "The child's exact words"),
        ("immediate_action", "Immediate action taken"),
        ("passed_to", "Who was told"),
        ("verbally_informed_dsl", "Told a DSL in person"),
        ("dsl_told_name", "Which DSL"),
        ("linked_pupils", "Other pupils"),
        ("subject_staff", "The adult it is about"),
        ("worry", "What the pupil wrote"),
        ("talk_to", "Who they would like to talk to"),
        ("due", "Due"),
        ("reference", "Reference number"),
        ("consent", "Consent"),
        ("reason", "Reason"),
        ("amends", "Amends entry"),
    ];
    known.iter().find(|(k, _)| *k == key).map_or_else(
        || {
            let s = key.replace('_', " ");
            let mut c = s.chars();
            c.next().map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + c.as_str())
        },
        |(_, l)| (*l).to_owned(),
    )
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "Yes" } else { "No" }.to_owned(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.iter().map(text_of).filter(|s| !s.is_empty()).collect::<Vec<_>>().join("; "),
        Value::Object(o) => {
            if let (Some(name), role) = (o.get("name").and_then(Value::as_str), o.get("role").and_then(Value::as_str)) {
                return match role.and_then(LinkRole::parse) {
                    Some(r) => format!("{name} ({})", r.label()),
                    None => name.to_owned(),
                };
            }
            o.iter().map(|(k, v)| format!("{}: {}", label_of(k), text_of(v))).filter(|s| !s.ends_with(": ")).collect::<Vec<_>>().join(", ")
        }
    }
}

fn entry_view(state: &ConsoleState, e: &StoredEntry, amended_by: Vec<i64>) -> rv::EntryView {
    let body: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
    let mut fields = Vec::new();
    let mut attachments = Vec::new();
    if let Value::Object(o) = &body {
        for (k, v) in o {
            match k.as_str() {
                "body_map" | "alert" => {}
                "attachments" => {
                    attachments = v
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| Some((x.get("sha256")?.as_str()?.to_owned(), x.get("file_name")?.as_str()?.to_owned())))
                                .collect()
                        })
                        .unwrap_or_default()
                }
                "category" => fields.push(("Category".into(), state.records.categories.label(v.as_str().unwrap_or("")).to_owned())),
                "source" => fields.push((
                    "Where it came from".into(),
                    v.as_str().and_then(haven_records::Source::parse).map_or_else(|| text_of(v), |s| s.label().to_owned()),
                )),
                "agency" => fields.push(("Agency".into(), v.as_str().and_then(Agency::parse).map_or_else(|| text_of(v), |a| a.label().to_owned()))),
                "outcome" => fields.push(("Outcome".into(), v.as_str().and_then(Outcome::parse).map_or_else(|| text_of(v), |a| a.label().to_owned()))),
                "risk" => fields.push(("Risk level".into(), v.as_str().and_then(RiskLevel::parse).map_or_else(|| text_of(v), |a| a.label().to_owned()))),
                "occurred" | "written" => fields.push((label_of(k), v.as_str().and_then(|s| s.parse().ok()).map_or_else(|| text_of(v), view::when))),
                _ => {
                    let t = text_of(v);
                    if !t.is_empty() {
                        fields.push((label_of(k), t));
                    }
                }
            }
        }
    }
    let marks = records::marks_from(&body);
    let outlines = BodyView::ALL.iter().filter(|v| marks.iter().any(|m| m.view == **v)).map(|v| outline_data_url(*v, &marks)).collect();
    for (i, m) in marks.iter().enumerate() {
        let size = m.size_mm.map(|s| format!(", {s} mm")).unwrap_or_default();
        fields.push((format!("Body map mark {}", i + 1), format!("{} at {}/{}{size}: {}", m.view.label(), m.x, m.y, m.description)));
    }
    rv::EntryView {
        seq: e.seq,
        kind: e.kind.clone(),
        kind_label: EntryKind::parse(&e.kind).map_or(e.kind.clone(), |k| k.label().to_owned()),
        author: e.author.clone(),
        occurred: view::when(e.occurred),
        created: view::when(e.created),
        hash: e.hash.clone(),
        fields,
        outlines,
        attachments,
        amended_by,
        amends: body.get("amends").and_then(Value::as_i64),
    }
}

async fn dsl_owners(state: &ConsoleState, chosen: &str) -> Result<Vec<Opt>, ConsoleError> {
    let accounts = state.store.accounts().await?;
    let mut v = vec![Opt { value: String::new(), label: "Choose".into(), selected: chosen.is_empty() }];
    for a in accounts.iter().filter(|a| !a.disabled && (a.roles.contains(Role::Dsl) || a.roles.contains(Role::DeputyDsl) || a.roles.contains(Role::Headteacher))) {
        v.push(Opt { value: a.id.to_string(), label: a.display_name.clone(), selected: a.id.to_string() == chosen });
    }
    Ok(v)
}

async fn record_page(
    state: &ConsoleState,
    p: &Principal,
    s: &RecordSummary,
    notice: Option<String>,
    error: Option<String>,
    banner: bool,
) -> Result<rv::RecordPage, ConsoleError> {
    let entries = state.store.record_entries(&s.record_id).await?;
    let bodies: Vec<Value> = entries.iter().map(|e| serde_json::from_str(&e.body).unwrap_or(Value::Null)).collect();
    let amended_by = |seq: i64| -> Vec<i64> {
        entries.iter().zip(&bodies).filter(|(e, b)| e.kind == "amendment" && b.get("amends").and_then(Value::as_i64) == Some(seq)).map(|(e, _)| e.seq).collect()
    };
    let today = state.clock.now().to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC)).date();
    let actions = entries
        .iter()
        .zip(&bodies)
        .filter(|(e, _)| e.kind == "action")
        .map(|(e, b)| {
            let done = entries.iter().zip(&bodies).any(|(d, db)| d.kind == "action_done" && db.get("action").and_then(Value::as_i64) == Some(e.seq));
            let due = b.get("due").and_then(Value::as_str).unwrap_or("").to_owned();
            let overdue = !done && due.parse::<jiff::civil::Date>().is_ok_and(|d| d < today);
            rv::ActionView {
                seq: e.seq,
                description: b.get("description").and_then(Value::as_str).unwrap_or("").to_owned(),
                owner: b.get("owner").and_then(Value::as_str).unwrap_or("").to_owned(),
                due,
                overdue,
                done,
            }
        })
        .collect();
    let cat = state.records.categories.get(&s.category);
    let dsl = p.can(Permission::ManageRecords) && may(p, s, Action::Amend) && (p.account.roles.contains(Role::Dsl) || p.account.roles.contains(Role::DeputyDsl) || p.account.roles.contains(Role::Headteacher));
    Ok(rv::RecordPage {
        layout: Layout::new(state, Some(p), "Safeguarding record", if dsl { "/records" } else { "/records/mine" }),
        csrf: p.csrf().to_owned(),
        id: s.record_id.clone(),
        record_type: RecordType::parse(&s.record_type).map_or(s.record_type.clone(), |t| t.label().to_owned()),
        category: state.records.categories.label(&s.category).to_owned(),
        guidance: cat.map(|c| c.guidance.clone()).unwrap_or_default(),
        banner: if banner { cat.and_then(|c| c.statutory_banner.clone()) } else { None },
        pupil_name: if s.pupil_name.is_empty() { "(not named)".into() } else { s.pupil_name.clone() },
        pupil_id: s.pupil_id,
        reporter: s.reporter.clone(),
        status: RecordStatus::parse(&s.status).map_or(s.status.clone(), |t| t.label().to_owned()),
        risk: s.risk.as_deref().and_then(RiskLevel::parse).map_or("not triaged".into(), |r| r.label().to_owned()),
        owner: s.owner.clone().unwrap_or_else(|| "nobody yet".into()),
        acknowledged: match (&s.acknowledged, &s.acknowledged_by) {
            (Some(t), Some(by)) => format!("{} by {by}", view::when(*t)),
            _ => String::new(),
        },
        entries: entries.iter().map(|e| entry_view(state, e, amended_by(e.seq))).collect(),
        actions,
        dsl,
        risks: Opt::list(RiskLevel::ALL.iter().map(|r| (r.as_str(), r.label())), s.risk.as_deref().unwrap_or("")),
        owners: dsl_owners(state, &s.owner_id.map(|i| i.to_string()).unwrap_or_default()).await?,
        agencies: Opt::list(Agency::ALL.iter().map(|a| (a.as_str(), a.label())).chain([("other", "Other")]), ""),
        outcomes: Opt::list(Outcome::ALL.iter().map(|o| (o.as_str(), o.label())), ""),
        statuses: Opt::list([("", "No change")].into_iter().chain(RecordStatus::ALL.iter().filter(|s| **s != RecordStatus::Closed).map(|s| (s.as_str(), s.label()))), ""),
        seqs: entries.iter().map(|e| e.seq).collect(),
        error,
        notice,
        today: today.to_string(),
    })
}

/// `GET /records/{id}`: one record with every entry in order (logged; marked read).
pub async fn record(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
    Query(q): Query<Fields>,
) -> Result<Response, ConsoleError> {
    let s = visible(&state, &p, &id, Action::View).await?;
    log_access(&state, &p, &client(&addr), "view", Some(&id), s.pupil_id, "").await?;
    state.store.mark_record_read(&id, p.account.id, state.clock.now()).await?;
    let saved = field(&q, "saved") == "1";
    let notice = match field(&q, "added") {
        "" if saved => Some("Concern saved. The DSL team has been told (who raised it and the category only).".to_owned()),
        "" => None,
        k => Some(format!("{} added.", EntryKind::parse(k).map_or(k, |k| k.label()))),
    };
    Ok(view::render(StatusCode::OK, &record_page(&state, &p, &s, notice, None, saved).await?))
}

fn need(f: &Fields, name: &str, what: &str) -> Result<String, ConsoleError> {
    let v = field(f, name);
    if v.is_empty() { Err(ConsoleError::BadRequest(format!("{name}: {what}"))) } else { Ok(v.to_owned()) }
}

/// The entry a form asks for: kind, JSON body, state change.
async fn entry_of(state: &ConsoleState, p: &Principal, s: &RecordSummary, f: &Fields) -> Result<(EntryKind, Value, StateChange), ConsoleError> {
    let kind = EntryKind::parse(field(f, "kind")).ok_or_else(|| ConsoleError::BadRequest("kind: not a kind of entry".into()))?;
    let dsl_only = !matches!(kind, EntryKind::Note | EntryKind::Amendment);
    if dsl_only && !p.can(Permission::ManageRecords) {
        return Err(ConsoleError::BadRequest("kind: only the DSL team can add this; you can add a note or an amendment".into()));
    }
    let mut c = StateChange::default();
    let body = match kind {
        EntryKind::Triage => {
            let risk = RiskLevel::parse(field(f, "risk")).ok_or_else(|| ConsoleError::BadRequest("risk: choose a risk level".into()))?;
            let owner_id: i64 = field(f, "owner").parse().map_err(|_| ConsoleError::BadRequest("owner: choose who owns this case".into()))?;
            let owner = state.store.account(owner_id).await?.ok_or_else(|| ConsoleError::BadRequest("owner: no such account".into()))?;
            c.risk = Some(risk.as_str().into());
            c.owner = Some((owner.id, owner.display_name.clone()));
            c.acknowledged_by = Some(p.account.display_name.clone());
            json!({ "risk": risk.as_str(), "owner": owner.display_name, "received_from": s.reporter, "comment": field(f, "comment") })
        }
        EntryKind::Acknowledged => {
            c.acknowledged_by = Some(p.account.display_name.clone());
            json!({ "acknowledged_by": p.account.display_name })
        }
        EntryKind::Action => {
            let description = need(f, "description", "say what needs doing")?;
            let owner = need(f, "owner_name", "say who will do it")?;
            let due = need(f, "due", "give a due date")?;
            due.parse::<jiff::civil::Date>().map_err(|_| ConsoleError::BadRequest(format!("due: `{due}` is not a date such as 2026-12-09")))?;
            json!({ "description": description, "owner": owner, "due": due })
        }
        EntryKind::ActionDone => {
            let action: i64 = field(f, "action").parse().map_err(|_| ConsoleError::BadRequest("action: which action was done".into()))?;
            let outcome = need(f, "action_outcome", "say what came of it")?;
            json!({ "action": action, "action_outcome": outcome })
        }
        EntryKind::Referral => {
            let agency = field(f, "agency");
            if Agency::parse(agency).is_none() && agency != "other" {
                return Err(ConsoleError::BadRequest("agency: choose the agency referred to".into()));
            }
            let other = field(f, "agency_other");
            if agency == "other" && other.is_empty() {
                return Err(ConsoleError::BadRequest("agency_other: name the agency".into()));
            }
            let consent = need(f, "consent", "say whether parents know and consented, and if not why")?;
            c.status = Some(RecordStatus::Referred.as_str().into());
            json!({ "agency": agency, "agency_other": other, "method": field(f, "method"), "spoke_to": field(f, "spoke_to"),
                    "reference": field(f, "reference"), "consent": consent, "outcome_text": field(f, "referral_outcome") })
        }
        EntryKind::ParentsInformed => {
            let informed = match field(f, "informed") {
                "yes" => true,
                "no" => false,
                _ => return Err(ConsoleError::BadRequest("informed: say whether parents or carers were told".into())),
            };
            let how = field(f, "how");
            let reason = field(f, "why_not");
            if informed && how.is_empty() {
                return Err(ConsoleError::BadRequest("how: say who told them, when and how".into()));
            }
            if !informed && reason.is_empty() {
                return Err(ConsoleError::BadRequest("why_not: say why parents or carers were not told".into()));
            }
            json!({ "informed": informed, "how": how, "why_not": reason })
        }
        EntryKind::Decision => {
            let decision = need(f, "decision", "write the decision")?;
            let reason = need(f, "reason", "a decision needs its reason")?;
            if !field(f, "status").is_empty() {
                let st = RecordStatus::parse(field(f, "status")).filter(|s| *s != RecordStatus::Closed).ok_or_else(|| ConsoleError::BadRequest("status: not a status".into()))?;
                c.status = Some(st.as_str().into());
            }
            json!({ "decision": decision, "reason": reason, "advice_from": field(f, "advice_from"), "status": field(f, "status") })
        }
        EntryKind::Note => json!({ "note": need(f, "note", "write the note")? }),
        EntryKind::Amendment => {
            let amends: i64 = field(f, "amends").parse().map_err(|_| ConsoleError::BadRequest("amends: choose the entry it corrects".into()))?;
            let entries = state.store.record_entries(&s.record_id).await?;
            let original = entries.iter().find(|e| e.seq == amends).ok_or_else(|| ConsoleError::BadRequest("amends: that entry is not on this record".into()))?;
            let text = need(f, "text", "write the corrected text")?;
            let reason = need(f, "reason", "an amendment needs its reason")?;
            json!({ "amends": original.seq, "corrected_text": text, "reason": reason })
        }
        EntryKind::Closure => {
            let outcome = Outcome::parse(field(f, "outcome")).ok_or_else(|| ConsoleError::BadRequest("outcome: choose an outcome".into()))?;
            let reason = need(f, "reason", "closing needs a reason")?;
            c.status = Some(RecordStatus::Closed.as_str().into());
            json!({ "outcome": outcome.as_str(), "reason": reason })
        }
        EntryKind::Concern | EntryKind::Received | EntryKind::Retention => {
            return Err(ConsoleError::BadRequest("kind: this entry cannot be added from the record page".into()));
        }
    };
    Ok((kind, body, c))
}

/// `POST /records/{id}/entries`: append one entry (the kind says which form).
pub async fn add_entry(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    let s = visible(&state, &p, &id, Action::Amend).await?;
    match entry_of(&state, &p, &s, &f).await {
        Ok((kind, body, change)) => {
            let now = state.clock.now();
            let occurred = match field(&f, "occurred") {
                "" => now,
                v => records::parse_when("occurred", v)?,
            };
            let e = NewEntry {
                record_id: id.clone(),
                kind: kind.as_str().into(),
                record_type: s.record_type.clone(),
                sensitivity: s.sensitivity.clone(),
                author_id: Some(p.account.id),
                author: author_of(&p),
                occurred,
                body: body.to_string(),
            };
            state.store.append_record_entry(&e, &change, now).await?;
            Ok(Redirect::to(&format!("/records/{id}?added={}", kind.as_str())).into_response())
        }
        Err(ConsoleError::BadRequest(m)) => Ok(view::render(StatusCode::BAD_REQUEST, &record_page(&state, &p, &s, None, Some(m), false).await?)),
        Err(e) => Err(e),
    }
}

/// The designations a front sheet can carry.
pub const DESIGNATIONS: &[(&str, &str)] = &[
    ("cp", "Child protection plan (CP)"),
    ("cin", "Child in need (CIN)"),
    ("lac", "Looked after (LAC)"),
    ("plac", "Previously looked after"),
    ("early_help", "Early Help"),
    ("ehcp", "EHCP / SEND"),
    ("young_carer", "Young carer"),
];

struct Chronology {
    name: String,
    detail: String,
    rows: Vec<rv::ChronoRow>,
    designations: Vec<(String, String)>,
    agencies: String,
    open: usize,
    closed: usize,
    front_sheet: Option<String>,
}

fn summary_of(kind: &str, body: &Value) -> String {
    let keys = ["account", "worry", "decision", "description", "note", "corrected_text", "reason", "action_outcome", "consent", "change", "risk"];
    let mut s = keys.iter().find_map(|k| body.get(*k).and_then(Value::as_str).filter(|v| !v.is_empty())).unwrap_or("").to_owned();
    if kind == "referral"
        && let Some(a) = body.get("agency").and_then(Value::as_str)
    {
        s = format!("Referred to {}. {s}", Agency::parse(a).map_or(a, |x| x.label()));
    }
    if s.chars().count() > 140 { format!("{}…", s.chars().take(140).collect::<String>()) } else { s }
}

async fn chronology(state: &ConsoleState, p: &Principal, pupil_id: i64, action: Action) -> Result<Chronology, ConsoleError> {
    let person = state.store.person(pupil_id).await?.ok_or(ConsoleError::NotFound("pupil"))?;
    let records = state.store.pupil_records(pupil_id, p.account.id).await?;
    let allowed: Vec<&RecordSummary> = records.iter().filter(|s| may(p, s, action)).collect();
    let all_allowed = allowed.len() == records.len();
    let items = state.store.chronology(pupil_id).await?;
    let mut rows = Vec::new();
    let mut designations: Vec<(String, String)> = Vec::new();
    let mut agencies = String::new();
    for i in &items {
        match (&i.entry, &i.event) {
            (Some(e), _) => {
                if !allowed.iter().any(|s| s.record_id == e.record_id) {
                    continue;
                }
                let body: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
                if let Some(d) = body.get("designation").and_then(Value::as_str) {
                    let label = DESIGNATIONS.iter().find(|(k, _)| *k == d).map_or(d, |(_, l)| *l).to_owned();
                    designations.retain(|(l, _)| *l != label);
                    if body.get("change").and_then(Value::as_str) == Some("start") {
                        designations.push((label, body.get("from").and_then(Value::as_str).unwrap_or("").to_owned()));
                    }
                }
                if let Some(a) = body.get("agencies").and_then(Value::as_str).filter(|a| !a.is_empty()) {
                    a.clone_into(&mut agencies);
                }
                rows.push(rv::ChronoRow {
                    when: view::when(e.occurred),
                    kind: EntryKind::parse(&e.kind).map_or(e.kind.clone(), |k| k.label().to_owned()),
                    summary: summary_of(&e.kind, &body),
                    author: e.author.clone(),
                    record_id: e.record_id.clone(),
                    role: LinkRole::parse(&i.role).map_or(i.role.clone(), |r| r.label().to_owned()),
                    seq: e.seq,
                    hash: e.hash.clone(),
                });
            }
            (None, Some((id, name, act, cat))) if all_allowed && p.can(Permission::SearchActivity) => rows.push(rv::ChronoRow {
                when: view::when(i.occurred),
                kind: "Filter event".into(),
                summary: format!("{act} {name}{}", cat.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()),
                author: "Haven".into(),
                record_id: String::new(),
                role: String::new(),
                seq: *id,
                hash: String::new(),
            }),
            _ => {}
        }
    }
    let visible_records: Vec<&&RecordSummary> = allowed.iter().filter(|s| s.category != FRONT_SHEET).collect();
    let closed = visible_records.iter().filter(|s| s.status == "closed").count();
    let group = person.person.tutor_group.clone().unwrap_or_default();
    let year = person.person.year_group.map(|y| format!("Year {y}")).unwrap_or_default();
    Ok(Chronology {
        name: person.person.full_name(),
        detail: [year, group, person.person.date_of_birth.clone().map(|d| format!("born {d}")).unwrap_or_default()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        rows,
        designations,
        agencies,
        open: visible_records.len() - closed,
        closed,
        front_sheet: records.iter().find(|s| s.category == FRONT_SHEET).map(|s| s.record_id.clone()),
    })
}

async fn pupil_page(state: &ConsoleState, p: &Principal, pupil_id: i64, error: Option<String>) -> Result<rv::PupilPage, ConsoleError> {
    let c = chronology(state, p, pupil_id, Action::View).await?;
    Ok(rv::PupilPage {
        layout: Layout::new(state, Some(p), &format!("Chronology: {}", c.name), "/records"),
        csrf: p.csrf().to_owned(),
        pupil_id,
        detail: c.detail,
        rows: c.rows,
        designations: c.designations,
        agencies: c.agencies,
        open: c.open,
        closed: c.closed,
        designation_opts: Opt::list(DESIGNATIONS.iter().copied(), ""),
        error,
    })
}

/// `GET /records/pupil/{id}`: the front sheet and the chronology (logged).
pub async fn pupil(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<i64>,
) -> Result<Response, ConsoleError> {
    let page = pupil_page(&state, &p, id, None).await?;
    log_access(&state, &p, &client(&addr), "view", None, Some(id), "chronology").await?;
    Ok(view::render(StatusCode::OK, &page))
}

/// `POST /records/pupil/{id}/front-sheet`: a status change (start or end of CP, CIN, LAC...)
/// or the agencies involved, appended as an entry of the pupil's front-sheet record.
pub async fn front_sheet(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    let person = state.store.person(id).await?.ok_or(ConsoleError::NotFound("pupil"))?;
    let designation = field(&f, "designation");
    let agencies = field(&f, "agencies");
    let checked = if designation.is_empty() && agencies.is_empty() {
        Err("designation: choose a status, or list the agencies involved")
    } else if !designation.is_empty() && !DESIGNATIONS.iter().any(|(k, _)| *k == designation) {
        Err("designation: not a status this front sheet knows")
    } else if !designation.is_empty() && !matches!(field(&f, "change"), "start" | "end") {
        Err("change: say whether the status starts or ends")
    } else {
        Ok(())
    };
    if let Err(m) = checked {
        return Ok(view::render(StatusCode::BAD_REQUEST, &pupil_page(&state, &p, id, Some(m.to_owned())).await?));
    }
    let now = state.clock.now();
    let occurred = match field(&f, "from") {
        "" => now,
        v => records::parse_when("from", v)?,
    };
    let body = json!({ "designation": designation, "change": field(&f, "change"), "from": field(&f, "from"), "agencies": agencies, "note": field(&f, "note") });
    let existing = chronology(&state, &p, id, Action::Amend).await?.front_sheet;
    let appending = existing.is_some();
    let entry = |record_id: String| NewEntry {
        record_id,
        kind: if appending { EntryKind::Note.as_str().into() } else { EntryKind::Concern.as_str().into() },
        record_type: RecordType::GeneralNote.as_str().into(),
        sensitivity: Sensitivity::DslOnly.as_str().into(),
        author_id: Some(p.account.id),
        author: author_of(&p),
        occurred,
        body: body.to_string(),
    };
    match existing {
        Some(rid) => {
            state.store.append_record_entry(&entry(rid), &StateChange::default(), now).await?;
        }
        None => {
            let rid = haven_records::new_record_id(&state.records.urn, haven_accounts::random::bytes::<16>()?);
            let n = NewRecord {
                entry: entry(rid),
                category: FRONT_SHEET.into(),
                pupil_id: Some(id),
                pupil_name: person.person.full_name(),
                subject_account: None,
                source: "staff_observation".into(),
                pupils: vec![(id, LinkRole::Subject.as_str().into())],
                named: Vec::new(),
                event_ids: Vec::new(),
            };
            state.store.create_record(&n, now).await?;
        }
    }
    Ok(Redirect::to(&format!("/records/pupil/{id}")).into_response())
}

/// `GET /records/pupil/{id}/print`: the chronology for printing, each entry's chain hash shown,
/// "printed by X at T" (logged as a print).
pub async fn print(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<i64>,
) -> Result<Response, ConsoleError> {
    let c = chronology(&state, &p, id, Action::Print).await?;
    log_access(&state, &p, &client(&addr), "print", None, Some(id), &format!("{} entries", c.rows.len())).await?;
    Ok(view::render(
        StatusCode::OK,
        &rv::PrintPage {
            school: state.settings.school.clone(),
            pupil_name: c.name,
            detail: c.detail,
            rows: c.rows,
            designations: c.designations,
            agencies: c.agencies,
            printed_by: author_of(&p),
            printed_at: view::when(state.clock.now()),
        },
    ))
}

/// `GET /records/pupil/{id}/print.pdf`: the same file as a PDF for a court bundle or a strategy
/// meeting (every page headed with the school, pupil, page N of M and who printed it; every entry
/// with its full text and chain hash), holding only what this person may print, audited as a print.
pub async fn print_pdf(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<i64>,
) -> Result<Response, ConsoleError> {
    let c = chronology(&state, &p, id, Action::Print).await?;
    let person = state.store.person(id).await?.ok_or(ConsoleError::NotFound("pupil"))?;
    let printable: std::collections::HashSet<&str> = c.rows.iter().filter(|r| !r.hash.is_empty()).map(|r| r.hash.as_str()).collect();
    let events: std::collections::HashSet<i64> = c.rows.iter().filter(|r| r.hash.is_empty()).map(|r| r.seq).collect();
    let mut entries = Vec::new();
    for i in state.store.chronology(id).await? {
        match (&i.entry, &i.event) {
            (Some(e), _) if printable.contains(e.hash.as_str()) => entries.push(haven_records::pdf::PrintEntry {
                occurred: view::when(e.occurred),
                kind: EntryKind::parse(&e.kind).map_or(e.kind.clone(), |k| k.label().to_owned()),
                record_id: e.record_id.clone(),
                author: e.author.clone(),
                text: haven_records::pdf::body_text(&e.body),
                hash: e.hash.clone(),
            }),
            (None, Some((eid, name, act, cat))) if events.contains(eid) => entries.push(haven_records::pdf::PrintEntry {
                occurred: view::when(i.occurred),
                kind: "Filter event".into(),
                record_id: format!("event {eid}"),
                author: "Haven".into(),
                text: format!("{act} {name}{}", cat.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()),
                hash: String::new(),
            }),
            _ => {}
        }
    }
    let head = entries.iter().rev().find(|e| !e.hash.is_empty()).map_or_else(String::new, |e| e.hash.clone());
    let designations = c.designations.iter().map(|(l, from)| if from.is_empty() { l.clone() } else { format!("{l} (from {from})") }).collect::<Vec<_>>().join(", ");
    let header = haven_records::pdf::PrintHeader {
        school: state.settings.school.clone(),
        pupil: c.name.clone(),
        upn: person.person.upn.clone(),
        date_of_birth: person.person.date_of_birth.clone(),
        generated: view::when(state.clock.now()),
        printed_by: author_of(&p),
        chain_head: head,
        front_sheet: vec![
            ("Details".into(), c.detail.clone()),
            ("Status".into(), if designations.is_empty() { "none recorded".into() } else { designations }),
            ("Other agencies".into(), if c.agencies.is_empty() { "none recorded".into() } else { c.agencies.clone() }),
            ("Records".into(), format!("{} open, {} closed", c.open, c.closed)),
        ],
    };
    let pdf = haven_records::pdf::chronology_pdf(&header, &entries);
    log_access(&state, &p, &client(&addr), "print", None, Some(id), &format!("PDF, {} entries", entries.len())).await?;
    let file = format!("attachment; filename=\"safeguarding-file-{id}.pdf\"");
    Ok((
        StatusCode::OK,
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, file),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        pdf,
    )
        .into_response())
}

/// `GET /records/pupil/{id}/access`: who looked at this child's file, newest first.
pub async fn access(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, Path(id): Path<i64>) -> Result<Response, ConsoleError> {
    let person = state.store.person(id).await?.ok_or(ConsoleError::NotFound("pupil"))?;
    let rows = state
        .store
        .record_access_log(None, Some(id), 500)
        .await?
        .into_iter()
        .map(|r| rv::AccessRow { when: view::when(r.at), actor: r.actor, action: r.action, record: r.record_id.unwrap_or_default(), detail: r.detail, client: r.client })
        .collect();
    let name = person.person.full_name();
    Ok(view::render(
        StatusCode::OK,
        &rv::AccessPage { layout: Layout::new(&state, Some(&p), &format!("Who looked at {name}'s file"), "/records"), pupil_id: id, pupil_name: name, rows },
    ))
}

fn session_hash(p: &Principal) -> &str {
    p.session.as_ref().map_or("", |s| s.token_hash.as_str())
}

fn search_page(state: &ConsoleState, p: &Principal, q: &str, rows: Vec<rv::RecordRow>, searched: bool, error: Option<String>) -> rv::SearchPage {
    rv::SearchPage {
        layout: Layout::new(state, Some(p), "Search records", "/records/search"),
        csrf: p.csrf().to_owned(),
        stepped_up: state.records.stepped_up(session_hash(p), state.clock.now()),
        q: q.to_owned(),
        rows,
        searched,
        error,
    }
}

/// `GET /records/search?q=`: needs a step-up in the last 10 minutes; each hit checked, the
/// search (with its query) logged.
pub async fn search(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Query(q): Query<Fields>,
) -> Result<Response, ConsoleError> {
    let text = field(&q, "q");
    if !haven_records::access::may_search_records(p.account.roles) {
        return Ok(view::render(StatusCode::FORBIDDEN, &search_page(&state, &p, text, Vec::new(), false, Some("Only the DSL team and the headteacher can search records.".into()))));
    }
    if !state.records.stepped_up(session_hash(&p), state.clock.now()) || text.is_empty() {
        return Ok(view::render(StatusCode::OK, &search_page(&state, &p, text, Vec::new(), false, None)));
    }
    let needle = text.to_lowercase();
    let list = state.store.record_list(p.account.id, None, false, 5000).await?;
    let rows: Vec<rv::RecordRow> = list
        .iter()
        .filter(|s| s.category != FRONT_SHEET && may(&p, s, Action::Search))
        .filter(|s| {
            [s.pupil_name.as_str(), s.reporter.as_str(), s.record_id.as_str(), state.records.categories.label(&s.category), s.category.as_str()]
                .iter()
                .any(|f| f.to_lowercase().contains(&needle))
        })
        .map(|s| records::row(&state, s))
        .collect();
    log_access(&state, &p, &client(&addr), "search", None, None, &format!("query {text:?}: {} hits", rows.len())).await?;
    Ok(view::render(StatusCode::OK, &search_page(&state, &p, text, rows, true, None)))
}

/// `POST /records/search/step-up`: re-enter a two-factor code to search for 10 minutes.
pub async fn step_up(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    let a = &p.account;
    let now = state.clock.now();
    let Some(secret) = a.totp_secret.as_deref().and_then(|s| TotpSecret::from_base32(s).ok()) else {
        let e = Some("Searching records needs two-factor sign-in. Set it up under Two-factor first.".to_owned());
        return Ok(view::render(StatusCode::BAD_REQUEST, &search_page(&state, &p, "", Vec::new(), false, e)));
    };
    let ok = match secret.verify(field(&f, "code"), now, a.totp_last_step) {
        Some(step) => state.store.claim_totp_step(a.id, step).await?,
        None => false,
    };
    if !ok {
        if crate::pages::second_factor_failed(&state, a, &client(&addr), "step_up_failed").await? {
            return Ok(Redirect::to("/sign-in").into_response());
        }
        let e = Some("code: that code is not right. Use the newest code from your authenticator app.".to_owned());
        return Ok(view::render(StatusCode::UNAUTHORIZED, &search_page(&state, &p, "", Vec::new(), false, e)));
    }
    state.records.step_up(session_hash(&p), now);
    log_access(&state, &p, &client(&addr), "step_up", None, None, "two-factor code re-entered for search").await?;
    Ok(Redirect::to("/records/search").into_response())
}
