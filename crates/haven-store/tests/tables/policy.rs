//! Console policy changes: site entries with expiry and scope, rules, windows, the append-only
//! change log, unblock requests and their decisions, and the record of activity searches.

use haven_store::{ChangeQuery, NewChange, NewSite, NewUnblockRequest, RecordError, RuleRecord, WindowRecord};

use crate::common::*;

fn change(kind: &str, target: &str, reason: &str) -> NewChange {
    NewChange {
        actor: "it.admin".into(),
        kind: kind.into(),
        target: target.into(),
        reason: reason.into(),
        public_text: target.into(),
        ..Default::default()
    }
}

fn site(name: &str, expires: Option<i64>) -> NewSite {
    NewSite {
        group: "ks3".into(),
        action: "allow".into(),
        site: name.into(),
        reason: "Year 8 science project".into(),
        author: "it.admin".into(),
        users: vec!["sam.smith".into()],
        scope: "pupil Sam Smith".into(),
        names_pupil: true,
        expires: expires.map(ts),
    }
}

async fn site_entries_are_kept_and_every_change_is_logged(ctx: Ctx) {
    let s = &ctx.store;
    assert_eq!(s.policy_change_mark().await.unwrap(), 0);
    let id =
        s.add_policy_site(&site("example.org", Some(T0 + 60_000)), &change("site_added", "example.org", "project"), ts(T0)).await.unwrap();
    let live = s.policy_sites(false).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].site.users, ["sam.smith"]);
    assert!(live[0].is_live(ts(T0 + 59_999)) && !live[0].is_live(ts(T0 + 60_000)), "expires by itself");
    let mark = s.policy_change_mark().await.unwrap();
    assert!(mark > 0);

    s.remove_policy_site(id, &change("site_removed", "example.org", "project over"), ts(T0 + 1)).await.unwrap();
    assert!(s.policy_sites(false).await.unwrap().is_empty());
    let all = s.policy_sites(true).await.unwrap();
    assert_eq!(all[0].removed_by.as_deref(), Some("it.admin"), "removed, never deleted");
    assert!(matches!(s.remove_policy_site(id, &change("site_removed", "x", "again"), ts(T0 + 2)).await, Err(RecordError::NotFound { .. })));
    assert!(s.policy_change_mark().await.unwrap() > mark);

    s.set_policy_rule(
        &RuleRecord {
            group: "ks3".into(),
            category: "games".into(),
            base: "during".into(),
            windows: vec!["lunch".into()],
            nominated: vec![],
        },
        &change("rule_set", "ks3 games", "lunch clubs"),
        ts(T0 + 3),
    )
    .await
    .unwrap();
    s.set_policy_window(
        &WindowRecord { id: "lunch".into(), title: "Lunch".into(), spans: vec!["Mon-Fri 12:00-13:00".into()] },
        &change("window_set", "lunch", "new timetable"),
        ts(T0 + 4),
    )
    .await
    .unwrap();
    assert_eq!(s.policy_rules().await.unwrap()[0].windows, ["lunch"]);
    assert_eq!(s.policy_windows().await.unwrap()[0].spans, ["Mon-Fri 12:00-13:00"]);

    let log = s.policy_changes(&ChangeQuery::default()).await.unwrap();
    assert_eq!(log.iter().map(|c| c.change.kind.as_str()).collect::<Vec<_>>(), ["window_set", "rule_set", "site_removed", "site_added"]);
    assert!(log[3].change.target.starts_with(&format!("site-{id} ")), "{}", log[3].change.target);
    let found = s.policy_changes(&ChangeQuery { search: Some("LUNCH CLUBS".into()), ..Default::default() }).await.unwrap();
    assert_eq!(found.len(), 1);
    let page = s.policy_changes(&ChangeQuery { before_id: Some(log[1].id), limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(page[0].id, log[2].id, "keyset paging by id");

    // Append-only: the database itself refuses to rewrite or delete the log.
    let rewrite = match ctx.store.backend() {
        haven_store::Backend::Sqlite => {
            let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&ctx.location).await.unwrap();
            sqlx::query("UPDATE policy_changes SET reason = 'x'").execute(&mut c).await.is_err()
                && sqlx::query("DELETE FROM policy_changes").execute(&mut c).await.is_err()
        }
        haven_store::Backend::Postgres => {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&ctx.location).await.unwrap();
            sqlx::query("UPDATE policy_changes SET reason = 'x'").execute(&mut c).await.is_err()
                && sqlx::query("DELETE FROM policy_changes").execute(&mut c).await.is_err()
        }
    };
    assert!(rewrite, "UPDATE and DELETE on policy_changes must be refused");
    assert_eq!(scalar(&ctx, "SELECT COUNT(*) FROM policy_changes").await, 4);
}

async fn unblock_requests_are_decided_once(ctx: Ctx) {
    let s = &ctx.store;
    let req = NewUnblockRequest {
        requester: "t.teacher".into(),
        site: "example.org".into(),
        reason: "lesson".into(),
        group: "ks3".into(),
        scope: "themselves".into(),
        users: vec!["t.teacher".into()],
        expires_secs: Some(60),
        route_to: "it".into(),
        link_hash: "abc".into(),
        ..Default::default()
    };
    let id = s.create_unblock_request(&req, &change("unblock_requested", "example.org", "lesson"), ts(T0)).await.unwrap();
    let by_link = s.unblock_request(None, Some("abc")).await.unwrap().unwrap();
    assert_eq!((by_link.id, by_link.status.as_str()), (id, "pending"));
    assert_eq!(s.unblock_requests(true, 0).await.unwrap().len(), 1);

    let sid = s
        .decide_unblock_request(
            id,
            "it.admin",
            "ok",
            Some(&site("example.org", Some(T0 + 90_000))),
            &change("unblock_approved", "example.org", "lesson"),
            ts(T0 + 30_000),
        )
        .await
        .unwrap();
    assert!(sid.is_some());
    let again = s.decide_unblock_request(id, "it.admin", "", None, &change("unblock_declined", "example.org", "no"), ts(T0 + 31_000)).await;
    assert!(matches!(again, Err(RecordError::Conflict { .. })), "decided once only");
    let r = s.unblock_request(Some(id), None).await.unwrap().unwrap();
    assert_eq!((r.status.as_str(), r.site_id), ("approved", sid));
    assert!(s.unblock_requests(true, 0).await.unwrap().is_empty());
    assert_eq!(s.unblock_decision_times(100).await.unwrap(), [30_000]);
    assert_eq!(s.policy_sites(false).await.unwrap().len(), 1);
    let kinds: Vec<String> = s.policy_changes(&ChangeQuery::default()).await.unwrap().into_iter().map(|c| c.change.kind).collect();
    assert_eq!(kinds, ["unblock_approved", "unblock_requested"], "every step is in the change log");

    s.record_activity_search("dsl", "Sam Smith", "user sam.smith, blocked", "concern 12 follow-up", "10.0.0.9", ts(T0)).await.unwrap();
    let searches = s.activity_searches(None, 0).await.unwrap();
    assert_eq!((searches[0].actor.as_str(), searches[0].reason.as_str()), ("dsl", "concern 12 follow-up"));
    assert!(
        !matches!(ctx.store.backend(), haven_store::Backend::Sqlite) || scalar(&ctx, "SELECT COUNT(*) FROM activity_searches").await == 1
    );
}

both!(site_entries_are_kept_and_every_change_is_logged, unblock_requests_are_decided_once);
