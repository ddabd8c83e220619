//! Monitoring end to end through the real `haven serve`: `dig` from a pupil's lab machine asks for
//! a name on the illegal-content test list → a critical alert is stored → an email reaches a real
//! SMTP server (Debian's aiosmtpd, over TCP) with severity, category and a console link and no
//! pupil details → left unacknowledged it escalates to the next contact → a tiny real HTTP
//! receiver gets a correctly signed webhook POST. Then 50 more events measure event → alert
//! stored and event → email handed to SMTP latency (target p99 < 2 s).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};

use crate::{dig, free_port, haven, metric, stderr, stdout};

const HOOK_KEY: &str = "webhook-signing-key-0123456789";
/// The pupil's lab machine: dig sends from this loopback address.
const LAB: &str = "127.0.0.7";

/// aiosmtpd with a handler that writes each message to `DIR/<receipt ns>.eml` with its recipients.
const SMTP_SINK: &str = r#"
import asyncio, os, sys, time
from aiosmtpd.controller import Controller
out, port = sys.argv[1], int(sys.argv[2])
class Sink:
    async def handle_DATA(self, server, session, envelope):
        ns = time.time_ns()
        tmp = os.path.join(out, f".{ns}.tmp")
        with open(tmp, "wb") as f:
            f.write(("X-Rcpt: " + ",".join(envelope.rcpt_tos) + "\r\n").encode())
            f.write(envelope.content)
        os.rename(tmp, os.path.join(out, f"{ns}.eml"))
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=port)
c.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    pass
"#;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn smtp_server(dir: &Path, port: u16) -> Kill {
    let script = dir.join("smtp_sink.py");
    std::fs::write(&script, SMTP_SINK).unwrap();
    let mut child = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(dir)
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 with aiosmtpd is needed (apt-get install python3-aiosmtpd)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "the SMTP server did not start");
    Kill(child)
}

/// (receipt time in ms since the epoch, whole message).
fn mails(dir: &Path) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let ns: i128 = name.strip_suffix(".eml")?.parse().ok()?;
            Some(((ns / 1_000_000) as i64, std::fs::read_to_string(e.path()).ok()?))
        })
        .collect();
    out.sort();
    out
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One received webhook: headers (lower-cased names) and body.
type Hook = (Vec<(String, String)>, String);

fn webhook_receiver(listener: TcpListener, got: Arc<Mutex<Vec<Hook>>>) {
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut headers = Vec::new();
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            got.lock().unwrap().push((headers, String::from_utf8_lossy(&body).into_owned()));
            let mut s = reader.into_inner();
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
}

