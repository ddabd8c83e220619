//! Unblock requests: the block page's "ask for this site to be unblocked" link lands here. A
//! pupil (no console account) asks on the public form and the request goes to the teacher they
//! name or to IT; a signed-in member of staff asks with a scope (themselves, a pupil, a class's
//! user names, or the whole filtering group) and an expiry. Approvers (IT admin, SLT, or the
//! member of staff a request was routed to) approve or decline in one click; approval adds the
//! site entry through the change-log path and it is in force within seconds. The page shows the
//! median and p90 time from request to decision.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use haven_accounts::Permission;
use haven_accounts::random::token_hash;
use haven_accounts::session;
use haven_store::{NewChange, NewSite, NewUnblockRequest, UnblockRecord};
use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::ConsoleState;
use crate::api::ApiError;
use crate::error::ConsoleError;
use crate::guard::{self, Principal, SIGN_IN_COOKIE, set_cookie};
use crate::pages::{Fields, field, rfc3339};
use crate::policy::{parse_expiry, scope_words};
use crate::view::{self, Layout};

/// The group a block page's rule reference names, so the request goes to the right policy:
/// `ks3/gambling` -> `ks3`, `sixth-form/games` -> `sixth-form`, `year-7-site-2` -> `year-7`.
fn group_of(reference: &str) -> &str {
    if let Some((group, _)) = reference.split_once('/') {
        return group;
    }
    match reference.rsplit_once("-site-") {
        Some((group, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => group,
        _ => "",
    }
}

/// The site to allow from the blocked address (`https://a.example/x` -> `a.example`).
fn site_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#', ':']).next().unwrap_or("").to_ascii_lowercase()
}

fn form_page(
    state: &ConsoleState,
    who: Option<&Principal>,
    q: &Fields,
    csrf: String,
    message: Option<String>,
    error: Option<String>,
    staff: bool,
) -> view::UnblockFormPage {
    let url = field(q, "url").to_owned();
    view::UnblockFormPage {
        layout: Layout::new(state, who, "Ask for a site to be unblocked", if staff { "/unblock/staff" } else { "/unblock" }),
        csrf,
        site: Some(field(q, "site")).filter(|s| !s.is_empty()).map_or_else(|| site_of(&url), str::to_owned),
        url,
        reference: field(q, "ref").to_owned(),
        category: field(q, "category").to_owned(),
        message,
        error,
        staff,
    }
}

/// Validate and store a request; returns its id.
async fn create(state: &ConsoleState, requester: &str, from_pupil: bool, f: &Fields) -> Result<i64, ConsoleError> {
    let now = state.clock.now();
    let reason = field(f, "reason");
    if reason.is_empty() {
        return Err(ConsoleError::BadRequest("reason: say why the site is needed".into()));
    }
    if requester.is_empty() {
        return Err(ConsoleError::BadRequest("name: say who is asking".into()));
    }
    let site = Some(field(f, "site")).filter(|s| !s.is_empty()).map_or_else(|| site_of(field(f, "url")), str::to_owned);
    haven_policy::What::parse(&site).map_err(|e| ConsoleError::BadRequest(format!("site: {e}")))?;
    let reference = field(f, "ref");
    let mut group = Some(field(f, "group")).filter(|g| !g.is_empty()).unwrap_or(group_of(reference)).to_owned();
    if let Some(live) = state.policy.as_deref() {
        let snap = live.snapshot();
        if snap.policy().group_idx(&group).is_none() {
            group = snap.policy().group(snap.policy().fallback()).id.to_string();
        }
    }
    let (kind, users) = if from_pupil {
        ("pupil", vec![field(f, "username").to_owned()].into_iter().filter(|u| !u.is_empty()).collect::<Vec<_>>())
    } else {
        match field(f, "scope") {
            "themselves" | "" => ("themselves", vec![requester.to_owned()]),
            "group" => ("group", Vec::new()),
            k @ ("pupil" | "class") => {
                (k, field(f, "users").split([',', ' ', '\n']).map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect())
            }
            other => return Err(ConsoleError::BadRequest(format!("scope: `{other}` must be themselves, pupil, class or group"))),
        }
    };
    if matches!(kind, "pupil" | "class") && users.is_empty() {
        return Err(ConsoleError::BadRequest("users: name the pupils' user names".into()));
    }
    let expires = parse_expiry(Some(field(f, "expires")).filter(|e| !e.is_empty()).unwrap_or("7d"))?;
    let (scope, names_pupil, public) = scope_words(&group, &users, kind);
    let route_to = Some(field(f, "teacher")).filter(|t| !t.is_empty()).unwrap_or("it").to_ascii_lowercase();
    let req = NewUnblockRequest {
        requester: requester.to_owned(),
        from_pupil,
        site: site.clone(),
        url: field(f, "url").to_owned(),
        category: field(f, "category").to_owned(),
        rule: reference.to_owned(),
        reason: reason.to_owned(),
        group: group.clone(),
        scope,
        users,
        names_pupil: names_pupil || from_pupil,
        expires_secs: expires.map(|d| d.as_secs()),
        route_to,
        // The one-time decision link's token: only its hash is kept. Sending it (the email) is
        // the alerting service's job; `decision_link` builds the address it would carry.
        link_hash: token_hash(&session::new_token()?),
    };
    let who = if from_pupil { "a pupil".to_owned() } else { requester.to_owned() };
    let c = NewChange {
        actor: if from_pupil { "pupil".into() } else { requester.to_owned() },
        kind: "unblock_requested".into(),
        target: format!("{group} {site} for {}", req.scope),
        before: String::new(),
        after: format!("asked by {who}"),
        reason: reason.to_owned(),
        names_pupil: req.names_pupil,
        public_text: format!("{group} {site} for {public}"),
    };
    Ok(state.store.create_unblock_request(&req, &c, now).await?)
}

/// `GET /unblock` (public: the block page's link; `url`, `ref`, `category`).
pub async fn public_form(State(state): State<ConsoleState>, headers: HeaderMap, Query(q): Query<Fields>) -> Result<Response, ConsoleError> {
    let csrf = match guard::cookie(&headers, SIGN_IN_COOKIE).filter(|c| c.len() >= 32) {
        Some(c) => c.to_owned(),
        None => session::new_token()?,
    };
    let mut r = view::render(StatusCode::OK, &form_page(&state, None, &q, csrf.clone(), None, None, false));
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, &csrf, 3600, state.settings.secure_cookies));
    Ok(r)
}

