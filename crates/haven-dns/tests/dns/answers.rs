//! What each group gets: allowed and blocked names, block page versus NXDOMAIN, HTTPS/SVCB for
//! blocked names, safe-search rewrites, the bypass controls and the illegal floor.

use haven_activity::Flags;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::client::{rdata, udp};
use super::fixture::*;

#[tokio::test]
async fn allowed_and_blocked_per_group() {
    let r = rig().await;
    // Games: blocked for pupils (block page), allowed for staff (upstream answer).
    let m = udp(r.udp, PUPIL, "games.test", RecordType::A).await;
    assert_eq!((m.metadata.response_code, rdata(&m)), (ResponseCode::NoError, vec![format!("A {BLOCK_V4}")]));
    assert_eq!(m.answers[0].ttl, 60, "block answers carry the short blocked TTL");
    let m = udp(r.udp, STAFF, "www.games.test", RecordType::A).await;
    assert_eq!(rdata(&m), vec![format!("A {UPSTREAM_A}")]);
    // An uncategorised name is allowed for pupils.
    let m = udp(r.udp, PUPIL, "ordinary.test", RecordType::A).await;
    assert_eq!(rdata(&m), vec![format!("A {UPSTREAM_A}")]);
    // Gambling is blocked for everyone.
    for who in [PUPIL, STAFF] {
        let m = udp(r.udp, who, "bet365.test", RecordType::A).await;
        assert_eq!(rdata(&m), vec![format!("A {BLOCK_V4}")]);
    }
}

