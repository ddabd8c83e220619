//! Table-driven decision tests: each row is who, what, when, and the expected outcome and reason.

use haven_policy::list_set::sha256_hex;
use haven_policy::*;
use jiff::Timestamp;

use super::fixture::*;

/// Monday 27 Oct 2025, 12:20 GMT (lunch) -- the day after the clocks went back.
const MON_LUNCH_GMT: &str = "2025-10-27T12:20:00Z";
/// Monday 27 Oct 2025, 11:20 GMT (a lesson).
const MON_LESSON_GMT: &str = "2025-10-27T11:20:00Z";

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn group(g: &str) -> Who<'_> {
    Who { group: Some(g), ..Who::default() }
}

fn user(u: &str) -> Who<'_> {
    Who { user: Some(u), ..Who::default() }
}

struct Row<'a> {
    who: Who<'a>,
    what: &'a str,
    when: &'a str,
    action: Action,
    /// Expected sentence, or a prefix of it when it ends with `…`.
    reason: &'a str,
}

fn check(rows: &[Row<'_>]) {
    let snap = snapshot();
    let mut failures = Vec::new();
    for r in rows {
        let what = What::parse(r.what).unwrap_or_else(|e| panic!("{}: {e}", r.what));
        let d = snap.decide(&r.who, &what, at(r.when));
        let sentence = snap.sentence(&d);
        let reason_ok = match r.reason.strip_suffix('…') {
            Some(prefix) => sentence.starts_with(prefix),
            None => sentence == r.reason,
        };
        if d.action != r.action || !reason_ok {
            failures.push(format!(
                "{} ({:?} at {}): got {:?} `{sentence}`, want {:?} `{}`",
                r.what, r.who, r.when, d.action, r.action, r.reason
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
}

#[test]
fn names_match_whole_labels_case_and_dots() {
    use Action::*;
    let g = group("ks3");
    check(&[
        Row { who: g, what: "bet365.com", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Gambling" },
        Row { who: g, what: "www.bet365.com", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Gambling" },
        Row { who: g, what: "a.b.c.bet365.com", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Gambling" },
        Row { who: g, what: "WWW.BET365.COM.", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Gambling" },
        // `ad.com` is listed; `bad.com` merely ends with the same letters.
        Row {
            who: g,
            what: "bad.com",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: not in any blocked category",
        },
        Row { who: g, what: "ad.com", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Gambling" },
        Row {
            who: g,
            what: "bet365.com.evil.test",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: not in any blocked category",
        },
        Row {
            who: g,
            what: "notbet365.com",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: not in any blocked category",
        },
    ]);
}

#[test]
fn international_names_match_their_punycode() {
    use Action::*;
    let g = group("ks3");
    check(&[
        Row { who: g, what: "bücher.de", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Shopping" },
        Row { who: g, what: "XN--BCHER-KVA.DE", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Shopping" },
        Row { who: g, what: "BÜCHER.DE.", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Shopping" },
    ]);
}

#[test]
fn hosts_entries_cover_the_exact_name_only() {
    use Action::*;
    let g = group("ks3");
    check(&[
        Row { who: g, what: "exact.example", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Shopping" },
        Row {
            who: g,
            what: "www.exact.example",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: not in any blocked category",
        },
    ]);
}

#[test]
fn url_entries_match_host_and_path_prefix() {
    use Action::*;
    let g = group("ks3");
    check(&[
        Row { who: g, what: "http://example.org/casino", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Gambling" },
        Row {
            who: g,
            what: "http://www.example.org/casino/poker?x=1",
            when: MON_LESSON_GMT,
            action: Block,
            reason: "Blocked for Key Stage 3: Gambling",
        },
        Row {
            who: g,
            what: "https://sub.example.org/casino?id=2",
            when: MON_LESSON_GMT,
            action: Block,
            reason: "Blocked for Key Stage 3: Gambling",
        },
        Row {
            who: g,
            what: "http://example.org/casinos",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: not in any blocked category",
        },
        Row {
            who: g,
            what: "http://example.org/",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: not in any blocked category",
        },
        // A name alone (DNS, CONNECT) cannot see the path, so only host-level rules apply.
        Row {
            who: g,
            what: "example.org",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: not in any blocked category",
        },
    ]);
}

#[test]
fn each_action_kind() {
    use Action::*;
    check(&[
        Row {
            who: group("ks3"),
            what: "video.example",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: Video streaming",
        },
        Row { who: group("ks3"), what: "bet365.com", when: MON_LUNCH_GMT, action: Block, reason: "Blocked for Key Stage 3: Gambling" },
        Row {
            who: group("ks3"),
            what: "games.example",
            when: MON_LUNCH_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: Games (during Lunch)",
        },
        Row {
            who: group("ks3"),
            what: "games.example",
            when: MON_LESSON_GMT,
            action: Block,
            reason: "Blocked for Key Stage 3: Games (allowed only during Lunch, After school)",
        },
        Row {
            who: group("ks3"),
            what: "games.example",
            when: "2025-10-27T16:00:00Z",
            action: Allow,
            reason: "Allowed for Key Stage 3: Games (during After school)",
        },
        // Saturday lunchtime is not a school lunch window.
        Row {
            who: group("ks3"),
            what: "games.example",
            when: "2025-11-01T12:20:00Z",
            action: Block,
            reason: "Blocked for Key Stage 3: Games (allowed only…",
        },
        // Nominated users: named, via a sub-group, and not nominated.
        Row {
            who: user("alice"),
            what: "social.example",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: Social networks (nominated user)",
        },
        Row {
            who: user("bob"),
            what: "social.example",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: Social networks (nominated user)",
        },
        Row {
            who: user("carol"),
            what: "social.example",
            when: MON_LESSON_GMT,
            action: Block,
            reason: "Blocked for Key Stage 3: Social networks (allowed for nominated users only)",
        },
        Row {
            who: group("ks3"),
            what: "social.example",
            when: MON_LESSON_GMT,
            action: Block,
            reason: "Blocked for Key Stage 3: Social networks (allowed for nominated users only)",
        },
        // Staff differ from pupils.
        Row { who: user("mr.teacher"), what: "games.example", when: MON_LESSON_GMT, action: Allow, reason: "Allowed for Staff: Games" },
    ]);
}

#[test]
fn windows_hold_on_both_sides_of_the_clock_changes() {
    use Action::*;
    let g = group("ks3");
    let allowed = "Allowed for Key Stage 3: Games (during Lunch)";
    let blocked = "Blocked for Key Stage 3: Games (allowed only during Lunch, After school)";
    check(&[
        // October: Friday 24th is BST (12:20 local = 11:20Z); Monday 27th is GMT (12:20 local = 12:20Z).
        Row { who: g, what: "games.example", when: "2025-10-24T11:20:00Z", action: Allow, reason: allowed },
        Row { who: g, what: "games.example", when: "2025-10-24T12:20:00Z", action: Block, reason: blocked },
        Row { who: g, what: "games.example", when: "2025-10-27T12:20:00Z", action: Allow, reason: allowed },
        Row { who: g, what: "games.example", when: "2025-10-27T11:20:00Z", action: Block, reason: blocked },
        // March: Friday 28th is GMT; Monday 31st is BST.
        Row { who: g, what: "games.example", when: "2025-03-28T12:20:00Z", action: Allow, reason: allowed },
        Row { who: g, what: "games.example", when: "2025-03-28T11:20:00Z", action: Block, reason: blocked },
        Row { who: g, what: "games.example", when: "2025-03-31T11:20:00Z", action: Allow, reason: allowed },
        Row { who: g, what: "games.example", when: "2025-03-31T12:20:00Z", action: Block, reason: blocked },
        // Window edges: 12:15 opens, 13:15 closes (GMT day).
        Row { who: g, what: "games.example", when: "2025-10-27T12:15:00Z", action: Allow, reason: allowed },
        Row { who: g, what: "games.example", when: "2025-10-27T12:14:59Z", action: Block, reason: blocked },
        Row { who: g, what: "games.example", when: "2025-10-27T13:15:00Z", action: Block, reason: blocked },
    ]);
}

#[test]
fn site_entries_are_most_specific_first_and_carry_their_reason() {
    use Action::*;
    let g = group("ks3");
    check(&[
        Row {
            who: g,
            what: "allowed.bet365.com",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: site entry ks3-site-1 (because), added by it.manager",
        },
        Row { who: g, what: "www.bet365.com", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Gambling" },
        Row {
            who: g, what: "example.net", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: site entry ks3-site-2…"
        },
        Row {
            who: g,
            what: "http://example.net/homework/week1",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: site entry ks3-site-3…",
        },
        Row {
            who: g,
            what: "http://example.net/other",
            when: MON_LESSON_GMT,
            action: Block,
            reason: "Blocked for Key Stage 3: site entry ks3-site-2…",
        },
    ]);
}

#[test]
fn site_entries_need_a_reason_and_an_author() {
    let mut spec = policy_spec();
    spec.groups[0].sites.push(SiteSpec { action: Action::Allow, site: "ok.example".into(), reason: "  ".into(), author: "".into(), users: Vec::new(), reference: None });
    let errs = snapshot_with(&spec).err().expect("must be refused");
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["groups.ks3.sites[5].reason", "groups.ks3.sites[5].author"]);
}

#[test]
fn illegal_floor_beats_every_kind_of_allow() {
    use Action::*;
    let floor = "Blocked: child sexual abuse material on the test-iwf list. Nothing can override this.";
    let hashed = "Blocked: unlawful terrorist content…";
    check(&[
        // Domain-level floor entry, for every group and identity.
        Row { who: group("ks3"), what: "floor-domain.test", when: MON_LUNCH_GMT, action: Block, reason: floor },
        Row { who: group("staff"), what: "www.floor-domain.test", when: MON_LUNCH_GMT, action: Block, reason: floor },
        Row { who: user("alice"), what: "floor-domain.test", when: MON_LUNCH_GMT, action: Block, reason: floor },
        Row { who: Who::default(), what: "floor-domain.test", when: MON_LUNCH_GMT, action: Block, reason: floor },
        // URL-level entry beats a site allow entry for its host and an allow-list category.
        Row { who: group("ks3"), what: "http://floor-url.test/abuse/page.html", when: MON_LUNCH_GMT, action: Block, reason: floor },
        Row { who: group("ks3"), what: "http://floor-url.test/abuse/page.html?x=1", when: MON_LUNCH_GMT, action: Block, reason: floor },
        // ...but blocks only that URL: a sibling page and the bare name stay reachable.
        Row {
            who: group("ks3"),
            what: "http://floor-url.test/other.html",
            when: MON_LUNCH_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: site entry ks3-site-4 (because), added by it.manager",
        },
        Row {
            who: group("ks3"),
            what: "floor-url.test",
            when: MON_LUNCH_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: site entry ks3-site-4…",
        },
        // Hashed feed entry beats a site allow for the same host.
        Row { who: group("ks3"), what: "http://hashed-floor.test/secret/img.jpg", when: MON_LUNCH_GMT, action: Block, reason: hashed },
        Row { who: group("ks3"), what: "http://www.hashed-floor.test/secret/img.jpg", when: MON_LUNCH_GMT, action: Block, reason: hashed },
        Row {
            who: group("ks3"),
            what: "http://hashed-floor.test/secret/other.jpg",
            when: MON_LUNCH_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: site entry ks3-site-5…",
        },
    ]);
}

#[test]
fn allow_entries_for_floor_content_are_refused_and_flagged() {
    for (site, why) in [
        ("floor-domain.test", "domain on the floor"),
        ("sub.floor-domain.test", "subdomain of a floor domain"),
        ("floor-url.test/abuse/page.html", "the exact floor URL"),
        ("http://floor-url.test/abuse/page.html", "the exact floor URL with a scheme"),
        (HASHED_FLOOR_URL, "the exact URL of a hashed entry"),
    ] {
        let mut spec = policy_spec();
        spec.groups[1].sites.push(SiteSpec {
            action: Action::Allow,
            site: site.into(),
            reason: "teacher asked".into(),
            author: "dsl".into(),
            users: Vec::new(), reference: None,
        });
        let errs = snapshot_with(&spec).err().unwrap_or_else(|| panic!("allow for {why} must be refused"));
        assert_eq!(errs.len(), 1, "{why}: {errs:?}");
        assert!(errs[0].floor_override, "{why}: must be flagged for audit");
        assert_eq!(errs[0].field, "groups.staff.sites[0].site", "{why}");
    }
    // A block entry for floor content is harmless and accepted.
    let mut spec = policy_spec();
    spec.groups[1].sites.push(SiteSpec {
        action: Action::Block,
        site: "floor-domain.test".into(),
        reason: "belt and braces".into(),
        author: "dsl".into(),
            users: Vec::new(), reference: None,
    });
    assert!(snapshot_with(&spec).is_ok());
}

#[test]
fn group_rules_on_illegal_categories_are_refused() {
    let mut spec = policy_spec();
    spec.groups[1].rules.push(("illegal_csam".into(), rule(BaseSpec::Allow)));
    spec.groups[0].rules.push(("illegal_terrorism".into(), RuleSpec { base: BaseSpec::Block, nominated: vec!["alice".into()] }));
    let errs = snapshot_with(&spec).err().expect("must be refused");
    assert_eq!(errs.len(), 2);
    assert!(errs.iter().all(|e| e.floor_override));
    assert_eq!(errs[0].field, "groups.ks3.categories.illegal_terrorism");
    assert_eq!(errs[1].field, "groups.staff.categories.illegal_csam");
}

#[test]
fn unknown_clients_fail_closed() {
    use Action::*;
    let nobody = Who { client: Some("192.168.77.7".parse().unwrap()), ..Who::default() };
    check(&[
        Row { who: nobody, what: "games.example", when: MON_LUNCH_GMT, action: Block, reason: "Blocked for Unknown device: Games" },
        Row {
            who: nobody,
            what: "video.example",
            when: MON_LUNCH_GMT,
            action: Block,
            reason: "Blocked for Unknown device: Video streaming",
        },
        Row {
            who: Who::default(),
            what: "social.example",
            when: MON_LUNCH_GMT,
            action: Block,
            reason: "Blocked for Unknown device: Social networks",
        },
        // An unknown user name or group name also falls back rather than failing open.
        Row {
            who: user("stranger"),
            what: "games.example",
            when: MON_LUNCH_GMT,
            action: Block,
            reason: "Blocked for Unknown device: Games",
        },
        Row {
            who: group("no-such-group"),
            what: "games.example",
            when: MON_LUNCH_GMT,
            action: Block,
            reason: "Blocked for Unknown device: Games",
        },
    ]);
}

#[test]
fn identity_comes_from_user_device_then_network() {
    let snap = snapshot();
    let r = |who: Who<'_>| {
        let id = snap.resolve(&who);
        (snap.policy().group(id.group).id.to_string(), id.source, id.device.map(str::to_string), id.user.map(str::to_string))
    };
    assert_eq!(r(user("mr.teacher")), ("staff".into(), IdentitySource::User, None, Some("mr.teacher".into())));
    let dev = Who { client: Some("10.0.5.10".parse().unwrap()), ..Who::default() };
    assert_eq!(r(dev), ("ks3".into(), IdentitySource::Device, Some("LIB-PC-01".into()), Some("carol".into())));
    let net = Who { client: Some("10.9.3.4".parse().unwrap()), ..Who::default() };
    assert_eq!(r(net), ("staff".into(), IdentitySource::Network, None, None));
    let none = Who { client: Some("172.16.0.1".parse().unwrap()), ..Who::default() };
    assert_eq!(r(none), ("unknown".into(), IdentitySource::Unknown, None, None));
}

#[test]
fn fallback_group_must_be_at_least_as_strict_as_pupils() {
    let mut spec = policy_spec();
    spec.groups[2].rules.retain(|(c, _)| c != "games");
    spec.groups[2].rules.push(("games".into(), rule(BaseSpec::Allow)));
    let errs = snapshot_with(&spec).err().expect("a lax fallback must be refused");
    assert_eq!(errs[0].field, "groups.unknown.categories.games");
    let mut spec = policy_spec();
    spec.fallback_group = "staff".into();
    let errs = snapshot_with(&spec).err().expect("a staff fallback must be refused");
    assert_eq!(errs[0].field, "fallback_group");
}

#[test]
fn harm_beats_allow_lists_but_allow_lists_beat_school_choices() {
    use Action::*;
    let g = group("ks3");
    check(&[
        // edu.games.example: games (parent) + education. Education is an exception inside games.
        Row {
            who: g,
            what: "edu.games.example",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: Education (a trusted category…",
        },
        // both-cats.test: gambling + education. Harm wins.
        Row { who: g, what: "both-cats.test", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Gambling" },
    ]);
}

#[test]
fn ip_entries_and_ip_urls() {
    use Action::*;
    let g = group("ks3");
    check(&[
        Row { who: g, what: "9.9.9.9", when: MON_LESSON_GMT, action: Block, reason: "Blocked for Key Stage 3: Proxy anonymiser" },
        Row {
            who: g,
            what: "http://9.9.9.9/dns-query",
            when: MON_LESSON_GMT,
            action: Block,
            reason: "Blocked for Key Stage 3: Proxy anonymiser",
        },
        Row {
            who: g,
            what: "8.8.8.8",
            when: MON_LESSON_GMT,
            action: Allow,
            reason: "Allowed for Key Stage 3: not in any blocked category",
        },
    ]);
}

#[test]
fn decisions_name_the_list_source_and_entry() {
    let snap = snapshot();
    let what = What::parse("www.bet365.com").unwrap();
    let d = snap.decide(&group("ks3"), &what, at(MON_LESSON_GMT));
    let hit = d.hit.expect("a list decided");
    assert_eq!((&*hit.source.name, hit.entry), ("ut1/gambling", "bet365.com"));
    assert_eq!(snap.reference(&d), "ks3/gambling");
    assert!(matches!(d.decided_by, DecidedBy::Category(Verdict::Blocked)));
    let url = What::parse("http://example.org/casino/x").unwrap();
    let d = snap.decide(&group("ks3"), &url, at(MON_LESSON_GMT));
    assert_eq!(d.hit.map(|h| h.entry), Some("example.org/casino"));
    let floor = What::parse("floor-domain.test").unwrap();
    let d = snap.decide(&group("staff"), &floor, at(MON_LESSON_GMT));
    assert_eq!(snap.reference(&d), "floor/test-iwf");
    assert_eq!(d.hit.map(|h| h.entry), Some("floor-domain.test"));
    let hashed = What::parse(&format!("http://{HASHED_FLOOR_URL}")).unwrap();
    let d = snap.decide(&group("staff"), &hashed, at(MON_LESSON_GMT));
    assert_eq!(d.hit.map(|h| h.entry.to_string()), Some(format!("sha256:{}", sha256_hex(HASHED_FLOOR_URL))));
}

#[test]
fn floor_only_check_agrees_with_the_full_decision() {
    let snap = snapshot();
    let when = at(MON_LUNCH_GMT);
    for what in [
        "floor-domain.test",
        "www.floor-domain.test",
        "http://floor-url.test/abuse/page.html",
        "http://floor-url.test/other.html",
        "floor-url.test",
        &format!("http://{HASHED_FLOOR_URL}"),
        "www.bet365.com",
        "9.9.9.9",
    ] {
        let w = What::parse(what).unwrap();
        for who in [group("ks3"), group("staff"), Who::default()] {
            let id = snap.resolve(&who);
            let full = snap.decide_for(&id, &w, when);
            let floor = snap.decide_floor(&id, &w);
            assert_eq!(floor.is_some(), matches!(full.decided_by, DecidedBy::IllegalFloor), "{what}");
            if let Some(f) = floor {
                assert_eq!((f.action, f.category, f.hit), (full.action, full.category, full.hit), "{what}");
                assert_eq!(f.group.id, full.group.id, "{what}");
            }
        }
    }
}
