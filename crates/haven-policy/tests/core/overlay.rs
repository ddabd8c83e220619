//! Console changes over the configuration's policy: user-scoped and expiring site entries, a
//! policy swapped in over shared lists, and the floor refusing console allow entries too.

use std::sync::Arc;

use haven_policy::*;
use jiff::Timestamp;

use super::fixture::*;

fn entry(site: &str, users: &[&str], expires: Option<Timestamp>) -> OverlaySite {
    OverlaySite {
        group: "ks3".into(),
        spec: SiteSpec {
            action: Action::Allow,
            site: site.into(),
            reason: "project".into(),
            author: "it".into(),
            users: users.iter().map(|u| u.to_string()).collect(),
            reference: Some("site-7".into()),
        },
        expires,
    }
}

#[test]
fn a_console_policy_swaps_in_over_the_same_lists_and_applies_to_its_scope() {
    let base = snapshot();
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let later = Timestamp::from_second(1_800_000_060).unwrap();
    let overlay = Overlay { sites: vec![entry("bet365.com", &["sam"], Some(later))], ..Overlay::default() };
    let applied = overlay.apply(&policy_spec(), now).unwrap();
    assert_eq!(applied.next_expiry, Some(later));
    let policy = Policy::compile(&applied.spec, base.taxonomy(), base.floor()).unwrap();
    let snap = base.with_policy(policy);
    assert!(std::ptr::eq(snap.lists(), base.lists()), "the lists are shared, not rebuilt");
    let what = What::parse("www.bet365.com").unwrap();
    let sam = snap.decide(&Who { user: Some("sam"), group: Some("ks3"), ..Who::default() }, &what, now);
    assert_eq!(sam.action, Action::Allow);
    assert_eq!(snap.reference(&sam), "site-7");
    let other = snap.decide(&Who { user: Some("alex"), group: Some("ks3"), ..Who::default() }, &what, now);
    assert_eq!(other.action, Action::Block, "a user-scoped entry is for that user only");
    // After the expiry the entry is left out of the rebuilt policy.
    let expired = overlay.apply(&policy_spec(), later).unwrap();
    assert_eq!(expired.next_expiry, None);
    assert!(expired.spec.groups[0].sites.iter().all(|s| s.reference.is_none()));
    // Swapped in through the handle, readers see the new policy on their next load.
    let handle = PolicyHandle::new(snapshot());
    drop(handle.replace(snap));
    assert_eq!(Arc::strong_count(&handle.load()), 2);
}

#[test]
fn the_floor_refuses_console_entries_and_unknown_groups_are_named() {
    let base = snapshot();
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let overlay = Overlay { sites: vec![entry("floor-domain.test", &[], None)], ..Overlay::default() };
    let applied = overlay.apply(&policy_spec(), now).unwrap();
    let errs = Policy::compile(&applied.spec, base.taxonomy(), base.floor()).unwrap_err();
    assert!(errs.iter().any(|e| e.floor_override && e.message.contains("nothing can allow it")), "{errs:?}");
    let mut stray = entry("example.org", &[], None);
    stray.group = "year99".into();
    let errs = Overlay { sites: vec![stray], ..Overlay::default() }.apply(&policy_spec(), now).unwrap_err();
    assert!(errs[0].message.contains("year99"), "{errs:?}");
}
