//! CSRF: every state-changing page request without the session token is refused.

use axum::http::{Method, StatusCode};
use haven_accounts::{Role, RoleSet};
use haven_console::routes::Surface;
use haven_console::{Access, RouteId};

use crate::console::common::*;

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
