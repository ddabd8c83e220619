//! Delivery: alert emails over SMTP (lettre, rustls) and signed webhook POSTs.
//!
//! An email carries no pupil details — severity, category, time and a link into the console,
//! where the evidence is behind sign-in and audited. A webhook carries the same, plus the
//! person and the reason only when the receiver is configured as a trusted moderation service.

use std::sync::Arc;
use std::time::Duration;

use haven_config::{EmailSettings, SmtpTls, WebhookSettings};
use haven_store::AlertRecord;
use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why a delivery failed, in words for the delivery record (never containing a secret).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The SMTP settings or an address could not be used.
    #[error("email settings: {0}")]
    Settings(String),
    /// The SMTP server refused or could not be reached.
    #[error("smtp: {0}")]
    Smtp(String),
    /// The webhook receiver could not be reached or did not accept.
    #[error("webhook: {0}")]
    Webhook(String),
}

/// What a notification says about an alert: only what is safe to leave the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Stored alert id.
    pub id: i64,
    /// Severity word.
    pub severity: String,
    /// Category id.
    pub category: String,
    /// When it was raised.
    pub raised: Timestamp,
    /// The console page for it.
    pub link: String,
}

impl Notice {
    /// The notice for a stored alert, linking into the console at `console_url`.
    pub fn of(alert: &AlertRecord, console_url: &str) -> Notice {
        Notice {
            id: alert.id,
            severity: alert.severity.clone(),
            category: alert.category.clone(),
            raised: alert.raised,
            link: format!("{}/alerts/{}", console_url.trim_end_matches('/'), alert.id),
        }
    }

    /// The email subject: severity and category only.
    pub fn subject(&self, escalated: bool) -> String {
        let sev = capitalise(&self.severity);
        let lead = if escalated { "Escalated: unacknowledged " } else { "" };
        format!("[Haven] {lead}{sev} alert #{}: {}", self.id, self.category.replace('_', " "))
    }

