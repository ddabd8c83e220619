//! Safeguarding records, the staff side: any member of staff logs a concern (`/records/new`, on
//! a phone, with a body map and attachments, prefilled from an activity event or a monitoring
//! alert), sees the concerns they wrote (`/records/mine`) and opens one; a pupil sends a worry
//! from the public `/worry` page. The DSL side is in [`crate::records_dsl`].
//!
//! **Invariants:**
//! - Every record shown is first checked with [`haven_records::access::allows`]; a record the
//!   viewer may not see answers "not found", so its existence is not revealed either.
//! - Every view, search, print and attachment download is written with
//!   `Store::log_record_access` before the page is sent; a failure to record fails the request.
//! - Nothing edits a saved entry: every form appends an entry (the store refuses anything else).
//! - Notifications (the dashboard's list) carry who raised it, the category and a link, never
//!   the pupil or the content.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use haven_accounts::Permission;
use haven_accounts::people::PersonKind;
use haven_accounts::session;
use haven_records::bodymap::{BodyView, Mark, outline_data_url};
use haven_records::{Action, Categories, LinkRole, RecordType, Sensitivity, Source, Viewer};
use haven_store::{NewEntry, NewRecord, PeopleQuery, PersonRecord, RecordAccess, RecordSummary};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::ConsoleState;
use crate::error::ConsoleError;
use crate::guard::{self, ClientAddr, Principal, SIGN_IN_COOKIE, set_cookie};
use crate::pages::{Fields, field};
use crate::records_view::{self as rv, CategoryOpt, FormValues, MarkRow, Opt, OtherRow, Outline};
use crate::view::{self, Layout};

/// Body-map rows the form offers.
pub const MARK_ROWS: usize = 6;
/// Other pupils the form offers.
pub const OTHER_ROWS: usize = 3;
/// How long a step-up (re-entered TOTP code) lets a DSL search records.
pub const STEP_UP_SECS: i64 = 600;
/// Worries one address may send per hour.
pub const WORRIES_PER_HOUR: usize = 5;
/// Largest attachment accepted.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// The category key of a pupil's front-sheet record (status changes and agencies).
pub const FRONT_SHEET: &str = "front_sheet";

/// What the records pages keep in memory: the school's categories, its URN, step-ups by
/// session, and worries per address (both reset on restart, which only ever asks again).
#[derive(Debug, Default)]
pub struct RecordsRuntime {
    /// The school's concern categories (KCSIE defaults plus its own).
    pub categories: Categories,
    /// The school's URN, prefixed to record ids.
    pub urn: String,
    step_ups: Mutex<HashMap<String, Timestamp>>,
    worries: Mutex<HashMap<IpAddr, Vec<Timestamp>>>,
}

impl RecordsRuntime {
    /// A runtime with these categories and URN.
    pub fn new(categories: Categories, urn: &str) -> RecordsRuntime {
        RecordsRuntime { categories, urn: urn.to_owned(), ..RecordsRuntime::default() }
    }

    /// Record a step-up for a session, valid for [`STEP_UP_SECS`].
    pub fn step_up(&self, session_hash: &str, now: Timestamp) {
        if let Ok(mut m) = self.step_ups.lock() {
            m.retain(|_, t| t.as_second() + STEP_UP_SECS > now.as_second());
            m.insert(session_hash.to_owned(), now);
        }
    }

    /// Whether the session stepped up within the window.
    pub fn stepped_up(&self, session_hash: &str, now: Timestamp) -> bool {
        self.step_ups.lock().ok().and_then(|m| m.get(session_hash).copied()).is_some_and(|t| t.as_second() + STEP_UP_SECS > now.as_second())
    }

    /// Count a worry from `ip`; false when the address has sent too many this hour.
    pub fn allow_worry(&self, ip: IpAddr, now: Timestamp) -> bool {
        let Ok(mut m) = self.worries.lock() else { return false };
        let list = m.entry(ip).or_default();
        list.retain(|t| t.as_second() + 3600 > now.as_second());
        if list.len() >= WORRIES_PER_HOUR {
            return false;
        }
        list.push(now);
        true
    }
}

/// The client address as text, for the access log.
pub fn client(addr: &Option<Extension<ClientAddr>>) -> String {
    addr.as_ref().map_or_else(String::new, |c| c.0.0.ip().to_canonical().to_string())
}

