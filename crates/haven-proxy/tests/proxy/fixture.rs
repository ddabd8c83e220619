//! A small school written as Haven configuration, local origins, a DNS upstream that answers
//! 127.0.0.1 for every name, and a sink that keeps every event.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haven_activity::{Event, EventSink};
use haven_identity::SnapshotIdentity;
use haven_policy::PolicyHandle;
use haven_proxy::{PasswordFile, ProxyConfig, ProxyParts, ProxyServer, UpstreamResolver};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, UdpSocket};

/// Pupils (Key Stage 3): 127.0.1.0/24.
pub const PUPIL: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 10);
/// Staff: 127.0.2.0/24.
pub const STAFF: Ipv4Addr = Ipv4Addr::new(127, 0, 2, 10);

pub const PASSWORD: &str = "Tr1cky-Password";

const CONFIG: &str = r#"
base_policy = "default"

[categories.lessons_off]
title = "Not for lessons"
kind = "policy"
four_cs = ["content"]
severity = "low"
pupil = "block"
staff = "allow"
guest = "block"
description = "Sites the test school keeps out of lessons."

[[lists]]
name = "test-lessons"
format = "domains"
path = "lessons.txt"
category = "lessons_off"

[[lists]]
name = "test-urls"
format = "urls"
path = "urls.txt"
category = "lessons_off"

[[lists]]
name = "test-gambling"
format = "domains"
path = "gambling.txt"
category = "gambling"

[[identity.users]]
user = "j.smith"
group = "staff"

[[identity.networks]]
cidr = "127.0.1.0/24"
group = "ks3"

[[identity.networks]]
cidr = "127.0.2.0/24"
group = "staff"
"#;

/// Every event the proxy hands over.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<Event>>);

impl EventSink for Collect {
    fn record(&self, event: Event) -> bool {
        self.0.lock().unwrap().push(event);
        true
    }
}

pub struct Rig {
    pub proxy: SocketAddr,
    pub transparent_http: SocketAddr,
    pub transparent_https: SocketAddr,
    pub origin: SocketAddr,
    pub tls_origin: SocketAddr,
    pub dead: SocketAddr,
    pub ca: PathBuf,
    pub events: Arc<Collect>,
    pub server: Option<ProxyServer>,
    pub _dir: tempfile::TempDir,
}

impl Rig {
    /// Events whose name contains `needle`, waiting briefly: a response's event is written when its
    /// body ends, which can be just after the client has read it.
    pub async fn events_for(&self, needle: &str) -> Vec<Event> {
        for _ in 0..100 {
            let found: Vec<Event> = self.events.0.lock().unwrap().iter().filter(|e| e.name.contains(needle)).cloned().collect();
            if !found.is_empty() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Vec::new()
    }

    pub async fn one_event(&self, needle: &str) -> Event {
        let all = self.events_for(needle).await;
        assert_eq!(all.len(), 1, "exactly one event for {needle}: {all:#?}");
        all.into_iter().next().unwrap()
    }

    /// `curl` through the explicit proxy from `from`, with extra arguments; runs off the runtime.
    pub async fn curl(&self, from: Ipv4Addr, args: &[&str]) -> Output {
        let mut a: Vec<String> = vec![
            "-sS".into(),
            "--max-time".into(),
            "10".into(),
            "--interface".into(),
            from.to_string(),
            "-x".into(),
            format!("http://{}", self.proxy),
            "--cacert".into(),
            self.ca.display().to_string(),
        ];
        a.extend(args.iter().map(|s| s.to_string()));
        curl_raw(a).await
    }

    pub fn origin_url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.origin.port())
    }

    pub fn tls_url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.tls_origin.port())
    }
}

pub async fn curl_raw(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || std::process::Command::new("curl").args(&args).output().expect("curl is installed"))
        .await
        .unwrap()
}

pub fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

pub async fn rig() -> Rig {
    rig_with(|_| {}).await
}

pub async fn rig_with(tweak: impl FnOnce(&mut ProxyConfig)) -> Rig {
    rig_with_origin(|c, _| tweak(c)).await
}

