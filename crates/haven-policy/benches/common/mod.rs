//! Shared set-up for the policy-core benchmarks (`benches/decide.rs`) and memory tests
//! (`tests/memory.rs`): the 1M-domain bench corpus, a small Haven-like taxonomy that the corpus's
//! 104 `source.category` values map onto, a realistic school policy, and a deterministic
//! synthetic list generator. Nothing here is timed; it only prepares inputs.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Read;

use haven_policy::*;

/// The bench corpus shared by every peer measurement (read-only).
pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/bench/data/");

/// Decompress one corpus file into memory.
pub fn read_gz(file: &str) -> String {
    let path = format!("{DATA}{file}");
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e} (the bench corpus is needed)"));
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::io::BufReader::new(f)).read_to_string(&mut s).unwrap();
    s
}

fn cat(id: &str, kind: CategoryKind) -> Category {
    Category {
        id: id.into(),
        title: id.replace('_', " ").into(),
        kind,
        four_cs: FourCs::default(),
        severity: Severity::Low,
        description: "".into(),
    }
}

/// A small taxonomy in the shape of Haven's: one illegal category for the floor, harms, bypass,
/// security, school-choice policy categories and one trusted allow category.
pub fn taxonomy() -> Taxonomy {
    use CategoryKind::*;
    Taxonomy::new(vec![
        cat("illegal_csam", Illegal),
        cat("adult", Harm),
        cat("gambling", Harm),
        cat("drugs", Harm),
        cat("violence_hate", Harm),
        cat("proxy_anonymiser", Bypass),
        cat("malware", Security),
        cat("phishing", Security),
        cat("advertising", Policy),
        cat("games", Policy),
        cat("social_networks", Policy),
        cat("video_streaming", Policy),
        cat("shopping", Policy),
        cat("file_sharing", Policy),
        cat("dating", Policy),
        cat("cryptocurrency", Policy),
        cat("url_shortener", Policy),
        cat("general_interest", Policy),
        cat("education", Allow),
    ])
    .unwrap()
}

/// Haven category for one of the corpus's `source.category` values (`ut1.malware`, `sw.Adult`, …).
pub fn haven_category(source_category: &str) -> &'static str {
    let (_, c) = source_category.split_once('.').unwrap_or(("", source_category));
    match c.to_ascii_lowercase().as_str() {
        "adult" | "mixed_adult" | "lingerie" => "adult",
        "gambling" | "arjel" => "gambling",
        "drugs" | "drogue" | "vaping" => "drugs",
        "agressif" | "dangerous_material" | "shock" | "sect" => "violence_hate",
        "redirector" | "vpn" | "doh" | "residential-proxies" | "remote-control" | "tunnels" | "dns" | "remote" | "redirect" => {
            "proxy_anonymiser"
        }
        "malware" | "cryptojacking" | "ransomware" | "ddos" | "stalkerware" | "dialer" | "hacking" | "risk" | "junk" | "dynamic-dns"
        | "dynamic" => "malware",
        "phishing" | "scam" | "typo" | "fakenews" => "phishing",
        "ads" | "tracking" | "publicite" | "marketingware" | "marketing" | "basic" => "advertising",
        "games" | "fortnite" | "tricheur" => "games",
        "social_networks" | "facebook" | "tiktok" | "twitter" | "whatsapp" | "chat" | "forums" | "blog" => "social_networks",
        "youtube" | "audio-video" | "radio" => "video_streaming",
        "shopping" => "shopping",
        "download" | "warez" | "piracy" | "torrent" | "filehosting" => "file_sharing",
        "dating" => "dating",
        "bitcoin" | "cryptocurrency" | "crypto" => "cryptocurrency",
        "shortener" | "urlshortener" => "url_shortener",
        "educational_games" | "child" => "education",
        _ => "general_interest",
    }
}

/// The TSV corpus regrouped as one text per `source.category`, as the real loader sees one file
/// per source: (source name, Haven category, lines). Sorted by source name for determinism.
pub fn sources_from_tsv(tsv: &str) -> Vec<(String, &'static str, String)> {
    let mut by_src: BTreeMap<&str, String> = BTreeMap::new();
    for line in tsv.lines() {
        let (domain, src) = line.split_once('\t').expect("domain<TAB>source.category");
        let t = by_src.entry(src).or_default();
        t.push_str(domain);
        t.push('\n');
    }
    by_src.into_iter().map(|(s, text)| (s.to_string(), haven_category(s), text)).collect()
}

