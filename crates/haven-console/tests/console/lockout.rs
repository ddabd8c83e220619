//! Account lockout after failed sign-ins and the per-address throttle.

use axum::http::StatusCode;
use haven_accounts::{Role, RoleSet};

use crate::console::common::*;

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
