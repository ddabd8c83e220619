//! Safeguarding records in headless Chromium at the phone viewport (420 px): a teacher logs a
//! concern with a body-map mark, the DSL triages, acts, refers and closes it and then sees
//! their own view in the child's access log, and a pupil's anonymous worry reaches the inbox.

use std::time::Duration;

use fantoccini::Locator;
use fantoccini::actions::InputSource;
use haven_accounts::{Role, RoleSet};

use crate::console::chrome::{Browser, browser};
use crate::console::common::*;
use crate::console::records::{concern, log, pupils};

async fn click(b: &Browser, css: &str) {
    let e = b.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    e.click().await.unwrap_or_else(|e| panic!("{css}: {e}"));
}

/// Wait until the element's text contains `want` (a form post's new page has loaded).
async fn wait_text(b: &Browser, css: &str, want: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = b.text(css).await;
        if last.contains(want) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: wanted {want:?}, last saw {last:?}");
}

async fn dsl_sign_in(app: &App, b: &Browser) {
    b.sign_in("dsl", PASSWORD).await;
    b.fill("#code", &secret().code_at(app.clock_now())).await;
    b.submit("form[action='/sign-in/totp']").await;
    assert_eq!(b.text("main h1").await, "Dashboard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teacher_logs_a_concern_with_a_body_map_mark_on_a_phone() {
    let app = app().await;
    let p = pupils(&app, &[("Jo", "Smith", "7JS")]).await;
    app.account("teacher", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
    let Some(b) = browser(&app).await else { return };
    b.sign_in("teacher", PASSWORD).await;
    assert_eq!(b.text("main h1").await, "Dashboard");
    click(&b, "#dashboard-log-concern").await;
    assert_eq!(b.text("main h1").await, "Log a concern");
    // The harness asks for a 420 px window; headless Chromium may widen it a little (its
    // minimum window width), so what is checked is that nothing overflows sideways.
    let width: i64 = b.client.execute("return document.documentElement.clientWidth", vec![]).await.unwrap().as_i64().unwrap();
    assert!(width < 600, "narrow viewport: {width}");
    let overflow: bool = b.client.execute("return document.documentElement.scrollWidth > document.documentElement.clientWidth", vec![]).await.unwrap().as_bool().unwrap();
    assert!(!overflow, "the form fits the phone's width");
    b.fill("#pupil", &p[0].1).await;
    click(&b, "#category option[value=physical_abuse]").await;
    assert!(b.text("#category-guidance .guide[data-key=physical_abuse]").await.contains("body map"), "the chosen category's guidance shows");
    b.fill("#account", "Jo had a bruise on her upper arm and said she fell.").await;
    b.fill("#immediate_action", "Told the DSL at once.").await;
    click(&b, "#dsl_told option[value=yes]").await;
    // A tap on the front outline, 60 px across and 80 px down of 120 x 260.
    let img = b.client.find(Locator::Css("img.bodymap-outline[data-view=front]")).await.unwrap();
    b.client
        .execute("arguments[0].scrollIntoView({block: 'center'});", vec![serde_json::to_value(&img).unwrap()])
        .await
        .unwrap();
    let actions = fantoccini::actions::MouseActions::new("mouse".into())
        .then(fantoccini::actions::PointerAction::MoveToElement { element: img.clone(), duration: None, x: 0.0, y: -50.0 })
        .then(fantoccini::actions::PointerAction::Down { button: fantoccini::actions::MOUSE_BUTTON_LEFT })
        .then(fantoccini::actions::PointerAction::Up { button: fantoccini::actions::MOUSE_BUTTON_LEFT });
    b.client.perform_actions(actions).await.unwrap();
    let x = b.client.find(Locator::Css("#mark_x_1")).await.unwrap().prop("value").await.unwrap().unwrap_or_default();
    let y = b.client.find(Locator::Css("#mark_y_1")).await.unwrap().prop("value").await.unwrap().unwrap_or_default();
    let (x, y): (i64, i64) = (x.parse().unwrap(), y.parse().unwrap());
    assert!((450..=550).contains(&x) && (250..=370).contains(&y), "the tap lands near the middle of the chest: {x},{y}");
    assert!(b.client.find(Locator::Css(".bodymap-dot")).await.is_ok(), "a dot marks the tap");
    b.fill("#mark_desc_1", "Purple bruise, thumb-sized").await;
    b.fill("#mark_size_1", "25").await;
    b.submit("#concern-form").await;
    wait_text(&b, "#record-notice", "Concern saved").await;
    let entries = b.text("#entries").await;
    assert!(entries.contains("Body map mark 1") && entries.contains("Purple bruise, thumb-sized") && entries.contains("25 mm"), "{entries}");
    let s = app.store.record_list(1, None, false, 10).await.unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].pupil_id, Some(p[0].0));
    let body = &app.store.record_entries(&s[0].record_id).await.unwrap()[0].body;
    assert!(body.contains("\"view\":\"front\"") && body.contains(&format!("\"x\":{x}")), "{body}");
    b.client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dsl_triages_acts_refers_and_closes_then_sees_their_view_in_the_access_log() {
    let app = app().await;
    let p = pupils(&app, &[("Jo", "Smith", "7JS")]).await;
    let teacher = app.account("teacher", RoleSet::of(&[Role::Staff]), PASSWORD, false).await;
    let (t_cookie, t_csrf) = app.session(teacher).await;
    let id = log(&app, &t_cookie, &concern(&t_csrf, &p[0].1, &[])).await;
    app.account("dsl", RoleSet::of(&[Role::Dsl]), PASSWORD, true).await;
    let Some(b) = browser(&app).await else { return };
    dsl_sign_in(&app, &b).await;
    assert!(b.text("#concern-notices").await.contains("raised a concern: Neglect"));
    click(&b, "#concern-notices a").await;
    assert!(b.text("#entries").await.contains("third day running"));
    b.client.execute("document.querySelectorAll('details').forEach(function (d) { d.open = true; });", vec![]).await.unwrap();
    click(&b, "#risk option[value=high]").await;
    click(&b, "#owner option:nth-child(2)").await;
    b.submit("#form-triage").await;
    wait_text(&b, "#record-risk", "High").await;
    b.client.execute("document.querySelectorAll('details').forEach(function (d) { d.open = true; });", vec![]).await.unwrap();
    b.fill("#description", "Phone Mum about breakfast").await;
    b.fill("#owner_name", "dsl").await;
    b.client.execute("document.getElementById('due').value = '2025-03-12';", vec![]).await.unwrap();
    b.submit("#form-action").await;
    wait_text(&b, "#record-notice", "Action added").await;
    assert!(b.text("#actions").await.contains("Phone Mum about breakfast"));
    b.client.execute("document.querySelectorAll('details').forEach(function (d) { d.open = true; });", vec![]).await.unwrap();
    click(&b, "#agency option[value=early_help]").await;
    b.fill("#reference", "EH-2025-77").await;
    b.fill("#consent", "Mum knows and agreed").await;
    b.submit("#form-referral").await;
    wait_text(&b, "#record-status", "Referred").await;
    b.client.execute("document.querySelectorAll('details').forEach(function (d) { d.open = true; });", vec![]).await.unwrap();
    click(&b, "#outcome option[value=early_help]").await;
    b.fill("#closure_reason", "Early Help plan agreed").await;
    b.submit("#form-closure").await;
    wait_text(&b, "#record-status", "Closed").await;
    let entries = b.text("#entries").await;
    for kind in ["Concern", "Triage", "Action", "Referral", "Closure", "EH-2025-77"] {
        assert!(entries.contains(kind), "{kind} in {entries}");
    }
    b.client.goto(&format!("{}/records/pupil/{}/access", b.base, p[0].0)).await.unwrap();
    let log = b.text("#access-log tbody").await;
    assert!(log.lines().any(|l| l.contains("dsl") && l.contains("view") && l.contains(&id)), "{log}");
    b.client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pupil_sends_a_worry_anonymously_and_it_reaches_the_dsl_inbox() {
    let app = app().await;
    app.account("dsl", RoleSet::of(&[Role::Dsl]), PASSWORD, true).await;
    let Some(b) = browser(&app).await else { return };
    b.client.goto(&format!("{}/worry", b.base)).await.unwrap();
    assert_eq!(b.text("main h1").await, "Tell someone you are worried");
    b.fill("#worry", "A big boy takes my lunch every day").await;
    b.submit("#form-worry").await;
    wait_text(&b, "#worry-sent", "You did the right thing").await;
    dsl_sign_in(&app, &b).await;
    b.client.goto(&format!("{}/records", b.base)).await.unwrap();
    let inbox = b.text("#records tbody").await;
    assert!(inbox.contains("Worry sent by a pupil") && inbox.contains("A pupil (anonymous)") && inbox.contains("new"), "{inbox}");
    click(&b, "#records tbody a").await;
    assert!(b.text("#entries").await.contains("A big boy takes my lunch every day"));
    // Esc hides the page and goes to the neutral page.
    b.client.execute("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}));", vec![]).await.unwrap();
    for _ in 0..50 {
        if b.path().await == "/blank" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(b.path().await, "/blank");
    b.client.close().await.unwrap();
}
