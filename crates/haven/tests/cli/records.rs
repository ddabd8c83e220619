//! `haven records verify` on a real data directory: an intact chain passes; one byte changed
//! directly in the SQLite file is named by entry number and record, with exit status 1.

use haven_store::{NewEntry, NewRecord, Store};
use sqlx::Connection;

use crate::{haven, stderr, stdout};

fn record(id: &str) -> NewRecord {
    NewRecord {
        entry: NewEntry {
            record_id: id.into(),
            kind: "concern".into(),
            record_type: "safeguarding_concern".into(),
            sensitivity: "normal".into(),
            author_id: Some(1),
            author: "Jo Teacher, Class teacher".into(),
            occurred: jiff::Timestamp::from_millisecond(1_741_597_200_000).unwrap(),
            body: r#"{"account":"Sam said they were hungry"}"#.into(),
        },
        category: "neglect".into(),
        pupil_id: Some(1),
        pupil_name: "Sam Pupil".into(),
        subject_account: None,
        source: "disclosure".into(),
        pupils: vec![(1, "subject".into())],
        named: vec![],
        event_ids: vec![],
    }
}

#[test]
fn verify_passes_then_names_the_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("haven.db");
    let url = format!("sqlite://{}", db.display());
    let config = dir.path().join("haven.toml");
    std::fs::write(&config, format!("[store]\nurl = \"{url}\"\n")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = Store::open(&url).await.unwrap();
        for id in ["r1", "r2", "r3"] {
            store.create_record(&record(id), jiff::Timestamp::now()).await.unwrap();
        }
        store.close().await;
    });
    let c = config.to_str().unwrap();
    let ok = haven(&["--config", c, "records", "verify"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("records intact: 3 entries and 0 attachments"), "{}", stdout(&ok));

    rt.block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("DROP TRIGGER record_entries_no_update; UPDATE record_entries SET body = REPLACE(body, 'hungry', 'hungrY') WHERE seq = 2")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let bad = haven(&["--config", c, "records", "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("entry 2 (record r2) does not match its hash"), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("1 entries before it matched"), "{}", stderr(&bad));
}
