//! The JSON API under `/api/v1`: the console's actions for scripts and MIS integrations,
//! authenticated by scoped bearer tokens (never cookies, so no CSRF exposure). Described by
//! the OpenAPI document at `/api/v1/openapi.json`, which a test checks against the routes.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use haven_accounts::{LockoutPolicy, Role};
use haven_store::Account;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ConsoleError;
use crate::guard::{ClientAddr, Principal, api_error};
use crate::pages::{self, Fields, rfc3339};
use crate::ConsoleState;

/// A handler error answered as JSON.
pub struct ApiError(ConsoleError);

impl From<ConsoleError> for ApiError {
    fn from(e: ConsoleError) -> Self {
        ApiError(e)
    }
}

impl From<haven_store::RecordError> for ApiError {
    fn from(e: haven_store::RecordError) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.0.status() == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self.0, "API request failed");
        }
        api_error(self.0.status(), &self.0.public_message())
    }
}

type ApiResult = Result<Response, ApiError>;

/// `GET /api/v1/openapi.json`: the API's OpenAPI 3.1 document.
pub async fn openapi() -> Response {
    let mut r = crate::openapi::DOCUMENT.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn account_json(a: &Account, now: jiff::Timestamp) -> Value {
    json!({
        "id": a.id,
        "username": a.username,
        "display_name": a.display_name,
        "email": a.email,
        "roles": a.roles.iter().map(Role::as_str).collect::<Vec<_>>(),
        "two_factor": a.totp_secret.is_some(),
        "disabled": a.disabled,
        "locked": LockoutPolicy::is_locked(a.locked_until, now),
        "created": rfc3339(a.created),
        "last_sign_in": a.last_sign_in.map(rfc3339),
    })
}

/// `GET /api/v1/me`: the token's owner and what the token may do.
pub async fn me(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> ApiResult {
    let mut v = account_json(&p.account, state.clock.now());
    v["scopes"] = json!(p.permissions.iter().map(|s| s.scope()).collect::<Vec<_>>());
    if let Some(t) = &p.token {
        v["token"] = json!({ "id": t.id, "name": t.name, "expires": t.expires.map(rfc3339) });
    }
    Ok(Json(v).into_response())
}

/// `GET /api/v1/dashboard`: the dashboard's aggregate counts (no names).
pub async fn dashboard(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> ApiResult {
    let stats = pages::dashboard_stats(&state, &p).await?;
    let people: Vec<Value> = state
        .store
        .people_counts()
        .await?
        .into_iter()
        .map(|(group, kind, n)| json!({ "filter_group": group, "kind": kind, "count": n }))
        .collect();
    let map: serde_json::Map<String, Value> = stats.into_iter().filter(|s| s.key != "people").map(|s| (s.key.to_owned(), json!(s.value))).collect();
    Ok(Json(json!({ "counts": map, "people": people })).into_response())
}

/// `GET /api/v1/accounts`.
pub async fn accounts(State(state): State<ConsoleState>) -> ApiResult {
    let now = state.clock.now();
    let list: Vec<Value> = state.store.accounts().await?.iter().map(|a| account_json(a, now)).collect();
    Ok(Json(json!({ "accounts": list })).into_response())
}

/// The body of `POST /api/v1/accounts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccountBody {
    /// Sign-in name.
    pub username: String,
    /// Full name.
    pub display_name: String,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
}

/// `POST /api/v1/accounts`: create an account; the temporary password is in the answer, once.
pub async fn create_account(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    body: Result<Json<NewAccountBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let Json(b) = body.map_err(|e| ConsoleError::BadRequest(format!("request body: {}", e.body_text())))?;
    pages::check_username(b.username.trim()).map_err(|e| ConsoleError::BadRequest(format!("username: {e}")))?;
    if b.display_name.trim().is_empty() {
        return Err(ConsoleError::BadRequest("display_name: must not be empty".into()).into());
    }
    let names: Vec<&str> = b.roles.iter().map(String::as_str).collect();
    let roles = pages::parse_roles(&names).map_err(|e| ConsoleError::BadRequest(format!("roles: {e}")))?;
    let client = addr.map_or_else(String::new, |c| c.0.0.ip().to_string());
    let (id, temp) =
        pages::create_account_checked(&state, &p, &client, b.username.trim(), b.display_name.trim(), b.email.as_deref().unwrap_or("").trim(), roles).await?;
    let a = state.store.account(id).await?.ok_or(ConsoleError::NotFound("account"))?;
    let mut v = account_json(&a, state.clock.now());
    v["temporary_password"] = json!(temp);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `GET /api/v1/audit`: the sign-in audit log (`username`, `event`, `before`, `limit`).
pub async fn audit(State(state): State<ConsoleState>, Query(q): Query<Fields>) -> ApiResult {
    let rows = pages::audit_log(&state, &q).await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({ "id": r.id, "time": rfc3339(r.time), "event": r.event, "username": r.username, "account_id": r.account_id,
                    "actor": r.actor, "client": r.client, "detail": r.detail })
        })
        .collect();
    Ok(Json(json!({ "entries": list })).into_response())
}

/// `GET /api/v1/tokens`: the caller's own tokens (never their secrets).
pub async fn tokens(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> ApiResult {
    let list: Vec<Value> = state
        .store
        .api_tokens(Some(p.account.id))
        .await?
        .iter()
        .map(|t| {
            json!({ "id": t.id, "name": t.name, "hint": t.hint, "scopes": t.scopes.iter().map(|s| s.scope()).collect::<Vec<_>>(),
                    "created": rfc3339(t.created), "expires": t.expires.map(rfc3339), "last_used": t.last_used.map(rfc3339),
                    "revoked": t.revoked.map(rfc3339) })
        })
        .collect();
    Ok(Json(json!({ "tokens": list })).into_response())
}

/// `DELETE /api/v1/tokens/{id}`: revoke one of the caller's tokens (including the one in use).
pub async fn revoke_token(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<i64>,
) -> ApiResult {
    if !state.store.revoke_api_token(id, Some(p.account.id), state.clock.now()).await? {
        return Err(ConsoleError::NotFound("active token of yours").into());
    }
    let client = addr.map_or_else(String::new, |c| c.0.0.ip().to_string());
    let detail = format!("token {id}, through the API");
    let e = haven_store::AuthEvent { event: "token_revoked", username: &p.account.username, account_id: Some(p.account.id), client: &client, detail: &detail, ..Default::default() };
    state.store.append_auth_event(&e, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