/// How a viewer stands towards a record, for the access table.
pub fn viewer(p: &Principal, s: &RecordSummary) -> Viewer {
    Viewer {
        roles: p.account.roles,
        is_author: s.reporter_id == Some(p.account.id),
        is_named: s.named,
        is_subject: s.subject_account == Some(p.account.id),
        in_pastoral_scope: false,
    }
}

/// Whether `p` may do `action` with the record `s`.
pub fn may(p: &Principal, s: &RecordSummary, action: Action) -> bool {
    match (RecordType::parse(&s.record_type), Sensitivity::parse(&s.sensitivity)) {
        (Some(t), Some(l)) => haven_records::allows(t, l, &viewer(p, s), action),
        _ => false,
    }
}

/// A record the viewer may do `action` with, or "not found" (never revealing it exists).
pub async fn visible(state: &ConsoleState, p: &Principal, id: &str, action: Action) -> Result<RecordSummary, ConsoleError> {
    match state.store.record_summary(id, Some(p.account.id)).await? {
        Some(s) if may(p, &s, action) => Ok(s),
        _ => Err(ConsoleError::NotFound("record")),
    }
}

/// Write one line of the records access log (views, searches, prints, downloads).
pub async fn log_access(
    state: &ConsoleState,
    p: &Principal,
    client: &str,
    action: &str,
    record_id: Option<&str>,
    pupil_id: Option<i64>,
    detail: &str,
) -> Result<(), ConsoleError> {
    let a = RecordAccess { account_id: Some(p.account.id), actor: &p.account.display_name, action, record_id, pupil_id, detail, client };
    state.store.log_record_access(&a, state.clock.now()).await?;
    Ok(())
}

/// The author as a record names them: full name and role at the time.
pub fn author_of(p: &Principal) -> String {
    let role = p.account.roles.iter().next().map_or("member of staff", haven_accounts::Role::label);
    format!("{}, {}", p.account.display_name, role)
}

/// A time typed into a form (`2026-12-02T10:30`, school time) or RFC 3339.
pub fn parse_when(name: &str, v: &str) -> Result<Timestamp, ConsoleError> {
    if let Ok(t) = v.parse::<Timestamp>() {
        return Ok(t);
    }
    let tz = jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC);
    let civil: Result<jiff::civil::DateTime, _> = v.parse();
    let date: Result<jiff::civil::Date, _> = v.parse();
    let z = match (civil, date) {
        (Ok(c), _) => c.to_zoned(tz),
        (_, Ok(d)) => d.to_zoned(tz),
        _ => return Err(ConsoleError::BadRequest(format!("{name}: `{v}` is not a date and time such as 2026-12-02T10:30"))),
    };
    z.map(|z| z.timestamp()).map_err(|e| ConsoleError::BadRequest(format!("{name}: {e}")))
}

/// A time as the form's `datetime-local` input shows it (school time).
pub fn local_input(t: Timestamp) -> String {
    let tz = jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC);
    t.to_zoned(tz).strftime("%Y-%m-%dT%H:%M").to_string()
}

/// The person a network or console user name belongs to, if the directory knows them.
pub async fn person_for_user(state: &ConsoleState, user: &str) -> Result<Option<PersonRecord>, ConsoleError> {
    if user.is_empty() {
        return Ok(None);
    }
    if let Some(login) = state.store.network_login(user).await? {
        return Ok(state.store.person(login.person_id).await?);
    }
    let lower = user.to_ascii_lowercase();
    let found = state.store.people(&PeopleQuery { search: Some(user.to_owned()), limit: 50, ..Default::default() }).await?;
    Ok(found.into_iter().find(|r| {
        r.person.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&lower) || e.split('@').next().is_some_and(|l| l.eq_ignore_ascii_case(&lower)))
            || r.person.key.eq_ignore_ascii_case(&lower)
    }))
}

/// How the pupil picker names a pupil: `Jo Smith (7JS) [12]`; the id in brackets is what counts.
pub fn pupil_label(r: &PersonRecord) -> String {
    let group = r.person.tutor_group.as_deref().unwrap_or("");
    if group.is_empty() { format!("{} [{}]", r.person.full_name(), r.id) } else { format!("{} ({group}) [{}]", r.person.full_name(), r.id) }
}

