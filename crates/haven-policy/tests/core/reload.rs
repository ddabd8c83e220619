//! Reload: a new snapshot swaps in atomically while decisions run on other threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use haven_policy::*;

use super::fixture::*;

/// Two snapshots that disagree on two names in opposite directions: a decision that mixed them
/// would see both blocked or both allowed.
fn flipped(block: &str) -> Snapshot {
    let mut spec = policy_spec();
    for s in ["a-side.example", "b-side.example"] {
        let action = if s == block { Action::Block } else { Action::Allow };
        spec.groups[1].sites.push(SiteSpec { action, site: s.into(), reason: "reload test".into(), author: "test".into(), users: Vec::new(), reference: None });
    }
    snapshot_with(&spec).unwrap()
}

#[test]
fn decisions_in_flight_never_see_half_a_swap() {
    let handle = Arc::new(PolicyHandle::new(flipped("a-side.example")));
    let stop = Arc::new(AtomicBool::new(false));
    let decided = Arc::new(AtomicUsize::new(0));
    let a = What::parse("a-side.example").unwrap();
    let b = What::parse("b-side.example").unwrap();
    let now = jiff::Timestamp::now();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (handle, stop, decided, a, b) = (handle.clone(), stop.clone(), decided.clone(), a.clone(), b.clone());
            std::thread::spawn(move || {
                let who = Who { group: Some("staff"), ..Who::default() };
                while !stop.load(Ordering::Relaxed) {
                    let snap = handle.load();
                    let da = snap.decide(&who, &a, now).action;
                    let db = snap.decide(&who, &b, now).action;
                    assert_ne!(da, db, "one snapshot must block exactly one of the two");
                    decided.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for i in 0..200 {
        let next = if i % 2 == 0 { flipped("b-side.example") } else { flipped("a-side.example") };
        drop(handle.replace(next));
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("reader panicked: a decision saw an inconsistent snapshot");
    }
    assert!(decided.load(Ordering::Relaxed) > 0);
}
