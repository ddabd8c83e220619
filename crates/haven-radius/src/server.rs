//! The UDP listener: one receive loop per socket; each datagram is matched to a configured client
//! by source address, its authenticator checked against that client's secret, its user looked up
//! in the people directory, then applied to the identity book and answered. Unknown clients and
//! bad authenticators get no answer (as RFC 2866 requires) and are counted.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use haven_identity::IdentityBook;
use ipnet::IpNet;
use jiff::Timestamp;
use tokio::net::UdpSocket;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use crate::accounting::{Accounting, Effect, Lifetimes, UserNameMap};
use crate::metrics::RadiusMetrics;
use crate::packet::{MAX_PACKET_LEN, StatusType, parse_request, response, verify_request};

/// How long a directory look-up may take before the user is bound without a group.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// How often sessions that never sent a Stop are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// A shared secret; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wrap secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into())
    }

    /// The bytes, for the MD5 computations only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One NAS (Wi-Fi controller, switch) allowed to send accounting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadiusClient {
    /// Name for logs.
    pub name: String,
    /// Source addresses it sends from.
    pub network: IpNet,
    /// Its shared secret.
    pub secret: Secret,
}

/// The listener's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadiusConfig {
    /// UDP addresses to listen on (`0.0.0.0:1813` in a school).
    pub listen: Vec<SocketAddr>,
    /// Allowed clients.
    pub clients: Vec<RadiusClient>,
    /// How long bindings last.
    pub lifetimes: Lifetimes,
    /// How User-Name becomes a directory user name.
    pub names: UserNameMap,
}

impl RadiusConfig {
    /// The client a source address belongs to: the most specific network that holds it.
    pub fn client_for(&self, addr: IpAddr) -> Option<&RadiusClient> {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        self.clients.iter().filter(|c| c.network.contains(&addr)).max_by_key(|c| c.network.prefix_len())
    }
}

/// A user's filtering group from the people directory; `None` when they are not in it.
pub trait Directory: Send + Sync + 'static {
    /// Look a directory user name up.
    fn group_of<'a>(&'a self, user: &'a str) -> Pin<Box<dyn Future<Output = Result<Option<String>, String>> + Send + 'a>>;
}

impl Directory for haven_store::Store {
    fn group_of<'a>(&'a self, user: &'a str) -> Pin<Box<dyn Future<Output = Result<Option<String>, String>> + Send + 'a>> {
        Box::pin(async move { self.person_for_login(user).await.map(|p| p.map(|r| r.person.filter_group)).map_err(|e| e.to_string()) })
    }
}

