//! Directory sync and directory sign-in against a real OpenLDAP server (Debian `slapd`, see
//! `slapd/mod.rs`). Store-touching tests run on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod slapd;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use haven_accounts::people::{GroupMap, PersonKind};
use haven_directory::{
    Attributes, BindPassword, DEFAULT_GROUP_FILTER, DEFAULT_USER_FILTER, DirectoryConfig, DirectoryError, DirectoryGroup, DirectorySignIn, SyncMode,
    Transport, sign_in, sync,
};
use haven_store::{PeopleQuery, Store};
use jiff::Timestamp;
use ldap3::Mod;
use slapd::*;
use sqlx::Connection;

fn config(url: &str) -> DirectoryConfig {
    DirectoryConfig {
        url: url.to_owned(),
        transport: Transport::Plain,
        bind_dn: SERVICE.into(),
        bind_password: BindPassword::new(SERVICE_PW),
        base_dn: SUFFIX.into(),
        user_filter: DEFAULT_USER_FILTER.into(),
        group_filter: DEFAULT_GROUP_FILTER.into(),
        attributes: Attributes::default(),
        groups: vec![
            DirectoryGroup { dn: group_dn("Year 7"), kind: PersonKind::Pupil, year: Some(7), tutor_group: None, roles: None },
            DirectoryGroup { dn: group_dn("Year 10"), kind: PersonKind::Pupil, year: Some(10), tutor_group: None, roles: None },
            DirectoryGroup { dn: group_dn("All Staff"), kind: PersonKind::Staff, year: None, tutor_group: None, roles: Some("teacher".into()) },
        ],
        timeout: Duration::from_secs(5),
        max_leavers_percent: 20,
        page_size: 2,
    }
}

fn now() -> Timestamp {
    Timestamp::from_second(1_764_662_400).unwrap()
}

// ---- per-backend stores ----

fn pg_admin_url() -> String {
    std::env::var("HAVEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A migrated store on the named backend, and what to drop afterwards.
async fn store(backend: &str) -> (Store, Option<String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    if backend == "sqlite" {
        let s = Store::open(&format!("sqlite://{}", dir.path().join("haven.db").display())).await.unwrap();
        return (s, None, dir);
    }
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!("haven_dir_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let mut admin = sqlx::PgConnection::connect(&pg_admin_url()).await.expect("PostgreSQL for the directory tests is unreachable");
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
    let mut url = url::Url::parse(&pg_admin_url()).unwrap();
    url.set_path(&format!("/{name}"));
    (Store::open(url.as_str()).await.unwrap(), Some(name), dir)
}

async fn drop_store(s: Store, name: Option<String>) {
    s.close().await;
    if let Some(name) = name {
        let mut admin = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
    }
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name("sqlite").await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name("postgres").await
                }
            }
        )*
    };
}

both!(sync_maps_nested_groups_and_records_sign_in_names, a_pupil_leaving_the_group_is_marked_left_not_deleted, a_sync_that_would_disable_a_year_group_is_refused);

