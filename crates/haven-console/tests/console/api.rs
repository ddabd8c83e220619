//! The JSON API: bearer tokens, scopes intersected with roles, revocation, the OpenAPI document.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use haven_accounts::role::PermissionSet;
use haven_accounts::{Permission, Role, RoleSet};
use haven_console::routes::Surface;
use haven_console::{Access, RouteId};

use crate::console::common::*;

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
