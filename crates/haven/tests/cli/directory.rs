//! `haven people sync` against a real OpenLDAP server: the dry run shows adds by nested group
//! and names the refused entry's DN and attribute (exit 2); the real run stores the people and
//! their sign-in names and records the sync in the audit log; a wrong service password is a
//! clear error that never prints the password.

use crate::{haven, stderr, stdout};

#[path = "../../../haven-directory/tests/slapd/mod.rs"]
mod slapd;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn write_config(dir: &std::path::Path, url: &str, password: &str) -> String {
    let cfg = dir.join("haven.toml");
    std::fs::write(dir.join("ldap-password"), format!("{password}\n")).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "[store]\nurl = \"sqlite://data/haven.db\"\n\
             [directory]\nurl = \"{url}\"\nbind_dn = \"{service}\"\nbind_password_file = \"ldap-password\"\nbase_dn = \"{suffix}\"\nsync_minutes = 0\n\
             [[directory.groups]]\ndn = \"cn=Year 7,ou=groups,{suffix}\"\nkind = \"pupil\"\nyear = 7\n\
             [[directory.groups]]\ndn = \"cn=Year 10,ou=groups,{suffix}\"\nkind = \"pupil\"\nyear = 10\n\
             [[directory.groups]]\ndn = \"cn=All Staff,ou=groups,{suffix}\"\nkind = \"staff\"\nroles = \"teacher\"\n",
            service = slapd::SERVICE,
            suffix = slapd::SUFFIX,
        ),
    )
    .unwrap();
    cfg.display().to_string()
}

#[test]
fn people_sync_from_slapd_dry_run_then_real() {
    let rt = runtime();
    let Some(server) = rt.block_on(slapd::start_slapd()) else { return };
    rt.block_on(slapd::seed(&server.url));
    let dir = tempfile::tempdir().unwrap();
    let c = write_config(dir.path(), &server.url, slapd::SERVICE_PW);

    let dry = haven(&["--config", &c, "people", "sync", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(2), "a refused entry: exit 2\n{}", stderr(&dry));
    let out = stdout(&dry);
    assert!(out.contains("add     Ben Khan (pupil, ks3)"), "nested 7A is in Year 7: {out}");
    assert!(out.contains("add     Cal Moss (pupil, ks4)") && out.contains("add     Tara Jones (staff, staff)"), "{out}");
    assert!(out.contains("dry run: 6 user(s)") && out.contains("4 to add") && out.contains("nothing written"), "{out}");
    assert!(stderr(&dry).contains("uid=dan.bad,ou=people,dc=school,dc=example (employeeNumber)"), "{}", stderr(&dry));
    assert_eq!(stdout(&haven(&["--config", &c, "people", "list"])), "", "a dry run writes nothing");

    let real = haven(&["--config", &c, "people", "sync"]);
    assert_eq!(real.status.code(), Some(2), "{}", stderr(&real));
    assert!(stdout(&real).contains("synced: 6 user(s)"), "{}", stdout(&real));
    let list = stdout(&haven(&["--config", &c, "people", "list"]));
    assert_eq!(list.lines().count(), 4, "{list}");
    assert!(list.contains("Ben Khan\tpupil\tY7\t\tks3"), "{list}");
    let again = haven(&["--config", &c, "people", "sync"]);
    assert!(stdout(&again).contains("0 to add, 0 to change, 0 leaving, 4 unchanged"), "{}", stdout(&again));
}

#[test]
fn a_wrong_service_password_is_named_but_never_printed() {
    let rt = runtime();
    let Some(server) = rt.block_on(slapd::start_slapd()) else { return };
    rt.block_on(slapd::seed(&server.url));
    let dir = tempfile::tempdir().unwrap();
    let c = write_config(dir.path(), &server.url, "not-the-password-9");
    let o = haven(&["--config", &c, "people", "sync"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("refused the bind as `cn=haven,ou=service,dc=school,dc=example`"), "{err}");
    assert!(!err.contains("not-the-password-9") && !stdout(&o).contains("not-the-password-9"), "{err}");
}

#[test]
fn plain_ldap_to_another_machine_is_refused_at_config_check() {
    let dir = tempfile::tempdir().unwrap();
    let c = write_config(dir.path(), "ldap://dc1.school.example", "x");
    let o = haven(&["--config", &c, "people", "sync", "--dry-run"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("directory.url"), "{}", stderr(&o));
    assert!(stderr(&o).contains("in clear"), "{}", stderr(&o));
}
