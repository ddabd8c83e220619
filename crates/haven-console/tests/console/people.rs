//! The people directory and CSV import: dry run, bad rows named, leavers disabled.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use haven_accounts::role::PermissionSet;
use haven_accounts::{Permission, Role, RoleSet};

use crate::console::common::*;

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
