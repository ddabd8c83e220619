//! `[directory]` in the binary: the checked settings mapped onto `haven-directory` (with the TLS
//! trust the school gave), `haven people sync`, the periodic sync inside `haven serve`, and the
//! captive portal's directory sign-in.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use haven_accounts::people::GroupMap;
use haven_accounts::{Clock, SystemClock};
use haven_config::{Config, DirectorySettings, DirectoryTransport};
use haven_console::ConsoleState;
use haven_console::portal::{CheckFuture, PortalAuthenticator, PortalCheck, PortalPerson};
use haven_directory::{
    Attributes, BindPassword, DEFAULT_GROUP_FILTER, DEFAULT_USER_FILTER, DirectoryConfig, DirectoryGroup, DirectorySignIn, SyncMode, SyncReport,
    Transport,
};
use haven_store::{AuthEvent, Store};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Map checked settings onto the sync's configuration, loading the CA file if one is given.
pub fn directory_config(s: &DirectorySettings) -> Result<DirectoryConfig> {
    let transport = match s.transport {
        DirectoryTransport::Plain => Transport::Plain,
        DirectoryTransport::StartTls => Transport::StartTls(tls_config(s)?),
        DirectoryTransport::Tls => Transport::Tls(tls_config(s)?),
    };
    let a = &s.attributes;
    Ok(DirectoryConfig {
        url: s.url.clone(),
        transport,
        bind_dn: s.bind_dn.clone(),
        bind_password: BindPassword::new(s.bind_password.expose()),
        base_dn: s.base_dn.clone(),
        user_filter: s.user_filter.clone().unwrap_or_else(|| DEFAULT_USER_FILTER.into()),
        group_filter: s.group_filter.clone().unwrap_or_else(|| DEFAULT_GROUP_FILTER.into()),
        attributes: Attributes {
            given_name: a.given_name.clone(),
            family_name: a.family_name.clone(),
            email: a.email.clone(),
            upn: a.upn.clone(),
            year_group: a.year_group.clone(),
            tutor_group: a.tutor_group.clone(),
            date_of_birth: a.date_of_birth.clone(),
            job_title: a.job_title.clone(),
            logins: a.logins.clone(),
        },
        groups: s
            .groups
            .iter()
            .map(|g| DirectoryGroup { dn: g.dn.clone(), kind: g.kind, year: g.year, tutor_group: g.tutor_group.clone(), roles: g.roles.clone() })
            .collect(),
        timeout: s.timeout,
        max_leavers_percent: s.max_leavers_percent,
        page_size: 500,
    })
}

