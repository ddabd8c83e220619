//! The sockets: UDP and TCP listeners feeding the request handler, with limits that keep hostile
//! clients from exhausting memory or connections, and a shutdown that drains queries in flight.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use haven_activity::EventSink;
use haven_policy::PolicyHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::DnsConfig;
use crate::error::DnsError;
use crate::handler::{Inline, RequestHandler, Transport};
use haven_identity::Identify;
use crate::metrics::DnsMetrics;

/// Queries one TCP connection may have in flight at once (RFC 7766 pipelining).
const TCP_PIPELINE: usize = 16;
/// Largest UDP query read; bigger datagrams are cut short and then fail to parse.
const UDP_RECV_BUFFER: usize = 4096;

/// Where the server is actually listening (ports resolved when 0 was asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddrs {
    /// UDP sockets.
    pub udp: Vec<SocketAddr>,
    /// TCP listeners.
    pub tcp: Vec<SocketAddr>,
}

/// The running DNS service: listeners on their own tasks until `shutdown`.
pub struct DnsServer {
    addrs: LocalAddrs,
    handler: Arc<RequestHandler>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl DnsServer {
    /// Bind every configured address and start answering. Fails, binding nothing, if any address
    /// cannot be bound or the configuration is unusable.
    pub async fn bind(
        config: DnsConfig,
        policy: Arc<PolicyHandle>,
        identify: Arc<dyn Identify>,
        sink: Arc<dyn EventSink>,
    ) -> Result<DnsServer, DnsError> {
        if config.listen_udp.is_empty() && config.listen_tcp.is_empty() {
            return Err(DnsError::NoListeners);
        }
        if config.upstreams.is_empty() {
            return Err(DnsError::NoUpstreams);
        }
        for (field, v) in [("max_tcp_connections", config.max_tcp_connections), ("max_in_flight", config.max_in_flight)] {
            if v == 0 {
                return Err(DnsError::Zero { field });
            }
        }
        if config.tcp_idle_timeout.is_zero() {
            return Err(DnsError::Zero { field: "tcp_idle_timeout" });
        }
        let handler = Arc::new(RequestHandler::new(&config, policy, identify, sink)?);

        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        let mut tcp_todo = config.listen_tcp.clone();
        for &addr in &config.listen_udp {
            // Port 0 asked for on both protocols gets one port for both, as clients retry a
            // truncated UDP answer over TCP on the same port.
            if addr.port() == 0
                && let Some(pos) = tcp_todo.iter().position(|t| *t == addr)
            {
                tcp_todo.remove(pos);
                let (u, t) = bind_pair(addr).await?;
                udp.push(u);
                tcp.push(t);
            } else {
                udp.push(bind_udp(addr).await?);
            }
        }
        for addr in tcp_todo {
            tcp.push(bind_tcp(addr).await?);
        }

        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let in_flight = Arc::new(Semaphore::new(config.max_in_flight));
        let connections = Arc::new(Semaphore::new(config.max_tcp_connections));
        let addrs = LocalAddrs { udp: udp.iter().map(|u| u.1).collect(), tcp: tcp.iter().map(|t| t.1).collect() };
        for (sock, local) in udp {
            let ctx =
                Ctx { handler: Arc::clone(&handler), cancel: cancel.clone(), tracker: tracker.clone(), in_flight: Arc::clone(&in_flight) };
            tracker.spawn(serve_udp(ctx, sock));
            tracing::info!(addr = %local, "dns: listening on UDP");
        }
        for (listener, local) in tcp {
            let ctx =
                Ctx { handler: Arc::clone(&handler), cancel: cancel.clone(), tracker: tracker.clone(), in_flight: Arc::clone(&in_flight) };
            tracker.spawn(serve_tcp(ctx, listener, Arc::clone(&connections), config.tcp_idle_timeout));
            tracing::info!(addr = %local, "dns: listening on TCP");
        }
        Ok(DnsServer { addrs, handler, cancel, tracker })
    }

    /// The addresses actually bound.
    pub fn local_addrs(&self) -> LocalAddrs {
        self.addrs.clone()
    }

    /// The service's counters, for `/metrics`.
    pub fn metrics(&self) -> Arc<DnsMetrics> {
        self.handler.metrics()
    }

    /// The socket-free handler the listeners use, for tools that answer packets themselves.
    pub fn handler(&self) -> Arc<RequestHandler> {
        Arc::clone(&self.handler)
    }

    /// Stop accepting, let queries in flight finish (each is bounded by `servfail_after`), then return.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        tracing::info!("dns: stopped");
    }
}

async fn bind_udp(addr: SocketAddr) -> Result<(Arc<UdpSocket>, SocketAddr), DnsError> {
    let s = UdpSocket::bind(addr).await.map_err(|source| DnsError::Bind { proto: "udp", addr, source })?;
    let local = s.local_addr().map_err(|source| DnsError::Bind { proto: "udp", addr, source })?;
    Ok((Arc::new(s), local))
}

async fn bind_tcp(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), DnsError> {
    let l = TcpListener::bind(addr).await.map_err(|source| DnsError::Bind { proto: "tcp", addr, source })?;
    let local = l.local_addr().map_err(|source| DnsError::Bind { proto: "tcp", addr, source })?;
    Ok((l, local))
}