/// `POST /unblock` (public, double-submit CSRF): a pupil's request.
pub async fn public_submit(State(state): State<ConsoleState>, Form(f): Form<Fields>) -> Result<Response, ConsoleError> {
    let csrf = field(&f, guard::CSRF_FIELD).to_owned();
    let name = field(&f, "name").to_owned();
    match create(&state, &name, true, &f).await {
        Ok(id) => Ok(view::render(
            StatusCode::OK,
            &form_page(
                &state,
                None,
                &f,
                csrf,
                Some(format!("Request {id} sent. Your teacher or the IT team will look at it soon.")),
                None,
                false,
            ),
        )),
        Err(ConsoleError::BadRequest(m)) => {
            Ok(view::render(StatusCode::BAD_REQUEST, &form_page(&state, None, &f, csrf, None, Some(m), false)))
        }
        Err(e) => Err(e),
    }
}

/// `GET /unblock/staff`: the signed-in form with scope and expiry.
pub async fn staff_form(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, Query(q): Query<Fields>) -> Response {
    view::render(StatusCode::OK, &form_page(&state, Some(&p), &q, p.csrf().to_owned(), None, None, true))
}

/// `POST /unblock/staff`.
pub async fn staff_submit(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    match create(&state, &p.account.username, false, &f).await {
        Ok(id) => Ok(view::render(
            StatusCode::OK,
            &form_page(&state, Some(&p), &f, p.csrf().to_owned(), Some(format!("Request {id} sent to the approvers.")), None, true),
        )),
        Err(ConsoleError::BadRequest(m)) => {
            Ok(view::render(StatusCode::BAD_REQUEST, &form_page(&state, Some(&p), &f, p.csrf().to_owned(), None, Some(m), true)))
        }
        Err(e) => Err(e),
    }
}

/// Whether `p` may decide `r`: approvers, or the member of staff it was routed to.
fn may_decide(p: &Principal, r: &UnblockRecord) -> bool {
    p.can(Permission::ApproveUnblock) || r.request.route_to == p.account.username
}

