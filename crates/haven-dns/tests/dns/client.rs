//! A DNS client over raw tokio sockets with hickory-proto, sending from a chosen loopback address
//! so the server's directory places it in a group.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, UdpSocket};
use tokio::time::timeout;

/// A query message; `edns` is the advertised UDP payload size, if any.
pub fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m
}

/// Send raw bytes over UDP from `from` and wait up to `wait` for one datagram back.
pub async fn udp_raw(server: SocketAddr, from: IpAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind((from, 0)).await.unwrap();
    sock.send_to(bytes, server).await.unwrap();
    let mut buf = vec![0u8; 65535];
    match timeout(wait, sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// One UDP query; panics if no answer comes within 5 s.
pub async fn udp(server: SocketAddr, from: IpAddr, name: &str, qtype: RecordType) -> Message {
    udp_msg(server, from, query(name, qtype, None)).await
}

/// One UDP query with an EDNS payload size.
pub async fn udp_edns(server: SocketAddr, from: IpAddr, name: &str, qtype: RecordType, size: u16) -> (Message, usize) {
    let q = query(name, qtype, Some(size));
    let bytes = udp_raw(server, from, &q.to_vec().unwrap(), Duration::from_secs(5)).await.expect("no UDP answer");
    let len = bytes.len();
    (check(&q, &bytes), len)
}

pub async fn udp_msg(server: SocketAddr, from: IpAddr, q: Message) -> Message {
    let bytes = udp_raw(server, from, &q.to_vec().unwrap(), Duration::from_secs(5)).await.expect("no UDP answer");
    check(&q, &bytes)
}

fn check(q: &Message, bytes: &[u8]) -> Message {
    let m = Message::from_vec(bytes).unwrap();
    assert_eq!(m.metadata.id, q.metadata.id);
    m
}

/// Send raw bytes as one length-prefixed TCP message from `from`; read one answer.
pub async fn tcp_raw(server: SocketAddr, from: IpAddr, bytes: &[u8]) -> Vec<u8> {
    let sock = if from.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }.unwrap();
    sock.bind(SocketAddr::new(from, 0)).unwrap();
    let mut s = timeout(Duration::from_secs(5), sock.connect(server)).await.unwrap().unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).await.unwrap();
    let len = timeout(Duration::from_secs(5), s.read_u16()).await.unwrap().unwrap();
    let mut buf = vec![0u8; usize::from(len)];
    s.read_exact(&mut buf).await.unwrap();
    buf
}

/// One TCP query.
pub async fn tcp(server: SocketAddr, from: IpAddr, name: &str, qtype: RecordType) -> Message {
    let q = query(name, qtype, None);
    check(&q, &tcp_raw(server, from, &q.to_vec().unwrap()).await)
}

/// Answer records as text, in order: `A 192.0.2.1`, `CNAME forcesafesearch.google.com.`.
pub fn rdata(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .map(|r| match &r.data {
            RData::A(a) => format!("A {}", a.0),
            RData::AAAA(a) => format!("AAAA {}", a.0),
            RData::CNAME(c) => format!("CNAME {}", c.0),
            other => format!("{} {other}", r.record_type()),
        })
        .collect()
}
