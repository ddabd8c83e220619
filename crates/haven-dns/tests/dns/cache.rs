//! The cache: hits skip the upstream, TTLs count down, negative answers are cached for the SOA minimum.

use std::time::Duration;

use haven_activity::Flags;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::client::{rdata, udp};
use super::fixture::*;

#[tokio::test]
async fn hit_skips_the_upstream_and_counts_ttl_down() {
    let r = rig().await;
    let first = udp(r.udp, PUPIL, "cached.test", RecordType::A).await;
    assert_eq!(first.answers[0].ttl, 300);
    assert_eq!(r.up.queries(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let second = udp(r.udp, STAFF, "cached.test", RecordType::A).await;
    assert_eq!(rdata(&second), vec![format!("A {UPSTREAM_A}")]);
    assert_eq!(r.up.queries(), 1, "a hit does not go upstream");
    let ttl = second.answers[0].ttl;
    assert!((297..=298).contains(&ttl), "TTL counted down by the time held: {ttl}");
    let ev = r.events.for_name("cached.test");
    assert_eq!(ev.len(), 2);
    assert!(!ev[0].flags.contains(Flags::CACHED));
    assert_eq!(ev[0].upstream.as_deref(), Some("NOERROR"));
    assert!(ev[1].flags.contains(Flags::CACHED));
    assert_eq!(ev[1].upstream.as_deref(), Some("cache"));
    let c = r.server.metrics().counts();
    assert_eq!((c.cache_hits, c.cache_misses), (1, 1));
    // Another type for the same name is a different question.
    udp(r.udp, PUPIL, "cached.test", RecordType::AAAA).await;
    assert_eq!(r.up.queries(), 2);
}

#[tokio::test]
async fn negative_answers_are_cached() {
    let r = rig().await;
    for _ in 0..3 {
        let m = udp(r.udp, STAFF, "nx-missing.test", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(m.authorities.len(), 1, "the SOA comes along for the client's own negative cache");
        assert!(m.authorities[0].ttl <= 30);
    }
    assert_eq!(r.up.queries(), 1, "NXDOMAIN cached (RFC 2308)");
    // No data (NOERROR, empty) with an SOA is cached too.
    for _ in 0..2 {
        let m = udp(r.udp, STAFF, "nodata.test", RecordType::TXT).await;
        assert_eq!((m.metadata.response_code, m.answers.len()), (ResponseCode::NoError, 0));
    }
    assert_eq!(r.up.queries(), 2);
    // SERVFAIL is never cached.
    for _ in 0..2 {
        let m = udp(r.udp, STAFF, "servfail.test", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    }
    assert!(r.up.queries() >= 4);
}

#[tokio::test]
async fn cache_can_be_turned_off() {
    let r = rig_with(|c| c.cache_entries = 0).await;
    udp(r.udp, STAFF, "uncached.test", RecordType::A).await;
    udp(r.udp, STAFF, "uncached.test", RecordType::A).await;
    assert_eq!(r.up.queries(), 2);
}
