//! The captive portal and the network page: a device's address bound by signing in (staff
//! account, pupil network password), refused and throttled failures recorded, CSRF on the
//! portal's forms, the console's "who is on which address" and a forced sign-out.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use haven_accounts::{Role, RoleSet};
use haven_console::guard::ClientAddr;
use haven_store::AuthAuditQuery;

use crate::console::common::*;

const ROLL: &str = "UPN,Legal Surname,Forename,Year,Reg\nA123456789012,Smith,Jo,Year 7,7JS\n";

/// A form post from a device at `ip`, carrying the portal's double-submit cookie.
async fn from(app: &App, ip: &str, method: Method, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Resp {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let mut b = Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    let mut req = b.body(Body::from(body)).unwrap();
    req.extensions_mut().insert(ClientAddr(SocketAddr::new(ip.parse().unwrap(), 50000)));
    app.request(req).await
}

/// Open the portal from `ip` and sign in; returns the answer.
async fn portal_sign_in(app: &App, ip: &str, user: &str, password: &str) -> Resp {
    let form = from(app, ip, Method::GET, "/portal?url=http://example.com/", None, &[]).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Connect"), "{}", form.body);
    let csrf = form.cookie("haven_sign_in").unwrap();
    let cookie = format!("haven_sign_in={csrf}");
    from(
        app,
        ip,
        Method::POST,
        "/portal",
        Some(&cookie),
        &[("csrf_token", &csrf), ("username", user), ("password", password), ("url", "http://example.com/")],
    )
    .await
}

async fn bound(app: &App, ip: &str) -> Option<haven_identity::Binding> {
    app.store.saved_bindings().await.unwrap().into_iter().find(|(a, _)| a.to_string() == ip).map(|(_, b)| b)
}

#[tokio::test]
async fn staff_sign_in_binds_the_address_and_the_network_page_signs_it_out() {
    let app = app().await;
    app.account("kim", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
    let ok = portal_sign_in(&app, "10.1.2.3", "kim", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body.contains("id=\"portal-signed-in\"") && ok.body.contains("http://example.com/"), "{}", ok.body);
    let b = bound(&app, "10.1.2.3").await.expect("bound");
    assert_eq!((b.user.as_deref(), b.group.as_deref(), b.source.as_str()), (Some("kim"), Some("staff"), "portal"));
    assert_eq!(b.expires.unwrap().as_second() - b.since.as_second(), 8 * 3600, "the configured time");
    let audit = app.store.auth_audit(&AuthAuditQuery { event: Some("portal_sign_in".into()), ..Default::default() }).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].client, "10.1.2.3");

    // The IT administrator sees it, with its source, and signs it out.
    let admin = app.account("admin", RoleSet::of(&[Role::ItAdmin]), PASSWORD, true).await;
    let (cookie, csrf) = app.session(admin).await;
    let page = app.get("/network", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<td>10.1.2.3</td><td>kim</td><td>staff</td>") && page.body.contains("<td>portal</td>"), "{}", page.body);
    let token = app.token(admin, RoleSet::of(&[Role::ItAdmin]).permissions()).await;
    let api = app.api(Method::GET, "/api/v1/network/bindings", Some(&token), None).await.json();
    assert_eq!(api["bindings"][0]["address"], "10.1.2.3");
    assert_eq!(api["bindings"][0]["source"], "portal");
    let bad = app.post("/network/sign-out", Some(&cookie), &[("csrf_token", "wrong"), ("address", "10.1.2.3")]).await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN, "CSRF");
    assert!(bound(&app, "10.1.2.3").await.is_some());
    let out = app.post("/network/sign-out", Some(&cookie), &[("csrf_token", &csrf), ("address", "10.1.2.3")]).await;
    assert!(out.body.contains("is signed out"), "{}", out.body);
    assert!(bound(&app, "10.1.2.3").await.is_none());
    let log = app.store.binding_log(Some("10.1.2.3"), 0).await.unwrap();
    assert_eq!((log[0].event.as_str(), log[0].actor.as_str()), ("end", "admin"));
    assert_eq!(log[1].event, "start");
    let recorded = app.store.auth_audit(&AuthAuditQuery { event: Some("address_signed_out".into()), ..Default::default() }).await.unwrap();
    assert_eq!(recorded[0].actor, "admin");
    let api = app.api(Method::POST, "/api/v1/network/sign-out", Some(&token), Some(serde_json::json!({ "address": "10.1.2.3" }))).await;
    assert_eq!(api.json()["signed_out"], false, "nothing left to end");
}

