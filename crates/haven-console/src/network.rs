//! The console's network identity pages and API: who is on which address now and where that
//! came from (with the record of starts and ends), a forced sign-out of an address, and the
//! network passwords pupils sign in to the captive portal with (made in bulk, printed as slips
//! once, stored only as argon2id hashes).

use std::collections::HashSet;
use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use haven_accounts::password;
use haven_store::{AuthEvent, PeopleQuery, PersonRecord};
use serde_json::{Value, json};

use crate::ConsoleState;
use crate::api::ApiError;
use crate::error::ConsoleError;
use crate::guard::{ClientAddr, Principal};
use crate::pages::{Fields, field};
use crate::view::{self, Layout};

fn client(addr: &Option<Extension<ClientAddr>>) -> String {
    addr.as_ref().map_or_else(String::new, |c| c.0.0.ip().to_string())
}

async fn audit(state: &ConsoleState, p: &Principal, client: &str, event: &str, username: &str, detail: &str) -> Result<(), ConsoleError> {
    let e = AuthEvent { event, username, account_id: Some(p.account.id), actor: &p.account.username, client, detail };
    state.store.append_auth_event(&e, state.clock.now()).await?;
    Ok(())
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

async fn network_page(state: &ConsoleState, p: &Principal, notice: Option<String>) -> Result<Response, ConsoleError> {
    let now = state.clock.now();
    let rows = state
        .identity
        .book()
        .current(now)
        .into_iter()
        .map(|(a, b)| view::BindingRow {
            address: a.to_string(),
            user: opt(&b.user),
            group: opt(&b.group),
            device: opt(&b.device),
            source: b.source.as_str().to_owned(),
            since: view::when(b.since),
            until: b.expires.map_or_else(|| "until released".to_owned(), view::when),
        })
        .collect();
    let log = state
        .store
        .binding_log(None, 50)
        .await?
        .into_iter()
        .map(|l| view::BindingLogRow {
            time: view::when(l.time),
            event: l.event,
            address: l.address,
            user: opt(&l.user),
            source: l.source,
            actor: l.actor,
            detail: l.detail,
        })
        .collect();
    Ok(view::render(
        StatusCode::OK,
        &view::NetworkPage { layout: Layout::new(state, Some(p), "Network", "/network"), rows, log, can_sign_out: true, notice },
    ))
}

/// `GET /network`: who is on which address now, and the latest starts and ends.
pub async fn page(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> Result<Response, ConsoleError> {
    network_page(&state, &p, None).await
}

/// End whatever binds `address`, recorded with who did it.
async fn force_sign_out(state: &ConsoleState, p: &Principal, client: &str, address: &str) -> Result<Option<String>, ConsoleError> {
    let ip: IpAddr = address.trim().parse().map_err(|_| ConsoleError::BadRequest(format!("address: {address:?} is not an IP address")))?;
    let ip = ip.to_canonical();
    let detail = format!("signed out from the console by {}", p.account.username);
    let ended = state.identity.release(ip, None, &p.account.username, &detail, state.clock.now()).await?;
    let Some(b) = ended else { return Ok(None) };
    let who = opt(&b.user);
    audit(state, p, client, "address_signed_out", &who, &format!("{ip} ({} binding of {who}) ended", b.source.as_str())).await?;
    Ok(Some(format!("{ip} ({who}) is signed out; its next request is treated as an unknown device.")))
}

/// `POST /network/sign-out` (field `address`).
pub async fn sign_out(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    let notice = force_sign_out(&state, &p, &client(&addr), field(&f, "address")).await?;
    let notice = notice.unwrap_or_else(|| format!("Nobody was signed in on {}.", field(&f, "address")));
    network_page(&state, &p, Some(notice)).await
}

/// `GET /api/v1/network/bindings`: who is on which address now.
pub async fn api_bindings(State(state): State<ConsoleState>) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let list: Vec<Value> = state
        .identity
        .book()
        .current(now)
        .into_iter()
        .map(|(a, b)| {
            json!({ "address": a.to_string(), "user": b.user, "group": b.group, "device": b.device, "source": b.source.as_str(),
                    "since": crate::pages::rfc3339(b.since), "expires": b.expires.map(crate::pages::rfc3339) })
        })
        .collect();
    Ok(Json(json!({ "bindings": list })).into_response())
}

/// `POST /api/v1/network/sign-out` with `{"address": "10.0.0.7"}`.
pub async fn api_sign_out(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let address = body.get("address").and_then(Value::as_str).ok_or_else(|| ConsoleError::BadRequest("address: required".into()))?;
    let ended = force_sign_out(&state, &p, &client(&addr), address).await?;
    Ok(Json(json!({ "signed_out": ended.is_some() })).into_response())
}

/// Letters and digits nobody misreads on a printed slip (no 0/O, 1/l/I).
const SLIP_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A new network password: 10 characters from [`SLIP_ALPHABET`] (about 49 bits).
pub fn slip_password() -> Result<String, ConsoleError> {
    let bytes = haven_accounts::random::bytes::<10>()?;
    Ok(bytes.iter().map(|b| SLIP_ALPHABET[usize::from(*b) % SLIP_ALPHABET.len()] as char).collect())
}

/// A network username for a person: their school email's local part, else initial and surname.
pub fn username_for(p: &PersonRecord, taken: &HashSet<String>) -> String {
    let base: String = match p.person.email.as_deref().and_then(|e| e.split('@').next()).filter(|l| !l.is_empty()) {
        Some(local) => local.to_lowercase(),
        None => format!("{}{}", p.person.given_name.chars().next().unwrap_or('x'), p.person.family_name),
    }
    .chars()
    .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
    .collect::<String>()
    .to_lowercase();
    let base = if base.is_empty() { format!("user{}", p.id) } else { base };
    if !taken.contains(&base) {
        return base;
    }
    (2..).map(|n| format!("{base}{n}")).find(|c| !taken.contains(c)).unwrap_or(base)
}

async fn passwords_page(
    state: &ConsoleState,
    p: &Principal,
    slips: Vec<view::Slip>,
    errors: Vec<String>,
    group: String,
) -> Result<Response, ConsoleError> {
    let logins = state.store.network_logins().await?;
    let people = state.store.people(&PeopleQuery { include_left: true, limit: u32::MAX, ..Default::default() }).await?;
    let name = |id: i64| people.iter().find(|r| r.id == id).map(|r| r.person.full_name()).unwrap_or_default();
    let rows = logins
        .into_iter()
        .map(|l| view::NetworkLoginRow { name: name(l.person_id), username: l.username, set: view::when(l.set), by: l.set_by })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok(view::render(
        status,
        &view::NetworkPasswordsPage {
            layout: Layout::new(state, Some(p), "Network passwords", "/network/passwords"),
            rows,
            slips,
            errors,
            group,
        },
    ))
}

/// `GET /network/passwords`.
pub async fn passwords(State(state): State<ConsoleState>, Extension(p): Extension<Principal>) -> Result<Response, ConsoleError> {
    passwords_page(&state, &p, Vec::new(), Vec::new(), String::new()).await
}

/// The person a typed reference names: UPN, directory key, email or full name, exactly one.
pub async fn find_person(state: &ConsoleState, text: &str) -> Result<PersonRecord, ConsoleError> {
    let t = text.trim();
    let found: Vec<PersonRecord> = state
        .store
        .people(&PeopleQuery { search: Some(t.to_owned()), ..Default::default() })
        .await?
        .into_iter()
        .filter(|r| {
            let p = &r.person;
            p.key.eq_ignore_ascii_case(t)
                || p.upn.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(t))
                || p.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(t))
                || p.full_name().eq_ignore_ascii_case(t)
        })
        .collect();
    match found.len() {
        1 => Ok(found.into_iter().next().ok_or(ConsoleError::NotFound("person"))?),
        0 => Err(ConsoleError::BadRequest(format!("person: nobody on roll matches {t:?} (use their UPN, email or full name)"))),
        n => Err(ConsoleError::BadRequest(format!("person: {n} people match {t:?}; use their UPN or email"))),
    }
}

