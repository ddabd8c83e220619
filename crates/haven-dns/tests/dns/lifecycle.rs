//! Starting, stopping and observing the service: bind errors, shutdown draining queries in
//! flight, and the Prometheus rendering of the counters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use haven_activity::Discard;
use haven_dns::{DnsError, DnsServer, SnapshotIdentity};
use haven_policy::PolicyHandle;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::client::{query, udp, udp_raw};
use super::fake_upstream::{FakeUpstream, SILENT};
use super::fixture::*;

#[tokio::test]
async fn bind_errors_name_the_problem() {
    let up = FakeUpstream::start().await;
    let policy = || Arc::new(PolicyHandle::new(snapshot()));
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut c = config(&[&up]);
    c.listen_udp = vec![taken.local_addr().unwrap()];
    let e = DnsServer::bind(c, policy(), Arc::new(SnapshotIdentity), Arc::new(Discard)).await.err().unwrap();
    assert!(matches!(e, DnsError::Bind { proto: "udp", .. }), "{e}");
    assert!(e.to_string().contains(&taken.local_addr().unwrap().to_string()));
    let mut c = config(&[&up]);
    c.upstreams.clear();
    let e = DnsServer::bind(c, policy(), Arc::new(SnapshotIdentity), Arc::new(Discard)).await.err().unwrap();
    assert!(matches!(e, DnsError::NoUpstreams), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_queries_in_flight() {
    let r = rig().await;
    r.up.set_mode(SILENT);
    let addr = r.udp;
    let pending = tokio::spawn(async move { udp(addr, STAFF, "slow.test", RecordType::A).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    r.server.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(3));
    let m = pending.await.unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "the query in flight was still answered");
    assert_eq!(r.events.for_name("slow.test").len(), 1);
    // Nothing answers after shutdown.
    let q = query("after.test", RecordType::A, None).to_vec().unwrap();
    assert_eq!(udp_raw(addr, STAFF, &q, Duration::from_millis(300)).await, None);
}

#[tokio::test]
async fn prometheus_text() {
    let r = rig().await;
    udp(r.udp, PUPIL, "bet365.test", RecordType::A).await;
    udp(r.udp, PUPIL, "m1.test", RecordType::A).await;
    udp(r.udp, PUPIL, "m1.test", RecordType::A).await;
    udp(r.udp, PUPIL, "www.bing.com", RecordType::A).await;
    let mut out = String::new();
    r.server.metrics().render_prometheus(&mut out);
    for line in [
        "# TYPE haven_dns_queries_total counter",
        "haven_dns_queries_total{outcome=\"allowed\"} 2",
        "haven_dns_queries_total{outcome=\"blocked\"} 1",
        "haven_dns_queries_total{outcome=\"rewritten\"} 1",
        "haven_dns_queries_total{outcome=\"servfail\"} 0",
        "haven_dns_cache_hits_total 1",
        "haven_dns_cache_misses_total 2",
        "# TYPE haven_dns_query_duration_seconds histogram",
        "haven_dns_query_duration_seconds_bucket{le=\"+Inf\"} 4",
        "haven_dns_query_duration_seconds_count 4",
    ] {
        assert!(out.lines().any(|l| l == line), "missing `{line}` in:\n{out}");
    }
    // Buckets are cumulative.
    let buckets: Vec<u64> = out
        .lines()
        .filter(|l| l.starts_with("haven_dns_query_duration_seconds_bucket"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 15);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]));
}
