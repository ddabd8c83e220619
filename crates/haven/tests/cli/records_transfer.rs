//! Moving school and the printed file, end to end with the real binary and two data
//! directories: `haven records key`, `export` (audited), forged packages refused by `import`
//! naming the check that failed with nothing stored, the good package imported with a signed
//! receipt, `confirm-receipt` at the sender, a second import refused, and `print` writing a PDF
//! (audited) with every entry and its chain hash.

use std::path::{Path, PathBuf};

use haven_accounts::people::{Person, PersonKind};
use haven_store::{NewEntry, NewRecord, PeopleQuery, Store};
use std::io::Read;

use crate::{haven, stderr, stdout};

const UPN: &str = "A123456789012";

struct School {
    _dir: tempfile::TempDir,
    root: PathBuf,
    url: String,
    config: String,
}

fn school(name: &str) -> School {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let url = format!("sqlite://{}", root.join("haven.db").display());
    let config = root.join("haven.toml");
    std::fs::write(&config, format!("[store]\nurl = \"{url}\"\n\n[proxy.pages]\nschool_name = \"{name}\"\n")).unwrap();
    School { config: config.to_str().unwrap().to_owned(), _dir: dir, root, url }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Add Sam to the school's people directory; their id there.
async fn add_pupil(store: &Store) -> i64 {
    let sam = Person {
        kind: PersonKind::Pupil,
        key: UPN.to_lowercase(),
        given_name: "Sam".into(),
        family_name: "Pupil".into(),
        year_group: Some(5),
        tutor_group: Some("5B".into()),
        date_of_birth: Some("2015-04-01".into()),
        upn: Some(UPN.into()),
        email: None,
        job_title: None,
        roles: None,
        filter_group: "ks2".into(),
    };
    let plan = store.plan_people_import(&[sam], &[PersonKind::Pupil]).await.unwrap();
    store.apply_people_import(&plan, "test", jiff::Timestamp::now()).await.unwrap();
    store.people(&PeopleQuery { kind: Some(PersonKind::Pupil), ..Default::default() }).await.unwrap()[0].id
}

fn record(id: &str, pupil: i64, body: &str) -> NewRecord {
    NewRecord {
        entry: NewEntry {
            record_id: id.into(),
            kind: "concern".into(),
            record_type: "safeguarding_concern".into(),
            sensitivity: "normal".into(),
            author_id: Some(1),
            author: "Jo Teacher, Class teacher".into(),
            occurred: jiff::Timestamp::from_millisecond(1_741_597_200_000).unwrap(),
            body: body.into(),
        },
        category: "neglect".into(),
        pupil_id: Some(pupil),
        pupil_name: "Sam Pupil".into(),
        subject_account: None,
        source: "disclosure".into(),
        pupils: vec![(pupil, "subject".into())],
        named: vec![],
        event_ids: vec![],
    }
}

fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("no {prefix:?} in {out}")).trim()
}

/// Re-tar a package, changing or dropping members.
fn rewrite(bytes: &[u8], f: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    for e in tar::Archive::new(bytes).entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mut content = Vec::new();
        e.read_to_end(&mut content).unwrap();
        if let Some(c) = f(&path, content) {
            let mut h = tar::Header::new_ustar();
            h.set_size(c.len() as u64);
            h.set_mode(0o644);
            out.append_data(&mut h, &path, c.as_slice()).unwrap();
        }
    }
    out.into_inner().unwrap()
}

async fn counts(url: &str) -> (i64, i64, i64) {
    let store = Store::open(url).await.unwrap();
    let v = store.verify_records().await.unwrap();
    let t = store.record_access_log(None, None, 100).await.unwrap().len() as i64;
    store.close().await;
    (v.entries as i64, v.received as i64, t)
}

