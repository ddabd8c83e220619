//! Safeguarding records through the router: each form's validation names the field, and the
//! access rules hold (staff see only their own, IT admin no content, governors counts only,
//! allegations for named users and never their subject), with every view, search and print in
//! the records access log.

use axum::http::StatusCode;
use haven_accounts::people::{Person, PersonKind};
use haven_accounts::{Role, RoleSet};

use haven_activity::EventSink;

use crate::console::common::*;

/// Pupils in the directory: (id, picker label) for each name given.
pub async fn pupils(app: &App, names: &[(&str, &str, &str)]) -> Vec<(i64, String)> {
    let people: Vec<Person> = names
        .iter()
        .enumerate()
        .map(|(i, (given, family, group))| Person {
            kind: PersonKind::Pupil,
            key: format!("A12345678901{i}"),
            given_name: (*given).into(),
            family_name: (*family).into(),
            year_group: Some(7),
            tutor_group: Some((*group).into()),
            date_of_birth: Some("2014-05-01".into()),
            upn: Some(format!("A12345678901{i}")),
            email: Some(format!("{}.{}@pupils.school.example", given.to_lowercase(), family.to_lowercase())),
            job_title: None,
            roles: None,
            filter_group: "ks3".into(),
        })
        .collect();
    let plan = app.store.plan_people_import(&people, &[PersonKind::Pupil]).await.unwrap();
    app.store.apply_people_import(&plan, "test", now()).await.unwrap();
    let all = app.store.people(&haven_store::PeopleQuery::default()).await.unwrap();
    names
        .iter()
        .map(|(g, f, group)| {
            let r = all.iter().find(|r| r.person.given_name == *g && r.person.family_name == *f).unwrap();
            (r.id, format!("{g} {f} ({group}) [{}]", r.id))
        })
        .collect()
}

/// A complete concern form about `pupil`, with `extra` fields replacing or adding to it.
pub fn concern<'a>(csrf: &'a str, pupil: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("csrf_token", csrf),
        ("record_kind", "concern"),
        ("occurred", "2025-03-10T08:30"),
        ("pupil", pupil),
        ("category", "neglect"),
        ("source", "staff_observation"),
        ("account", "Jo arrived without a coat for the third day running and said she had not eaten breakfast."),
        ("opinion", "I think this is a pattern."),
        ("immediate_action", "Gave Jo breakfast club toast."),
        ("told", "Form tutor at 08:45"),
        ("dsl_told", "yes"),
        ("dsl_told_name", "Dee Ess"),
    ];
    for (k, v) in extra {
        f.retain(|(kk, _)| kk != k);
        f.push((k, v));
    }
    f
}

/// Post a concern; the new record's id (from the redirect).
pub async fn log(app: &App, cookie: &str, fields: &[(&str, &str)]) -> String {
    let r = app.post("/records/new", Some(cookie), fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.location().unwrap().to_owned();
    loc.trim_start_matches("/records/").trim_end_matches("?saved=1").to_owned()
}

async fn staff(app: &App, name: &str, roles: &[Role], totp: bool) -> (i64, String, String) {
    let id = app.account(name, RoleSet::of(roles), PASSWORD, totp).await;
    let (cookie, csrf) = app.session(id).await;
    (id, cookie, csrf)
}

#[tokio::test]
async fn the_concern_form_names_the_field_that_is_wrong() {
    let app = app().await;
    let p = pupils(&app, &[("Jo", "Smith", "7JS"), ("Sam", "Jones", "7AB")]).await;
    let (_, cookie, csrf) = staff(&app, "teacher", &[Role::Staff], false).await;
    let form = app.get("/records/new", Some(&cookie)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(&p[0].1), "the pupil picker lists the pupils");
    assert!(form.body.contains("Mandatory reporting duty"), "the FGM banner is in the guidance");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("account", "")], "account:"),
        (&[("pupil", "")], "pupil:"),
        (&[("pupil", "Nobody Here")], "pupil:"),
        (&[("category", "")], "category:"),
        (&[("occurred", "")], "occurred:"),
        (&[("occurred", "2030-01-01T09:00")], "occurred: that time is in the future"),
        (&[("immediate_action", "")], "immediate_action:"),
        (&[("dsl_told", "")], "dsl_told:"),
        (&[("source", "disclosure")], "child_words:"),
        (&[("other_pupil_1", &p[1].1)], "other_role_1:"),
        (&[("mark_view_1", "front"), ("mark_x_1", "400"), ("mark_y_1", "300")], "mark_desc_1:"),
        (&[("mark_view_1", "front"), ("mark_x_1", "4000"), ("mark_y_1", "300"), ("mark_desc_1", "bruise")], "mark_x_1:"),
        (&[("record_kind", "staff_allegation"), ("subject_staff", "")], "subject_staff:"),
    ];
    for (extra, expect) in cases {
        let r = app.post("/records/new", Some(&cookie), &concern(&csrf, &p[0].1, extra)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{extra:?}");
        assert!(r.body.contains(expect), "{extra:?}: expected {expect:?} in {}", crate::console::common::between(&r.body, "role=\"alert\"", "</div>").unwrap_or_default());
    }
    // The form keeps what was typed.
    let r = app.post("/records/new", Some(&cookie), &concern(&csrf, &p[0].1, &[("immediate_action", "")])).await;
    assert!(r.body.contains("third day running"));
    assert!(app.store.record_list(1, None, false, 10).await.unwrap().is_empty(), "nothing was saved");
}

