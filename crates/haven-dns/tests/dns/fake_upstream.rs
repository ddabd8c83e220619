//! A tiny upstream resolver on 127.0.0.1 (UDP and TCP on one port) with a switch to go silent,
//! a mode that truncates every UDP answer to force TCP, and counters of queries received.
//!
//! Answers by the first label: `nx*` NXDOMAIN (SOA minimum 30), `big*` 50 A records (about 850
//! bytes), `huge*` 100 A records, `servfail*` SERVFAIL, `cname-floor` a CNAME into `floor.test`,
//! `floor-ip` an address on the floor; otherwise A 192.0.2.1, AAAA 2001:db8::1 (TTL 300), or no data.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use super::fixture::UPSTREAM_A;

/// Answer normally.
pub const NORMAL: u8 = 0;
/// Receive (and count) but never answer.
pub const SILENT: u8 = 1;
/// Answer UDP with an empty TC response; TCP normally.
pub const TRUNCATE: u8 = 2;

pub struct FakeUpstream {
    pub addr: SocketAddr,
    pub mode: Arc<AtomicU8>,
    pub udp_queries: Arc<AtomicUsize>,
    pub tcp_queries: Arc<AtomicUsize>,
}

impl FakeUpstream {
    pub async fn start() -> FakeUpstream {
        // Find a port free for both UDP and TCP.
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
                break (udp, tcp);
            }
        };
        let up = FakeUpstream {
            addr: udp.local_addr().unwrap(),
            mode: Arc::new(AtomicU8::new(NORMAL)),
            udp_queries: Arc::new(AtomicUsize::new(0)),
            tcp_queries: Arc::new(AtomicUsize::new(0)),
        };
        let (mode, count) = (up.mode.clone(), up.udp_queries.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(req) = Message::from_vec(&buf[..n]) else { continue };
                let resp = match mode.load(Ordering::SeqCst) {
                    SILENT => continue,
                    TRUNCATE => {
                        let mut r = respond(&req);
                        r.answers.clear();
                        r.authorities.clear();
                        r.metadata.truncation = true;
                        r
                    }
                    _ => respond(&req),
                };
                let _ = udp.send_to(&resp.to_vec().unwrap(), peer).await;
            }
        });
        let (mode, count) = (up.mode.clone(), up.tcp_queries.clone());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = tcp.accept().await {
                let (mode, count) = (mode.clone(), count.clone());
                tokio::spawn(async move {
                    while let Ok(len) = s.read_u16().await {
                        let mut buf = vec![0u8; usize::from(len)];
                        if s.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        count.fetch_add(1, Ordering::SeqCst);
                        if mode.load(Ordering::SeqCst) == SILENT {
                            continue;
                        }
                        let Ok(req) = Message::from_vec(&buf) else { return };
                        let out = respond(&req).to_vec().unwrap();
                        let mut framed = (out.len() as u16).to_be_bytes().to_vec();
                        framed.extend(out);
                        if s.write_all(&framed).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        up
    }

    pub fn queries(&self) -> usize {
        self.udp_queries.load(Ordering::SeqCst) + self.tcp_queries.load(Ordering::SeqCst)
    }

    pub fn set_mode(&self, m: u8) {
        self.mode.store(m, Ordering::SeqCst);
    }
}

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn soa(owner: &Name) -> Record {
    Record::from_rdata(owner.clone(), 30, RData::SOA(SOA::new(n("ns.test."), n("hostmaster.test."), 1, 60, 60, 60, 30)))
}

pub fn respond(req: &Message) -> Message {
    let q = req.queries[0].clone();
    let mut r = Message::response(req.metadata.id, OpCode::Query);
    r.metadata.recursion_desired = req.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    r.queries = req.queries.clone();
    if let Some(e) = &req.edns {
        r.edns = Some(e.clone());
    }
    let name = q.name().clone();
    let text = name.to_ascii().to_ascii_lowercase();
    let first = text.split('.').next().unwrap_or("");
    let a = |ip: Ipv4Addr| Record::from_rdata(name.clone(), 300, RData::A(A(ip)));
    if first.starts_with("nx") {
        r.metadata.response_code = ResponseCode::NXDomain;
        r.authorities.push(soa(&n("test.")));
    } else if first.starts_with("servfail") {
        r.metadata.response_code = ResponseCode::ServFail;
    } else if first.starts_with("big") || first.starts_with("huge") {
        let count = if first.starts_with("big") { 50 } else { 100 };
        for i in 0..count {
            r.answers.push(a(Ipv4Addr::new(192, 0, 2, i as u8 + 1)));
        }
    } else if first == "cname-floor" {
        let target = n("x.floor.test.");
        r.answers.push(Record::from_rdata(name.clone(), 300, RData::CNAME(CNAME(target.clone()))));
        r.answers.push(Record::from_rdata(target, 300, RData::A(A(UPSTREAM_A))));
    } else if first == "floor-ip" {
        r.answers.push(a(Ipv4Addr::new(198, 51, 100, 66)));
    } else {
        match q.query_type() {
            RecordType::A => r.answers.push(a(UPSTREAM_A)),
            RecordType::AAAA => {
                r.answers.push(Record::from_rdata(name.clone(), 300, RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)))))
            }
            _ => r.authorities.push(soa(&n("test."))),
        }
    }
    r
}
