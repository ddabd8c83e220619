//! Sign-in with a password and TOTP, enrolment, forced password change, session fixation.

use axum::http::StatusCode;
use haven_accounts::{Role, RoleSet};

use crate::console::common::*;

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
