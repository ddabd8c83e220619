//! Policy changes and unblock requests through the real `haven serve`: a site entry added over
//! the JSON API is answered differently by `dig` within seconds, with no restart; an unblock
//! request, once approved, makes a blocked site resolve, and when its expiry passes the site is
//! blocked again by itself. Every step is in the change log.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::super::{dig, free_port};

const TOKEN: &str = "hvn_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

struct Service {
    child: Child,
    dns: u16,
    console: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

fn sh(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Start `haven serve` with a console on loopback and an IT administrator's API token.
fn start() -> Service {
    let dir = tempfile::tempdir().unwrap();
    let (dns, metrics, console) = (free_port(), free_port(), free_port());
    std::fs::write(dir.path().join("games.txt"), "roblox.test\nminecraft.test\n").unwrap();
    let cfg = dir.path().join("haven.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[lists]]\nname = \"games\"\nformat = \"domains\"\npath = \"games.txt\"\ncategory = \"games\"\n\
             [[identity.networks]]\ncidr = \"127.0.0.0/8\"\ngroup = \"reception_ks1\"\n\
             [dns]\nlisten = [\"127.0.0.1:{dns}\"]\nupstreams = [\"127.0.0.1:9\"]\nservfail_after_ms = 300\nblock_page_ipv4 = \"10.9.9.9\"\n\
             [store]\nurl = \"sqlite://data/haven.db\"\n[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n[proxy]\nlisten = []\n\
             [console]\nlisten = \"127.0.0.1:{console}\"\ntls = false\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .env("HAVEN_LOG", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let svc = Service { child, dns, console, _dir: dir };
    wait_for(|| blocked(svc.dns, "roblox.test"), "haven serve never answered");
    // An IT administrator and a token, written as `haven init` and the tokens page would.
    let db = svc._dir.path().join("data/haven.db");
    let hash = sh(Command::new("sh").args(["-c", &format!("printf %s {TOKEN} | sha256sum")]));
    let hash = hash.split_whitespace().next().unwrap();
    sh(Command::new("sqlite3").arg(&db).arg(format!(
        "INSERT INTO accounts (username, display_name, roles, password_hash, password_changed_ms, created_ms) VALUES ('it.admin', 'IT', 'it_admin', '!', 0, 0);\
         INSERT INTO api_tokens (account_id, name, token_hash, hint, scopes, created_ms) VALUES (1, 'test', '{hash}', 'hvn_0011', 'policy:write policy-changes:read unblock:request unblock:approve unblock:read', 0);"
    )));
    svc
}

fn blocked(dns: u16, name: &str) -> bool {
    dig(dns, name, &["+short"]).contains("10.9.9.9")
}

/// Allowed: forwarded upstream (which is down here, so SERVFAIL), not the block page.
fn allowed(dns: u16, name: &str) -> bool {
    let out = dig(dns, name, &[]);
    out.contains("status: SERVFAIL") && !out.contains("10.9.9.9")
}

fn wait_for(mut f: impl FnMut() -> bool, what: &str) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if f() {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} (waited 20 s)");
}

fn api(svc: &Service, method: &str, path: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let mut c = Command::new("curl");
    c.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-H", &format!("Authorization: Bearer {TOKEN}")]);
    if let Some(b) = body {
        c.args(["-H", "Content-Type: application/json", "--data", &b.to_string()]);
    }
    let out = sh(c.arg(format!("http://127.0.0.1:{}{path}", svc.console)));
    let (body, code) = out.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

#[test]
fn a_site_entry_from_the_api_reaches_dig_within_seconds_and_its_removal_too() {
    let svc = start();
    assert!(blocked(svc.dns, "roblox.test"));
    // Preview first: nothing saved, the same decision words as `haven check`.
    let (code, v) = api(
        &svc,
        "POST",
        "/api/v1/policy/sites",
        Some(serde_json::json!({
        "group": "reception_ks1", "action": "allow", "site": "roblox.test", "reason": "Computing club project", "preview": true })),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["before"]["action"], "block");
    assert_eq!(v["after"]["action"], "allow");
    assert!(v["after"]["reason"].as_str().unwrap().contains("Computing club project"), "{v}");
    assert!(blocked(svc.dns, "roblox.test"), "a preview changes nothing");
    // No reason: refused, naming the field.
    let (code, v) = api(
        &svc,
        "POST",
        "/api/v1/policy/sites",
        Some(serde_json::json!({ "group": "reception_ks1", "action": "allow", "site": "roblox.test" })),
    );
    assert_eq!(code, 400);
    assert!(v.to_string().contains("reason"), "{v}");
    // The illegal floor: refused, with the policy core's words.
    let (code, v) = api(
        &svc,
        "POST",
        "/api/v1/policy/sites",
        Some(serde_json::json!({
        "group": "reception_ks1", "action": "allow", "site": "csam-domain.haven-floor-test.test", "reason": "try" })),
    );
    assert_eq!(code, 400);
    assert!(v.to_string().contains("illegal-content list; nothing can allow it"), "{v}");

    let (code, v) = api(
        &svc,
        "POST",
        "/api/v1/policy/sites",
        Some(serde_json::json!({
        "group": "reception_ks1", "action": "allow", "site": "roblox.test", "reason": "Computing club project" })),
    );
    assert_eq!(code, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    let took = wait_for(|| allowed(svc.dns, "roblox.test"), "the new site entry never reached the running DNS service");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(blocked(svc.dns, "minecraft.test"), "only that site changed");

    let (code, _) =
        api(&svc, "POST", &format!("/api/v1/policy/sites/{id}/remove"), Some(serde_json::json!({ "reason": "Project finished" })));
    assert_eq!(code, 200);
    wait_for(|| blocked(svc.dns, "roblox.test"), "the removal never reached the running DNS service");

    let (_, log) = api(&svc, "GET", "/api/v1/policy/changes", None);
    let kinds: Vec<&str> = log["changes"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["site_removed", "site_added"], "{log}");
    assert_eq!(log["changes"][0]["reason"], "Project finished");
    assert_eq!(log["changes"][1]["actor"], "it.admin");
}

#[test]
fn an_approved_unblock_request_resolves_then_expires_by_itself() {
    let svc = start();
    assert!(blocked(svc.dns, "minecraft.test"));
    let (code, v) = api(
        &svc,
        "POST",
        "/api/v1/unblock-requests",
        Some(serde_json::json!({
        "url": "http://minecraft.test/", "ref": "reception_ks1/games", "category": "games", "scope": "group",
        "expires": "3s", "reason": "Minecraft Education lesson" })),
    );
    assert_eq!(code, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    assert!(blocked(svc.dns, "minecraft.test"), "asking changes nothing");

    let (code, v) =
        api(&svc, "POST", &format!("/api/v1/unblock-requests/{id}/approve"), Some(serde_json::json!({ "note": "ok for today" })));
    assert_eq!(code, 200, "{v}");
    wait_for(|| allowed(svc.dns, "minecraft.test"), "the approved site never resolved");
    // Decided once only.
    let (code, _) = api(&svc, "POST", &format!("/api/v1/unblock-requests/{id}/decline"), None);
    assert_eq!(code, 409);
    // The expiry passes: blocked again, with nobody doing anything.
    wait_for(|| blocked(svc.dns, "minecraft.test"), "the expired exception never dropped out");

    let (_, list) = api(&svc, "GET", "/api/v1/unblock-requests", None);
    assert_eq!(list["requests"][0]["status"], "approved");
    assert!(list["decision_ms"]["median"].as_i64().is_some(), "{list}");
    let (_, log) = api(&svc, "GET", "/api/v1/policy/changes", None);
    let kinds: Vec<&str> = log["changes"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["unblock_approved", "unblock_requested"], "{log}");
}