/// Read the pupil picker's value: a `[id]` label, or a name that matches exactly one pupil.
async fn pick_pupil(state: &ConsoleState, name: &str, v: &str) -> Result<Option<PersonRecord>, ConsoleError> {
    if v.is_empty() {
        return Ok(None);
    }
    let id = v.rsplit_once('[').and_then(|(_, r)| r.strip_suffix(']')).and_then(|n| n.trim().parse::<i64>().ok());
    if let Some(id) = id {
        return match state.store.person(id).await? {
            Some(r) if r.person.kind == PersonKind::Pupil => Ok(Some(r)),
            _ => Err(ConsoleError::BadRequest(format!("{name}: no pupil has the number {id}; choose one from the list"))),
        };
    }
    let found = state.store.people(&PeopleQuery { kind: Some(PersonKind::Pupil), search: Some(v.to_owned()), limit: 20, ..Default::default() }).await?;
    let exact: Vec<_> = found.into_iter().filter(|r| r.person.full_name().eq_ignore_ascii_case(v)).collect();
    match exact.len() {
        1 => Ok(exact.into_iter().next()),
        0 => Err(ConsoleError::BadRequest(format!("{name}: no pupil is called `{v}`; choose one from the list"))),
        _ => Err(ConsoleError::BadRequest(format!("{name}: more than one pupil is called `{v}`; choose the one with the right tutor group"))),
    }
}

/// An uploaded file.
pub struct Upload {
    /// The file name given.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A form posted either URL-encoded or as multipart (with files).
pub async fn read_form(state: &ConsoleState, req: Request) -> Result<(Fields, Vec<Upload>), ConsoleError> {
    let multipart = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let Form(f) = Form::<Fields>::from_request(req, state).await.map_err(|e| ConsoleError::BadRequest(format!("the form: {}", e.body_text())))?;
        return Ok((f, Vec::new()));
    }
    let mut m = Multipart::from_request(req, state).await.map_err(|e| ConsoleError::BadRequest(format!("the form: {}", e.body_text())))?;
    let (mut fields, mut files) = (Fields::new(), Vec::new());
    while let Some(part) = m.next_field().await.map_err(|e| ConsoleError::BadRequest(format!("the form: {}", e.body_text())))? {
        let name = part.name().unwrap_or("").to_owned();
        let file_name = part.file_name().map(str::to_owned);
        let media_type = part.content_type().unwrap_or("application/octet-stream").to_owned();
        let bytes = part.bytes().await.map_err(|e| ConsoleError::BadRequest(format!("{name}: {}", e.body_text())))?;
        match file_name {
            Some(f) if name == "attachment" => {
                if bytes.is_empty() && f.is_empty() {
                    continue;
                }
                if bytes.len() > MAX_ATTACHMENT_BYTES {
                    return Err(ConsoleError::BadRequest(format!("attachment: {f} is larger than 10 MB")));
                }
                files.push(Upload { name: f, media_type, bytes: bytes.to_vec() });
            }
            _ => fields.push((name.clone(), String::from_utf8(bytes.to_vec()).map_err(|_| ConsoleError::BadRequest(format!("{name}: not text")))?)),
        }
    }
    Ok((fields, files))
}

/// The body-map marks of a form, each row checked (`mark_view_N`, `mark_x_N`, ...).
pub fn marks_of(f: &Fields) -> Result<Vec<Mark>, ConsoleError> {
    let mut out = Vec::new();
    for n in 1..=MARK_ROWS {
        let g = |k: &str| field(f, &format!("mark_{k}_{n}")).to_owned();
        let (x, y, desc, size) = (g("x"), g("y"), g("desc"), g("size"));
        if x.is_empty() && y.is_empty() && desc.is_empty() {
            continue;
        }
        let key = format!("{}:{}:{}", g("view"), x, y);
        let mut m = Mark::parse_position(&key).map_err(|e| ConsoleError::BadRequest(format!("mark_{}_{n}: {}", e.field, e.message)))?;
        if desc.is_empty() {
            return Err(ConsoleError::BadRequest(format!("mark_desc_{n}: describe mark {n} (colour, shape, what you were told)")));
        }
        m.description = desc;
        if !size.is_empty() {
            m.size_mm = Some(size.parse::<u16>().map_err(|_| ConsoleError::BadRequest(format!("mark_size_{n}: `{size}` is not a size in millimetres")))?);
        }
        out.push(m);
    }
    Ok(out)
}

fn mark_json(m: &Mark) -> Value {
    json!({ "view": m.view.as_str(), "x": m.x, "y": m.y, "size_mm": m.size_mm, "description": m.description })
}

