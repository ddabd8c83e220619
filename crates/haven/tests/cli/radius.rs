//! RADIUS accounting through the real `haven serve`, driven by FreeRADIUS's `radclient` the way
//! a Wi-Fi controller sends it: Start binds the address to the person (and `dig` from that
//! address gets their group's answer), Interim-Update keeps it, Stop releases it, and a packet
//! signed with the wrong shared secret gets no answer and is counted.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{dig, free_port, haven, metric, stderr, stdout};

const SECRET: &str = "wifi-shared-secret-1";
/// The pupil's laptop: dig sends from this loopback address, radclient reports it as Framed-IP.
const LAPTOP: &str = "127.0.0.5";

/// Send one accounting packet; true when Haven answered (radclient exits 0 only on a response).
fn radclient(port: u16, secret: &str, attrs: &str) -> bool {
    let mut child = Command::new("radclient")
        .args(["-r", "1", "-t", "2", "-q", &format!("127.0.0.1:{port}"), "acct", secret])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("radclient is needed (apt-get install freeradius-utils)");
    child.stdin.take().unwrap().write_all(attrs.as_bytes()).unwrap();
    child.wait().unwrap().success()
}

fn dig_from_laptop(dns: u16, name: &str) -> String {
    dig(dns, name, &["-b", LAPTOP, "+short"])
}

#[test]
fn radclient_start_binds_interim_keeps_stop_releases_and_a_wrong_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (dns, metrics, radius) = (free_port(), free_port(), free_port());
    let cfg = dir.path().join("haven.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[identity.networks]]\ncidr = \"127.0.0.0/8\"\ngroup = \"reception_ks1\"\n\
             [[groups.ks3.sites]]\naction = \"block\"\nsite = \"ks3-only-block.example\"\nreason = \"test\"\nauthor = \"ci\"\n\
             [dns]\nlisten = [\"127.0.0.1:{dns}\"]\nupstreams = [\"127.0.0.1:9\"]\nservfail_after_ms = 300\nblock_page_ipv4 = \"10.9.9.9\"\n\
             [store]\nurl = \"sqlite://data/haven.db\"\n[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n[proxy]\nlisten = []\n\
             [radius]\nlisten = [\"127.0.0.1:{radius}\"]\nbinding_minutes = 60\n\
             [[radius.clients]]\nname = \"wifi-controller\"\ncidr = \"127.0.0.0/8\"\nsecret_file = \"radius-secret\"\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("radius-secret"), format!("{SECRET}\n")).unwrap();
    let c = cfg.to_str().unwrap();
    // The pupil is in the people directory (imported from the MIS), in Year 7: Key Stage 3.
    let csv = dir.path().join("roll.csv");
    std::fs::write(&csv, "kind,given_name,family_name,year_group,upn,email\npupil,Jo,Smith,Year 7,A123456789012,jo.smith@school.example\n")
        .unwrap();
    let import = haven(&["--config", c, "people", "import", csv.to_str().unwrap()]);
    assert!(import.status.success(), "{}", stderr(&import));

    let mut child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(["--config", c, "serve"])
        .env("HAVEN_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..100 {
        if dig(dns, "use-application-dns.net", &[]).contains("NXDOMAIN") {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(up, "haven serve never answered");
    // Before any accounting the laptop is just an address on the network: reception_ks1, which
    // does not block the ks3-only site (the unreachable upstream answers SERVFAIL, so no address).
    assert!(!dig_from_laptop(dns, "ks3-only-block.example").contains("10.9.9.9"));

    let start = format!(
        "User-Name = \"SCHOOL\\\\Jo.Smith\"\nAcct-Status-Type = Start\nFramed-IP-Address = {LAPTOP}\nAcct-Session-Id = \"sess-1\"\n\
         Calling-Station-Id = \"AA-BB-CC-DD-EE-01\"\nNAS-IP-Address = 127.0.0.1\nNAS-Identifier = \"ap-library\"\nAcct-Interim-Interval = 300\n"
    );
    assert!(radclient(radius, SECRET, &start), "Haven did not answer the Start");
    assert_eq!(dig_from_laptop(dns, "ks3-only-block.example").trim(), "10.9.9.9", "the laptop now filters as Jo's group, ks3");
    assert_eq!(metric(metrics, "haven_radius_packets_total{type=\"start\"}"), Some(1));
    assert_eq!(metric(metrics, "haven_radius_sessions"), Some(1));
    assert_eq!(metric(metrics, "haven_radius_not_in_directory_total"), Some(0), "SCHOOL\\Jo.Smith found as jo.smith@...");

    let interim = start.replace("Acct-Status-Type = Start", "Acct-Status-Type = Interim-Update");
    assert!(radclient(radius, SECRET, &interim));
    assert_eq!(dig_from_laptop(dns, "ks3-only-block.example").trim(), "10.9.9.9", "an interim update keeps the binding");
    assert_eq!(metric(metrics, "haven_radius_packets_total{type=\"interim_update\"}"), Some(1));

    // The wrong shared secret: no answer at all, counted, and the binding is untouched.
    let forged_stop = start.replace("Acct-Status-Type = Start", "Acct-Status-Type = Stop");
    assert!(!radclient(radius, "not-the-secret-99", &forged_stop), "a wrong secret must get no response");
    assert_eq!(metric(metrics, "haven_radius_bad_authenticator_total"), Some(1));
    assert_eq!(metric(metrics, "haven_radius_packets_total{type=\"stop\"}"), Some(0));
    assert_eq!(dig_from_laptop(dns, "ks3-only-block.example").trim(), "10.9.9.9");

    assert!(radclient(radius, SECRET, &forged_stop), "Haven did not answer the Stop");
    assert!(!dig_from_laptop(dns, "ks3-only-block.example").contains("10.9.9.9"), "Stop released the address");
    assert_eq!(metric(metrics, "haven_radius_packets_total{type=\"stop\"}"), Some(1));
    assert_eq!(metric(metrics, "haven_radius_sessions"), Some(0));
    assert_eq!(metric(metrics, "haven_radius_responses_total"), Some(3));

    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
    // The activity log attributes the query made during the session to Jo, in ks3.
    let out = haven(&["--config", c, "activity", "--format", "json", "--name", "ks3-only-block.example"]);
    let rows: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(rows.iter().any(|r| r["user"] == "jo.smith" && r["group"] == "ks3" && r["client"] == LAPTOP), "{rows:?}");
    assert!(rows.iter().any(|r| r["group"] == "reception_ks1"), "{rows:?}");
}

#[test]
fn radius_config_errors_name_the_field_and_never_show_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("haven.toml");
    std::fs::write(&cfg, "[radius]\nlisten = [\"nowhere\"]\nbogus = 1\n").unwrap();
    let o = haven(&["--config", cfg.to_str().unwrap(), "config"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(stderr(&o).contains("bogus"), "unknown keys refused: {}", stderr(&o));
    std::fs::write(&cfg, "[radius]\nlisten = [\"nowhere\"]\n[[radius.clients]]\ncidr = \"10.0.0.0/33\"\nsecret = \"x\"\n[[radius.clients]]\ncidr = \"10.1.0.0/24\"\nsecret = \"short\"\n").unwrap();
    let o = haven(&["--config", cfg.to_str().unwrap(), "config"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(64), "{e}");
    assert!(e.contains("radius.listen[0]"), "{e}");
    assert!(e.contains("radius.clients[0].cidr"), "{e}");
    assert!(e.contains("radius.clients[1].secret"), "{e}");
    assert!(!e.contains("short\""), "the secret is not echoed: {e}");
}