fn header<'a>(h: &'a Hook, name: &str) -> &'a str {
    h.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn alerts_json(config: &str) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(["--config", config, "alerts", "list"])
        .env("HAVEN_TEST_HOOK_KEY", HOOK_KEY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn config(dir: &Path, dns: u16, metrics: u16, smtp: u16, hook: u16) -> PathBuf {
    let cfg = dir.join("haven.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[identity.users]]\nuser = \"jo.pupil\"\ngroup = \"ks3\"\n\
             [[identity.devices]]\naddress = \"{LAB}\"\nname = \"lab-07\"\nuser = \"jo.pupil\"\n\
             [dns]\nlisten = [\"127.0.0.1:{dns}\"]\nupstreams = [\"127.0.0.1:9\"]\nservfail_after_ms = 300\nblock_page_ipv4 = \"10.9.9.9\"\n\
             [store]\nurl = \"sqlite://data/haven.db\"\n[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n[proxy]\nlisten = []\n\
             [monitor]\nreload = \"1s\"\ntick = \"1s\"\nconsole_url = \"https://haven.school.example\"\n\
             escalate_after = {{ critical = \"3s\" }}\nchains = {{ critical = [\"Ana Lead\", \"Ben Deputy\"] }}\n\
             [[monitor.contacts]]\nname = \"Ana Lead\"\nemail = \"dsl@school.example\"\nrole = \"dsl\"\nout_of_hours = true\n\
             [[monitor.contacts]]\nname = \"Ben Deputy\"\nemail = \"deputy@school.example\"\nrole = \"deputy\"\nout_of_hours = true\n\
             [monitor.email]\nhost = \"127.0.0.1\"\nport = {smtp}\ntls = \"none\"\nfrom = \"haven@school.example\"\n\
             [[monitor.webhooks]]\nurl = \"http://127.0.0.1:{hook}/haven\"\nsecret_env = \"HAVEN_TEST_HOOK_KEY\"\n"
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn dig_raises_a_critical_alert_emails_without_pupil_details_escalates_and_signs_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let mail_dir = dir.path().join("mail");
    std::fs::create_dir(&mail_dir).unwrap();
    let (dns, metrics, smtp) = (free_port(), free_port(), free_port());
    let _smtp = smtp_server(&mail_dir, smtp);
    let hook_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = hook_listener.local_addr().unwrap().port();
    let hooks: Arc<Mutex<Vec<Hook>>> = Arc::default();
    webhook_receiver(hook_listener, hooks.clone());
    let cfg = config(dir.path(), dns, metrics, smtp, hook);
    let c = cfg.to_str().unwrap();

    let child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(["--config", c, "serve"])
        .env("HAVEN_LOG", "warn")
        .env("HAVEN_TEST_HOOK_KEY", HOOK_KEY)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let serve = Kill(child);
    wait_for("haven serve to answer", Duration::from_secs(20), || dig(dns, "use-application-dns.net", &[]).contains("NXDOMAIN").then_some(()));

    // The pupil's machine asks for a name on the illegal-content test list.
    let answer = dig(dns, "csam-domain.haven-floor-test.test", &["-b", LAB]);
    assert!(answer.contains("status:"), "Haven answered: {answer}");

    // Stored, attributed to the rule. (The readiness probe above, the DoH canary, is itself a
    // bypass attempt: a digest-level alert that emails nobody.)
    let critical = wait_for("the critical alert", Duration::from_secs(10), || {
        alerts_json(c).into_iter().find(|a| a["severity"] == "critical")
    });
    assert_eq!(critical["rule"], "illegal-floor");
    assert_eq!(critical["category"], "illegal_csam");
    assert_eq!(critical["state"], "new");
    let id = critical["id"].as_i64().unwrap();
    assert!(alerts_json(c).iter().any(|a| a["rule"] == "bypass-once" && a["severity"] == "digest"));

    // The first contact hears at once; the email has severity, category and link only.
    let first = wait_for("the alert email", Duration::from_secs(10), || mails(&mail_dir).into_iter().next());
    assert_eq!(mails(&mail_dir).len(), 1, "only the critical alert is emailed");
    let text = &first.1;
    assert!(text.contains("X-Rcpt: dsl@school.example"), "{text}");
    assert!(text.contains(&format!("Critical alert #{id}: illegal csam")), "{text}");
    assert!(text.contains(&format!("https://haven.school.example/alerts/{id}")), "{text}");
    for secret in ["jo.pupil", "lab-07", LAB, "csam-domain", "haven-floor-test"] {
        assert!(!text.contains(secret), "the email leaks `{secret}`: {text}");
    }

    // Nobody acknowledges it: after the 3 s delay the deputy is told, marked as an escalation.
    let escalated = wait_for("the escalation email", Duration::from_secs(10), || {
        mails(&mail_dir).into_iter().find(|(_, m)| m.contains("X-Rcpt: deputy@school.example"))
    });
    assert!(escalated.1.contains("Escalated"), "{}", escalated.1);
    assert!(escalated.0 - first.0 >= 2_900, "escalation waited the delay: {} ms", escalated.0 - first.0);
    assert!(!escalated.1.contains("jo.pupil") && !escalated.1.contains(LAB));
    assert_eq!(metric(metrics, "haven_monitor_escalations_total"), Some(1));

    // The webhook receiver got a POST signed over timestamp.body with the shared key, and no
    // pupil name (the receiver is not a trusted moderation service).
    let got = wait_for("the webhook", Duration::from_secs(10), || hooks.lock().unwrap().first().cloned());
    let ts = header(&got, "x-haven-timestamp");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(HOOK_KEY.as_bytes()).unwrap();
    mac.update(format!("{ts}.{}", got.1).as_bytes());
    let want: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(header(&got, "x-haven-signature"), format!("sha256={want}"), "signature over timestamp.body");
    let body: serde_json::Value = serde_json::from_str(&got.1).unwrap();
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["alert"], id);
    assert!(!got.1.contains("jo.pupil") && !got.1.contains(LAB), "{}", got.1);
    let mut wrong = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"another-key-entirely-000").unwrap();
    wrong.update(format!("{ts}.{}", got.1).as_bytes());
    let wrong: String = wrong.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_ne!(want, wrong);

    // Latency over 50 more events, each a new alert (a different name each time).
    for i in 0..50 {
        assert!(dig(dns, &format!("n{i}.csam-domain.haven-floor-test.test"), &["-b", LAB]).contains("status:"));
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = wait_for("51 critical alerts", Duration::from_secs(20), || {
        let a: Vec<serde_json::Value> = alerts_json(c).into_iter().filter(|a| a["severity"] == "critical").collect();
        (a.len() == 51).then_some(a)
    });
    let emails = wait_for("50 more first-contact emails", Duration::from_secs(20), || {
        let m: Vec<(i64, String)> = mails(&mail_dir).into_iter().filter(|(_, m)| m.contains("X-Rcpt: dsl@school.example")).collect();
        (m.len() >= 51).then_some(m)
    });
    // Stored: the console delivery is recorded right after the alert's transaction commits.
    let db = dir.path().join("data/haven.db");
    let stored_ms = console_delivery_times(&db);
    let mut to_store = Vec::new();
    let mut to_email = Vec::new();
    for a in all.iter().filter(|a| a["id"].as_i64().unwrap() != id) {
        let id = a["id"].as_i64().unwrap();
        let raised = a["raised"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_millisecond();
        let stored = stored_ms.iter().find(|(i, _)| *i == id).map(|(_, t)| *t).unwrap();
        to_store.push(stored - raised);
        let mail = emails.iter().find(|(_, m)| m.contains(&format!("alert #{id}:"))).unwrap_or_else(|| panic!("no email for alert {id}"));
        to_email.push(mail.0 - raised);
    }
    to_store.sort_unstable();
    to_email.sort_unstable();
    let (s50, s99, e50, e99) = (percentile(&to_store, 50.0), percentile(&to_store, 99.0), percentile(&to_email, 50.0), percentile(&to_email, 99.0));
    println!("monitoring latency over {} events: event->alert stored p50 {s50} ms p99 {s99} ms; event->email at SMTP p50 {e50} ms p99 {e99} ms", to_store.len());
    assert_eq!(to_store.len(), 50);
    assert!(s99 < 2000 && e99 < 2000, "p99 under 2 s: stored {s99} ms, email {e99} ms");
    assert_eq!(metric(metrics, "haven_monitor_alerts_total{severity=\"critical\"}"), Some(51));
    assert_eq!(metric(metrics, "haven_monitor_dropped_total"), Some(0));

    assert!(Command::new("kill").args(["-TERM", &serve.0.id().to_string()]).status().unwrap().success());
    drop(serve);
}

/// (alert id, ms) of each alert's console-inbox delivery, read straight from the SQLite store.
fn console_delivery_times(db: &Path) -> Vec<(i64, i64)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}?mode=ro", db.display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT alert_id, at_ms FROM alert_deliveries WHERE channel = 'console'").fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    })
}

