//! Console page handlers: sign-in in steps (password, second factor, forced password change,
//! enrolment), the dashboard, accounts administration, the sign-in audit log and API tokens.
//!
//! Every sign-in step issues a fresh session and deletes the old one (no fixation); every
//! success, failure, lockout and account change is appended to the audit log first, and a
//! failure to record it fails the request.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use haven_accounts::random::token_hash;
use haven_accounts::role::PermissionSet;
use haven_accounts::session::{self, Stage};
use haven_accounts::totp::TotpSecret;
use haven_accounts::{LockoutPolicy, Permission, Role, RoleSet, password};
use haven_store::{Account, AuthAuditQuery, AuthEvent, SessionRecord};
use jiff::Timestamp;

use crate::error::ConsoleError;
use crate::guard::{self, ClientAddr, Principal, SESSION_COOKIE, SIGN_IN_COOKIE, set_cookie};
use crate::view::{self, Layout};
use crate::ConsoleState;

/// A posted form: every field in order, so repeated fields (checkboxes) survive.
pub type Fields = Vec<(String, String)>;

/// The first value of a form field, trimmed ("" when absent).
pub fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
}

/// Every value of a repeated form field.
pub fn fields<'a>(f: &'a Fields, name: &str) -> Vec<&'a str> {
    f.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim()).collect()
}

type PageResult = Result<Response, ConsoleError>;

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if self.status() == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "console request failed");
        }
        let layout = Layout { title: "Error".into(), school: String::new(), user: None, csrf: String::new(), nav: Vec::new(), current: String::new() };
        view::render(self.status(), &view::ErrorPage { layout, status: self.status().as_u16(), message: self.public_message() })
    }
}

fn page<T: Template>(t: &T) -> PageResult {
    Ok(view::render(StatusCode::OK, t))
}

fn client(ext: Option<Extension<ClientAddr>>) -> String {
    ext.map_or_else(String::new, |c| c.0.0.ip().to_string())
}

/// Append to the audit log; a failure to record fails the request.
async fn audit(state: &ConsoleState, e: AuthEvent<'_>) -> Result<(), ConsoleError> {
    state.store.append_auth_event(&e, state.clock.now()).await?;
    Ok(())
}

/// `GET /-/healthy`: the console answers.
pub async fn healthy() -> &'static str {
    "ok\n"
}

/// `GET /static/haven.css`.
pub async fn stylesheet() -> Response {
    let mut r = include_str!("../static/haven.css").into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

/// Any path that is not a route.
pub async fn not_found(State(state): State<ConsoleState>) -> Response {
    view::error_page(&state, None, StatusCode::NOT_FOUND, "There is no such page.")
}

/// The stage a session moves to once the steps before it are done.
fn next_stage(a: &Account, totp_done: bool) -> Stage {
    if a.totp_secret.is_some() && !totp_done {
        Stage::NeedsTotp
    } else if a.must_change_password {
        Stage::NeedsPasswordChange
    } else if a.totp_secret.is_none() && a.roles.requires_mfa() {
        Stage::NeedsEnrolment
    } else {
        Stage::Full
    }
}

/// Issue a new session (new token, new CSRF token), delete the one the request came with, and
/// redirect to where the new stage belongs.
async fn rotate_session(state: &ConsoleState, headers: &HeaderMap, account_id: i64, stage: Stage, client: &str, to: Option<&str>) -> PageResult {
    if let Some(old) = guard::cookie(headers, SESSION_COOKIE) {
        state.store.delete_session(&token_hash(old)).await?;
    }
    let token = session::new_token()?;
    let now = state.clock.now();
    let record = SessionRecord {
        token_hash: token_hash(&token),
        account_id,
        stage,
        csrf_token: session::new_token()?,
        created: now,
        last_seen: now,
        client: client.to_owned(),
    };
    state.store.insert_session(&record).await?;
    let policy = &state.settings.session;
    let max_age = if stage == Stage::Full { policy.absolute } else { policy.pending }.as_secs();
    let mut r = Redirect::to(to.unwrap_or(guard::stage_page(stage))).into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &token, max_age, state.settings.secure_cookies));
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, "", 0, state.settings.secure_cookies));
    Ok(r)
}

fn sign_in_page(state: &ConsoleState, csrf: String, username: &str, error: Option<String>, notice: Option<String>, status: StatusCode) -> Response {
    let mut r = view::render(
        status,
        &view::SignInPage { layout: Layout::new(state, None, "Sign in", "/sign-in"), sign_in_csrf: csrf.clone(), username: username.to_owned(), error, notice },
    );
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, &csrf, 3600, state.settings.secure_cookies));
    r
}