/// Marks back from an entry's JSON.
pub fn marks_from(body: &Value) -> Vec<Mark> {
    body.get("body_map").and_then(Value::as_array).map_or_else(Vec::new, |a| {
        a.iter()
            .filter_map(|m| {
                let view = BodyView::parse(m.get("view")?.as_str()?)?;
                Some(Mark {
                    view,
                    x: u16::try_from(m.get("x")?.as_u64()?).ok()?,
                    y: u16::try_from(m.get("y")?.as_u64()?).ok()?,
                    size_mm: m.get("size_mm").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()),
                    description: m.get("description").and_then(Value::as_str).unwrap_or("").to_owned(),
                })
            })
            .collect()
    })
}

/// Evidence carried into a concern raised from an event or an alert.
#[derive(Default)]
struct Prefill {
    pupil: String,
    occurred: Option<Timestamp>,
    category: String,
    source: String,
    evidence: Vec<String>,
    event_ids: Vec<i64>,
    alert: Option<i64>,
}

fn event_line(e: &haven_store::StoredEvent) -> String {
    let ev = &e.event;
    format!(
        "Activity event {}: {} {} {} {}{} (user {}, device {}, address {}, rule {})",
        e.id,
        view::when(ev.time),
        ev.action,
        ev.name,
        ev.qtype,
        ev.category.as_deref().map(|c| format!(", category {c}")).unwrap_or_default(),
        ev.user.as_deref().unwrap_or("unknown"),
        ev.device.as_deref().unwrap_or("unknown"),
        ev.client,
        ev.rule
    )
}

async fn prefill(state: &ConsoleState, p: &Principal, q: &Fields) -> Result<Prefill, ConsoleError> {
    let mut out = Prefill::default();
    let mut user = None;
    if let Ok(id) = field(q, "event").parse::<i64>() {
        if !p.can(Permission::SearchActivity) {
            return Err(ConsoleError::BadRequest("event: your role cannot read the activity log".into()));
        }
        let e = state.store.event_by_id(id).await?.ok_or(ConsoleError::NotFound("activity event"))?;
        out.occurred = Some(e.event.time);
        out.category = "online".into();
        out.source = Source::FilteringEvent.as_str().into();
        out.evidence.push(event_line(&e));
        out.event_ids.push(e.id);
        user = e.event.user.clone();
    } else if let Ok(id) = field(q, "alert").parse::<i64>() {
        if !p.can(Permission::ManageRecords) {
            return Err(ConsoleError::BadRequest("alert: only the DSL team raises concerns from monitoring alerts".into()));
        }
        let a = state.store.alert(id).await?.ok_or(ConsoleError::NotFound("alert"))?;
        out.occurred = Some(a.raised);
        out.category = "online".into();
        out.source = Source::MonitoringAlert.as_str().into();
        out.alert = Some(id);
        out.evidence.push(format!("Monitoring alert {id}: {} ({} severity): {}", a.title, a.severity, a.why));
        for k in state.store.alert_keywords(id).await? {
            out.evidence.push(format!("Matched term \"{}\" ({}, {}): {}", k.term, k.matched, k.category, k.rationale));
        }
        for e in state.store.alert_events(id).await? {
            out.evidence.push(event_line(&e));
            out.event_ids.push(e.id);
        }
        user = Some(a.person.clone());
    }
    if let Some(u) = user
        && let Some(r) = person_for_user(state, &u).await?
        && r.person.kind == PersonKind::Pupil
    {
        out.pupil = pupil_label(&r);
    }
    Ok(out)
}

