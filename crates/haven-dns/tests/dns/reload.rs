//! Reload under load: snapshots are swapped while a client hammers the server; every query is
//! answered and a name flips from allowed to blocked on the very next query.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use haven_policy::{Action, SiteSpec, Snapshot};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::client::{rdata, udp};
use super::fixture::*;

fn with_flip(blocked: bool) -> Snapshot {
    let mut spec = policy_spec();
    if blocked {
        spec.groups[0].sites.push(SiteSpec {
            action: Action::Block,
            site: "flip.test".into(),
            reason: "reload test".into(),
            author: "test".into(),
        users: Vec::new(), reference: None,
        });
    }
    snapshot_with(&spec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_loses_no_query() {
    let r = rig().await;
    r.policy.replace(with_flip(false));
    let allowed = vec![format!("A {UPSTREAM_A}")];
    let blocked = vec![format!("A {BLOCK_V4}")];
    assert_eq!(rdata(&udp(r.udp, PUPIL, "flip.test", RecordType::A).await), allowed);

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (policy, stop) = (r.policy.clone(), stop.clone());
        tokio::spawn(async move {
            let mut swaps = 0u32;
            while !stop.load(Ordering::Relaxed) {
                policy.replace(with_flip(swaps.is_multiple_of(2)));
                swaps += 1;
                tokio::task::yield_now().await;
            }
            swaps
        })
    };
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let (addr, allowed, blocked) = (r.udp, allowed.clone(), blocked.clone());
            tokio::spawn(async move {
                let mut seen = (0, 0);
                for j in 0..150 {
                    let name = if j % 3 == 0 { format!("other{i}-{j}.test") } else { "flip.test".to_string() };
                    let m = udp(addr, PUPIL, &name, RecordType::A).await;
                    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
                    let got = rdata(&m);
                    if name == "flip.test" {
                        if got == allowed {
                            seen.0 += 1;
                        } else {
                            assert_eq!(got, blocked);
                            seen.1 += 1;
                        }
                    }
                }
                seen
            })
        })
        .collect();
    let mut total = (0, 0);
    for c in clients {
        let s = c.await.unwrap();
        total = (total.0 + s.0, total.1 + s.1);
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.await.unwrap();
    assert!(swaps > 10, "the policy was swapped repeatedly ({swaps})");
    assert!(total.0 > 0 && total.1 > 0, "both policies were seen: {total:?}");
    assert_eq!(r.server.metrics().counts().servfail, 0);

    // Settle on blocked: the next query is blocked; then allowed again.
    r.policy.replace(with_flip(true));
    assert_eq!(rdata(&udp(r.udp, PUPIL, "flip.test", RecordType::A).await), blocked);
    r.policy.replace(with_flip(false));
    assert_eq!(rdata(&udp(r.udp, PUPIL, "flip.test", RecordType::A).await), allowed);
    assert_eq!(r.events.for_name("flip.test").len(), 3 + total.0 + total.1);
}
