//! Hostile input never panics the server and never stops it answering others.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::client::{rdata, tcp, udp, udp_raw};
use super::fixture::*;

const WAIT: Duration = Duration::from_millis(300);

async fn still_answers(udp_addr: SocketAddr, tcp_addr: SocketAddr) {
    assert_eq!(rdata(&udp(udp_addr, STAFF, "alive.test", RecordType::A).await), vec![format!("A {UPSTREAM_A}")]);
    assert_eq!(rdata(&tcp(tcp_addr, STAFF, "alive.test", RecordType::A).await), vec![format!("A {UPSTREAM_A}")]);
}

fn header(id: u16, flags: u16, qd: u16) -> Vec<u8> {
    let mut h = Vec::new();
    for v in [id, flags, qd, 0, 0, 0] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    h
}

#[tokio::test]
async fn garbage_and_malformed_queries() {
    let r = rig().await;
    // Unparseable garbage shorter than a header: dropped.
    for junk in [&b""[..], b"\x00", b"hello", &[0xff; 11]] {
        assert_eq!(udp_raw(r.udp, STAFF, junk, WAIT).await, None);
    }
    // A response sent to us: dropped, so two servers cannot loop.
    assert_eq!(udp_raw(r.udp, STAFF, &header(7, 0x8180, 0), WAIT).await, None);

    let formerr = |bytes: Option<Vec<u8>>, id: u16| {
        let m = Message::from_vec(&bytes.expect("a FORMERR answer")).unwrap();
        assert_eq!((m.metadata.id, m.metadata.response_code), (id, ResponseCode::FormErr));
    };
    // A header promising a question that is not there.
    formerr(udp_raw(r.udp, STAFF, &header(1, 0x0100, 1), WAIT).await, 1);
    // A compression pointer to itself.
    let mut p = header(2, 0x0100, 1);
    p.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    formerr(udp_raw(r.udp, STAFF, &p, WAIT).await, 2);
    // Two pointers pointing at each other.
    let mut p = header(3, 0x0100, 1);
    p.extend_from_slice(&[0xc0, 0x0e, 0xc0, 0x0c, 0, 1, 0, 1]);
    formerr(udp_raw(r.udp, STAFF, &p, WAIT).await, 3);
    // A 64-byte label (the top bits make it a reserved label type) and a 300-byte name.
    let mut p = header(4, 0x0100, 1);
    p.push(64);
    p.extend_from_slice(&[b'a'; 64]);
    p.extend_from_slice(&[0, 0, 1, 0, 1]);
    formerr(udp_raw(r.udp, STAFF, &p, WAIT).await, 4);
    let mut p = header(5, 0x0100, 1);
    for _ in 0..5 {
        p.push(63);
        p.extend_from_slice(&[b'a'; 63]);
    }
    p.extend_from_slice(&[0, 0, 1, 0, 1]);
    formerr(udp_raw(r.udp, STAFF, &p, WAIT).await, 5);
    // Two questions: FORMERR. A non-query opcode: NOTIMP.
    let mut two = super::client::query("a.test", RecordType::A, None);
    two.add_query(two.queries[0].clone());
    let m = Message::from_vec(&udp_raw(r.udp, STAFF, &two.to_vec().unwrap(), WAIT).await.unwrap()).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    let m = Message::from_vec(&udp_raw(r.udp, STAFF, &header(6, 0x2100, 0), WAIT).await.unwrap()).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
    // EDNS version 1: BADVERS (RFC 6891), with an OPT record to carry the extended code.
    let mut v1 = super::client::query("v1.test", RecordType::A, Some(1232));
    v1.edns.as_mut().unwrap().set_version(1);
    let m = Message::from_vec(&udp_raw(r.udp, STAFF, &v1.to_vec().unwrap(), WAIT).await.unwrap()).unwrap();
    assert_eq!(u16::from(m.metadata.response_code), 16, "BADVERS (hickory names code 16 BADSIG too)");
    // A readable name with bytes the policy cannot read: refused, never forwarded.
    let mut p = header(8, 0x0100, 1);
    p.extend_from_slice(&[3, b'a', b'.', b'b', 4, b't', b'e', b's', b't', 0, 0, 1, 0, 1]);
    let m = Message::from_vec(&udp_raw(r.udp, STAFF, &p, WAIT).await.unwrap()).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    // Zone transfers are refused.
    let m = tcp(r.tcp, STAFF, "zone.test", RecordType::AXFR).await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert_eq!(r.up.queries(), 0);
    // Garbage over TCP, then the connection is of no further use but the server is fine.
    let mut s = TcpStream::connect(r.tcp).await.unwrap();
    s.write_all(&[0, 4, 1, 2, 3, 4]).await.unwrap();
    let mut buf = [0u8; 64];
    let _ = timeout(Duration::from_secs(2), s.read(&mut buf)).await;
    still_answers(r.udp, r.tcp).await;
}

#[tokio::test]
async fn tcp_length_prefix_with_no_body_is_closed_after_the_idle_timeout() {
    let r = rig_with(|c| c.tcp_idle_timeout = Duration::from_millis(500)).await;
    let mut s = TcpStream::connect(r.tcp).await.unwrap();
    s.write_all(&[0x01, 0x00]).await.unwrap();
    let mut buf = [0u8; 16];
    let n = timeout(Duration::from_secs(3), s.read(&mut buf)).await.expect("closed by the server").unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
    // A connection that says nothing at all is closed too.
    let mut s = TcpStream::connect(r.tcp).await.unwrap();
    let n = timeout(Duration::from_secs(3), s.read(&mut buf)).await.expect("closed by the server").unwrap_or(0);
    assert_eq!(n, 0);
    still_answers(r.udp, r.tcp).await;
}

/// Resident memory of this process, from /proc (the server runs in it).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_tcp_connections() {
    const LIMIT: usize = 2_000;
    const CLIENTS: usize = 10_000;
    let r = rig_with(|c| {
        c.max_tcp_connections = LIMIT;
        c.tcp_idle_timeout = Duration::from_secs(3);
    })
    .await;
    let before = rss_kib();
    let mut idle = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        idle.push(TcpStream::connect(r.tcp).await.unwrap());
    }
    // UDP keeps answering while TCP is saturated.
    for i in 0..20 {
        let m = udp(r.udp, STAFF, &format!("busy{i}.test"), RecordType::A).await;
        assert_eq!(rdata(&m), vec![format!("A {UPSTREAM_A}")]);
    }
    let c = r.server.metrics().counts();
    assert!(c.tcp_open <= LIMIT as u64, "never more than the limit open: {c:?}");
    assert!(c.tcp_rejected >= 1_000, "connections over the limit are closed at once: {c:?}");
    // Memory is bounded by the limit, not by the number of clients: well under 16 KiB per
    // connection the server holds (the client sockets' buffers are the kernel's, not ours).
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 16 * LIMIT as u64, "resident memory grew {grown} KiB for {} open connections", c.tcp_open);
    // Idle connections are closed after the idle timeout; then TCP answers again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(r.server.metrics().counts().tcp_open, 0);
    still_answers(r.udp, r.tcp).await;
    drop(idle);
}