#[tokio::test]
async fn pupils_sign_in_with_a_printed_network_password_and_get_their_group() {
    let app = app().await;
    let admin = app.account("admin", RoleSet::of(&[Role::ItAdmin]), PASSWORD, true).await;
    let token = app.token(admin, RoleSet::of(&[Role::ItAdmin]).permissions()).await;
    let req = Request::post("/api/v1/people/import?format=sims")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(ROLL))
        .unwrap();
    assert_eq!(app.request(req).await.status, StatusCode::OK);
    let (cookie, csrf) = app.session(admin).await;
    let slips = app.post("/network/passwords", Some(&cookie), &[("csrf_token", &csrf), ("group", "ks3"), ("only_missing", "on")]).await;
    assert_eq!(slips.status, StatusCode::OK, "{}", slips.body);
    let username = between(&slips.body, "Username: <code>", "</code>").unwrap();
    let password = between(&slips.body, "Password: <code class=\"secret\">", "</code>").unwrap();
    assert_eq!(password.len(), 10);
    assert!(app.store.network_login(&username).await.unwrap().unwrap().password_hash.starts_with("$argon2id$"), "only the hash is kept");
    let again = app.get("/network/passwords", Some(&cookie)).await;
    assert!(!again.body.contains(&password), "a password is shown once");

    let wrong = portal_sign_in(&app, "10.1.2.4", &username, "not-it").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(bound(&app, "10.1.2.4").await.is_none());
    let ok = portal_sign_in(&app, "10.1.2.4", &username, &password).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let b = bound(&app, "10.1.2.4").await.unwrap();
    assert_eq!(b.group.as_deref(), Some("ks3"));
    let failed = app.store.auth_audit(&AuthAuditQuery { event: Some("portal_sign_in_failed".into()), ..Default::default() }).await.unwrap();
    assert_eq!(failed[0].detail, "network password: wrong password");

    // Signing out at the portal ends the device's own binding.
    let form = from(&app, "10.1.2.4", Method::GET, "/portal", None, &[]).await;
    assert!(form.body.contains("Sign this device out"));
    let c = form.cookie("haven_sign_in").unwrap();
    let out = from(&app, "10.1.2.4", Method::POST, "/portal/sign-out", Some(&format!("haven_sign_in={c}")), &[("csrf_token", &c)]).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(bound(&app, "10.1.2.4").await.is_none());
}

#[tokio::test]
async fn portal_failures_are_refused_without_csrf_recorded_and_throttled() {
    let app = app().await;
    app.account("kim", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
    let forged = from(
        &app,
        "10.9.0.1",
        Method::POST,
        "/portal",
        Some("haven_sign_in=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        &[("csrf_token", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"), ("username", "kim"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a form from elsewhere cannot bind an address");
    assert!(bound(&app, "10.9.0.1").await.is_none());
    let mut last = StatusCode::OK;
    for _ in 0..25 {
        last = portal_sign_in(&app, "10.9.0.1", "nobody", "guess").await.status;
        if last == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(last, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "the address is throttled");
    let right = portal_sign_in(&app, "10.9.0.1", "kim", PASSWORD).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    let events = app.store.auth_audit(&AuthAuditQuery::default()).await.unwrap();
    assert!(events.iter().any(|e| e.event == "portal_sign_in_throttled"));
    assert!(events.iter().any(|e| e.event == "portal_sign_in_failed" && e.detail == "no such user"));
}