async fn sync_maps_nested_groups_and_records_sign_in_names(backend: &str) {
    let Some(ldap) = start_slapd().await else { return };
    seed(&ldap.url).await;
    let (store, name, _dir) = store(backend).await;
    let c = config(&ldap.url);
    let groups = GroupMap::default();

    let dry = sync(&store, &c, &groups, SyncMode { dry_run: true, ..Default::default() }, now()).await.unwrap();
    assert!(!dry.applied);
    let mut adds: Vec<(String, Option<i32>, String)> = dry.plan.adds.iter().map(|p| (p.given_name.clone(), p.year_group, p.filter_group.clone())).collect();
    adds.sort();
    assert_eq!(
        adds,
        [
            ("Amy".to_owned(), Some(7), "ks3".to_owned()),
            ("Ben".to_owned(), Some(7), "ks3".to_owned()),
            ("Cal".to_owned(), Some(10), "ks4".to_owned()),
            ("Tara".to_owned(), None, "staff".to_owned()),
        ],
        "Ben is in Year 7 through the nested form 7A; Xan is in no configured group"
    );
    assert_eq!(dry.errors.len(), 1, "{:?}", dry.errors);
    assert_eq!(dry.errors[0].dn, people_dn("dan.bad"));
    assert_eq!(dry.errors[0].attribute, "employeeNumber");
    assert!(store.people(&PeopleQuery::default()).await.unwrap().is_empty(), "a dry run stores nothing");
    assert_eq!(dry.group_sizes[0], (group_dn("Year 7"), 2), "the loop 7A -> Year 7 is visited once");

    let done = sync(&store, &c, &groups, SyncMode::default(), now()).await.unwrap();
    assert!(done.applied);
    let people = store.people(&PeopleQuery::default()).await.unwrap();
    assert_eq!(people.len(), 4);
    let tara = people.iter().find(|p| p.person.given_name == "Tara").unwrap();
    assert_eq!(tara.person.key, "t.jones@school.example");
    assert_eq!(tara.person.job_title.as_deref(), Some("Teacher of Maths"));
    assert_eq!(tara.person.roles.as_deref(), Some("teacher"));
    assert!(tara.source.starts_with("directory ldap://"), "{}", tara.source);
    let ben = store.person_for_login("Ben.K").await.unwrap().expect("sign-in names are stored");
    assert_eq!(ben.person.upn.as_deref(), Some(upn(2).as_str()));

    let again = sync(&store, &c, &groups, SyncMode::default(), now()).await.unwrap();
    assert!(again.plan.adds.is_empty() && again.plan.changes.is_empty() && again.plan.leavers.is_empty());
    assert_eq!(again.plan.unchanged, 4);
    drop_store(store, name).await;
}

async fn a_pupil_leaving_the_group_is_marked_left_not_deleted(backend: &str) {
    let Some(ldap) = start_slapd().await else { return };
    seed(&ldap.url).await;
    let (store, name, _dir) = store(backend).await;
    let c = config(&ldap.url);
    sync(&store, &c, &GroupMap::default(), SyncMode::default(), now()).await.unwrap();

    let mut l = admin(&ldap.url).await;
    let amy = people_dn("amy.p");
    l.modify(&group_dn("Year 7"), vec![Mod::Delete("member", HashSet::from([amy.as_str()]))]).await.unwrap().success().unwrap();
    // Cal moves to Year 7 (a change of year and group, not a leaver).
    let cal = people_dn("cal.m");
    l.modify(&group_dn("Year 10"), vec![Mod::Delete("member", HashSet::from([cal.as_str()]))]).await.unwrap().success().unwrap();
    l.modify(&group_dn("7A"), vec![Mod::Add("member", HashSet::from([cal.as_str()]))]).await.unwrap().success().unwrap();

    let r = sync(&store, &c, &GroupMap::default(), SyncMode::default(), now()).await.unwrap();
    assert_eq!(r.plan.leavers.len(), 1);
    assert_eq!(r.plan.leavers[0].person.given_name, "Amy");
    assert_eq!(r.plan.changes.len(), 1);
    assert!(r.plan.changes[0].fields.contains(&"year group"), "{:?}", r.plan.changes[0].fields);
    let all = store.people(&PeopleQuery { include_left: true, ..Default::default() }).await.unwrap();
    let amy = all.iter().find(|p| p.person.given_name == "Amy").expect("a leaver is kept");
    assert!(!amy.active && amy.left.is_some());
    let cal = all.iter().find(|p| p.person.given_name == "Cal").unwrap();
    assert_eq!((cal.person.year_group, cal.person.filter_group.as_str()), (Some(7), "ks3"));
    drop_store(store, name).await;
}