fn refused(to: &School, file: &Path, extra: &[&str], check: &str) {
    let mut args = vec!["--config", to.config.as_str(), "records", "import", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = haven(&args);
    assert!(!out.status.success(), "{check}: accepted: {}", stdout(&out));
    assert!(stderr(&out).contains("package refused, nothing stored") && stderr(&out).contains(check), "expected {check:?}: {}", stderr(&out));
}

#[test]
fn a_pupils_file_moves_school_signed_verified_and_receipted() {
    let (old, new) = (school("Old School"), school("New School"));
    let rt = rt();
    let (old_id, new_id) = rt.block_on(async {
        let s = Store::open(&old.url).await.unwrap();
        let id = add_pupil(&s).await;
        let sha = s.put_attachment("note.txt", "text/plain", b"the signed note", "Jo Teacher", jiff::Timestamp::now()).await.unwrap();
        s.create_record(&record("old:r1", id, &format!(r#"{{"account":"Sam said they were hungry","attachments":["{sha}"]}}"#)), jiff::Timestamp::now()).await.unwrap();
        s.create_record(&record("old:r2", id, r#"{"account":"Sam was upset at lunch"}"#), jiff::Timestamp::now()).await.unwrap();
        s.close().await;
        let n = Store::open(&new.url).await.unwrap();
        // A different id at the new school: the UPN is what matches.
        n.create_record(&record("new:r0", 42, r#"{"account":"another child"}"#), jiff::Timestamp::now()).await.unwrap();
        let nid = add_pupil(&n).await;
        n.close().await;
        (id, nid)
    });

    // The key: made on first use, 0600, and its secret never printed.
    let key = haven(&["--config", &old.config, "records", "key"]);
    assert!(key.status.success(), "{}", stderr(&key));
    let (old_public, old_fp) = (line(&stdout(&key), "public key:").to_owned(), line(&stdout(&key), "fingerprint:").to_owned());
    let key_file = old.root.join("records-signing.key");
    let secret = std::fs::read(&key_file).unwrap();
    assert_eq!(secret.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let secret_hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!stdout(&key).contains(&secret_hex) && !stderr(&key).contains(&secret_hex));
    assert_eq!(stdout(&haven(&["--config", &old.config, "records", "key"])), stdout(&key), "the same key the second time");
    let new_key = haven(&["--config", &new.config, "records", "key"]);
    let new_public = line(&stdout(&new_key), "public key:").to_owned();
    assert_ne!(new_public, old_public);

    // Export, recorded in the access audit.
    let pkg = old.root.join("sam.havenpkg");
    let out = haven(&["--config", &old.config, "records", "export", "--pupil", UPN, "--out", pkg.to_str().unwrap(), "--by", "Pat Dsl, DSL"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 records, 2 entries, 1 attachments"), "{}", stdout(&out));
    let audit = rt.block_on(async {
        let s = Store::open(&old.url).await.unwrap();
        let a = s.record_access_log(None, Some(old_id), 10).await.unwrap();
        s.close().await;
        a
    });
    assert_eq!((audit[0].action.as_str(), audit[0].actor.as_str()), ("export", "Pat Dsl, DSL"));
    let bytes = std::fs::read(&pkg).unwrap();

    // Forgeries: each names its check, and the new school stores nothing.
    let before = rt.block_on(counts(&new.url));
    let forged = |name: &str, b: Vec<u8>| {
        let p = new.root.join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    let pos = bytes.windows(6).position(|w| w == b"hungry").unwrap();
    let mut one_byte = bytes.clone();
    one_byte[pos] = b'H';
    refused(&new, &forged("byte.pkg", one_byte), &[], "file hash check failed: records.json");
    refused(&new, &forged("nofile.pkg", rewrite(&bytes, |p, c| (!p.starts_with("attachments/")).then_some(c))), &[], "missing file: attachments/");
    refused(&new, &pkg, &["--expect-key", &new_public], "trusted key check failed");
    let sig = rewrite(&bytes, |p, c| Some(if p == "signature" { c.iter().rev().copied().collect() } else { c }));
    refused(&new, &forged("sig.pkg", sig), &[], "signature check failed");
    // Altered and re-signed with another school's key: it verifies on its own, not against the trusted key.
    let mut p = haven_records::package::read_package(&bytes, None).unwrap();
    p.records.records[0].entries[0].body = p.records.records[0].entries[0].body.replace("hungry", "fine");
    p.records.records[0].entries[0].hash = haven_records::entry_hash(&p.records.records[0].entries[0].hash_input());
    let resigned = haven_records::package::write_package(p.manifest.clone(), &p.records, &p.attachments, &[1; 32]).unwrap();
    refused(&new, &forged("resigned.pkg", resigned), &["--expect-key", &old_fp], "trusted key check failed");
    assert_eq!(rt.block_on(counts(&new.url)), before, "nothing stored by any refused import");

    // The real package, checked against the fingerprint given by phone.
    let receipt = new.root.join("sam.receipt");
    let out = haven(&["--config", &new.config, "records", "import", pkg.to_str().unwrap(), "--expect-key", &old_fp, "--receipt", receipt.to_str().unwrap(), "--by", "Kim Dsl, DSL"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("imported Sam Pupil's file from Old School: 2 records, 2 entries, 1 attachments"), "{}", stdout(&out));
    let (chron, access) = rt.block_on(async {
        let s = Store::open(&new.url).await.unwrap();
        let c = s.chronology(new_id).await.unwrap();
        let a = s.record_access_log(None, Some(new_id), 10).await.unwrap();
        let att = s.attachment(&haven_records::content_hash(b"the signed note")).await.unwrap();
        assert_eq!(att.map(|a| a.content), Some(b"the signed note".to_vec()));
        s.close().await;
        (c, a)
    });
    let bodies: Vec<&str> = chron.iter().filter_map(|i| i.entry.as_ref().map(|e| e.body.as_str())).collect();
    assert!(bodies.iter().any(|b| b.contains("Sam said they were hungry")), "the sender's entries are in the chronology: {bodies:?}");
    assert_eq!(bodies.iter().filter(|b| b.contains("\"from_school\":\"Old School\"")).count(), 2, "one received entry per record");
    assert_eq!(access[0].action, "import");
    let verify = haven(&["--config", &new.config, "records", "verify"]);
    assert!(stdout(&verify).contains("records intact: 3 entries") && stdout(&verify).contains("2 entries received from other schools match"), "{}", stdout(&verify));
    let again = haven(&["--config", &new.config, "records", "import", pkg.to_str().unwrap()]);
    assert!(!again.status.success() && stderr(&again).contains("already held here"), "{}", stderr(&again));

    // The sender confirms the receipt, checked against the new school's key; a changed receipt is refused.
    let rbytes = std::fs::read(&receipt).unwrap();
    let pos = rbytes.windows(8).position(|w| w == b"\"records").unwrap();
    let mut bad = rbytes.clone();
    bad[pos + 12] ^= 1;
    let bad_path = old.root.join("bad.receipt");
    std::fs::write(&bad_path, bad).unwrap();
    let out = haven(&["--config", &old.config, "records", "confirm-receipt", bad_path.to_str().unwrap()]);
    assert!(!out.status.success() && stderr(&out).contains("receipt refused"), "{}", stderr(&out));
    let out = haven(&["--config", &old.config, "records", "confirm-receipt", receipt.to_str().unwrap(), "--expect-key", &old_public]);
    assert!(!out.status.success() && stderr(&out).contains("trusted key check failed"), "{}", stderr(&out));
    let out = haven(&["--config", &old.config, "records", "confirm-receipt", receipt.to_str().unwrap(), "--expect-key", &new_public]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("receipt confirmed: New School received package"), "{}", stdout(&out));
    let log = rt.block_on(async {
        let s = Store::open(&old.url).await.unwrap();
        let sha = haven_records::content_hash(&bytes);
        let l = s.transfers(&sha).await.unwrap();
        s.close().await;
        l
    });
    assert_eq!(log.iter().map(|t| t.direction.as_str()).collect::<Vec<_>>(), ["sent", "receipt_confirmed"]);
    // The new school cannot confirm a receipt for a package it never sent.
    let out = haven(&["--config", &new.config, "records", "confirm-receipt", receipt.to_str().unwrap()]);
    assert!(!out.status.success() && stderr(&out).contains("receipt refused"), "{}", stderr(&out));

    // The printed file at the new school: a PDF with the sender's entries and hashes, audited.
    let pdf = new.root.join("sam.pdf");
    let out = haven(&["--config", &new.config, "records", "print", "--pupil", &new_id.to_string(), "--out", pdf.to_str().unwrap(), "--by", "Kim Dsl, DSL"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pdf = std::fs::read(&pdf).unwrap();
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.starts_with("%PDF-1.4") && text.trim_end().ends_with("%%EOF"));
    assert!(text.contains("(Page 1 of 1)") && text.contains("Kim Dsl, DSL") && text.contains("New School"), "page header");
    assert!(text.contains("account: Sam said they were hungry"), "the sender's entry text is printed");
    let first = &chron.iter().find_map(|i| i.entry.as_ref().filter(|e| e.body.contains("hungry"))).unwrap().hash;
    assert!(text.contains(&format!("chain hash {first}")), "each entry's hash is printed");
    let access = rt.block_on(async {
        let s = Store::open(&new.url).await.unwrap();
        let a = s.record_access_log(None, Some(new_id), 10).await.unwrap();
        s.close().await;
        a
    });
    assert_eq!((access[0].action.as_str(), access[0].actor.as_str()), ("print", "Kim Dsl, DSL"));
}
