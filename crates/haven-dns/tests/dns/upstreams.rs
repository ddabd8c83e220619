//! Upstream failure: SERVFAIL promptly when none answers, recovery when one returns, failover to
//! the next, TCP retry when an upstream truncates, and DNS over TLS.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use haven_dns::{DnsServer, SnapshotIdentity, Upstream};
use haven_policy::PolicyHandle;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::client::{rdata, udp};
use super::fake_upstream::{FakeUpstream, NORMAL, SILENT, TRUNCATE, respond};
use super::fixture::*;

#[tokio::test]
async fn servfail_within_the_deadline_then_recovery() {
    let r = rig().await;
    r.up.set_mode(SILENT);
    let t = Instant::now();
    let m = udp(r.udp, STAFF, "down.test", RecordType::A).await;
    let took = t.elapsed();
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(took < Duration::from_millis(1500), "SERVFAIL within servfail_after: {took:?}");
    assert!(took >= Duration::from_millis(500), "the upstream was given its tries: {took:?}");
    assert!(r.up.queries() >= 2, "retried");
    let e = r.events.one("down.test");
    assert_eq!(e.upstream.as_deref(), Some("timeout"));
    assert_eq!(r.server.metrics().counts().servfail, 1);
    // The upstream comes back: the very next query is answered (no permanent dead mark).
    r.up.set_mode(NORMAL);
    let m = udp(r.udp, STAFF, "back.test", RecordType::A).await;
    assert_eq!(rdata(&m), vec![format!("A {UPSTREAM_A}")]);
    assert!(r.server.metrics().counts().upstream_errors >= 2);
}

#[tokio::test]
async fn failover_to_the_second_upstream() {
    let a = FakeUpstream::start().await;
    let b = FakeUpstream::start().await;
    a.set_mode(SILENT);
    let events = Arc::new(Collect::default());
    let server = DnsServer::bind(config(&[&a, &b]), Arc::new(PolicyHandle::new(snapshot())), Arc::new(SnapshotIdentity), events.clone())
        .await
        .unwrap();
    let addr = server.local_addrs().udp[0];
    let t = Instant::now();
    let m = udp(addr, STAFF, "failover1.test", RecordType::A).await;
    assert_eq!(rdata(&m), vec![format!("A {UPSTREAM_A}")]);
    assert!(t.elapsed() < Duration::from_millis(1000), "one per-try timeout, then the second: {:?}", t.elapsed());
    assert_eq!((a.queries(), b.queries()), (1, 1));
    // The failing upstream is now tried after the healthy one, so answers are quick.
    let t = Instant::now();
    udp(addr, STAFF, "failover2.test", RecordType::A).await;
    assert!(t.elapsed() < Duration::from_millis(200), "{:?}", t.elapsed());
    assert_eq!((a.queries(), b.queries()), (1, 2));
    // A refused connection (nothing listening) fails over at once.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let mut c = config(&[&b]);
    c.upstreams.insert(0, Upstream::plain(dead_addr));
    let s2 = DnsServer::bind(c, Arc::new(PolicyHandle::new(snapshot())), Arc::new(SnapshotIdentity), events.clone()).await.unwrap();
    let t = Instant::now();
    let m = udp(s2.local_addrs().udp[0], STAFF, "failover3.test", RecordType::A).await;
    assert_eq!(rdata(&m), vec![format!("A {UPSTREAM_A}")]);
    assert!(t.elapsed() < Duration::from_millis(250), "{:?}", t.elapsed());
    server.shutdown().await;
    s2.shutdown().await;
}

#[tokio::test]
async fn truncated_upstream_answer_is_retried_over_tcp() {
    let r = rig().await;
    r.up.set_mode(TRUNCATE);
    let m = super::client::tcp(r.tcp, STAFF, "big-tc.test", RecordType::A).await;
    assert_eq!(m.answers.len(), 50);
    assert_eq!(r.up.udp_queries.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(r.up.tcp_queries.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn servfail_from_every_upstream_reaches_the_client_as_servfail() {
    let r = rig().await;
    let m = udp(r.udp, STAFF, "servfail-x.test", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(r.events.one("servfail-x.test").upstream.as_deref(), Some("SERVFAIL"));
}

/// A DNS-over-TLS upstream with a self-signed certificate for `dot.test`, trusted through
/// `tls_extra_roots_der`; answers like the fake upstream.
async fn dot_upstream() -> (SocketAddr, Vec<u8>) {
    let cert = rcgen::generate_simple_self_signed(vec!["dot.test".to_string()]).unwrap();
    let der = cert.cert.der().to_vec();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone().into()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(s).await else { return };
                while let Ok(len) = s.read_u16().await {
                    let mut buf = vec![0u8; usize::from(len)];
                    if s.read_exact(&mut buf).await.is_err() {
                        return;
                    }
                    let out = respond(&Message::from_vec(&buf).unwrap()).to_vec().unwrap();
                    let mut framed = (out.len() as u16).to_be_bytes().to_vec();
                    framed.extend(out);
                    let _ = s.write_all(&framed).await;
                    let _ = s.flush().await;
                }
            });
        }
    });
    (addr, der)
}

#[tokio::test]
async fn dns_over_tls_upstream() {
    let (addr, der) = dot_upstream().await;
    let up = FakeUpstream::start().await; // only for the config helper's shape
    let mut c = config(&[&up]);
    c.upstreams = vec![Upstream::tls(addr, "dot.test")];
    c.tls_extra_roots_der = vec![der];
    let events = Arc::new(Collect::default());
    let s = DnsServer::bind(c.clone(), Arc::new(PolicyHandle::new(snapshot())), Arc::new(SnapshotIdentity), events.clone()).await.unwrap();
    let m = udp(s.local_addrs().udp[0], STAFF, "over-tls.test", RecordType::A).await;
    assert_eq!(rdata(&m), vec![format!("A {UPSTREAM_A}")]);
    assert_eq!(up.queries(), 0);
    s.shutdown().await;
    // A certificate for another name is refused: SERVFAIL, not a silent downgrade.
    c.upstreams = vec![Upstream::tls(addr, "other.test")];
    let s = DnsServer::bind(c, Arc::new(PolicyHandle::new(snapshot())), Arc::new(SnapshotIdentity), events).await.unwrap();
    let m = udp(s.local_addrs().udp[0], STAFF, "over-tls-bad.test", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    s.shutdown().await;
}
