//! People directory pages and API: the list (names, for roles that may see them) and the CSV
//! import with its preview. Bad rows are reported with row number and field; good rows go in.

use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use haven_accounts::people::{ImportFormat, ParsedImport, PersonKind, parse_csv};
use haven_store::{AuthEvent, ImportPlan, PeopleQuery};
use serde_json::{Value, json};

use crate::api::ApiError;
use crate::error::ConsoleError;
use crate::guard::{ClientAddr, Principal};
use crate::pages::{Fields, field};
use crate::view::{self, Layout};
use crate::ConsoleState;

/// An import's outcome: the parsed file and the plan (applied unless a dry run).
pub struct ImportOutcome {
    /// Good rows and bad rows.
    pub parsed: ParsedImport,
    /// Adds, changes, leavers.
    pub plan: ImportPlan,
}

/// Parse, plan and (unless `dry_run`) apply an import; recorded in the audit log when applied.
#[allow(clippy::too_many_arguments)] // Each is one of the import form's fields.
pub async fn run_import(
    state: &ConsoleState,
    actor: &Principal,
    client: &str,
    text: &str,
    format: &str,
    kind: &str,
    dry_run: bool,
    file: &str,
) -> Result<ImportOutcome, ConsoleError> {
    let fmt = ImportFormat::parse(format).ok_or_else(|| ConsoleError::BadRequest(format!("format {format:?}: use wonde, sims, arbor or plain")))?;
    let default_kind = PersonKind::parse(kind).ok_or_else(|| ConsoleError::BadRequest(format!("kind {kind:?}: use pupil, staff, governor, volunteer or visitor")))?;
    let parsed = parse_csv(text, fmt, default_kind, &state.settings.groups).map_err(|e| ConsoleError::BadRequest(format!("{file}: {e}")))?;
    let people: Vec<_> = parsed.people.iter().map(|(_, p)| p.clone()).collect();
    let mut kinds: Vec<PersonKind> = people.iter().map(|p| p.kind).collect();
    kinds.sort();
    kinds.dedup();
    let plan = state.store.plan_people_import(&people, &kinds).await?;
    if !dry_run {
        let now = state.clock.now();
        let source = format!("{file} ({format})");
        state.store.apply_people_import(&plan, &source, now).await?;
        let detail = format!(
            "{source}: {} added, {} changed, {} left, {} bad row(s)",
            plan.adds.len(),
            plan.changes.len(),
            plan.leavers.len(),
            parsed.errors.len()
        );
        let e = AuthEvent { event: "people_imported", username: &actor.account.username, account_id: Some(actor.account.id), actor: &actor.account.username, client, detail: &detail };
        state.store.append_auth_event(&e, now).await?;
    }
    Ok(ImportOutcome { parsed, plan })
}

fn client(addr: Option<Extension<ClientAddr>>) -> String {
    addr.map_or_else(String::new, |c| c.0.0.ip().to_string())
}

/// `GET /people`.
pub async fn list(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, Query(q): Query<Fields>) -> Result<Response, ConsoleError> {
    let search = field(&q, "q").to_owned();
    let include_left = field(&q, "all") == "1";
    let records = state.store.people(&PeopleQuery { search: Some(search.clone()), include_left, ..Default::default() }).await?;
    let rows = records
        .into_iter()
        .map(|r| view::PersonRow {
            name: r.person.full_name(),
            kind: r.person.kind.to_string(),
            year: r.person.year_group.map(year_label).unwrap_or_default(),
            tutor_group: r.person.tutor_group.clone().unwrap_or_default(),
            group: r.person.filter_group.clone(),
            status: if r.active { "On roll".into() } else { format!("Left {}", r.left.map(view::when).unwrap_or_default()) },
        })
        .collect();
    Ok(view::render(StatusCode::OK, &view::PeoplePage { layout: Layout::new(&state, Some(&p), "People", "/people"), rows, search, include_left }))
}

/// "Reception", "Year 7", ...
pub fn year_label(y: i32) -> String {
    match y {
        -1 => "Nursery".into(),
        0 => "Reception".into(),
        y => format!("Year {y}"),
    }
}

fn import_page(state: &ConsoleState, p: &Principal) -> view::ImportPage {
    view::ImportPage {
        layout: Layout::new(state, Some(p), "Import people", "/people/import"),
        ran: false,
        dry_run: true,
        file: String::new(),
        adds: Vec::new(),
        changes: Vec::new(),
        leavers: Vec::new(),
        unchanged: 0,
        bad: Vec::new(),
        error: None,
    }
}

