//! The captive portal: the sign-in page an unknown device's web requests are sent to, and who
//! may sign in there.
//!
//! Signing in binds the device's address (as the console sees it) to the person for the
//! configured time, through [`haven_store::LiveIdentity`], so the DNS service and the proxy apply
//! that person's filtering group from the next query. Who may sign in is a chain of
//! [`PortalAuthenticator`]s tried in order: staff with console accounts, then people in the
//! directory with a network password. A directory bind (LDAP) is one more authenticator.
//! Failures are throttled per address and recorded like console sign-ins.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use axum::Extension;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use haven_accounts::people::PersonKind;
use haven_accounts::{LockoutPolicy, password, session};
use haven_identity::{Binding, BindingSource};
use haven_store::{AuthEvent, PeopleQuery};

use crate::ConsoleState;
use crate::error::ConsoleError;
use crate::guard::{self, ClientAddr, SIGN_IN_COOKIE, set_cookie};
use crate::pages::{Fields, field};
use crate::view::{self, Layout};

/// What a school configures about its portal (`[portal]`).
#[derive(Debug, Clone)]
pub struct PortalSettings {
    /// How long a sign-in binds the address.
    pub sign_in_for: Duration,
    /// Group for staff accounts not found in the people directory.
    pub staff_group: String,
    /// Group approved guests get.
    pub guest_group: String,
    /// Longest guest pass a sponsor may grant.
    pub guest_max: Duration,
}

impl Default for PortalSettings {
    fn default() -> Self {
        PortalSettings {
            sign_in_for: Duration::from_secs(8 * 3600),
            staff_group: "staff".into(),
            guest_group: "guests".into(),
            guest_max: Duration::from_secs(72 * 3600),
        }
    }
}

/// Who signed in at the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalPerson {
    /// The user name the activity log shows (school email, else sign-in name).
    pub user: String,
    /// The name shown back to them.
    pub display_name: String,
    /// Their filtering group.
    pub group: String,
}

/// One authenticator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortalCheck {
    /// The password is right: bind them.
    Accepted(PortalPerson),
    /// This authenticator knows the name and refuses (wrong password, locked, left); the words
    /// go to the record, never to the page.
    Refused(String),
    /// Not a name this authenticator knows: ask the next one.
    Unknown,
}

/// The future an authenticator returns.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<PortalCheck, ConsoleError>> + Send + 'a>>;

/// A way of checking a portal sign-in (console accounts, network passwords, a directory bind).
pub trait PortalAuthenticator: Send + Sync + std::fmt::Debug {
    /// Its name in the record (`console account`, `network password`, `directory`).
    fn name(&self) -> &'static str;
    /// Check a name and password.
    fn check<'a>(&'a self, state: &'a ConsoleState, username: &'a str, password: &'a str) -> CheckFuture<'a>;
}

/// Staff with console accounts sign in with their console password (the portal gives network
/// access only; the console itself still asks for the second factor).
#[derive(Debug, Clone, Copy)]
pub struct ConsoleAccounts;

impl PortalAuthenticator for ConsoleAccounts {
    fn name(&self) -> &'static str {
        "console account"
    }

    fn check<'a>(&'a self, state: &'a ConsoleState, username: &'a str, pw: &'a str) -> CheckFuture<'a> {
        Box::pin(async move {
            let Some(a) = state.store.account_by_username(username).await? else { return Ok(PortalCheck::Unknown) };
            let now = state.clock.now();
            if LockoutPolicy::is_locked(a.locked_until, now) {
                return Ok(PortalCheck::Refused("account locked".into()));
            }
            if !password::verify_password(&a.password_hash, pw) {
                let outcome = state.settings.lockout.on_failure(a.failed_sign_ins, now);
                state.store.record_sign_in_failure(a.id, outcome.failures, outcome.locked_until).await?;
                return Ok(PortalCheck::Refused("wrong password".into()));
            }
            if a.disabled {
                return Ok(PortalCheck::Refused("account disabled".into()));
            }
            let portal = state.settings.portal.clone().unwrap_or_default();
            // A member of staff in the directory gets their directory group; else the staff group.
            let person = match &a.email {
                Some(email) => state
                    .store
                    .people(&PeopleQuery { search: Some(email.clone()), ..Default::default() })
                    .await?
                    .into_iter()
                    .find(|p| p.person.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email))),
                None => None,
            };
            let group = person.map_or(portal.staff_group, |p| p.person.filter_group);
            Ok(PortalCheck::Accepted(PortalPerson {
                user: a.email.clone().unwrap_or(a.username.clone()),
                display_name: a.display_name,
                group,
            }))
        })
    }
}

