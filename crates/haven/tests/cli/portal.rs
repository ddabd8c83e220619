//! The captive portal through the real `haven serve`: an unknown address gets the fallback
//! group's answers (and its OS connectivity check is sent to the portal), a portal sign-in from
//! that address changes its answers at once, and a restart keeps the sign-in.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, haven, stderr};

fn dig_from(source: &str, port: u16, name: &str) -> String {
    let out = Command::new("dig")
        .args(["-b", source, "@127.0.0.1", "-p", &port.to_string(), name, "+time=2", "+tries=1"])
        .output()
        .expect("dig is needed (apt-get install bind9-dnsutils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl").args(["-sS", "--max-time", "10"]).args(args).output().expect("curl is needed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn serve(cfg: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .env("HAVEN_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) {
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..150 {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} never happened");
}

#[test]
fn a_portal_sign_in_changes_what_an_unknown_address_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("haven");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "Chalkboard42\n").unwrap();
    let init = haven(&["init", data.to_str().unwrap(), "--password-file", pw.to_str().unwrap(), "--school", "St John's"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let (dns, metrics, console) = (free_port(), free_port(), free_port());
    let cfg = data.join("haven.toml");
    // Nothing in the directory: every loopback address is an unknown device.
    std::fs::write(
        &cfg,
        format!(
            "[[groups.unknown.sites]]\naction = \"block\"\nsite = \"unknown-blocked.example\"\nreason = \"test\"\nauthor = \"ci\"\n\
             [[groups.staff.sites]]\naction = \"block\"\nsite = \"staff-blocked.example\"\nreason = \"test\"\nauthor = \"ci\"\n\
             [dns]\nlisten = [\"127.0.0.1:{dns}\"]\nupstreams = [\"127.0.0.1:9\"]\nservfail_after_ms = 300\nblock_page_ipv4 = \"10.9.9.9\"\n\
             [store]\nurl = \"sqlite://data/haven.db\"\n[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n[proxy]\nlisten = []\n\
             [console]\nlisten = \"127.0.0.1:{console}\"\ntls = false\nschool = \"St John's\"\n\
             [portal]\nurl = \"http://127.0.0.1:{console}/portal\"\nsign_in_hours = 2\n"
        ),
    )
    .unwrap();
    let check = haven(&["--config", cfg.to_str().unwrap(), "config"]);
    assert!(check.status.success(), "{}", stderr(&check));
    let child = serve(&cfg);
    wait_for("haven serve answering", || dig_from("127.0.0.7", dns, "unknown-blocked.example").contains("10.9.9.9"));

    // Unknown: the fallback group's answers, and the OS's portal check gets the portal's address.
    assert!(dig_from("127.0.0.7", dns, "staff-blocked.example").contains("status: SERVFAIL"), "allowed, so forwarded (upstream down)");
    assert!(dig_from("127.0.0.7", dns, "captive.apple.com").contains("10.9.9.9"));

    // Sign in at the portal from 127.0.0.7 with the admin's console account.
    let portal = format!("http://127.0.0.1:{console}/portal");
    let jar = dir.path().join("jar");
    wait_for("the console answering", || curl(&["--interface", "127.0.0.7", "-c", jar.to_str().unwrap(), &portal]).contains("csrf_token"));
    let page = curl(&["--interface", "127.0.0.7", "-b", jar.to_str().unwrap(), "-c", jar.to_str().unwrap(), &portal]);
    let csrf = page.split("name=\"csrf_token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let signed = curl(&[
        "--interface",
        "127.0.0.7",
        "-b",
        jar.to_str().unwrap(),
        "--data-urlencode",
        &format!("csrf_token={csrf}"),
        "--data-urlencode",
        "username=admin",
        "--data-urlencode",
        "password=Chalkboard42",
        &portal,
    ]);
    assert!(signed.contains("is connected as <strong>admin</strong>"), "{signed}");

    // The same address now gets the staff group's answers; another is still unknown.
    assert!(dig_from("127.0.0.7", dns, "staff-blocked.example").contains("10.9.9.9"));
    assert!(dig_from("127.0.0.7", dns, "unknown-blocked.example").contains("status: SERVFAIL"));
    assert!(dig_from("127.0.0.7", dns, "captive.apple.com").contains("status: SERVFAIL"), "the OS check now goes upstream");
    assert!(dig_from("127.0.0.8", dns, "unknown-blocked.example").contains("10.9.9.9"));

    // A restart restores the sign-in.
    stop(child);
    let child = serve(&cfg);
    wait_for("haven serve answering again", || dig_from("127.0.0.8", dns, "unknown-blocked.example").contains("10.9.9.9"));
    assert!(dig_from("127.0.0.7", dns, "staff-blocked.example").contains("10.9.9.9"));
    stop(child);

    let out = haven(&["--config", cfg.to_str().unwrap(), "activity", "--format", "json", "--limit", "200"]);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let staff =
        rows.iter().find(|r| r["name"] == "staff-blocked.example" && r["decision"] == "block").expect("the signed-in query is logged");
    assert_eq!(
        (staff["client"].as_str(), staff["group"].as_str(), staff["user"].as_str()),
        (Some("127.0.0.7"), Some("staff"), Some("admin"))
    );
    assert!(rows.iter().any(|r| r["name"] == "captive.apple.com" && r["rule"] == "portal/captive-probe"));
}