/// Median and p90 of decision times, in words.
pub fn decision_times(ms: &mut [i64]) -> (String, String) {
    if ms.is_empty() {
        return ("no decisions yet".into(), "no decisions yet".into());
    }
    ms.sort_unstable();
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    let words = |v: i64| {
        let s = v / 1000;
        if s < 120 {
            format!("{s} s")
        } else if s < 7200 {
            format!("{} min", s / 60)
        } else {
            format!("{:.1} h", s as f64 / 3600.0)
        }
    };
    (words(at(0.5)), words(at(0.9)))
}

/// Approve or decline; approval adds the site entry with the request's scope and expiry.
pub async fn decide(state: &ConsoleState, p: &Principal, id: i64, approve: bool, note: &str) -> Result<Option<i64>, ConsoleError> {
    let r = state.store.unblock_request(Some(id), None).await?.ok_or(ConsoleError::NotFound("unblock request"))?;
    if !may_decide(p, &r) {
        return Err(ConsoleError::BadRequest("only IT, SLT or the member of staff this request went to can decide it".into()));
    }
    let now = state.clock.now();
    let q = &r.request;
    let site = approve.then(|| NewSite {
        group: q.group.clone(),
        action: "allow".into(),
        site: q.site.clone(),
        reason: format!("unblock request {id}: {}", q.reason),
        author: p.account.username.clone(),
        users: q.users.clone(),
        scope: q.scope.clone(),
        names_pupil: q.names_pupil,
        expires: q.expires_secs.and_then(|s| now.checked_add(SignedDuration::from_secs(s)).ok()),
    });
    if let Some(s) = &site {
        // Compile first, so a site on the illegal floor is refused before anything is saved.
        let f: Fields = vec![
            ("group".into(), s.group.clone()),
            ("site".into(), s.site.clone()),
            ("action".into(), "allow".into()),
            ("users".into(), s.users.join(",")),
            ("reason".into(), s.reason.clone()),
        ];
        crate::policy::check_site(state, &p.account.username, &f).await?;
    }
    let (_, _, public) = scope_words(&q.group, &q.users, if q.names_pupil { "pupil" } else { "themselves" });
    let c = NewChange {
        actor: p.account.username.clone(),
        kind: if approve { "unblock_approved".into() } else { "unblock_declined".into() },
        target: format!("request {id} {} {} for {}", q.group, q.site, q.scope),
        before: "pending".into(),
        after: site.as_ref().map_or_else(|| "declined".into(), haven_store::describe_site),
        reason: if note.is_empty() { q.reason.clone() } else { note.to_owned() },
        names_pupil: q.names_pupil,
        public_text: format!("request {id} {} {} for {public}", q.group, q.site),
    };
    let sid = state.store.decide_unblock_request(id, &p.account.username, note, site.as_ref(), &c, now).await?;
    if let Some(live) = state.policy.as_deref() {
        live.notify();
    }
    Ok(sid)
}

async fn list_page(
    state: &ConsoleState,
    p: &Principal,
    message: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let all = state.store.unblock_requests(false, 200).await?;
    let see_all = p.can(Permission::ViewUnblockRequests);
    let rows = all
        .into_iter()
        .filter(|r| see_all || r.request.requester == p.account.username || r.request.route_to == p.account.username)
        .map(|r| view::UnblockRow {
            id: r.id,
            created: view::when(r.created),
            can_decide: r.status == "pending" && may_decide(p, &r),
            requester: if r.request.from_pupil { format!("{} (pupil)", r.request.requester) } else { r.request.requester.clone() },
            site: r.request.site.clone(),
            scope: r.request.scope.clone(),
            expires: r
                .request
                .expires_secs
                .map_or_else(|| "never".into(), |s| format!("{} after approval", crate::unblock::duration_words(s))),
            reason: r.request.reason.clone(),
            route_to: r.request.route_to.clone(),
            status: match (&r.decided, &r.decided_by) {
                (Some(t), Some(by)) => format!("{} by {by}, {}", r.status, view::when(*t)),
                _ => r.status.clone(),
            },
        })
        .collect();
    let mut times = state.store.unblock_decision_times(500).await?;
    let (median, p90) = decision_times(&mut times);
    Ok(view::render(
        status,
        &view::UnblockListPage {
            layout: Layout::new(state, Some(p), "Unblock requests", "/unblock/requests"),
            rows,
            median,
            p90,
            decided: times.len(),
            message,
            error,
        },
    ))
}