/// `GET /sign-in`.
pub async fn sign_in_form(State(state): State<ConsoleState>, headers: HeaderMap) -> PageResult {
    let csrf = match guard::cookie(&headers, SIGN_IN_COOKIE).filter(|c| c.len() >= 32) {
        Some(c) => c.to_owned(),
        None => session::new_token()?,
    };
    Ok(sign_in_page(&state, csrf, "", None, None, StatusCode::OK))
}

const WRONG: &str = "The username or password is wrong.";

/// `POST /sign-in`: the password step.
pub async fn sign_in(State(state): State<ConsoleState>, addr: Option<Extension<ClientAddr>>, headers: HeaderMap, Form(f): Form<Fields>) -> PageResult {
    let now = state.clock.now();
    let ip = addr.as_ref().map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip());
    let client = client(addr);
    let username = field(&f, "username").to_owned();
    let password = f.iter().find(|(k, _)| k == "password").map_or("", |(_, v)| v.as_str());
    let csrf = field(&f, guard::CSRF_FIELD).to_owned();
    let policy = state.settings.lockout.clone();
    let refuse = |msg: &str, status| Ok(sign_in_page(&state, csrf.clone(), &username, Some(msg.to_owned()), None, status));

    let throttled = state.throttle.lock().map(|t| !t.allowed(&policy, ip, now)).unwrap_or(false);
    if throttled {
        audit(&state, AuthEvent { event: "sign_in_throttled", username: &username, client: &client, detail: "too many failures from this address", ..Default::default() }).await?;
        return refuse("Too many failed sign-ins from this device. Wait 15 minutes and try again.", StatusCode::TOO_MANY_REQUESTS);
    }
    let record_address_failure = || {
        if let Ok(mut t) = state.throttle.lock() {
            t.record_failure(&policy, ip, now);
        }
    };
    let Some(account) = state.store.account_by_username(&username).await? else {
        password::verify_dummy(password);
        record_address_failure();
        audit(&state, AuthEvent { event: "sign_in_failed", username: &username, client: &client, detail: "no such account", ..Default::default() }).await?;
        return refuse(WRONG, StatusCode::UNAUTHORIZED);
    };
    let base = AuthEvent { username: &account.username, account_id: Some(account.id), client: &client, ..Default::default() };
    if LockoutPolicy::is_locked(account.locked_until, now) {
        record_address_failure();
        audit(&state, AuthEvent { event: "sign_in_refused", detail: "account locked", ..base.clone() }).await?;
        let until = account.locked_until.map(view::when).unwrap_or_default();
        return refuse(&format!("This account is locked after repeated failed sign-ins. Try again after {until}, or ask your Haven administrator to unlock it."), StatusCode::FORBIDDEN);
    }
    if !password::verify_password(&account.password_hash, password) {
        record_address_failure();
        let outcome = policy.on_failure(account.failed_sign_ins, now);
        state.store.record_sign_in_failure(account.id, outcome.failures, outcome.locked_until).await?;
        audit(&state, AuthEvent { event: "sign_in_failed", detail: "wrong password", ..base.clone() }).await?;
        if let Some(until) = outcome.locked_until {
            let detail = format!("locked until {until} after {} failures", policy.max_failures);
            audit(&state, AuthEvent { event: "locked", detail: &detail, ..base.clone() }).await?;
            return refuse("Too many failed sign-ins: this account is now locked for 15 minutes. Your Haven administrator can unlock it sooner.", StatusCode::FORBIDDEN);
        }
        return refuse(WRONG, StatusCode::UNAUTHORIZED);
    }
    if account.disabled {
        audit(&state, AuthEvent { event: "sign_in_refused", detail: "account disabled", ..base.clone() }).await?;
        return refuse("This account is disabled. Ask your Haven administrator.", StatusCode::FORBIDDEN);
    }
    if let Ok(mut t) = state.throttle.lock() {
        t.record_success(ip);
    }
    let stage = next_stage(&account, false);
    if stage == Stage::Full {
        state.store.record_sign_in_success(account.id, now).await?;
        audit(&state, AuthEvent { event: "sign_in", detail: "password", ..base.clone() }).await?;
    } else {
        let detail = format!("password accepted; next: {}", stage.as_str());
        audit(&state, AuthEvent { event: "password_accepted", detail: &detail, ..base.clone() }).await?;
    }
    rotate_session(&state, &headers, account.id, stage, &client, None).await
}

