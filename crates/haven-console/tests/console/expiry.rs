//! Session idle and absolute expiry, driven by the injected clock.

use axum::http::StatusCode;
use haven_accounts::{Role, RoleSet};

use crate::console::common::*;

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
