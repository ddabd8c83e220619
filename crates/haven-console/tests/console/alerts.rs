//! The alert console: inbox filters, the evidence page (highlighted matched words, surrounding
//! activity, every view logged), acknowledge and outcomes with their reasons, exclusions with
//! expiry, rules edited with a reason, quality numbers from seeded outcomes, and who may see what.

use axum::http::{Method, StatusCode};
use haven_accounts::{Permission, Role, RoleSet};
use haven_activity::{Channel, Event, Flags};
use haven_store::{AlertKeyword, AlertOutcome, AlertState, NewAlert};
use jiff::Timestamp;
use serde_json::json;

use crate::console::common::*;

pub fn at(secs_after_t0: i64) -> Timestamp {
    Timestamp::from_second(T0 + secs_after_t0).unwrap()
}

pub fn event(time: Timestamp, user: &str, name: &str) -> Event {
    Event {
        time,
        channel: Channel::Proxy,
        client: "10.1.2.3".parse().unwrap(),
        device: Some("LAPTOP-07".into()),
        user: Some(user.into()),
        group: "ks3".into(),
        name: name.into(),
        qtype: "GET".into(),
        action: "allow".into(),
        category: None,
        rule: "ks3/default".into(),
        list_source: None,
        list_entry: None,
        flags: Flags::default(),
        upstream: None,
        latency_us: 900,
        web: None,
    }
}

/// What one seeded alert is.
pub struct Seed<'a> {
    pub rule: &'a str,
    pub severity: &'a str,
    pub category: &'a str,
    pub person: &'a str,
    pub group: &'a str,
    pub terms: Option<&'a str>,
    pub matched: &'a str,
    pub raised: Timestamp,
}

impl Default for Seed<'_> {
    fn default() -> Self {
        Seed {
            rule: "keyword-search",
            severity: "critical",
            category: "suicide_risk",
            person: "jo.bloggs",
            group: "ks3",
            terms: Some("skill how to KILL myself"),
            matched: "kill myself",
            raised: at(0),
        }
    }
}

/// Store an alert the way the monitor stage does, with its triggering event.
pub async fn seed(app: &App, s: Seed<'_>) -> i64 {
    let url = match s.terms {
        Some(t) => format!("https://www.google.co.uk/search?q={}", t.replace(' ', "+")),
        None => format!("http://{}.example/", s.category),
    };
    let mut ev = event(s.raised, s.person, &url);
    ev.group = s.group.into();
    let keywords: Vec<AlertKeyword> = if s.terms.is_some() {
        vec![AlertKeyword {
            term: s.matched.into(),
            matched: haven_monitor::normalise(s.matched).trim().to_owned(),
            category: s.category.into(),
            severity: s.severity.into(),
            rationale: "First-person statement of intent.".into(),
            library: "en@2026.12.1".into(),
        }]
    } else {
        Vec::new()
    };
    let subject = s.terms.map_or_else(|| format!("{}.example", s.category), |_| s.matched.to_owned());
    app.store
        .insert_alert(&NewAlert {
            raised: s.raised,
            rule: s.rule,
            title: "Searched for words in a safeguarding keyword library",
            why: "The search matched a critical entry in the English library.",
            severity: s.severity,
            category: s.category,
            person: s.person,
            group: s.group,
            subject: &subject,
            search_engine: s.terms.map(|_| "www.google.co.uk"),
            search_terms: s.terms,
            keywords: &keywords,
            events: std::slice::from_ref(&ev),
        })
        .await
        .unwrap()
}

/// A signed-in session for a new account with these roles.
pub async fn as_role(app: &App, name: &str, role: Role) -> (String, String) {
    let id = app.account(name, RoleSet::of(&[role]), PASSWORD, true).await;
    app.session(id).await
}

fn ids_in(body: &str) -> Vec<i64> {
    body.split("data-id=\"").skip(1).filter_map(|s| s.split('"').next()?.parse().ok()).collect()
}

