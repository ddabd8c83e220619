//! Plain HTTP: the explicit proxy (absolute-form requests, CONNECT) and the transparent port-80
//! listener, which also serves the block page to browsers the DNS service sent to Haven.
//!
//! Per request, in order: refuse ambiguous framing (request smuggling), find who is asking (proxy
//! sign-in first, then the address), decide the full URL with the policy core (the illegal floor
//! first), then either answer with a page or forward to the origin with hop-by-hop headers
//! removed and `Via` added. Bodies stream both ways; nothing is buffered whole.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use haven_identity::OwnedWho;
use haven_policy::What;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

use crate::auth::parse_basic;
use crate::metrics::ProxyMetrics;
use crate::pages::{BLOCK_MARKER, Page};
use crate::record::{Draft, Metered, ProxyBody, full};
use crate::server::Shared;

/// One client connection's state.
struct Conn {
    shared: Arc<Shared>,
    peer: SocketAddr,
    /// `None` for the explicit proxy; `Some(original destination)` on the transparent port.
    transparent: Option<Option<SocketAddr>>,
    /// The origin connection kept alive for this client's next request to the same origin.
    upstream: tokio::sync::Mutex<Option<(String, SendRequest<ProxyBody>)>>,
}

/// Where a request goes.
struct Target {
    host: String,
    port: u16,
    /// A known address (the original destination of a redirected connection).
    dst: Option<SocketAddr>,
}

/// Serve one client connection with hyper until it closes, idles out or the proxy stops.
pub(crate) async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, transparent: Option<Option<SocketAddr>>) {
    let cfg = &shared.cfg;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_timeout)
        .max_headers(cfg.max_headers)
        .max_header_size(cfg.max_header_bytes)
        .max_buf_size(cfg.max_header_bytes.max(8192))
        .keep_alive(true);
    let cancel = shared.cancel.clone();
    let idle = cfg.idle_timeout;
    let conn = Arc::new(Conn { shared: Arc::clone(&shared), peer, transparent, upstream: tokio::sync::Mutex::new(None) });
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let c = Arc::clone(&conn);
        async move { Ok::<_, Infallible>(c.handle(req).await) }
    });
    let served = builder.serve_connection(TokioIo::new(IdleStream::new(stream, idle)), svc).with_upgrades();
    tokio::pin!(served);
    tokio::select! {
        _ = &mut served => {}
        _ = cancel.cancelled() => {
            served.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), served).await;
        }
    }
}

impl Conn {
    async fn handle(self: &Arc<Self>, req: Request<Incoming>) -> Response<ProxyBody> {
        // Two framings for one body is how request smuggling starts: refuse, never guess.
        if req.headers().contains_key(header::TRANSFER_ENCODING) && req.headers().contains_key(header::CONTENT_LENGTH) {
            ProxyMetrics::inc(&self.shared.metrics.bad_requests);
            return plain(StatusCode::BAD_REQUEST, "Bad request: both Content-Length and Transfer-Encoding were sent.\n");
        }
        match self.transparent {
            None => self.explicit(req).await,
            Some(original) => self.transparent_http(req, original).await,
        }
    }

    async fn explicit(self: &Arc<Self>, req: Request<Incoming>) -> Response<ProxyBody> {
        let who = match self.sign_in(&req).await {
            Ok(w) => w,
            Err(resp) => return resp,
        };
        if req.method() == Method::CONNECT {
            return crate::tunnel::connect(Arc::clone(&self.shared), req, who, self.peer).await;
        }
        let uri = req.uri();
        let Some(host) = uri.host().map(str::to_string) else {
            ProxyMetrics::inc(&self.shared.metrics.bad_requests);
            return plain(
                StatusCode::BAD_REQUEST,
                "This is the school's web filter. Set it as your browser's proxy: it does not serve pages itself.\n",
            );
        };
        if uri.scheme_str() != Some("http") {
            ProxyMetrics::inc(&self.shared.metrics.bad_requests);
            return plain(StatusCode::NOT_IMPLEMENTED, "Only http:// URLs are fetched directly; HTTPS goes through CONNECT.\n");
        }
        let port = uri.port_u16().unwrap_or(80);
        let url = uri.to_string();
        self.decide_and_forward(req, who, Target { host, port, dst: None }, url).await
    }

