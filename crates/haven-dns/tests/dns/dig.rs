//! The real `dig` (Debian package bind9-dnsutils) against the real server: what a school's
//! devices see, with no hickory code on the client side.

use std::net::{IpAddr, SocketAddr};
use std::process::Command;

use super::fixture::*;

/// Run dig against `server` from `from`; returns its full output.
async fn dig(server: SocketAddr, from: IpAddr, args: &[&str]) -> String {
    let mut cmd = Command::new("dig");
    cmd.arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string(), "-b", &from.to_string(), "+tries=1", "+time=3"])
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("`dig` must be installed for these tests (Debian/Ubuntu: apt-get install bind9-dnsutils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Answer-section lines as `name type data`, whitespace-normalised.
fn answers(out: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_answer = false;
    for l in out.lines() {
        if l.starts_with(";; ANSWER SECTION") {
            in_answer = true;
        } else if l.trim().is_empty() {
            in_answer = false;
        } else if in_answer {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() >= 5 {
                lines.push(format!("{} {} {}", f[0], f[3], f[4..].join(" ")));
            }
        }
    }
    lines
}

fn status(out: &str) -> &str {
    out.split("status: ").nth(1).and_then(|s| s.split(',').next()).unwrap_or("none")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_sees_the_policy() {
    let r = rig().await;
    let out = dig(r.udp, PUPIL, &["www.google.co.uk", "A"]).await;
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert_eq!(
        answers(&out),
        vec!["www.google.co.uk. CNAME forcesafesearch.google.com.", &format!("forcesafesearch.google.com. A {UPSTREAM_A}")],
        "{out}"
    );
    let out = dig(r.udp, PUPIL, &["bet365.test", "A"]).await;
    assert_eq!(answers(&out), vec![format!("bet365.test. A {BLOCK_V4}")], "{out}");
    let out = dig(r.udp, PUPIL_NX, &["bet365.test", "A"]).await;
    assert_eq!(status(&out), "NXDOMAIN", "{out}");
    let out = dig(r.udp, UNKNOWN, &["use-application-dns.net", "A"]).await;
    assert_eq!(status(&out), "NXDOMAIN", "{out}");
    let out = dig(r.udp, STAFF, &["mask.icloud.com", "AAAA"]).await;
    assert_eq!(status(&out), "NXDOMAIN", "{out}");
    let out = dig(r.udp, PUPIL, &["casino.test", "HTTPS"]).await;
    assert_eq!((status(&out), answers(&out).len()), ("NOERROR", 0), "{out}");
    let out = dig(r.udp, STAFF, &["plain.test", "AAAA"]).await;
    assert_eq!(answers(&out), vec!["plain.test. AAAA 2001:db8::1"], "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_over_tcp_and_truncation_fallback() {
    let r = rig().await;
    let out = dig(r.tcp, STAFF, &["+tcp", "tcp.test", "A"]).await;
    assert_eq!(answers(&out), vec![format!("tcp.test. A {UPSTREAM_A}")], "{out}");
    // No EDNS: a 512-byte client. dig sees TC and retries over TCP by itself.
    let out = dig(r.udp, STAFF, &["+noedns", "big-dig.test", "A"]).await;
    assert!(out.contains("Truncated, retrying in TCP mode"), "{out}");
    assert_eq!(answers(&out).len(), 50, "{out}");
    // With EDNS at 1232 (dig's default) the same answer fits in UDP.
    let out = dig(r.udp, STAFF, &["+bufsize=1232", "big-dig.test", "A"]).await;
    assert!(!out.contains("Truncated"), "{out}");
    assert_eq!(answers(&out).len(), 50, "{out}");
    assert!(out.contains("udp: 1232"), "the OPT record comes back: {out}");
}