async fn new_page(state: &ConsoleState, p: &Principal, f: Fields, error: Option<String>, evidence: Vec<String>) -> Result<rv::RecordNewPage, ConsoleError> {
    let pupils = state.store.people(&PeopleQuery { kind: Some(PersonKind::Pupil), limit: 5000, ..Default::default() }).await?;
    let fv = FormValues(f);
    let cats = &state.records.categories;
    let categories = cats
        .all()
        .iter()
        .map(|c| CategoryOpt {
            key: c.key.clone(),
            label: c.label.clone(),
            guidance: c.guidance.clone(),
            banner: c.statutory_banner.clone().unwrap_or_default(),
            selected: c.key == fv.v("category"),
        })
        .collect();
    let sources = Opt::list(
        Source::ALL.iter().filter(|s| **s != Source::PupilReport).map(|s| (s.as_str(), s.label())),
        Some(fv.v("source")).filter(|s| !s.is_empty()).unwrap_or("staff_observation"),
    );
    let kinds = Opt::list(
        [("concern", "A concern about a pupil"), ("staff_allegation", "A concern about an adult who works with children (allegation)")],
        fv.v("record_kind"),
    );
    let dsl_told = Opt::list([("", "Choose"), ("yes", "Yes, I told a DSL in person"), ("no", "No, not yet")], fv.v("dsl_told"));
    let roles: Vec<(&str, &str)> = LinkRole::ALL.iter().filter(|r| **r != LinkRole::Subject).map(|r| (r.as_str(), r.label())).collect();
    let others = (1..=OTHER_ROWS)
        .map(|n| OtherRow { n, pupil: fv.v(&format!("other_pupil_{n}")).to_owned(), roles: Opt::list(roles.iter().copied(), fv.v(&format!("other_role_{n}"))) })
        .collect();
    let marks = (1..=MARK_ROWS)
        .map(|n| {
            let g = |k: &str| fv.v(&format!("mark_{k}_{n}")).to_owned();
            MarkRow { n, views: Opt::list(BodyView::ALL.iter().map(|v| (v.as_str(), v.label())), &g("view")), x: g("x"), y: g("y"), size: g("size"), desc: g("desc") }
        })
        .collect();
    let outlines = BodyView::ALL.iter().map(|v| Outline { view: v.as_str(), label: v.label(), src: outline_data_url(*v, &[]) }).collect();
    Ok(rv::RecordNewPage {
        layout: Layout::new(state, Some(p), "Log a concern", "/records/new"),
        csrf: p.csrf().to_owned(),
        error,
        pupils: pupils.iter().filter(|r| r.active).map(pupil_label).collect(),
        categories,
        sources,
        kinds,
        dsl_told,
        others,
        outlines,
        marks,
        evidence,
        written: view::when(state.clock.now()),
        f: fv,
    })
}

/// `GET /records/new` (`event=ID` or `alert=ID` prefill from the filter or the monitor).
pub async fn new_form(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, Query(q): Query<Fields>) -> Result<Response, ConsoleError> {
    let pre = prefill(&state, &p, &q).await?;
    let mut f: Fields = vec![
        ("occurred".into(), local_input(pre.occurred.unwrap_or_else(|| state.clock.now()))),
        ("pupil".into(), pre.pupil.clone()),
        ("category".into(), pre.category.clone()),
        ("source".into(), pre.source.clone()),
    ];
    if let Some(e) = q.iter().find(|(k, _)| k == "event") {
        f.push(e.clone());
    }
    if let Some(a) = pre.alert {
        f.push(("alert".into(), a.to_string()));
    }
    Ok(view::render(StatusCode::OK, &new_page(&state, &p, f, None, pre.evidence).await?))
}

