//! Forwarding to upstream resolvers: UDP with a TCP retry when the answer is truncated, or DNS
//! over TLS; failover in order of health, a per-try timeout inside an overall deadline, and a
//! short back-off for an upstream that keeps failing (never a permanent "dead" mark, so Haven
//! recovers by itself the moment an upstream answers again).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout, timeout_at};
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
    /// Long-lived UDP sockets to this upstream (plain upstreams only).
    udp: UdpPool,
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
            slots.push(Slot {
                upstream: u.clone(),
                tls_name,
                failures: AtomicU32::new(0),
                retry_at_ms: AtomicU64::new(0),
                udp: UdpPool::new(u.addr),
            });
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
                let resp = slot.udp.exchange(&bytes, query).await?;
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

impl Drop for Forwarder {
    fn drop(&mut self) {
        for s in self.slots.iter() {
            s.udp.retire_all();
        }
    }
}

/// Long-lived UDP sockets per upstream: a few of them, each connected (so only the upstream's
/// packets arrive), with one reader task demultiplexing answers by ID and question. Each socket
/// is replaced after `ROTATE_AFTER` questions or `ROTATE_EVERY`, so the source port keeps
/// changing; with the random ID and the question check, a spoofed answer still has to guess
/// port, ID and question.
const POOL_SOCKETS: usize = 4;
/// Questions a pooled socket carries before it is replaced by one on a fresh random port.
const ROTATE_AFTER: u32 = 2048;
/// Longest a pooled socket is used, however quiet the network, before it is replaced.
const ROTATE_EVERY: Duration = Duration::from_secs(10);
/// How often an idle reader checks whether its socket has been retired.
const READER_IDLE_CHECK: Duration = Duration::from_millis(500);

struct UdpPool {
    addr: SocketAddr,
    conns: Box<[Mutex<Option<Arc<UdpConn>>>]>,
    next: AtomicUsize,
    ids: RandomState,
    counter: AtomicU64,
}

/// A question waiting for its answer: a token unique to this try, the question, and where to send.
type Waiter = (u64, Query, oneshot::Sender<io::Result<Message>>);

/// Questions waiting on one socket; `closed` once its reader has ended, so none is added after.
#[derive(Default)]
struct Pending {
    waiters: HashMap<u16, Waiter>,
    closed: bool,
}

struct UdpConn {
    sock: UdpSocket,
    pending: Mutex<Pending>,
    uses: AtomicU32,
    retired: AtomicBool,
    opened: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a single map or slot operation, so a poisoned lock is consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes a question's waiter when its try ends, answered or not (timeouts drop the future).
/// Only its own entry: once answered, the ID may already carry another question.
struct PendingGuard<'a> {
    conn: &'a UdpConn,
    id: u16,
    token: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        let mut pending = lock(&self.conn.pending);
        if pending.waiters.get(&self.id).is_some_and(|w| w.0 == self.token) {
            pending.waiters.remove(&self.id);
        }
    }
}

impl UdpPool {
    fn new(addr: SocketAddr) -> UdpPool {
        UdpPool {
            addr,
            conns: (0..POOL_SOCKETS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            ids: RandomState::new(),
            counter: AtomicU64::new(0),
        }
    }

    /// An unpredictable query ID: SipHash, keyed at random per pool, of a counter.
    fn random_id(&self) -> u16 {
        (self.ids.hash_one(self.counter.fetch_add(1, Ordering::Relaxed)) & 0xffff) as u16
    }

    fn retire_all(&self) {
        for c in self.conns.iter() {
            if let Some(conn) = lock(c).take() {
                conn.retired.store(true, Ordering::Relaxed);
            }
        }
    }

    /// A socket for the next question, opening or rotating one as needed.
    async fn conn(&self) -> io::Result<Arc<UdpConn>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len().max(1);
        let Some(cell) = self.conns.get(i) else { return Err(io::Error::other("no upstream sockets")) };
        {
            let g = lock(cell);
            if let Some(c) = g.as_ref()
                && c.uses.fetch_add(1, Ordering::Relaxed) < ROTATE_AFTER
                && c.opened.elapsed() < ROTATE_EVERY
            {
                return Ok(Arc::clone(c));
            }
        }
        let fresh = Arc::new(UdpConn::open(self.addr).await?);
        tokio::spawn(read_answers(Arc::clone(&fresh)));
        let old = lock(cell).replace(Arc::clone(&fresh));
        if let Some(old) = old {
            old.retired.store(true, Ordering::Relaxed);
        }
        Ok(fresh)
    }