/// Build a list set from per-source texts, one `Source` each: the timed part of `build`.
pub fn build_lists(t: &Taxonomy, sources: &[(String, &'static str, String)], expected_lines: usize) -> ListSet {
    let mut b = ListSetBuilder::new(t, expected_lines);
    for (name, category, text) in sources {
        let id = b
            .add_source(Source {
                name: name.as_str().into(),
                category: t.id(category).unwrap(),
                origin: "bench corpus".into(),
                matching: Matching::Subdomains,
            })
            .unwrap();
        for line in text.lines() {
            // The corpus is pre-validated; a rejected line would show up in the distinct count.
            let _ = b.add_line(id, ListFormat::Domains, line);
        }
    }
    b.finish().unwrap()
}

/// Build a list set from one plain domains text as a single source.
pub fn build_plain(t: &Taxonomy, category: &str, text: &str, expected_lines: usize) -> ListSet {
    let mut b = ListSetBuilder::new(t, expected_lines);
    let id = b
        .add_source(Source {
            name: "bench/plain".into(),
            category: t.id(category).unwrap(),
            origin: "bench corpus".into(),
            matching: Matching::Subdomains,
        })
        .unwrap();
    for line in text.lines() {
        let _ = b.add_line(id, ListFormat::Domains, line);
    }
    b.finish().unwrap()
}

/// An illegal floor like the built-in test list: a handful of domains and one URL. With
/// `hashed`, one SHA-256 entry too, as a licensed hashed feed would add.
pub fn floor(t: &Taxonomy, hashed: bool) -> ListSet {
    let mut b = ListSetBuilder::new(t, 8);
    let s = b
        .add_source(Source {
            name: "test-floor".into(),
            category: t.id("illegal_csam").unwrap(),
            origin: "bench".into(),
            matching: Matching::Subdomains,
        })
        .unwrap();
    for l in ["floor-test-one.invalid-haven.org", "floor-test-two.invalid-haven.org", "floor-url.invalid-haven.org/abuse/page.html"] {
        b.add_line(s, ListFormat::Mixed, l).unwrap();
    }
    if hashed {
        let h = b
            .add_source(Source {
                name: "test-hashed".into(),
                category: t.id("illegal_csam").unwrap(),
                origin: "bench".into(),
                matching: Matching::Subdomains,
            })
            .unwrap();
        b.add_hashed(h, &list_set::sha256_hex("hashed-floor.invalid-haven.org/secret/img.jpg")).unwrap();
    }
    b.finish().unwrap()
}

fn rule(base: BaseSpec) -> RuleSpec {
    RuleSpec { base, nominated: vec![] }
}

fn site(action: Action, s: &str) -> SiteSpec {
    SiteSpec { action, site: s.into(), reason: "bench".into(), author: "it.manager".into(), users: Vec::new(), reference: None }
}

/// A realistic school policy: `ks3` pupils (blocks, games only at lunch, nominated social media,
/// a few site entries), `staff`, and an `unknown` fallback at least as strict as `ks3`.
pub fn policy_spec() -> PolicySpec {
    let block = |c: &str| (c.to_string(), rule(BaseSpec::Block));
    let allow = |c: &str| (c.to_string(), rule(BaseSpec::Allow));
    let ks3 = GroupSpec {
        id: "ks3".into(),
        title: "Key Stage 3".into(),
        kind: GroupKind::Pupil,
        default: Action::Allow,
        rules: vec![
            block("adult"),
            block("gambling"),
            block("drugs"),
            block("violence_hate"),
            block("proxy_anonymiser"),
            block("malware"),
            block("phishing"),
            block("advertising"),
            ("games".into(), rule(BaseSpec::During(vec!["lunch".into(), "after_school".into()]))),
            ("social_networks".into(), RuleSpec { base: BaseSpec::Block, nominated: vec!["@media".into(), "alice".into()] }),
            allow("video_streaming"),
            block("shopping"),
            block("file_sharing"),
            block("dating"),
            block("cryptocurrency"),
            allow("url_shortener"),
            allow("general_interest"),
            allow("education"),
        ],
        subgroups: vec![("media".into(), vec!["bob".into()])],
        sites: vec![
            site(Action::Allow, "kahoot.it"),
            site(Action::Allow, "scratch.mit.edu"),
            site(Action::Block, "distraction-example.com"),
            site(Action::Allow, "bbc.co.uk"),
            site(Action::Block, "example.org/forum"),
        ],
        safe_search: SafeSearch { search: true, youtube: YouTubeMode::Moderate },
        block_answer: BlockAnswer::BlockPage,
    };
    let staff = GroupSpec {
        id: "staff".into(),
        title: "Staff".into(),
        kind: GroupKind::Staff,
        default: Action::Allow,
        rules: vec![block("adult"), block("malware"), block("phishing"), allow("games")],
        subgroups: vec![],
        sites: vec![],
        safe_search: SafeSearch::OFF,
        block_answer: BlockAnswer::BlockPage,
    };
    let t = taxonomy();
    let unknown = GroupSpec {
        id: "unknown".into(),
        title: "Unknown device".into(),
        kind: GroupKind::Unknown,
        default: Action::Allow,
        rules: t
            .iter()
            .filter(|(_, c)| c.kind != CategoryKind::Illegal)
            .map(|(_, c)| if c.kind == CategoryKind::Allow { allow(&c.id) } else { block(&c.id) })
            .collect(),
        subgroups: vec![],
        sites: vec![],
        safe_search: SafeSearch::STRICT,
        block_answer: BlockAnswer::BlockPage,
    };
    PolicySpec {
        groups: vec![ks3, staff, unknown],
        windows: vec![
            WindowSpec { id: "lunch".into(), title: "Lunch".into(), spans: vec!["Mon-Fri 12:15-13:15".into()] },
            WindowSpec { id: "after_school".into(), title: "After school".into(), spans: vec!["Mon-Fri 15:30-18:00".into()] },
        ],
        fallback_group: "unknown".into(),
        directory: DirectorySpec {
            users: vec![("alice".into(), "ks3".into()), ("bob".into(), "ks3".into()), ("mr.teacher".into(), "staff".into())],
            devices: vec![],
            networks: vec![("10.0.0.0/16".into(), "ks3".into()), ("10.9.0.0/16".into(), "staff".into())],
        },
    }
}

/// Freeze lists, a floor and the policy into a snapshot.
pub fn snapshot(t: &Taxonomy, lists: ListSet, hashed_floor: bool) -> Snapshot {
    let f = floor(t, hashed_floor);
    let policy = Policy::compile(&policy_spec(), t, &f).expect("bench policy compiles");
    Snapshot::new(t.clone(), f, lists, policy, london()).unwrap()
}

/// Names from dnsperf query lines (`name A`).
pub fn query_names(queries: &str) -> impl Iterator<Item = &str> {
    queries.lines().filter_map(|l| l.split_whitespace().next())
}

/// Deterministic xorshift64* generator, so synthetic lists are the same on every run.
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

const TLDS: [&str; 14] = ["com", "net", "org", "info", "xyz", "io", "de", "fr", "ru", "top", "online", "site", "nl", "biz"];
const SUBS: [&str; 8] = ["www", "cdn", "mail", "api", "m", "static", "img", "login"];

fn push_letters(out: &mut String, rng: &mut XorShift, min: u64, max: u64) {
    for _ in 0..min + rng.below(max - min + 1) {
        out.push(char::from(b'a' + rng.below(26) as u8));
    }
}

fn push_base36(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    loop {
        i -= 1;
        let d = (n % 36) as u8;
        buf[i] = if d < 10 { b'0' + d } else { b'a' + d - 10 };
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap());
}

/// Synthetic domain number `i`: 2 labels (70 %), 3 (22 %) or 4 (8 %), about 18 characters on
/// average. The second-level label is `<letters>-<i in base 36>`, so every `i` gives a distinct
/// name and no generated name is an ancestor of another.
pub fn synthetic_domain(i: u64, out: &mut String) {
    let mut rng = XorShift::new(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED_2026);
    let labels = match rng.below(100) {
        0..70 => 2,
        70..92 => 3,
        _ => 4,
    };
    for _ in 2..labels {
        if rng.below(2) == 0 {
            out.push_str(SUBS[rng.below(SUBS.len() as u64) as usize]);
        } else {
            push_letters(out, &mut rng, 2, 8);
        }
        out.push('.');
    }
    push_letters(out, &mut rng, 3, 9);
    out.push('-');
    push_base36(out, i);
    out.push('.');
    out.push_str(TLDS[rng.below(TLDS.len() as u64) as usize]);
}

/// Synthetic domains `from..to`, one per line.
pub fn synthetic_text(from: u64, to: u64) -> String {
    let mut s = String::with_capacity(((to - from) * 20) as usize);
    for i in from..to {
        synthetic_domain(i, &mut s);
        s.push('\n');
    }
    s
}
