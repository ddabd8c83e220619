//! Filtering changes that document themselves: per-site entries (with expiry and a user scope)
//! and category rules edited from the console, previewed with the same decision output as
//! `haven check`, each saved with who, when, before, after and a mandatory reason in the
//! append-only change log; the log itself (search, CSV, API; governors see "a pupil" for names);
//! and the illegal floor's sources, counts and age, which nobody can edit from here.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use haven_accounts::Permission;
use haven_policy::{Action, Overlay, OverlaySite, SiteSpec, What, Who};
use haven_store::{ChangeQuery, NewChange, NewSite, PolicyChangeRecord, RuleRecord, describe_site};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::ConsoleState;
use crate::api::ApiError;
use crate::error::ConsoleError;
use crate::guard::Principal;
use crate::live::{LivePolicy, load_overlay};
use crate::pages::{Fields, field, rfc3339};
use crate::view::{self, Layout};

/// A list older than this is flagged on the floor page.
pub const FLOOR_STALE_AFTER: SignedDuration = SignedDuration::from_hours(24);

/// The live policy, or a clear error when this console runs without the filtering service.
pub fn live(state: &ConsoleState) -> Result<&LivePolicy, ConsoleError> {
    state.policy.as_deref().ok_or_else(|| ConsoleError::BadRequest("this console is not attached to a running filtering service".into()))
}

/// Parse an expiry such as `30s`, `10m`, `2h`, `3d` (empty: never).
pub fn parse_expiry(text: &str) -> Result<Option<SignedDuration>, ConsoleError> {
    let t = text.trim();
    if t.is_empty() || t == "never" {
        return Ok(None);
    }
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = num.parse().map_err(|_| ConsoleError::BadRequest(format!("expires: `{t}` is not a duration such as 45m, 2h or 7d")))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(ConsoleError::BadRequest(format!("expires: `{t}` is not a duration such as 45m, 2h or 7d"))),
    };
    if n <= 0 || secs > 366 * 86_400 {
        return Err(ConsoleError::BadRequest("expires: between one second and a year".into()));
    }
    Ok(Some(SignedDuration::from_secs(secs)))
}

/// The scope in words and for governors: (scope, names a pupil, public wording).
pub fn scope_words(group: &str, users: &[String], kind: &str) -> (String, bool, String) {
    match (users.is_empty(), kind) {
        (true, _) => (format!("everyone in {group}"), false, format!("everyone in {group}")),
        (false, "themselves") => (format!("the requester {}", users.join(", ")), false, format!("the requester {}", users.join(", "))),
        (false, _) => {
            let public = if users.len() == 1 { "a pupil".to_owned() } else { format!("{} pupils", users.len()) };
            (format!("{} ({})", users.join(", "), kind), true, public)
        }
    }
}

/// One decision, as `haven check` prints it.
pub struct Preview {
    /// ALLOW or BLOCK.
    pub verdict: String,
    /// The sentence.
    pub sentence: String,
    /// The rule reference.
    pub rule: String,
}

/// Decide `target` for a group (and user) under a snapshot.
pub fn preview(
    snap: &haven_policy::Snapshot,
    target: &str,
    group: &str,
    user: Option<&str>,
    at: Timestamp,
) -> Result<Preview, ConsoleError> {
    let what = What::parse(target).map_err(|e| ConsoleError::BadRequest(format!("site: {e}")))?;
    let d = snap.decide(&Who { user, group: Some(group), device: None, client: None }, &what, at);
    Ok(Preview { verdict: d.action.as_str().to_uppercase(), sentence: snap.sentence(&d), rule: snap.reference(&d) })
}

/// A validated site entry from a form or API body.
pub struct SiteForm {
    /// The entry to store.
    pub site: NewSite,
    /// The change-log line.
    pub change: NewChange,
}

