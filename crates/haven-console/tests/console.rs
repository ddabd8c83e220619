//! Console and API behaviour through the real router (no sockets): the RBAC matrix over every
//! route and role, CSRF, sign-in with TOTP, session fixation and expiry, lockout, forced
//! password change, API tokens and the OpenAPI document. Browser tests are in `browser.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common {
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
}

mod rbac {
    //! Every route as every role. The expectations are written out here, independently of the
    //! route table, and the test fails if the two list different routes.

    use std::collections::BTreeSet;

    use axum::http::{Method, StatusCode};
    use haven_accounts::{Role, RoleSet};
    use haven_console::routes::Surface;
    use haven_console::{Access, RouteId};

    use crate::common::*;

    /// Route -> the roles allowed, as letters: H headteacher, D DSL, d deputy DSL, I IT admin,
    /// S staff, G governor, A auditor; `*` public (no account needed); `-` nobody fully signed in.
    const MATRIX: &[(&str, &str, &str)] = &[
        ("GET", "/-/healthy", "*"),
        ("GET", "/static/haven.css", "*"),
        ("GET", "/sign-in", "*"),
        ("POST", "/sign-in", "*"),
        ("GET", "/sign-in/totp", "-"),
        ("POST", "/sign-in/totp", "-"),
        ("GET", "/account/two-factor", "HDdISGA"),
        ("POST", "/account/two-factor", "HDdISGA"),
        ("GET", "/account/password", "HDdISGA"),
        ("POST", "/account/password", "HDdISGA"),
        ("POST", "/sign-out", "HDdISGA"),
        ("GET", "/", "HDdISGA"),
        ("GET", "/accounts", "HI"),
        ("POST", "/accounts", "HI"),
        ("GET", "/accounts/{id}", "HI"),
        ("POST", "/accounts/{id}", "HI"),
        ("POST", "/accounts/{id}/unlock", "HI"),
        ("POST", "/accounts/{id}/reset", "HI"),
        ("GET", "/audit", "HIA"),
        ("GET", "/account/tokens", "HDdISGA"),
        ("POST", "/account/tokens", "HDdISGA"),
        ("POST", "/account/tokens/{id}/revoke", "HDdISGA"),
        ("GET", "/people", "HDdI"),
        ("GET", "/people/import", "HI"),
        ("POST", "/people/import", "HI"),
        ("GET", "/api/v1/openapi.json", "*"),
        ("GET", "/api/v1/me", "HDdISGA"),
        ("GET", "/api/v1/dashboard", "HDdISGA"),
        ("GET", "/api/v1/accounts", "HI"),
        ("POST", "/api/v1/accounts", "HI"),
        ("GET", "/api/v1/audit", "HIA"),
        ("GET", "/api/v1/tokens", "HDdISGA"),
        ("DELETE", "/api/v1/tokens/{id}", "HDdISGA"),
        ("GET", "/api/v1/people", "HDdI"),
        ("POST", "/api/v1/people/import", "HI"),
    ];

    fn letter(r: Role) -> char {
        match r {
            Role::Headteacher => 'H',
            Role::Dsl => 'D',
            Role::DeputyDsl => 'd',
            Role::ItAdmin => 'I',
            Role::Staff => 'S',
            Role::Governor => 'G',
            Role::Auditor => 'A',
        }
    }

