//! Shared helpers: a console over a fresh store, signed-in sessions per role, requests through the router.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use haven_accounts::session::Stage;
use haven_accounts::{ManualClock, RoleSet};
use haven_console::{Console, ConsoleSettings, ConsoleState};
use haven_store::{NewAccount, SessionRecord, Store};
use http_body_util::BodyExt;
use jiff::Timestamp;
use tower::ServiceExt;

/// Monday 10 March 2025, 09:00 UTC.
pub const T0: i64 = 1_741_597_200;

pub struct App {
    pub router: Router,
    pub store: Store,
    pub clock: ManualClock,
    _dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Resp {
    /// The value a `Set-Cookie` header gives `name` (empty when it clears it).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
            let first = v.split(';').next()?;
            let (k, val) = first.split_once('=')?;
            (k == name).then(|| val.to_owned())
        })
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
    }

    /// The first `csrf_token` hidden field's value.
    pub fn csrf(&self) -> String {
        between(&self.body, "name=\"csrf_token\" value=\"", "\"").unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub fn between(s: &str, start: &str, end: &str) -> Option<String> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(s[i..j].to_owned())
}

pub fn now() -> Timestamp {
    Timestamp::from_second(T0).unwrap()
}

pub async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("haven.db").display())).await.unwrap();
    let clock = ManualClock::new(now());
    let settings = ConsoleSettings { school: "St John's".into(), secure_cookies: false, ..ConsoleSettings::default() };
    let state = ConsoleState::new(store.clone(), Arc::new(clock.clone()), settings);
    App { router: Console::router(state), store, clock, _dir: dir }
}

impl App {
    pub async fn request(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Resp { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Resp {
        let mut b = Request::get(path);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.request(b.body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Resp {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let mut b = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.request(b.body(Body::from(body)).unwrap()).await
    }

    pub async fn api(&self, method: Method, path: &str, token: Option<&str>, body: Option<serde_json::Value>) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.request(b.body(body).unwrap()).await
    }

    /// An account with a real argon2id hash; with `totp`, enrolled on the RFC test secret.
    pub async fn account(&self, username: &str, roles: RoleSet, password: &str, totp: bool) -> i64 {
        let hash = haven_accounts::hash_password(password).unwrap();
        let new = NewAccount { username, display_name: username, email: None, roles, password_hash: &hash, must_change_password: false, at: now() };
        let id = self.store.create_account(&new).await.unwrap();
        if totp {
            self.store.confirm_totp(id, &secret().to_base32(), 0).await.unwrap();
        }
        id
    }

    /// A fully signed-in session made directly in the store: (Cookie header, CSRF token).
    pub async fn session(&self, account_id: i64) -> (String, String) {
        let token = haven_accounts::session::new_token().unwrap();
        let csrf = haven_accounts::session::new_token().unwrap();
        let at = self.clock_now();
        let record = SessionRecord {
            token_hash: haven_accounts::random::token_hash(&token),
            account_id,
            stage: Stage::Full,
            csrf_token: csrf.clone(),
            created: at,
            last_seen: at,
            client: String::new(),
        };
        self.store.insert_session(&record).await.unwrap();
        (format!("haven_session={token}"), csrf)
    }

    /// A token with every scope the account's roles grant.
    pub async fn token(&self, account_id: i64, scopes: haven_accounts::role::PermissionSet) -> String {
        let t = haven_accounts::token::mint().unwrap();
        let new = haven_store::NewApiToken { account_id, name: "test", token_hash: &t.hash, hint: &t.hint, scopes, at: self.clock_now(), expires: None };
        self.store.insert_api_token(&new).await.unwrap();
        t.secret
    }

    pub fn clock_now(&self) -> Timestamp {
        use haven_accounts::Clock;
        self.clock.now()
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(std::time::Duration::from_secs(secs));
    }

    /// Sign in with a password through the form; returns the response to the POST.
    pub async fn sign_in(&self, username: &str, password: &str, cookie: Option<&str>) -> Resp {
        let form = self.get("/sign-in", None).await;
        let csrf = form.cookie("haven_sign_in").unwrap();
        let mut cookies = format!("haven_sign_in={csrf}");
        if let Some(c) = cookie {
            cookies.push_str("; ");
            cookies.push_str(c);
        }
        self.post("/sign-in", Some(&cookies), &[("csrf_token", &csrf), ("username", username), ("password", password)]).await
    }

    pub async fn audit_events(&self) -> Vec<String> {
        let q = haven_store::AuthAuditQuery { limit: 1000, ..Default::default() };
        let mut v: Vec<String> = self.store.auth_audit(&q).await.unwrap().into_iter().map(|r| r.event).collect();
        v.reverse();
        v
    }
}

pub fn secret() -> haven_accounts::totp::TotpSecret {
    haven_accounts::totp::TotpSecret::from_bytes(b"12345678901234567890")
}

pub const PASSWORD: &str = "Chalkboard42";
