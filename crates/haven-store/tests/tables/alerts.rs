//! Alerts: evidence kept by alert id, deduplicated hits, the lifecycle with reasons, the
//! append-only log, deliveries, exclusions with expiry, and the rule change log.

use haven_store::{AlertKeyword, AlertOutcome, AlertQuery, AlertState, DeliveryRecord, NewAlert, NewExclusion};

use crate::common::*;
use haven_store::Backend;
use sqlx::Connection;

/// True when the database itself refuses `sql` (run behind the store's back).
async fn refused(ctx: &Ctx, sql: &str) -> bool {
    match ctx.store.backend() {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&ctx.location).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.is_err()
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&ctx.location).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.is_err()
        }
    }
}

async fn raise(s: &haven_store::Store, events: &[Event]) -> i64 {
    let keywords = [AlertKeyword {
        term: "kill myself".into(),
        matched: "kil myself".into(),
        category: "suicide_risk".into(),
        severity: "critical".into(),
        rationale: "First-person statement of intent.".into(),
        library: "en@2026.12.1".into(),
    }];
    s.insert_alert(&NewAlert {
        raised: events[0].time,
        rule: "keyword-search",
        title: "Searched for words in a safeguarding keyword library",
        why: "The search matched \"kill myself\".",
        severity: "critical",
        category: "suicide_risk",
        person: "jo",
        group: "ks3",
        subject: "kill myself",
        search_engine: Some("www.google.co.uk"),
        search_terms: Some("kill myself"),
        keywords: &keywords,
        events,
    })
    .await
    .unwrap()
}

async fn evidence_is_kept_by_alert_id_with_surrounding_activity(ctx: Ctx) {
    let s = &ctx.store;
    let trigger = Event { channel: Channel::Proxy, name: "http://www.google.co.uk/search?q=kill+myself".into(), ..event(T0, "jo", "x") };
    // The person's activity: 4 minutes before, 6 minutes before (outside), and someone else's.
    let before = event(T0 - 4 * 60_000, "jo", "homework.example");
    let too_early = event(T0 - 6 * 60_000, "jo", "early.example");
    let other = event(T0, "sam", "other.example");
    s.insert_batch(&[before.clone(), too_early, other, trigger.clone()]).await.unwrap();
    let id = raise(s, std::slice::from_ref(&trigger)).await;
    let a = s.alert(id).await.unwrap().unwrap();
    assert_eq!((a.state, a.hits, a.person.as_str(), a.device.as_deref()), (AlertState::New, 1, "jo", Some("LAPTOP-07")));
    assert_eq!(s.alert_keywords(id).await.unwrap()[0].matched, "kil myself");
    let evs = s.alert_events(id).await.unwrap();
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].event.name, trigger.name);
    // A later hit within the dedupe window: counted, kept, and the window of context extends.
    let later = event(T0 + 3 * 60_000, "jo", "again.example");
    s.count_alert_hit(id, &later).await.unwrap();
    let after = event(T0 + 7 * 60_000, "jo", "after.example");
    s.insert_batch(&[later, after]).await.unwrap();
    let a = s.alert(id).await.unwrap().unwrap();
    assert_eq!((a.hits, a.last), (2, ts(T0 + 3 * 60_000)));
    let around: Vec<String> = s.alert_surrounding(&a).await.unwrap().into_iter().map(|e| e.event.name).collect();
    assert_eq!(around, ["homework.example", trigger.name.as_str(), "again.example", "after.example"]);
    assert!(s.count_alert_hit(9999, &before).await.is_err());
}

