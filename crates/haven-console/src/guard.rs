//! The permission guard in front of every route: who is asking (session cookie for pages,
//! bearer token for the API), whether the route's [`Access`] lets them, and, for every page
//! request that changes state, whether the form carries the session's CSRF token.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use haven_accounts::random::{constant_time_eq, token_hash};
use haven_accounts::role::PermissionSet;
use haven_accounts::session::Stage;
use haven_accounts::{Permission, token};
use haven_store::{Account, ApiTokenRecord, SessionRecord};
use jiff::Timestamp;

use crate::routes::{Access, MAX_BODY_BYTES, RouteId, Surface};
use crate::{ConsoleState, view};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "haven_session";
/// The cookie that carries the sign-in form's CSRF token before there is a session.
pub const SIGN_IN_COOKIE: &str = "haven_sign_in";
/// The form field every state-changing page request carries.
pub const CSRF_FIELD: &str = "csrf_token";
/// A session or token is written back as used at most this often (not on every request).
const TOUCH_EVERY_MS: i64 = 60_000;

/// The client's address, put on each request by [`crate::serve`].
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// Who is making a request that passed the guard.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account, read fresh for this request (role changes apply at once).
    pub account: Account,
    /// What this request may do: the roles' permissions, limited by a token's scopes.
    pub permissions: PermissionSet,
    /// The session, for page requests.
    pub session: Option<SessionRecord>,
    /// The token, for API requests.
    pub token: Option<ApiTokenRecord>,
}

impl Principal {
    /// Whether this request may do `p`.
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    /// The session's CSRF token (empty for API requests, which need none).
    pub fn csrf(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.csrf_token.as_str())
    }
}

/// The client address of a request, or the unspecified address when unknown (tests).
pub fn client_ip(req_ext: &axum::http::Extensions) -> IpAddr {
    req_ext.get::<ClientAddr>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// A cookie's value from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure under TLS.
pub fn set_cookie(name: &str, value: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("haven_invalid=1"))
}

/// Check the request against its route's access rule before the handler runs.
pub async fn check(State(state): State<ConsoleState>, req: Request, next: Next) -> Response {
    let path = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_default();
    let Some(route) = RouteId::find(req.method(), &path) else {
        tracing::error!(path, method = %req.method(), "route served without a permission entry; refused");
        return view::error_page(&state, None, StatusCode::FORBIDDEN, "This page has no permission entry, so nobody may use it.");
    };
    let (_, _, access) = route.spec();
    match route.surface() {
        Surface::Api => api_check(state, access, req, next).await,
        Surface::Page => page_check(state, access, req, next).await,
    }
}

async fn page_check(state: ConsoleState, access: Access, req: Request, next: Next) -> Response {
    let now = state.clock.now();
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD);
    if access == Access::Public {
        if !changes_state {
            return next.run(req).await;
        }
        // Sign-in: no session yet, so the form's token must match the sign-in cookie.
        let expected = cookie(req.headers(), SIGN_IN_COOKIE).map(str::to_owned);
        let (req, given) = match csrf_from_body(req).await {
            Ok(x) => x,
            Err(resp) => return resp,
        };
        if !matches!((&expected, &given), (Some(e), Some(g)) if e.len() >= 32 && constant_time_eq(e.as_bytes(), g.as_bytes())) {
            return csrf_refused(&state);
        }
        return next.run(req).await;
    }

    let session = match load_session(&state, req.headers(), now).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return if changes_state {
                view::error_page(&state, None, StatusCode::FORBIDDEN, "Your session has ended. Sign in again and repeat what you were doing.")
            } else {
                Redirect::to("/sign-in").into_response()
            };
        }
        Err(resp) => return resp,
    };
    let (record, account) = session;
    let permissions = account.roles.permissions();
    let allowed = match access {
        Access::Public => true,
        Access::Stages(stages) => stages.contains(&record.stage),
        Access::SignedIn => record.stage == Stage::Full,
        Access::Requires(p) => record.stage == Stage::Full && permissions.contains(p),
    };
    let principal = Principal { account, permissions, session: Some(record.clone()), token: None };
    if !allowed {
        if record.stage != Stage::Full && !changes_state {
            // Half-way through sign-in: send them to the step they are at.
            return Redirect::to(stage_page(record.stage)).into_response();
        }
        return view::error_page(
            &state,
            Some(&principal),
            StatusCode::FORBIDDEN,
            "Your role does not allow this page. If you need it, ask your school's Haven administrator.",
        );
    }
    let req = if changes_state {
        let (req, given) = match csrf_from_body(req).await {
            Ok(x) => x,
            Err(resp) => return resp,
        };
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), record.csrf_token.as_bytes())) {
            return csrf_refused(&state);
        }
        req
    } else {
        req
    };
    if now.as_millisecond() - record.last_seen.as_millisecond() >= TOUCH_EVERY_MS
        && let Err(e) = state.store.touch_session(&record.token_hash, now).await
    {
        tracing::warn!(error = %e, "could not record session use");
    }
    let mut req = req;
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// The page a half-signed-in session belongs on.
pub fn stage_page(stage: Stage) -> &'static str {
    match stage {
        Stage::NeedsTotp => "/sign-in/totp",
        Stage::NeedsEnrolment => "/account/two-factor",
        Stage::NeedsPasswordChange => "/account/password",
        Stage::Full => "/",
    }
}

