//! Finding an origin's addresses: asked of the school's upstream resolvers directly.
//!
//! Never `/etc/resolv.conf`: on a school server that often points at Haven's own DNS service,
//! which would answer with the block page address for names blocked for *the server's* group and
//! send allowed staff traffic to the block page. Answers are cached for their TTL (capped).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;

/// A boxed future, so resolvers can sit behind `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the proxy looks up origin addresses.
pub trait Resolve: Send + Sync {
    /// The addresses of `host` (never an IP literal: those are used as they are).
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// Asks the configured upstream resolvers over UDP, in order, and caches the answers.
pub struct UpstreamResolver {
    servers: Vec<SocketAddr>,
    timeout: Duration,
    max_ttl: Duration,
    cache: Mutex<HashMap<String, (Vec<IpAddr>, Instant)>>,
}

/// Most names remembered before the cache is emptied and starts again.
const CACHE_MAX: usize = 50_000;

impl UpstreamResolver {
    /// A resolver over these upstreams, each tried for `timeout` before the next.
    pub fn new(servers: Vec<SocketAddr>, timeout: Duration) -> UpstreamResolver {
        UpstreamResolver { servers, timeout, max_ttl: Duration::from_secs(300), cache: Mutex::new(HashMap::new()) }
    }

    async fn ask(&self, server: SocketAddr, name: &Name, qtype: RecordType) -> io::Result<(Vec<IpAddr>, u32)> {
        let mut q = Message::query();
        q.metadata.recursion_desired = true;
        q.add_query(Query::query(name.clone(), qtype));
        let bytes = q.to_vec().map_err(io::Error::other)?;
        let bind: SocketAddr = if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
        let sock = UdpSocket::bind(bind).await?;
        sock.connect(server).await?;
        sock.send(&bytes).await?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = sock.recv(&mut buf).await?;
            let Ok(m) = Message::from_vec(&buf[..n]) else { continue };
            if m.metadata.id != q.metadata.id || m.metadata.message_type != MessageType::Response {
                continue;
            }
            if m.metadata.response_code != ResponseCode::NoError && m.metadata.response_code != ResponseCode::NXDomain {
                return Err(io::Error::other(format!("upstream {server} answered {}", m.metadata.response_code)));
            }
            let mut ttl = u32::MAX;
            let ips: Vec<IpAddr> = m
                .answers
                .iter()
                .filter_map(|r| {
                    ttl = ttl.min(r.ttl);
                    match &r.data {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                        _ => None,
                    }
                })
                .collect();
            return Ok((ips, ttl));
        }
    }
}

impl Resolve for UpstreamResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let key = host.to_ascii_lowercase();
            if let Ok(c) = self.cache.lock()
                && let Some((ips, until)) = c.get(&key)
                && Instant::now() < *until
            {
                return Ok(ips.clone());
            }
            let name = Name::from_ascii(format!("{}.", key.trim_end_matches('.')))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("`{host}`: {e}")))?;
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no upstream resolvers configured");
            for &server in &self.servers {
                let mut ips = Vec::new();
                let mut ttl = u32::MAX;
                let mut answered = false;
                for qtype in [RecordType::A, RecordType::AAAA] {
                    match tokio::time::timeout(self.timeout, self.ask(server, &name, qtype)).await {
                        Ok(Ok((found, t))) => {
                            answered = true;
                            ips.extend(found);
                            ttl = ttl.min(t);
                        }
                        Ok(Err(e)) => last = e,
                        Err(_) => last = io::Error::new(io::ErrorKind::TimedOut, format!("upstream {server} did not answer")),
                    }
                    if qtype == RecordType::A && !ips.is_empty() {
                        break; // IPv4 first: most school networks have no IPv6 route out
                    }
                }
                if !answered {
                    continue;
                }
                if ips.is_empty() {
                    return Err(io::Error::new(io::ErrorKind::NotFound, format!("`{host}` has no address")));
                }
                let keep = Duration::from_secs(u64::from(ttl)).min(self.max_ttl);
                if let Ok(mut c) = self.cache.lock() {
                    if c.len() >= CACHE_MAX {
                        c.clear();
                    }
                    c.insert(key, (ips.clone(), Instant::now() + keep));
                }
                return Ok(ips);
            }
            Err(last)
        })
    }
}
