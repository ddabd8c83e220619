//! Every route as every role. The expectations are written out here, independently of the
//! route table, and the test fails if the two list different routes.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use haven_accounts::{Role, RoleSet};
use haven_console::routes::Surface;
use haven_console::{Access, RouteId};

use crate::console::common::*;

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
    ("GET", "/portal", "*"),
    ("POST", "/portal", "*"),
    ("POST", "/portal/sign-out", "*"),
    ("GET", "/network", "HDdI"),
    ("POST", "/network/sign-out", "HDdI"),
    ("GET", "/network/passwords", "HI"),
    ("POST", "/network/passwords", "HI"),
    ("GET", "/api/v1/network/bindings", "HDdI"),
    ("POST", "/api/v1/network/sign-out", "HDdI"),
    ("GET", "/policy", "HI"),
    ("POST", "/policy/sites", "HI"),
    ("POST", "/policy/sites/{id}/remove", "HI"),
    ("POST", "/policy/rules", "HI"),
    ("GET", "/policy/changes", "HDdIGA"),
    ("GET", "/unblock", "*"),
    ("POST", "/unblock", "*"),
    ("GET", "/unblock/staff", "HDdIS"),
    ("POST", "/unblock/staff", "HDdIS"),
    ("GET", "/unblock/requests", "HDdIS"),
    ("POST", "/unblock/requests/{id}/approve", "HDdIS"),
    ("POST", "/unblock/requests/{id}/decline", "HDdIS"),
    ("GET", "/activity", "HDdI"),
    ("GET", "/activity/searches", "Dd"),
    ("GET", "/api/v1/policy/sites", "HI"),
    ("POST", "/api/v1/policy/sites", "HI"),
    ("POST", "/api/v1/policy/sites/{id}/remove", "HI"),
    ("GET", "/api/v1/policy/changes", "HDdIGA"),
    ("GET", "/api/v1/unblock-requests", "HDdIS"),
    ("POST", "/api/v1/unblock-requests", "HDdIS"),
    ("POST", "/api/v1/unblock-requests/{id}/approve", "HDdIS"),
    ("POST", "/api/v1/unblock-requests/{id}/decline", "HDdIS"),
    ("GET", "/api/v1/activity", "HDdI"),
    ("GET", "/alerts", "HDd"),
    ("GET", "/alerts/{id}", "HDd"),
    ("POST", "/alerts/{id}/acknowledge", "HDd"),
    ("POST", "/alerts/{id}/close", "HDd"),
    ("GET", "/alerts/rules", "HDd"),
    ("POST", "/alerts/rules", "HDd"),
    ("GET", "/alerts/exclusions", "HDd"),
    ("GET", "/alerts/quality", "HDdG"),
    ("GET", "/api/v1/alerts", "HDd"),
    ("GET", "/api/v1/alerts/{id}", "HDd"),
    ("POST", "/api/v1/alerts/{id}/acknowledge", "HDd"),
    ("POST", "/api/v1/alerts/{id}/close", "HDd"),
    ("GET", "/api/v1/alerts/exclusions", "HDd"),
    ("GET", "/api/v1/alerts/rules", "HDd"),
    ("PUT", "/api/v1/alerts/rules", "HDd"),
    ("GET", "/api/v1/alerts/quality", "HDdG"),
    ("GET", "/static/records.js", "*"),
    ("GET", "/blank", "*"),
    ("GET", "/worry", "*"),
    ("POST", "/worry", "*"),
    ("GET", "/records/new", "HDdIS"),
    ("POST", "/records/new", "HDdIS"),
    ("GET", "/records/mine", "HDdIS"),
    ("GET", "/records", "HDd"),
    ("GET", "/records/search", "HDd"),
    ("POST", "/records/search/step-up", "HDd"),
    ("GET", "/records/{id}", "HDdIS"),
    ("POST", "/records/{id}/entries", "HDdIS"),
    ("GET", "/records/{id}/attachments/{sha}", "HDdIS"),
    ("GET", "/records/pupil/{id}", "HDd"),
    ("POST", "/records/pupil/{id}/front-sheet", "HDd"),
    ("GET", "/records/pupil/{id}/print", "HDd"),
    ("GET", "/records/pupil/{id}/print.pdf", "HDd"),
    ("GET", "/records/pupil/{id}/access", "HDd"),
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
