//! Moving school in the store: a pupil's file gathered for a package (entries, role, the
//! attachments its entries name), a verified package stored as transferred-in records (the
//! sender's entries kept with their hashes, one `received` entry in this chain, the transfer
//! log), a second import of the same records refused with nothing stored, and a changed
//! received entry named by `verify_records`.

use haven_records::ChainBreak;
use haven_records::package::{Manifest, PupilRef, read_package, write_package};
use haven_store::{Backend, NewEntry, NewRecord, StateChange, Transfer};

use crate::common::*;

const SENDER: [u8; 32] = [3; 32];

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

fn concern(record: &str, pupil: i64, role: &str, body: &str) -> NewRecord {
    NewRecord {
        entry: entry(record, "concern", T0, body),
        category: "neglect".into(),
        pupil_id: Some(pupil),
        pupil_name: "Sam Pupil".into(),
        subject_account: None,
        source: "disclosure".into(),
        pupils: vec![(pupil, role.into())],
        named: vec![],
        event_ids: vec![],
    }
}

fn manifest() -> Manifest {
    Manifest {
        format: String::new(),
        version: 0,
        school: "Old School".into(),
        created: "2026-12-02T05:00:00Z".into(),
        created_by: "Pat Dsl, DSL".into(),
        public_key: String::new(),
        pupil: PupilRef { name: "Sam Pupil".into(), upn: Some("A1".into()), date_of_birth: None, sender_id: Some(100) },
        files: vec![],
    }
}