    #[test]
    fn the_matrix_lists_exactly_the_routes_the_console_serves() {
        let served: BTreeSet<(String, String)> = RouteId::ALL.iter().map(|r| (r.spec().0.to_string(), r.spec().1.to_owned())).collect();
        assert_eq!(served.len(), RouteId::ALL.len(), "two routes share a method and path");
        let expected: BTreeSet<(String, String)> = MATRIX.iter().map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned())).collect();
        let missing: Vec<_> = served.difference(&expected).collect();
        let extra: Vec<_> = expected.difference(&served).collect();
        assert!(missing.is_empty(), "routes without an entry in the RBAC matrix: {missing:?}");
        assert!(extra.is_empty(), "matrix entries for routes that do not exist: {extra:?}");
        for r in RouteId::ALL {
            let (m, p, access) = r.spec();
            let row = MATRIX.iter().find(|(mm, pp, _)| *mm == m.as_str() && *pp == p).unwrap().2;
            assert_eq!(row == "*", access == Access::Public, "{m} {p}: public in one place and not the other");
        }
    }

    /// The guard's refusals: 403 or a redirect to sign in for pages (a form's own 401 for a
    /// wrong code is the handler answering, not the guard), 401 or 403 for the API.
    fn denied(resp: &Resp, api: bool, get: bool) -> bool {
        resp.status == StatusCode::FORBIDDEN
            || (api && resp.status == StatusCode::UNAUTHORIZED)
            || (get && resp.location().is_some_and(|l| l.starts_with("/sign-in")))
    }

    #[tokio::test]
    async fn every_route_as_every_role() {
        let app = app().await;
        let target = app.account("target", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
        let mut failures = Vec::new();
        for role in Role::ALL {
            let account = app.account(&format!("user-{}", role.as_str()), RoleSet::of(&[role]), PASSWORD, true).await;
            let token = app.token(account, RoleSet::of(&[role]).permissions()).await;
            for (method, path, allowed) in MATRIX {
                if *allowed == "*" {
                    continue;
                }
                // Accounts routes act on another account; token routes on a token that does not
                // exist (so the walk never revokes the token it is using).
                let id = if path.contains("tokens") { "999999".to_owned() } else { target.to_string() };
                let path = path.replace("{id}", &id);
                let method: Method = method.parse().unwrap();
                let resp = if path.starts_with("/api/") {
                    app.api(method.clone(), &path, Some(&token), Some(serde_json::json!({}))).await
                } else {
                    let (cookie, csrf) = app.session(account).await;
                    if method == Method::GET { app.get(&path, Some(&cookie)).await } else { app.post(&path, Some(&cookie), &[("csrf_token", &csrf)]).await }
                };
                assert!(!resp.body.contains("There is no such page"), "{method} {path}: the matrix names a path the router does not have");
                let expect = allowed.contains(letter(role));
                if expect == denied(&resp, path.starts_with("/api/"), method == Method::GET) {
                    failures.push(format!("{method} {path} as {role}: expected {}, got {}", if expect { "allow" } else { "deny" }, resp.status));
                }
            }
        }
        assert!(failures.is_empty(), "RBAC matrix failures:\n{}", failures.join("\n"));
    }

    #[tokio::test]
    async fn public_routes_need_no_account() {
        let app = app().await;
        for (method, path, allowed) in MATRIX.iter().filter(|(m, _, a)| *a == "*" && *m == "GET") {
            let resp = if path.starts_with("/api/") { app.api(Method::GET, path, None, None).await } else { app.get(path, None).await };
            assert_eq!(resp.status, StatusCode::OK, "{method} {path} ({allowed})");
        }
    }

    #[tokio::test]
    async fn signed_out_visitors_are_sent_to_sign_in_and_the_api_wants_a_token() {
        let app = app().await;
        for r in RouteId::ALL.into_iter().filter(|r| r.spec().2 != Access::Public) {
            let (m, p, _) = r.spec();
            let path = p.replace("{id}", "1");
            let resp = match (r.surface(), m.clone()) {
                (Surface::Api, m) => app.api(m, &path, None, None).await,
                (Surface::Page, Method::GET) => app.get(&path, None).await,
                (Surface::Page, _) => app.post(&path, None, &[]).await,
            };
            assert!(denied(&resp, r.surface() == Surface::Api, m == Method::GET), "{m} {path} without an account: {}", resp.status);
        }
    }

    #[tokio::test]
    async fn governor_tokens_and_pages_never_reach_names() {
        let app = app().await;
        let g = app.account("gov", RoleSet::of(&[Role::Governor]), PASSWORD, false).await;
        let (cookie, _) = app.session(g).await;
        let resp = app.get("/", Some(&cookie)).await;
        assert_eq!(resp.status, StatusCode::OK);
        assert!(!resp.body.contains("href=\"/accounts\""), "no link to pages the role cannot open");
        assert!(!resp.body.contains("href=\"/audit\""));
    }
}

mod csrf {
    use axum::http::{Method, StatusCode};
    use haven_accounts::{Role, RoleSet};
    use haven_console::routes::Surface;
    use haven_console::{Access, RouteId};

    use crate::common::*;

    #[tokio::test]
    async fn every_state_changing_page_refuses_a_missing_or_wrong_token() {
        let app = app().await;
        let admin = app.account("admin", RoleSet::of(&[Role::ItAdmin, Role::Headteacher]), PASSWORD, true).await;
        // State-changing pages a fully signed-in administrator may use (the rest refuse them
        // before CSRF is even considered, which the RBAC matrix covers).
        let full_ok = |a: Access| match a {
            Access::Public => false,
            Access::Stages(s) => s.contains(&haven_accounts::session::Stage::Full),
            Access::SignedIn | Access::Requires(_) => true,
        };
        let posts: Vec<_> = RouteId::ALL.into_iter().filter(|r| r.surface() == Surface::Page && r.spec().0 != Method::GET && full_ok(r.spec().2)).collect();
        assert!(posts.len() >= 10);
        for r in posts {
            let (_, path, access) = r.spec();
            let path = path.replace("{id}", &admin.to_string());
            let (cookie, _) = app.session(admin).await;
            for fields in [vec![("username", "new.user"), ("display_name", "New"), ("role", "staff")], vec![("csrf_token", "0".repeat(64).leak() as &str), ("username", "new.user")]] {
                let resp = app.post(&path, Some(&cookie), &fields).await;
                assert_eq!(resp.status, StatusCode::FORBIDDEN, "POST {path} ({access:?}) without the right CSRF token");
                assert!(resp.body.contains("This form has expired"), "POST {path}: {}", resp.body);
            }
        }
        assert!(app.store.account_by_username("new.user").await.unwrap().is_none(), "nothing was created");
        assert_eq!(app.store.account(admin).await.unwrap().unwrap().roles, RoleSet::of(&[Role::ItAdmin, Role::Headteacher]));
    }

    #[tokio::test]
    async fn sign_in_needs_the_sign_in_cookie_to_match_the_form() {
        let app = app().await;
        app.account("staff", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
        let token = "a".repeat(64);
        let resp = app.post("/sign-in", None, &[("csrf_token", &token), ("username", "staff"), ("password", PASSWORD)]).await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "login CSRF");
        let resp = app.post("/sign-in", Some(&format!("haven_sign_in={}", "b".repeat(64))), &[("csrf_token", &token), ("username", "staff"), ("password", PASSWORD)]).await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN);
        assert!(resp.cookie("haven_session").is_none());
        assert_eq!(RouteId::find(&Method::POST, "/sign-in").map(|r| r.spec().2), Some(Access::Public));
    }
}

mod sign_in {
    use axum::http::StatusCode;
    use haven_accounts::{Role, RoleSet};

    use crate::common::*;

