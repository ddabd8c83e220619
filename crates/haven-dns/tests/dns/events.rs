//! Exactly one event per query, with every field filled in.

use haven_activity::{Channel, Flags};
use hickory_proto::rr::RecordType;

use super::client::{tcp, udp};
use super::fixture::*;

#[tokio::test]
async fn every_field() {
    let r = rig().await;
    // Blocked by a list: category, rule, list source and entry; device and user from the directory.
    udp(r.udp, LAB_PC, "www.bet365.test", RecordType::A).await;
    let e = r.events.one("www.bet365.test");
    assert_eq!(e.channel, Channel::Dns);
    assert_eq!(e.client, LAB_PC);
    assert_eq!(e.device.as_deref(), Some("LAB-PC-50"));
    assert_eq!(e.user.as_deref(), Some("alice"));
    assert_eq!(e.group, "pupils");
    assert_eq!(e.qtype, "A");
    assert_eq!(e.action, "block");
    assert_eq!(e.category.as_deref(), Some("gambling"));
    assert_eq!(e.rule, "pupils/gambling");
    assert_eq!(e.list_source.as_deref(), Some("ut1/gambling"));
    assert_eq!(e.list_entry.as_deref(), Some("bet365.test"));
    assert_eq!(e.flags, Flags::default());
    assert_eq!(e.upstream, None, "a block is never forwarded");
    assert!(e.latency_us < 1_000_000);
    assert!((jiff::Timestamp::now() - e.time).get_seconds() < 5);

    // Allowed and forwarded: the upstream's rcode; unknown address gets the fallback group.
    tcp(r.tcp, UNKNOWN, "plain.test", RecordType::AAAA).await;
    let e = r.events.one("plain.test");
    assert_eq!((e.group.as_str(), e.action.as_str(), e.qtype.as_str()), ("unknown", "allow", "AAAA"));
    assert_eq!(e.rule, "unknown/default");
    assert_eq!((e.device.clone(), e.user.clone(), e.category.clone()), (None, None, None));
    assert_eq!(e.upstream.as_deref(), Some("NOERROR"));
    assert!(e.latency_us > 0);

    // Names are logged normalised; unusual types by number.
    udp(r.udp, STAFF, "MiXeD.Case.TEST.", RecordType::Unknown(65280)).await;
    let e = r.events.one("mixed.case.test");
    assert_eq!(e.qtype, "TYPE65280");
    udp(r.udp, STAFF, "svc.test", RecordType::HTTPS).await;
    assert_eq!(r.events.one("svc.test").qtype, "HTTPS");
    assert_eq!(r.events.0.lock().unwrap().len(), 4, "exactly one event per query");
}