/// Check an entry: reason, group, site, expiry; then compile it with everything else in force so
/// a refusal (a floor site, a public suffix) is reported before anything is saved.
pub async fn check_site(state: &ConsoleState, actor: &str, f: &Fields) -> Result<(SiteForm, Preview, Preview), ConsoleError> {
    let live = live(state)?;
    let now = state.clock.now();
    let reason = field(f, "reason");
    let group = field(f, "group");
    let target = field(f, "site");
    let action = match field(f, "action") {
        "allow" => Action::Allow,
        "block" => Action::Block,
        other => return Err(ConsoleError::BadRequest(format!("action: `{other}` must be allow or block"))),
    };
    if target.is_empty() {
        return Err(ConsoleError::BadRequest("site: give a domain such as example.org or a host/path".into()));
    }
    if reason.is_empty() {
        return Err(ConsoleError::BadRequest("reason: every change needs a reason (it goes in the change log)".into()));
    }
    let snap = live.snapshot();
    if snap.policy().group_idx(group).is_none() {
        return Err(ConsoleError::BadRequest(format!("group: `{group}` is not a filtering group")));
    }
    let users: Vec<String> =
        field(f, "users").split([',', ' ', '\n']).map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect();
    let kind = Some(field(f, "scope")).filter(|s| !s.is_empty()).unwrap_or(if users.is_empty() { "group" } else { "pupil" });
    let expires = parse_expiry(field(f, "expires"))?.and_then(|d| now.checked_add(d).ok());
    let (scope, names_pupil, public) = scope_words(group, &users, kind);
    let site = NewSite {
        group: group.to_owned(),
        action: action.as_str().to_owned(),
        site: target.to_owned(),
        reason: reason.to_owned(),
        author: actor.to_owned(),
        users,
        scope,
        names_pupil,
        expires,
    };
    let mut overlay: Overlay = load_overlay(&state.store).await?;
    overlay.sites.push(OverlaySite {
        group: site.group.clone(),
        spec: SiteSpec {
            action,
            site: site.site.clone(),
            reason: site.reason.clone(),
            author: site.author.clone(),
            users: site.users.clone(),
            reference: Some("site-new".into()),
        },
        expires,
    });
    let (candidate, _) = live.compile(&overlay, now).map_err(|errs| {
        let msgs: Vec<String> =
            errs.iter().map(|e| if e.floor_override { format!("site: {}", e.message) } else { e.to_string() }).collect();
        ConsoleError::BadRequest(msgs.join("; "))
    })?;
    let user = site.users.first().map(String::as_str);
    let before = preview(&snap, target, group, user, now)?;
    let after = preview(&candidate, target, group, user, now)?;
    let change = NewChange {
        actor: actor.to_owned(),
        kind: "site_added".into(),
        target: format!("{} {}", site.group, site.site),
        before: format!("{}: {}", before.verdict, before.sentence),
        after: describe_site(&site),
        reason: reason.to_owned(),
        names_pupil,
        public_text: format!("{} {} for {public}", site.group, site.site),
    };
    Ok((SiteForm { site, change }, before, after))
}

/// Save a checked entry and put it in force.
pub async fn save_site(state: &ConsoleState, form: &SiteForm) -> Result<i64, ConsoleError> {
    let id = state.store.add_policy_site(&form.site, &form.change, state.clock.now()).await?;
    live(state)?.notify();
    Ok(id)
}

/// Remove an entry (kept, marked removed) with a reason, and put the change in force.
pub async fn remove_site(state: &ConsoleState, actor: &str, id: i64, reason: &str) -> Result<(), ConsoleError> {
    if reason.trim().is_empty() {
        return Err(ConsoleError::BadRequest("reason: every change needs a reason (it goes in the change log)".into()));
    }
    let s = state.store.policy_site(id).await?;
    let c = NewChange {
        actor: actor.to_owned(),
        kind: "site_removed".into(),
        target: format!("site-{id} {} {}", s.site.group, s.site.site),
        before: describe_site(&s.site),
        after: "removed".into(),
        reason: reason.trim().to_owned(),
        names_pupil: s.site.names_pupil,
        public_text: format!("site-{id} {} {}", s.site.group, s.site.site),
    };
    state.store.remove_policy_site(id, &c, state.clock.now()).await?;
    live(state)?.notify();
    Ok(())
}

