//! Each list format loads from a fixture, and bad lines are reported by file and exact line number
//! while the good lines around them are in the list set.

use haven_lists::{FileReport, LineProblem, LoadReport, SourceSpec, build};
use haven_policy::{LineError, ListFormat, ListSet, Matching, NameError};

use crate::support::{cat, file, fixture, name, taxonomy};

fn only_file<'r>(report: &'r LoadReport, source: &str) -> &'r FileReport {
    let s = report.source(source).unwrap_or_else(|| panic!("no source {source}"));
    assert_eq!(s.files.len(), 1, "{source}: one file expected");
    &s.files[0]
}

fn matches(set: &ListSet, host: &str, category: haven_policy::CategoryId) -> bool {
    set.match_name(&name(host)).categories.contains(category)
}

fn assert_lines_add_up(f: &FileReport) {
    assert_eq!(f.accepted_lines + f.ignored_lines + f.rejected, f.lines, "{}: line counts do not add up", f.display_path());
}

#[test]
fn bad_lines_are_reported_by_file_and_line_and_good_lines_load() {
    let t = taxonomy();
    let other = cat(&t, "other");
    let sources = [
        file("bad-domains", fixture("bad_domains.txt"), ListFormat::Domains, other, Matching::Subdomains),
        file("bad-hosts", fixture("bad_hosts.txt"), ListFormat::Hosts, other, Matching::Exact),
    ];
    let (set, report) = build(&t, &sources).unwrap();

    let d = only_file(&report, "bad-domains");
    assert_eq!((d.lines, d.accepted_lines, d.ignored_lines, d.rejected), (11, 3, 3, 5));
    let got: Vec<(u64, &LineProblem)> = d.samples.iter().map(|b| (b.line, &b.problem)).collect();
    assert_eq!(got.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [3, 4, 5, 6, 8]);
    assert_eq!(got[0].1, &LineProblem::Parse(LineError::Name(NameError::BadChar(' '))));
    assert_eq!(got[1].1, &LineProblem::Parse(LineError::PublicSuffix("co.uk".into())));
    assert!(matches!(got[2].1, LineProblem::Parse(LineError::Name(NameError::LabelTooLong(_)))), "{:?}", got[2].1);
    assert_eq!(got[3].1, &LineProblem::NotUtf8 { byte: 4 });
    assert_eq!(got[4].1, &LineProblem::Parse(LineError::Name(NameError::BadChar('!'))));
    for b in &d.samples {
        assert_eq!(b.file, fixture("bad_domains.txt").display().to_string());
    }
    let shown = d.samples[0].to_string();
    let want = format!("{}:3: character ' ' is not allowed in a host name: bad name.example.com", fixture("bad_domains.txt").display());
    assert_eq!(shown, want);
    assert_eq!(d.samples[3].text, "caf\u{fffd}.example.com");
    assert_lines_add_up(d);

    let h = only_file(&report, "bad-hosts");
    assert_eq!((h.lines, h.accepted_lines, h.ignored_lines, h.rejected, h.entries), (6, 2, 2, 2, 3));
    let got: Vec<(u64, &LineProblem)> = h.samples.iter().map(|b| (b.line, &b.problem)).collect();
    assert_eq!(got, [(4, &LineProblem::Parse(LineError::HostsAddress)), (5, &LineProblem::Parse(LineError::HostsNoName))]);
    assert!(h.samples[0].to_string().starts_with(&format!("{}:4: ", fixture("bad_hosts.txt").display())));
    assert_lines_add_up(h);

    assert_eq!(report.total_rejected, 7);
    assert_eq!(report.bad_lines().count(), 7);
    // The builder's own counts agree, including lines refused before parsing (invalid UTF-8).
    for s in &report.sources {
        assert_eq!(set.counts(s.id).rejected, s.rejected(), "{}", s.name);
    }

    for good in ["good-one.example.com", "www.good-one.example.com", "good-two.example.org", "sub.good-three.example.net"] {
        assert!(matches(&set, good, other), "{good} should be listed");
    }
    for not_listed in ["good-three.example.net", "example.com", "bbc.co.uk", "co.uk", "example.net"] {
        assert!(!matches(&set, not_listed, other), "{not_listed} should not be listed");
    }
    for exact in ["tracker-one.example.com", "tracker-three.example.com", "tracker-four.example.com"] {
        assert!(matches(&set, exact, other), "{exact} should be listed");
        assert!(!matches(&set, &format!("sub.{exact}"), other), "hosts entries are exact: sub.{exact}");
    }
    assert!(!matches(&set, "tracker-two.example.com", other));
}

