//! The weekly DSL digest on a seeded week: events run through the real engine, the DSL records
//! outcomes, and the digest counts by category, group, severity and outcome, lists what is open
//! (including an older alert), and reports precision and response times — with no pupil names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};

use haven_activity::{Channel, Event, Flags};
use haven_monitor::digest::{self, DigestAlert, Week};
use haven_monitor::{Engine, KeywordMatcher, Library, Outcome, RuleSet};
use jiff::Timestamp;
use jiff::tz::TimeZone;

fn event(time: &str, user: &str, group: &str, name: &str, channel: Channel, category: Option<&str>, flags: Flags) -> Event {
    Event {
        time: time.parse().unwrap(),
        channel,
        client: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
        device: Some("LAPTOP-7".into()),
        user: Some(user.into()),
        group: group.into(),
        name: name.into(),
        qtype: "A".into(),
        action: if channel == Channel::Dns { "block".into() } else { "allow".into() },
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

fn seeded() -> Vec<DigestAlert> {
    let tz = TimeZone::get("Europe/London").unwrap();
    let m = KeywordMatcher::new(&Library::shipped().unwrap()).unwrap();
    let mut engine = Engine::new(RuleSet::defaults().unwrap(), m, tz);
    let none = Flags::default();
    let events = [
        // The week before (2026-W47): one left open.
        event("2026-11-20T10:00:00Z", "amy.older", "ks4", "self-harm.example", Channel::Dns, Some("self_harm"), none),
        // 2026-W48 (Mon 23 Nov - Sun 29 Nov).
        event("2026-11-23T09:00:00Z", "bo.pupil", "ks3", "csam-domain.haven-floor-test.test", Channel::Dns, Some("illegal_csam"), Flags::ILLEGAL),
        event("2026-11-23T09:00:30Z", "bo.pupil", "ks3", "csam-domain.haven-floor-test.test", Channel::Dns, Some("illegal_csam"), Flags::ILLEGAL),
        event("2026-11-24T11:00:00Z", "cy.pupil", "ks3", "https://www.google.com/search?q=i+want+to+die", Channel::Proxy, None, none),
        event("2026-11-25T13:00:00Z", "di.pupil", "ks3", "porn.example", Channel::Dns, Some("pornography"), none),
        event("2026-11-25T14:00:00Z", "ed.pupil", "ks5", "porn.example", Channel::Dns, Some("pornography"), none),
        event("2026-11-26T15:00:00Z", "fi.pupil", "ks4", "extreme.example", Channel::Dns, Some("extremism"), none),
        // The week after: not in the digest.
        event("2026-11-30T09:00:00Z", "gu.pupil", "ks4", "extreme.example", Channel::Dns, Some("extremism"), none),
    ];
    let mut out = Vec::new();
    for e in &events {
        if let Some(Outcome::New(d)) = engine.evaluate(e) {
            out.push(DigestAlert {
                id: i64::try_from(out.len() + 1).unwrap(),
                raised: e.time,
                severity: d.severity.as_str().into(),
                category: d.category.clone(),
                group: d.group.clone(),
                rule: d.rule.clone(),
                state: "new".into(),
                outcome: None,
                ack_at: None,
                outcome_at: None,
            });
        }
    }
    out
}

fn close(a: &mut DigestAlert, outcome: &str, ack_min: i64, outcome_min: i64) {
    a.state = "closed".into();
    a.outcome = Some(outcome.into());
    a.ack_at = Some(a.raised.checked_add(jiff::SignedDuration::from_mins(ack_min)).unwrap());
    a.outcome_at = Some(a.raised.checked_add(jiff::SignedDuration::from_mins(outcome_min)).unwrap());
}

#[test]
fn a_seeded_week_is_counted_listed_and_scored() {
    let tz = TimeZone::get("Europe/London").unwrap();
    let mut alerts = seeded();
    // The repeat hit on the floor domain was counted on the first alert, not raised again.
    assert_eq!(alerts.len(), 7, "{alerts:#?}");
    let cat = |a: &DigestAlert| a.category.clone();
    assert_eq!(alerts.iter().map(cat).collect::<Vec<_>>(), [
        "self_harm", "illegal_csam", "suicide_risk", "pornography", "pornography", "extremism", "extremism"
    ]);
    close(&mut alerts[1], "concern", 2, 30);
    close(&mut alerts[2], "concern", 4, 60);
    close(&mut alerts[3], "false_positive", 10, 20);
    close(&mut alerts[4], "no_further_action", 20, 120);
    alerts[5].state = "acknowledged".into();
    alerts[5].ack_at = Some(alerts[5].raised.checked_add(jiff::SignedDuration::from_mins(8)).unwrap());

    let week = Week::parse("2026-W48").unwrap();
    let d = digest::build(week, &tz, &alerts);
    assert_eq!(d.total, 5);
    assert_eq!(d.by_category, [("pornography".to_owned(), 2), ("extremism".to_owned(), 1), ("illegal_csam".to_owned(), 1), ("suicide_risk".to_owned(), 1)]);
    assert_eq!(d.by_group, [("ks3".to_owned(), 3), ("ks4".to_owned(), 1), ("ks5".to_owned(), 1)]);
    assert_eq!(d.by_severity, [("critical".to_owned(), 2), ("high".to_owned(), 2), ("medium".to_owned(), 1)]);
    assert_eq!(d.by_outcome, [("concern".to_owned(), 2), ("false_positive".to_owned(), 1), ("no_further_action".to_owned(), 1), ("open".to_owned(), 1)]);
    // Open: last week's self-harm alert and this week's acknowledged extremism one; not next week's.
    assert_eq!(d.open.iter().map(|o| (o.id, o.state.as_str())).collect::<Vec<_>>(), [(1, "new"), (6, "acknowledged")]);
    assert_eq!(d.quality.overall, Some(0.75));
    // Acknowledged after 2, 4, 8, 10, 20 minutes: median 8, p90 20.
    assert_eq!(d.quality.ack, Some((8 * 60_000, 20 * 60_000)));
    assert_eq!(d.quality.outcome, Some((30 * 60_000, 120 * 60_000)));

    let text = digest::render_text(&d, &tz, "https://haven.school.example/");
    assert!(text.contains("week 2026-W48 (Mon 23 Nov 2026 to Sun 29 Nov 2026)"), "{text}");
    assert!(text.contains("Alerts raised: 5"), "{text}");
    assert!(text.contains("acted on: 75 % of closed alerts"), "{text}");
    assert!(text.contains("time to acknowledge: median 8 min, 90th percentile 20 min"), "{text}");
    assert!(text.contains("https://haven.school.example/alerts/6"), "{text}");
    assert!(text.contains("Still open: 2"), "{text}");
    for name in ["amy", "bo.pupil", "cy.pupil", "LAPTOP", "porn.example", "want to die", "10.0.0.7"] {
        assert!(!text.contains(name), "the digest leaks `{name}`: {text}");
    }
}

#[test]
fn weeks_parse_and_the_digest_is_due_monday_seven_london_time() {
    let tz = TimeZone::get("Europe/London").unwrap();
    assert!(Week::parse("2026-48").is_err());
    assert!(Week::parse("2026-W54").is_err());
    let w = Week::parse("2026-W48").unwrap();
    assert_eq!(w.label(), "2026-W48");
    assert_eq!(w.bounds(&tz).0, "2026-11-23T00:00:00Z".parse::<Timestamp>().unwrap());
    assert_eq!(w.previous(&tz).label(), "2026-W47");
    // Winter: 07:00 London is 07:00 UTC; summer: 06:00 UTC.
    assert_eq!(digest::next_due("2026-12-02T04:30:00Z".parse().unwrap(), &tz), "2026-12-07T07:00:00Z".parse::<Timestamp>().unwrap());
    assert_eq!(digest::next_due("2026-11-30T06:59:00Z".parse().unwrap(), &tz), "2026-11-30T07:00:00Z".parse::<Timestamp>().unwrap());
    assert_eq!(digest::next_due("2026-06-29T05:00:00Z".parse().unwrap(), &tz), "2026-06-29T06:00:00Z".parse::<Timestamp>().unwrap());
    assert_eq!(digest::next_due("2026-06-29T06:00:00Z".parse().unwrap(), &tz), "2026-07-06T06:00:00Z".parse::<Timestamp>().unwrap());
}