/// `GET /sign-in/totp`.
pub async fn totp_form(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> PageResult {
    page(&view::TotpPage { layout: Layout::new(&state, Some(&p), "Two-factor code", ""), error: None })
}

/// Count a failed second-factor code towards the lock; true if it locked the account (sign-in
/// and the records step-up share it).
pub(crate) async fn second_factor_failed(state: &ConsoleState, a: &Account, client: &str, event: &str) -> Result<bool, ConsoleError> {
    let now = state.clock.now();
    let policy = &state.settings.lockout;
    let outcome = policy.on_failure(a.failed_sign_ins, now);
    state.store.record_sign_in_failure(a.id, outcome.failures, outcome.locked_until).await?;
    let base = AuthEvent { username: &a.username, account_id: Some(a.id), client, ..Default::default() };
    audit(state, AuthEvent { event, detail: "wrong or reused code", ..base.clone() }).await?;
    if let Some(until) = outcome.locked_until {
        let detail = format!("locked until {until} after {} failures", policy.max_failures);
        audit(state, AuthEvent { event: "locked", detail: &detail, ..base }).await?;
        state.store.delete_sessions_of(a.id).await?;
        return Ok(true);
    }
    Ok(false)
}

/// `POST /sign-in/totp`: the second-factor step.
pub async fn totp(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> PageResult {
    let client = client(addr);
    let a = &p.account;
    let now = state.clock.now();
    let secret = a.totp_secret.as_deref().and_then(|s| TotpSecret::from_base32(s).ok());
    let step = match secret.and_then(|s| s.verify(field(&f, "code"), now, a.totp_last_step)) {
        Some(step) if state.store.claim_totp_step(a.id, step).await? => Some(step),
        _ => None,
    };
    if step.is_none() {
        if second_factor_failed(&state, a, &client, "totp_failed").await? {
            let mut r = Redirect::to("/sign-in").into_response();
            r.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, state.settings.secure_cookies));
            return Ok(r);
        }
        let error = Some("That code is not right. Check the time on your phone and use the newest code.".to_owned());
        return Ok(view::render(StatusCode::UNAUTHORIZED, &view::TotpPage { layout: Layout::new(&state, Some(&p), "Two-factor code", ""), error }));
    }
    let stage = next_stage(a, true);
    let base = AuthEvent { username: &a.username, account_id: Some(a.id), client: &client, ..Default::default() };
    if stage == Stage::Full {
        state.store.record_sign_in_success(a.id, now).await?;
        audit(&state, AuthEvent { event: "sign_in", detail: "password and TOTP", ..base }).await?;
    }
    rotate_session(&state, &headers, a.id, stage, &client, None).await
}

/// The pending enrolment secret, creating one if there is none yet.
async fn pending_secret(state: &ConsoleState, a: &Account) -> Result<TotpSecret, ConsoleError> {
    if let Some(s) = a.totp_pending.as_deref().and_then(|s| TotpSecret::from_base32(s).ok()) {
        return Ok(s);
    }
    let s = TotpSecret::generate()?;
    state.store.set_totp_pending(a.id, Some(&s.to_base32())).await?;
    Ok(s)
}

fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build()
            .replace(r#"<?xml version="1.0" standalone="yes"?>"#, "")
            .replacen("<svg ", r#"<svg role="img" aria-label="QR code for Haven two-factor sign-in" "#, 1),
        Err(_) => String::new(),
    }
}

fn enrol_page(state: &ConsoleState, p: &Principal, secret: &TotpSecret, error: Option<String>, status: StatusCode) -> Response {
    let uri = secret.otpauth_uri(&format!("Haven {}", state.settings.school), &p.account.username);
    let required = p.session.as_ref().is_some_and(|s| s.stage == Stage::NeedsEnrolment);
    view::render(
        status,
        &view::EnrolPage {
            layout: Layout::new(state, Some(p), "Set up two-factor sign-in", "/account/two-factor"),
            required,
            enrolled: p.account.totp_secret.is_some(),
            secret: secret.to_base32(),
            qr_svg: qr_svg(&uri),
            uri,
            error,
        },
    )
}