#[tokio::test]
async fn the_inbox_filters_by_severity_state_category_and_group_and_marks_urgent_alerts() {
    let app = app().await;
    let critical = seed(&app, Seed::default()).await;
    let medium = seed(&app, Seed { rule: "bypass-repeat", severity: "medium", category: "bypass", terms: None, raised: at(60), group: "ks4", ..Seed::default() }).await;
    let high = seed(&app, Seed { rule: "self-harm-sites", severity: "high", category: "self_harm", terms: None, raised: at(120), ..Seed::default() }).await;
    app.store.acknowledge_alert(medium, "deputy", at(100)).await.unwrap();
    app.store.close_alert(high, AlertOutcome::FalsePositive, "A biology lesson", "deputy", at(200), None).await.unwrap();
    app.advance(20 * 60);
    let (cookie, _) = as_role(&app, "dsl", Role::Dsl).await;

    let all = app.get("/alerts", Some(&cookie)).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(ids_in(&all.body), [high, medium, critical], "newest first");
    // Severity is written out, and the unacknowledged critical alert carries its age.
    assert!(all.body.contains("<span class=\"sev sev-critical\">Critical</span>"), "{}", all.body);
    assert!(all.body.contains("needs someone now: unacknowledged for 20 min"), "{}", all.body);
    assert!(all.body.contains("Closed: False positive") && all.body.contains("Acknowledged by deputy"));
    assert!(all.body.contains("jo.bloggs"), "the DSL sees names");

    let get = |q: &'static str| {
        let (app, cookie) = (&app, cookie.clone());
        async move { ids_in(&app.get(&format!("/alerts?{q}"), Some(&cookie)).await.body) }
    };
    assert_eq!(get("severity=critical").await, [critical]);
    assert_eq!(get("state=open").await, [medium, critical]);
    assert_eq!(get("state=new").await, [critical]);
    assert_eq!(get("state=closed").await, [high]);
    assert_eq!(get("category=self_harm").await, [high]);
    assert_eq!(get("group=ks4").await, [medium]);
    assert_eq!(get("group=ks3&severity=medium").await, Vec::<i64>::new());
    let bad = app.get("/alerts?severity=urgent", Some(&cookie)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("severity: `urgent`"), "{}", bad.body);

    // The dashboard counts open alerts per severity for the DSL team.
    let dash = app.get("/api/v1/dashboard", None).await;
    assert_eq!(dash.status, StatusCode::UNAUTHORIZED);
    let dsl = app.store.account_by_username("dsl").await.unwrap().unwrap();
    let token = app.token(dsl.id, dsl.roles.permissions()).await;
    let counts = app.api(Method::GET, "/api/v1/dashboard", Some(&token), None).await.json()["counts"].clone();
    assert_eq!((counts["alerts_open_critical"].as_i64(), counts["alerts_unacknowledged_critical"].as_i64()), (Some(1), Some(1)));
    assert_eq!((counts["alerts_open_medium"].as_i64(), counts["alerts_unacknowledged_medium"].as_i64()), (Some(1), Some(0)));
    assert_eq!(counts["alerts_open_high"].as_i64(), Some(0), "a closed alert is not open");
}