/// Set or clear a category rule for a group, checked by compiling it first.
pub async fn set_rule(state: &ConsoleState, actor: &str, f: &Fields) -> Result<(), ConsoleError> {
    let live = live(state)?;
    let now = state.clock.now();
    let (group, category, base, reason) = (field(f, "group"), field(f, "category"), field(f, "base"), field(f, "reason"));
    if reason.is_empty() {
        return Err(ConsoleError::BadRequest("reason: every change needs a reason (it goes in the change log)".into()));
    }
    let list = |name: &str| -> Vec<String> {
        field(f, name).split([',', ' ']).map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect()
    };
    let rule = RuleRecord {
        group: group.into(),
        category: category.into(),
        base: base.into(),
        windows: list("windows"),
        nominated: list("nominated"),
    };
    let mut overlay = load_overlay(&state.store).await?;
    overlay.rules.retain(|r| !(r.group == group && r.category == category));
    if base != "inherit" {
        let b = match base {
            "allow" => haven_policy::BaseSpec::Allow,
            "block" => haven_policy::BaseSpec::Block,
            "during" => haven_policy::BaseSpec::During(rule.windows.clone()),
            other => return Err(ConsoleError::BadRequest(format!("base: `{other}` must be allow, block, during or inherit"))),
        };
        overlay.rules.push(haven_policy::OverlayRule {
            group: group.into(),
            category: category.into(),
            rule: haven_policy::RuleSpec { base: b, nominated: rule.nominated.clone() },
        });
    }
    live.compile(&overlay, now)
        .map_err(|errs| ConsoleError::BadRequest(errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
    let after = if base == "inherit" {
        "the configuration's rule".to_owned()
    } else {
        format!("{base} {} {}", rule.windows.join(","), rule.nominated.join(",")).trim().to_owned()
    };
    let c = NewChange {
        actor: actor.into(),
        kind: if base == "inherit" { "rule_cleared".into() } else { "rule_set".into() },
        target: format!("{group} {category}"),
        before: String::new(),
        after,
        reason: reason.into(),
        names_pupil: false,
        public_text: format!("{group} {category}"),
    };
    if base == "inherit" {
        state.store.clear_policy_rule(group, category, &c, now).await?;
    } else {
        state.store.set_policy_rule(&rule, &c, now).await?;
    }
    live.notify();
    Ok(())
}

/// A change-log row as the viewer may see it.
pub struct ChangeRow {
    /// Row id.
    pub id: i64,
    /// When, in school time.
    pub time: String,
    /// RFC 3339.
    pub time_rfc: String,
    /// Who.
    pub actor: String,
    /// What kind.
    pub kind: String,
    /// What it touched (pupils replaced for viewers without `ViewPeople`).
    pub target: String,
    /// Before.
    pub before: String,
    /// After.
    pub after: String,
    /// Why.
    pub reason: String,
}

fn change_row(r: PolicyChangeRecord, names: bool) -> ChangeRow {
    let c = r.change;
    let hide = c.names_pupil && !names;
    let redacted = "(names a pupil)".to_owned();
    ChangeRow {
        id: r.id,
        time: view::when(r.time),
        time_rfc: rfc3339(r.time),
        actor: c.actor,
        kind: c.kind,
        target: if hide { c.public_text } else { c.target },
        before: if hide { redacted.clone() } else { c.before },
        after: if hide { redacted } else { c.after },
        reason: c.reason,
    }
}

fn change_query(q: &Fields) -> Result<ChangeQuery, ConsoleError> {
    let t = |name: &str| -> Result<Option<Timestamp>, ConsoleError> {
        let v = field(q, name);
        if v.is_empty() {
            return Ok(None);
        }
        let day: Result<jiff::civil::Date, _> = v.parse();
        match (v.parse::<Timestamp>(), day) {
            (Ok(ts), _) => Ok(Some(ts)),
            (_, Ok(d)) => d
                .to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC))
                .map(|z| Some(z.timestamp()))
                .map_err(|e| ConsoleError::BadRequest(format!("{name}: {e}"))),
            _ => Err(ConsoleError::BadRequest(format!("{name}: `{v}` is not a date such as 2026-09-01"))),
        }
    };
    let before_id = match field(q, "before") {
        "" => None,
        v => Some(v.parse().map_err(|_| ConsoleError::BadRequest("before: not a number".into()))?),
    };
    Ok(ChangeQuery { search: Some(field(q, "q").to_owned()), from: t("from")?, to: t("to")?, before_id, limit: 100 })
}

/// The change log as CSV.
fn changes_csv(rows: &[ChangeRow]) -> Response {
    let esc = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from("id,time,actor,kind,target,before,after,reason\n");
    for r in rows {
        out.push_str(
            &[
                r.id.to_string(),
                esc(&r.time_rfc),
                esc(&r.actor),
                esc(&r.kind),
                esc(&r.target),
                esc(&r.before),
                esc(&r.after),
                esc(&r.reason),
            ]
            .join(","),
        );
        out.push('\n');
    }
    let mut resp = out.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    resp.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"haven-policy-changes.csv\""));
    resp
}

