//! A small school built through the policy core's public API, and a rig that runs the real server
//! against fake upstreams with a sink that keeps every event.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haven_activity::{Event, EventSink};
use haven_dns::{DnsConfig, DnsServer, SnapshotIdentity, Upstream};
use haven_policy::*;

use super::fake_upstream::FakeUpstream;

/// Pupils: block page, safe search on, YouTube moderate (network 127.0.1.0/24).
pub const PUPIL: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 10));
/// A fixed device in the pupils' network, with a user.
pub const LAB_PC: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 50));
/// Staff: block page, safe search off, games allowed (127.0.2.0/24).
pub const STAFF: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 2, 10));
/// Pupils answered with NXDOMAIN, safe search strict (127.0.3.0/24).
pub const PUPIL_NX: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 3, 10));
/// Not in the directory: the fail-closed fallback group.
pub const UNKNOWN: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The block page's addresses.
pub const BLOCK_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 99);
pub const BLOCK_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99);
/// What the fake upstream answers for any A query.
pub const UPSTREAM_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn cat(id: &str, kind: CategoryKind) -> Category {
    Category { id: id.into(), title: id.into(), kind, four_cs: FourCs::default(), severity: Severity::Low, description: "".into() }
}

pub fn taxonomy() -> Taxonomy {
    use CategoryKind::*;
    Taxonomy::new(vec![
        cat("illegal_csam", Illegal),
        cat("gambling", Harm),
        cat("proxy_anonymiser", Bypass),
        cat("games", CategoryKind::Policy),
        cat("education", Allow),
    ])
    .unwrap()
}

fn source(t: &Taxonomy, name: &str, category: &str) -> Source {
    Source { name: name.into(), category: t.id(category).unwrap(), origin: "fixture".into(), matching: Matching::Subdomains }
}

pub fn floor(t: &Taxonomy) -> ListSet {
    let mut b = ListSetBuilder::new(t, 4);
    let s = b.add_source(source(t, "test-iwf", "illegal_csam")).unwrap();
    b.add_line(s, ListFormat::Domains, "floor.test").unwrap();
    b.add_line(s, ListFormat::Mixed, "198.51.100.66").unwrap();
    b.finish().unwrap()
}

pub fn lists(t: &Taxonomy) -> ListSet {
    let mut b = ListSetBuilder::new(t, 16);
    for (name, cat, lines) in [
        ("ut1/gambling", "gambling", &["bet365.test", "casino.test"][..]),
        ("ut1/proxy", "proxy_anonymiser", &["hideme.test", "use-application-dns.net"][..]),
        ("ut1/games", "games", &["games.test"][..]),
        ("ut1/education", "education", &["school.test"][..]),
    ] {
        let s = b.add_source(source(t, name, cat)).unwrap();
        for l in lines {
            b.add_line(s, ListFormat::Domains, l).unwrap();
        }
    }
    b.finish().unwrap()
}

fn rules(games: BaseSpec) -> Vec<(String, RuleSpec)> {
    let r = |base| RuleSpec { base, nominated: vec![] };
    vec![
        ("gambling".into(), r(BaseSpec::Block)),
        ("proxy_anonymiser".into(), r(BaseSpec::Block)),
        ("games".into(), r(games)),
        ("education".into(), r(BaseSpec::Allow)),
    ]
}

fn group(id: &str, kind: GroupKind, games: BaseSpec, safe_search: SafeSearch, block_answer: BlockAnswer) -> GroupSpec {
    GroupSpec {
        id: id.into(),
        title: id.into(),
        kind,
        default: Action::Allow,
        rules: rules(games),
        subgroups: vec![],
        sites: vec![],
        safe_search,
        block_answer,
    }
}

pub fn policy_spec() -> PolicySpec {
    PolicySpec {
        groups: vec![
            group(
                "pupils",
                GroupKind::Pupil,
                BaseSpec::Block,
                SafeSearch { search: true, youtube: YouTubeMode::Moderate },
                BlockAnswer::BlockPage,
            ),
            group("pupils_nx", GroupKind::Pupil, BaseSpec::Block, SafeSearch::STRICT, BlockAnswer::Nxdomain),
            group("staff", GroupKind::Staff, BaseSpec::Allow, SafeSearch::OFF, BlockAnswer::BlockPage),
            group("unknown", GroupKind::Unknown, BaseSpec::Block, SafeSearch::STRICT, BlockAnswer::Nxdomain),
        ],
        windows: vec![],
        fallback_group: "unknown".into(),
        directory: DirectorySpec {
            users: vec![("alice".into(), "pupils".into())],
            devices: vec![("127.0.1.50".into(), "LAB-PC-50".into(), Some("alice".into()), None)],
            networks: vec![
                ("127.0.1.0/24".into(), "pupils".into()),
                ("127.0.2.0/24".into(), "staff".into()),
                ("127.0.3.0/24".into(), "pupils_nx".into()),
            ],
        },
    }
}

pub fn snapshot_with(spec: &PolicySpec) -> Snapshot {
    let t = taxonomy();
    let f = floor(&t);
    let policy = Policy::compile(spec, &t, &f).unwrap();
    Snapshot::new(t.clone(), f, lists(&t), policy, london()).unwrap()
}

pub fn snapshot() -> Snapshot {
    snapshot_with(&policy_spec())
}

/// A sink that keeps every event, for assertions.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<Event>>);

impl EventSink for Collect {
    fn record(&self, event: Event) -> bool {
        self.0.lock().unwrap().push(event);
        true
    }
}

impl Collect {
    /// Events for one query name.
    pub fn for_name(&self, name: &str) -> Vec<Event> {
        self.0.lock().unwrap().iter().filter(|e| e.name == name).cloned().collect()
    }

    /// The only event for a name; fails if there is not exactly one.
    pub fn one(&self, name: &str) -> Event {
        let v = self.for_name(name);
        assert_eq!(v.len(), 1, "exactly one event for {name}: {v:#?}");
        v.into_iter().next().unwrap()
    }
}

/// Test settings: short timeouts so failure tests stay quick.
pub fn config(upstreams: &[&FakeUpstream]) -> DnsConfig {
    let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    DnsConfig {
        listen_udp: vec![local],
        listen_tcp: vec![local],
        upstreams: upstreams.iter().map(|u| Upstream::plain(u.addr)).collect(),
        upstream_timeout: Duration::from_millis(300),
        servfail_after: Duration::from_millis(1500),
        block_page_v4: Some(BLOCK_V4),
        block_page_v6: Some(BLOCK_V6),
        tcp_idle_timeout: Duration::from_secs(5),
        ..DnsConfig::default()
    }
}

/// The real server against one fake upstream.
pub struct Rig {
    pub server: DnsServer,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub up: FakeUpstream,
    pub events: Arc<Collect>,
    pub policy: Arc<PolicyHandle>,
}

pub async fn rig() -> Rig {
    rig_with(|_| {}).await
}

pub async fn rig_with(tweak: impl FnOnce(&mut DnsConfig)) -> Rig {
    let up = FakeUpstream::start().await;
    let mut c = config(&[&up]);
    tweak(&mut c);
    let events = Arc::new(Collect::default());
    let policy = Arc::new(PolicyHandle::new(snapshot()));
    let server = DnsServer::bind(c, policy.clone(), Arc::new(SnapshotIdentity), events.clone()).await.unwrap();
    let addrs = server.local_addrs();
    Rig { udp: addrs.udp[0], tcp: addrs.tcp[0], server, up, events, policy }
}