/// The running listener.
pub struct RadiusServer {
    addrs: Vec<SocketAddr>,
    metrics: Arc<RadiusMetrics>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

struct Shared {
    config: RadiusConfig,
    accounting: Mutex<Accounting>,
    directory: Arc<dyn Directory>,
    metrics: Arc<RadiusMetrics>,
}

impl RadiusServer {
    /// Bind every listen address and start answering.
    pub async fn bind(config: RadiusConfig, book: Arc<IdentityBook>, directory: Arc<dyn Directory>) -> std::io::Result<RadiusServer> {
        let mut sockets = Vec::new();
        for a in &config.listen {
            let s =
                UdpSocket::bind(a).await.map_err(|e| std::io::Error::new(e.kind(), format!("binding RADIUS accounting on {a}: {e}")))?;
            sockets.push(Arc::new(s));
        }
        let addrs = sockets.iter().map(|s| s.local_addr()).collect::<std::io::Result<Vec<_>>>()?;
        let metrics = Arc::new(RadiusMetrics::default());
        let accounting = Mutex::new(Accounting::new(book, config.names, config.lifetimes));
        let shared = Arc::new(Shared { config, accounting, directory, metrics: metrics.clone() });
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for s in sockets {
            let (shared, mut stopped) = (shared.clone(), stopped.clone());
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; MAX_PACKET_LEN + 1];
                loop {
                    tokio::select! {
                        r = s.recv_from(&mut buf) => match r {
                            Ok((n, from)) => {
                                if let Some(reply) = shared.handle(&buf[..n], from.ip()).await {
                                    if s.send_to(&reply, from).await.is_ok() {
                                        shared.metrics.response();
                                    }
                                }
                            }
                            Err(e) => tracing::debug!(error = %e, "RADIUS receive error"),
                        },
                        _ = stopped.changed() => break,
                    }
                }
            }));
        }
        {
            let (shared, mut stopped) = (shared.clone(), stopped);
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(PRUNE_EVERY) => {
                            let mut acc = shared.accounting.lock().await;
                            let n = acc.prune(Timestamp::now());
                            shared.metrics.set_sessions(acc.open_sessions());
                            if n > 0 {
                                tracing::info!(sessions = n, "RADIUS sessions expired without a Stop");
                            }
                        }
                        _ = stopped.changed() => break,
                    }
                }
            }));
        }
        Ok(RadiusServer { addrs, metrics, stop, tasks })
    }

    /// The bound addresses (with the real port when 0 was asked for).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The counters, for `/metrics`.
    pub fn metrics(&self) -> Arc<RadiusMetrics> {
        self.metrics.clone()
    }

    /// Stop listening.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

impl Shared {
    /// One datagram in, the response out (or nothing).
    async fn handle(&self, bytes: &[u8], from: IpAddr) -> Option<[u8; 20]> {
        let Some(client) = self.config.client_for(from) else {
            self.metrics.unknown_client();
            tracing::warn!(source = %from, "RADIUS packet from an address that is no configured client; dropped");
            return None;
        };
        let req = match parse_request(bytes) {
            Ok(r) => r,
            Err(e) => {
                self.metrics.malformed();
                tracing::debug!(client = %client.name, source = %from, error = %e, "unreadable RADIUS packet; dropped");
                return None;
            }
        };
        if !verify_request(bytes, client.secret.expose()) {
            self.metrics.bad_authenticator();
            tracing::warn!(client = %client.name, source = %from, "RADIUS accounting with a bad authenticator (wrong shared secret?); dropped");
            return None;
        }
        self.metrics.packet(req.status);
        let names = self.config.names;
        let group = match (req.status, req.user_name.as_deref().and_then(|u| names.person(u))) {
            (StatusType::Start | StatusType::InterimUpdate, Some(user)) if !req.framed_addrs().is_empty() => {
                match tokio::time::timeout(LOOKUP_TIMEOUT, self.directory.group_of(&user)).await {
                    Ok(Ok(Some(g))) => Some(g),
                    Ok(Ok(None)) => {
                        self.metrics.not_in_directory();
                        None
                    }
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "people directory look-up failed; binding the user without a group");
                        None
                    }
                    Err(_) => {
                        tracing::error!("people directory look-up timed out; binding the user without a group");
                        None
                    }
                }
            }
            _ => None,
        };
        let mut acc = self.accounting.lock().await;
        let effect = acc.apply(&req, from, group.clone(), Timestamp::now());
        self.metrics.set_sessions(acc.open_sessions());
        drop(acc);
        match &effect {
            Effect::Bound { user, addrs } => {
                tracing::info!(client = %client.name, status = req.status.label(), user = %user, group = group.as_deref().unwrap_or("(fallback)"), addrs = ?addrs, "RADIUS binding")
            }
            Effect::Released(addrs) => tracing::info!(client = %client.name, status = req.status.label(), addrs = ?addrs, "RADIUS release"),
            Effect::Nothing(why) => {
                tracing::debug!(client = %client.name, status = req.status.label(), why, "RADIUS packet changed nothing")
            }
        }
        // Answer even when nothing changed: the NAS only needs to know the record was received.
        Some(response(&req, client.secret.expose()))
    }
}
