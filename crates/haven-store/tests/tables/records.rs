//! Safeguarding records: the hash chain, tamper detection behind the store's back (one changed
//! byte of an entry or an attachment is named by `verify_records`), the triggers that refuse
//! UPDATE and DELETE on saved entries, amendments keeping the original, the inbox state, the
//! chronology order and the access audit.

use haven_records::ChainBreak;
use haven_store::{Backend, NewEntry, NewRecord, RecordAccess, StateChange};

use crate::common::*;

fn entry(record: &str, kind: &str, occurred_ms: i64, body: &str) -> NewEntry {
    NewEntry {
        record_id: record.into(),
        kind: kind.into(),
        record_type: "safeguarding_concern".into(),
        sensitivity: "normal".into(),
        author_id: Some(7),
        author: "Jo Teacher, Class teacher".into(),
        occurred: ts(occurred_ms),
        body: body.into(),
    }
}

fn concern(record: &str, pupil: i64, occurred_ms: i64) -> NewRecord {
    NewRecord {
        entry: entry(record, "concern", occurred_ms, r#"{"account":"A bruise on the left arm","category":"physical_abuse"}"#),
        category: "physical_abuse".into(),
        pupil_id: Some(pupil),
        pupil_name: "Sam Pupil".into(),
        subject_account: None,
        source: "staff_observation".into(),
        pupils: vec![(pupil, "subject".into()), (pupil + 1, "witness".into())],
        named: vec![],
        event_ids: vec![],
    }
}

/// Three entries over two records.
async fn fill(ctx: &Ctx) {
    let s = &ctx.store;
    let first = s.create_record(&concern("r1", 100, T0), ts(T0 + 5)).await.unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, haven_records::GENESIS_HASH);
    let change = StateChange { risk: Some("high".into()), owner: Some((9, "Pat Dsl".into())), acknowledged_by: Some("Pat Dsl".into()), ..Default::default() };
    let triage = s.append_record_entry(&entry("r1", "triage", T0 + DAY, r#"{"risk":"high"}"#), &change, ts(T0 + DAY)).await.unwrap();
    assert_eq!((triage.seq, triage.prev_hash.as_str()), (2, first.hash.as_str()));
    s.create_record(&concern("r2", 200, T0 - DAY), ts(T0 + 2 * DAY)).await.unwrap();
}

async fn intact_chain_verifies(ctx: Ctx) {
    fill(&ctx).await;
    let sha = ctx.store.put_attachment("note.txt", "text/plain", b"signed original kept in the office", "Jo Teacher", ts(T0)).await.unwrap();
    assert_eq!(sha, haven_records::content_hash(b"signed original kept in the office"));
    let r = ctx.store.verify_records().await.unwrap();
    assert_eq!((r.entries, r.attachments, r.first_break), (3, 1, None));
    let entries = ctx.store.record_entries("r2").await.unwrap();
    assert_eq!(r.head, entries[0].hash);
}

/// Drop the append-only guard the way someone with database access would, then run `sql`.
async fn tamper(ctx: &Ctx, table: &str, sql: &str) {
    match ctx.store.backend() {
        Backend::Sqlite => {
            exec(ctx, &format!("DROP TRIGGER {table}_no_update")).await;
            exec(ctx, sql).await;
        }
        Backend::Postgres => exec(ctx, &format!("ALTER TABLE {table} DISABLE TRIGGER USER; {sql}")).await,
    }
}

async fn one_changed_byte_in_an_entry_is_named(ctx: Ctx) {
    fill(&ctx).await;
    tamper(&ctx, "record_entries", "UPDATE record_entries SET body = REPLACE(body, 'high', 'hig h') WHERE seq = 2").await;
    let r = ctx.store.verify_records().await.unwrap();
    assert_eq!(r.entries, 1, "the entry before the change still verifies");
    match r.first_break {
        Some(ChainBreak::Content { seq, record_id, .. }) => assert_eq!((seq, record_id.as_str()), (2, "r1")),
        other => panic!("expected entry 2 named, got {other:?}"),
    }
}

async fn a_rewritten_hash_breaks_the_next_link(ctx: Ctx) {
    fill(&ctx).await;
    // Changing the body and recomputing its own hash still leaves entry 3 pointing at the old one.
    let new = haven_records::entry_hash(&haven_records::EntryHashInput {
        seq: 2,
        record_id: "r1",
        kind: "triage",
        record_type: "safeguarding_concern",
        sensitivity: "normal",
        author_id: Some(7),
        author: "Jo Teacher, Class teacher",
        occurred_ms: T0 + DAY,
        created_ms: T0 + DAY,
        body: r#"{"risk":"low"}"#,
        prev_hash: &ctx.store.record_entries("r1").await.unwrap()[0].hash,
    });
    tamper(&ctx, "record_entries", &format!("UPDATE record_entries SET body = '{{\"risk\":\"low\"}}', hash = '{new}' WHERE seq = 2")).await;
    match ctx.store.verify_records().await.unwrap().first_break {
        Some(ChainBreak::Link { seq, previous, .. }) => assert_eq!((seq, previous), (3, 2)),
        other => panic!("expected the link at entry 3, got {other:?}"),
    }
}

async fn one_changed_byte_in_an_attachment_is_named(ctx: Ctx) {
    fill(&ctx).await;
    let sha = ctx.store.put_attachment("scan.txt", "text/plain", b"ABCDEF", "Jo Teacher", ts(T0)).await.unwrap();
    let blob = match ctx.store.backend() {
        Backend::Sqlite => "X'41424344454647'",
        Backend::Postgres => "'\\x41424344454647'::bytea",
    };
    tamper(&ctx, "record_attachments", &format!("UPDATE record_attachments SET content = {blob} WHERE sha256 = '{sha}'")).await;
    match ctx.store.verify_records().await.unwrap().first_break {
        Some(ChainBreak::Attachment { stored, file_name, .. }) => assert_eq!((stored, file_name.as_str()), (sha, "scan.txt")),
        other => panic!("expected the attachment named, got {other:?}"),
    }
}

async fn the_database_refuses_update_and_delete(ctx: Ctx) {
    fill(&ctx).await;
    // Row triggers fire per row, so every table holds one.
    ctx.store.put_attachment("a.txt", "text/plain", b"a", "Jo Teacher", ts(T0)).await.unwrap();
    for sql in [
        "UPDATE record_entries SET body = '{}' WHERE seq = 1",
        "DELETE FROM record_entries WHERE seq = 3",
        "UPDATE record_pupils SET role = 'victim'",
        "DELETE FROM record_pupils",
        "DELETE FROM record_attachments",
        "UPDATE record_attachments SET content = content",
    ] {
        assert!(try_exec(&ctx, sql).await.is_err(), "{sql} was allowed");
    }
    ctx.store.log_record_access(&access("r1"), ts(T0)).await.unwrap();
    assert!(try_exec(&ctx, "DELETE FROM record_access").await.is_err());
    assert!(try_exec(&ctx, "UPDATE record_access SET actor = 'nobody'").await.is_err());
    assert_eq!(ctx.store.verify_records().await.unwrap().first_break, None);
    assert_eq!(scalar(&ctx, "SELECT COUNT(*) FROM record_entries").await, 3);
}

async fn an_amendment_keeps_the_original(ctx: Ctx) {
    fill(&ctx).await;
    let original = ctx.store.record_entries("r1").await.unwrap()[0].clone();
    let body = format!(r#"{{"amends":{},"reason":"wrong arm","account":"A bruise on the right arm"}}"#, original.seq);
    ctx.store.append_record_entry(&entry("r1", "amendment", T0, &body), &StateChange::default(), ts(T0 + 3 * DAY)).await.unwrap();
    let entries = ctx.store.record_entries("r1").await.unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0], original, "the original is unchanged");
    assert!(entries[2].body.contains("right arm") && entries[2].kind == "amendment");
    assert_eq!(ctx.store.verify_records().await.unwrap().entries, 4);
}

fn access(record: &str) -> RecordAccess<'_> {
    RecordAccess { account_id: Some(9), actor: "Pat Dsl", action: "view", record_id: Some(record), pupil_id: Some(100), detail: "", client: "10.0.0.9" }
}