async fn a_sync_that_would_disable_a_year_group_is_refused(backend: &str) {
    let Some(ldap) = start_slapd().await else { return };
    seed(&ldap.url).await;
    let mut l = admin(&ldap.url).await;
    let mut members = Vec::new();
    for i in 0..8 {
        let uid = format!("y8.{i}");
        person(&mut l, &uid, "Pupil", &format!("Eight{i}"), Some(&upn(100 + i)), None).await;
        members.push(people_dn(&uid));
    }
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    add(&mut l, &group_dn("Year 8"), &[("objectClass", &["groupOfNames"]), ("cn", &["Year 8"]), ("member", &refs)]).await;
    let (store, name, _dir) = store(backend).await;
    let mut c = config(&ldap.url);
    c.groups.push(DirectoryGroup { dn: group_dn("Year 8"), kind: PersonKind::Pupil, year: Some(8), tutor_group: None, roles: None });
    sync(&store, &c, &GroupMap::default(), SyncMode::default(), now()).await.unwrap();
    assert_eq!(store.people(&PeopleQuery::default()).await.unwrap().len(), 12);

    // A typo in a group DN must not disable everyone in it.
    let mut typo = c.clone();
    typo.groups[3].dn = group_dn("Year Eight");
    let e = sync(&store, &typo, &GroupMap::default(), SyncMode::default(), now()).await.unwrap_err();
    assert!(matches!(e, DirectoryError::MissingGroup(_)), "{e}");
    assert!(e.to_string().contains("cn=Year Eight"), "{e}");

    // Seven of eight leave at once: refused unless the IT manager says it is right.
    for m in &members[..7] {
        l.modify(&group_dn("Year 8"), vec![Mod::Delete("member", HashSet::from([m.as_str()]))]).await.unwrap().success().unwrap();
    }
    let e = sync(&store, &c, &GroupMap::default(), SyncMode::default(), now()).await.unwrap_err();
    assert!(e.to_string().contains("mark 7 of 12 active people (pupil and staff) as left"), "{e}");
    assert_eq!(store.people(&PeopleQuery::default()).await.unwrap().len(), 12, "nothing changed");
    let ok = sync(&store, &c, &GroupMap::default(), SyncMode { allow_mass_leavers: true, ..Default::default() }, now()).await.unwrap();
    assert_eq!(ok.plan.leavers.len(), 7);
    assert_eq!(store.people(&PeopleQuery::default()).await.unwrap().len(), 5);
    drop_store(store, name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_and_base_are_named() {
    let Some(ldap) = start_slapd().await else { return };
    seed(&ldap.url).await;
    let (store, name, _dir) = store("sqlite").await;
    let mut c = config(&ldap.url);
    c.bind_password = BindPassword::new("wrong");
    let e = sync(&store, &c, &GroupMap::default(), SyncMode::default(), now()).await.unwrap_err();
    assert!(matches!(e, DirectoryError::BindRefused { .. }), "{e}");
    assert!(e.to_string().contains(SERVICE) && !e.to_string().contains("wrong"), "names the DN, never the password: {e}");
    assert!(!format!("{c:?}").contains("wrong"), "Debug hides the password");
    let mut c = config(&ldap.url);
    c.base_dn = "ou=nowhere,dc=school,dc=example".into();
    let e = sync(&store, &c, &GroupMap::default(), SyncMode::default(), now()).await.unwrap_err();
    assert!(matches!(e, DirectoryError::NoSuchBase { .. }), "{e}");
    let c = config("ldap://127.0.0.1:1");
    let e = sync(&store, &c, &GroupMap::default(), SyncMode::default(), now()).await.unwrap_err();
    assert!(matches!(e, DirectoryError::Connect { .. } | DirectoryError::Timeout { .. }), "{e}");
    drop_store(store, name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_sign_in_binds_as_the_user() {
    let Some(ldap) = start_slapd().await else { return };
    seed(&ldap.url).await;
    let c = config(&ldap.url);
    match sign_in(&c, "Amy.P", "pupil-pass-1").await.unwrap() {
        DirectorySignIn::Accepted { dn, logins, email } => {
            assert_eq!(dn, people_dn("amy.p"));
            assert_eq!(logins, ["amy.p"]);
            assert_eq!(email.as_deref(), Some("amy.p@school.example"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(sign_in(&c, "amy.p@school.example", "pupil-pass-1").await.unwrap(), DirectorySignIn::Accepted { .. }), "email works too");
    assert!(matches!(sign_in(&c, "amy.p", "nope").await.unwrap(), DirectorySignIn::Refused(_)));
    assert_eq!(sign_in(&c, "amy.p", "").await.unwrap(), DirectorySignIn::Refused("empty password".into()), "never an anonymous bind");
    assert_eq!(sign_in(&c, "nobody", "x").await.unwrap(), DirectorySignIn::Unknown);
    assert_eq!(sign_in(&c, "*", "pupil-pass-1").await.unwrap(), DirectorySignIn::Unknown, "filter characters are escaped");
    assert_eq!(sign_in(&c, "amy.p)(uid=*", "pupil-pass-1").await.unwrap(), DirectorySignIn::Unknown);
}