/// Trust the school's CA when given (AD certificates are usually from an internal CA), else
/// the public CAs.
fn tls_config(s: &DirectorySettings) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match &s.ca_file {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .with_context(|| format!("directory.ca_file: reading {}", path.display()))?
                .collect::<Result<_, _>>()
                .with_context(|| format!("directory.ca_file: {} is not a PEM certificate file", path.display()))?;
            if certs.is_empty() {
                anyhow::bail!("directory.ca_file: {} holds no certificate", path.display());
            }
            for c in certs {
                roots.add(c).with_context(|| format!("directory.ca_file: a certificate in {} is not usable", path.display()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("directory TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Print a sync's plan and refusals; the summary line is returned for the audit log.
fn print_report(r: &SyncReport) -> String {
    for (dn, n) in &r.group_sizes {
        println!("group   {dn}: {n} member(s)");
    }
    for p in &r.plan.adds {
        println!("add     {} ({}, {})", p.full_name(), p.kind, p.filter_group);
    }
    for c in &r.plan.changes {
        println!("change  {} ({})", c.person.full_name(), c.fields.join(", "));
    }
    for l in &r.plan.leavers {
        println!("leaver  {} ({})", l.person.full_name(), l.person.kind);
    }
    for e in &r.errors {
        eprintln!("directory: {e}");
    }
    format!(
        "{} user(s) and {} group(s) read; {} to add, {} to change, {} leaving, {} unchanged, {} entr{} refused",
        r.users_read,
        r.groups_read,
        r.plan.adds.len(),
        r.plan.changes.len(),
        r.plan.leavers.len(),
        r.plan.unchanged,
        r.errors.len(),
        if r.errors.len() == 1 { "y" } else { "ies" }
    )
}

/// `haven people sync`.
pub fn run_sync(config: &Config, groups: GroupMap, dry_run: bool, allow_mass_leavers: bool) -> Result<ExitCode> {
    let settings = config.directory().with_context(|| format!("{} has no [directory] section; see haven.example.toml", config.origin()))?;
    let dc = directory_config(settings)?;
    let store_url = config.service().store_url.clone();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    rt.block_on(async {
        let store = Store::open(&store_url).await.with_context(|| format!("opening the store {store_url}"))?;
        let now = SystemClock.now();
        let report = haven_directory::sync(&store, &dc, &groups, SyncMode { dry_run, allow_mass_leavers }, now).await;
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                store.close().await;
                return Err(anyhow::anyhow!("{e}"));
            }
        };
        let summary = print_report(&report);
        if report.applied {
            let actor = std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_default();
            let detail = format!("directory {}: {summary}", dc.url);
            store.append_auth_event(&AuthEvent { event: "people_synced", actor: &actor, detail: &detail, ..Default::default() }, now).await?;
            println!("synced: {summary}");
        } else {
            println!("dry run: {summary}; nothing written");
        }
        store.close().await;
        // Exit 2 when some entries were refused, so scripts notice; the good ones still went in.
        Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
    })
}

/// Sync on a timer inside `haven serve`; a failed sync changes nothing and is retried next time.
pub async fn sync_every(store: Store, dc: DirectoryConfig, groups: GroupMap, every: std::time::Duration) {
    loop {
        let now = SystemClock.now();
        match haven_directory::sync(&store, &dc, &groups, SyncMode::default(), now).await {
            Ok(r) => {
                tracing::info!(
                    adds = r.plan.adds.len(),
                    changes = r.plan.changes.len(),
                    leavers = r.plan.leavers.len(),
                    refused = r.errors.len(),
                    "directory sync done"
                );
                for e in r.errors.iter().take(20) {
                    tracing::warn!(dn = %e.dn, attribute = %e.attribute, "directory entry refused: {}", e.message);
                }
                let detail = format!("directory {}: {} added, {} changed, {} left, {} refused", dc.url, r.plan.adds.len(), r.plan.changes.len(), r.plan.leavers.len(), r.errors.len());
                if let Err(e) = store.append_auth_event(&AuthEvent { event: "people_synced", actor: "haven", detail: &detail, ..Default::default() }, now).await {
                    tracing::error!(error = %e, "recording the directory sync failed");
                }
            }
            Err(e) => tracing::error!(error = %e, "directory sync failed; nothing changed, will retry"),
        }
        tokio::time::sleep(every).await;
    }
}

/// The captive portal's directory sign-in: a bind as the user, then their person record.
#[derive(Debug)]
pub struct DirectoryPortal {
    config: DirectoryConfig,
}

impl DirectoryPortal {
    /// A portal authenticator over the directory.
    pub fn new(config: DirectoryConfig) -> DirectoryPortal {
        DirectoryPortal { config }
    }
}

impl PortalAuthenticator for DirectoryPortal {
    fn name(&self) -> &'static str {
        "directory"
    }

    fn check<'a>(&'a self, state: &'a ConsoleState, username: &'a str, password: &'a str) -> CheckFuture<'a> {
        Box::pin(async move {
            let answer = match haven_directory::sign_in(&self.config, username, password).await {
                Ok(a) => a,
                Err(e) => {
                    // The directory being down must not stop other sign-ins: ask the next one.
                    tracing::warn!(error = %e, "directory sign-in unavailable");
                    return Ok(PortalCheck::Unknown);
                }
            };
            match answer {
                DirectorySignIn::Unknown => Ok(PortalCheck::Unknown),
                DirectorySignIn::Refused(why) => Ok(PortalCheck::Refused(why)),
                DirectorySignIn::Accepted { logins, email, .. } => {
                    let mut person = None;
                    for l in logins.iter().chain(email.iter()) {
                        if let Some(p) = state.store.person_for_login(l).await? {
                            person = Some(p);
                            break;
                        }
                    }
                    let Some(p) = person.filter(|p| p.active) else {
                        return Ok(PortalCheck::Refused("in the directory but not in Haven's people (wait for the next sync)".into()));
                    };
                    let user = p.person.email.clone().unwrap_or_else(|| username.trim().to_lowercase());
                    Ok(PortalCheck::Accepted(PortalPerson { user, display_name: p.person.full_name(), group: p.person.filter_group }))
                }
            }
        })
    }
}
