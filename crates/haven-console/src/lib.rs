//! Haven's web console and JSON API: sign-in with a second factor, accounts and roles, the
//! people directory, the sign-in audit log, and safeguarding records (concerns, the DSL inbox,
//! chronologies, the pupil worry page).
//!
//! Server-rendered (askama) pages that work without JavaScript, and a JSON API under `/api/v1`
//! authenticated only by bearer tokens. Every route is declared once in [`routes`], with the
//! permission it needs; [`guard`] enforces it before any handler runs, so a route without a
//! permission entry cannot be served.
//!
//! - [`Console::router`] builds the axum router over a [`ConsoleState`].
//! - [`serve`] runs it on a listener, over TLS when given a rustls configuration.
//! - [`tls`] loads the configured certificate or generates a self-signed one.
//! - [`alerts`], [`alerts_rules`], [`alerts_quality`]: the DSL's alert inbox, evidence, lifecycle,
//!   rules, exclusions and quality report.

pub mod activity;
pub mod alerts;
pub mod alerts_quality;
pub mod alerts_rules;
mod alerts_view;
pub mod api;
pub mod error;
pub mod guard;
pub mod live;
pub mod openapi;
pub mod pages;
pub mod network;
pub mod people;
pub mod portal;
pub mod policy;
pub mod records;
pub mod records_dsl;
mod records_view;
mod policy_view;
pub mod routes;
pub mod serve;
pub mod tls;
pub mod unblock;
mod view;

use std::sync::{Arc, Mutex};

use haven_accounts::{AddressThrottle, Clock, LockoutPolicy, PasswordPolicy, SessionPolicy};
use haven_store::Store;

pub use error::ConsoleError;
pub use routes::{Access, RouteId};
pub use serve::serve;

/// What a school configures about its console (from `[console]` in `haven.toml`).
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// The school's name, shown in the header and as the authenticator app's issuer.
    pub school: String,
    /// Password rules.
    pub password: PasswordPolicy,
    /// Session lifetimes.
    pub session: SessionPolicy,
    /// Lockout and throttling.
    pub lockout: LockoutPolicy,
    /// Mark cookies `Secure` (set when the console is served over TLS).
    pub secure_cookies: bool,
    /// Which filtering group each imported person goes to.
    pub groups: haven_accounts::people::GroupMap,
    /// The captive portal (`[portal]`); `None` when the school has not turned it on.
    pub portal: Option<portal::PortalSettings>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            school: "Haven".into(),
            password: PasswordPolicy::default(),
            session: SessionPolicy::default(),
            lockout: LockoutPolicy::default(),
            secure_cookies: true,
            groups: haven_accounts::people::GroupMap::default(),
            portal: Some(portal::PortalSettings::default()),
        }
    }
}

/// Everything a request handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct ConsoleState {
    /// The store holding accounts, sessions, tokens, the audit log and the people directory.
    pub store: Store,
    /// "Now", injectable for expiry tests.
    pub clock: Arc<dyn Clock>,
    /// The school's settings.
    pub settings: Arc<ConsoleSettings>,
    /// Failed sign-ins per address (in memory; resets on restart, the account lock does not).
    pub throttle: Arc<Mutex<AddressThrottle>>,
    /// Who is on which network address: bindings made here count at once for DNS and the proxy.
    pub identity: haven_store::LiveIdentity,
    /// Who may sign in at the captive portal, asked in order.
    pub authenticators: Arc<Vec<Arc<dyn portal::PortalAuthenticator>>>,
    /// The running policy, when the console is attached to the filtering service.
    pub policy: Option<Arc<live::LivePolicy>>,
    /// Safeguarding records: categories, URN, step-ups and the worry throttle.
    pub records: Arc<records::RecordsRuntime>,
}

impl ConsoleState {
    /// State over a store, with the given clock and settings.
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: ConsoleSettings) -> ConsoleState {
        let identity = haven_store::LiveIdentity::new(store.clone(), haven_identity::IdentityBook::new());
        ConsoleState {
            store,
            clock,
            settings: Arc::new(settings),
            throttle: Arc::new(Mutex::new(AddressThrottle::new())),
            identity,
            authenticators: Arc::new(portal::default_authenticators()),
            policy: None,
            records: Arc::new(records::RecordsRuntime::default()),
        }
    }

    /// The school's own concern categories (merged over the KCSIE defaults) and its URN.
    pub fn with_records(mut self, categories: haven_records::Categories, urn: &str) -> ConsoleState {
        self.records = Arc::new(records::RecordsRuntime::new(categories, urn));
        self
    }

    /// Share the running service's address book, so the console's bindings reach DNS and proxy.
    pub fn with_identity(mut self, identity: haven_store::LiveIdentity) -> ConsoleState {
        self.identity = identity;
        self
    }

    /// Add a portal authenticator (a directory bind), asked after the ones already there.
    pub fn with_authenticator(mut self, a: Arc<dyn portal::PortalAuthenticator>) -> ConsoleState {
        let mut list = (*self.authenticators).clone();
        list.push(a);
        self.authenticators = Arc::new(list);
        self
    }

    /// The same state, attached to the running policy (policy pages and unblock approvals).
    pub fn with_policy(mut self, live: Arc<live::LivePolicy>) -> ConsoleState {
        self.policy = Some(live);
        self
    }
}

/// The console as a whole.
pub struct Console;

impl Console {
    /// The router serving every page and API route, each behind its permission check.
    pub fn router(state: ConsoleState) -> axum::Router {
        routes::build(state)
    }
}