#[test]
fn digest_for_a_week_prints_counts_and_links_without_names() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("haven.toml");
    std::fs::write(&cfg, "[store]\nurl = \"sqlite://data/haven.db\"\n[monitor]\nconsole_url = \"https://haven.school.example\"\n").unwrap();
    let c = cfg.to_str().unwrap();
    let out = haven(&["--config", c, "alerts", "digest", "--week", "2026-W48"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("week 2026-W48 (Mon 23 Nov 2026 to Sun 29 Nov 2026)"), "{text}");
    assert!(text.contains("Alerts raised: 0"), "{text}");
    let bad = haven(&["--config", c, "alerts", "digest", "--week", "2026-48"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("2026-W48"), "the error shows the expected form: {}", stderr(&bad));
}

#[test]
fn monitor_config_errors_name_the_field_and_never_show_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("haven.toml");
    std::fs::write(
        &cfg,
        "[monitor]\ntick = \"soon\"\nescalate_after = { urgent = \"5m\" }\n\
         [[monitor.contacts]]\nname = \"Ana\"\nemail = \"not-an-address\"\nrole = \"head\"\n\
         [monitor.email]\nhost = \"smtp.example\"\ntls = \"ssl\"\nfrom = \"haven@school.example\"\nusername = \"u\"\npassword = \"hunter2-smtp-pass\"\npassword_env = \"X\"\n\
         [[monitor.webhooks]]\nurl = \"http://hub.example/x\"\nsecret = \"short-key\"\n",
    )
    .unwrap();
    let o = haven(&["--config", cfg.to_str().unwrap(), "config"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(64), "{e}");
    for field in [
        "monitor.tick",
        "monitor.escalate_after.urgent",
        "monitor.contacts[0].email",
        "monitor.contacts[0].role",
        "monitor.email.tls",
        "monitor.email.password",
        "monitor.webhooks[0].url",
        "monitor.webhooks[0].secret",
    ] {
        assert!(e.contains(field), "`{field}` is named: {e}");
    }
    assert!(!e.contains("hunter2") && !e.contains("short-key"), "secrets are not echoed: {e}");
}