/// `GET /account/two-factor`: show a secret to scan.
pub async fn enrol_form(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> PageResult {
    let secret = pending_secret(&state, &p.account).await?;
    Ok(enrol_page(&state, &p, &secret, None, StatusCode::OK))
}

/// `POST /account/two-factor`: confirm the scanned secret with a code.
pub async fn enrol(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> PageResult {
    let client = client(addr);
    let a = &p.account;
    let now = state.clock.now();
    let secret = pending_secret(&state, a).await?;
    let Some(step) = secret.verify(field(&f, "code"), now, None) else {
        if second_factor_failed(&state, a, &client, "totp_enrolment_failed").await? {
            return Ok(Redirect::to("/sign-in").into_response());
        }
        let error = Some("That code does not match. Scan the QR code again, or type the key, and enter the newest code.".to_owned());
        return Ok(enrol_page(&state, &p, &secret, error, StatusCode::UNPROCESSABLE_ENTITY));
    };
    state.store.confirm_totp(a.id, &secret.to_base32(), step).await?;
    let base = AuthEvent { username: &a.username, account_id: Some(a.id), client: &client, ..Default::default() };
    let replaced = if a.totp_secret.is_some() { "replaced the authenticator" } else { "turned on two-factor sign-in" };
    audit(&state, AuthEvent { event: "totp_enrolled", detail: replaced, ..base.clone() }).await?;
    let was_pending = p.session.as_ref().is_some_and(|s| s.stage != Stage::Full);
    if was_pending {
        state.store.record_sign_in_success(a.id, now).await?;
        audit(&state, AuthEvent { event: "sign_in", detail: "password, then two-factor enrolment", ..base }).await?;
    }
    rotate_session(&state, &headers, a.id, Stage::Full, &client, Some("/")).await
}

fn password_page(state: &ConsoleState, p: &Principal, errors: Vec<String>, done: bool, status: StatusCode) -> Response {
    let forced = p.session.as_ref().is_some_and(|s| s.stage == Stage::NeedsPasswordChange);
    view::render(
        status,
        &view::PasswordPage {
            layout: Layout::new(state, Some(p), "Change your password", "/account/password"),
            forced,
            rules: state.settings.password.describe(),
            errors,
            done,
        },
    )
}

/// `GET /account/password`.
pub async fn password_form(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, Query(q): Query<Fields>) -> PageResult {
    Ok(password_page(&state, &p, Vec::new(), field(&q, "done") == "1", StatusCode::OK))
}

/// `POST /account/password`: change one's own password; every other session ends.
pub async fn password(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> PageResult {
    let client = client(addr);
    let a = &p.account;
    let raw = |name: &str| f.iter().find(|(k, _)| k == name).map_or(String::new(), |(_, v)| v.clone());
    let (current, new, confirm) = (raw("current"), raw("new"), raw("confirm"));
    if !password::verify_password(&a.password_hash, &current) {
        if second_factor_failed(&state, a, &client, "password_change_failed").await? {
            return Ok(Redirect::to("/sign-in").into_response());
        }
        return Ok(password_page(&state, &p, vec!["Your current password is wrong.".into()], false, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let mut errors = Vec::new();
    let mut context: Vec<&str> = vec![a.username.as_str()];
    context.extend(a.display_name.split_whitespace());
    if let Err(password::PasswordError::Policy(broken)) = state.settings.password.check(&new, &context) {
        errors.extend(broken.into_iter().map(|b| format!("The new password {b}.")));
    }
    if new != confirm {
        errors.push("The two new passwords do not match.".into());
    }
    if new == current {
        errors.push("The new password must differ from the current one.".into());
    }
    if !errors.is_empty() {
        return Ok(password_page(&state, &p, errors, false, StatusCode::BAD_REQUEST));
    }
    let hash = password::hash_password(&new)?;
    let now = state.clock.now();
    state.store.set_password(a.id, &hash, now, false).await?;
    state.store.delete_sessions_of(a.id).await?;
    let base = AuthEvent { username: &a.username, account_id: Some(a.id), client: &client, ..Default::default() };
    audit(&state, AuthEvent { event: "password_changed", detail: "by the holder; other sessions signed out", ..base.clone() }).await?;
    let fresh = Account { must_change_password: false, ..a.clone() };
    let stage = next_stage(&fresh, true);
    let was_pending = p.session.as_ref().is_some_and(|s| s.stage != Stage::Full);
    if was_pending && stage == Stage::Full {
        state.store.record_sign_in_success(a.id, now).await?;
        audit(&state, AuthEvent { event: "sign_in", detail: "after a required password change", ..base }).await?;
    }
    let to = if stage == Stage::Full { Some("/account/password?done=1") } else { None };
    rotate_session(&state, &headers, a.id, stage, &client, to).await
}

/// `POST /sign-out`.
pub async fn sign_out(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, addr: Option<Extension<ClientAddr>>) -> PageResult {
    let client = client(addr);
    if let Some(s) = &p.session {
        state.store.delete_session(&s.token_hash).await?;
    }
    let a = &p.account;
    audit(&state, AuthEvent { event: "sign_out", username: &a.username, account_id: Some(a.id), client: &client, ..Default::default() }).await?;
    let mut r = Redirect::to("/sign-in").into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, state.settings.secure_cookies));
    Ok(r)
}

/// Aggregate counts anyone with the dashboard may see (never a name).
pub async fn dashboard_stats(state: &ConsoleState, p: &Principal) -> Result<Vec<view::Stat>, ConsoleError> {
    let mut stats = Vec::new();
    let accounts = state.store.accounts().await?;
    stats.push(view::Stat { key: "accounts_active", label: "console accounts".into(), value: accounts.iter().filter(|a| !a.disabled).count() as i64 });
    stats.push(view::Stat {
        key: "accounts_two_factor",
        label: "with two-factor sign-in".into(),
        value: accounts.iter().filter(|a| !a.disabled && a.totp_secret.is_some()).count() as i64,
    });
    // People per filtering group: counts only, so governors may see them.
    for (group, kind, n) in state.store.people_counts().await? {
        stats.push(view::Stat { key: "people", label: format!("{kind}s in {group}"), value: n });
    }
    // Safeguarding records: counts only (governors see these and nothing else of the records).
    let open = state.store.record_list(p.account.id, None, true, 5000).await?;
    let open: Vec<_> = open.into_iter().filter(|s| s.category != crate::records::FRONT_SHEET).collect();
    stats.push(view::Stat { key: "records_open", label: "open safeguarding records".into(), value: open.len() as i64 });
    if p.can(Permission::ManageRecords) {
        let new = crate::records_dsl::notices(state, p).await?.len();
        stats.push(view::Stat { key: "records_unacknowledged", label: "new concerns not yet acknowledged".into(), value: new as i64 });
    }
    if p.can(Permission::ViewAuthAudit) || p.can(Permission::ManageAccounts) {
        let day_ago = state.clock.now().as_millisecond() - 86_400_000;
        let failures = state.store.auth_audit(&AuthAuditQuery { event: Some("sign_in_failed".into()), limit: 1000, ..Default::default() }).await?;
        stats.push(view::Stat { key: "sign_in_failures_24h", label: "failed sign-ins in 24 hours".into(), value: failures.iter().filter(|r| r.time.as_millisecond() >= day_ago).count() as i64 });
        let now = state.clock.now();
        stats.push(view::Stat { key: "accounts_locked", label: "locked accounts".into(), value: accounts.iter().filter(|a| LockoutPolicy::is_locked(a.locked_until, now)).count() as i64 });
    }
    // Open alerts per severity: counts only (the DSL team and governors).
    if p.can(Permission::ManageAlerts) || p.can(Permission::ViewAlertQuality) {
        stats.extend(crate::alerts::dashboard_stats(state).await?);
    }
    Ok(stats)
}

/// `GET /`: the dashboard.
pub async fn dashboard(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> PageResult {
    let stats = dashboard_stats(&state, &p).await?;
    let roles = p.account.roles.iter().map(Role::label).collect::<Vec<_>>().join(", ");
    let concerns = crate::records_dsl::notices(&state, &p).await?;
    page(&view::DashboardPage {
        layout: Layout::new(&state, Some(&p), "Dashboard", "/"),
        concerns,
        can_record: p.can(Permission::RecordConcern),
        change_due: state.settings.password.change_due(p.account.password_changed, state.clock.now()),
        stats,
        roles,
    })
}

fn role_boxes(checked: RoleSet) -> Vec<view::RoleBox> {
    Role::ALL.into_iter().map(|r| view::RoleBox { name: r.as_str(), label: r.label(), checked: checked.contains(r) }).collect()
}

async fn accounts_page(state: &ConsoleState, p: &Principal, errors: Vec<String>, created: Option<(String, String)>, status: StatusCode) -> PageResult {
    let now = state.clock.now();
    let rows = state
        .store
        .accounts()
        .await?
        .into_iter()
        .map(|a| view::AccountRow {
            id: a.id,
            status: if a.disabled {
                "Disabled".into()
            } else if LockoutPolicy::is_locked(a.locked_until, now) {
                "Locked".into()
            } else {
                "Active".into()
            },
            username: a.username,
            display_name: a.display_name,
            roles: a.roles.iter().map(Role::label).collect::<Vec<_>>().join(", "),
            two_factor: a.totp_secret.is_some(),
            last_sign_in: a.last_sign_in.map(view::when).unwrap_or_else(|| "never".into()),
        })
        .collect();
    Ok(view::render(
        status,
        &view::AccountsPage {
            layout: Layout::new(state, Some(p), "Accounts", "/accounts"),
            rows,
            roles: role_boxes(RoleSet::EMPTY),
            errors,
            created,
            rules: state.settings.password.describe().trim_start_matches("Use ").trim_end_matches('.').to_owned(),
        },
    ))
}

/// `GET /accounts`.
pub async fn accounts(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> PageResult {
    accounts_page(&state, &p, Vec::new(), None, StatusCode::OK).await
}

/// Check a username as typed: 2-64 of letters, digits, `.`, `_`, `-`, `@`.
pub fn check_username(u: &str) -> Result<(), String> {
    let ok = (2..=64).contains(&u.chars().count()) && u.chars().all(|c| c.is_ascii_alphanumeric() || ".-_@".contains(c));
    if ok { Ok(()) } else { Err("Username must be 2 to 64 letters, digits, dots, dashes, underscores or @.".into()) }
}

/// Parse the role checkboxes or a role list; at least one role.
pub fn parse_roles(names: &[&str]) -> Result<RoleSet, String> {
    let set = RoleSet::parse(&names.join(",")).map_err(|e| e.to_string())?;
    if set.is_empty() { Err("Choose at least one role.".into()) } else { Ok(set) }
}

/// A temporary password that meets the school's policy (shown once, changed at first sign-in).
pub fn temporary_password(policy: &haven_accounts::PasswordPolicy) -> Result<String, ConsoleError> {
    const SETS: [&[u8]; 4] = [b"ABCDEFGHJKLMNPQRSTUVWXYZ", b"abcdefghijkmnopqrstuvwxyz", b"23456789", b"!#%+=?@"];
    let len = policy.min_length.max(14);
    for _ in 0..64 {
        let raw = haven_accounts::random::bytes::<64>()?;
        let all: Vec<u8> = SETS.concat();
        let pw: String = raw.iter().take(len).map(|b| all[usize::from(*b) % all.len()] as char).collect();
        if policy.check(&pw, &[]).is_ok() && SETS.iter().all(|s| pw.bytes().any(|b| s.contains(&b))) {
            return Ok(pw);
        }
    }
    Err(ConsoleError::BadRequest("could not make a temporary password that meets the policy".into()))
}

/// Create an account from checked parts; shared by the page and the API.
pub async fn create_account_checked(
    state: &ConsoleState,
    actor: &Principal,
    client: &str,
    username: &str,
    display_name: &str,
    email: &str,
    roles: RoleSet,
) -> Result<(i64, String), ConsoleError> {
    let temp = temporary_password(&state.settings.password)?;
    let hash = password::hash_password(&temp)?;
    let new = haven_store::NewAccount {
        username,
        display_name,
        email: Some(email).filter(|e| !e.is_empty()),
        roles,
        password_hash: &hash,
        must_change_password: true,
        at: state.clock.now(),
    };
    let id = state.store.create_account(&new).await?;
    let detail = format!("roles: {}", roles.to_list());
    let username = haven_store::normalise_username(username);
    audit(state, AuthEvent { event: "account_created", username: &username, account_id: Some(id), actor: &actor.account.username, client, detail: &detail }).await?;
    Ok((id, temp))
}

/// `POST /accounts`.
pub async fn create_account(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Form(f): Form<Fields>,
) -> PageResult {
    let client = client(addr);
    let (username, display_name, email) = (field(&f, "username"), field(&f, "display_name"), field(&f, "email"));
    let mut errors = Vec::new();
    if let Err(e) = check_username(username) {
        errors.push(e);
    }
    if display_name.is_empty() {
        errors.push("Enter the holder's full name.".into());
    }
    let roles = parse_roles(&fields(&f, "role")).map_err(|e| errors.push(e)).unwrap_or_default();
    if !errors.is_empty() {
        return accounts_page(&state, &p, errors, None, StatusCode::BAD_REQUEST).await;
    }
    match create_account_checked(&state, &p, &client, username, display_name, email, roles).await {
        Ok((_, temp)) => accounts_page(&state, &p, Vec::new(), Some((haven_store::normalise_username(username), temp)), StatusCode::OK).await,
        Err(ConsoleError::Record(haven_store::RecordError::Conflict { value, .. })) => {
            accounts_page(&state, &p, vec![format!("There is already an account called {value}.")], None, StatusCode::CONFLICT).await
        }
        Err(e) => Err(e),
    }
}

async fn load(state: &ConsoleState, id: i64) -> Result<Account, ConsoleError> {
    state.store.account(id).await?.ok_or(ConsoleError::NotFound("account"))
}

fn account_page(state: &ConsoleState, p: &Principal, a: &Account, notice: Option<String>, errors: Vec<String>, temp: Option<String>, status: StatusCode) -> Response {
    view::render(
        status,
        &view::AccountPage {
            layout: Layout::new(state, Some(p), &format!("Account: {}", a.display_name), "/accounts"),
            id: a.id,
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            email: a.email.clone().unwrap_or_default(),
            roles: role_boxes(a.roles),
            disabled: a.disabled,
            locked: LockoutPolicy::is_locked(a.locked_until, state.clock.now()),
            two_factor: a.totp_secret.is_some(),
            notice,
            errors,
            temporary_password: temp,
        },
    )
}

/// `GET /accounts/{id}`.
pub async fn account_detail(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, Path(id): Path<i64>) -> PageResult {
    let a = load(&state, id).await?;
    Ok(account_page(&state, &p, &a, None, Vec::new(), None, StatusCode::OK))
}

/// `POST /accounts/{id}`: change name, email, roles, disabled.
pub async fn update_account(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> PageResult {
    let client = client(addr);
    let a = load(&state, id).await?;
    let mut errors = Vec::new();
    let display_name = field(&f, "display_name");
    if display_name.is_empty() {
        errors.push("Enter the holder's full name.".into());
    }
    let roles = parse_roles(&fields(&f, "role")).map_err(|e| errors.push(e)).unwrap_or_default();
    let disabled = field(&f, "disabled") == "on";
    if id == p.account.id && (disabled || !roles.allows(Permission::ManageAccounts)) {
        errors.push("You cannot disable your own account or remove your own right to manage accounts; ask another administrator.".into());
    }
    if !errors.is_empty() {
        return Ok(account_page(&state, &p, &a, None, errors, None, StatusCode::BAD_REQUEST));
    }
    state.store.update_account(id, display_name, Some(field(&f, "email")), roles, disabled).await?;
    let mut changes = Vec::new();
    if roles != a.roles {
        changes.push(format!("roles {} -> {}", a.roles.to_list(), roles.to_list()));
    }
    if disabled != a.disabled {
        changes.push(if disabled { "disabled".into() } else { "enabled".into() });
    }
    if display_name != a.display_name {
        changes.push("name changed".into());
    }
    if disabled || roles != a.roles {
        state.store.delete_sessions_of(id).await?;
    }
    let detail = if changes.is_empty() { "no change".to_owned() } else { changes.join("; ") };
    audit(&state, AuthEvent { event: "account_updated", username: &a.username, account_id: Some(id), actor: &p.account.username, client: &client, detail: &detail }).await?;
    let a = load(&state, id).await?;
    Ok(account_page(&state, &p, &a, Some("Saved.".into()), Vec::new(), None, StatusCode::OK))
}

/// `POST /accounts/{id}/unlock`.
pub async fn unlock_account(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<i64>,
) -> PageResult {
    let client = client(addr);
    let a = load(&state, id).await?;
    state.store.unlock_account(id).await?;
    audit(&state, AuthEvent { event: "account_unlocked", username: &a.username, account_id: Some(id), actor: &p.account.username, client: &client, ..Default::default() }).await?;
    let a = load(&state, id).await?;
    Ok(account_page(&state, &p, &a, Some("Unlocked.".into()), Vec::new(), None, StatusCode::OK))
}

/// `POST /accounts/{id}/reset`: a temporary password (and optionally no second factor).
pub async fn reset_account(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> PageResult {
    let client = client(addr);
    let a = load(&state, id).await?;
    let temp = temporary_password(&state.settings.password)?;
    state.store.set_password(id, &password::hash_password(&temp)?, state.clock.now(), true).await?;
    let reset_totp = field(&f, "reset_totp") == "on";
    if reset_totp {
        state.store.clear_totp(id).await?;
    }
    state.store.delete_sessions_of(id).await?;
    let detail = if reset_totp { "temporary password set; two-factor removed" } else { "temporary password set" };
    audit(&state, AuthEvent { event: "password_reset", username: &a.username, account_id: Some(id), actor: &p.account.username, client: &client, detail }).await?;
    let a = load(&state, id).await?;
    Ok(account_page(&state, &p, &a, None, Vec::new(), Some(temp), StatusCode::OK))
}

/// `GET /audit`: the sign-in audit log, filtered and paged.
pub async fn audit_log(state: &ConsoleState, q: &Fields) -> Result<Vec<haven_store::AuthAuditRecord>, ConsoleError> {
    let opt = |name| Some(field(q, name).to_owned()).filter(|s| !s.is_empty());
    let before_id = match field(q, "before") {
        "" => None,
        b => Some(b.parse::<i64>().map_err(|_| ConsoleError::BadRequest(format!("`before` must be an entry id, not {b:?}")))?),
    };
    let limit = match field(q, "limit") {
        "" => 100,
        l => l.parse::<u32>().map_err(|_| ConsoleError::BadRequest(format!("`limit` must be a number, not {l:?}")))?,
    };
    Ok(state.store.auth_audit(&AuthAuditQuery { username: opt("username"), event: opt("event"), before_id, limit }).await?)
}

/// `GET /audit`.
pub async fn audit_page(State(state): State<ConsoleState>, Extension(p): Extension<Principal>, Query(q): Query<Fields>) -> PageResult {
    let records = audit_log(&state, &q).await?;
    let older = (records.len() >= 100).then(|| {
        let last = records.last().map_or(0, |r| r.id);
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair("before", &last.to_string()).append_pair("username", field(&q, "username")).append_pair("event", field(&q, "event"));
        format!("/audit?{}", s.finish())
    });
    let rows = records
        .into_iter()
        .map(|r| view::AuditRow { time: view::when(r.time), event: r.event, username: r.username, actor: r.actor, client: r.client, detail: r.detail })
        .collect();
    page(&view::AuditPage {
        layout: Layout::new(&state, Some(&p), "Sign-in log", "/audit"),
        rows,
        username: field(&q, "username").to_owned(),
        event: field(&q, "event").to_owned(),
        older,
    })
}

async fn tokens_page(state: &ConsoleState, p: &Principal, new_secret: Option<String>, errors: Vec<String>, status: StatusCode) -> PageResult {
    let now = state.clock.now();
    let rows = state
        .store
        .api_tokens(Some(p.account.id))
        .await?
        .into_iter()
        .map(|t| {
            let status = match (t.revoked, t.expires) {
                (Some(r), _) => format!("Revoked {}", view::when(r)),
                (None, Some(e)) if e <= now => "Expired".to_owned(),
                (None, Some(e)) => format!("Expires {}", view::when(e)),
                (None, None) => "Active".to_owned(),
            };
            view::TokenRow {
                id: t.id,
                active: t.revoked.is_none() && t.expires.is_none_or(|e| e > now),
                name: t.name,
                hint: format!("{}...", t.hint),
                scopes: t.scopes.to_scopes(),
                created: view::when(t.created),
                last_used: t.last_used.map(view::when).unwrap_or_else(|| "never".into()),
                status,
            }
        })
        .collect();
    let scopes = p.permissions.iter().map(|s| view::ScopeBox { scope: s.scope(), describe: s.describe() }).collect();
    Ok(view::render(status, &view::TokensPage { layout: Layout::new(state, Some(p), "API tokens", "/account/tokens"), rows, scopes, new_secret, errors }))
}

/// `GET /account/tokens`.
pub async fn tokens(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> PageResult {
    tokens_page(&state, &p, None, Vec::new(), StatusCode::OK).await
}

/// `POST /account/tokens`: mint a token, show it once.
pub async fn create_token(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Form(f): Form<Fields>,
) -> PageResult {
    let client = client(addr);
    let mut errors = Vec::new();
    let name = field(&f, "name");
    if name.is_empty() || name.chars().count() > 100 {
        errors.push("Say what the token is for (up to 100 characters).".into());
    }
    let scopes = PermissionSet::parse_scopes(&fields(&f, "scope").join(" ")).map_err(|e| errors.push(e)).unwrap_or_default();
    if scopes == PermissionSet::default() && errors.is_empty() {
        errors.push("Choose at least one scope.".into());
    }
    if !scopes.is_subset(p.permissions) {
        errors.push("A token cannot have a scope your roles do not grant.".into());
    }
    let days = field(&f, "days").parse::<u32>().ok().filter(|d| (1..=365).contains(d));
    if days.is_none() {
        errors.push("Expiry must be between 1 and 365 days.".into());
    }
    if !errors.is_empty() {
        return tokens_page(&state, &p, None, errors, StatusCode::BAD_REQUEST).await;
    }
    let now = state.clock.now();
    let expires = days.map(|d| haven_accounts::lockout::add(now, std::time::Duration::from_secs(u64::from(d) * 86_400)));
    let minted = haven_accounts::token::mint()?;
    let new = haven_store::NewApiToken { account_id: p.account.id, name, token_hash: &minted.hash, hint: &minted.hint, scopes, at: now, expires };
    let id = state.store.insert_api_token(&new).await?;
    let detail = format!("token {id} \"{name}\": {}", scopes.to_scopes());
    audit(&state, AuthEvent { event: "token_created", username: &p.account.username, account_id: Some(p.account.id), client: &client, detail: &detail, ..Default::default() }).await?;
    tokens_page(&state, &p, Some(minted.secret), Vec::new(), StatusCode::OK).await
}

/// `POST /account/tokens/{id}/revoke`.
pub async fn revoke_token(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<i64>,
) -> PageResult {
    let client = client(addr);
    if !state.store.revoke_api_token(id, Some(p.account.id), state.clock.now()).await? {
        return Err(ConsoleError::NotFound("active token of yours"));
    }
    let detail = format!("token {id}");
    audit(&state, AuthEvent { event: "token_revoked", username: &p.account.username, account_id: Some(p.account.id), client: &client, detail: &detail, ..Default::default() }).await?;
    Ok(Redirect::to("/account/tokens").into_response())
}

/// A timestamp as RFC 3339, for JSON.
pub fn rfc3339(t: Timestamp) -> String {
    t.to_string()
}
