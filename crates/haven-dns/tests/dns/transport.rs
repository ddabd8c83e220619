//! UDP and TCP, EDNS payload sizes, truncation and the client's retry over TCP.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::client::{rdata, tcp, udp, udp_edns};
use super::fixture::*;

#[tokio::test]
async fn tcp_queries() {
    let r = rig().await;
    let m = tcp(r.tcp, PUPIL, "ordinary-tcp.test", RecordType::A).await;
    assert_eq!(rdata(&m), vec![format!("A {UPSTREAM_A}")]);
    let m = tcp(r.tcp, PUPIL, "bet365.test", RecordType::A).await;
    assert_eq!(rdata(&m), vec![format!("A {BLOCK_V4}")]);
    let m = tcp(r.tcp, UNKNOWN, "use-application-dns.net", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

#[tokio::test]
async fn large_answer_truncates_for_a_512_byte_client_and_comes_whole_over_tcp() {
    let r = rig().await;
    // 50 addresses are about 850 bytes: too big for a client without EDNS.
    let m = udp(r.udp, STAFF, "big1.test", RecordType::A).await;
    assert!(m.metadata.truncation, "TC must be set");
    assert!(m.answers.is_empty());
    assert_eq!(m.queries.len(), 1, "the question is kept so the client can match the answer");
    let m = tcp(r.tcp, STAFF, "big1.test", RecordType::A).await;
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 50);
    assert_eq!(r.server.metrics().counts().truncated, 1);
}

#[tokio::test]
async fn edns_payload_size_is_honoured_and_capped() {
    let r = rig().await;
    let (m, len) = udp_edns(r.udp, STAFF, "big2.test", RecordType::A, 1232).await;
    assert!(!m.metadata.truncation && m.answers.len() == 50, "fits in 1232: {len} bytes");
    assert!(len > 512);
    assert!(m.edns.is_some(), "an EDNS query gets an OPT record back");
    let (m, _) = udp_edns(r.udp, STAFF, "big2.test", RecordType::A, 700).await;
    assert!(m.metadata.truncation, "the client's 700 bytes is honoured");
    // A client offering 4096 still gets at most 1232 over UDP.
    let (m, len) = udp_edns(r.udp, STAFF, "huge1.test", RecordType::A, 4096).await;
    assert!(m.metadata.truncation && len <= 1232, "capped at 1232: {len}");
    let m = tcp(r.tcp, STAFF, "huge1.test", RecordType::A).await;
    assert_eq!(m.answers.len(), 100);
    // Sizes under 512 count as 512.
    let (m, _) = udp_edns(r.udp, STAFF, "ordinary-edns.test", RecordType::A, 100).await;
    assert_eq!(rdata(&m), vec![format!("A {UPSTREAM_A}")]);
}