/// Validate a concern form and save it; returns the new record's id.
async fn save_concern(state: &ConsoleState, p: &Principal, f: &Fields, files: Vec<Upload>) -> Result<String, ConsoleError> {
    let now = state.clock.now();
    let allegation = field(f, "record_kind") == "staff_allegation" || field(f, "category") == "staff_conduct";
    let category = field(f, "category");
    if state.records.categories.get(category).is_none() {
        return Err(ConsoleError::BadRequest("category: choose what the concern is about".into()));
    }
    let occurred_text = field(f, "occurred");
    if occurred_text.is_empty() {
        return Err(ConsoleError::BadRequest("occurred: say when it happened".into()));
    }
    let occurred = parse_when("occurred", occurred_text)?;
    if occurred.as_second() > now.as_second() + 300 {
        return Err(ConsoleError::BadRequest("occurred: that time is in the future".into()));
    }
    let pupil = pick_pupil(state, "pupil", field(f, "pupil")).await?;
    if pupil.is_none() && !allegation {
        return Err(ConsoleError::BadRequest("pupil: choose the pupil this is about".into()));
    }
    let source = Source::parse(field(f, "source")).ok_or_else(|| ConsoleError::BadRequest("source: say where the concern came from".into()))?;
    let account = field(f, "account");
    if account.is_empty() {
        return Err(ConsoleError::BadRequest("account: write what happened (facts: who, what, where, when)".into()));
    }
    let child_words = field(f, "child_words");
    if source == Source::Disclosure && child_words.is_empty() {
        return Err(ConsoleError::BadRequest("child_words: a disclosure needs the child's exact words".into()));
    }
    let immediate = field(f, "immediate_action");
    if immediate.is_empty() {
        return Err(ConsoleError::BadRequest("immediate_action: say what you did straight away (even \"nothing yet\")".into()));
    }
    let dsl_told = match field(f, "dsl_told") {
        "yes" => true,
        "no" => false,
        _ => return Err(ConsoleError::BadRequest("dsl_told: say whether you told a DSL in person".into())),
    };
    let mut others = Vec::new();
    for n in 1..=OTHER_ROWS {
        let name = format!("other_pupil_{n}");
        if let Some(o) = pick_pupil(state, &name, field(f, &name)).await? {
            let role = LinkRole::parse(field(f, &format!("other_role_{n}")))
                .filter(|r| *r != LinkRole::Subject)
                .ok_or_else(|| ConsoleError::BadRequest(format!("other_role_{n}: choose {}'s role (victim, alleged perpetrator, witness or other)", o.person.full_name())))?;
            others.push((o, role));
        }
    }
    let marks = marks_of(f)?;
    let (mut subject_account, mut named) = (None, Vec::new());
    if allegation {
        let who = field(f, "subject_staff");
        let subject = state.store.account_by_username(who).await?;
        let Some(subject) = subject.filter(|_| !who.is_empty()) else {
            return Err(ConsoleError::BadRequest("subject_staff: give the console user name of the adult the concern is about".into()));
        };
        if subject.id == p.account.id {
            return Err(ConsoleError::BadRequest("subject_staff: you cannot log an allegation about yourself here; speak to the headteacher".into()));
        }
        subject_account = Some(subject.id);
        for u in field(f, "named").split([',', ' ']).map(str::trim).filter(|u| !u.is_empty()) {
            match state.store.account_by_username(u).await? {
                Some(a) if a.id != subject.id => named.push(a.id),
                Some(_) => return Err(ConsoleError::BadRequest("named: the adult the allegation is about can never be named on it".into())),
                None => return Err(ConsoleError::BadRequest(format!("named: no console account is called `{u}`"))),
            }
        }
    }
    let pre = prefill(state, p, f).await?;
    let mut attachments = Vec::new();
    for u in &files {
        let sha = state.store.put_attachment(&u.name, &u.media_type, &u.bytes, &author_of(p), now).await?;
        attachments.push(json!({ "sha256": sha, "file_name": u.name, "media_type": u.media_type, "size": u.bytes.len() }));
    }
    let record_type = if allegation {
        RecordType::StaffAllegation
    } else if matches!(source, Source::FilteringEvent | Source::MonitoringAlert) {
        RecordType::OnlineSafetyEvent
    } else {
        RecordType::SafeguardingConcern
    };
    let pupil_name = pupil.as_ref().map(|r| r.person.full_name()).unwrap_or_default();
    let body = json!({
        "occurred": crate::pages::rfc3339(occurred),
        "written": crate::pages::rfc3339(now),
        "pupil": pupil.as_ref().map(|r| json!({ "id": r.id, "name": r.person.full_name(), "upn": r.person.upn, "year_group": r.person.year_group,
            "tutor_group": r.person.tutor_group, "date_of_birth": r.person.date_of_birth })),
        "linked_pupils": others.iter().map(|(o, role)| json!({ "id": o.id, "name": o.person.full_name(), "role": role.as_str() })).collect::<Vec<_>>(),
        "source": source.as_str(),
        "category": category,
        "account": account,
        "opinion": field(f, "opinion"),
        "child_words": child_words,
        "immediate_action": immediate,
        "passed_to": field(f, "told"),
        "verbally_informed_dsl": dsl_told,
        "dsl_told_name": field(f, "dsl_told_name"),
        "body_map": marks.iter().map(mark_json).collect::<Vec<_>>(),
        "attachments": attachments,
        "evidence": pre.evidence,
        "alert": pre.alert,
        "subject_staff": if allegation { field(f, "subject_staff") } else { "" },
    });
    let random = haven_accounts::random::bytes::<16>()?;
    let record_id = haven_records::new_record_id(&state.records.urn, random);
    let mut pupils: Vec<(i64, String)> = pupil.iter().map(|r| (r.id, LinkRole::Subject.as_str().to_owned())).collect();
    pupils.extend(others.iter().map(|(o, role)| (o.id, role.as_str().to_owned())));
    let n = NewRecord {
        entry: NewEntry {
            record_id: record_id.clone(),
            kind: haven_records::EntryKind::Concern.as_str().into(),
            record_type: record_type.as_str().into(),
            sensitivity: Sensitivity::Normal.as_str().into(),
            author_id: Some(p.account.id),
            author: author_of(p),
            occurred,
            body: body.to_string(),
        },
        category: category.to_owned(),
        pupil_id: pupil.as_ref().map(|r| r.id),
        pupil_name,
        subject_account,
        source: source.as_str().into(),
        pupils,
        named,
        event_ids: pre.event_ids,
    };
    state.store.create_record(&n, now).await?;
    if let Some(alert) = pre.alert {
        state.store.close_alert(alert, haven_store::AlertOutcome::Concern, "", &p.account.username, now, Some(&format!("/records/{record_id}"))).await?;
    }
    Ok(record_id)
}

