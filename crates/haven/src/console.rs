//! The web console inside `haven serve`: started when the configuration has `[console]`,
//! over TLS from the configured certificate or a self-signed one made on first run.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use haven_config::Config;
use haven_console::{Console, ConsoleSettings, ConsoleState};
use haven_store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The running console; dropping it stops the console (requests in flight may finish).
pub struct RunningConsole {
    _stop: oneshot::Sender<()>,
}

/// Start the console if `[console]` is configured; `None` if it is not.
pub async fn start(
    config_path: Option<&Path>,
    store: &Store,
    identity: haven_store::LiveIdentity,
    live: Arc<haven_console::live::LivePolicy>,
) -> Result<Option<RunningConsole>> {
    let Some(path) = config_path else { return Ok(None) };
    let config = Config::from_file(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(c) = config.console() else { return Ok(None) };
    let tls = match &c.tls {
        Some(t) => {
            let (tls, origin) = haven_console::tls::load_or_generate(&t.cert, &t.key, &t.names).map_err(|e| anyhow::anyhow!("{e}"))?;
            if origin == haven_console::tls::Origin::Generated {
                tracing::warn!(cert = %t.cert.display(), "generated a self-signed console certificate; install the school's own for browsers to trust it");
            }
            Some(tls)
        }
        None => None,
    };
    let listener = TcpListener::bind(c.listen).await.with_context(|| format!("binding the console {}", c.listen))?;
    let settings = ConsoleSettings {
        school: c.school.clone(),
        password: c.password.clone(),
        session: c.session.clone(),
        lockout: c.lockout.clone(),
        secure_cookies: tls.is_some(),
        groups: crate::people::group_map(&config)?,
        portal: config.portal().map(|p| haven_console::portal::PortalSettings {
            sign_in_for: p.sign_in_for,
            staff_group: p.staff_group.clone(),
            guest_group: p.guest_group.clone(),
            guest_max: p.guest_max,
        }),
    };
    let mut state =
        ConsoleState::new(store.clone(), Arc::new(haven_accounts::SystemClock), settings).with_identity(identity).with_policy(live);
    if let Some(d) = config.directory().filter(|d| d.portal_sign_in) {
        state = state.with_authenticator(Arc::new(crate::directory::DirectoryPortal::new(crate::directory::directory_config(d)?)));
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(addr = %c.listen, "web console at {scheme}://{}/", c.listen);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(haven_console::serve(listener, Console::router(state), tls, async move {
        let _ = stopped.await;
    }));
    Ok(Some(RunningConsole { _stop: stop }))
}
