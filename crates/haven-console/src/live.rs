//! The policy in force, live: the configuration's policy with the console's changes laid over
//! it, compiled and swapped into the running DNS service and proxy without touching the lists.
//!
//! A change made in this process wakes the watcher directly ([`LivePolicy::notify`]); the
//! watcher also polls the store's change mark every few seconds, so a second Haven on the same
//! PostgreSQL picks a change up too, and rebuilds when the next site entry expires. A rebuild
//! compiles a new `Policy` against the floor in force and swaps in a snapshot that shares the
//! floor and lists (`Snapshot::with_policy`): milliseconds, not a list reload.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use haven_accounts::Clock;
use haven_policy::{
    Action, BaseSpec, Overlay, OverlayRule, OverlaySite, Policy, PolicyError, PolicyHandle, PolicySpec, RuleSpec, SiteSpec, Snapshot,
    WindowSpec,
};
use haven_store::Store;
use jiff::Timestamp;
use tokio::sync::Notify;

use crate::error::ConsoleError;

/// How often the store's change mark is polled for changes made by another Haven.
pub const POLL_EVERY: Duration = Duration::from_secs(3);

/// The running policy and what it is built from.
pub struct LivePolicy {
    handle: Arc<PolicyHandle>,
    base: RwLock<PolicySpec>,
    store: Store,
    wake: Notify,
    /// When the lists in force were loaded (list age on the floor page).
    lists_loaded: RwLock<Timestamp>,
}

impl std::fmt::Debug for LivePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivePolicy").finish_non_exhaustive()
    }
}

/// Turn stored overlay rows into the policy core's overlay.
pub async fn load_overlay(store: &Store) -> Result<Overlay, ConsoleError> {
    let mut o = Overlay::default();
    for r in store.policy_rules().await? {
        let base = match r.base.as_str() {
            "allow" => BaseSpec::Allow,
            "during" => BaseSpec::During(r.windows),
            _ => BaseSpec::Block,
        };
        o.rules.push(OverlayRule { group: r.group, category: r.category, rule: RuleSpec { base, nominated: r.nominated } });
    }
    for w in store.policy_windows().await? {
        o.windows.push(WindowSpec { id: w.id, title: w.title, spans: w.spans });
    }
    for s in store.policy_sites(false).await? {
        let reference = Some(s.reference());
        let n = s.site;
        let action = if n.action == "allow" { Action::Allow } else { Action::Block };
        o.sites.push(OverlaySite {
            group: n.group,
            spec: SiteSpec { action, site: n.site, reason: n.reason, author: n.author, users: n.users, reference },
            expires: n.expires,
        });
    }
    Ok(o)
}

impl LivePolicy {
    /// Serve `handle` (built from the configuration's `base` policy) with the store's overlay.
    pub fn new(handle: Arc<PolicyHandle>, base: PolicySpec, store: Store, lists_loaded: Timestamp) -> Arc<LivePolicy> {
        Arc::new(LivePolicy { handle, base: RwLock::new(base), store, wake: Notify::new(), lists_loaded: RwLock::new(lists_loaded) })
    }

    /// The snapshot in force.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.handle.load()
    }

    /// When the lists in force were loaded.
    pub fn lists_loaded(&self) -> Timestamp {
        self.lists_loaded.read().map_or(Timestamp::UNIX_EPOCH, |t| *t)
    }

    /// The configuration's policy, before console changes.
    pub fn base(&self) -> PolicySpec {
        self.base.read().map(|b| b.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// After a configuration reload swapped in a new snapshot: the new base policy.
    pub fn set_base(&self, base: PolicySpec, lists_loaded: Timestamp) {
        if let Ok(mut b) = self.base.write() {
            *b = base;
        }
        if let Ok(mut t) = self.lists_loaded.write() {
            *t = lists_loaded;
        }
    }

    /// Compile `overlay` over the base against the floor and lists in force, without swapping
    /// anything in: the preview, and the check before a change is saved.
    pub fn compile(&self, overlay: &Overlay, now: Timestamp) -> Result<(Snapshot, Option<Timestamp>), Vec<PolicyError>> {
        let applied = overlay.apply(&self.base(), now)?;
        let current = self.snapshot();
        let policy = Policy::compile(&applied.spec, current.taxonomy(), current.floor())?;
        Ok((current.with_policy(policy), applied.next_expiry))
    }

    /// Rebuild from the store and swap in; returns the next expiry. On error nothing changes.
    pub async fn refresh(&self, now: Timestamp) -> Result<Option<Timestamp>, String> {
        let overlay = load_overlay(&self.store).await.map_err(|e| e.to_string())?;
        let started = std::time::Instant::now();
        let (snap, next) =
            self.compile(&overlay, now).map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
        drop(self.handle.replace(snap));
        tracing::info!(
            sites = overlay.sites.len(),
            rules = overlay.rules.len(),
            build_ms = started.elapsed().as_millis() as u64,
            "console policy changes in force"
        );
        Ok(next)
    }

    /// After a configuration reload: swap in the freshly built snapshot with the console's changes
    /// already laid over it (one swap, so there is no moment without them). If the changes no
    /// longer compile over the new configuration, the new configuration goes in alone and the
    /// error is returned for the log.
    pub async fn install(&self, fresh: Snapshot, base: PolicySpec, lists_loaded: Timestamp, now: Timestamp) -> Result<(), String> {
        self.set_base(base, lists_loaded);
        let overlay = match load_overlay(&self.store).await {
            Ok(o) => o,
            Err(e) => {
                drop(self.handle.replace(fresh));
                return Err(e.to_string());
            }
        };
        let compiled = overlay
            .apply(&self.base(), now)
            .and_then(|a| Policy::compile(&a.spec, fresh.taxonomy(), fresh.floor()))
            .map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
        match compiled {
            Ok(policy) => {
                drop(self.handle.replace(fresh.with_policy(policy)));
                Ok(())
            }
            Err(e) => {
                drop(self.handle.replace(fresh));
                Err(e)
            }
        }
    }

    /// Ask the watcher to rebuild now (a change was just saved in this process).
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Rebuild whenever a change is saved here, another Haven's change shows in the store, or
    /// the next site entry expires. Runs until the task is dropped.
    pub async fn watch(self: Arc<Self>, clock: Arc<dyn Clock>) {
        let mut mark = self.store.policy_change_mark().await.unwrap_or(0);
        let mut next = match self.refresh(clock.now()).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "console policy changes could not be applied; the configuration's policy stays in force");
                None
            }
        };
        loop {
            let until_expiry = next
                .map(|n| Duration::from_millis(u64::try_from((n.as_millisecond() - clock.now().as_millisecond()).max(0)).unwrap_or(0) + 5));
            let wait = until_expiry.map_or(POLL_EVERY, |d| d.min(POLL_EVERY));
            let notified = tokio::select! {
                _ = self.wake.notified() => true,
                _ = tokio::time::sleep(wait) => false,
            };
            let now = clock.now();
            let new_mark = self.store.policy_change_mark().await.unwrap_or(mark);
            let expired = next.is_some_and(|n| n <= now);
            if notified || new_mark != mark || expired {
                mark = new_mark;
                match self.refresh(now).await {
                    Ok(n) => next = n,
                    Err(e) => {
                        tracing::error!(error = %e, "console policy changes could not be applied; the policy in force stays in force")
                    }
                }
            }
        }
    }
}