#[test]
fn hosts_file_loads_exact_names_and_ignores_local_ones() {
    let t = taxonomy();
    let sec = cat(&t, "security");
    let (set, report) = build(&t, &[file("hosts", fixture("hosts.txt"), ListFormat::Hosts, sec, Matching::Exact)]).unwrap();
    let f = only_file(&report, "hosts");
    assert_eq!((f.lines, f.entries, f.rejected), (9, 4, 0));
    assert_lines_add_up(f);
    for host in ["ads.example.com", "metrics.example.net", "telemetry.example.net", "tracker.example.org"] {
        assert!(matches(&set, host, sec), "{host}");
    }
    assert!(!matches(&set, "x.ads.example.com", sec));
    assert!(!matches(&set, "localhost", sec));
    assert_eq!(set.distinct_domains(), 4);
}

#[test]
fn adblock_list_loads_domain_rules_and_reports_the_rest() {
    let t = taxonomy();
    let sec = cat(&t, "security");
    let (set, report) = build(&t, &[file("adblock", fixture("adblock.txt"), ListFormat::Adblock, sec, Matching::Subdomains)]).unwrap();
    let f = only_file(&report, "adblock");
    assert_eq!((f.lines, f.accepted_lines, f.ignored_lines, f.rejected), (9, 3, 3, 3));
    assert_eq!(f.samples.iter().map(|b| b.line).collect::<Vec<_>>(), [6, 7, 8]);
    assert!(f.samples.iter().all(|b| matches!(b.problem, LineProblem::Parse(LineError::Adblock(_)))));
    for host in ["doubleclick.example", "x.doubleclick.example", "ads.example.io", "pixel.example.co"] {
        assert!(matches(&set, host, sec), "{host}");
    }
    assert!(!matches(&set, "allowed.example.io", sec));
    assert!(!matches(&set, "cdn.example.io", sec));
}

#[test]
fn gzipped_list_loads() {
    let t = taxonomy();
    let g = cat(&t, "gambling");
    let (set, report) = build(&t, &[file("gz", fixture("plain.txt.gz"), ListFormat::Domains, g, Matching::Subdomains)]).unwrap();
    let f = only_file(&report, "gz");
    assert_eq!((f.lines, f.entries, f.rejected), (5, 3, 0));
    assert_eq!(report.expected_domain_lines, 5, "the counting pass reads through gzip too");
    for host in ["gz-one.example.com", "gz-two.example.org", "gz-three.example.net", "a.gz-three.example.net"] {
        assert!(matches(&set, host, g), "{host}");
    }
}

#[test]
fn hashed_feed_loads() {
    let t = taxonomy();
    let illegal = cat(&t, "illegal");
    let spec = SourceSpec::Hashed { name: "iwf".into(), path: fixture("hashed.txt"), category: illegal };
    let (set, report) = build(&t, &[spec]).unwrap();
    let f = only_file(&report, "iwf");
    assert_eq!((f.lines, f.entries, f.rejected, f.ignored_lines), (7, 3, 2, 2));
    assert_eq!(
        f.samples.iter().map(|b| (b.line, b.problem.clone())).collect::<Vec<_>>(),
        [(5, LineProblem::Parse(LineError::BadHash)), (6, LineProblem::Parse(LineError::BadHash))]
    );
    assert!(set.has_hashed());
    for text in ["illegal-one.example/abuse", "illegal-two.example/", "illegal-three.example"] {
        let hit = set.match_hashed([text]).unwrap_or_else(|| panic!("{text} should match"));
        assert_eq!(hit.source.category, illegal);
        assert_eq!(&*hit.source.name, "iwf");
    }
    assert!(set.match_hashed(["illegal-one.example/other"]).is_none());
    assert_eq!(report.expected_domain_lines, 0, "hashed feeds hold no domains");
}

#[test]
fn several_sources_share_a_name_table_and_report_separately() {
    let t = taxonomy();
    let (g, o) = (cat(&t, "gambling"), cat(&t, "other"));
    let sources = [
        file("gz", fixture("plain.txt.gz"), ListFormat::Domains, g, Matching::Subdomains),
        file("bad-domains", fixture("bad_domains.txt"), ListFormat::Domains, o, Matching::Subdomains),
        file("hosts", fixture("hosts.txt"), ListFormat::Hosts, o, Matching::Exact),
    ];
    let (set, report) = build(&t, &sources).unwrap();
    assert_eq!(report.sources.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["gz", "bad-domains", "hosts"]);
    assert_eq!(report.total_lines, 5 + 11 + 9);
    assert_eq!(report.expected_domain_lines, 5 + 11 + 9);
    assert_eq!(set.sources().len(), 3);
    assert_eq!(&*set.sources()[1].origin, fixture("bad_domains.txt").display().to_string());
    assert!(report.to_string().starts_with("3 sources, 25 lines"), "{report}");
}