async fn inbox_state_chronology_and_access_log(ctx: Ctx) {
    fill(&ctx).await;
    let s = &ctx.store;
    let inbox = s.record_list(9, None, true, 0).await.unwrap();
    assert_eq!(inbox.iter().map(|r| r.record_id.as_str()).collect::<Vec<_>>(), ["r2", "r1"], "newest logged first");
    assert!(inbox.iter().all(|r| !r.read));
    let r1 = &inbox[1];
    assert_eq!((r1.risk.as_deref(), r1.owner.as_deref(), r1.acknowledged_by.as_deref()), (Some("high"), Some("Pat Dsl"), Some("Pat Dsl")));
    assert_eq!(inbox[0].acknowledged, None, "r2 is unacknowledged");
    s.mark_record_read("r1", 9, ts(T0)).await.unwrap();
    s.mark_record_read("r1", 9, ts(T0 + 1)).await.unwrap();
    assert!(s.record_summary("r1", Some(9)).await.unwrap().unwrap().read);
    assert!(!s.record_summary("r1", Some(10)).await.unwrap().unwrap().read);
    assert_eq!(s.record_list(9, Some(7), false, 0).await.unwrap().len(), 2, "the reporter's own");
    assert!(s.record_list(9, Some(8), false, 0).await.unwrap().is_empty());

    // A later entry that happened earlier sorts by when it happened.
    s.append_record_entry(&entry("r1", "note", T0 - 2 * DAY, r#"{"note":"earlier contact"}"#), &StateChange::default(), ts(T0 + 4 * DAY)).await.unwrap();
    let chron = s.chronology(100).await.unwrap();
    let kinds: Vec<_> = chron.iter().map(|i| i.entry.as_ref().unwrap().kind.as_str()).collect();
    assert_eq!(kinds, ["note", "concern", "triage"]);
    assert!(chron.iter().all(|i| i.role == "subject"));
    let witness = s.chronology(101).await.unwrap();
    assert!(witness.iter().all(|i| i.role == "witness") && witness.len() == 3);
    assert!(s.chronology(999).await.unwrap().is_empty());

    s.log_record_access(&access("r1"), ts(T0)).await.unwrap();
    let log = s.record_access_log(None, Some(100), 0).await.unwrap();
    assert_eq!((log.len(), log[0].actor.as_str(), log[0].action.as_str()), (1, "Pat Dsl", "view"));
    assert!(s.record_access_log(Some("r2"), None, 0).await.unwrap().is_empty());
}

async fn linked_events_run_both_ways(ctx: Ctx) {
    let s = &ctx.store;
    s.insert_batch(&[event(T0 - 60_000, "sam", "harmful.example")]).await.unwrap();
    let id = s.query(&haven_store::ActivityQuery::new()).await.unwrap()[0].id;
    let mut n = concern("r9", 100, T0);
    n.event_ids = vec![id];
    s.create_record(&n, ts(T0)).await.unwrap();
    assert_eq!(s.records_for_event(id).await.unwrap(), ["r9"]);
    assert_eq!(s.record_event_ids("r9").await.unwrap(), [id]);
    let chron = s.chronology(100).await.unwrap();
    assert_eq!(chron[0].event.as_ref().map(|e| e.1.as_str()), Some("harmful.example"), "the event came first");
    assert_eq!(chron.len(), 2);
}

/// A concern raised from an activity event reads that event by its id (the evidence it cites).
async fn an_event_is_read_by_its_id(ctx: Ctx) {
    let s = &ctx.store;
    s.insert_batch(&[event(T0 - 60_000, "sam", "first.example"), event(T0, "jo", "second.example")]).await.unwrap();
    let all = s.query(&haven_store::ActivityQuery::new()).await.unwrap();
    let second = all.iter().find(|e| e.event.name == "second.example").unwrap();
    let got = s.event_by_id(second.id).await.unwrap().unwrap();
    assert_eq!(got, *second);
    assert_eq!(got.event.user.as_deref(), Some("jo"));
    assert!(s.event_by_id(second.id + 1000).await.unwrap().is_none());
}

both!(
    an_event_is_read_by_its_id,
    intact_chain_verifies,
    one_changed_byte_in_an_entry_is_named,
    a_rewritten_hash_breaks_the_next_link,
    one_changed_byte_in_an_attachment_is_named,
    the_database_refuses_update_and_delete,
    an_amendment_keeps_the_original,
    inbox_state_chronology_and_access_log,
    linked_events_run_both_ways,
);