/// `GET /policy/changes` (`q`, `from`, `to`, `before`, `format=csv`).
pub async fn changes(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<Fields>,
) -> Result<Response, ConsoleError> {
    let records = state.store.policy_changes(&change_query(&q)?).await?;
    let full = records.len() >= 100;
    let names = p.can(Permission::ViewPeople);
    let rows: Vec<ChangeRow> = records.into_iter().map(|r| change_row(r, names)).collect();
    if field(&q, "format") == "csv" {
        return Ok(changes_csv(&rows));
    }
    let older = full.then(|| rows.last().map(|r| format!("/policy/changes?before={}&q={}", r.id, field(&q, "q")))).flatten();
    Ok(view::render(
        StatusCode::OK,
        &view::ChangesPage {
            layout: Layout::new(&state, Some(&p), "Policy change log", "/policy/changes"),
            rows,
            q: field(&q, "q").to_owned(),
            older,
        },
    ))
}

/// The policy page's state.
async fn policy_page(
    state: &ConsoleState,
    p: &Principal,
    message: Option<String>,
    error: Option<String>,
    previews: Option<(Preview, Preview)>,
    form: &Fields,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let live = live(state)?;
    let snap = live.snapshot();
    let now = state.clock.now();
    let groups: Vec<(String, String)> = snap.policy().groups().iter().map(|g| (g.id.to_string(), g.title.to_string())).collect();
    let sites = state
        .store
        .policy_sites(false)
        .await?
        .into_iter()
        .map(|s| view::SiteRow {
            id: s.id,
            reference: s.reference(),
            live: s.is_live(now),
            expires: s.site.expires.map_or_else(|| "never".into(), view::when),
            group: s.site.group,
            action: s.site.action,
            site: s.site.site,
            scope: s.site.scope,
            reason: s.site.reason,
            author: s.site.author,
        })
        .collect();
    let base_sites = snap
        .policy()
        .groups()
        .iter()
        .flat_map(|g| {
            g.sites()
                .iter()
                .filter(|e| !e.reference.starts_with("site-"))
                .map(move |e| (g.id.to_string(), e.action.as_str().to_owned(), e.site.to_string(), e.reason.to_string()))
        })
        .collect();
    let rules = state
        .store
        .policy_rules()
        .await?
        .into_iter()
        .map(|r| (r.group, r.category, r.base, r.windows.join(", "), r.nominated.join(", ")))
        .collect();
    let loaded = live.lists_loaded();
    let stale = now.duration_since(loaded) > FLOOR_STALE_AFTER;
    let floor = snap
        .floor()
        .sources()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let c = snap.floor().counts(haven_policy::SourceId::from_index(i));
            let age =
                std::fs::metadata(&*s.origin).and_then(|m| m.modified()).ok().and_then(|m| Timestamp::try_from(m).ok()).unwrap_or(loaded);
            let old = now.duration_since(age) > FLOOR_STALE_AFTER;
            view::FloorRow {
                name: s.name.to_string(),
                origin: s.origin.to_string(),
                entries: c.domains + c.ips + c.urls + c.expressions + c.hashed,
                age: view::when(age),
                stale: old,
            }
        })
        .collect();
    let (before, after) = match previews {
        Some((b, a)) => (Some(b), Some(a)),
        None => (None, None),
    };
    Ok(view::render(
        status,
        &view::PolicyPage {
            layout: Layout::new(state, Some(p), "Filtering policy", "/policy"),
            groups,
            sites,
            base_sites,
            rules,
            floor,
            stale,
            message,
            error,
            before,
            after,
            form_group: field(form, "group").to_owned(),
            form_site: field(form, "site").to_owned(),
            form_action: field(form, "action").to_owned(),
            form_users: field(form, "users").to_owned(),
            form_expires: field(form, "expires").to_owned(),
            form_reason: field(form, "reason").to_owned(),
        },
    ))
}