#[tokio::test]
async fn staff_see_the_concerns_they_wrote_and_nobody_elses() {
    let app = app().await;
    let p = pupils(&app, &[("Jo", "Smith", "7JS"), ("Sam", "Jones", "7AB")]).await;
    let (_, a_cookie, a_csrf) = staff(&app, "teacher-a", &[Role::Staff], false).await;
    let (_, b_cookie, _) = staff(&app, "teacher-b", &[Role::Staff], false).await;
    let marks = [("mark_view_1", "back"), ("mark_x_1", "500"), ("mark_y_1", "350"), ("mark_size_1", "20"), ("mark_desc_1", "yellow bruise"), ("other_pupil_1", p[1].1.as_str()), ("other_role_1", "witness")];
    let id = log(&app, &a_cookie, &concern(&a_csrf, &p[0].1, &marks)).await;
    let own = app.get(&format!("/records/{id}"), Some(&a_cookie)).await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(own.body.contains("third day running") && own.body.contains("yellow bruise") && own.body.contains("Sam Jones (Witness)"), "{}", own.body);
    assert!(app.get("/records/mine", Some(&a_cookie)).await.body.contains(&id));
    let other = app.get(&format!("/records/{id}"), Some(&b_cookie)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert!(!other.body.contains("third day running"));
    assert!(!app.get("/records/mine", Some(&b_cookie)).await.body.contains(&id));
    assert_eq!(app.get("/records", Some(&b_cookie)).await.status, StatusCode::FORBIDDEN, "staff have no inbox");
    assert_eq!(app.get("/records/search?q=Jo", Some(&b_cookie)).await.status, StatusCode::FORBIDDEN, "staff cannot search");
    // The pupil is linked with the subject role, the witness with theirs.
    let linked = app.store.record_pupils(&id).await.unwrap();
    assert_eq!(linked, vec![(p[0].0, "subject".to_owned()), (p[1].0, "witness".to_owned())]);
}

#[tokio::test]
async fn it_admin_cannot_read_concern_content_and_governors_get_counts_only() {
    let app = app().await;
    let p = pupils(&app, &[("Jo", "Smith", "7JS")]).await;
    let (_, t_cookie, t_csrf) = staff(&app, "teacher", &[Role::Staff], false).await;
    let id = log(&app, &t_cookie, &concern(&t_csrf, &p[0].1, &[])).await;
    let (_, it_cookie, _) = staff(&app, "itadmin", &[Role::ItAdmin], true).await;
    let r = app.get(&format!("/records/{id}"), Some(&it_cookie)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains("third day running") && !r.body.contains("Jo Smith"));
    assert_eq!(app.get("/records", Some(&it_cookie)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&format!("/records/pupil/{}", p[0].0), Some(&it_cookie)).await.status, StatusCode::FORBIDDEN);
    let (_, g_cookie, _) = staff(&app, "governor", &[Role::Governor], false).await;
    let dash = app.get("/", Some(&g_cookie)).await;
    assert!(dash.body.contains("<span class=\"value\">1</span> <span class=\"label\">open safeguarding records</span>"), "{}", dash.body);
    assert!(!dash.body.contains("Jo Smith") && !dash.body.contains("teacher raised"), "no names on a governor's dashboard");
    for path in [format!("/records/{id}"), "/records".into(), "/records/new".into(), format!("/records/pupil/{}", p[0].0)] {
        assert_eq!(app.get(&path, Some(&g_cookie)).await.status, StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn a_staff_allegation_is_seen_by_named_users_only_and_never_by_its_subject() {
    let app = app().await;
    let (subject, s_cookie, _) = staff(&app, "mr-x", &[Role::Dsl], true).await;
    let (_, t_cookie, t_csrf) = staff(&app, "teacher", &[Role::Staff], false).await;
    let (_, n_cookie, _) = staff(&app, "deputy", &[Role::DeputyDsl], true).await;
    let (_, o_cookie, _) = staff(&app, "other-dsl", &[Role::Dsl], true).await;
    let (_, h_cookie, _) = staff(&app, "head", &[Role::Headteacher], true).await;
    let refused = app
        .post("/records/new", Some(&t_cookie), &concern(&t_csrf, "", &[("record_kind", "staff_allegation"), ("subject_staff", "mr-x"), ("named", "mr-x"), ("category", "staff_conduct")]))
        .await;
    assert!(refused.body.contains("named: the adult the allegation is about can never be named"), "{}", refused.body);
    let id = log(&app, &t_cookie, &concern(&t_csrf, "", &[("record_kind", "staff_allegation"), ("subject_staff", "mr-x"), ("named", "deputy"), ("category", "staff_conduct")])).await;
    let s = app.store.record_summary(&id, None).await.unwrap().unwrap();
    assert_eq!((s.record_type.as_str(), s.subject_account), ("staff_allegation", Some(subject)));
    for (who, cookie, sees) in [("named deputy", &n_cookie, true), ("headteacher", &h_cookie, true), ("author", &t_cookie, true), ("unnamed DSL", &o_cookie, false), ("subject", &s_cookie, false)] {
        let r = app.get(&format!("/records/{id}"), Some(cookie)).await;
        assert_eq!(r.status == StatusCode::OK, sees, "{who}: {}", r.status);
        assert_eq!(r.body.contains("third day running"), sees, "{who}");
    }
    for (who, cookie) in [("subject", &s_cookie), ("unnamed DSL", &o_cookie)] {
        let inbox = app.get("/records", Some(cookie)).await;
        assert!(!inbox.body.contains(&id), "{who}'s inbox must not list it");
        assert!(!app.get("/", Some(cookie)).await.body.contains(&id), "{who}'s dashboard must not list it");
    }
    assert!(app.get("/records", Some(&n_cookie)).await.body.contains(&id));
}

#[tokio::test]
async fn the_dsl_works_a_record_with_entries_that_each_need_their_fields() {
    let app = app().await;
    let p = pupils(&app, &[("Jo", "Smith", "7JS")]).await;
    let (_, t_cookie, t_csrf) = staff(&app, "teacher", &[Role::Staff], false).await;
    let id = log(&app, &t_cookie, &concern(&t_csrf, &p[0].1, &[])).await;
    let (dsl, d_cookie, d_csrf) = staff(&app, "dsl", &[Role::Dsl], true).await;
    let dash = app.get("/", Some(&d_cookie)).await;
    assert!(dash.body.contains("teacher, Teacher / staff raised a concern: Neglect") && !dash.body.contains("Jo Smith"), "notice without content: {}", dash.body);
    let inbox = app.get("/records", Some(&d_cookie)).await;
    assert!(inbox.body.contains("class=\"unread unacknowledged\"") && inbox.body.contains(">new</strong>"), "{}", inbox.body);
    let path = format!("/records/{id}/entries");
    let owner = dsl.to_string();
    let bad: &[(&[(&str, &str)], &str)] = &[
        (&[("kind", "triage"), ("owner", &owner)], "risk:"),
        (&[("kind", "triage"), ("risk", "high")], "owner:"),
        (&[("kind", "action"), ("description", "Call home"), ("owner_name", "Dee")], "due:"),
        (&[("kind", "action"), ("description", "Call home"), ("owner_name", "Dee"), ("due", "soon")], "due: `soon`"),
        (&[("kind", "referral"), ("consent", "yes")], "agency:"),
        (&[("kind", "referral"), ("agency", "mash")], "consent:"),
        (&[("kind", "parents_informed"), ("informed", "no")], "why_not:"),
        (&[("kind", "decision"), ("decision", "Monitor")], "reason: a decision needs its reason"),
        (&[("kind", "closure"), ("reason", "done")], "outcome:"),
        (&[("kind", "closure"), ("outcome", "nfa")], "reason:"),
        (&[("kind", "amendment"), ("amends", "1"), ("text", "x")], "reason:"),
        (&[("kind", "concern")], "kind:"),
    ];
    for (fields, expect) in bad {
        let mut f = vec![("csrf_token", d_csrf.as_str())];
        f.extend_from_slice(fields);
        let r = app.post(&path, Some(&d_cookie), &f).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{fields:?}");
        assert!(r.body.contains(expect), "{fields:?}: expected {expect:?}");
    }
    // Staff (the author) may add a note but not triage.
    let r = app.post(&path, Some(&t_cookie), &[("csrf_token", &t_csrf), ("kind", "triage"), ("risk", "high"), ("owner", &owner)]).await;
    assert!(r.body.contains("only the DSL team can add this"), "{}", r.status);
    let good: &[&[(&str, &str)]] = &[
        &[("kind", "triage"), ("risk", "high"), ("owner", &owner)],
        &[("kind", "action"), ("description", "Call home about breakfast"), ("owner_name", "Dee Ess"), ("due", "2025-03-05")],
        &[("kind", "referral"), ("agency", "early_help"), ("reference", "EH-123"), ("consent", "Mum agreed on the phone")],
        &[("kind", "parents_informed"), ("informed", "yes"), ("how", "Dee Ess phoned Mum at 10:00")],
        &[("kind", "amendment"), ("amends", "1"), ("text", "Jo arrived without a coat for the fourth day running."), ("reason", "I miscounted")],
        &[("kind", "closure"), ("outcome", "early_help"), ("reason", "Early Help plan in place")],
    ];
    for fields in good {
        let mut f = vec![("csrf_token", d_csrf.as_str())];
        f.extend_from_slice(fields);
        let r = app.post(&path, Some(&d_cookie), &f).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{fields:?}: {}", r.body);
    }
    let page = app.get(&format!("/records/{id}"), Some(&d_cookie)).await;
    assert!(page.body.contains("third day running") && page.body.contains("fourth day running"), "both versions stay");
    assert!(page.body.contains("amended by <a href=\"#entry-"), "the original is marked amended");
    assert!(page.body.contains("overdue"), "the action due before today is overdue");
    assert!(page.body.contains("EH-123"));
    let s = app.store.record_summary(&id, None).await.unwrap().unwrap();
    assert_eq!((s.status.as_str(), s.risk.as_deref(), s.owner_id), ("closed", Some("high"), Some(dsl)));
    assert_eq!(app.store.record_entries(&id).await.unwrap().len(), 7);
    assert!(app.store.verify_records().await.unwrap().first_break.is_none());
    assert!(!app.get("/records", Some(&d_cookie)).await.body.contains(&id), "closed records leave the open inbox");
    assert!(app.get("/records?all=1", Some(&d_cookie)).await.body.contains(&id));
}

#[tokio::test]
async fn every_view_search_and_print_is_in_the_access_log() {
    let app = app().await;
    let p = pupils(&app, &[("Jo", "Smith", "7JS")]).await;
    let (_, t_cookie, t_csrf) = staff(&app, "teacher", &[Role::Staff], false).await;
    let id = log(&app, &t_cookie, &concern(&t_csrf, &p[0].1, &[])).await;
    assert_eq!(app.get(&format!("/records/{id}"), Some(&t_cookie)).await.status, StatusCode::OK, "the author opens it");
    let (_, d_cookie, d_csrf) = staff(&app, "dsl", &[Role::Dsl], true).await;
    assert_eq!(app.get(&format!("/records/{id}"), Some(&d_cookie)).await.status, StatusCode::OK);
    let chrono = app.get(&format!("/records/pupil/{}", p[0].0), Some(&d_cookie)).await;
    assert!(chrono.body.contains("Jo arrived without a coat"), "{}", chrono.body);
    let print = app.get(&format!("/records/pupil/{}/print", p[0].0), Some(&d_cookie)).await;
    let hash = &app.store.record_entries(&id).await.unwrap()[0].hash;
    assert!(print.body.contains(hash.as_str()) && print.body.contains("Printed by dsl, Designated Safeguarding Lead at"), "{}", print.body);
    let pdf = app.get(&format!("/records/pupil/{}/print.pdf", p[0].0), Some(&d_cookie)).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/pdf"));
    assert!(pdf.body.starts_with("%PDF-") && pdf.body.contains(hash.as_str()), "the PDF carries each entry's chain hash");
    assert_ne!(app.get(&format!("/records/pupil/{}/print.pdf", p[0].0), Some(&t_cookie)).await.status, StatusCode::OK, "staff cannot print a file");
    // Search needs the second factor again.
    let search = app.get("/records/search?q=smith", Some(&d_cookie)).await;
    assert!(search.body.contains("form-step-up") && !search.body.contains(&id));
    let wrong = app.post("/records/search/step-up", Some(&d_cookie), &[("csrf_token", &d_csrf), ("code", "000000")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("code: that code is not right"));
    let code = secret().code_at(app.clock_now());
    let ok = app.post("/records/search/step-up", Some(&d_cookie), &[("csrf_token", &d_csrf), ("code", &code)]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let found = app.get("/records/search?q=smith", Some(&d_cookie)).await;
    assert!(found.body.contains(&id), "{}", found.body);
    app.advance(11 * 60);
    assert!(app.get("/records/search?q=smith", Some(&d_cookie)).await.body.contains("form-step-up"), "the step-up lasts 10 minutes");
    let log = app.store.record_access_log(None, None, 100).await.unwrap();
    let actions: Vec<(&str, &str)> = log.iter().rev().map(|r| (r.actor.as_str(), r.action.as_str())).collect();
    for want in [("teacher", "view"), ("dsl", "view"), ("dsl", "print"), ("dsl", "step_up"), ("dsl", "search")] {
        assert!(actions.contains(&want), "{want:?} missing from {actions:?}");
    }
    assert!(log.iter().any(|r| r.action == "search" && r.detail.contains("\"smith\"")), "the search is logged with its words");
    assert!(log.iter().any(|r| r.action == "print" && r.detail.starts_with("PDF,")), "the PDF is logged as a print");
    let access = app.get(&format!("/records/pupil/{}/access", p[0].0), Some(&d_cookie)).await;
    assert!(access.body.contains("print") && access.body.contains(&id), "{}", access.body);
}

#[tokio::test]
async fn a_concern_raised_from_an_activity_event_cites_it_both_ways() {
    let app = app().await;
    let p = pupils(&app, &[("Jo", "Smith", "7JS")]).await;
    let w = haven_store::EventWriter::spawn(app.store.clone(), haven_store::WriterConfig::default()).unwrap();
    let ev = haven_activity::Event {
        time: now(),
        channel: haven_activity::Channel::Dns,
        client: "10.1.2.3".parse().unwrap(),
        device: Some("LAPTOP-07".into()),
        user: Some("jo.smith".into()),
        group: "ks3".into(),
        name: "selfharm.example".into(),
        qtype: "A".into(),
        action: "block".into(),
        category: Some("self-harm".into()),
        rule: "ks3/self-harm".into(),
        list_source: None,
        list_entry: None,
        flags: Default::default(),
        upstream: None,
        latency_us: 100,
        web: None,
    };
    assert!(w.record(ev));
    w.shutdown().await.unwrap();
    let event = app.store.query(&haven_store::ActivityQuery::new()).await.unwrap()[0].id;
    let (_, d_cookie, d_csrf) = staff(&app, "dsl", &[Role::Dsl], true).await;
    let activity = app.get("/activity?name=selfharm", Some(&d_cookie)).await;
    assert!(activity.body.contains(&format!("/records/new?event={event}")), "{}", activity.body);
    let form = app.get(&format!("/records/new?event={event}"), Some(&d_cookie)).await;
    assert!(form.body.contains(&p[0].1), "the pupil comes from the event's user");
    assert!(form.body.contains("selfharm.example"), "the log line is shown as evidence");
    let ev_id = event.to_string();
    let id = log(&app, &d_cookie, &concern(&d_csrf, &p[0].1, &[("event", &ev_id), ("category", "online"), ("source", "filtering_event")])).await;
    assert_eq!(app.store.record_event_ids(&id).await.unwrap(), vec![event]);
    let s = app.store.record_summary(&id, None).await.unwrap().unwrap();
    assert_eq!(s.record_type, "online_safety_event");
    let activity = app.get("/activity?name=selfharm", Some(&d_cookie)).await;
    assert!(activity.body.contains(&format!("href=\"/records/{id}\" class=\"cited-by\"")), "the event shows the record that cites it");
    let chrono = app.get(&format!("/records/pupil/{}", p[0].0), Some(&d_cookie)).await;
    assert!(chrono.body.contains("Filter event") && chrono.body.contains("block selfharm.example"), "{}", chrono.body);
}

#[tokio::test]
async fn a_pupil_worry_reaches_the_dsl_inbox_and_is_throttled_per_address() {
    let app = app().await;
    let form = app.get("/worry", None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("What is worrying you?") && form.body.contains("worry-anonymous"));
    let csrf = form.cookie("haven_sign_in").unwrap();
    let cookie = format!("haven_sign_in={csrf}");
    let empty = app.post("/worry", Some(&cookie), &[("csrf_token", &csrf), ("worry", "")]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(app.post("/worry", None, &[("csrf_token", "x"), ("worry", "hi")]).await.status == StatusCode::FORBIDDEN, "the double-submit token is checked");
    for i in 0..5 {
        let r = app.post("/worry", Some(&cookie), &[("csrf_token", &csrf), ("worry", &format!("Someone is mean to me at lunch {i}"))]).await;
        assert!(r.body.contains("worry-sent"), "{i}: {}", r.status);
    }
    let sixth = app.post("/worry", Some(&cookie), &[("csrf_token", &csrf), ("worry", "again")]).await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    app.advance(3601);
    assert!(app.post("/worry", Some(&cookie), &[("csrf_token", &csrf), ("worry", "later")]).await.body.contains("worry-sent"));
    let (_, d_cookie, _) = staff(&app, "dsl", &[Role::Dsl], true).await;
    let inbox = app.get("/records", Some(&d_cookie)).await;
    assert_eq!(inbox.body.matches("Worry sent by a pupil").count(), 6, "{}", inbox.body);
    assert!(inbox.body.contains("A pupil (anonymous)"));
}

#[tokio::test]
async fn the_blank_screen_button_is_on_every_records_page_and_the_portal_links_the_worry_page() {
    let app = app().await;
    let p = pupils(&app, &[("Jo", "Smith", "7JS")]).await;
    let (_, d_cookie, d_csrf) = staff(&app, "dsl", &[Role::Dsl], true).await;
    let id = log(&app, &d_cookie, &concern(&d_csrf, &p[0].1, &[])).await;
    for path in ["/records".to_owned(), "/records/new".into(), "/records/mine".into(), "/records/search".into(), format!("/records/{id}"), format!("/records/pupil/{}", p[0].0), format!("/records/pupil/{}/access", p[0].0)] {
        let r = app.get(&path, Some(&d_cookie)).await;
        assert!(r.body.contains("id=\"blank-screen\"") && r.body.contains("/static/records.js"), "{path}");
    }
    let js = app.get("/static/records.js", None).await;
    assert!(js.body.contains("Escape") && js.body.contains("/blank"));
    assert!(app.get("/blank", None).await.body.contains("Nothing to show"));
    assert!(app.get("/portal", None).await.body.contains("href=\"/worry\""));
}
