//! Listeners, connection limits and shutdown; the per-request work is in `http.rs` and `tunnel.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use haven_activity::EventSink;
use haven_identity::{Identify, OwnedWho};
use haven_policy::PolicyHandle;
use hyper::header::HeaderValue;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Authenticate, CredentialCache};
use crate::config::ProxyConfig;
use crate::error::ProxyError;
use crate::metrics::ProxyMetrics;
use crate::pages::Pages;
use crate::resolve::Resolve;

/// The addresses the proxy actually listens on (ports resolved when 0 was asked for).
#[derive(Debug, Clone, Default)]
pub struct ProxyAddrs {
    /// Explicit proxy listeners.
    pub explicit: Vec<SocketAddr>,
    /// Transparent port-80 listeners (and block page server).
    pub transparent_http: Vec<SocketAddr>,
    /// Transparent port-443 listeners.
    pub transparent_https: Vec<SocketAddr>,
}

/// What a listener is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Explicit,
    TransparentHttp,
    TransparentHttps,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Explicit => "explicit",
            Role::TransparentHttp => "transparent-http",
            Role::TransparentHttps => "transparent-https",
        }
    }
}

/// Everything the connection handlers share.
pub(crate) struct Shared {
    pub(crate) cfg: ProxyConfig,
    pub(crate) policy: Arc<PolicyHandle>,
    pub(crate) identify: Arc<dyn Identify>,
    pub(crate) auth: Arc<dyn Authenticate>,
    pub(crate) creds: CredentialCache,
    pub(crate) resolver: Arc<dyn Resolve>,
    pub(crate) sink: Arc<dyn EventSink>,
    pub(crate) metrics: Arc<ProxyMetrics>,
    pub(crate) pages: Pages,
    pub(crate) via: HeaderValue,
    pub(crate) challenge: HeaderValue,
    pub(crate) cancel: CancellationToken,
    pub(crate) tracker: TaskTracker,
}

impl Shared {
    /// Who is behind an address, before any sign-in.
    pub(crate) fn who(&self, client: std::net::IpAddr) -> OwnedWho {
        self.identify.who(client)
    }

    /// Check a proxy sign-in, remembering a success briefly; argon2 runs on a blocking thread.
    pub(crate) async fn sign_in(&self, user: String, password: String) -> Option<String> {
        let key = CredentialCache::key(&user, &password);
        if let Some(u) = self.creds.get(&key) {
            return Some(u);
        }
        let auth = Arc::clone(&self.auth);
        let checked = tokio::task::spawn_blocking(move || auth.verify(&user, &password)).await.ok().flatten();
        match checked {
            Some(u) => {
                self.creds.put(key, u.clone());
                Some(u)
            }
            None => {
                ProxyMetrics::inc(&self.metrics.auth_failed);
                None
            }
        }
    }
}

/// The running proxy.
pub struct ProxyServer {
    addrs: ProxyAddrs,
    shared: Arc<Shared>,
}

/// What the proxy needs from the rest of Haven, gathered so `bind` stays readable.
pub struct ProxyParts {
    /// The live policy snapshot (shared with DNS, swapped on reload).
    pub policy: Arc<PolicyHandle>,
    /// Address-based identity (the same source as DNS).
    pub identify: Arc<dyn Identify>,
    /// Proxy sign-in.
    pub auth: Arc<dyn Authenticate>,
    /// Origin address look-ups.
    pub resolver: Arc<dyn Resolve>,
    /// Where activity events go.
    pub sink: Arc<dyn EventSink>,
}

