//! The fuzz body for DNS requests, shared by `fuzz/fuzz_targets/dns_request.rs` and the stable
//! property tests: arbitrary bytes through [`RequestHandler::handle_packet`] with a fixed
//! snapshot and no upstream (forwards fail at once with SERVFAIL), checking the answer's shape.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

use haven_activity::Discard;
use haven_policy::{
    Action, BaseSpec, BlockAnswer, Category, CategoryKind, DirectorySpec, FourCs, GroupKind, GroupSpec, ListFormat, ListSetBuilder,
    Matching, Policy, PolicyHandle, PolicySpec, RuleSpec, SafeSearch, Severity, Snapshot, Source, Taxonomy, YouTubeMode,
};
use hickory_proto::op::{Message, MessageType};

use crate::config::DnsConfig;
use crate::handler::{MAX_UDP_PAYLOAD, MIN_UDP_PAYLOAD, RequestHandler, Transport};
use haven_identity::SnapshotIdentity;

/// A small fixed school: a floor entry, gambling and proxy lists, a pupil network with safe
/// search and the block page, and a fail-closed fallback. `None` only if the policy core refuses it.
pub fn snapshot() -> Option<Snapshot> {
    let cat = |id: &str, kind| Category {
        id: id.into(),
        title: id.into(),
        kind,
        four_cs: FourCs::default(),
        severity: Severity::Low,
        description: "".into(),
    };
    let t = Taxonomy::new(vec![
        cat("illegal_csam", CategoryKind::Illegal),
        cat("gambling", CategoryKind::Harm),
        cat("proxy_anonymiser", CategoryKind::Bypass),
        cat("education", CategoryKind::Allow),
    ])
    .ok()?;
    let mut fb = ListSetBuilder::new(&t, 4);
    let src = |name: &str, category| Source { name: name.into(), category, origin: "fuzz".into(), matching: Matching::Subdomains };
    let s = fb.add_source(src("floor", t.id("illegal_csam")?)).ok()?;
    fb.add_line(s, ListFormat::Domains, "floor.test").ok()?;
    let floor = fb.finish().ok()?;
    let mut lb = ListSetBuilder::new(&t, 8);
    let g = lb.add_source(src("gambling", t.id("gambling")?)).ok()?;
    lb.add_line(g, ListFormat::Domains, "bet.test").ok()?;
    let p = lb.add_source(src("proxy", t.id("proxy_anonymiser")?)).ok()?;
    lb.add_line(p, ListFormat::Domains, "proxy.test").ok()?;
    let lists = lb.finish().ok()?;
    let rule = |base| RuleSpec { base, nominated: vec![] };
    let group = |id: &str, kind, safe_search, block_answer| GroupSpec {
        id: id.into(),
        title: id.into(),
        kind,
        default: Action::Allow,
        rules: vec![("gambling".into(), rule(BaseSpec::Block)), ("proxy_anonymiser".into(), rule(BaseSpec::Block))],
        subgroups: vec![],
        sites: vec![],
        safe_search,
        block_answer,
    };
    let spec = PolicySpec {
        groups: vec![
            group("pupils", GroupKind::Pupil, SafeSearch { search: true, youtube: YouTubeMode::Moderate }, BlockAnswer::BlockPage),
            group("unknown", GroupKind::Unknown, SafeSearch::STRICT, BlockAnswer::Nxdomain),
        ],
        windows: vec![],
        fallback_group: "unknown".into(),
        directory: DirectorySpec { networks: vec![("127.0.0.0/8".into(), "pupils".into())], ..DirectorySpec::default() },
    };
    let policy = Policy::compile(&spec, &t, &floor).ok()?;
    Snapshot::new(t, floor, lists, policy, haven_policy::london()).ok()
}

struct Rig {
    rt: tokio::runtime::Runtime,
    handler: RequestHandler,
}

fn rig() -> Option<&'static Rig> {
    static RIG: OnceLock<Option<Rig>> = OnceLock::new();
    RIG.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        let config = DnsConfig { block_page_v4: Some(Ipv4Addr::new(192, 0, 2, 99)), ..DnsConfig::default() };
        let policy = Arc::new(PolicyHandle::new(snapshot()?));
        let handler = RequestHandler::new(&config, policy, Arc::new(SnapshotIdentity), Arc::new(Discard)).ok()?;
        Some(Rig { rt, handler })
    })
    .as_ref()
}

/// Feed one datagram (and the same bytes as a TCP message) through the handler; panics only if
/// an invariant breaks: an answer must parse, be a response with the query's ID, and fit UDP
/// limits, and the wire fast path must answer as the hickory reference path does.
pub fn dns_request(data: &[u8]) {
    let Some(rig) = rig() else { return };
    let client = IpAddr::V4(if data.len().is_multiple_of(2) { Ipv4Addr::LOCALHOST } else { Ipv4Addr::new(192, 0, 2, 7) });
    for transport in [Transport::Udp, Transport::Tcp] {
        let answer = rig.rt.block_on(rig.handler.handle_packet(data, client, transport));
        let reference = rig.rt.block_on(rig.handler.handle_packet_reference(data, client, transport));
        let summary = |a: &Option<Vec<u8>>| {
            a.as_ref().and_then(|b| Message::from_vec(b).ok()).map(|m| {
                (m.metadata, m.answers.len(), m.authorities.len(), m.edns.map(|e| e.max_payload()), m.queries.len())
            })
        };
        assert_eq!(answer.is_some(), reference.is_some(), "both paths answer, or both drop");
        assert_eq!(summary(&answer), summary(&reference), "the wire path answers as hickory does");
        let Some(answer) = answer else { continue };
        assert!(answer.len() >= 12, "an answer has at least a header");
        assert_eq!(answer.get(..2), data.get(..2), "an answer carries the query's ID");
        if transport == Transport::Udp {
            let limit = Message::from_vec(data)
                .ok()
                .and_then(|m| m.edns.map(|e| e.max_payload().clamp(MIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD)))
                .unwrap_or(MIN_UDP_PAYLOAD);
            assert!(answer.len() <= usize::from(limit), "a UDP answer fits the client's payload size ({limit})");
        }
        match Message::from_vec(&answer) {
            Ok(m) => assert_eq!(m.metadata.message_type, MessageType::Response, "Haven only sends responses"),
            Err(e) => panic!("Haven's own answer does not parse ({e}): {answer:?}"),
        }
    }
}
