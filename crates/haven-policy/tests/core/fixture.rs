//! A small, fully known school: taxonomy, lists, floor and policy, built through the public API.

use haven_policy::list_set::sha256_hex;
use haven_policy::*;

pub fn cat(id: &str, kind: CategoryKind) -> Category {
    Category { id: id.into(), title: title(id).into(), kind, four_cs: FourCs::default(), severity: Severity::Low, description: "".into() }
}

fn title(id: &str) -> String {
    match id {
        "illegal_csam" => return "Child sexual abuse material".into(),
        "illegal_terrorism" => return "Unlawful terrorist content".into(),
        _ => {}
    }
    let s = id.replace('_', " ");
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

pub fn taxonomy() -> Taxonomy {
    use CategoryKind::*;
    Taxonomy::new(vec![
        cat("illegal_csam", Illegal),
        cat("illegal_terrorism", Illegal),
        cat("gambling", Harm),
        cat("malware", Security),
        cat("proxy_anonymiser", Bypass),
        cat("games", Policy),
        cat("social_networks", Policy),
        cat("video_streaming", Policy),
        cat("shopping", Policy),
        cat("education", Allow),
    ])
    .unwrap()
}

/// Hashed floor entry: the SHA-256 of this URL text.
pub const HASHED_FLOOR_URL: &str = "hashed-floor.test/secret/img.jpg";

pub fn floor(t: &Taxonomy) -> ListSet {
    let mut b = ListSetBuilder::new(t, 8);
    let csam = b
        .add_source(Source {
            name: "test-iwf".into(),
            category: t.id("illegal_csam").unwrap(),
            origin: "fixture".into(),
            matching: Matching::Subdomains,
        })
        .unwrap();
    for l in ["floor-domain.test", "floor-url.test/abuse/page.html"] {
        b.add_line(csam, ListFormat::Mixed, l).unwrap();
    }
    let hashed = b
        .add_source(Source {
            name: "test-hashed".into(),
            category: t.id("illegal_terrorism").unwrap(),
            origin: "fixture".into(),
            matching: Matching::Subdomains,
        })
        .unwrap();
    b.add_hashed(hashed, &sha256_hex(HASHED_FLOOR_URL)).unwrap();
    b.finish().unwrap()
}

pub fn lists(t: &Taxonomy) -> ListSet {
    let mut b = ListSetBuilder::new(t, 64);
    let mut src = |name: &str, cat: &str, m: Matching, format: ListFormat, lines: &[&str]| {
        let s = b.add_source(Source { name: name.into(), category: t.id(cat).unwrap(), origin: "fixture".into(), matching: m }).unwrap();
        for l in lines {
            b.add_line(s, format, l).unwrap();
        }
    };
    use ListFormat::*;
    use Matching::*;
    src("ut1/gambling", "gambling", Subdomains, Domains, &["bet365.com", "ad.com", "both-cats.test"]);
    src("ut1/gambling-urls", "gambling", Subdomains, Urls, &["example.org/casino"]);
    src("ut1/games", "games", Subdomains, Domains, &["games.example", "coolmath.test"]);
    src("ut1/social", "social_networks", Subdomains, Domains, &["social.example"]);
    src("ut1/video", "video_streaming", Subdomains, Domains, &["video.example"]);
    src("hosts/shop", "shopping", Exact, Hosts, &["0.0.0.0 exact.example", "0.0.0.0 bücher.de"]);
    src("ut1/education", "education", Subdomains, Domains, &["edu.games.example", "both-cats.test", "floor-url.test", "hashed-floor.test"]);
    src("ut1/proxy", "proxy_anonymiser", Subdomains, Domains, &["9.9.9.9", "proxy.example"]);
    b.finish().unwrap()
}

pub fn rule(base: BaseSpec) -> RuleSpec {
    RuleSpec { base, nominated: vec![] }
}

pub fn site(action: Action, site: &str) -> SiteSpec {
    SiteSpec { action, site: site.into(), reason: "because".into(), author: "it.manager".into(), users: Vec::new(), reference: None }
}

pub fn ks3() -> GroupSpec {
    GroupSpec {
        id: "ks3".into(),
        title: "Key Stage 3".into(),
        kind: GroupKind::Pupil,
        default: Action::Allow,
        rules: vec![
            ("gambling".into(), rule(BaseSpec::Block)),
            ("malware".into(), rule(BaseSpec::Block)),
            ("proxy_anonymiser".into(), rule(BaseSpec::Block)),
            ("games".into(), rule(BaseSpec::During(vec!["lunch".into(), "after_school".into()]))),
            ("social_networks".into(), RuleSpec { base: BaseSpec::Block, nominated: vec!["@media".into(), "alice".into()] }),
            ("video_streaming".into(), rule(BaseSpec::Allow)),
            ("shopping".into(), rule(BaseSpec::Block)),
            ("education".into(), rule(BaseSpec::Allow)),
        ],
        subgroups: vec![("media".into(), vec!["bob".into()])],
        sites: vec![
            site(Action::Allow, "allowed.bet365.com"),
            site(Action::Block, "example.net"),
            site(Action::Allow, "example.net/homework"),
            site(Action::Allow, "floor-url.test"),
            site(Action::Allow, "hashed-floor.test"),
        ],
        safe_search: SafeSearch { search: true, youtube: YouTubeMode::Moderate },
        block_answer: BlockAnswer::BlockPage,
    }
}

pub fn staff() -> GroupSpec {
    GroupSpec {
        id: "staff".into(),
        title: "Staff".into(),
        kind: GroupKind::Staff,
        default: Action::Allow,
        rules: vec![("gambling".into(), rule(BaseSpec::Block)), ("games".into(), rule(BaseSpec::Allow))],
        subgroups: vec![],
        sites: vec![],
        safe_search: SafeSearch::OFF,
        block_answer: BlockAnswer::BlockPage,
    }
}

pub fn unknown() -> GroupSpec {
    GroupSpec {
        id: "unknown".into(),
        title: "Unknown device".into(),
        kind: GroupKind::Unknown,
        default: Action::Allow,
        rules: ["gambling", "malware", "proxy_anonymiser", "games", "social_networks", "shopping"]
            .iter()
            .map(|c| (c.to_string(), rule(BaseSpec::Block)))
            .chain([("video_streaming".to_string(), rule(BaseSpec::Block)), ("education".to_string(), rule(BaseSpec::Allow))])
            .collect(),
        subgroups: vec![],
        sites: vec![],
        safe_search: SafeSearch::STRICT,
        block_answer: BlockAnswer::Nxdomain,
    }
}

pub fn policy_spec() -> PolicySpec {
    PolicySpec {
        groups: vec![ks3(), staff(), unknown()],
        windows: vec![
            WindowSpec { id: "lunch".into(), title: "Lunch".into(), spans: vec!["Mon-Fri 12:15-13:15".into()] },
            WindowSpec { id: "after_school".into(), title: "After school".into(), spans: vec!["Mon-Fri 15:30-18:00".into()] },
        ],
        fallback_group: "unknown".into(),
        directory: DirectorySpec {
            users: vec![
                ("alice".into(), "ks3".into()),
                ("bob".into(), "ks3".into()),
                ("carol".into(), "ks3".into()),
                ("mr.teacher".into(), "staff".into()),
            ],
            devices: vec![("10.0.5.10".into(), "LIB-PC-01".into(), Some("carol".into()), None)],
            networks: vec![("10.0.0.0/16".into(), "ks3".into()), ("10.9.0.0/16".into(), "staff".into())],
        },
    }
}

pub fn snapshot_with(spec: &PolicySpec) -> Result<Snapshot, Vec<PolicyError>> {
    let t = taxonomy();
    let f = floor(&t);
    let policy = Policy::compile(spec, &t, &f)?;
    Ok(Snapshot::new(t.clone(), f, lists(&t), policy, london()).unwrap())
}

pub fn snapshot() -> Snapshot {
    snapshot_with(&policy_spec()).unwrap()
}