/// `GET /policy`.
pub async fn page(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> Result<Response, ConsoleError> {
    policy_page(&state, &p, None, None, None, &Vec::new(), StatusCode::OK).await
}

/// `POST /policy/sites`: preview (the `preview` button) or save.
pub async fn add_site(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    match check_site(&state, &p.account.username, &f).await {
        Ok((form, before, after)) => {
            if field(&f, "preview") == "1" {
                return policy_page(&state, &p, None, None, Some((before, after)), &f, StatusCode::OK).await;
            }
            let id = save_site(&state, &form).await?;
            policy_page(
                &state,
                &p,
                Some(format!("Saved as site-{id}: {}. It takes effect within seconds.", describe_site(&form.site))),
                None,
                None,
                &Vec::new(),
                StatusCode::OK,
            )
            .await
        }
        Err(ConsoleError::BadRequest(m)) => policy_page(&state, &p, None, Some(m), None, &f, StatusCode::BAD_REQUEST).await,
        Err(e) => Err(e),
    }
}

/// `POST /policy/sites/{id}/remove` (`reason`).
pub async fn remove(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    match remove_site(&state, &p.account.username, id, field(&f, "reason")).await {
        Ok(()) => policy_page(&state, &p, Some(format!("site-{id} removed.")), None, None, &Vec::new(), StatusCode::OK).await,
        Err(ConsoleError::BadRequest(m)) => policy_page(&state, &p, None, Some(m), None, &Vec::new(), StatusCode::BAD_REQUEST).await,
        Err(e) => Err(e),
    }
}

/// `POST /policy/rules` (`group`, `category`, `base` allow|block|during|inherit, `windows`, `nominated`, `reason`).
pub async fn rule(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    match set_rule(&state, &p.account.username, &f).await {
        Ok(()) => {
            policy_page(
                &state,
                &p,
                Some(format!("Rule for {} in {} saved.", field(&f, "category"), field(&f, "group"))),
                None,
                None,
                &Vec::new(),
                StatusCode::OK,
            )
            .await
        }
        Err(ConsoleError::BadRequest(m)) => policy_page(&state, &p, None, Some(m), None, &Vec::new(), StatusCode::BAD_REQUEST).await,
        Err(e) => Err(e),
    }
}

/// A JSON object body as form fields (arrays joined with commas).
pub fn json_fields(v: &Value) -> Fields {
    v.as_object().map_or_else(Vec::new, |o| {
        o.iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect()
    })
}

/// `GET /api/v1/policy/sites`.
pub async fn api_sites(State(state): State<ConsoleState>) -> Result<Response, ApiError> {
    let sites: Vec<Value> = state
        .store
        .policy_sites(false)
        .await?
        .into_iter()
        .map(|s| {
            json!({ "id": s.id, "reference": s.reference(), "group": s.site.group, "action": s.site.action, "site": s.site.site, "users": s.site.users,
                    "scope": s.site.scope, "reason": s.site.reason, "author": s.site.author, "expires": s.site.expires.map(rfc3339), "created": rfc3339(s.created) })
        })
        .collect();
    Ok(Json(json!({ "sites": sites })).into_response())
}

/// `POST /api/v1/policy/sites` (JSON: group, action, site, users, expires, reason, preview).
pub async fn api_add_site(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    body: Option<Json<Value>>,
) -> Result<Response, ApiError> {
    let f = json_fields(&body.map_or(Value::Null, |b| b.0));
    let (form, before, after) = check_site(&state, &p.account.username, &f).await?;
    let show = |x: &Preview| json!({ "action": x.verdict.to_lowercase(), "reason": x.sentence, "reference": x.rule });
    if matches!(field(&f, "preview"), "true" | "1") {
        return Ok(Json(json!({ "saved": false, "before": show(&before), "after": show(&after) })).into_response());
    }
    let id = save_site(&state, &form).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "saved": true, "id": id, "reference": format!("site-{id}"), "before": show(&before), "after": show(&after) })),
    )
        .into_response())
}

/// `POST /api/v1/policy/sites/{id}/remove` (JSON: reason).
pub async fn api_remove_site(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    body: Option<Json<Value>>,
) -> Result<Response, ApiError> {
    let f = json_fields(&body.map_or(Value::Null, |b| b.0));
    remove_site(&state, &p.account.username, id, field(&f, "reason")).await?;
    Ok(Json(json!({ "removed": id })).into_response())
}

/// `GET /api/v1/policy/changes` (`q`, `from`, `to`, `before`).
pub async fn api_changes(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<Fields>,
) -> Result<Response, ApiError> {
    let names = p.can(Permission::ViewPeople);
    let rows: Vec<Value> = state
        .store
        .policy_changes(&change_query(&q)?)
        .await?
        .into_iter()
        .map(|r| change_row(r, names))
        .map(|r| json!({ "id": r.id, "time": r.time_rfc, "actor": r.actor, "kind": r.kind, "target": r.target, "before": r.before, "after": r.after, "reason": r.reason }))
        .collect();
    Ok(Json(json!({ "changes": rows })).into_response())
}