/// People in the directory (pupils) sign in with the network password the IT administrator set.
#[derive(Debug, Clone, Copy)]
pub struct NetworkPasswords;

impl PortalAuthenticator for NetworkPasswords {
    fn name(&self) -> &'static str {
        "network password"
    }

    fn check<'a>(&'a self, state: &'a ConsoleState, username: &'a str, pw: &'a str) -> CheckFuture<'a> {
        Box::pin(async move {
            let Some(login) = state.store.network_login(username).await? else { return Ok(PortalCheck::Unknown) };
            let hash = login.password_hash.clone();
            let pw = pw.to_owned();
            let ok = tokio::task::spawn_blocking(move || password::verify_password(&hash, &pw)).await.unwrap_or(false);
            if !ok {
                return Ok(PortalCheck::Refused("wrong password".into()));
            }
            let Some(p) = state.store.person(login.person_id).await?.filter(|p| p.active) else {
                return Ok(PortalCheck::Refused("no longer on roll".into()));
            };
            let user = p.person.email.clone().unwrap_or(login.username.clone());
            Ok(PortalCheck::Accepted(PortalPerson { user, display_name: p.person.full_name(), group: p.person.filter_group }))
        })
    }
}

/// The authenticators a console starts with, in the order they are asked.
pub fn default_authenticators() -> Vec<std::sync::Arc<dyn PortalAuthenticator>> {
    vec![std::sync::Arc::new(ConsoleAccounts), std::sync::Arc::new(NetworkPasswords)]
}

fn ip_of(addr: &Option<Extension<ClientAddr>>) -> IpAddr {
    addr.as_ref().map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip().to_canonical())
}

/// Only a web address may be offered as "carry on to": never a `javascript:` link.
fn continue_to(url: &str) -> String {
    if (url.starts_with("http://") || url.starts_with("https://")) && url.len() < 2048 { url.to_owned() } else { String::new() }
}

fn portal_page(
    state: &ConsoleState,
    ip: IpAddr,
    csrf: String,
    username: &str,
    error: Option<String>,
    url: &str,
    status: StatusCode,
) -> Response {
    let now = state.clock.now();
    let bound = state.identity.book().lookup(ip, now);
    let page = view::PortalPage {
        layout: Layout::new(state, None, "Connect to the school network", "/portal"),
        csrf: csrf.clone(),
        username: username.to_owned(),
        error,
        url: continue_to(url),
        address: ip.to_string(),
        signed_in: bound.as_ref().map(|b| b.user.clone().unwrap_or_default()),
        source: bound.as_ref().map(|b| b.source.as_str().to_owned()).unwrap_or_default(),
        until: bound.as_ref().and_then(|b| b.expires).map(view::when).unwrap_or_default(),
        can_sign_out: bound.as_ref().is_some_and(|b| matches!(b.source, BindingSource::Portal | BindingSource::Guest)),
    };
    let mut r = view::render(status, &page);
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, &csrf, 3600, state.settings.secure_cookies));
    r
}

fn no_portal(state: &ConsoleState) -> Response {
    view::error_page(state, None, StatusCode::NOT_FOUND, "This school has not turned the network sign-in page on.")
}

fn form_csrf(headers: &HeaderMap) -> Result<String, ConsoleError> {
    Ok(match guard::cookie(headers, SIGN_IN_COOKIE).filter(|c| c.len() >= 32) {
        Some(c) => c.to_owned(),
        None => session::new_token()?,
    })
}

