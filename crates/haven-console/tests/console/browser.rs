//! Real headless Chromium through chromedriver (Debian `chromium` + `chromium-driver`):
//! TOTP sign-in, a role denied a page, a CSV import with a bad row.

use fantoccini::Locator;
use haven_accounts::{Role, RoleSet};

use crate::console::chrome::browser;
use crate::console::common::*;

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