impl ProxyServer {
    /// Bind every configured listener and start serving; nothing is served if any bind fails.
    pub async fn bind(cfg: ProxyConfig, parts: ProxyParts) -> Result<ProxyServer, ProxyError> {
        if cfg.listen.is_empty() && cfg.transparent_http.is_empty() && cfg.transparent_https.is_empty() {
            return Err(ProxyError::NoListeners);
        }
        for (field, zero) in [
            ("max_connections", cfg.max_connections == 0),
            ("max_headers", cfg.max_headers == 0),
            ("max_header_bytes", cfg.max_header_bytes == 0),
            ("header_timeout_ms", cfg.header_timeout.is_zero()),
            ("idle_timeout_ms", cfg.idle_timeout.is_zero()),
            ("connect_timeout_ms", cfg.connect_timeout.is_zero()),
            ("response_timeout_ms", cfg.response_timeout.is_zero()),
            ("hello_timeout_ms", cfg.hello_timeout.is_zero()),
        ] {
            if zero {
                return Err(ProxyError::Zero { field });
            }
        }
        let mut bound = Vec::new();
        for (role, list) in
            [(Role::Explicit, &cfg.listen), (Role::TransparentHttp, &cfg.transparent_http), (Role::TransparentHttps, &cfg.transparent_https)]
        {
            for &addr in list {
                let l = TcpListener::bind(addr).await.map_err(|source| ProxyError::Bind { role: role.as_str(), addr, source })?;
                let local = l.local_addr().map_err(|source| ProxyError::Bind { role: role.as_str(), addr, source })?;
                bound.push((role, l, local));
            }
        }
        let mut addrs = ProxyAddrs::default();
        for (role, _, local) in &bound {
            match role {
                Role::Explicit => addrs.explicit.push(*local),
                Role::TransparentHttp => addrs.transparent_http.push(*local),
                Role::TransparentHttps => addrs.transparent_https.push(*local),
            }
        }
        let via = HeaderValue::from_str(&format!("1.1 {}", cfg.via_name)).unwrap_or_else(|_| HeaderValue::from_static("1.1 haven"));
        let challenge = HeaderValue::from_str(&format!("Basic realm=\"{}\", charset=\"UTF-8\"", cfg.realm.replace('"', "'")))
            .unwrap_or_else(|_| HeaderValue::from_static("Basic realm=\"Haven\""));
        let shared = Arc::new(Shared {
            pages: Pages::new(cfg.pages.clone()),
            creds: CredentialCache::new(std::time::Duration::from_secs(300), 10_000),
            cfg,
            policy: parts.policy,
            identify: parts.identify,
            auth: parts.auth,
            resolver: parts.resolver,
            sink: parts.sink,
            metrics: Arc::new(ProxyMetrics::default()),
            via,
            challenge,
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
        });
        let limit = Arc::new(Semaphore::new(shared.cfg.max_connections));
        for (role, listener, local) in bound {
            tracing::info!(addr = %local, role = role.as_str(), "proxy: listening");
            shared.tracker.spawn(accept_loop(Arc::clone(&shared), listener, local, role, Arc::clone(&limit)));
        }
        Ok(ProxyServer { addrs, shared })
    }

    /// Where it listens.
    pub fn local_addrs(&self) -> ProxyAddrs {
        self.addrs.clone()
    }

    /// Its counters.
    pub fn metrics(&self) -> Arc<ProxyMetrics> {
        Arc::clone(&self.shared.metrics)
    }

    /// Stop accepting, close connections (finishing their events) and wait for every task.
    pub async fn shutdown(self) {
        self.shared.cancel.cancel();
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, local: SocketAddr, role: Role, limit: Arc<Semaphore>) {
    loop {
        // Take a slot before accepting: at the limit, new clients wait in the kernel's backlog
        // instead of costing memory here.
        let permit = tokio::select! {
            p = Arc::clone(&limit).acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = shared.cancel.cancelled() => return,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shared.cancel.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly rather than spin.
                tracing::warn!(error = %e, addr = %local, "proxy: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        ProxyMetrics::inc(&shared.metrics.connections);
        shared.metrics.open_connections.fetch_add(1, Ordering::Relaxed);
        let s = Arc::clone(&shared);
        shared.tracker.spawn(async move {
            serve_connection(Arc::clone(&s), stream, peer, local, role).await;
            s.metrics.open_connections.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}

async fn serve_connection(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, local: SocketAddr, role: Role) {
    match role {
        Role::Explicit => crate::http::serve(shared, stream, peer, None).await,
        Role::TransparentHttp => {
            let original = crate::original_dst::intercepted(&stream, local);
            crate::http::serve(shared, stream, peer, Some(original)).await
        }
        Role::TransparentHttps => {
            let original = crate::original_dst::intercepted(&stream, local);
            crate::tunnel::transparent(shared, stream, peer, original).await
        }
    }
}
