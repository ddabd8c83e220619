//! Directory sync and directory sign-in against a real OpenLDAP server (Debian `slapd`), started
//! per test on a free loopback port with its own database, filled over LDAP by a real client.
//! Store-touching tests run on SQLite and on PostgreSQL. With `CI=true` a missing slapd fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use haven_accounts::people::{GroupMap, PersonKind};
use haven_directory::{
    Attributes, BindPassword, DEFAULT_GROUP_FILTER, DEFAULT_USER_FILTER, DirectoryConfig, DirectoryError, DirectoryGroup, DirectorySignIn, SyncMode,
    Transport, sign_in, sync,
};
use haven_store::{PeopleQuery, Store};
use jiff::Timestamp;
use ldap3::{LdapConnAsync, Mod};
use sqlx::Connection;

const SUFFIX: &str = "dc=school,dc=example";
const ADMIN: &str = "cn=admin,dc=school,dc=example";
const ADMIN_PW: &str = "admin-secret-1";
const SERVICE: &str = "cn=haven,ou=service,dc=school,dc=example";
const SERVICE_PW: &str = "service-secret-1";

/// A UPN with a correct DfE check letter, from a number.
fn upn(n: u64) -> String {
    const LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";
    let body = format!("{n:012}");
    let sum: usize = body.bytes().enumerate().map(|(i, c)| usize::from(c - b'0') * (i + 2)).sum();
    format!("{}{body}", LETTERS[sum % 23] as char)
}

/// A running slapd, stopped when dropped.
struct Slapd {
    url: String,
    _dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn slapd_binary() -> Option<&'static Path> {
    let p = Path::new("/usr/sbin/slapd");
    if p.exists() {
        return Some(p);
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "slapd is missing; CI must install slapd (see .ci/run)");
    eprintln!("directory tests skipped: no slapd (apt-get install slapd ldap-utils)");
    None
}

async fn start_slapd() -> Option<Slapd> {
    let bin = slapd_binary()?;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("db")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = format!(
        "include /etc/ldap/schema/core.schema\n\
         include /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\n\
         include /etc/ldap/schema/nis.schema\n\
         pidfile {d}/slapd.pid\n\
         modulepath /usr/lib/ldap\n\
         moduleload back_mdb\n\
         database mdb\n\
         suffix \"{SUFFIX}\"\n\
         rootdn \"{ADMIN}\"\n\
         rootpw {ADMIN_PW}\n\
         directory {d}/db\n\
         maxsize 10485760\n\
         access to attrs=userPassword by self write by anonymous auth by * none\n\
         access to * by dn.exact=\"{SERVICE}\" read by self read by * none\n",
        d = dir.path().display()
    );
    std::fs::write(dir.path().join("slapd.conf"), conf).unwrap();
    let url = format!("ldap://127.0.0.1:{port}");
    // -d 0 keeps slapd in the foreground, so the test owns the process.
    let child = Command::new(bin)
        .args(["-d", "0", "-f"])
        .arg(dir.path().join("slapd.conf"))
        .args(["-h", &format!("{url}/")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(Slapd { url, _dir: dir, child });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("slapd did not start on {url}");
}

/// An admin connection for filling and changing the directory.
async fn admin(url: &str) -> ldap3::Ldap {
    let (conn, mut ldap) = LdapConnAsync::new(url).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.drive().await;
    });
    ldap.simple_bind(ADMIN, ADMIN_PW).await.unwrap().success().unwrap();
    ldap
}

async fn add(ldap: &mut ldap3::Ldap, dn: &str, attrs: &[(&str, &[&str])]) {
    let a: Vec<(&str, HashSet<&str>)> = attrs.iter().map(|(k, v)| (*k, v.iter().copied().collect())).collect();
    ldap.add(dn, a).await.unwrap().success().unwrap_or_else(|e| panic!("adding {dn}: {e}"));
}

async fn person(ldap: &mut ldap3::Ldap, uid: &str, given: &str, family: &str, upn: Option<&str>, title: Option<&str>) {
    let dn = format!("uid={uid},ou=people,{SUFFIX}");
    let mail = format!("{uid}@school.example");
    let mut attrs: Vec<(&str, &[&str])> = vec![
        ("objectClass", &["inetOrgPerson"]),
        ("uid", std::slice::from_ref(&uid)),
        ("cn", &["x"]),
        ("givenName", std::slice::from_ref(&given)),
        ("sn", std::slice::from_ref(&family)),
        ("userPassword", &["pupil-pass-1"]),
    ];
    let mail_ref = mail.as_str();
    attrs.push(("mail", std::slice::from_ref(&mail_ref)));
    let upn_slot;
    if let Some(u) = upn {
        upn_slot = [u];
        attrs.push(("employeeNumber", &upn_slot));
    }
    let title_slot;
    if let Some(t) = title {
        title_slot = [t];
        attrs.push(("title", &title_slot));
    }
    add(ldap, &dn, &attrs).await;
}

fn people_dn(uid: &str) -> String {
    format!("uid={uid},ou=people,{SUFFIX}")
}

fn group_dn(cn: &str) -> String {
    format!("cn={cn},ou=groups,{SUFFIX}")
}

/// A small school: Year 7 holds form 7A (nested, with a loop back), Year 10, staff in a
/// groupOfUniqueNames, a pupil with a bad UPN, and someone in no configured group.
async fn seed(url: &str) {
    let mut l = admin(url).await;
    add(&mut l, SUFFIX, &[("objectClass", &["dcObject", "organization"]), ("o", &["School"]), ("dc", &["school"])]).await;
    for ou in ["people", "groups", "service"] {
        add(&mut l, &format!("ou={ou},{SUFFIX}"), &[("objectClass", &["organizationalUnit"]), ("ou", &[ou])]).await;
    }
    add(&mut l, SERVICE, &[("objectClass", &["person"]), ("cn", &["haven"]), ("sn", &["service"]), ("userPassword", &[SERVICE_PW])]).await;
    person(&mut l, "amy.p", "Amy", "Patel", Some(&upn(1)), None).await;
    person(&mut l, "ben.k", "Ben", "Khan", Some(&upn(2)), None).await;
    person(&mut l, "cal.m", "Cal", "Moss", Some(&upn(3)), None).await;
    person(&mut l, "dan.bad", "Dan", "Bad", Some("A12345"), None).await;
    person(&mut l, "t.jones", "Tara", "Jones", None, Some("Teacher of Maths")).await;
    person(&mut l, "x.other", "Xan", "Other", None, None).await;
    let (amy, ben, cal, dan, tara) = (people_dn("amy.p"), people_dn("ben.k"), people_dn("cal.m"), people_dn("dan.bad"), people_dn("t.jones"));
    let (y7, f7a, y10) = (group_dn("Year 7"), group_dn("7A"), group_dn("Year 10"));
    add(&mut l, &y7, &[("objectClass", &["groupOfNames"]), ("cn", &["Year 7"]), ("member", &[&amy, &f7a])]).await;
    add(&mut l, &f7a, &[("objectClass", &["groupOfNames"]), ("cn", &["7A"]), ("member", &[&ben, &y7])]).await;
    add(&mut l, &y10, &[("objectClass", &["groupOfNames"]), ("cn", &["Year 10"]), ("member", &[&cal, &dan])]).await;
    add(&mut l, &group_dn("All Staff"), &[("objectClass", &["groupOfUniqueNames"]), ("cn", &["All Staff"]), ("uniqueMember", &[&tara])]).await;
    let _ = l.unbind().await;
}

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
