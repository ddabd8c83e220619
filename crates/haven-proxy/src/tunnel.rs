//! TLS without interception: CONNECT tunnels and the transparent port 443.
//!
//! The host is decided first (CONNECT authority or, transparently, the SNI). Then the ClientHello
//! is read and its server name decided too, so a CONNECT to an IP address or an allowed name that
//! carries a blocked SNI is still caught. A client that does not speak TLS inside the tunnel (SSH,
//! a VPN protocol) is refused. Only host-level rules can apply, and the event says so.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use haven_activity::Flags;
use haven_identity::OwnedWho;
use haven_policy::What;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::client_hello::{HelloError, MAX_CLIENT_HELLO, Peek, peek_server_name};
use crate::http::{connect_origin, plain};
use crate::metrics::ProxyMetrics;
use crate::pages::BLOCK_MARKER;
use crate::record::{Draft, ProxyBody};
use crate::server::Shared;

/// A fatal TLS alert, `access_denied` (49): the browser shows a connection error at once
/// instead of waiting for a handshake that will never come.
const ACCESS_DENIED_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31];

/// `CONNECT host:port` on the explicit proxy.
pub(crate) async fn connect(shared: Arc<Shared>, req: Request<Incoming>, who: OwnedWho, peer: SocketAddr) -> Response<ProxyBody> {
    let Some(authority) = req.uri().authority().cloned() else {
        ProxyMetrics::inc(&shared.metrics.bad_requests);
        return plain(StatusCode::BAD_REQUEST, "Bad request: CONNECT needs host:port.\n");
    };
    let host = authority.host().to_string();
    let port = authority.port_u16().unwrap_or(443);
    let mut draft = Draft::new(Arc::clone(&shared.sink), Arc::clone(&shared.metrics), peer.ip(), "CONNECT", format!("{host}:{port}"));
    draft.who(&who);
    draft.flag(Flags::HOST_ONLY);
    {
        let snap = shared.policy.load();
        let id = snap.resolve(&who.as_who());
        if !shared.cfg.connect_ports.contains(&port) {
            draft.refused(&snap, &id, "proxy/connect-port", Flags::BYPASS);
            draft.status(403);
            draft.finish(0, 0);
            return plain(StatusCode::FORBIDDEN, &format!("Blocked: the web filter only opens secure connections to port 443, not {port}.\n"));
        }
        let what = match What::name(&host) {
            Ok(w) => w,
            Err(e) => {
                draft.refused(&snap, &id, "proxy/bad-host", Flags::default());
                draft.status(400);
                draft.finish(0, 0);
                return plain(StatusCode::BAD_REQUEST, &format!("Bad request: {e}.\n"));
            }
        };
        let d = snap.decide_for(&id, &what, draft.time());
        draft.decided(&snap, &d);
        if d.is_blocked() {
            let reference = snap.reference(&d);
            let text = format!("Blocked by the school's web filter: {}. Reference {reference}.\n", snap.sentence(&d));
            draft.status(403);
            draft.finish(0, text.len() as u64);
            let mut r = plain(StatusCode::FORBIDDEN, &text);
            if let Ok(v) = HeaderValue::from_str(&reference) {
                r.headers_mut().insert(BLOCK_MARKER, v);
            }
            return r;
        }
    }
    // Reach the origin before saying yes, so an unreachable one gets a real 502/504.
    let origin = match connect_origin(&shared, &host, port, None).await {
        Ok(s) => s,
        Err(f) => {
            let (status, heading, _) = f.page();
            f.count(&shared.metrics);
            draft.status(status);
            draft.upstream(f.word());
            draft.finish(0, 0);
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            return plain(code, &format!("{heading}: {host}:{port}.\n"));
        }
    };
    let s = Arc::clone(&shared);
    shared.tracker.spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => tunnel(s, TokioIo::new(upgraded), origin, draft, host, who).await,
            Err(e) => {
                draft.status(200);
                draft.upstream(format!("upgrade failed: {e}"));
                draft.finish(0, 0);
            }
        }
    });
    let mut r = Response::new(crate::record::full(bytes::Bytes::new()));
    r.headers_mut().insert(header::VIA, shared.via.clone());
    r
}

/// A connection redirected to the transparent port 443: decided on the SNI alone.
pub(crate) async fn transparent(shared: Arc<Shared>, mut client: TcpStream, peer: SocketAddr, original: Option<SocketAddr>) {
    let who = shared.who(peer.ip());
    let mut draft = Draft::new(Arc::clone(&shared.sink), Arc::clone(&shared.metrics), peer.ip(), "TLS", String::new());
    draft.who(&who);
    draft.flag(Flags::HOST_ONLY);
    let (buf, sni) = match read_hello(&shared, &mut client).await {
        Ok(x) => x,
        Err(e) => return refuse_not_tls(&shared, client, draft, &who, e).await,
    };
    let port = original.map_or(443, |o| o.port());
    let name = match (&sni, original) {
        (Some(n), _) => n.clone(),
        (None, Some(o)) => o.ip().to_string(),
        (None, None) => {
            draft.sni(None);
            let snap = shared.policy.load();
            let id = snap.resolve(&who.as_who());
            draft.refused(&snap, &id, "proxy/no-destination", Flags::default());
            draft.status(0);
            draft.finish(0, 0);
            let _ = client.write_all(&ACCESS_DENIED_ALERT).await;
            return;
        }
    };
    draft.set_name(format!("{name}:{port}"));
    draft.sni(sni.clone());
    if !decide_name(&shared, &who, &mut draft, &name) {
        ProxyMetrics::inc(&shared.metrics.sni_blocked);
        draft.status(403);
        draft.finish(0, 0);
        let _ = client.write_all(&ACCESS_DENIED_ALERT).await;
        return;
    }
    let origin = match connect_origin(&shared, &name, port, original).await {
        Ok(o) => o,
        Err(f) => {
            f.count(&shared.metrics);
            draft.status(f.page().0);
            draft.upstream(f.word());
            draft.finish(0, 0);
            return;
        }
    };
    splice_counted(&shared, client, origin, buf, draft).await;
}

