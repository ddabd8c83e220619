//! A real OpenLDAP server (Debian `slapd`) for tests: started on a free loopback port with a
//! database of its own, filled over LDAP by a real client, stopped when dropped. Shared by the
//! directory crate's tests and the binary's end-to-end tests. With `CI=true` a missing slapd fails.
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ldap3::LdapConnAsync;

pub const SUFFIX: &str = "dc=school,dc=example";
pub const ADMIN: &str = "cn=admin,dc=school,dc=example";
pub const ADMIN_PW: &str = "admin-secret-1";
pub const SERVICE: &str = "cn=haven,ou=service,dc=school,dc=example";
pub const SERVICE_PW: &str = "service-secret-1";

/// A UPN with a correct DfE check letter, from a number.
pub fn upn(n: u64) -> String {
    const LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";
    let body = format!("{n:012}");
    let sum: usize = body.bytes().enumerate().map(|(i, c)| usize::from(c - b'0') * (i + 2)).sum();
    format!("{}{body}", LETTERS[sum % 23] as char)
}

/// A running slapd, stopped when dropped.
pub struct Slapd {
    pub url: String,
    _dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn slapd_binary() -> Option<&'static Path> {
    let p = Path::new("/usr/sbin/slapd");
    if p.exists() {
        return Some(p);
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "slapd is missing; CI must install slapd (see .ci/run)");
    eprintln!("directory tests skipped: no slapd (apt-get install slapd ldap-utils)");
    None
}

pub async fn start_slapd() -> Option<Slapd> {
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
pub async fn admin(url: &str) -> ldap3::Ldap {
    let (conn, mut ldap) = LdapConnAsync::new(url).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.drive().await;
    });
    ldap.simple_bind(ADMIN, ADMIN_PW).await.unwrap().success().unwrap();
    ldap
}

pub async fn add(ldap: &mut ldap3::Ldap, dn: &str, attrs: &[(&str, &[&str])]) {
    let a: Vec<(&str, HashSet<&str>)> = attrs.iter().map(|(k, v)| (*k, v.iter().copied().collect())).collect();
    ldap.add(dn, a).await.unwrap().success().unwrap_or_else(|e| panic!("adding {dn}: {e}"));
}

pub async fn person(ldap: &mut ldap3::Ldap, uid: &str, given: &str, family: &str, upn: Option<&str>, title: Option<&str>) {
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

pub fn people_dn(uid: &str) -> String {
    format!("uid={uid},ou=people,{SUFFIX}")
}

pub fn group_dn(cn: &str) -> String {
    format!("cn={cn},ou=groups,{SUFFIX}")
}

/// A small school: Year 7 holds form 7A (nested, with a loop back), Year 10, staff in a
/// groupOfUniqueNames, a pupil with a bad UPN, and someone in no configured group.
pub async fn seed(url: &str) {
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
