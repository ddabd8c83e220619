//! Monitoring tests: keyword normalisation per shipped language, search terms, rule semantics,
//! escalation timing with a controllable clock, and alert quality figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_arguments)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use haven_activity::{Channel, Event, Flags};
use haven_monitor::quality::{Scored, quality};
use haven_monitor::{Contact, Engine, Exclusion, KeywordMatcher, Library, Outcome, Routing, RuleSet};
use haven_policy::Severity;
use jiff::Timestamp;
use jiff::tz::TimeZone;

fn shipped() -> KeywordMatcher {
    KeywordMatcher::new(&Library::shipped().expect("shipped libraries parse")).expect("matcher builds")
}

fn terms(m: &KeywordMatcher, text: &str) -> Vec<String> {
    m.find(text).iter().map(|h| m.entries()[h.entry].term.clone()).collect()
}

/// Each text must match the wanted library term (`None`: must match nothing).
fn check_table(m: &KeywordMatcher, cases: &[(&str, Option<&str>)]) {
    for (text, want) in cases {
        let got = terms(m, text);
        match want {
            Some(w) => assert!(got.iter().any(|g| g == w), "{text:?}: wanted {w:?}, got {got:?}"),
            None => assert!(got.is_empty(), "{text:?}: wanted nothing, got {got:?}"),
        }
    }
}

#[test]
fn english_normalisation_table() {
    let m = shipped();
    let cases: &[(&str, Option<&str>)] = &[
        ("kill myself", Some("kill myself")),
        ("KILL MYSELF", Some("kill myself")),
        ("k1ll mys3lf", Some("kill myself")),
        ("killl   my-self", None), // `my-self` is two words: not the phrase `myself`
        ("i want to killmyself", Some("kill myself")),
        ("wanna   die", Some("want to die")),
        ("$uicide note", Some("suicide note")),
        ("suiicide note", Some("suicide note")),
        ("how to make a b0mb", Some("how to make a bomb")),
        ("pro-ana tips", Some("pro ana")),
        ("pro ana", Some("pro ana")),
        ("the therapist said", None),
        ("grapist", None),
        ("skillmyselfx", None),
        ("dont tell your parents ok", Some("dont tell your parents")),
        ("2024 results", None),
    ];
    check_table(&m, cases);
}

#[test]
fn polish_normalisation_table() {
    let m = shipped();
    let cases: &[(&str, Option<&str>)] = &[
        ("jak się zabić", Some("jak się zabić")),
        ("jak sie zabic", Some("jak się zabić")),
        ("JAK SIĘ ZABIĆ?", Some("jak się zabić")),
        ("chcę umrzeć", Some("chcę umrzeć")),
        ("chce umrzec", Some("chcę umrzeć")),
        ("nie mów rodzicom", Some("nie mów rodzicom")),
        ("samobójstwo", Some("samobójstwo")),
        ("samobojstwo", Some("samobójstwo")),
        ("jak zr0bić bombę", Some("jak zrobić bombę")),
        ("samobójstwa w literaturze", None), // another word form, not listed
        ("wysadzę szkołę", Some("strzelanina w szkole")),
    ];
    check_table(&m, cases);
}

#[test]
fn every_shipped_entry_matches_itself_and_has_a_rationale() {
    let libs = Library::shipped().expect("parse");
    assert!(libs.len() >= 2);
    let m = shipped();
    for lib in &libs {
        assert!(!lib.version.is_empty());
        for e in &lib.entries {
            assert!(e.rationale.len() > 10, "{} line {}", lib.id, e.line);
            assert!(!m.find(&e.term).is_empty(), "{} line {}: {} does not match itself", lib.id, e.line, e.term);
        }
    }
}

#[test]
fn library_errors_name_file_and_line() {
    let err = Library::parse("x.txt", "library: x\nlanguage: X\nversion: 1\nself_harm | huge | word | because\n").unwrap_err();
    assert_eq!(err.to_string(), "x.txt line 4: severity `huge` is not one of critical, high, medium, low, digest");
    let err = Library::parse("x.txt", "library: x\nlanguage: X\nversion: 1\nnope | high | word | because\n").unwrap_err();
    assert!(err.to_string().starts_with("x.txt line 4: unknown category `nope`"));
    let err = Library::parse("x.txt", "library: x\nversion: 1\n").unwrap_err();
    assert_eq!(err.to_string(), "x.txt: missing header `language:`");
}