/// `GET /portal?url=`: the sign-in page (or, when this device is signed in, who it is).
pub async fn form(
    State(state): State<ConsoleState>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Result<Response, ConsoleError> {
    if state.settings.portal.is_none() {
        return Ok(no_portal(&state));
    }
    let csrf = form_csrf(&headers)?;
    Ok(portal_page(&state, ip_of(&addr), csrf, "", None, field(&q, "url"), StatusCode::OK))
}

const WRONG: &str = "The username or password is wrong.";

/// `POST /portal`: check the sign-in and bind this device's address to the person.
pub async fn sign_in(
    State(state): State<ConsoleState>,
    addr: Option<Extension<ClientAddr>>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    let Some(portal) = state.settings.portal.clone() else { return Ok(no_portal(&state)) };
    let now = state.clock.now();
    let ip = ip_of(&addr);
    let client = ip.to_string();
    let username = field(&f, "username").to_owned();
    let pw = f.iter().find(|(k, _)| k == "password").map_or("", |(_, v)| v.as_str());
    let csrf = field(&f, guard::CSRF_FIELD).to_owned();
    let url = field(&f, "url").to_owned();
    let policy = state.settings.lockout.clone();
    let audit = |event: &'static str, detail: String, username: String| {
        let state = state.clone();
        let client = client.clone();
        async move {
            let e = AuthEvent { event, username: &username, client: &client, detail: &detail, ..Default::default() };
            state.store.append_auth_event(&e, now).await
        }
    };
    let refuse = |msg: &str, status| Ok(portal_page(&state, ip, csrf.clone(), &username, Some(msg.to_owned()), &url, status));

    let throttled = state.throttle.lock().map(|t| !t.allowed(&policy, ip, now)).unwrap_or(false);
    if throttled {
        audit("portal_sign_in_throttled", "too many failures from this address".into(), username.clone()).await?;
        return refuse("Too many failed sign-ins from this device. Wait 15 minutes and try again.", StatusCode::TOO_MANY_REQUESTS);
    }
    let mut outcome = None;
    for a in state.authenticators.iter() {
        match a.check(&state, &username, pw).await? {
            PortalCheck::Unknown => continue,
            other => {
                outcome = Some((a.name(), other));
                break;
            }
        }
    }
    let person = match outcome {
        Some((_, PortalCheck::Accepted(p))) => p,
        refused => {
            if refused.is_none() {
                password::verify_dummy(pw);
            }
            if let Ok(mut t) = state.throttle.lock() {
                t.record_failure(&policy, ip, now);
            }
            let detail = match refused {
                Some((name, PortalCheck::Refused(why))) => format!("{name}: {why}"),
                _ => "no such user".into(),
            };
            audit("portal_sign_in_failed", detail, username.clone()).await?;
            return refuse(WRONG, StatusCode::UNAUTHORIZED);
        }
    };
    if let Ok(mut t) = state.throttle.lock() {
        t.record_success(ip);
    }
    let expires = now.checked_add(jiff::SignedDuration::try_from(portal.sign_in_for).unwrap_or(jiff::SignedDuration::from_hours(8))).ok();
    let binding = Binding {
        user: Some(person.user.clone()),
        group: Some(person.group.clone()),
        device: None,
        source: BindingSource::Portal,
        since: now,
        expires,
    };
    state.identity.bind(ip, binding, &person.user, "signed in at the portal").await?;
    audit(
        "portal_sign_in",
        format!("{ip} bound to {} ({}) until {}", person.user, person.group, expires.map(view::when).unwrap_or_default()),
        person.user.clone(),
    )
    .await?;
    let fresh = session::new_token()?;
    Ok(portal_page(&state, ip, fresh, "", None, &url, StatusCode::OK))
}

/// `POST /portal/sign-out`: end this device's own portal or guest binding.
pub async fn sign_out(
    State(state): State<ConsoleState>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    if state.settings.portal.is_none() {
        return Ok(no_portal(&state));
    }
    let now = state.clock.now();
    let ip = ip_of(&addr);
    let current = state.identity.book().lookup(ip, now);
    if let Some(b) = current.filter(|b| matches!(b.source, BindingSource::Portal | BindingSource::Guest)) {
        let who = b.user.clone().unwrap_or_default();
        state.identity.release(ip, Some(b.source), &who, "signed out at the portal", now).await?;
        let e = AuthEvent {
            event: "portal_sign_out",
            username: &who,
            client: &ip.to_string(),
            detail: "signed out at the portal",
            ..Default::default()
        };
        state.store.append_auth_event(&e, now).await?;
    }
    let csrf = form_csrf(&headers)?;
    Ok(portal_page(&state, ip, csrf, "", None, "", StatusCode::OK))
}

/// People kinds a bulk network-password run covers.
pub fn covers(kind: PersonKind) -> bool {
    matches!(kind, PersonKind::Pupil)
}