/// `GET /people/import`.
pub async fn import_form(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> Response {
    view::render(StatusCode::OK, &import_page(&state, &p))
}

/// `POST /people/import` (multipart: file, format, kind, dry_run).
pub async fn import(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    mut form: Multipart,
) -> Result<Response, ConsoleError> {
    let (mut text, mut file, mut format, mut kind, mut dry_run) = (String::new(), String::from("upload.csv"), String::from("plain"), String::from("pupil"), false);
    while let Some(part) = form.next_field().await.map_err(|e| ConsoleError::BadRequest(format!("the upload: {}", e.body_text())))? {
        let name = part.name().unwrap_or("").to_owned();
        if name == "file"
            && let Some(f) = part.file_name()
        {
            file = f.to_owned();
        }
        let bytes = part.bytes().await.map_err(|e| ConsoleError::BadRequest(format!("the upload: {}", e.body_text())))?;
        let value = || String::from_utf8(bytes.to_vec()).map_err(|_| ConsoleError::BadRequest(format!("{name}: not UTF-8 text (save the export as CSV UTF-8)")));
        match name.as_str() {
            "file" => text = value()?,
            "format" => format = value()?,
            "kind" => kind = value()?,
            "dry_run" => dry_run = value()? == "on",
            _ => {}
        }
    }
    let mut page = import_page(&state, &p);
    match run_import(&state, &p, &client(addr), &text, &format, &kind, dry_run, &file).await {
        Ok(outcome) => {
            let line = |name: String, detail: String| view::PlanLine { name, detail };
            page.ran = true;
            page.dry_run = dry_run;
            page.file = file;
            page.adds = outcome.plan.adds.iter().map(|a| line(a.full_name(), format!("{}, {}", a.kind, a.filter_group))).collect();
            page.changes = outcome.plan.changes.iter().map(|c| line(c.person.full_name(), c.fields.join(", "))).collect();
            page.leavers = outcome.plan.leavers.iter().map(|l| line(l.person.full_name(), l.person.kind.to_string())).collect();
            page.unchanged = outcome.plan.unchanged;
            page.bad = outcome.parsed.errors.into_iter().map(|e| view::BadRow { row: e.row, field: e.field, message: e.message }).collect();
            Ok(view::render(StatusCode::OK, &page))
        }
        Err(ConsoleError::BadRequest(msg)) => {
            page.error = Some(msg);
            Ok(view::render(StatusCode::BAD_REQUEST, &page))
        }
        Err(e) => Err(e),
    }
}

/// `GET /api/v1/people` (`q`, `all=1`).
pub async fn api_list(State(state): State<ConsoleState>, Query(q): Query<Fields>) -> Result<Response, ApiError> {
    let records = state.store.people(&PeopleQuery { search: Some(field(&q, "q").to_owned()), include_left: field(&q, "all") == "1", ..Default::default() }).await?;
    let list: Vec<Value> = records
        .iter()
        .map(|r| {
            let p = &r.person;
            json!({ "id": r.id, "kind": p.kind.as_str(), "given_name": p.given_name, "family_name": p.family_name, "year_group": p.year_group,
                    "tutor_group": p.tutor_group, "date_of_birth": p.date_of_birth, "upn": p.upn, "email": p.email, "job_title": p.job_title,
                    "roles": p.roles, "filter_group": p.filter_group, "active": r.active, "left": r.left.map(crate::pages::rfc3339) })
        })
        .collect();
    Ok(Json(json!({ "people": list })).into_response())
}

/// `POST /api/v1/people/import?format=&kind=&dry_run=true` with the CSV as the body.
pub async fn api_import(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Query(q): Query<Fields>,
    body: String,
) -> Result<Response, ApiError> {
    let dry_run = matches!(field(&q, "dry_run"), "true" | "1");
    let format = Some(field(&q, "format")).filter(|f| !f.is_empty()).unwrap_or("plain");
    let kind = Some(field(&q, "kind")).filter(|f| !f.is_empty()).unwrap_or("pupil");
    let o = run_import(&state, &p, &client(addr), &body, format, kind, dry_run, "request body").await?;
    let names = |v: Vec<String>| json!(v);
    Ok(Json(json!({
        "dry_run": dry_run,
        "added": names(o.plan.adds.iter().map(|a| a.full_name()).collect()),
        "changed": o.plan.changes.iter().map(|c| json!({ "name": c.person.full_name(), "fields": c.fields })).collect::<Vec<_>>(),
        "left": names(o.plan.leavers.iter().map(|l| l.person.full_name()).collect()),
        "unchanged": o.plan.unchanged,
        "errors": o.parsed.errors.iter().map(|e| json!({ "row": e.row, "field": e.field, "message": e.message })).collect::<Vec<_>>(),
    }))
    .into_response())
}