/// `POST /records/new` (URL-encoded or multipart with attachments).
pub async fn create(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, req: Request) -> Result<Response, ConsoleError> {
    let (f, files) = read_form(&state, req).await?;
    match save_concern(&state, &p, &f, files).await {
        Ok(id) => Ok(Redirect::to(&format!("/records/{id}?saved=1")).into_response()),
        Err(ConsoleError::BadRequest(m)) => {
            let evidence = prefill(&state, &p, &f).await.map(|pre| pre.evidence).unwrap_or_default();
            Ok(view::render(StatusCode::BAD_REQUEST, &new_page(&state, &p, f, Some(m), evidence).await?))
        }
        Err(e) => Err(e),
    }
}

/// A list row for a record.
pub fn row(state: &ConsoleState, s: &RecordSummary) -> rv::RecordRow {
    rv::RecordRow {
        id: s.record_id.clone(),
        when: view::when(s.created),
        record_type: RecordType::parse(&s.record_type).map_or(s.record_type.clone(), |t| t.label().to_owned()),
        pupil: if s.pupil_name.is_empty() { "(not named)".into() } else { s.pupil_name.clone() },
        category: state.records.categories.label(&s.category).to_owned(),
        reporter: s.reporter.clone(),
        status: haven_records::RecordStatus::parse(&s.status).map_or(s.status.clone(), |t| t.label().to_owned()),
        risk: s.risk.as_deref().and_then(haven_records::RiskLevel::parse).map_or(String::new(), |r| r.label().to_owned()),
        unread: !s.read,
        unacknowledged: s.acknowledged.is_none(),
    }
}

