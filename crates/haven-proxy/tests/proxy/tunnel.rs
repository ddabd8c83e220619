//! HTTPS without interception: CONNECT decided on the host, then on the ClientHello's SNI, with
//! curl and a rustls client; the transparent port 443; non-TLS tunnels refused.

use std::sync::Arc;

use haven_activity::Flags;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_tunnels_to_an_allowed_https_origin() {
    let r = rig().await;
    let o = r.curl(PUPIL, &[&r.tls_url("allowed.test", "/")]).await;
    assert_eq!(text(&o), "secure origin", "{}", String::from_utf8_lossy(&o.stderr));
    let e = r.one_event("allowed.test:").await;
    assert_eq!((e.qtype.as_str(), e.action.as_str(), e.group.as_str()), ("CONNECT", "allow", "ks3"));
    assert!(e.flags.contains(Flags::HOST_ONLY), "the log says only host rules could apply");
    let w = e.web.unwrap();
    assert_eq!(w.sni.as_deref(), Some("allowed.test"));
    assert_eq!(w.status, 200);
    assert!(w.bytes_up > 200 && w.bytes_down > 500, "a TLS handshake each way: {w:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_host_gets_403_on_connect() {
    let r = rig().await;
    let o = r.curl(PUPIL, &["-v", &r.tls_url("pupils-blocked.test", "/")]).await;
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("403"), "{err}");
    assert!(err.to_ascii_lowercase().contains("x-haven-block: ks3/lessons_off"), "{err}");
    let e = r.one_event("pupils-blocked.test:").await;
    assert_eq!((e.action.as_str(), e.web.unwrap().status), ("block", 403));
    let staff = r.curl(STAFF, &[&r.tls_url("pupils-blocked.test", "/")]).await;
    assert_eq!(text(&staff), "secure origin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_sni_inside_an_allowed_connect_is_caught() {
    let r = rig().await;
    // curl asks to CONNECT to the IP address but says `pupils-blocked.test` in its ClientHello.
    let target = format!("pupils-blocked.test:{}:127.0.0.1:{}", r.tls_origin.port(), r.tls_origin.port());
    let o = r.curl(PUPIL, &["--connect-to", &target, &r.tls_url("pupils-blocked.test", "/")]).await;
    assert!(!o.status.success(), "{}", text(&o));
    let events = r.events_for("127.0.0.1:").await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.action, "block");
    assert_eq!(e.rule, "ks3/lessons_off");
    assert_eq!(e.web.as_ref().unwrap().sni.as_deref(), Some("pupils-blocked.test"));

    // The same with a real TLS client by hand: CONNECT to the allowed name, SNI blocked.
    let mut s = TcpStream::connect(r.proxy).await.unwrap();
    let connect = format!("CONNECT allowed.test:{p} HTTP/1.1\r\nHost: allowed.test:{p}\r\n\r\n", p = r.tls_origin.port());
    s.write_all(connect.as_bytes()).await.unwrap();
    let mut head = vec![0u8; 256];
    let n = s.read(&mut head).await.unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"));
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::pem::PemObject::pem_file_iter(&r.ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let name = rustls::pki_types::ServerName::try_from("pupils-blocked.test").unwrap();
    let err = tls.connect(name, s).await.expect_err("the handshake is refused");
    assert!(err.to_string().to_ascii_lowercase().contains("access"), "a TLS access_denied alert: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_tls_inside_a_tunnel_is_refused_as_a_bypass() {
    let r = rig().await;
    let mut s = TcpStream::connect(r.proxy).await.unwrap();
    let p = r.tls_origin.port();
    s.write_all(format!("CONNECT allowed.test:{p} HTTP/1.1\r\nHost: allowed.test:{p}\r\n\r\n").as_bytes()).await.unwrap();
    let mut head = vec![0u8; 256];
    let _ = s.read(&mut head).await.unwrap();
    s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await.unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest).await;
    assert_eq!(rest.first(), Some(&0x15), "a TLS alert, then close");
    let e = r.one_event("allowed.test:").await;
    assert_eq!((e.action.as_str(), e.rule.as_str()), ("block", "proxy/not-tls"));
    assert!(e.flags.contains(Flags::BYPASS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_ports_other_than_https_is_refused() {
    let r = rig().await;
    let o = r.curl(STAFF, &["-o", "/dev/null", "-w", "%{http_connect}", "-p", &format!("http://allowed.test:{}/", r.origin.port())]).await;
    assert_eq!(text(&o), "403");
    let e = r.one_event("allowed.test:").await;
    assert_eq!(e.rule, "proxy/connect-port");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transparent_https_decides_on_the_sni() {
    let r = rig().await;
    // No NAT here, so the original destination is looked up from the SNI on port 443; point curl
    // straight at the transparent listener and check the block, which needs no origin.
    let resolve = format!("pupils-blocked.test:{}:{}", r.transparent_https.port(), r.transparent_https.ip());
    let url = format!("https://pupils-blocked.test:{}/", r.transparent_https.port());
    let o = curl_raw(vec![
        "-sS".into(),
        "--interface".into(),
        PUPIL.to_string(),
        "--resolve".into(),
        resolve,
        "--cacert".into(),
        r.ca.display().to_string(),
        url,
    ])
    .await;
    assert!(!o.status.success());
    let e = r.one_event("pupils-blocked.test:").await;
    assert_eq!((e.qtype.as_str(), e.action.as_str(), e.group.as_str()), ("TLS", "block", "ks3"));
    assert_eq!(e.web.unwrap().sni.as_deref(), Some("pupils-blocked.test"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_https_origin_gets_502_on_connect() {
    let r = rig().await;
    let o = r.curl(STAFF, &["-v", &format!("https://allowed.test:{}/", r.dead.port())]).await;
    assert!(String::from_utf8_lossy(&o.stderr).contains("502"), "{}", String::from_utf8_lossy(&o.stderr));
}