fn at(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn event(time: &str, user: &str, group: &str, name: &str, channel: Channel, action: &str, category: Option<&str>, flags: Flags) -> Event {
    Event {
        time: at(time),
        channel,
        client: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
        device: Some("LAPTOP-7".into()),
        user: Some(user.into()),
        group: group.into(),
        name: name.into(),
        qtype: "A".into(),
        action: action.into(),
        category: category.map(str::to_owned),
        rule: "r".into(),
        list_source: None,
        list_entry: None,
        flags,
        upstream: None,
        latency_us: 10,
        web: None,
    }
}

fn engine(rules: &str) -> Engine {
    Engine::new(RuleSet::parse("test", rules).expect("rules"), shipped(), TimeZone::get("Europe/London").expect("tz"))
}

fn new_alert(o: Option<Outcome>) -> haven_monitor::AlertDraft {
    match o {
        Some(Outcome::New(d)) => *d,
        other => panic!("expected a new alert, got {other:?}"),
    }
}

#[test]
fn default_rules_parse_and_round_trip() {
    let rules = RuleSet::defaults().expect("defaults");
    let again = RuleSet::parse("again", &rules.to_text()).expect("round trip");
    assert_eq!(rules, again);
    let err = RuleSet::parse("school", "id=a; when=category:drugs; title=x\n").unwrap_err();
    assert_eq!(err.to_string(), "school line 1: field `severity`: missing (only keyword rules may take the entry's severity)");
    let err = RuleSet::parse("school", "id=a; when=flag:bypass; severity=low; repeat=0/5m; title=x").unwrap_err();
    assert_eq!(err.field, "repeat");
}

#[test]
fn category_rules_fire_on_blocked_events_only_with_their_severity() {
    let mut e = engine(&RuleSet::defaults().expect("defaults").to_text());
    let allowed =
        event("2026-11-30T10:00:00Z", "amy", "ks4", "selfharm.example", Channel::Dns, "allow", Some("self_harm"), Flags::default());
    assert_eq!(e.evaluate(&allowed), None);
    let blocked =
        event("2026-11-30T10:00:01Z", "amy", "ks4", "selfharm.example", Channel::Dns, "block", Some("self_harm"), Flags::default());
    let a = new_alert(e.evaluate(&blocked));
    assert_eq!(
        (a.rule.as_str(), a.severity, a.category.as_str(), a.person.as_str()),
        ("self-harm-sites", Severity::High, "self_harm", "amy")
    );
    let games = event("2026-11-30T10:00:02Z", "amy", "ks4", "games.example", Channel::Dns, "block", Some("games"), Flags::default());
    assert_eq!(e.evaluate(&games), None);
    let floor = event(
        "2026-11-30T10:00:03Z",
        "amy",
        "ks4",
        "csam-domain.haven-floor-test.test",
        Channel::Dns,
        "block",
        Some("illegal_csam"),
        Flags::ILLEGAL,
    );
    let a = new_alert(e.evaluate(&floor));
    assert_eq!((a.rule.as_str(), a.severity), ("illegal-floor", Severity::Critical));
}

#[test]
fn group_rules_route_by_age_band() {
    let mut e = engine(&RuleSet::defaults().expect("defaults").to_text());
    let young = event("2026-11-30T10:00:00Z", "ben", "ks3", "porn.example", Channel::Dns, "block", Some("pornography"), Flags::default());
    let a = new_alert(e.evaluate(&young));
    assert_eq!((a.rule.as_str(), a.severity), ("pornography-younger", Severity::High));
    let older =
        event("2026-11-30T10:00:00Z", "cat", "sixth_form", "porn.example", Channel::Dns, "block", Some("pornography"), Flags::default());
    let a = new_alert(e.evaluate(&older));
    assert_eq!((a.rule.as_str(), a.severity), ("pornography", Severity::Medium));
}

#[test]
fn repetition_counts_within_the_window_per_person() {
    let mut e = engine("id=bypass-repeat; when=flag:bypass; severity=medium; repeat=3/10m; title=Repeated bypass\n");
    let b = |t: &str, who: &str| event(t, who, "ks4", "vpn.example", Channel::Dns, "block", Some("vpn"), Flags::BYPASS);
    assert_eq!(e.evaluate(&b("2026-11-30T10:00:00Z", "dan")), None);
    assert_eq!(e.evaluate(&b("2026-11-30T10:04:00Z", "dan")), None);
    // Someone else's attempt does not count towards Dan's.
    assert_eq!(e.evaluate(&b("2026-11-30T10:05:00Z", "eve")), None);
    // 10:11: the 10:00 attempt has left the window, so this is only the second.
    assert_eq!(e.evaluate(&b("2026-11-30T10:11:00Z", "dan")), None);
    let a = new_alert(e.evaluate(&b("2026-11-30T10:12:00Z", "dan")));
    assert_eq!(a.events.len(), 3);
    assert!(a.why.contains("3 times within 10m"), "{}", a.why);
}

#[test]
fn time_of_day_rules() {
    let rules = "id=night; when=category:drugs; severity=high; outside=Mon-Fri 08:00-16:00; title=Out of hours\n\
                 id=day; when=category:drugs; severity=low; title=In hours\n";
    let mut e = engine(rules);
    // 30 November 2026 is a Monday; London is on GMT, so UTC = local.
    let d = |t: &str| event(t, "fay", "ks4", "drugs.example", Channel::Dns, "block", Some("drugs"), Flags::default());
    assert_eq!(new_alert(e.evaluate(&d("2026-11-30T12:00:00Z"))).rule, "day");
    assert_eq!(new_alert(e.evaluate(&d("2026-11-30T21:00:00Z"))).rule, "night");
    // Summer time: 15:30 UTC in July is 16:30 in London, out of hours.
    assert_eq!(new_alert(e.evaluate(&d("2026-07-06T15:30:00Z"))).rule, "night");
}

#[test]
fn dedupe_counts_repeats_on_one_alert_until_the_window_passes() {
    let mut e = engine("id=drugs; when=category:drugs; severity=medium; dedupe=30m; title=Drugs\n");
    let d = |t: &str, host: &str| event(t, "gus", "ks4", host, Channel::Dns, "block", Some("drugs"), Flags::default());
    let first = new_alert(e.evaluate(&d("2026-11-30T10:00:00Z", "drugs.example")));
    for minute in 1..50 {
        // Each within 30 minutes of the previous hit: all counted on the first alert.
        let t = format!("2026-11-30T10:{minute:02}:00Z");
        match e.evaluate(&d(&t, "drugs.example")) {
            Some(Outcome::Repeat { alert, .. }) => assert_eq!(alert, first.reference),
            other => panic!("{t}: {other:?}"),
        }
    }
    // A different site is a different thing.
    assert_ne!(new_alert(e.evaluate(&d("2026-11-30T10:50:00Z", "other.example"))).reference, first.reference);
    // More than 30 minutes after the last hit: a new alert.
    assert_ne!(new_alert(e.evaluate(&d("2026-11-30T11:30:00Z", "drugs.example"))).reference, first.reference);
    // Closing an alert: the next hit raises a new one.
    let last = new_alert(e.evaluate(&d("2026-11-30T13:00:00Z", "drugs.example")));
    e.close(last.reference);
    assert!(matches!(e.evaluate(&d("2026-11-30T13:01:00Z", "drugs.example")), Some(Outcome::New(_))));
    assert_eq!(e.stats().deduplicated, 49);
}

#[test]
fn exclusions_are_scoped_and_expire() {
    let mut e = engine("id=drugs; when=category:drugs; severity=medium; dedupe=1m; title=Drugs\n");
    e.set_exclusions(vec![Exclusion {
        id: 9,
        person: Some("hal".into()),
        rule: None,
        subject: Some("talktofrank.com".into()),
        until: at("2026-12-01T00:00:00Z"),
        reason: "Drugs-education project with Mr Khan".into(),
    }]);
    let d = |t: &str, who: &str, host: &str| event(t, who, "ks4", host, Channel::Dns, "block", Some("drugs"), Flags::default());
    assert_eq!(
        e.evaluate(&d("2026-11-30T10:00:00Z", "hal", "www.talktofrank.com")),
        Some(Outcome::Excluded { exclusion: 9, rule: "drugs".into() })
    );
    // Another person, another site: not covered.
    assert!(matches!(e.evaluate(&d("2026-11-30T10:00:00Z", "ivy", "www.talktofrank.com")), Some(Outcome::New(_))));
    assert!(matches!(e.evaluate(&d("2026-11-30T10:00:00Z", "hal", "nottalktofrank.com")), Some(Outcome::New(_))));
    // After expiry it alerts again.
    assert!(matches!(e.evaluate(&d("2026-12-01T00:00:00Z", "hal", "www.talktofrank.com")), Some(Outcome::New(_))));
}

#[test]
fn keyword_rules_take_the_entry_severity_and_explain_it() {
    let mut e = engine(&RuleSet::defaults().expect("defaults").to_text());
    let url = "http://www.google.co.uk/search?q=painless+way+to+die&hl=en";
    let s = event("2026-11-30T10:00:00Z", "jo", "ks3", url, Channel::Proxy, "allow", None, Flags::default());
    let a = new_alert(e.evaluate(&s));
    assert_eq!((a.rule.as_str(), a.severity, a.category.as_str()), ("keyword-search", Severity::Critical, "suicide_risk"));
    assert_eq!(a.search.as_ref().map(|s| s.terms.as_str()), Some("painless way to die"));
    assert_eq!(a.keywords[0].matched, "painles way to die");
    assert!(a.keywords[0].library.starts_with("en@"));
    // The same search through DNS carries no terms.
    let dns = event("2026-11-30T10:00:00Z", "jo", "ks3", "www.google.co.uk", Channel::Dns, "allow", None, Flags::default());
    assert_eq!(e.evaluate(&dns), None);
}

fn contact(name: &str, groups: &[&str], ooh: bool) -> Contact {
    Contact {
        name: name.into(),
        role: "DSL".into(),
        email: format!("{name}@school.example"),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        min_severity: Severity::High,
        out_of_hours: ooh,
        in_hours: true,
    }
}

#[test]
fn routing_by_group_and_hours_and_escalation_timing() {
    let tz = TimeZone::get("Europe/London").expect("tz");
    let routing = Routing {
        chain: vec![contact("hoy9", &["ks3"], false), contact("dsl", &[], true), contact("deputy", &[], true), contact("head", &[], false)],
        ..Routing::default()
    };
    let raised = at("2026-11-30T10:00:00Z");
    let names = |v: Vec<&Contact>| v.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(routing.chain_for(Severity::Critical, "ks3", raised, &tz)), ["hoy9", "dsl", "deputy", "head"]);
    assert_eq!(names(routing.chain_for(Severity::Critical, "ks4", raised, &tz)), ["dsl", "deputy", "head"]);
    // Out of hours only the rota.
    assert_eq!(names(routing.chain_for(Severity::Critical, "ks3", at("2026-11-30T22:00:00Z"), &tz)), ["dsl", "deputy"]);
    // Medium alerts are not sent at once.
    assert!(routing.chain_for(Severity::Medium, "ks3", raised, &tz).is_empty());
    // Critical: one more person every 5 minutes while unacknowledged.
    let due = |s: &str| routing.due_steps(Severity::Critical, 3, raised, at(s));
    assert_eq!(due("2026-11-30T10:00:00Z"), 1);
    assert_eq!(due("2026-11-30T10:04:59Z"), 1);
    assert_eq!(due("2026-11-30T10:05:00Z"), 2);
    assert_eq!(due("2026-11-30T10:10:00Z"), 3);
    assert_eq!(due("2026-11-30T11:00:00Z"), 3);
    assert_eq!(routing.next_due(Severity::Critical, 3, raised, 1), Some(at("2026-11-30T10:05:00Z")));
    assert_eq!(routing.next_due(Severity::Critical, 3, raised, 3), None);
    // High escalates hourly; a configured short delay is honoured.
    assert_eq!(routing.due_steps(Severity::High, 3, raised, at("2026-11-30T10:59:00Z")), 1);
    let fast = Routing { escalate_after: vec![(Severity::Critical, Duration::from_secs(2))], ..routing };
    assert_eq!(fast.due_steps(Severity::Critical, 3, raised, at("2026-11-30T10:00:02Z")), 2);
}

#[test]
fn quality_figures_from_outcomes() {
    let s = |rule: &str, outcome: Option<&str>, ack: Option<i64>| Scored {
        rule: rule.into(),
        category: "drugs".into(),
        outcome: outcome.map(str::to_owned),
        ack_ms: ack,
        outcome_ms: ack.map(|a| a * 2),
    };
    let items = vec![
        s("a", Some("concern"), Some(1000)),
        s("a", Some("false_positive"), Some(2000)),
        s("a", Some("no_further_action"), Some(3000)),
        s("b", Some("false_positive"), Some(4000)),
        s("b", None, None),
    ];
    let q = quality(&items);
    assert_eq!(q.by_rule[0].key, "a");
    assert_eq!(q.by_rule[0].precision, Some(2.0 / 3.0));
    assert_eq!(q.by_rule[1].precision, Some(0.0));
    assert_eq!(q.by_category[0].closed, 4);
    assert_eq!(q.ack, Some((2000, 4000)));
    assert_eq!(q.outcome, Some((4000, 8000)));
    assert_eq!(q.overall, Some(0.5));
}
