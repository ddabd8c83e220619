//! The wire fast path (blocks, special names and cache hits answered without hickory) gives the
//! same answers and the same events as the hickory reference path, whichever of them fills the
//! cache first.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use haven_activity::{Event, Flags};
use haven_dns::Transport;
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, Record, RecordType};
use proptest::prelude::*;

use super::client::query;
use super::fixture::*;

struct Shared {
    rt: tokio::runtime::Runtime,
    rig: Rig,
}

fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let rig = rt.block_on(rig());
        Shared { rt, rig }
    })
}

/// Names covering every path: floor, lists, bypass, the DoH canary, Private Relay, safe search,
/// the fake upstream's NXDOMAIN, big, CNAME-into-the-floor and floor-address answers, plain names.
const NAMES: &[&str] = &[
    "floor.test",
    "www.floor.test",
    "bet365.test",
    "casino.test",
    "hideme.test",
    "games.test",
    "school.test",
    "use-application-dns.net",
    "mask.icloud.com",
    "mask-h2.icloud.com",
    "www.google.com",
    "www.youtube.com",
    "www.yandex.ru",
    "nx-thing.test",
    "big-answer.test",
    "huge-answer.test",
    "cname-floor.test",
    "floor-ip.test",
    "plain.test",
];

const CLIENTS: &[IpAddr] = &[PUPIL, LAB_PC, STAFF, PUPIL_NX, UNKNOWN];

/// A fresh label per case, so the first of the two paths misses the cache and the second hits it.
fn fresh() -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn flip_case(name: &str, mask: u64) -> String {
    name.chars().enumerate().map(|(i, c)| if mask >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c }).collect()
}

/// Records with lower-case names and TTLs set aside, so encodings that differ only in
/// compression or in the second a TTL was read compare equal.
fn norm(rs: &[Record]) -> (Vec<Record>, Vec<u32>) {
    let ttls = rs.iter().map(|r| r.ttl).collect();
    let rs = rs
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.name = r.name.to_lowercase();
            r.ttl = 0;
            r
        })
        .collect();
    (rs, ttls)
}

fn same_answer(fast: &[u8], reference: &[u8]) {
    let (f, r) = (Message::from_vec(fast).unwrap(), Message::from_vec(reference).unwrap());
    assert_eq!(f.metadata, r.metadata, "headers");
    let q = |m: &Message| m.queries.iter().map(|q| (q.name().to_ascii(), q.query_type(), q.query_class())).collect::<Vec<_>>();
    assert_eq!(q(&f), q(&r), "questions, the client's case kept");
    for (a, b) in [(&f.answers, &r.answers), (&f.authorities, &r.authorities), (&f.additionals, &r.additionals)] {
        let ((a, ta), (b, tb)) = (norm(a), norm(b));
        assert_eq!(a, b, "records");
        for (x, y) in ta.iter().zip(&tb) {
            assert!(x.abs_diff(*y) <= 1, "TTLs {ta:?} vs {tb:?}");
        }
    }
    assert_eq!(f.edns.as_ref().map(|e| (e.max_payload(), e.version())), r.edns.as_ref().map(|e| (e.max_payload(), e.version())));
}

/// The fields of an event both paths must agree on (not time, latency, or where the answer came from).
fn essence(e: &Event) -> impl PartialEq + std::fmt::Debug {
    let mut flags = e.flags;
    flags = Flags::from_bits(flags.bits() & !Flags::CACHED.bits());
    (
        e.client,
        e.device.clone(),
        e.user.clone(),
        e.group.clone(),
        e.name.clone(),
        e.qtype.clone(),
        e.action.clone(),
        e.category.clone(),
        e.rule.clone(),
        e.list_source.clone(),
        e.list_entry.clone(),
        flags,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_answers_like_hickory(
        name in 0..NAMES.len(),
        unique in any::<bool>(),
        mask in any::<u64>(),
        qtype in prop_oneof![Just(RecordType::A), Just(RecordType::AAAA), Just(RecordType::HTTPS), Just(RecordType::MX), Just(RecordType::TXT)],
        edns in proptest::option::of(0u16..5000),
        rd in any::<bool>(),
        cd in any::<bool>(),
        client in 0..CLIENTS.len(),
        tcp in any::<bool>(),
        fast_first in any::<bool>(),
    ) {
        let s = shared();
        let handler = s.rig.server.handler();
        let base = NAMES[name];
        let text = if unique { format!("{base}-{}.x.test", fresh()) } else { base.to_string() };
        let mut m = query(&flip_case(&text, mask), qtype, edns);
        m.metadata.recursion_desired = rd;
        m.metadata.checking_disabled = cd;
        let bytes = m.to_vec().unwrap();
        let transport = if tcp { Transport::Tcp } else { Transport::Udp };
        let client = CLIENTS[client];
        let (fast, reference) = s.rt.block_on(async {
            if fast_first {
                let f = handler.handle_packet(&bytes, client, transport).await;
                (f, handler.handle_packet_reference(&bytes, client, transport).await)
            } else {
                let r = handler.handle_packet_reference(&bytes, client, transport).await;
                (handler.handle_packet(&bytes, client, transport).await, r)
            }
        });
        same_answer(&fast.unwrap(), &reference.unwrap());
        let lower = text.to_ascii_lowercase();
        let events = s.rig.events.for_name(&lower);
        prop_assert!(events.len() >= 2, "one event per query: {events:#?}");
        let last = &events[events.len() - 2..];
        prop_assert_eq!(essence(&last[0]), essence(&last[1]));
    }
}

#[tokio::test]
async fn cached_ttls_count_down_on_the_fast_path() {
    let r = rig().await;
    let handler = r.server.handler();
    let bytes = query("countdown.test", RecordType::A, None).to_vec().unwrap();
    let first = Message::from_vec(&handler.handle_packet(&bytes, STAFF, Transport::Udp).await.unwrap()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let later = Message::from_vec(&handler.handle_packet(&bytes, STAFF, Transport::Udp).await.unwrap()).unwrap();
    assert_eq!(r.up.queries(), 1, "the second answer came from the cache");
    let (t0, t1) = (first.answers[0].ttl, later.answers[0].ttl);
    assert!(t1 + 2 <= t0, "TTL counted down: {t0} then {t1}");
    assert_eq!(r.events.for_name("countdown.test").len(), 2);
}

#[test]
fn question_round_trips() {
    // The name keeps the client's case in the answer even when the cache was filled in lower case.
    let s = shared();
    let handler = s.rig.server.handler();
    let lower = query("case-check.test", RecordType::A, None);
    let mut upper = lower.clone();
    upper.queries = vec![Query::query(Name::from_ascii("CaSe-ChEcK.test").unwrap(), RecordType::A)];
    let (a, b) = s.rt.block_on(async {
        let a = handler.handle_packet(&lower.to_vec().unwrap(), STAFF, Transport::Udp).await.unwrap();
        (a, handler.handle_packet(&upper.to_vec().unwrap(), STAFF, Transport::Udp).await.unwrap())
    });
    let b = Message::from_vec(&b).unwrap();
    assert_eq!(b.queries[0].name().to_ascii(), "CaSe-ChEcK.test.");
    assert_eq!(Message::from_vec(&a).unwrap().answers.len(), b.answers.len());
}
