//! The identity book: bindings by source, newest wins, release only by the source that bound,
//! expiry, and what `Identify` answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use haven_identity::{Binding, BindingSource, IdentityBook, Identify};
use jiff::{SignedDuration, Timestamp};

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn binding(user: &str, source: BindingSource, expires: Option<Timestamp>) -> Binding {
    Binding { user: Some(user.into()), group: Some("ks3".into()), device: None, source, since: at(0), expires }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn newest_binding_wins_and_release_needs_the_same_source() {
    let book = IdentityBook::new();
    assert!(book.bind(ip("10.0.0.5"), binding("a.pupil", BindingSource::Radius, None)).is_none());
    let old = book.bind(ip("10.0.0.5"), binding("b.pupil", BindingSource::Portal, Some(at(600)))).unwrap();
    assert_eq!(old.user.as_deref(), Some("a.pupil"));
    // A RADIUS Stop for the address must not end the portal sign-in made since.
    assert!(book.release(ip("10.0.0.5"), BindingSource::Radius).is_none());
    assert_eq!(book.lookup(ip("10.0.0.5"), at(1)).unwrap().user.as_deref(), Some("b.pupil"));
    assert_eq!(book.release(ip("10.0.0.5"), BindingSource::Portal).unwrap().user.as_deref(), Some("b.pupil"));
    assert!(book.lookup(ip("10.0.0.5"), at(1)).is_none());
}

#[test]
fn expired_bindings_stop_counting_and_are_swept() {
    let book = IdentityBook::new();
    book.bind(ip("10.0.0.6"), binding("c.pupil", BindingSource::Guest, Some(at(60))));
    book.bind(ip("10.0.0.7"), binding("d.pupil", BindingSource::Device, None));
    assert!(book.lookup(ip("10.0.0.6"), at(59)).is_some());
    assert!(book.lookup(ip("10.0.0.6"), at(60)).is_none());
    assert!(book.expire(at(30)).is_empty());
    let gone = book.expire(at(61));
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].0, ip("10.0.0.6"));
    let now: Vec<IpAddr> = book.current(at(61)).into_iter().map(|(a, _)| a).collect();
    assert_eq!(now, vec![ip("10.0.0.7")]);
}

#[test]
fn replace_source_keeps_other_sources() {
    let book = IdentityBook::new();
    book.bind(ip("10.0.0.8"), binding("e", BindingSource::Device, None));
    book.bind(ip("10.0.0.9"), binding("f", BindingSource::Portal, None));
    book.replace_source(BindingSource::Device, [(ip("10.0.0.10"), binding("g", BindingSource::Device, None))]);
    let users: Vec<String> = book.current(at(0)).into_iter().filter_map(|(_, b)| b.user).collect();
    assert_eq!(users, vec!["f".to_string(), "g".to_string()]);
}

#[test]
fn identify_answers_the_bound_person_else_the_address_alone() {
    let book = IdentityBook::new();
    let later = Timestamp::now() + SignedDuration::from_secs(3600);
    book.bind(ip("10.0.1.1"), Binding { device: Some("ipad-12".into()), ..binding("h.pupil", BindingSource::Portal, Some(later)) });
    book.bind(ip("10.0.1.2"), binding("gone", BindingSource::Portal, Some(at(0))));
    let who = book.who(ip("10.0.1.1"));
    assert_eq!((who.user.as_deref(), who.group.as_deref(), who.device.as_deref()), (Some("h.pupil"), Some("ks3"), Some("ipad-12")));
    let expired = book.who(ip("10.0.1.2"));
    assert_eq!((expired.user, expired.group, expired.client), (None, None, Some(ip("10.0.1.2"))));
    assert_eq!(book.who(ip("10.0.1.3")).user, None);
}