/// Set a fresh network password for each person; returns the slips (shown once).
pub async fn make_passwords(
    state: &ConsoleState,
    p: &Principal,
    client: &str,
    people: Vec<PersonRecord>,
    what: &str,
) -> Result<Vec<view::Slip>, ConsoleError> {
    let existing = state.store.network_logins().await?;
    let mut taken: HashSet<String> = existing.iter().map(|l| l.username.clone()).collect();
    let now = state.clock.now();
    let mut slips = Vec::new();
    for person in people {
        let username = match existing.iter().find(|l| l.person_id == person.id) {
            Some(l) => l.username.clone(),
            None => username_for(&person, &taken),
        };
        taken.insert(username.clone());
        let pw = slip_password()?;
        let to_hash = pw.clone();
        let hash = tokio::task::spawn_blocking(move || password::hash_password(&to_hash))
            .await
            .map_err(|e| ConsoleError::BadRequest(format!("hashing failed: {e}")))??;
        state.store.set_network_password(person.id, &username, &hash, &p.account.username, now).await?;
        slips.push(view::Slip { name: person.person.full_name(), group: person.person.filter_group.clone(), username, password: pw });
    }
    audit(state, p, client, "network_passwords_set", "", &format!("{} network password(s) set for {what}", slips.len())).await?;
    Ok(slips)
}

/// `POST /network/passwords` (fields `group`, `person`, `only_missing`): make passwords, show slips.
pub async fn generate(
    State(state): State<ConsoleState>,
    Extension(p): Extension<Principal>,
    addr: Option<Extension<ClientAddr>>,
    Form(f): Form<Fields>,
) -> Result<Response, ConsoleError> {
    let group = field(&f, "group").to_owned();
    let person = field(&f, "person");
    let only_missing = field(&f, "only_missing") == "on";
    let (people, what) = if !person.is_empty() {
        match find_person(&state, person).await {
            Ok(r) => (vec![r], format!("one person ({person})")),
            Err(ConsoleError::BadRequest(m)) => return passwords_page(&state, &p, Vec::new(), vec![m], group).await,
            Err(e) => return Err(e),
        }
    } else {
        let have: HashSet<i64> = state.store.network_logins().await?.iter().map(|l| l.person_id).collect();
        let all = state.store.people(&PeopleQuery { limit: u32::MAX, ..Default::default() }).await?;
        let chosen: Vec<PersonRecord> = all
            .into_iter()
            .filter(|r| {
                crate::portal::covers(r.person.kind)
                    && (group.is_empty() || r.person.filter_group == group)
                    && !(only_missing && have.contains(&r.id))
            })
            .collect();
        let what = if group.is_empty() { "every pupil".to_owned() } else { format!("group {group}") };
        (chosen, what)
    };
    if people.is_empty() {
        return passwords_page(&state, &p, Vec::new(), vec![format!("Nobody to make a password for in {what}.")], group).await;
    }
    let slips = make_passwords(&state, &p, &client(&addr), people, &what).await?;
    passwords_page(&state, &p, slips, Vec::new(), group).await
}