/// `GET /records/mine`: the concerns this member of staff wrote (never anyone else's).
pub async fn mine(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> Result<Response, ConsoleError> {
    let list = state.store.record_list(p.account.id, Some(p.account.id), false, 500).await?;
    let rows = list.iter().filter(|s| may(&p, s, Action::View)).map(|s| row(&state, s)).collect();
    Ok(view::render(StatusCode::OK, &rv::RecordListPage { layout: Layout::new(&state, Some(&p), "My concerns", "/records/mine"), rows, dsl: false, all: false }))
}

/// `GET /records/{id}/attachments/{sha}`: an attachment the record cites, after the access check.
pub async fn attachment(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Path((id, sha)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    let s = visible(&state, &p, &id, Action::View).await?;
    let cited = state.store.record_entries(&id).await?.iter().any(|e| e.body.contains(&format!("\"sha256\":\"{sha}\"")));
    if !cited {
        return Err(ConsoleError::NotFound("attachment"));
    }
    let a = state.store.attachment(&sha).await?.ok_or(ConsoleError::NotFound("attachment"))?;
    log_access(&state, &p, &client(&addr), "attachment", Some(&id), s.pupil_id, &a.file_name).await?;
    let mut r = a.content.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    let disposition = format!("attachment; filename=\"{}\"", a.file_name.replace(['"', '\\', '\r', '\n'], "_"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `GET /static/records.js`: the blank-screen button, the Esc key and body-map taps.
pub async fn script() -> Response {
    let mut r = include_str!("../static/records.js").into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

/// `GET /blank`: the neutral page the blank-screen button goes to.
pub async fn blank(State(state): State<ConsoleState>) -> Response {
    view::render(StatusCode::OK, &rv::BlankPage { layout: Layout::new(&state, None, "Haven", "") })
}

fn ip_of(addr: &Option<Extension<ClientAddr>>) -> IpAddr {
    addr.as_ref().map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip().to_canonical())
}

/// The pupil bound to this address in the identity book, if any.
async fn worry_sender(state: &ConsoleState, ip: IpAddr) -> Result<Option<PersonRecord>, ConsoleError> {
    let Some(user) = state.identity.book().lookup(ip, state.clock.now()).and_then(|b| b.user) else { return Ok(None) };
    Ok(person_for_user(state, &user).await?.filter(|r| r.person.kind == PersonKind::Pupil))
}

fn worry_page(state: &ConsoleState, csrf: String, from: Option<&PersonRecord>, sent: bool, error: Option<String>, text: &str) -> rv::WorryPage {
    rv::WorryPage {
        layout: Layout::new(state, None, "Tell someone you are worried", "/worry"),
        csrf,
        from: from.map(|r| r.person.full_name()),
        sent,
        error,
        text: text.to_owned(),
    }
}

/// `GET /worry` (public): the "tell someone you're worried" page.
pub async fn worry_form(State(state): State<ConsoleState>, headers: HeaderMap, addr: Option<Extension<ClientAddr>>) -> Result<Response, ConsoleError> {
    let csrf = match guard::cookie(&headers, SIGN_IN_COOKIE).filter(|c| c.len() >= 32) {
        Some(c) => c.to_owned(),
        None => session::new_token()?,
    };
    let from = worry_sender(&state, ip_of(&addr)).await?;
    let mut r = view::render(StatusCode::OK, &worry_page(&state, csrf.clone(), from.as_ref(), false, None, ""));
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, &csrf, 3600, state.settings.secure_cookies));
    Ok(r)
}

/// `POST /worry` (public, double-submit CSRF, throttled per address): lands in the DSL inbox.
pub async fn worry_submit(State(state): State<ConsoleState>, addr: Option<Extension<ClientAddr>>, Form(f): Form<Fields>) -> Result<Response, ConsoleError> {
    let csrf = field(&f, guard::CSRF_FIELD).to_owned();
    let ip = ip_of(&addr);
    let from = worry_sender(&state, ip).await?;
    let text = field(&f, "worry");
    if text.is_empty() {
        let e = Some("Please write what is worrying you in the box.".to_owned());
        return Ok(view::render(StatusCode::BAD_REQUEST, &worry_page(&state, csrf, from.as_ref(), false, e, text)));
    }
    let now = state.clock.now();
    if !state.records.allow_worry(ip, now) {
        let e = Some("You have sent a lot of messages. Please go and talk to a grown-up you trust at school now.".to_owned());
        return Ok(view::render(StatusCode::TOO_MANY_REQUESTS, &worry_page(&state, csrf, from.as_ref(), false, e, text)));
    }
    let named = from.as_ref().filter(|_| field(&f, "anonymous") != "yes");
    let random = haven_accounts::random::bytes::<16>()?;
    let record_id = haven_records::new_record_id(&state.records.urn, random);
    let body = json!({
        "written": crate::pages::rfc3339(now),
        "worry": text,
        "talk_to": field(&f, "talk_to"),
        "anonymous": named.is_none(),
        "pupil": named.map(|r| json!({ "id": r.id, "name": r.person.full_name(), "tutor_group": r.person.tutor_group })),
    });
    let n = NewRecord {
        entry: NewEntry {
            record_id,
            kind: haven_records::EntryKind::Concern.as_str().into(),
            record_type: RecordType::PupilWorry.as_str().into(),
            sensitivity: Sensitivity::Normal.as_str().into(),
            author_id: None,
            author: named.map_or_else(|| "A pupil (anonymous)".to_owned(), |r| format!("{} (pupil)", r.person.full_name())),
            occurred: now,
            body: body.to_string(),
        },
        category: "other".into(),
        pupil_id: named.map(|r| r.id),
        pupil_name: named.map(|r| r.person.full_name()).unwrap_or_default(),
        subject_account: None,
        source: Source::PupilReport.as_str().into(),
        pupils: named.map(|r| (r.id, LinkRole::Subject.as_str().to_owned())).into_iter().collect(),
        named: Vec::new(),
        event_ids: Vec::new(),
    };
    state.store.create_record(&n, now).await?;
    Ok(view::render(StatusCode::OK, &worry_page(&state, csrf, from.as_ref(), true, None, "")))
}
