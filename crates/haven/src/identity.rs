//! The live address book inside `haven serve`: restored from the store at start (with the
//! registered devices' fixed addresses), swept for expiries, shared by DNS, proxy and console.

use std::time::Duration;

use anyhow::{Context, Result};
use haven_identity::{Binding, BindingSource, IdentityBook};
use haven_store::{LiveIdentity, SYSTEM_ACTOR, Store};

/// How often expired bindings are dropped (a lookup already ignores them in between).
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Restore the stored bindings and the registered devices into a fresh book.
pub async fn start(store: &Store) -> Result<LiveIdentity> {
    let live = LiveIdentity::new(store.clone(), IdentityBook::new());
    let now = jiff::Timestamp::now();
    let restored = live.restore(now).await.context("restoring address bindings")?;
    let devices = store.devices(false).await.context("reading registered devices")?;
    let wanted = devices
        .into_iter()
        .filter_map(|d| {
            let address = d.address?;
            Some((
                address,
                Binding {
                    user: d.owner_user,
                    group: d.owner_group,
                    device: Some(d.name),
                    source: BindingSource::Device,
                    since: now,
                    expires: None,
                },
            ))
        })
        .collect();
    live.sync_devices(wanted, SYSTEM_ACTOR, now).await.context("binding registered devices")?;
    tracing::info!(restored, "address bindings restored");
    Ok(live)
}

/// Drop expired bindings every [`SWEEP_EVERY`], recording each end.
pub async fn sweep(live: LiveIdentity) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        match live.sweep(jiff::Timestamp::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(ended = n, "expired address bindings ended"),
            Err(e) => tracing::error!(error = %e, "sweeping address bindings failed; will retry"),
        }
    }
}