    #[tokio::test]
    async fn password_then_totp_rotates_the_session_each_step() {
        let app = app().await;
        app.account("dsl", RoleSet::of(&[Role::Dsl]), PASSWORD, true).await;
        let step1 = app.sign_in("DSL", PASSWORD, None).await;
        assert_eq!(step1.status, StatusCode::SEE_OTHER, "{}", step1.body);
        assert_eq!(step1.location(), Some("/sign-in/totp"));
        let pending = format!("haven_session={}", step1.cookie("haven_session").unwrap());
        // Half signed in: every other page sends you back to the code.
        assert_eq!(app.get("/", Some(&pending)).await.location(), Some("/sign-in/totp"));
        assert_eq!(app.get("/accounts", Some(&pending)).await.location(), Some("/sign-in/totp"));
        let form = app.get("/sign-in/totp", Some(&pending)).await;
        assert_eq!(form.status, StatusCode::OK);
        let wrong = app.post("/sign-in/totp", Some(&pending), &[("csrf_token", &form.csrf()), ("code", "000000")]).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let code = secret().code_at(app.clock_now());
        let step2 = app.post("/sign-in/totp", Some(&pending), &[("csrf_token", &form.csrf()), ("code", &code)]).await;
        assert_eq!(step2.location(), Some("/"));
        let full = format!("haven_session={}", step2.cookie("haven_session").unwrap());
        assert_ne!(full, pending, "a new session at each step");
        assert_eq!(app.get("/", Some(&pending)).await.location(), Some("/sign-in"), "the pending session is gone");
        let dash = app.get("/", Some(&full)).await;
        assert_eq!(dash.status, StatusCode::OK);
        assert!(dash.body.contains("Designated Safeguarding Lead"));
        // The same code cannot be used again, even in a new sign-in within its window.
        let again = app.sign_in("dsl", PASSWORD, None).await;
        let again_cookie = format!("haven_session={}", again.cookie("haven_session").unwrap());
        let f = app.get("/sign-in/totp", Some(&again_cookie)).await;
        let replay = app.post("/sign-in/totp", Some(&again_cookie), &[("csrf_token", &f.csrf()), ("code", &code)]).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "replayed code");
        let events = app.audit_events().await;
        assert_eq!(events, ["password_accepted", "totp_failed", "sign_in", "password_accepted", "totp_failed"]);
        let signed = app.store.auth_audit(&haven_store::AuthAuditQuery { event: Some("sign_in".into()), ..Default::default() }).await.unwrap();
        assert_eq!(signed[0].detail, "password and TOTP");
    }

    #[tokio::test]
    async fn a_planted_session_id_is_never_promoted() {
        let app = app().await;
        let id = app.account("staff", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
        // An attacker's own valid session, planted in the victim's browser, is replaced.
        let (planted, _) = app.session(id).await;
        let resp = app.sign_in("staff", PASSWORD, Some(&planted)).await;
        let issued = format!("haven_session={}", resp.cookie("haven_session").unwrap());
        assert_ne!(issued, planted);
        assert_eq!(app.get("/", Some(&planted)).await.location(), Some("/sign-in"), "the planted session was deleted");
        assert_eq!(app.get("/", Some(&issued)).await.status, StatusCode::OK);
        // A made-up identifier is ignored too.
        let made_up = format!("haven_session={}", "f".repeat(64));
        let resp = app.sign_in("staff", PASSWORD, Some(&made_up)).await;
        assert_ne!(format!("haven_session={}", resp.cookie("haven_session").unwrap()), made_up);
        assert_eq!(app.get("/", Some(&made_up)).await.location(), Some("/sign-in"));
    }

    #[tokio::test]
    async fn cookies_are_http_only_strict_and_secure_under_tls() {
        let app = app().await;
        app.account("staff", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
        let resp = app.sign_in("staff", PASSWORD, None).await;
        let set = resp.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).find(|v| v.starts_with("haven_session=")).unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "{set}");
        assert!(!set.contains("Secure"), "no TLS in this test");
        let secure = haven_console::guard::set_cookie("haven_session", "x", 60, true);
        assert!(secure.to_str().unwrap().ends_with("; Secure"));
    }

    #[tokio::test]
    async fn roles_that_need_a_second_factor_must_enrol_first() {
        let app = app().await;
        app.account("itadmin", RoleSet::of(&[Role::ItAdmin]), PASSWORD, false).await;
        let step1 = app.sign_in("itadmin", PASSWORD, None).await;
        assert_eq!(step1.location(), Some("/account/two-factor"));
        let pending = format!("haven_session={}", step1.cookie("haven_session").unwrap());
        assert_eq!(app.get("/accounts", Some(&pending)).await.location(), Some("/account/two-factor"));
        let page = app.get("/account/two-factor", Some(&pending)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("<svg"), "QR code shown");
        let key = between(&page.body, "<code class=\"secret\" id=\"secret\">", "</code>").unwrap();
        assert!(page.body.contains("otpauth://totp/Haven%20St%20John%27s:itadmin?secret="), "otpauth URI");
        let secret = haven_accounts::totp::TotpSecret::from_base32(&key).unwrap();
        // Reloading the page shows the same secret until it is confirmed.
        assert!(app.get("/account/two-factor", Some(&pending)).await.body.contains(&key));
        let done = app.post("/account/two-factor", Some(&pending), &[("csrf_token", &page.csrf()), ("code", &secret.code_at(app.clock_now()))]).await;
        assert_eq!(done.location(), Some("/"));
        let full = format!("haven_session={}", done.cookie("haven_session").unwrap());
        assert_eq!(app.get("/accounts", Some(&full)).await.status, StatusCode::OK);
        let a = app.store.account_by_username("itadmin").await.unwrap().unwrap();
        assert_eq!(a.totp_secret.as_deref(), Some(key.as_str()));
        assert!(app.audit_events().await.contains(&"totp_enrolled".to_owned()));
        // Next time, the code is asked for.
        app.advance(60);
        assert_eq!(app.sign_in("itadmin", PASSWORD, None).await.location(), Some("/sign-in/totp"));
    }

    #[tokio::test]
    async fn staff_without_a_second_factor_sign_in_with_a_password() {
        let app = app().await;
        app.account("teacher", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
        let resp = app.sign_in("teacher", PASSWORD, None).await;
        assert_eq!(resp.location(), Some("/"));
        assert_eq!(app.audit_events().await, ["sign_in"]);
        let wrong = app.sign_in("teacher", "Wrong12345", None).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("The username or password is wrong."));
        let nobody = app.sign_in("nobody", PASSWORD, None).await;
        assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
        assert!(nobody.body.contains("The username or password is wrong."), "unknown users get the same answer");
        assert!(!nobody.body.contains(PASSWORD) && !wrong.body.contains("Wrong12345"), "passwords are never echoed");
        assert_eq!(app.audit_events().await, ["sign_in", "sign_in_failed", "sign_in_failed"]);
    }

    #[tokio::test]
    async fn administrator_set_passwords_must_be_changed_at_first_sign_in() {
        let app = app().await;
        let admin = app.account("admin", RoleSet::of(&[Role::ItAdmin]), PASSWORD, true).await;
        let (cookie, csrf) = app.session(admin).await;
        let created = app.post("/accounts", Some(&cookie), &[("csrf_token", &csrf), ("username", "K.Jones"), ("display_name", "Kim Jones"), ("role", "staff"), ("role", "governor")]).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let temp = between(&created.body, "id=\"temporary-password\">", "</code>").unwrap();
        let k = app.store.account_by_username("k.jones").await.unwrap().unwrap();
        assert_eq!(k.roles, RoleSet::of(&[Role::Staff, Role::Governor]));
        assert!(k.must_change_password);
        let step1 = app.sign_in("k.jones", &temp, None).await;
        assert_eq!(step1.location(), Some("/account/password"));
        let pending = format!("haven_session={}", step1.cookie("haven_session").unwrap());
        assert_eq!(app.get("/", Some(&pending)).await.location(), Some("/account/password"));
        let form = app.get("/account/password", Some(&pending)).await;
        let weak = app.post("/account/password", Some(&pending), &[("csrf_token", &form.csrf()), ("current", &temp), ("new", "short"), ("confirm", "short")]).await;
        assert_eq!(weak.status, StatusCode::BAD_REQUEST);
        assert!(weak.body.contains("at least 8 characters") && weak.body.contains("upper-case"), "{}", weak.body);
        let ok = app.post("/account/password", Some(&pending), &[("csrf_token", &form.csrf()), ("current", &temp), ("new", "Playground77"), ("confirm", "Playground77")]).await;
        assert_eq!(ok.location(), Some("/account/password?done=1"));
        let full = format!("haven_session={}", ok.cookie("haven_session").unwrap());
        assert_eq!(app.get("/", Some(&full)).await.status, StatusCode::OK);
        assert!(!app.store.account_by_username("k.jones").await.unwrap().unwrap().must_change_password);
        let events = app.audit_events().await;
        assert_eq!(events, ["account_created", "password_accepted", "password_changed", "sign_in"]);
    }
}

