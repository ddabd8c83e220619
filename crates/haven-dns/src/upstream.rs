//! Forwarding to upstream resolvers: UDP with a TCP retry when the answer is truncated, or DNS
//! over TLS; failover in order of health, a per-try timeout inside an overall deadline, and a
//! short back-off for an upstream that keeps failing (never a permanent "dead" mark, so Haven
//! recovers by itself the moment an upstream answers again).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;

use crate::config::{DnsConfig, Upstream};
use crate::error::DnsError;
use crate::metrics::DnsMetrics;

/// The largest answer asked of an upstream over UDP (the DNS flag day 2020 value).
const UPSTREAM_PAYLOAD: u16 = 1232;
/// Longest back-off for an upstream that keeps failing.
const MAX_BACKOFF_MS: u64 = 30_000;

/// Why no upstream gave an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpstreamError {
    /// None is configured.
    NoUpstreams,
    /// Tries ran out of time.
    Timeout,
    /// Connection or I/O errors (refused, reset, TLS failure).
    Unreachable,
    /// Every upstream that answered said this (SERVFAIL, REFUSED, ...).
    Answered(ResponseCode),
}

impl UpstreamError {
    /// Text for the activity event's upstream field.
    pub(crate) fn text(self) -> String {
        match self {
            UpstreamError::NoUpstreams => "no-upstream".into(),
            UpstreamError::Timeout => "timeout".into(),
            UpstreamError::Unreachable => "unreachable".into(),
            UpstreamError::Answered(rc) => crate::handler::rcode_text(rc),
        }
    }
}

struct Slot {
    upstream: Upstream,
    tls_name: Option<ServerName<'static>>,
    failures: AtomicU32,
    retry_at_ms: AtomicU64,
}

/// The upstream pool; shared by every query, lock-free.
pub(crate) struct Forwarder {
    slots: Box<[Slot]>,
    try_timeout: Duration,
    tls: Option<TlsConnector>,
    epoch: Instant,
    metrics: Arc<DnsMetrics>,
}