/// "2 h", "7 d".
pub fn duration_words(s: i64) -> String {
    if s % 86_400 == 0 {
        format!("{} d", s / 86_400)
    } else if s % 3600 == 0 {
        format!("{} h", s / 3600)
    } else if s % 60 == 0 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// `GET /unblock/requests`.
pub async fn list(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> Result<Response, ConsoleError> {
    list_page(&state, &p, None, None, StatusCode::OK).await
}

async fn decide_page(state: ConsoleState, p: Principal, id: i64, approve: bool, f: Fields) -> Result<Response, ConsoleError> {
    match decide(&state, &p, id, approve, field(&f, "note")).await {
        Ok(sid) => {
            let m = match sid {
                Some(s) => format!("Request {id} approved as site-{s}; it is in force within seconds."),
                None => format!("Request {id} declined."),
            };
            list_page(&state, &p, Some(m), None, StatusCode::OK).await
        }
        Err(e @ (ConsoleError::BadRequest(_) | ConsoleError::Record(haven_store::RecordError::Conflict { .. }))) => {
            let status = e.status();
            list_page(&state, &p, None, Some(e.to_string()), status).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /unblock/requests/{id}/approve` (`note`).
pub async fn approve(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    decide_page(state, p, id, true, f).await
}

/// `POST /unblock/requests/{id}/decline` (`note`).
pub async fn decline(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    decide_page(state, p, id, false, f).await
}

fn request_json(r: &UnblockRecord) -> Value {
    let q = &r.request;
    json!({ "id": r.id, "created": rfc3339(r.created), "requester": q.requester, "from_pupil": q.from_pupil, "site": q.site, "url": q.url,
            "category": q.category, "rule": q.rule, "reason": q.reason, "group": q.group, "scope": q.scope, "users": q.users,
            "expires_secs": q.expires_secs, "route_to": q.route_to, "status": r.status, "decided": r.decided.map(rfc3339),
            "decided_by": r.decided_by, "site_id": r.site_id })
}

/// `GET /api/v1/unblock-requests`.
pub async fn api_list(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> Result<Response, ApiError> {
    let see_all = p.can(Permission::ViewUnblockRequests);
    let rows: Vec<Value> = state
        .store
        .unblock_requests(false, 500)
        .await?
        .iter()
        .filter(|r| see_all || r.request.requester == p.account.username || r.request.route_to == p.account.username)
        .map(request_json)
        .collect();
    let mut times = state.store.unblock_decision_times(500).await?;
    times.sort_unstable();
    let pick = |q: f64| (!times.is_empty()).then(|| times[((times.len() - 1) as f64 * q).round() as usize]);
    Ok(Json(json!({ "requests": rows, "decision_ms": { "median": pick(0.5), "p90": pick(0.9), "decided": times.len() } })).into_response())
}

/// `POST /api/v1/unblock-requests` (JSON as the staff form).
pub async fn api_create(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    body: Option<Json<Value>>,
) -> Result<Response, ApiError> {
    let f = crate::policy::json_fields(&body.map_or(Value::Null, |b| b.0));
    let id = create(&state, &p.account.username, false, &f).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// `POST /api/v1/unblock-requests/{id}/approve` and `/decline` (JSON: note).
pub async fn api_approve(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    body: Option<Json<Value>>,
) -> Result<Response, ApiError> {
    let f = crate::policy::json_fields(&body.map_or(Value::Null, |b| b.0));
    let sid = decide(&state, &p, id, true, field(&f, "note")).await?;
    Ok(Json(json!({ "id": id, "status": "approved", "site_id": sid })).into_response())
}

/// `POST /api/v1/unblock-requests/{id}/decline`.
pub async fn api_decline(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    body: Option<Json<Value>>,
) -> Result<Response, ApiError> {
    let f = crate::policy::json_fields(&body.map_or(Value::Null, |b| b.0));
    decide(&state, &p, id, false, field(&f, "note")).await?;
    Ok(Json(json!({ "id": id, "status": "declined" })).into_response())
}

#[cfg(test)]
mod tests {
    use super::group_of;

    #[test]
    fn group_of_keeps_hyphens_in_group_ids() {
        assert_eq!(group_of("ks3/gambling"), "ks3");
        assert_eq!(group_of("sixth-form/games"), "sixth-form");
        assert_eq!(group_of("year-7-site-2"), "year-7");
        assert_eq!(group_of("staff-site-12"), "staff");
        assert_eq!(group_of("floor"), "");
        assert_eq!(group_of("a-site-x"), "");
    }
}