async fn lifecycle_needs_outcomes_with_reasons_and_logs_every_step(ctx: Ctx) {
    let s = &ctx.store;
    let id = raise(s, &[event(T0, "jo", "x.example")]).await;
    assert!(s.acknowledge_alert(id, "dsl", ts(T0 + 60_000)).await.unwrap());
    assert!(!s.acknowledge_alert(id, "deputy", ts(T0 + 90_000)).await.unwrap(), "only the first acknowledgement counts");
    let err = s.close_alert(id, AlertOutcome::FalsePositive, "  ", "dsl", ts(T0 + 120_000), None).await.unwrap_err();
    assert_eq!(err.to_string(), "reason: \"False positive\" needs a reason");
    assert_eq!(s.alert(id).await.unwrap().unwrap().state, AlertState::Acknowledged);
    let link = format!("/records/concerns/new?from_alert={id}");
    assert!(s.close_alert(id, AlertOutcome::Concern, "", "dsl", ts(T0 + 180_000), Some(&link)).await.unwrap());
    assert!(!s.close_alert(id, AlertOutcome::NoFurtherAction, "again", "dsl", ts(T0 + 200_000), None).await.unwrap());
    let a = s.alert(id).await.unwrap().unwrap();
    assert_eq!((a.state, a.outcome, a.ack_by.as_deref()), (AlertState::Closed, Some(AlertOutcome::Concern), Some("dsl")));
    assert_eq!(a.concern_link.as_deref(), Some(link.as_str()));
    let steps: Vec<String> = s.alert_log(id).await.unwrap().into_iter().map(|l| format!("{} {}", l.actor, l.action)).collect();
    assert_eq!(steps, ["monitor raised", "dsl acknowledged", "dsl outcome"]);

    // Closing a new alert acknowledges it at the same time; open/closed filters.
    let second = raise(s, &[event(T0 + DAY, "jo", "y.example")]).await;
    assert_eq!(s.alerts(&AlertQuery { open_only: true, ..Default::default() }).await.unwrap().len(), 1);
    s.close_alert(second, AlertOutcome::NoFurtherAction, "Research for RE homework", "dsl", ts(T0 + DAY + 5000), None).await.unwrap();
    let b = s.alert(second).await.unwrap().unwrap();
    assert_eq!(b.ack_at, Some(ts(T0 + DAY + 5000)));
    assert!(s.alerts(&AlertQuery { open_only: true, ..Default::default() }).await.unwrap().is_empty());
    assert_eq!(s.alerts(&AlertQuery { severities: vec!["critical".into()], ..Default::default() }).await.unwrap().len(), 2);
    assert!(s.alerts(&AlertQuery { severities: vec!["low".into()], ..Default::default() }).await.unwrap().is_empty());

    // The log and alerts cannot be rewritten behind the store's back.
    for sql in ["DELETE FROM alert_log", "UPDATE alert_log SET detail = 'x'", "DELETE FROM alerts"] {
        assert!(refused(&ctx, sql).await, "{sql} was allowed");
    }

    s.record_delivery(
        id,
        &DeliveryRecord {
            at: ts(T0),
            channel: "email".into(),
            recipient: "dsl@school.example".into(),
            step: 0,
            status: "sent".into(),
            detail: "250 OK".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(s.alert_deliveries(id).await.unwrap()[0].recipient, "dsl@school.example");
}

async fn exclusions_expire_and_rule_changes_need_reasons(ctx: Ctx) {
    let s = &ctx.store;
    let x = NewExclusion {
        created_by: "dsl",
        person: Some("jo"),
        rule: None,
        subject: Some("talktofrank.com"),
        until: ts(T0 + DAY),
        reason: "Drugs-education project",
        from_alert: None,
    };
    assert!(s.add_exclusion(&NewExclusion { reason: " ", ..x.clone() }, ts(T0)).await.is_err());
    assert!(s.add_exclusion(&NewExclusion { until: ts(T0), ..x.clone() }, ts(T0)).await.is_err());
    let id = s.add_exclusion(&x, ts(T0)).await.unwrap();
    assert_eq!(s.active_exclusions(ts(T0 + 1000)).await.unwrap()[0].id, id);
    assert!(s.active_exclusions(ts(T0 + DAY)).await.unwrap().is_empty());

    assert_eq!(s.current_rules().await.unwrap(), None);
    assert!(s.record_rule_change("dsl", "", "a", "b", ts(T0)).await.is_err());
    s.record_rule_change("dsl", "Year 7 pornography alerts should be high", "a", "b", ts(T0)).await.unwrap();
    s.record_rule_change("dsl", "Back to the defaults", "b", "c", ts(T0 + 1)).await.unwrap();
    assert_eq!(s.current_rules().await.unwrap().as_deref(), Some("c"));
    let log = s.rule_changes(10).await.unwrap();
    assert_eq!(
        log.iter().map(|c| c.reason.as_str()).collect::<Vec<_>>(),
        ["Back to the defaults", "Year 7 pornography alerts should be high"]
    );
    assert!(refused(&ctx, "UPDATE alert_rule_changes SET reason = 'x'").await);
}

async fn inbox_filters_counts_and_every_exclusion(ctx: Ctx) {
    let s = &ctx.store;
    let a = raise(s, &[event(T0, "jo", "x.example")]).await;
    let b = raise(s, &[event(T0 + 1000, "jo", "y.example")]).await;
    s.acknowledge_alert(b, "dsl", ts(T0 + 2000)).await.unwrap();
    let c = raise(s, &[event(T0 + 3000, "jo", "z.example")]).await;
    s.close_alert(c, AlertOutcome::NoFurtherAction, "Homework", "dsl", ts(T0 + 4000), None).await.unwrap();
    let ids = |q: AlertQuery| async move { s.alerts(&q).await.unwrap().into_iter().map(|r| r.id).collect::<Vec<_>>() };
    assert_eq!(ids(AlertQuery { category: Some("suicide_risk".into()), ..Default::default() }).await, [c, b, a]);
    assert!(ids(AlertQuery { category: Some("drugs".into()), ..Default::default() }).await.is_empty());
    assert_eq!(ids(AlertQuery { group: Some("ks3".into()), state: Some(AlertState::New), ..Default::default() }).await, [a]);
    assert!(ids(AlertQuery { group: Some("ks4".into()), severities: vec!["critical".into()], ..Default::default() }).await.is_empty());
    let counts = s.open_alert_counts().await.unwrap();
    assert_eq!(counts, [("critical".to_owned(), AlertState::Acknowledged, 1), ("critical".to_owned(), AlertState::New, 1)]);

    let x = NewExclusion { created_by: "dsl", person: Some("jo"), rule: None, subject: None, until: ts(T0 + 1000), reason: "Project", from_alert: Some(a) };
    let first = s.add_exclusion(&x, ts(T0)).await.unwrap();
    let second = s.add_exclusion(&NewExclusion { until: ts(T0 + DAY), ..x }, ts(T0)).await.unwrap();
    let all: Vec<i64> = s.exclusions(10).await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(all, [second, first], "expired ones are still listed, newest first");
    assert_eq!(s.active_exclusions(ts(T0 + 2000)).await.unwrap().len(), 1);
}

both!(
    inbox_filters_counts_and_every_exclusion,
    evidence_is_kept_by_alert_id_with_surrounding_activity,
    lifecycle_needs_outcomes_with_reasons_and_logs_every_step,
    exclusions_expire_and_rule_changes_need_reasons
);