    /// Send `bytes` (the encoding of `query`, whose ID is replaced) and wait for its answer.
    async fn exchange(&self, bytes: &[u8], query: &Message) -> io::Result<Message> {
        let q = query.queries.first().cloned().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no question"))?;
        let (tx, rx) = oneshot::channel();
        let token = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut waiter = Some((token, q, tx));
        let mut tries = 0;
        let (conn, id) = loop {
            let conn = self.conn().await?;
            let mut pending = lock(&conn.pending);
            if pending.closed {
                // Retired and its reader gone between picking it and now: take another.
                tries += 1;
                if tries > POOL_SOCKETS * 2 {
                    return Err(io::Error::other("no open upstream socket"));
                }
                continue;
            }
            let mut id = self.random_id();
            while pending.waiters.contains_key(&id) {
                id = self.random_id();
            }
            if let Some(w) = waiter.take() {
                pending.waiters.insert(id, w);
            }
            drop(pending);
            break (conn, id);
        };
        let _guard = PendingGuard { conn: &conn, id, token };
        let mut packet = bytes.to_vec();
        if let Some(head) = packet.first_chunk_mut::<2>() {
            *head = id.to_be_bytes();
        }
        conn.sock.send(&packet).await?;
        rx.await.unwrap_or_else(|_| Err(io::Error::other("upstream socket closed")))
    }
}

impl UdpConn {
    async fn open(addr: SocketAddr) -> io::Result<UdpConn> {
        let local: SocketAddr = if addr.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
        let sock = UdpSocket::bind(local).await?;
        sock.connect(addr).await?;
        Ok(UdpConn {
            sock,
            pending: Mutex::new(Pending::default()),
            uses: AtomicU32::new(0),
            retired: AtomicBool::new(false),
            opened: Instant::now(),
        })
    }
}

/// One pooled socket's reader: hands each answer to the question it answers (same ID and
/// question; anything else is ignored), fails every waiter when the upstream refuses, and ends
/// once the socket is retired and nothing waits on it.
async fn read_answers(conn: Arc<UdpConn>) {
    let mut buf = vec![0u8; 4096];
    loop {
        if conn.retired.load(Ordering::Relaxed) {
            let mut pending = lock(&conn.pending);
            if pending.waiters.is_empty() {
                pending.closed = true;
                return;
            }
        }
        match timeout(READER_IDLE_CHECK, conn.sock.recv(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(n)) => deliver(&conn, buf.get(..n)),
            Ok(Err(e)) => fail_all(&conn, &e),
        }
        // Drain whatever else has arrived before waiting again: one wake-up, many answers.
        for _ in 0..64 {
            match conn.sock.try_recv(&mut buf) {
                Ok(n) => deliver(&conn, buf.get(..n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => fail_all(&conn, &e),
            }
        }
    }
}

/// Hand an answer to the question it answers; anything else (stray, spoofed, late) is ignored.
fn deliver(conn: &UdpConn, packet: Option<&[u8]>) {
    let Some(m) = packet.and_then(|b| Message::from_vec(b).ok()) else { return };
    let waiter = {
        let mut pending = lock(&conn.pending);
        let ok = pending.waiters.get(&m.metadata.id).is_some_and(|(_, q, _)| answers_question(q, &m));
        if ok { pending.waiters.remove(&m.metadata.id) } else { None }
    };
    if let Some((_, _, tx)) = waiter {
        let _ = tx.send(Ok(m));
    }
}

/// On a connected socket a receive error is the upstream refusing (ICMP): every question
/// waiting on it has failed.
fn fail_all(conn: &UdpConn, e: &io::Error) {
    let waiters: Vec<Waiter> = lock(&conn.pending).waiters.drain().map(|(_, w)| w).collect();
    for (_, _, tx) in waiters {
        let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
    }
}

/// True when `resp` is a response to exactly the question `q` (the ID is checked by the caller).
fn answers_question(q: &Query, resp: &Message) -> bool {
    resp.metadata.message_type == MessageType::Response
        && resp.queries.len() == 1
        && resp
            .queries
            .first()
            .is_some_and(|r| q.name() == r.name() && q.query_type() == r.query_type() && q.query_class() == r.query_class())
}