/// The live session named by the request's cookie, with its account; expired or orphaned
/// sessions are deleted on sight.
async fn load_session(state: &ConsoleState, headers: &HeaderMap, now: Timestamp) -> Result<Option<(SessionRecord, Account)>, Response> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    let hash = token_hash(token);
    let record = match state.store.session(&hash).await {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(None),
        Err(e) => return Err(internal(state, &e)),
    };
    if let Err(expiry) = state.settings.session.check(record.stage, record.created, record.last_seen, now) {
        tracing::info!(account_id = record.account_id, ?expiry, "session expired");
        let _ = state.store.delete_session(&hash).await;
        return Ok(None);
    }
    match state.store.account(record.account_id).await {
        Ok(Some(a)) if !a.disabled => Ok(Some((record, a))),
        Ok(_) => {
            let _ = state.store.delete_session(&hash).await;
            Ok(None)
        }
        Err(e) => Err(internal(state, &e)),
    }
}

async fn api_check(state: ConsoleState, access: Access, mut req: Request, next: Next) -> Response {
    if access == Access::Public {
        return next.run(req).await;
    }
    let now = state.clock.now();
    let bearer = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    let Some(secret) = bearer.filter(|s| token::looks_like_token(s)) else {
        return api_error(StatusCode::UNAUTHORIZED, "this API needs an `Authorization: Bearer hvn_...` token; cookies are not accepted");
    };
    let record = match state.store.api_token_by_hash(&token_hash(secret)).await {
        Ok(Some(t)) if t.revoked.is_none() && t.expires.is_none_or(|e| now < e) => t,
        Ok(_) => return api_error(StatusCode::UNAUTHORIZED, "the token is unknown, revoked or expired"),
        Err(e) => return api_internal(&e),
    };
    let account = match state.store.account(record.account_id).await {
        Ok(Some(a)) if !a.disabled => a,
        Ok(_) => return api_error(StatusCode::UNAUTHORIZED, "the token's account is disabled"),
        Err(e) => return api_internal(&e),
    };
    let permissions = record.scopes.intersect(account.roles.permissions());
    let allowed = match access {
        Access::Public | Access::SignedIn => true,
        Access::Stages(_) => false,
        Access::Requires(p) => permissions.contains(p),
    };
    if !allowed {
        let need = match access {
            Access::Requires(p) => format!("this route needs the {} scope, and the token's owner a role that grants it", p.scope()),
            _ => "this route is not available to API tokens".into(),
        };
        return api_error(StatusCode::FORBIDDEN, &need);
    }
    if record.last_used.is_none_or(|t| now.as_millisecond() - t.as_millisecond() >= TOUCH_EVERY_MS)
        && let Err(e) = state.store.touch_api_token(record.id, now).await
    {
        tracing::warn!(error = %e, "could not record token use");
    }
    req.extensions_mut().insert(Principal { account, permissions, session: None, token: Some(record) });
    next.run(req).await
}

/// Buffer the body, find the CSRF field (URL-encoded or multipart form), and rebuild the
/// request so the handler can read the body again.
async fn csrf_from_body(req: Request) -> Result<(Request, Option<String>), Response> {
    let (parts, body) = req.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return Err((StatusCode::PAYLOAD_TOO_LARGE, "request too large").into_response()),
    };
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let token = if content_type.starts_with("application/x-www-form-urlencoded") {
        form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned())
    } else if let Some(boundary) = content_type.split(';').find_map(|p| p.trim().strip_prefix("boundary=")) {
        multipart_field(&bytes, boundary.trim_matches('"'), CSRF_FIELD)
    } else {
        None
    };
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

/// One small text field of a multipart form, found without parsing the rest.
fn multipart_field(body: &[u8], boundary: &str, name: &str) -> Option<String> {
    let delimiter = format!("--{boundary}");
    let text = String::from_utf8_lossy(body);
    let wanted = format!("name=\"{name}\"");
    text.split(&delimiter).find_map(|part| {
        let (head, value) = part.split_once("\r\n\r\n")?;
        head.lines().any(|l| l.to_ascii_lowercase().starts_with("content-disposition") && l.contains(&wanted)).then(|| value.trim_end_matches("\r\n").to_owned())
    })
}

fn csrf_refused(state: &ConsoleState) -> Response {
    view::error_page(state, None, StatusCode::FORBIDDEN, "This form has expired or did not come from Haven. Go back, reload the page and try again.")
}

fn internal(state: &ConsoleState, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "console request failed");
    view::error_page(state, None, StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on the server; the details are in Haven's log.")
}

/// A JSON error body `{ "error": "..." }` with a status.
pub fn api_error(status: StatusCode, message: &str) -> Response {
    let mut r = (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"haven\""));
    }
    r
}

fn api_internal(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "API request failed");
    api_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error; the details are in Haven's log")
}

/// Security headers on every response: no framing, no sniffing, no referrer, a strict CSP,
/// and no caching of pages that hold personal data.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