/// A sending school's store: two records for pupil 100 (one with an attachment), one for another pupil.
async fn sender(ctx: &Ctx) -> String {
    let s = &ctx.store;
    let sha = s.put_attachment("note.txt", "text/plain", b"the signed note", "Jo Teacher", ts(T0)).await.unwrap();
    s.create_record(&concern("old:r1", 100, "subject", &format!(r#"{{"account":"hungry","attachments":["{sha}"]}}"#)), ts(T0)).await.unwrap();
    s.create_record(&concern("old:r2", 200, "subject", r#"{"account":"someone else"}"#), ts(T0 + 1)).await.unwrap();
    s.append_record_entry(&entry("old:r1", "triage", T0 + DAY, r#"{"risk":"high"}"#), &StateChange::default(), ts(T0 + DAY)).await.unwrap();
    s.create_record(&concern("old:r3", 100, "witness", r#"{"account":"saw it"}"#), ts(T0 + 2 * DAY)).await.unwrap();
    sha
}

async fn a_pupils_file_holds_their_records_only(ctx: Ctx) {
    let sha = sender(&ctx).await;
    let (file, bytes) = ctx.store.pupil_file(100).await.unwrap();
    let ids: Vec<&str> = file.records.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(ids, ["old:r1", "old:r3"], "oldest first, the other pupil's record left out");
    assert_eq!(file.records[0].entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 3], "r1's entries in chain order");
    assert_eq!((file.records[0].role.as_str(), file.records[1].role.as_str()), ("subject", "witness"));
    assert_eq!(file.records[0].attachments.len(), 1);
    assert_eq!(bytes.get(&sha).map(Vec::as_slice), Some(&b"the signed note"[..]));
    assert!(file.records[1].attachments.is_empty());
    // What it gathers passes the package reader's checks, hashes included.
    let pkg = read_package(&write_package(manifest(), &file, &bytes, &SENDER).unwrap(), None).unwrap();
    assert_eq!(pkg.records, file);
}

async fn an_import_of_records_already_held_stores_nothing(ctx: Ctx) {
    // Importing this store's own file back: every record id is already held.
    sender(&ctx).await;
    let (file, bytes) = ctx.store.pupil_file(100).await.unwrap();
    let pkg = read_package(&write_package(manifest(), &file, &bytes, &SENDER).unwrap(), None).unwrap();
    let before = scalar(&ctx, "SELECT COUNT(*) FROM record_entries").await;
    let err = ctx.store.import_pupil_file(&pkg, 555, "Sam Pupil", "Kim Dsl, DSL", ts(T0 + 3 * DAY)).await.unwrap_err();
    assert!(err.to_string().contains("old:r1"), "{err}");
    assert_eq!(scalar(&ctx, "SELECT COUNT(*) FROM record_entries").await, before, "a refused import stores nothing");
    assert_eq!(scalar(&ctx, "SELECT COUNT(*) FROM record_received_entries").await, 0);
    assert_eq!(scalar(&ctx, "SELECT COUNT(*) FROM record_transfers").await, 0);
}

async fn a_received_file_is_kept_with_the_senders_hashes(ctx: Ctx) {
    sender(&ctx).await;
    let (mut file, bytes) = ctx.store.pupil_file(100).await.unwrap();
    // Re-key and re-hash the records as a sending school with other ids would have made them.
    for r in &mut file.records {
        r.record_id = r.record_id.replace("old:", "far:");
        for e in &mut r.entries {
            e.record_id = r.record_id.clone();
            e.hash = haven_records::entry_hash(&e.hash_input());
        }
    }
    let pkg = read_package(&write_package(manifest(), &file, &bytes, &SENDER).unwrap(), None).unwrap();
    let report = ctx.store.import_pupil_file(&pkg, 555, "Sam Pupil", "Kim Dsl, DSL", ts(T0 + 3 * DAY)).await.unwrap();
    assert_eq!((report.records, report.entries, report.attachments), (2, 3, 1));
    let summary = ctx.store.record_summary("far:r1", None).await.unwrap().unwrap();
    assert_eq!((summary.pupil_id, summary.category.as_str(), summary.source.as_str()), (Some(555), "neglect", "disclosure"));
    let local = ctx.store.record_entries("far:r1").await.unwrap();
    assert_eq!(local.len(), 1);
    assert_eq!(local[0].kind, "received");
    let body: serde_json::Value = serde_json::from_str(&local[0].body).unwrap();
    assert_eq!(body["from_school"], "Old School");
    assert_eq!(body["package_sha256"], pkg.sha256.as_str());
    assert_eq!(body["entries"][0]["hash"], file.records[0].entries[0].hash.as_str(), "this chain pins the sender's hashes");
    let kept = ctx.store.received_entries("far:r1").await.unwrap();
    assert_eq!(kept.iter().map(|e| (e.seq, e.hash.as_str())).collect::<Vec<_>>(), file.records[0].entries.iter().map(|e| (e.seq, e.hash.as_str())).collect::<Vec<_>>());
    assert_eq!(ctx.store.record_pupils("far:r3").await.unwrap(), vec![(555, "witness".to_owned())]);
    // The chronology shows the sender's entries and the receipt, in time order.
    let chron = ctx.store.chronology(555).await.unwrap();
    let kinds: Vec<&str> = chron.iter().filter_map(|i| i.entry.as_ref().map(|e| e.kind.as_str())).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "received").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k != "received").count(), 3);
    let log = ctx.store.transfers(&pkg.sha256).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].direction.as_str(), log[0].school.as_str(), log[0].records, log[0].entries), ("received", "Old School", 2, 3));
    let v = ctx.store.verify_records().await.unwrap();
    assert_eq!((v.received, v.first_break.clone()), (3, None));

    // A second import of the same package is refused whole.
    assert!(ctx.store.import_pupil_file(&pkg, 555, "Sam Pupil", "Kim Dsl, DSL", ts(T0 + 4 * DAY)).await.is_err());
    assert_eq!(scalar(&ctx, "SELECT COUNT(*) FROM record_received_entries").await, 3);

    // The transfer log and received entries are append-only; a changed received entry is named.
    for sql in ["DELETE FROM record_received_entries", "UPDATE record_transfers SET actor = 'x'", "DELETE FROM record_transfers"] {
        assert!(try_exec(&ctx, sql).await.is_err(), "{sql} was allowed");
    }
    match ctx.store.backend() {
        Backend::Sqlite => {
            exec(&ctx, "DROP TRIGGER record_received_entries_no_update").await;
            exec(&ctx, "UPDATE record_received_entries SET body = REPLACE(body, 'hungry', 'hungrY')").await;
        }
        Backend::Postgres => {
            exec(&ctx, "ALTER TABLE record_received_entries DISABLE TRIGGER USER; UPDATE record_received_entries SET body = REPLACE(body, 'hungry', 'hungrY')").await
        }
    }
    match ctx.store.verify_records().await.unwrap().first_break {
        Some(ChainBreak::Received { seq, record_id, .. }) => assert_eq!((seq, record_id.as_str()), (1, "far:r1")),
        other => panic!("expected the received entry named, got {other:?}"),
    }
}

async fn the_transfer_log_records_sent_and_confirmed(ctx: Ctx) {
    let t = |direction: &str| Transfer {
        direction: direction.into(),
        package_sha256: "ab".repeat(32),
        pupil_id: Some(100),
        school: "New School".into(),
        public_key: "cd".repeat(32),
        actor: "Pat Dsl, DSL".into(),
        records: 2,
        entries: 3,
        attachments: 1,
        at: ts(T0),
    };
    ctx.store.log_transfer(&t("sent")).await.unwrap();
    ctx.store.log_transfer(&t("receipt_confirmed")).await.unwrap();
    let log = ctx.store.transfers(&"ab".repeat(32)).await.unwrap();
    assert_eq!(log, vec![t("sent"), t("receipt_confirmed")]);
    assert!(ctx.store.transfers(&"ef".repeat(32)).await.unwrap().is_empty());
}

both!(a_pupils_file_holds_their_records_only, an_import_of_records_already_held_stores_nothing, a_received_file_is_kept_with_the_senders_hashes, the_transfer_log_records_sent_and_confirmed);