impl Forwarder {
    pub(crate) fn new(config: &DnsConfig, metrics: Arc<DnsMetrics>) -> Result<Forwarder, DnsError> {
        let mut slots = Vec::with_capacity(config.upstreams.len());
        for u in &config.upstreams {
            let tls_name = match &u.tls_name {
                Some(n) => Some(ServerName::try_from(n.clone()).map_err(|_| DnsError::TlsName { addr: u.addr, name: n.clone() })?),
                None => None,
            };
            slots.push(Slot { upstream: u.clone(), tls_name, failures: AtomicU32::new(0), retry_at_ms: AtomicU64::new(0) });
        }
        let tls = if slots.iter().any(|s| s.tls_name.is_some()) { Some(tls_connector(&config.tls_extra_roots_der)?) } else { None };
        Ok(Forwarder { slots: slots.into_boxed_slice(), try_timeout: config.upstream_timeout, tls, epoch: Instant::now(), metrics })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Healthy upstreams first, in configured order; then those backing off, soonest first.
    fn order(&self) -> Vec<usize> {
        let now = self.now_ms();
        let mut idx: Vec<usize> = (0..self.slots.len()).collect();
        idx.sort_by_key(|&i| {
            let r = self.slots.get(i).map_or(0, |s| s.retry_at_ms.load(Ordering::Relaxed));
            if r <= now { (0, 0) } else { (1, r) }
        });
        idx
    }

    fn succeeded(&self, s: &Slot) {
        s.failures.store(0, Ordering::Relaxed);
        s.retry_at_ms.store(0, Ordering::Relaxed);
    }

    fn failed(&self, s: &Slot) {
        self.metrics.upstream_error();
        let n = s.failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let backoff = 250u64.saturating_mul(1 << n.min(10)).min(MAX_BACKOFF_MS);
        s.retry_at_ms.store(self.now_ms().saturating_add(backoff), Ordering::Relaxed);
        if n == 1 || n.is_power_of_two() {
            tracing::warn!(upstream = %s.upstream.addr, failures = n, "dns: upstream not answering; trying others first");
        }
    }

    /// Ask upstreams for `name`/`qtype` until one answers NOERROR or NXDOMAIN, or `deadline` passes.
    /// Each upstream gets at most two tries per question, each bounded by the per-try timeout.
    pub(crate) async fn resolve(&self, name: &Name, qtype: RecordType, deadline: Instant) -> Result<Message, UpstreamError> {
        if self.slots.is_empty() {
            return Err(UpstreamError::NoUpstreams);
        }
        let order = self.order();
        let mut unreachable = vec![false; self.slots.len()];
        let mut last = UpstreamError::Timeout;
        for round in 0..2 {
            for &i in &order {
                let Some(slot) = self.slots.get(i) else { continue };
                if round == 1 && unreachable.get(i).copied().unwrap_or(true) {
                    continue;
                }
                let now = Instant::now();
                if now >= deadline {
                    return Err(last);
                }
                let try_deadline = (now + self.try_timeout).min(deadline);
                let query = upstream_query(name, qtype);
                match timeout_at(try_deadline, self.exchange(slot, &query)).await {
                    Ok(Ok(resp)) => match resp.metadata.response_code {
                        ResponseCode::NoError | ResponseCode::NXDomain => {
                            self.succeeded(slot);
                            return Ok(resp);
                        }
                        rc => {
                            // The upstream is alive; the name is its problem. Try the next one.
                            self.metrics.upstream_error();
                            last = UpstreamError::Answered(rc);
                        }
                    },
                    Ok(Err(e)) => {
                        tracing::debug!(upstream = %slot.upstream.addr, error = %e, "dns: upstream exchange failed");
                        self.failed(slot);
                        if let Some(u) = unreachable.get_mut(i) {
                            *u = true;
                        }
                        if last == UpstreamError::Timeout {
                            last = UpstreamError::Unreachable;
                        }
                    }
                    Err(_) => {
                        self.failed(slot);
                        last = UpstreamError::Timeout;
                    }
                }
            }
        }
        Err(last)
    }

    async fn exchange(&self, slot: &Slot, query: &Message) -> io::Result<Message> {
        let bytes = query.to_vec().map_err(io::Error::other)?;
        let addr = slot.upstream.addr;
        match (&slot.tls_name, &self.tls) {
            (Some(name), Some(tls)) => {
                let tcp = TcpStream::connect(addr).await?;
                let stream = tls.connect(name.clone(), tcp).await?;
                exchange_stream(stream, &bytes, query).await
            }
            _ => {
                let resp = exchange_udp(addr, &bytes, query).await?;
                if resp.metadata.truncation {
                    let tcp = TcpStream::connect(addr).await?;
                    exchange_stream(tcp, &bytes, query).await
                } else {
                    Ok(resp)
                }
            }
        }
    }
}

fn tls_connector(extra_roots: &[Vec<u8>]) -> Result<TlsConnector, DnsError> {
    let mut roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for der in extra_roots {
        roots.add(CertificateDer::from(der.clone())).map_err(|e| DnsError::Tls(format!("extra trust anchor: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DnsError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

fn upstream_query(name: &Name, qtype: RecordType) -> Message {
    // `Message::query` draws a fresh random ID for every try.
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name.clone(), qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(UPSTREAM_PAYLOAD);
    m.set_edns(edns);
    m
}

/// True when `resp` answers exactly `query` (same ID and question), so stray or spoofed packets are ignored.
fn answers(query: &Message, resp: &Message) -> bool {
    resp.metadata.id == query.metadata.id
        && resp.metadata.message_type == MessageType::Response
        && resp.queries.len() == 1
        && query
            .queries
            .first()
            .zip(resp.queries.first())
            .is_some_and(|(q, r)| q.name() == r.name() && q.query_type() == r.query_type() && q.query_class() == r.query_class())
}

async fn exchange_udp(addr: SocketAddr, bytes: &[u8], query: &Message) -> io::Result<Message> {
    let local: SocketAddr = if addr.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    // A fresh socket per question gives a random source port, which with the random ID makes
    // spoofed answers hard; connecting it filters out packets from anyone but the upstream.
    let sock = UdpSocket::bind(local).await?;
    sock.connect(addr).await?;
    sock.send(bytes).await?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).await?;
        if let Some(m) = buf.get(..n).and_then(|b| Message::from_vec(b).ok())
            && answers(query, &m)
        {
            return Ok(m);
        }
    }
}

async fn exchange_stream<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, bytes: &[u8], query: &Message) -> io::Result<Message> {
    let len = u16::try_from(bytes.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "query too long"))?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await?;
    stream.flush().await?;
    loop {
        let n = stream.read_u16().await?;
        let mut buf = vec![0u8; usize::from(n)];
        stream.read_exact(&mut buf).await?;
        if let Ok(m) = Message::from_vec(&buf)
            && answers(query, &m)
        {
            return Ok(m);
        }
    }
}