    /// Who is asking on the explicit port: a proxy sign-in if one is sent, else the address.
    async fn sign_in(&self, req: &Request<Incoming>) -> Result<OwnedWho, Response<ProxyBody>> {
        let s = &self.shared;
        let mut who = s.who(self.peer.ip());
        match req.headers().get(header::PROXY_AUTHORIZATION) {
            Some(v) => match parse_basic(v.as_bytes()) {
                Some((user, password)) => match s.sign_in(user, password).await {
                    Some(user) => {
                        who.user = Some(user);
                        who.group = None;
                        Ok(who)
                    }
                    None => Err(self.challenge()),
                },
                None => Err(self.challenge()),
            },
            None if s.cfg.require_auth => Err(self.challenge()),
            None => Ok(who),
        }
    }

    fn challenge(&self) -> Response<ProxyBody> {
        ProxyMetrics::inc(&self.shared.metrics.auth_required);
        let mut r = plain(StatusCode::PROXY_AUTHENTICATION_REQUIRED, "Sign in with your school account to use the web.\n");
        r.headers_mut().insert(header::PROXY_AUTHENTICATE, self.shared.challenge.clone());
        r
    }

    async fn transparent_http(self: &Arc<Self>, req: Request<Incoming>, original: Option<SocketAddr>) -> Response<ProxyBody> {
        let who = self.shared.who(self.peer.ip());
        let Some(authority) = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string) else {
            ProxyMetrics::inc(&self.shared.metrics.bad_requests);
            return plain(StatusCode::BAD_REQUEST, "Bad request: no Host header.\n");
        };
        let Ok(parsed) = authority.parse::<hyper::http::uri::Authority>() else {
            ProxyMetrics::inc(&self.shared.metrics.bad_requests);
            return plain(StatusCode::BAD_REQUEST, "Bad request: the Host header is not a host name.\n");
        };
        let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let url = format!("http://{authority}{pq}");
        let host = parsed.host().to_string();
        match original {
            Some(dst) => self.decide_and_forward(req, who, Target { host, port: dst.port(), dst: Some(dst) }, url).await,
            None => self.explain(req, who, url),
        }
    }

    /// Decide a URL for this person, with its event started: `Ok` when it may go ahead, `Err` with
    /// the finished response (block page or bad request) when it may not.
    fn decide_url(&self, method: &str, who: &OwnedWho, url: &str) -> Result<Draft, Response<ProxyBody>> {
        let s = &self.shared;
        let mut draft = Draft::new(Arc::clone(&s.sink), Arc::clone(&s.metrics), self.peer.ip(), method, url.to_string());
        draft.who(who);
        let snap = s.policy.load();
        let id = snap.resolve(&who.as_who());
        let what = match What::url(url) {
            Ok(w) => w,
            Err(e) => {
                draft.refused(&snap, &id, "proxy/bad-url", Default::default());
                draft.status(400);
                draft.finish(0, 0);
                ProxyMetrics::inc(&s.metrics.bad_requests);
                return Err(plain(StatusCode::BAD_REQUEST, &format!("Bad request: {e}.\n")));
            }
        };
        let d = snap.decide_for(&id, &what, draft.time());
        draft.decided(&snap, &d);
        if d.is_blocked() {
            let page = s.pages.blocked(&snap, &d, url);
            draft.status(page.status);
            draft.finish(0, page.html.len() as u64);
            return Err(html(page));
        }
        // An unknown device signs in first; the floor and the policy were decided above.
        if let Some(portal) = s.cfg.portal_url.as_deref()
            && id.source == haven_policy::IdentitySource::Unknown
            && who.user.is_none()
            && !crate::portal::is_portal(portal, url)
        {
            draft.refused(&snap, &id, "portal/sign-in", Default::default());
            draft.status(302);
            draft.finish(0, 0);
            return Err(crate::portal::redirect(portal, url));
        }
        Ok(draft)
    }

    /// A browser the DNS service sent to Haven's block page address: say why, never forward.
    fn explain(&self, req: Request<Incoming>, who: OwnedWho, url: String) -> Response<ProxyBody> {
        let mut draft = match self.decide_url(req.method().as_str(), &who, &url) {
            Ok(d) => d,
            Err(page) => return page,
        };
        let page = self.shared.pages.problem(
            200,
            &url,
            "This page is not blocked now",
            "The school's web filter allows this page for you now. Close this tab and try again in a minute.",
        );
        draft.status(page.status);
        draft.finish(0, page.html.len() as u64);
        html(page)
    }

    async fn decide_and_forward(self: &Arc<Self>, req: Request<Incoming>, who: OwnedWho, target: Target, url: String) -> Response<ProxyBody> {
        match self.decide_url(req.method().as_str(), &who, &url) {
            Ok(draft) => self.forward(req, target, draft).await,
            Err(page) => page,
        }
    }

    async fn forward(self: &Arc<Self>, req: Request<Incoming>, target: Target, mut draft: Draft) -> Response<ProxyBody> {
        let s = &self.shared;
        let (mut parts, body) = req.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        parts.headers.append(header::VIA, s.via.clone());
        let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        parts.uri = pq.parse::<Uri>().unwrap_or_else(|_| Uri::from_static("/"));
        if !parts.headers.contains_key(header::HOST) {
            let host = if target.port == 80 { target.host.clone() } else { format!("{}:{}", target.host, target.port) };
            if let Ok(v) = HeaderValue::from_str(&host) {
                parts.headers.insert(header::HOST, v);
            }
        }
        let up = Arc::new(AtomicU64::new(0));
        let body = Metered::new(body, Arc::clone(&up), None).boxed_unsync();
        let mut req = Request::from_parts(parts, body);
        let key = match target.dst {
            Some(d) => d.to_string(),
            None => format!("{}:{}", target.host, target.port),
        };

        // A kept-alive origin connection first; if it turns out closed, the request comes back
        // unsent and goes on a fresh connection.
        let mut reused = self.take_upstream(&key).await;
        let response = loop {
            let mut sender = match reused.take() {
                Some(sender) => sender,
                None => match self.open_upstream(&target).await {
                    Ok(sender) => sender,
                    Err(failure) => return self.failed(draft, failure, &target.host),
                },
            };
            match tokio::time::timeout(s.cfg.response_timeout, sender.try_send_request(req)).await {
                Ok(Ok(resp)) => break (resp, sender),
                Ok(Err(mut e)) => match e.take_message() {
                    Some(back) => {
                        req = back;
                        continue;
                    }
                    None => return self.failed(draft, Failure::Broken(e.into_error().to_string()), &target.host),
                },
                Err(_) => return self.failed(draft, Failure::Timeout, &target.host),
            }
        };
        let (resp, sender) = response;
        *self.upstream.lock().await = Some((key, sender));
        let (mut rp, rbody) = resp.into_parts();
        strip_hop_by_hop(&mut rp.headers);
        rp.headers.append(header::VIA, s.via.clone());
        draft.status(rp.status.as_u16());
        draft.upstream(format!("HTTP {}", rp.status.as_u16()));
        let finish: Box<dyn FnOnce(u64) + Send> =
            Box::new(move |down| draft.finish(up.load(std::sync::atomic::Ordering::Relaxed), down));
        let body = Metered::new(rbody, Arc::new(AtomicU64::new(0)), Some(finish)).boxed_unsync();
        Response::from_parts(rp, body)
    }

    async fn take_upstream(&self, key: &str) -> Option<SendRequest<ProxyBody>> {
        let mut slot = self.upstream.lock().await;
        match slot.take() {
            Some((k, sender)) if k == key && !sender.is_closed() => Some(sender),
            _ => None,
        }
    }

    async fn open_upstream(&self, target: &Target) -> Result<SendRequest<ProxyBody>, Failure> {
        let stream = connect_origin(&self.shared, &target.host, target.port, target.dst).await?;
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Broken(e.to_string()))?;
        self.shared.tracker.spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    fn failed(&self, mut draft: Draft, failure: Failure, host: &str) -> Response<ProxyBody> {
        let s = &self.shared;
        let (status, heading, explanation) = failure.page();
        failure.count(&s.metrics);
        draft.status(status);
        draft.upstream(failure.word());
        let page = s.pages.problem(status, host, heading, &explanation);
        draft.finish(0, page.html.len() as u64);
        html(page)
    }
}