/// A UDP socket and a TCP listener on the same free port.
async fn bind_pair(addr: SocketAddr) -> Result<((Arc<UdpSocket>, SocketAddr), (TcpListener, SocketAddr)), DnsError> {
    let mut tries = 0;
    loop {
        let u = bind_udp(addr).await?;
        match bind_tcp(u.1).await {
            Ok(t) => return Ok((u, t)),
            Err(e) if tries >= 16 => return Err(e),
            Err(_) => tries += 1,
        }
    }
}

/// What every listener task shares.
struct Ctx {
    handler: Arc<RequestHandler>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    in_flight: Arc<Semaphore>,
}

async fn serve_udp(ctx: Ctx, sock: Arc<UdpSocket>) {
    let mut buf = vec![0u8; UDP_RECV_BUFFER];
    loop {
        let (n, peer) = tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // Linux reports ICMP errors for earlier sends here; nothing to do but carry on.
                    tracing::debug!(error = %e, "dns: UDP receive error");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
            },
        };
        let packet = buf.get(..n).unwrap_or_default();
        // Blocks, special names and cache hits are answered right here, without a task.
        let work = match ctx.handler.handle_inline(packet, peer.ip(), Transport::Udp) {
            Inline::Answer(answer) => {
                match sock.try_send_to(&answer, peer) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        let sock = Arc::clone(&sock);
                        ctx.tracker.spawn(async move { send(&sock, &answer, peer).await });
                    }
                    Err(e) => tracing::debug!(error = %e, "dns: UDP send failed"),
                }
                continue;
            }
            other => other,
        };
        let Ok(permit) = Arc::clone(&ctx.in_flight).try_acquire_owned() else {
            ctx.handler.metrics().dropped();
            continue;
        };
        let handler = Arc::clone(&ctx.handler);
        let sock = Arc::clone(&sock);
        match work {
            Inline::Forward(f) => {
                ctx.tracker.spawn(async move {
                    // Boxed, so the task spawned per packet stays small and cheap to move into place.
                    let answer = Box::pin(handler.finish(*f)).await;
                    send(&sock, &answer, peer).await;
                    drop(permit);
                });
            }
            _ => {
                let packet = packet.to_vec();
                ctx.tracker.spawn(async move {
                    if let Some(answer) = Box::pin(handler.handle_packet_reference(&packet, peer.ip(), Transport::Udp)).await {
                        send(&sock, &answer, peer).await;
                    }
                    drop(permit);
                });
            }
        }
    }
}

async fn send(sock: &UdpSocket, answer: &[u8], peer: SocketAddr) {
    if let Err(e) = sock.send_to(answer, peer).await {
        tracing::debug!(error = %e, "dns: UDP send failed");
    }
}

async fn serve_tcp(ctx: Ctx, listener: TcpListener, connections: Arc<Semaphore>, idle: Duration) {
    let ctx = Arc::new(ctx);
    loop {
        let (stream, peer) = tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly rather than spin.
                    tracing::warn!(error = %e, "dns: TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            ctx.handler.metrics().tcp_rejected();
            drop(stream);
            continue;
        };
        let c = Arc::clone(&ctx);
        ctx.tracker.spawn(async move {
            let metrics = c.handler.metrics();
            metrics.tcp_opened();
            serve_connection(&c, stream, peer.ip(), idle).await;
            metrics.tcp_closed();
            drop(permit);
        });
    }
}

/// One client connection: length-prefixed queries, answered concurrently and written back as
/// they finish. Closed when idle for `idle`, on a zero length, a short body, or shutdown.
async fn serve_connection(ctx: &Ctx, stream: TcpStream, client: IpAddr, idle: Duration) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_PIPELINE);
    let pipeline = Arc::new(Semaphore::new(TCP_PIPELINE));

    let reader = async {
        loop {
            let len = tokio::select! {
                _ = ctx.cancel.cancelled() => break,
                r = timeout(idle, rd.read_u16()) => match r {
                    Ok(Ok(n)) => n,
                    _ => break,
                },
            };
            if len == 0 {
                break;
            }
            let mut packet = vec![0u8; usize::from(len)];
            match timeout(idle, rd.read_exact(&mut packet)).await {
                Ok(Ok(_)) => {}
                _ => break,
            }
            let Ok(permit) = Arc::clone(&pipeline).acquire_owned().await else { break };
            let Ok(inflight) = Arc::clone(&ctx.in_flight).acquire_owned().await else { break };
            let handler = Arc::clone(&ctx.handler);
            let tx = tx.clone();
            ctx.tracker.spawn(async move {
                if let Some(answer) = handler.handle_packet(&packet, client, Transport::Tcp).await {
                    let _ = tx.send(answer).await;
                }
                drop((permit, inflight));
            });
        }
        drop(tx);
    };
    let writer = async {
        while let Some(answer) = rx.recv().await {
            let Ok(len) = u16::try_from(answer.len()) else { continue };
            let mut framed = Vec::with_capacity(answer.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&answer);
            // A client that stops reading is dropped rather than allowed to hold the connection.
            match timeout(idle, wr.write_all(&framed)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
        let _ = wr.shutdown().await;
    };
    tokio::join!(reader, writer);
}
