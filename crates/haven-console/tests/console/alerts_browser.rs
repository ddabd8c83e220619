//! The DSL works alerts in real headless Chromium: the inbox, a critical alert acknowledged,
//! another closed as a false positive with a reason, and the "raise as a concern" link.

use fantoccini::Locator;
use haven_accounts::{Role, RoleSet};
use haven_store::{AlertOutcome, AlertState};

use crate::console::alerts::{Seed, at, seed};
use crate::console::chrome::browser;
use crate::console::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dsl_acknowledges_one_alert_and_closes_another_as_a_false_positive_in_chromium() {
    let app = app().await;
    app.account("dsl", RoleSet::of(&[Role::Dsl]), PASSWORD, true).await;
    let critical = seed(&app, Seed::default()).await;
    let medium = seed(&app, Seed { rule: "drugs-sites", severity: "medium", category: "drugs", terms: None, raised: at(60), ..Seed::default() }).await;
    let Some(b) = browser(&app).await else { return };
    b.sign_in("dsl", PASSWORD).await;
    b.fill("#code", &secret().code_at(app.clock_now())).await;
    b.submit("form[action='/sign-in/totp']").await;
    assert_eq!(b.text("main h1").await, "Dashboard");

    b.client.goto(&format!("{}/alerts", b.base)).await.unwrap();
    assert_eq!(b.text("main h1").await, "Alerts");
    let urgent = b.text(&format!("tr[data-id='{critical}'].urgent")).await;
    assert!(urgent.contains("Critical") && urgent.contains("needs someone now"), "{urgent}");
    b.client.find(Locator::Css(&format!("tr[data-id='{critical}'] a"))).await.unwrap().click().await.unwrap();
    assert!(b.text("main h1").await.starts_with(&format!("Alert {critical}:")));
    assert_eq!(b.text("#terms mark").await, "KILL myself");
    let concern = b.client.find(Locator::Css("#raise-concern")).await.unwrap().attr("href").await.unwrap();
    assert_eq!(concern.as_deref(), Some(format!("/records/new?alert={critical}").as_str()));
    b.submit("#acknowledge").await;
    assert!(b.text("#alert-message").await.contains("Acknowledged"));
    assert_eq!(b.text("#state").await, "Acknowledged by dsl");
    assert_eq!(app.store.alert(critical).await.unwrap().unwrap().state, AlertState::Acknowledged);

    b.client.goto(&format!("{}/alerts/{medium}", b.base)).await.unwrap();
    b.submit("#close-fp").await;
    assert!(b.text("#alert-error").await.starts_with("reason:"), "an empty reason is refused");
    b.fill("#reason-fp", "The school's own PSHE drugs-education page").await;
    b.submit("#close-fp").await;
    let outcome = b.text("#outcome").await;
    assert!(outcome.contains("Closed: False positive") && outcome.contains("PSHE drugs-education"), "{outcome}");
    let a = app.store.alert(medium).await.unwrap().unwrap();
    assert_eq!((a.outcome, a.outcome_by.as_deref()), (Some(AlertOutcome::FalsePositive), Some("dsl")));
    b.client.close().await.unwrap();
}