/// Decide a host name for this person; false when blocked (the draft records why).
fn decide_name(shared: &Shared, who: &OwnedWho, draft: &mut Draft, name: &str) -> bool {
    let snap = shared.policy.load();
    let id = snap.resolve(&who.as_who());
    match What::name(name) {
        Ok(what) => {
            let d = snap.decide_for(&id, &what, draft.time());
            draft.decided(&snap, &d);
            !d.is_blocked()
        }
        Err(_) => {
            draft.refused(&snap, &id, "proxy/bad-sni", Flags::default());
            false
        }
    }
}

/// After CONNECT was allowed: read the ClientHello, check its SNI, then pass bytes both ways.
async fn tunnel<C>(shared: Arc<Shared>, mut client: C, origin: TcpStream, mut draft: Draft, host: String, who: OwnedWho)
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (buf, sni) = match read_hello(&shared, &mut client).await {
        Ok(x) => x,
        Err(e) => return refuse_not_tls(&shared, client, draft, &who, e).await,
    };
    draft.sni(sni.clone());
    if let Some(name) = &sni
        && *name != host
        && !decide_name(&shared, &who, &mut draft, name)
    {
        ProxyMetrics::inc(&shared.metrics.sni_blocked);
        draft.status(403);
        draft.finish(0, 0);
        let _ = client.write_all(&ACCESS_DENIED_ALERT).await;
        return;
    }
    splice_counted(&shared, client, origin, buf, draft).await;
}

async fn refuse_not_tls<C: AsyncWrite + Unpin>(shared: &Shared, mut client: C, mut draft: Draft, who: &OwnedWho, e: HelloError) {
    ProxyMetrics::inc(&shared.metrics.not_tls);
    let snap = shared.policy.load();
    let id = snap.resolve(&who.as_who());
    let (rule, flags) = match e {
        HelloError::NotTls(_) => ("proxy/not-tls", Flags::BYPASS),
        _ => ("proxy/bad-client-hello", Flags::default()),
    };
    draft.refused(&snap, &id, rule, flags);
    draft.upstream(e.to_string());
    draft.status(403);
    draft.finish(0, 0);
    let _ = client.write_all(&ACCESS_DENIED_ALERT).await;
    let _ = client.shutdown().await;
}

/// Read until a whole ClientHello is in, within the hello timeout.
async fn read_hello<C: AsyncRead + Unpin>(shared: &Shared, client: &mut C) -> Result<(Vec<u8>, Option<String>), HelloError> {
    let mut buf = Vec::with_capacity(2048);
    let deadline = tokio::time::Instant::now() + shared.cfg.hello_timeout;
    let mut chunk = [0u8; 4096];
    loop {
        match peek_server_name(&buf)? {
            Peek::Hello(sni) => return Ok((buf, sni)),
            Peek::NeedMore => {}
        }
        if buf.len() > MAX_CLIENT_HELLO {
            return Err(HelloError::TooLarge);
        }
        let n = match tokio::time::timeout_at(deadline, client.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err(HelloError::Malformed("connection closed before the ClientHello ended")),
            Ok(Ok(n)) => n,
            Err(_) => return Err(HelloError::Malformed("no ClientHello in time")),
        };
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn splice_counted<C>(shared: &Shared, client: C, mut origin: TcpStream, hello: Vec<u8>, mut draft: Draft)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    ProxyMetrics::inc(&shared.metrics.tunnels);
    draft.status(200);
    if origin.write_all(&hello).await.is_err() {
        draft.upstream("broken");
        draft.finish(hello.len() as u64, 0);
        return;
    }
    let (up, down) = splice(client, origin, shared.cfg.idle_timeout, &shared.cancel).await;
    draft.upstream("tunnel");
    draft.finish(up + hello.len() as u64, down);
}

/// Copy both ways until both sides close, either errs, nothing moves for `idle`, or shutdown.
pub(crate) async fn splice<A, B>(a: A, b: B, idle: Duration, cancel: &tokio_util::sync::CancellationToken) -> (u64, u64)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut ar, mut aw) = tokio::io::split(a);
    let (mut br, mut bw) = tokio::io::split(b);
    let mut buf_a = vec![0u8; 16 * 1024];
    let mut buf_b = vec![0u8; 16 * 1024];
    let (mut up, mut down) = (0u64, 0u64);
    let (mut a_open, mut b_open) = (true, true);
    while a_open || b_open {
        tokio::select! {
            r = ar.read(&mut buf_a), if a_open => match r {
                Ok(0) | Err(_) => { a_open = false; let _ = bw.shutdown().await; }
                Ok(n) => { if bw.write_all(&buf_a[..n]).await.is_err() { break; } up += n as u64; }
            },
            r = br.read(&mut buf_b), if b_open => match r {
                Ok(0) | Err(_) => { b_open = false; let _ = aw.shutdown().await; }
                Ok(n) => { if aw.write_all(&buf_b[..n]).await.is_err() { break; } down += n as u64; }
            },
            _ = tokio::time::sleep(idle) => break,
            _ = cancel.cancelled() => break,
        }
    }
    (up, down)
}