/// Why an origin could not be used.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The name has no address (or the resolvers failed).
    NoAddress(String),
    /// Every address refused or was unreachable.
    Refused(String),
    /// Connecting or answering took too long.
    Timeout,
    /// The connection broke mid-request.
    Broken(String),
    /// The origin is Haven itself or this machine, which the proxy never fetches for clients.
    Loop,
}

impl Failure {
    pub(crate) fn page(&self) -> (u16, &'static str, String) {
        match self {
            Failure::NoAddress(e) => (502, "This website could not be found", format!("The address could not be looked up ({e}).")),
            Failure::Refused(e) => (502, "This website is not answering", format!("The website refused the connection or could not be reached ({e}).")),
            Failure::Timeout => (504, "This website is taking too long", "The website did not answer in time. Try again later.".into()),
            Failure::Broken(e) => (502, "This website sent a broken answer", format!("The connection to the website failed ({e}).")),
            Failure::Loop => (403, "This address cannot be fetched", "The web filter does not fetch pages from its own machine.".into()),
        }
    }

    /// Count it in the 502 or 504 metric.
    pub(crate) fn count(&self, m: &ProxyMetrics) {
        match self {
            Failure::Timeout => ProxyMetrics::inc(&m.gateway_timeout),
            Failure::Loop => ProxyMetrics::inc(&m.bad_requests),
            _ => ProxyMetrics::inc(&m.bad_gateway),
        }
    }