    /// The email body: no pupil name, username, address or site.
    pub fn body(&self, tz: &TimeZone, escalation: Option<&str>) -> String {
        let when = self.raised.to_zoned(tz.clone()).strftime("%A %-d %B %Y, %H:%M:%S %Z");
        let mut out = format!(
            "A {} safeguarding alert was raised by Haven.\n\nSeverity: {}\nCategory: {}\nRaised: {when}\n\n",
            self.severity,
            self.severity,
            self.category.replace('_', " ")
        );
        if let Some(e) = escalation {
            out += &format!("{e}\n\n");
        }
        out += &format!(
            "Open it in the Haven console to see who, what and why, and to record an outcome:\n{}\n\n\
             This email deliberately contains no pupil details.\n",
            self.link
        );
        out
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// An SMTP connection pool for alert emails.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for these settings (nothing is connected until the first send).
    pub fn new(s: &EmailSettings) -> Result<Mailer, DeliveryError> {
        let builder = match s.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                .map_err(|e| DeliveryError::Settings(format!("monitor.email.host: {e}")))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)
                .map_err(|e| DeliveryError::Settings(format!("monitor.email.host: {e}")))?,
        };
        let mut builder = builder.port(s.port).timeout(Some(Duration::from_secs(15)));
        if let Some((user, password)) = &s.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        let from: lettre::message::Mailbox = s.from.parse().map_err(|e| DeliveryError::Settings(format!("monitor.email.from: {e}")))?;
        Ok(Mailer { transport: builder.build(), from })
    }

    /// Send one plain-text email.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), DeliveryError> {
        let to: lettre::message::Mailbox = to.parse().map_err(|e| DeliveryError::Settings(format!("recipient: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| DeliveryError::Settings(e.to_string()))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| DeliveryError::Smtp(e.to_string()))
    }
}

/// The signature header value: `sha256=` and the hex HMAC-SHA256 of `timestamp.body` under `key`.
pub fn sign(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + bytes.len() * 2);
    out.push_str("sha256=");
    for b in bytes.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The JSON a webhook receives; the person, group and reason only for trusted moderation.
pub fn webhook_body(alert: &AlertRecord, notice: &Notice, event: &str, step: i64, trusted: bool) -> String {
    let mut v = serde_json::json!({
        "event": event,
        "alert": alert.id,
        "severity": alert.severity,
        "category": alert.category,
        "rule": alert.rule,
        "title": alert.title,
        "raised": alert.raised.to_string(),
        "hits": alert.hits,
        "step": step,
        "link": notice.link,
    });
    if trusted && let Some(o) = v.as_object_mut() {
        o.insert("person".into(), alert.person.clone().into());
        o.insert("group".into(), alert.group.clone().into());
        o.insert("subject".into(), alert.subject.clone().into());
        o.insert("why".into(), alert.why.clone().into());
    }
    v.to_string()
}

/// The parts of a webhook URL.
struct Target {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

fn target(url: &str) -> Result<Target, DeliveryError> {
    let (tls, rest) = match url.split_once("://") {
        Some(("https", r)) => (true, r),
        Some(("http", r)) => (false, r),
        _ => return Err(DeliveryError::Webhook("url must be http:// or https://".into())),
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => match p.parse::<u16>() {
            Ok(port) => (h, port),
            Err(_) => (authority, if tls { 443 } else { 80 }),
        },
        _ => (authority, if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(DeliveryError::Webhook("url has no host".into()));
    }
    Ok(Target { tls, host: host.trim_start_matches('[').trim_end_matches(']').to_owned(), port, path: path.to_owned() })
}

/// One signed POST; Ok with the HTTP status when the receiver answered 2xx.
pub async fn post_once(hook: &WebhookSettings, body: &str, now: Timestamp) -> Result<u16, DeliveryError> {
    let t = target(&hook.url)?;
    let ts = now.as_second();
    let signature = sign(hook.secret.expose().as_bytes(), ts, body.as_bytes());
    let authority = if t.host.contains(':') { format!("[{}]:{}", t.host, t.port) } else { format!("{}:{}", t.host, t.port) };
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: haven-alerts\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nX-Haven-Timestamp: {ts}\r\nX-Haven-Signature: {signature}\r\nConnection: close\r\n\r\n{body}",
        t.path,
        body.len()
    );
    let io = async {
        let stream = tokio::net::TcpStream::connect((t.host.as_str(), t.port)).await?;
        let mut response = Vec::new();
        if t.tls {
            let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(std::io::Error::other)?
                .with_root_certificates(roots)
                .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(t.host.clone()).map_err(std::io::Error::other)?;
            let mut s = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, stream).await?;
            s.write_all(request.as_bytes()).await?;
            let _ = (&mut s).take(64 * 1024).read_to_end(&mut response).await;
        } else {
            let mut s = stream;
            s.write_all(request.as_bytes()).await?;
            let _ = (&mut s).take(64 * 1024).read_to_end(&mut response).await;
        }
        Ok::<Vec<u8>, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(10), io)
        .await
        .map_err(|_| DeliveryError::Webhook("timed out".into()))?
        .map_err(|e| DeliveryError::Webhook(e.to_string()))?;
    let head = String::from_utf8_lossy(&response[..response.len().min(64)]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse::<u16>().ok()).ok_or_else(|| DeliveryError::Webhook("no HTTP response".into()))?;
    if (200..300).contains(&status) { Ok(status) } else { Err(DeliveryError::Webhook(format!("receiver answered {status}"))) }
}

#[cfg(test)]
mod tests {
    use super::{sign, target};

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        let a = sign(b"key-one-0123456789", 1_700_000_000, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64, "{a}");
        assert_ne!(a, sign(b"key-two-0123456789", 1_700_000_000, b"{}"));
        assert_ne!(a, sign(b"key-one-0123456789", 1_700_000_001, b"{}"));
        assert_ne!(a, sign(b"key-one-0123456789", 1_700_000_000, b"{ }"));
        // Computed independently: python3 -c "import hmac,hashlib; print(hmac.new(b'key', b'1.x', hashlib.sha256).hexdigest())"
        assert_eq!(sign(b"key", 1, b"x"), "sha256=fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec");
    }

    #[test]
    fn webhook_urls_are_split_into_host_port_and_path() {
        let t = target("http://127.0.0.1:8099/hook?x=1").unwrap();
        assert_eq!((t.tls, t.host.as_str(), t.port, t.path.as_str()), (false, "127.0.0.1", 8099, "/hook?x=1"));
        let t = target("https://moderation.example").unwrap();
        assert_eq!((t.tls, t.host.as_str(), t.port, t.path.as_str()), (true, "moderation.example", 443, "/"));
        assert!(target("ftp://x").is_err());
    }
}
