//! The RADIUS accounting listener inside `haven serve` (`[radius]`): the checked settings mapped
//! onto `haven-radius`, bound after everything is loaded, writing into the shared identity book.

use std::sync::Arc;

use anyhow::{Context, Result};
use haven_config::RadiusSettings;
use haven_identity::IdentityBook;
use haven_radius::{Lifetimes, RadiusClient, RadiusConfig, RadiusServer, Secret, UserNameMap};
use haven_store::Store;

/// Map checked settings onto the listener's configuration.
pub fn radius_config(s: &RadiusSettings) -> RadiusConfig {
    RadiusConfig {
        listen: s.listen.clone(),
        clients: s
            .clients
            .iter()
            .map(|c| RadiusClient { name: c.name.clone(), network: c.network, secret: Secret::new(c.secret.expose().as_bytes()) })
            .collect(),
        lifetimes: Lifetimes { default: s.binding_lifetime, interim_factor: s.interim_factor },
        names: UserNameMap { strip_realm: s.strip_realm },
    }
}

/// Start the listener when `[radius]` is configured.
pub async fn start(settings: Option<&RadiusSettings>, book: Arc<IdentityBook>, store: &Store) -> Result<Option<RadiusServer>> {
    let Some(s) = settings else { return Ok(None) };
    let server =
        RadiusServer::bind(radius_config(s), book, Arc::new(store.clone())).await.context("starting the RADIUS accounting listener")?;
    let names: Vec<&str> = s.clients.iter().map(|c| c.name.as_str()).collect();
    tracing::info!(addrs = ?server.local_addrs(), clients = ?names, "RADIUS accounting listening");
    Ok(Some(server))
}