    pub(crate) fn word(&self) -> &'static str {
        match self {
            Failure::NoAddress(_) => "no-address",
            Failure::Refused(_) => "refused",
            Failure::Timeout => "timeout",
            Failure::Broken(_) => "broken",
            Failure::Loop => "loop",
        }
    }
}

/// Connect to an origin: a known destination, an IP literal, or the resolver's addresses in turn.
pub(crate) async fn connect_origin(shared: &Shared, host: &str, port: u16, dst: Option<SocketAddr>) -> Result<TcpStream, Failure> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match (dst, bare.parse::<IpAddr>()) {
        (Some(d), _) => vec![d],
        (None, Ok(ip)) => vec![SocketAddr::new(ip, port)],
        (None, Err(_)) => match shared.resolver.lookup(bare).await {
            Ok(ips) => ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect(),
            Err(e) => return Err(Failure::NoAddress(e.to_string())),
        },
    };
    if addrs.is_empty() {
        return Err(Failure::NoAddress(format!("`{host}` has no address")));
    }
    let mut last = Failure::NoAddress(format!("`{host}` has no address"));
    for a in addrs {
        if !shared.cfg.allow_loopback_origins && (a.ip().is_loopback() || a.ip().is_unspecified()) {
            last = Failure::Loop;
            continue;
        }
        match tokio::time::timeout(shared.cfg.connect_timeout, TcpStream::connect(a)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last = Failure::Refused(format!("{a}: {e}")),
            Err(_) => last = Failure::Timeout,
        }
    }
    Err(last)
}

/// Remove the headers that belong to one hop (RFC 9110 §7.6.1), including any named in `Connection`.
pub(crate) fn strip_hop_by_hop(h: &mut HeaderMap) {
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    for n in [
        header::CONNECTION,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        h.remove(n);
    }
    h.remove("keep-alive");
    h.remove("proxy-connection");
}

/// A short text response Haven makes itself.
pub(crate) fn plain(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let mut r = Response::new(full(text.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A page Haven made, with the block marker when it is a block.
pub(crate) fn html(page: Page) -> Response<ProxyBody> {
    let mut r = Response::new(full(page.html));
    *r.status_mut() = StatusCode::from_u16(page.status).unwrap_or(StatusCode::FORBIDDEN);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("content-security-policy", HeaderValue::from_static("default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'"));
    if let Some(reference) = page.reference.and_then(|r| HeaderValue::from_str(&r).ok()) {
        h.insert(BLOCK_MARKER, reference);
    }
    r
}

/// A client stream that fails its reads once nothing has moved either way for `idle`, so
/// keep-alive connections between requests cannot be held open for ever.
struct IdleStream {
    inner: TcpStream,
    idle: Duration,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl IdleStream {
    fn new(inner: TcpStream, idle: Duration) -> IdleStream {
        IdleStream { inner, idle, deadline: Box::pin(tokio::time::sleep(idle)) }
    }

    fn touch(&mut self) {
        let at = tokio::time::Instant::now() + self.idle;
        self.deadline.as_mut().reset(at);
    }
}

impl tokio::io::AsyncRead for IdleStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::future::Future as _;
        use std::task::Poll;
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.touch();
                Poll::Ready(r)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "idle connection closed"))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl tokio::io::AsyncWrite for IdleStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let r = std::pin::Pin::new(&mut this.inner).poll_write(cx, buf);
        if r.is_ready() {
            this.touch();
        }
        r
    }

    fn poll_flush(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