#[tokio::test]
async fn block_page_versus_nxdomain() {
    let r = rig().await;
    let m = udp(r.udp, PUPIL, "casino.test", RecordType::AAAA).await;
    assert_eq!(rdata(&m), vec![format!("AAAA {BLOCK_V6}")]);
    // The NXDOMAIN group and the unknown fallback group get NXDOMAIN with a short negative TTL.
    for who in [PUPIL_NX, UNKNOWN] {
        for t in [RecordType::A, RecordType::AAAA] {
            let m = udp(r.udp, who, "casino.test", t).await;
            assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{who} {t}");
            assert!(m.answers.is_empty());
            assert_eq!(m.authorities.len(), 1, "a synthetic SOA lets the client cache the block briefly");
            assert_eq!(m.authorities[0].ttl, 60);
        }
    }
    // Other types for a blocked name: NXDOMAIN, even for block-page groups.
    let m = udp(r.udp, PUPIL, "casino.test", RecordType::MX).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

#[tokio::test]
async fn block_page_without_an_address_falls_back_to_nxdomain() {
    let r = rig_with(|c| {
        c.block_page_v4 = None;
        c.block_page_v6 = None;
    })
    .await;
    let m = udp(r.udp, PUPIL, "casino.test", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

#[tokio::test]
async fn https_and_svcb_for_blocked_names_have_no_data() {
    let r = rig().await;
    for who in [PUPIL, PUPIL_NX] {
        for t in [RecordType::HTTPS, RecordType::SVCB] {
            let m = udp(r.udp, who, "casino.test", t).await;
            assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{who} {t}");
            assert!(m.answers.is_empty(), "no ECH keys or address hints for a blocked name");
        }
    }
    assert_eq!(r.up.queries(), 0, "blocked names never reach the upstream");
}

#[tokio::test]
async fn safe_search_rewrites() {
    let r = rig().await;
    let cases = [
        (PUPIL, "www.google.co.uk", "forcesafesearch.google.com."),
        (PUPIL, "www.google.com", "forcesafesearch.google.com."),
        (PUPIL, "www.youtube.com", "restrictmoderate.youtube.com."),
        (PUPIL_NX, "m.youtube.com", "restrict.youtube.com."),
        (PUPIL, "www.bing.com", "strict.bing.com."),
        (PUPIL, "duckduckgo.com", "safe.duckduckgo.com."),
        (PUPIL, "www.ecosia.org", "strict-safe-search.ecosia.org."),
        (PUPIL, "pixabay.com", "safesearch.pixabay.com."),
        (UNKNOWN, "www.google.de", "forcesafesearch.google.com."),
    ];
    for (who, name, target) in cases {
        let m = udp(r.udp, who, name, RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
        assert_eq!(rdata(&m), vec![format!("CNAME {target}"), format!("A {UPSTREAM_A}")], "{name}");
        assert_eq!(m.answers[0].name.to_ascii(), format!("{name}."));
        assert!(r.events.one(name).flags.contains(Flags::SAFE_SEARCH));
    }
    // Staff have safe search off: the real name is resolved.
    let m = udp(r.udp, STAFF, "www.google.fr", RecordType::A).await;
    assert_eq!(rdata(&m), vec![format!("A {UPSTREAM_A}")]);
    assert!(!r.events.one("www.google.fr").flags.contains(Flags::SAFE_SEARCH));
    // HTTPS records of a rewritten name follow the same CNAME, so no hints for the unrestricted front end.
    let m = udp(r.udp, PUPIL, "www.youtube-nocookie.com", RecordType::HTTPS).await;
    assert_eq!(rdata(&m), vec!["CNAME restrictmoderate.youtube.com.".to_string()]);
    // Yandex publishes an address: A gets it, other types no data.
    let m = udp(r.udp, PUPIL, "www.yandex.ru", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["A 213.180.193.56".to_string()]);
    let m = udp(r.udp, PUPIL, "yandex.com", RecordType::AAAA).await;
    assert!(m.answers.is_empty() && m.metadata.response_code == ResponseCode::NoError);
}

#[tokio::test]
async fn safe_search_target_goes_through_the_policy() {
    let mut spec = policy_spec();
    spec.groups[0].sites.push(SiteSpec {
        action: Action::Block,
        site: "strict.bing.com".into(),
        reason: "test: target blocked".into(),
        author: "test".into(),
        users: Vec::new(), reference: None,
    });
    let r = rig().await;
    r.policy.replace(snapshot_with(&spec));
    let m = udp(r.udp, PUPIL, "www.bing.com", RecordType::A).await;
    assert_eq!(rdata(&m), vec![format!("A {BLOCK_V4}")], "a blocked rewrite target blocks the name");
    assert_eq!(r.events.one("www.bing.com").rule, "pupils-site-1");
}

use haven_policy::{Action, SiteSpec};

#[tokio::test]
async fn bypass_controls() {
    let r = rig().await;
    for who in [PUPIL, STAFF, UNKNOWN] {
        for (name, t) in
            [("use-application-dns.net", RecordType::A), ("mask.icloud.com", RecordType::A), ("mask-h2.icloud.com", RecordType::AAAA)]
        {
            let m = udp(r.udp, who, name, t).await;
            assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{who} {name}");
        }
    }
    // The canary is also on the proxy list here: a block-page group must still get NXDOMAIN, not
    // the block page's address, which Firefox would read as leave to switch DoH on.
    for name in ["use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com"] {
        for e in r.events.for_name(name) {
            assert!(e.flags.contains(Flags::BYPASS), "{e:?}");
            assert_eq!(e.action, "block");
            assert_eq!(e.rule, if name.starts_with("use") { "special/firefox-canary" } else { "special/private-relay" });
        }
    }
    // DDR discovery gets NODATA, so clients do not upgrade to an outside encrypted resolver.
    let m = udp(r.udp, STAFF, "_dns.resolver.arpa", RecordType::SVCB).await;
    assert_eq!((m.metadata.response_code, m.answers.len()), (ResponseCode::NoError, 0));
    // A bypass category (proxies) is blocked by policy and flagged.
    let m = udp(r.udp, STAFF, "www.hideme.test", RecordType::A).await;
    assert_eq!(rdata(&m), vec![format!("A {BLOCK_V4}")]);
    let e = r.events.one("www.hideme.test");
    assert!(e.flags.contains(Flags::BYPASS));
    assert_eq!(r.up.queries(), 0, "none of these reach the upstream");
    assert_eq!(r.server.metrics().counts().bypass, 10);
}

#[tokio::test]
async fn illegal_floor_wins_everywhere() {
    let r = rig().await;
    for who in [PUPIL, STAFF, UNKNOWN] {
        let m = udp(r.udp, who, "img.floor.test", RecordType::A).await;
        assert!(m.metadata.response_code == ResponseCode::NXDomain || rdata(&m) == vec![format!("A {BLOCK_V4}")], "{who}: {m}");
    }
    for e in r.events.for_name("img.floor.test") {
        assert!(e.flags.contains(Flags::ILLEGAL));
        assert_eq!(e.rule, "floor/test-iwf");
        assert_eq!(e.category.as_deref(), Some("illegal_csam"));
    }
    // A CNAME into the floor, and an address on the floor, are caught in the upstream's answer.
    let m = udp(r.udp, STAFF, "cname-floor.example", RecordType::A).await;
    assert_eq!(rdata(&m), vec![format!("A {BLOCK_V4}")]);
    let e = r.events.one("cname-floor.example");
    assert!(e.flags.contains(Flags::ILLEGAL), "{e:?}");
    assert_eq!(e.rule, "floor/test-iwf");
    let m = udp(r.udp, PUPIL_NX, "floor-ip.example", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(r.events.one("floor-ip.example").flags.contains(Flags::ILLEGAL));
    assert_eq!(r.up.queries(), 2, "only the two innocent-looking names were forwarded");
}