/// A rig whose configuration can name the plain HTTP origin's address.
pub async fn rig_with_origin(tweak: impl FnOnce(&mut ProxyConfig, SocketAddr)) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "lessons.txt", "pupils-blocked.test\n");
    write(dir.path(), "urls.txt", "allowed.test/private/\n");
    write(dir.path(), "gambling.txt", "bet.test\n");
    let hash = haven_proxy::hash_password(PASSWORD).unwrap();
    write(dir.path(), "users", &format!("j.smith:{hash}\n"));
    let config = haven_config::Config::from_toml(CONFIG, "test.toml", dir.path()).unwrap();
    let built = config.build().unwrap();
    let policy = Arc::new(PolicyHandle::new(built.snapshot));

    let dns = fake_dns().await;
    let origin = http_origin().await;
    let (tls_origin, ca) = tls_origin(dir.path()).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut cfg = ProxyConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        transparent_http: vec!["127.0.0.1:0".parse().unwrap()],
        transparent_https: vec!["127.0.0.1:0".parse().unwrap()],
        allow_loopback_origins: true,
        connect_ports: vec![443, tls_origin.port(), dead.port()],
        ..ProxyConfig::default()
    };
    tweak(&mut cfg, origin);
    let events = Arc::new(Collect::default());
    let parts = ProxyParts {
        policy,
        identify: Arc::new(SnapshotIdentity),
        auth: Arc::new(PasswordFile::load(&dir.path().join("users")).unwrap()),
        resolver: Arc::new(UpstreamResolver::new(vec![dns], Duration::from_secs(2))),
        sink: events.clone(),
    };
    let server = ProxyServer::bind(cfg, parts).await.unwrap();
    let a = server.local_addrs();
    Rig {
        proxy: a.explicit[0],
        transparent_http: a.transparent_http[0],
        transparent_https: a.transparent_https[0],
        origin,
        tls_origin,
        dead,
        ca,
        events,
        server: Some(server),
        _dir: dir,
    }
}

/// A DNS upstream answering A 127.0.0.1 for every name, no AAAA, and NXDOMAIN for `nx*`.
async fn fake_dns() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
            let Ok(req) = Message::from_vec(&buf[..n]) else { continue };
            let Some(q) = req.queries.first().cloned() else { continue };
            let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
            resp.add_query(q.clone());
            if q.name().to_ascii().starts_with("nx") {
                resp.metadata.response_code = ResponseCode::NXDomain;
            } else if q.query_type() == RecordType::A {
                resp.add_answer(Record::from_rdata(q.name().clone(), 60, RData::A(A(Ipv4Addr::LOCALHOST))));
            }
            let _ = sock.send_to(&resp.to_vec().unwrap(), peer).await;
        }
    });
    addr
}

/// An HTTP origin that echoes what it was sent: `/big` streams 1 MiB, anything else a report.
async fn http_origin() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    let path = req.uri().to_string();
                    let h = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
                    let report = format!(
                        "origin path={path} host={} via={} x-hop={} proxy-authorization={} keep={}\n",
                        h("host"),
                        h("via"),
                        h("x-hop"),
                        h("proxy-authorization"),
                        h("x-keep")
                    );
                    let body = req.into_body().collect().await.map(|b| b.to_bytes().len()).unwrap_or(0);
                    let out = if path == "/big" { vec![b'x'; 1 << 20] } else { format!("{report}body={body}\n").into_bytes() };
                    let mut r = Response::new(Full::new(Bytes::from(out)));
                    r.headers_mut().insert("connection", "x-secret".parse().unwrap());
                    r.headers_mut().insert("x-secret", "hop".parse().unwrap());
                    Ok::<_, Infallible>(r)
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(s), svc).await;
            });
        }
    });
    addr
}

/// An HTTPS origin with a self-signed certificate for the test names; returns the CA file.
async fn tls_origin(dir: &Path) -> (SocketAddr, PathBuf) {
    let names = vec!["allowed.test".to_string(), "pupils-blocked.test".to_string(), "other.test".to_string()];
    let cert = rcgen::generate_simple_self_signed(names).unwrap();
    let ca = dir.join("origin.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let der = cert.cert.der().to_vec();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.into()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else { return };
                let mut buf = vec![0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nsecure origin").await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, ca)
}

/// The address of a rig's client, as events record it.
pub fn ip(a: Ipv4Addr) -> IpAddr {
    IpAddr::V4(a)
}
