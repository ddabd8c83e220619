//! The listener over real UDP sockets with a real SQLite people directory: a Start binds the
//! address with the person's group, the response authenticator is right, unknown clients and bad
//! authenticators are dropped unanswered and counted.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use haven_accounts::people::{Person, PersonKind};
use haven_identity::{BindingSource, IdentityBook};
use haven_radius::packet::{RequestBuilder, parse_request};
use haven_radius::{Lifetimes, RadiusClient, RadiusConfig, RadiusServer, Secret, UserNameMap};
use haven_store::{PersonLogin, Store};
use jiff::Timestamp;
use md5::{Digest, Md5};
use tokio::net::UdpSocket;

const SECRET: &[u8] = b"controller-secret-1";

async fn directory(dir: &std::path::Path) -> Store {
    let store = Store::open(&format!("sqlite://{}/haven.db", dir.display())).await.unwrap();
    let teacher = Person {
        kind: PersonKind::Staff,
        key: "a.teacher@school.example".into(),
        given_name: "Alex".into(),
        family_name: "Teacher".into(),
        year_group: None,
        tutor_group: None,
        date_of_birth: None,
        upn: None,
        email: Some("a.teacher@school.example".into()),
        job_title: Some("Teacher".into()),
        roles: None,
        filter_group: "staff".into(),
    };
    let plan = store.plan_people_import(std::slice::from_ref(&teacher), &[PersonKind::Staff]).await.unwrap();
    store.apply_people_import(&plan, "test", Timestamp::now()).await.unwrap();
    // The directory sync recorded an AD logon name that is nothing like the email.
    let login = PersonLogin { kind: PersonKind::Staff, key: teacher.key.clone(), logins: vec!["ATEACH01".into()] };
    assert_eq!(store.set_person_logins(&[login], "ldap", Timestamp::now()).await.unwrap(), 1);
    store
}

async fn exchange(from: IpAddr, to: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind((from, 0)).await.unwrap();
    s.send_to(packet, to).await.unwrap();
    let mut buf = [0u8; 64];
    match tokio::time::timeout(Duration::from_millis(500), s.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

#[tokio::test]
async fn start_binds_with_the_directory_group_and_strangers_get_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = directory(dir.path()).await;
    let book = IdentityBook::new();
    let config = RadiusConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        clients: vec![RadiusClient { name: "wlc".into(), network: "127.0.0.1/32".parse().unwrap(), secret: Secret::new(SECRET) }],
        lifetimes: Lifetimes::default(),
        names: UserNameMap::default(),
    };
    let server = RadiusServer::bind(config, book.clone(), Arc::new(store.clone())).await.unwrap();
    let addr = server.local_addrs()[0];
    let laptop = IpAddr::V4(Ipv4Addr::new(10, 20, 0, 7));

    let start = RequestBuilder::new(42, 1).user("SCHOOL\\ateach01").framed_ip(Ipv4Addr::new(10, 20, 0, 7)).session("s-1").build(SECRET);
    let reply = exchange(Ipv4Addr::LOCALHOST.into(), addr, &start).await.expect("an Accounting-Response");
    assert_eq!(&reply[..4], &[5, 42, 0, 20]);
    let mut h = Md5::new();
    h.update([5, 42, 0, 20]);
    h.update(&start[4..20]);
    h.update(SECRET);
    assert_eq!(&reply[4..], h.finalize().as_slice(), "Response Authenticator per RFC 2866");
    let b = book.lookup(laptop, Timestamp::now()).expect("bound");
    assert_eq!((b.user.as_deref(), b.group.as_deref(), b.source), (Some("ateach01"), Some("staff"), BindingSource::Radius));

    // An email-style name finds the same person through their school email.
    let other =
        RequestBuilder::new(43, 1).user("a.teacher@school.example").framed_ip(Ipv4Addr::new(10, 20, 0, 8)).session("s-2").build(SECRET);
    assert!(exchange(Ipv4Addr::LOCALHOST.into(), addr, &other).await.is_some());
    assert_eq!(book.lookup("10.20.0.8".parse().unwrap(), Timestamp::now()).and_then(|b| b.group).as_deref(), Some("staff"));

    // Someone not in the directory is bound by name alone (the policy's fallback applies).
    let stranger = RequestBuilder::new(44, 1).user("nobody").framed_ip(Ipv4Addr::new(10, 20, 0, 9)).session("s-3").build(SECRET);
    assert!(exchange(Ipv4Addr::LOCALHOST.into(), addr, &stranger).await.is_some());
    assert_eq!(book.lookup("10.20.0.9".parse().unwrap(), Timestamp::now()).map(|b| b.group), Some(None));

    // A bad authenticator: no answer, counted, nothing released.
    let forged = RequestBuilder::new(45, 2).user("ateach01").framed_ip(Ipv4Addr::new(10, 20, 0, 7)).session("s-1").build(b"guessed-secret");
    assert!(exchange(Ipv4Addr::LOCALHOST.into(), addr, &forged).await.is_none());
    assert!(book.lookup(laptop, Timestamp::now()).is_some());
    // From an address that is no client: no answer, counted.
    assert!(exchange(Ipv4Addr::new(127, 0, 0, 2).into(), addr, &start).await.is_none());
    // Garbage from a client: no answer, counted.
    assert!(exchange(Ipv4Addr::LOCALHOST.into(), addr, b"\x04\x01\x00").await.is_none());

    let stop = RequestBuilder::new(46, 2).user("ateach01").framed_ip(Ipv4Addr::new(10, 20, 0, 7)).session("s-1").build(SECRET);
    assert!(parse_request(&stop).is_ok());
    assert!(exchange(Ipv4Addr::LOCALHOST.into(), addr, &stop).await.is_some());
    assert!(book.lookup(laptop, Timestamp::now()).is_none());

    let c = server.metrics().counts();
    assert_eq!((c.start, c.stop, c.bad_authenticator, c.unknown_client, c.malformed, c.responses), (3, 1, 1, 1, 1, 4));
    assert_eq!((c.not_in_directory, c.sessions), (1, 2));
    let mut text = String::new();
    server.metrics().render_prometheus(&mut text);
    assert!(text.contains("haven_radius_packets_total{type=\"start\"} 3"), "{text}");
    assert!(!text.contains("controller-secret"), "no secret in metrics");
    server.shutdown().await;
    store.close().await;
}