mod lockout {
    use axum::http::StatusCode;
    use haven_accounts::{Role, RoleSet};

    use crate::common::*;

    #[tokio::test]
    async fn five_failures_lock_the_account_for_fifteen_minutes() {
        let app = app().await;
        app.account("teacher", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
        for i in 1..=5 {
            let r = app.sign_in("teacher", "Wrong12345", None).await;
            if i < 5 {
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
            } else {
                assert_eq!(r.status, StatusCode::FORBIDDEN);
                assert!(r.body.contains("now locked"), "{}", r.body);
            }
        }
        let refused = app.sign_in("teacher", PASSWORD, None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "the right password is refused while locked");
        assert!(refused.cookie("haven_session").is_none());
        app.advance(15 * 60);
        assert_eq!(app.sign_in("teacher", PASSWORD, None).await.location(), Some("/"));
        let events = app.audit_events().await;
        assert_eq!(events.iter().filter(|e| *e == "sign_in_failed").count(), 5);
        assert_eq!(&events[5..], ["locked", "sign_in_refused", "sign_in"]);
    }

    #[tokio::test]
    async fn wrong_totp_codes_count_towards_the_lock_and_end_the_attempt() {
        let app = app().await;
        app.account("dsl", RoleSet::of(&[Role::Dsl]), PASSWORD, true).await;
        let mut last = None;
        for _ in 0..5 {
            let s = app.sign_in("dsl", PASSWORD, None).await;
            let cookie = format!("haven_session={}", s.cookie("haven_session").unwrap());
            let f = app.get("/sign-in/totp", Some(&cookie)).await;
            last = Some(app.post("/sign-in/totp", Some(&cookie), &[("csrf_token", &f.csrf()), ("code", "999999")]).await);
        }
        assert_eq!(last.unwrap().location(), Some("/sign-in"), "locked: sent back to sign in");
        assert_eq!(app.sign_in("dsl", PASSWORD, None).await.status, StatusCode::FORBIDDEN);
        assert!(app.audit_events().await.contains(&"locked".to_owned()));
    }

    #[tokio::test]
    async fn an_administrator_can_unlock_and_it_is_audited() {
        let app = app().await;
        let t = app.account("teacher", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
        let admin = app.account("admin", RoleSet::of(&[Role::ItAdmin]), PASSWORD, true).await;
        for _ in 0..5 {
            app.sign_in("teacher", "Wrong12345", None).await;
        }
        let (cookie, csrf) = app.session(admin).await;
        let page = app.get(&format!("/accounts/{t}"), Some(&cookie)).await;
        assert!(page.body.contains("Locked"));
        let r = app.post(&format!("/accounts/{t}/unlock"), Some(&cookie), &[("csrf_token", &csrf)]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(app.sign_in("teacher", PASSWORD, None).await.location(), Some("/"));
        let unlocked = app.store.auth_audit(&haven_store::AuthAuditQuery { event: Some("account_unlocked".into()), ..Default::default() }).await.unwrap();
        assert_eq!(unlocked[0].actor, "admin");
    }

    #[tokio::test]
    async fn one_address_spraying_passwords_is_throttled() {
        let app = app().await;
        for i in 0..20 {
            assert_eq!(app.sign_in(&format!("user{i}"), "Guess12345", None).await.status, StatusCode::UNAUTHORIZED);
        }
        let r = app.sign_in("user99", "Guess12345", None).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(app.audit_events().await.contains(&"sign_in_throttled".to_owned()));
    }
}

mod expiry {
    use axum::http::StatusCode;
    use haven_accounts::{Role, RoleSet};

    use crate::common::*;

    #[tokio::test]
    async fn idle_sessions_end_after_thirty_minutes() {
        let app = app().await;
        app.account("teacher", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
        let r = app.sign_in("teacher", PASSWORD, None).await;
        let cookie = format!("haven_session={}", r.cookie("haven_session").unwrap());
        app.advance(29 * 60);
        assert_eq!(app.get("/", Some(&cookie)).await.status, StatusCode::OK, "used within the idle limit");
        app.advance(29 * 60);
        assert_eq!(app.get("/", Some(&cookie)).await.status, StatusCode::OK, "idle counts from the last use");
        app.advance(30 * 60);
        assert_eq!(app.get("/", Some(&cookie)).await.location(), Some("/sign-in"));
    }

    #[tokio::test]
    async fn busy_sessions_still_end_after_twelve_hours() {
        let app = app().await;
        app.account("teacher", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
        let r = app.sign_in("teacher", PASSWORD, None).await;
        let cookie = format!("haven_session={}", r.cookie("haven_session").unwrap());
        for _ in 0..(12 * 3 - 1) {
            app.advance(20 * 60);
            assert_eq!(app.get("/", Some(&cookie)).await.status, StatusCode::OK);
        }
        app.advance(20 * 60);
        assert_eq!(app.get("/", Some(&cookie)).await.location(), Some("/sign-in"));
    }

    #[tokio::test]
    async fn disabling_an_account_ends_its_sessions() {
        let app = app().await;
        let t = app.account("teacher", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
        let admin = app.account("admin", RoleSet::of(&[Role::ItAdmin]), PASSWORD, true).await;
        let (victim, _) = app.session(t).await;
        let (cookie, csrf) = app.session(admin).await;
        let r = app.post(&format!("/accounts/{t}"), Some(&cookie), &[("csrf_token", &csrf), ("display_name", "Teacher"), ("role", "staff"), ("disabled", "on")]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(app.get("/", Some(&victim)).await.location(), Some("/sign-in"));
        assert_eq!(app.sign_in("teacher", PASSWORD, None).await.status, StatusCode::FORBIDDEN);
        // Nobody can lock themselves out of administration.
        let own = app.post(&format!("/accounts/{admin}"), Some(&cookie), &[("csrf_token", &csrf), ("display_name", "Admin"), ("role", "staff")]).await;
        assert_eq!(own.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn sign_out_ends_the_session() {
        let app = app().await;
        app.account("teacher", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
        let r = app.sign_in("teacher", PASSWORD, None).await;
        let cookie = format!("haven_session={}", r.cookie("haven_session").unwrap());
        let page = app.get("/", Some(&cookie)).await;
        let out = app.post("/sign-out", Some(&cookie), &[("csrf_token", &page.csrf())]).await;
        assert_eq!(out.location(), Some("/sign-in"));
        assert_eq!(out.cookie("haven_session").as_deref(), Some(""));
        assert_eq!(app.get("/", Some(&cookie)).await.location(), Some("/sign-in"));
    }
}

mod api {
    use std::collections::BTreeMap;

    use axum::http::{Method, StatusCode};
    use haven_accounts::role::PermissionSet;
    use haven_accounts::{Permission, Role, RoleSet};
    use haven_console::routes::Surface;
    use haven_console::{Access, RouteId};

    use crate::common::*;

    #[tokio::test]
    async fn tokens_not_cookies() {
        let app = app().await;
        let admin = app.account("admin", RoleSet::of(&[Role::ItAdmin]), PASSWORD, true).await;
        let (cookie, _) = app.session(admin).await;
        let r = app.get("/api/v1/accounts", Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a session cookie is not an API credential");
        assert!(r.headers.get("www-authenticate").is_some());
        let r = app.api(Method::GET, "/api/v1/me", Some("hvn_0000"), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let token = app.token(admin, PermissionSet::of(&[Permission::ManageAccounts])).await;
        let me = app.api(Method::GET, "/api/v1/me", Some(&token), None).await.json();
        assert_eq!(me["username"], "admin");
        assert_eq!(me["scopes"], serde_json::json!(["accounts:write"]));
    }

    #[tokio::test]
    async fn scopes_limit_a_token_and_roles_limit_the_scopes() {
        let app = app().await;
        let admin = app.account("admin", RoleSet::of(&[Role::ItAdmin]), PASSWORD, true).await;
        let narrow = app.token(admin, PermissionSet::of(&[Permission::ViewAuthAudit])).await;
        assert_eq!(app.api(Method::GET, "/api/v1/audit", Some(&narrow), None).await.status, StatusCode::OK);
        let r = app.api(Method::GET, "/api/v1/accounts", Some(&narrow), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.json()["error"].as_str().unwrap().contains("accounts:write"));
        // A token whose owner loses the role loses the access, whatever its scopes say.
        let wide = app.token(admin, PermissionSet::of(&[Permission::ManageAccounts])).await;
        assert_eq!(app.api(Method::GET, "/api/v1/accounts", Some(&wide), None).await.status, StatusCode::OK);
        app.store.update_account(admin, "admin", None, RoleSet::of(&[Role::Staff]), false).await.unwrap();
        assert_eq!(app.api(Method::GET, "/api/v1/accounts", Some(&wide), None).await.status, StatusCode::FORBIDDEN);
        app.store.update_account(admin, "admin", None, RoleSet::of(&[Role::ItAdmin]), true).await.unwrap();
        assert_eq!(app.api(Method::GET, "/api/v1/me", Some(&wide), None).await.status, StatusCode::UNAUTHORIZED, "disabled owner");
    }

    #[tokio::test]
    async fn revoked_and_expired_tokens_stop_working() {
        let app = app().await;
        let t = app.account("teacher", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
        let (cookie, csrf) = app.session(t).await;
        let created = app.post("/account/tokens", Some(&cookie), &[("csrf_token", &csrf), ("name", "report script"), ("scope", "dashboard:read"), ("days", "1")]).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let secret = between(&created.body, "id=\"new-token\">", "</code>").unwrap();
        assert!(haven_accounts::token::looks_like_token(&secret));
        assert_eq!(app.api(Method::GET, "/api/v1/dashboard", Some(&secret), None).await.status, StatusCode::OK);
        let stored = app.store.api_tokens(Some(t)).await.unwrap();
        assert_ne!(stored[0].hint, secret, "only a prefix is kept in clear");
        // A scope beyond the holder's roles is refused.
        let over = app.post("/account/tokens", Some(&cookie), &[("csrf_token", &csrf), ("name", "x"), ("scope", "accounts:write"), ("days", "1")]).await;
        assert_eq!(over.status, StatusCode::BAD_REQUEST);
        app.advance(86_400);
        assert_eq!(app.api(Method::GET, "/api/v1/dashboard", Some(&secret), None).await.status, StatusCode::UNAUTHORIZED, "expired");
        let other = app.token(t, PermissionSet::of(&[Permission::ViewDashboard])).await;
        let id = app.api(Method::GET, "/api/v1/tokens", Some(&other), None).await.json()["tokens"][0]["id"].as_i64().unwrap();
        assert_eq!(app.api(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&other), None).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.api(Method::GET, "/api/v1/me", Some(&other), None).await.status, StatusCode::UNAUTHORIZED, "revoked");
        let events = app.audit_events().await;
        assert!(events.contains(&"token_created".to_owned()) && events.contains(&"token_revoked".to_owned()));
    }

    #[tokio::test]
    async fn create_account_through_the_api_names_bad_fields() {
        let app = app().await;
        let admin = app.account("admin", RoleSet::of(&[Role::Headteacher]), PASSWORD, true).await;
        let token = app.token(admin, PermissionSet::of(&[Permission::ManageAccounts])).await;
        let bad = app.api(Method::POST, "/api/v1/accounts", Some(&token), Some(serde_json::json!({"username": "x y", "display_name": "X", "roles": ["staff"]}))).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.json()["error"].as_str().unwrap().starts_with("username:"));
        let bad = app.api(Method::POST, "/api/v1/accounts", Some(&token), Some(serde_json::json!({"username": "k.jones", "display_name": "Kim", "roles": ["wizard"]}))).await;
        assert!(bad.json()["error"].as_str().unwrap().contains("wizard"));
        let ok = app.api(Method::POST, "/api/v1/accounts", Some(&token), Some(serde_json::json!({"username": "k.jones", "display_name": "Kim Jones", "roles": ["dsl"]}))).await;
        assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
        let v = ok.json();
        assert_eq!(v["roles"], serde_json::json!(["dsl"]));
        assert!(v["temporary_password"].as_str().unwrap().len() >= 14);
        let dup = app.api(Method::POST, "/api/v1/accounts", Some(&token), Some(serde_json::json!({"username": "K.Jones", "display_name": "K", "roles": ["dsl"]}))).await;
        assert_eq!(dup.status, StatusCode::CONFLICT);
        let audit = app.api(Method::GET, "/api/v1/audit?event=account_created", Some(&app.token(admin, PermissionSet::of(&[Permission::ViewAuthAudit])).await), None).await;
        assert_eq!(audit.json()["entries"][0]["username"], "k.jones");
    }

    #[tokio::test]
    async fn the_openapi_document_matches_the_routes() {
        let app = app().await;
        let doc = app.api(Method::GET, "/api/v1/openapi.json", None, None).await.json();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let scopes: Vec<String> = match op["security"].as_array().unwrap().as_slice() {
                    [] => vec!["<public>".into()],
                    [one] => one["bearer"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect(),
                    more => panic!("{method} {path}: {more:?}"),
                };
                documented.insert((method.to_uppercase(), path.clone()), scopes);
            }
        }
        let mut routed = BTreeMap::new();
        for r in RouteId::ALL.into_iter().filter(|r| r.surface() == Surface::Api) {
            let (m, p, access) = r.spec();
            let scopes = match access {
                Access::Public => vec!["<public>".to_owned()],
                Access::SignedIn => vec![],
                Access::Requires(p) => vec![p.scope().to_owned()],
                Access::Stages(_) => panic!("API routes have no sign-in stages"),
            };
            routed.insert((m.to_string(), p.to_owned()), scopes);
        }
        assert_eq!(documented, routed, "the OpenAPI document and the route table disagree");
        let described = doc["components"]["securitySchemes"]["bearer"]["description"].as_str().unwrap();
        for p in Permission::ALL {
            assert!(described.contains(p.scope()), "scope {} undocumented", p.scope());
        }
    }
}

mod people {
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode, header};
    use haven_accounts::role::PermissionSet;
    use haven_accounts::{Permission, Role, RoleSet};

    use crate::common::*;

    const ROLL: &str = "UPN,Legal Surname,Forename,Year,Reg\nA123456789012,Smith,Jo,Year 7,7JS\nB123456789012,Typo,Pat,Year 8,8X\nP000000000001,Jones,Sam,Year 10,10AB\n";

    fn multipart(csrf: &str, csv: &str, dry_run: bool) -> (String, String) {
        let b = "----haven-test-boundary";
        let mut body = String::new();
        let mut part = |name: &str, extra: &str, value: &str| {
            body.push_str(&format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n{value}\r\n"));
        };
        part("csrf_token", "", csrf);
        part("file", "; filename=\"roll.csv\"\r\nContent-Type: text/csv", csv);
        part("format", "", "sims");
        part("kind", "", "pupil");
        if dry_run {
            part("dry_run", "", "on");
        }
        body.push_str(&format!("--{b}--\r\n"));
        (format!("multipart/form-data; boundary={b}"), body)
    }

    #[tokio::test]
    async fn import_page_previews_then_imports_reporting_the_bad_row() {
        let app = app().await;
        let admin = app.account("admin", RoleSet::of(&[Role::ItAdmin]), PASSWORD, true).await;
        let (cookie, csrf) = app.session(admin).await;
        let send = |dry: bool| {
            let (ct, body) = multipart(&csrf, ROLL, dry);
            Request::post("/people/import").header(header::COOKIE, &cookie).header(header::CONTENT_TYPE, ct).body(Body::from(body)).unwrap()
        };
        let preview = app.request(send(true)).await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
        assert!(preview.body.contains("2 to add, 0 to change, 0 leaving, 0 unchanged, 1 bad row(s)"), "{}", preview.body);
        assert!(preview.body.contains("<td>3</td><td>UPN</td>"), "row number and field: {}", preview.body);
        assert!(app.store.people(&haven_store::PeopleQuery::default()).await.unwrap().is_empty(), "preview writes nothing");
        let done = app.request(send(false)).await;
        assert!(done.body.contains("Imported roll.csv"));
        let people = app.store.people(&haven_store::PeopleQuery::default()).await.unwrap();
        assert_eq!(people.len(), 2, "the good rows went in");
        let list = app.get("/people?q=smith", Some(&cookie)).await;
        assert!(list.body.contains("Jo Smith") && !list.body.contains("Sam Jones"));
        assert!(app.audit_events().await.contains(&"people_imported".to_owned()));
    }

    #[tokio::test]
    async fn governors_see_counts_never_names() {
        let app = app().await;
        let admin = app.account("admin", RoleSet::of(&[Role::ItAdmin]), PASSWORD, true).await;
        let token = app.token(admin, PermissionSet::of(&[Permission::ManagePeople])).await;
        let r = app.api(Method::POST, "/api/v1/people/import?format=sims", Some(&token), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "an empty body has no header");
        let req = Request::post("/api/v1/people/import?format=sims").header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::from(ROLL)).unwrap();
        let v = app.request(req).await.json();
        assert_eq!(v["added"], serde_json::json!(["Jo Smith", "Sam Jones"]));
        assert_eq!(v["errors"][0]["row"], 3);
        let g = app.account("gov", RoleSet::of(&[Role::Governor]), PASSWORD, false).await;
        let (cookie, _) = app.session(g).await;
        let dash = app.get("/", Some(&cookie)).await;
        assert!(dash.body.contains("pupils in ks3"), "{}", dash.body);
        for name in ["Smith", "Jones", "Jo ", "A123456789012"] {
            assert!(!dash.body.contains(name), "the governor's dashboard shows {name}");
        }
        let gt = app.token(g, PermissionSet::of(&[Permission::ViewDashboard, Permission::ViewPeople])).await;
        let api = app.api(Method::GET, "/api/v1/dashboard", Some(&gt), None).await;
        assert!(!api.body.contains("Smith"));
        assert_eq!(api.json()["people"][0]["count"], 1);
        assert_eq!(app.api(Method::GET, "/api/v1/people", Some(&gt), None).await.status, StatusCode::FORBIDDEN, "a scope the role lacks is not granted");
        assert_eq!(app.get("/people", Some(&cookie)).await.status, StatusCode::FORBIDDEN);
    }
}

mod browser {
    //! Real headless Chromium through chromedriver (Debian `chromium` + `chromium-driver`):
    //! TOTP sign-in, a role denied a page, a CSV import with a bad row. Skipped with a notice
    //! only outside CI; with `CI=true` a missing chromedriver fails the test.

    use std::time::Duration;

    use fantoccini::{Client, ClientBuilder, Locator};
    use haven_accounts::{Role, RoleSet};

    use crate::common::*;

    fn chromedriver() -> Option<std::path::PathBuf> {
        let found = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].iter().map(std::path::PathBuf::from).find(|p| p.exists());
        if found.is_none() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "chromedriver is missing; CI must install chromium and chromium-driver (see .ci/run)"
            );
            eprintln!("browser tests skipped: no chromedriver (apt-get install chromium chromium-driver)");
        }
        found
    }

    /// A console on a real socket, chromedriver, and a headless Chromium session.
    struct Browser {
        client: Client,
        base: String,
        _driver: tokio::process::Child,
        _stop: tokio::sync::oneshot::Sender<()>,
    }

    async fn browser(app: &App) -> Option<Browser> {
        let driver_path = chromedriver()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = tokio::process::Command::new(driver_path).arg(format!("--port={port}")).kill_on_drop(true).stdout(std::process::Stdio::null()).spawn().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(haven_console::serve(listener, app.router.clone(), None, async move {
            let _ = stopped.await;
        }));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=420,900"] }),
        );
        let mut client = None;
        for _ in 0..50 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new()).capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        Some(Browser { client: client.expect("chromedriver did not start a Chromium session"), base, _driver: driver, _stop: stop })
    }

    impl Browser {
        async fn fill(&self, css: &str, text: &str) {
            let e = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
            e.clear().await.unwrap();
            e.send_keys(text).await.unwrap();
        }

        async fn submit(&self, form_css: &str) {
            self.client.find(Locator::Css(&format!("{form_css} button[type=submit]"))).await.unwrap().click().await.unwrap();
        }

        /// The text of the first element matching `css`, waiting for it; a page still loading
        /// after a form post can hand back an element that goes stale, so that is retried.
        async fn text(&self, css: &str) -> String {
            let mut last = String::new();
            for _ in 0..50 {
                match self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await {
                    Ok(e) => match e.text().await {
                        Ok(t) => return t,
                        Err(err) => last = err.to_string(),
                    },
                    Err(err) => last = err.to_string(),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("{css}: {last}");
        }

        async fn sign_in(&self, username: &str, password: &str) {
            self.client.goto(&format!("{}/sign-in", self.base)).await.unwrap();
            self.fill("#username", username).await;
            self.fill("#password", password).await;
            self.submit("form[action='/sign-in']").await;
        }

        async fn path(&self) -> String {
            self.client.current_url().await.unwrap().path().to_owned()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sign_in_with_totp_in_chromium() {
        let app = app().await;
        app.account("dsl", RoleSet::of(&[Role::Dsl]), PASSWORD, true).await;
        let Some(b) = browser(&app).await else { return };
        b.sign_in("dsl", PASSWORD).await;
        b.fill("#code", "123456").await;
        b.submit("form[action='/sign-in/totp']").await;
        assert!(b.text("[role=alert]").await.contains("That code is not right"));
        b.fill("#code", &secret().code_at(app.clock_now())).await;
        b.submit("form[action='/sign-in/totp']").await;
        assert_eq!(b.text("main h1").await, "Dashboard");
        assert_eq!(b.path().await, "/");
        let cookies = b.client.get_all_cookies().await.unwrap();
        let session = cookies.iter().find(|c| c.name() == "haven_session").unwrap();
        assert_eq!(session.http_only(), Some(true));
        // The skip link and main landmark are there for keyboard users.
        assert_eq!(b.client.find(Locator::Css("a.skip")).await.unwrap().attr("href").await.unwrap().as_deref(), Some("#main"));
        b.client.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_governor_is_denied_the_accounts_page_in_chromium() {
        let app = app().await;
        app.account("governor", RoleSet::of(&[Role::Governor]), PASSWORD, false).await;
        let Some(b) = browser(&app).await else { return };
        b.sign_in("governor", PASSWORD).await;
        assert_eq!(b.text("main h1").await, "Dashboard");
        let nav = b.text("nav").await;
        assert!(!nav.contains("Accounts") && !nav.contains("People"), "{nav}");
        b.client.goto(&format!("{}/accounts", b.base)).await.unwrap();
        assert_eq!(b.text("main h1").await, "Forbidden");
        assert!(b.text("[role=alert]").await.contains("Your role does not allow this page"));
        b.client.goto(&format!("{}/people", b.base)).await.unwrap();
        assert_eq!(b.text("main h1").await, "Forbidden");
        b.client.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_csv_import_with_a_bad_row_in_chromium() {
        let app = app().await;
        app.account("itadmin", RoleSet::of(&[Role::ItAdmin]), PASSWORD, true).await;
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("roll.csv");
        std::fs::write(&csv, "UPN,Legal Surname,Forename,Year,Reg\nA123456789012,Smith,Jo,Year 7,7JS\nB123456789012,Typo,Pat,Year 8,8X\n").unwrap();
        let Some(b) = browser(&app).await else { return };
        b.sign_in("itadmin", PASSWORD).await;
        b.fill("#code", &secret().code_at(app.clock_now())).await;
        b.submit("form[action='/sign-in/totp']").await;
        assert_eq!(b.text("main h1").await, "Dashboard");
        b.client.goto(&format!("{}/people/import", b.base)).await.unwrap();
        b.client.find(Locator::Css("#file")).await.unwrap().send_keys(csv.to_str().unwrap()).await.unwrap();
        b.client.find(Locator::Css("#format option[value=sims]")).await.unwrap().click().await.unwrap();
        b.client.find(Locator::Css("#dry_run")).await.unwrap().click().await.unwrap();
        b.submit("form[action='/people/import']").await;
        assert!(b.text("#import-summary").await.starts_with("1 to add, 0 to change, 0 leaving, 0 unchanged, 1 bad row(s)"));
        let bad = b.text("#bad-rows tbody").await;
        assert!(bad.contains('3') && bad.contains("UPN") && bad.contains("check letter"), "{bad}");
        b.client.goto(&format!("{}/people", b.base)).await.unwrap();
        assert!(b.text("table").await.contains("Jo Smith"), "the good row went in");
        b.client.close().await.unwrap();
    }
}