#[tokio::test]
async fn the_detail_page_highlights_matched_words_shows_surrounding_activity_and_records_the_view() {
    let app = app().await;
    let before = event(at(-4 * 60), "jo.bloggs", "homework.example");
    let too_early = event(at(-6 * 60), "jo.bloggs", "too-early.example");
    let after = event(at(3 * 60), "jo.bloggs", "after.example");
    let someone_else = event(at(30), "sam", "someone-else.example");
    let trigger = event(at(0), "jo.bloggs", "https://www.google.co.uk/search?q=skill+how+to+KILL+myself");
    app.store.insert_batch(&[too_early, before, trigger, someone_else, after]).await.unwrap();
    let id = seed(&app, Seed::default()).await;
    let (cookie, _) = as_role(&app, "dsl", Role::Dsl).await;

    let page = app.get(&format!("/alerts/{id}"), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let terms = between(&page.body, "<dd id=\"terms\">", "</dd>").unwrap();
    assert_eq!(terms, "on www.google.co.uk: <q>skill how to <mark>KILL myself</mark></q>", "only the matched phrase is marked, not \"skill\"");
    assert!(page.body.contains("LAPTOP-07 at address 10.1.2.3"));
    assert!(page.body.contains("Mon 10 Mar 2025 09:00"), "school time");
    let around = between(&page.body, "<table id=\"surrounding\">", "</table>").unwrap();
    assert!(around.contains("homework.example") && around.contains("after.example"), "{around}");
    assert!(!around.contains("too-early.example") && !around.contains("someone-else.example"), "{around}");
    assert!(around.contains("(raised the alert)"));
    // The rule that fired, in plain English, from the default rule set.
    assert!(between(&page.body, "<p id=\"rule-words\">", "</p>").unwrap().contains("fires when a search matches any entry in the safeguarding keyword libraries"));
    assert!(page.body.contains("href=\"/records/new?alert={id}\"".replace("{id}", &id.to_string()).as_str()));

    let log: Vec<(String, String)> = app.store.alert_log(id).await.unwrap().into_iter().map(|l| (l.actor, l.action)).collect();
    assert_eq!(log.last(), Some(&("dsl".to_owned(), "viewed".to_owned())), "{log:?}");
    assert!(app.get("/alerts/99999", Some(&cookie)).await.status == StatusCode::NOT_FOUND);
}

#[test]
fn highlighting_follows_the_monitors_normalisation() {
    use haven_console::alerts::highlight;
    let marked = |t: &str, m: &str| -> Vec<String> {
        highlight(t, &[m.to_owned()]).into_iter().filter(|(_, on)| *on).map(|(s, _)| s).collect()
    };
    assert_eq!(marked("how to k1ll   mys3lf now", "kill myself"), ["k1ll   mys3lf"]);
    assert_eq!(marked("kill-my_self", "kill my self"), ["kill-my_self"]);
    assert_eq!(marked("therapist near me", "rapist"), Vec::<String>::new());
    assert_eq!(marked("myself kill", "kill myself"), Vec::<String>::new(), "a phrase only in order");
    assert_eq!(highlight("plain words", &[]), [("plain words".to_owned(), false)]);
}

#[tokio::test]
async fn acknowledging_records_who_and_when_once() {
    let app = app().await;
    let id = seed(&app, Seed::default()).await;
    let (cookie, csrf) = as_role(&app, "dsl", Role::Dsl).await;
    app.advance(90);
    let r = app.post(&format!("/alerts/{id}/acknowledge"), Some(&cookie), &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Acknowledged by dsl"));
    let a = app.store.alert(id).await.unwrap().unwrap();
    assert_eq!((a.state, a.ack_by.as_deref(), a.ack_at), (AlertState::Acknowledged, Some("dsl"), Some(at(90))));
    let again = app.post(&format!("/alerts/{id}/acknowledge"), Some(&cookie), &[("csrf_token", &csrf)]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("already acknowledged by dsl"), "{}", again.body);
    let no_csrf = app.post(&format!("/alerts/{id}/acknowledge"), Some(&cookie), &[]).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_outcome_needs_its_reason_and_a_closed_alert_stays_closed() {
    let app = app().await;
    let id = seed(&app, Seed::default()).await;
    let (cookie, csrf) = as_role(&app, "dsl", Role::Dsl).await;
    let close = |fields: Vec<(&'static str, &'static str)>| {
        let (app, cookie, csrf) = (&app, cookie.clone(), csrf.clone());
        async move {
            let mut f = vec![("csrf_token", csrf.as_str())];
            f.extend(fields);
            app.post(&format!("/alerts/{id}/close"), Some(&cookie), &f).await
        }
    };
    for (outcome, label) in [("no_further_action", "No further action"), ("false_positive", "False positive"), ("excluded", "Excluded")] {
        let r = close(vec![("outcome", outcome), ("reason", "  "), ("scope", "person"), ("until", "7d")]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{outcome}");
        assert!(r.body.contains(&format!("reason: &quot;{label}&quot; needs a reason")) || r.body.contains(&format!("reason: &#34;{label}&#34; needs a reason")), "{outcome}: {}", r.body);
    }
    let r = close(vec![("outcome", "excluded"), ("reason", "Project"), ("scope", "person"), ("until", "")]).await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("until: an exclusion must end"), "{}", r.body);
    let r = close(vec![("outcome", "excluded"), ("reason", "Project"), ("scope", "school"), ("until", "7d")]).await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("scope: `school`"), "{}", r.body);
    let r = close(vec![("outcome", "concern"), ("reason", "x")]).await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains(&format!("/records/new?alert={id}")), "{}", r.body);
    let r = close(vec![("reason", "x")]).await;
    assert!(r.body.contains("outcome: choose"), "{}", r.body);
    assert_eq!(app.store.alert(id).await.unwrap().unwrap().state, AlertState::New, "nothing closed without a valid outcome");
    assert!(app.store.active_exclusions(app.clock_now()).await.unwrap().is_empty(), "no exclusion from a refused close");

    let r = close(vec![("outcome", "no_further_action"), ("reason", "Researching for an RE lesson on grief")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(between(&r.body, "<p id=\"outcome\">", "</p>").unwrap().contains("Closed: No further action, by dsl"));
    assert!(!r.body.contains("id=\"raise-concern\""), "no actions on a closed alert");
    let a = app.store.alert(id).await.unwrap().unwrap();
    assert_eq!((a.outcome, a.outcome_reason.as_deref()), (Some(AlertOutcome::NoFurtherAction), Some("Researching for an RE lesson on grief")));
    let again = close(vec![("outcome", "false_positive"), ("reason", "Changed my mind")]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("an outcome cannot be changed"), "{}", again.body);
    assert_eq!(app.store.alert(id).await.unwrap().unwrap().outcome, Some(AlertOutcome::NoFurtherAction));
}

#[tokio::test]
async fn an_exclusion_with_expiry_is_stored_applies_by_scope_and_is_listed_until_it_ends() {
    let app = app().await;
    let id = seed(&app, Seed { terms: None, rule: "drugs-sites", category: "drugs", severity: "medium", ..Seed::default() }).await;
    let (cookie, csrf) = as_role(&app, "dsl", Role::Dsl).await;
    let r = app
        .post(&format!("/alerts/{id}/close"), Some(&cookie), &[("csrf_token", &csrf), ("outcome", "excluded"), ("scope", "subject"), ("until", "7d"), ("reason", "Drugs-education project this week")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let x = app.store.active_exclusions(app.clock_now()).await.unwrap();
    assert_eq!(x.len(), 1);
    assert_eq!((x[0].person.as_deref(), x[0].rule.as_deref(), x[0].subject.as_deref()), (None, None, Some("drugs.example")));
    assert_eq!((x[0].until, x[0].from_alert, x[0].created_by.as_str()), (at(7 * 86_400), Some(id), "dsl"));
    assert_eq!(app.store.alert(id).await.unwrap().unwrap().outcome, Some(AlertOutcome::Excluded));

    let list = app.get("/alerts/exclusions", Some(&cookie)).await;
    let row = between(&list.body, &format!("<tr data-id=\"{}\">", x[0].id), "</tr>").unwrap();
    assert!(row.contains("site or search drugs.example") && row.contains("In force") && row.contains("Drugs-education project"), "{row}");
    assert!(row.contains("Mon 17 Mar 2025 09:00"), "{row}");
    app.advance(8 * 86_400);
    let dsl = app.store.account_by_username("dsl").await.unwrap().unwrap();
    let (cookie, csrf) = app.session(dsl.id).await;
    let list = app.get("/alerts/exclusions", Some(&cookie)).await;
    assert!(between(&list.body, &format!("<tr data-id=\"{}\">", x[0].id), "</tr>").unwrap().contains("Ended"), "an ended exclusion is still listed");

    // A date works too, and a person-scoped exclusion names the person only to those who may see names.
    let second = seed(&app, Seed { raised: app.clock_now(), ..Seed::default() }).await;
    let r = app
        .post(&format!("/alerts/{second}/close"), Some(&cookie), &[("csrf_token", &csrf), ("outcome", "excluded"), ("scope", "person"), ("until", "2025-04-30"), ("reason", "Known to CAMHS; alerts go to the keyworker")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let x = app.store.active_exclusions(app.clock_now()).await.unwrap();
    assert_eq!((x[0].person.as_deref(), x[0].until), (Some("jo.bloggs"), "2025-04-29T23:00:00Z".parse().unwrap()));
    let narrow = app.token(dsl.id, haven_accounts::role::PermissionSet::of(&[Permission::ManageAlerts])).await;
    let api = app.api(Method::GET, "/api/v1/alerts/exclusions", Some(&narrow), None).await.json();
    assert_eq!(api["exclusions"][0]["scope"], "person a pupil (name hidden)");
    assert_eq!(api["exclusions"][1]["active"], false);
}

#[tokio::test]
async fn rule_edits_need_a_reason_name_the_bad_line_and_are_logged() {
    let app = app().await;
    let (cookie, csrf) = as_role(&app, "dsl", Role::Dsl).await;
    let page = app.get("/alerts/rules", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("These are Haven's default rules"));
    assert!(page.body.contains("only once the same person has done so 5 times within 10m"), "plain English for the repeat rule");
    let text = "id=illegal-floor; when=flag:illegal; severity=critical; title=Tried to reach illegal content\n\
                id=drugs; when=category:drugs; severity=high; title=Tried to reach a drugs site\n";

    let r = app.post("/alerts/rules", Some(&cookie), &[("csrf_token", &csrf), ("text", text), ("reason", " ")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("reason: every change to the alert rules needs a reason"), "{}", r.body);
    let bad = text.replace("severity=high", "severity=urgent");
    let r = app.post("/alerts/rules", Some(&cookie), &[("csrf_token", &csrf), ("text", &bad), ("reason", "Drugs matter more")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("rules line 2: field `severity`: expected critical, high, medium, low or digest"), "{}", r.body);
    assert!(r.body.contains("severity=urgent"), "the typed text is kept for correction");
    assert!(app.store.rule_changes(10).await.unwrap().is_empty(), "nothing saved");

    let r = app.post("/alerts/rules", Some(&cookie), &[("csrf_token", &csrf), ("text", text), ("reason", "Drugs matter more this term")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Saved: 2 rules in force"));
    let log = app.store.rule_changes(10).await.unwrap();
    assert_eq!((log.len(), log[0].actor.as_str(), log[0].reason.as_str()), (1, "dsl", "Drugs matter more this term"));
    assert!(log[0].before.contains("bypass-repeat") && log[0].after == text);
    assert!(r.body.contains("Drugs matter more this term"), "the change log is on the page");

    // One rule switched off with the per-rule controls.
    let r = app.post("/alerts/rules", Some(&cookie), &[("csrf_token", &csrf), ("rule", "drugs"), ("severity", "medium"), ("reason", "Too noisy")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(app.store.current_rules().await.unwrap().unwrap().contains("id=drugs; when=category:drugs; severity=medium; enabled=false"));
    assert!(r.body.contains("This rule is switched off"));

    // The API: the same checks.
    let dsl = app.store.account_by_username("dsl").await.unwrap().unwrap();
    let token = app.token(dsl.id, dsl.roles.permissions()).await;
    let r = app.api(Method::PUT, "/api/v1/alerts/rules", Some(&token), Some(json!({ "text": text }))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("reason:"));
    let r = app.api(Method::PUT, "/api/v1/alerts/rules", Some(&token), Some(json!({ "text": "id=x; when=flag:bypass\n", "reason": "Test" }))).await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("line 1: field `severity`"), "{}", r.body);
    let r = app.api(Method::PUT, "/api/v1/alerts/rules", Some(&token), Some(json!({ "text": text, "reason": "Back on" }))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let got = app.api(Method::GET, "/api/v1/alerts/rules", Some(&token), None).await.json();
    assert_eq!((got["defaults"].as_bool(), got["rules"].as_array().unwrap().len(), got["changes"][0]["reason"].as_str()), (Some(false), 2, Some("Back on")));
}

#[tokio::test]
async fn governors_see_counts_and_quality_but_no_names() {
    let app = app().await;
    let id = seed(&app, Seed::default()).await;
    let (cookie, _) = as_role(&app, "gov", Role::Governor).await;
    let dash = app.get("/", Some(&cookie)).await;
    assert!(dash.body.contains("open critical alerts"), "{}", dash.body);
    assert!(!dash.body.contains("jo.bloggs"));
    assert_eq!(app.get("/alerts", Some(&cookie)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&format!("/alerts/{id}"), Some(&cookie)).await.status, StatusCode::FORBIDDEN);
    let q = app.get("/alerts/quality", Some(&cookie)).await;
    assert_eq!(q.status, StatusCode::OK);
    assert!(q.body.contains("keyword-search") && !q.body.contains("jo.bloggs"));
    assert!(app.store.alert_log(id).await.unwrap().iter().all(|l| l.action != "viewed"), "no view was recorded because none happened");
}

#[tokio::test]
async fn the_it_admin_cannot_see_pupil_evidence_or_alert_counts() {
    let app = app().await;
    let id = seed(&app, Seed::default()).await;
    let (cookie, csrf) = as_role(&app, "it", Role::ItAdmin).await;
    for path in ["/alerts".to_owned(), format!("/alerts/{id}"), "/alerts/rules".into(), "/alerts/exclusions".into(), "/alerts/quality".into()] {
        assert_eq!(app.get(&path, Some(&cookie)).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.post(&format!("/alerts/{id}/acknowledge"), Some(&cookie), &[("csrf_token", &csrf)]).await.status, StatusCode::FORBIDDEN);
    assert!(!app.get("/", Some(&cookie)).await.body.contains("alerts"), "no alert counts for the IT admin");
    let it = app.store.account_by_username("it").await.unwrap().unwrap();
    let token = app.token(it.id, it.roles.permissions()).await;
    assert_eq!(app.api(Method::GET, &format!("/api/v1/alerts/{id}"), Some(&token), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.alert(id).await.unwrap().unwrap().state, AlertState::New);
}

#[tokio::test]
async fn quality_numbers_come_from_the_recorded_outcomes() {
    let app = app().await;
    // Five alerts on two rules, acknowledged after 1, 2, 3, 4 and 10 minutes; outcomes after
    // 5, 6, 7 and 20 minutes (one still open).
    let min = 60;
    let mut ids = Vec::new();
    for (i, (rule, category, severity)) in [
        ("keyword-search", "suicide_risk", "critical"),
        ("keyword-search", "suicide_risk", "critical"),
        ("keyword-search", "bullying", "medium"),
        ("bypass-repeat", "bypass", "medium"),
        ("bypass-repeat", "bypass", "critical"),
    ]
    .into_iter()
    .enumerate()
    {
        let raised = at(i as i64 * 3600);
        ids.push((seed(&app, Seed { rule, category, severity, raised, ..Seed::default() }).await, raised));
    }
    let after = |raised: Timestamp, mins: i64| raised.checked_add(jiff::SignedDuration::from_secs(mins * min)).unwrap();
    for ((id, raised), ack) in ids.iter().zip([1, 2, 3, 4, 10]) {
        app.store.acknowledge_alert(*id, "dsl", after(*raised, ack)).await.unwrap();
    }
    let outcomes = [(AlertOutcome::Concern, 5), (AlertOutcome::NoFurtherAction, 6), (AlertOutcome::FalsePositive, 7), (AlertOutcome::FalsePositive, 20)];
    for ((id, raised), (o, mins)) in ids.iter().zip(outcomes) {
        app.store.close_alert(*id, o, "Looked into it", "dsl", after(*raised, mins), None).await.unwrap();
    }
    app.advance(10 * 3600);
    let (cookie, _) = as_role(&app, "gov", Role::Governor).await;
    let gov = app.store.account_by_username("gov").await.unwrap().unwrap();
    let token = app.token(gov.id, gov.roles.permissions()).await;
    let q = app.api(Method::GET, "/api/v1/alerts/quality", Some(&token), None).await.json();
    // Nearest rank: median of [1,2,3,4,10] min is 3 min, p90 is 10 min; of [5,6,7,20], 6 and 20.
    assert_eq!(q["time_to_acknowledge"], json!({ "median_ms": 3 * 60_000, "p90_ms": 10 * 60_000 }));
    assert_eq!(q["time_to_outcome"], json!({ "median_ms": 6 * 60_000, "p90_ms": 20 * 60_000 }));
    assert_eq!(q["acted_on"].as_f64(), Some(0.5), "2 of 4 closed were acted on");
    let rule = |k: &str| q["by_rule"].as_array().unwrap().iter().find(|r| r["key"] == k).unwrap().clone();
    assert_eq!((rule("keyword-search")["closed"].as_u64(), rule("keyword-search")["false_positives"].as_u64()), (Some(3), Some(1)));
    assert!((rule("keyword-search")["precision"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!((rule("bypass-repeat")["closed"].as_u64(), rule("bypass-repeat")["precision"].as_f64()), (Some(1), Some(0.0)));
    // Critical alerts: acknowledged after 1, 2 and 10 minutes, so 2 of 3 within five minutes.
    assert_eq!((q["critical_due"].as_u64(), q["critical_acknowledged_within_5_min"].as_u64()), (Some(3), Some(2)));

    let page = app.get("/alerts/quality", Some(&cookie)).await;
    assert!(page.body.contains("median 3 min 0 s, 90th percentile 10 min 0 s"), "{}", page.body);
    assert!(page.body.contains("median 6 min 0 s, 90th percentile 20 min 0 s"));
    assert!(between(&page.body, "<dd id=\"critical\">", "</dd>").unwrap() == "2 of 3");
    assert!(between(&page.body, "<dd id=\"acted-on\">", "</dd>").unwrap().starts_with("50 %"));
}

#[tokio::test]
async fn the_api_lists_gets_acknowledges_and_closes_and_hides_names_without_people_read() {
    let app = app().await;
    let id = seed(&app, Seed::default()).await;
    let dsl = app.account("dsl", RoleSet::of(&[Role::Dsl]), PASSWORD, true).await;
    let token = app.token(dsl, RoleSet::of(&[Role::Dsl]).permissions()).await;
    let list = app.api(Method::GET, "/api/v1/alerts?state=new", Some(&token), None).await.json();
    assert_eq!((list["alerts"][0]["id"].as_i64(), list["alerts"][0]["person"].as_str()), (Some(id), Some("jo.bloggs")));
    let one = app.api(Method::GET, &format!("/api/v1/alerts/{id}"), Some(&token), None).await.json();
    assert_eq!(one["keywords"][0]["term"], "kill myself");
    assert_eq!(one["events"][0]["name"], "https://www.google.co.uk/search?q=skill+how+to+KILL+myself");
    assert_eq!(app.store.alert_log(id).await.unwrap().last().map(|l| (l.action.clone(), l.detail.clone())), Some(("viewed".into(), "api".into())));
    let acked = app.api(Method::POST, &format!("/api/v1/alerts/{id}/acknowledge"), Some(&token), None).await;
    assert_eq!((acked.status, acked.json()["acknowledged_by"].as_str().map(str::to_owned)), (StatusCode::OK, Some("dsl".to_owned())));
    assert_eq!(app.api(Method::POST, &format!("/api/v1/alerts/{id}/acknowledge"), Some(&token), None).await.status, StatusCode::CONFLICT);
    let r = app.api(Method::POST, &format!("/api/v1/alerts/{id}/close"), Some(&token), Some(json!({ "outcome": "false_positive" }))).await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.json()["error"].as_str().unwrap_or_default().starts_with("reason:"), "{}", r.body);
    let r = app.api(Method::POST, &format!("/api/v1/alerts/{id}/close"), Some(&token), Some(json!({ "outcome": "false_positive", "reason": "A song lyric" }))).await;
    assert_eq!((r.status, r.json()["outcome"].as_str().map(str::to_owned)), (StatusCode::OK, Some("false_positive".to_owned())));

    // A token scoped to alerts only: no names, no surrounding activity.
    let narrow = app.token(dsl, haven_accounts::role::PermissionSet::of(&[Permission::ManageAlerts])).await;
    let one = app.api(Method::GET, &format!("/api/v1/alerts/{id}"), Some(&narrow), None).await.json();
    assert_eq!(one["person"], "a pupil (name hidden)");
    assert!(one.get("surrounding").is_none() && one.get("events").is_none());
}
