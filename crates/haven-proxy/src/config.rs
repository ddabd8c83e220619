//! The proxy's settings, already checked by `haven-config`; defaults are what a school would pick.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything the proxy needs to know before it binds a port.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Explicit forward-proxy listeners (browsers configured with a proxy, or by PAC/WPAD).
    pub listen: Vec<SocketAddr>,
    /// Transparent port-80 listeners: traffic a gateway redirects, and direct visits to the block
    /// page address the DNS service hands out for blocked names.
    pub transparent_http: Vec<SocketAddr>,
    /// Transparent port-443 listeners: decided on the ClientHello's server name, then passed through.
    pub transparent_https: Vec<SocketAddr>,
    /// Refuse (407) clients that do not sign in, instead of giving them their address's group.
    pub require_auth: bool,
    /// Realm shown in the browser's sign-in prompt.
    pub realm: String,
    /// Ports CONNECT may reach; anything else is refused, so the proxy is no general TCP relay.
    pub connect_ports: Vec<u16>,
    /// Time allowed for a client to send a whole request head (slowloris).
    pub header_timeout: Duration,
    /// A keep-alive or tunnel connection with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
    /// Time allowed to connect to an origin before the client gets 504.
    pub connect_timeout: Duration,
    /// Time allowed for the first response bytes from an origin before the client gets 504.
    pub response_timeout: Duration,
    /// Time allowed for a TLS client to send its ClientHello.
    pub hello_timeout: Duration,
    /// Largest request head accepted (request line plus headers), in bytes.
    pub max_header_bytes: usize,
    /// Most header lines accepted in one request.
    pub max_headers: usize,
    /// Most client connections held at once, over every listener; more wait in the kernel backlog.
    pub max_connections: usize,
    /// The host name this proxy puts in `Via`.
    pub via_name: String,
    /// Let clients fetch from this machine's loopback addresses. Off in production: a pupil must
    /// not reach Haven's own control endpoints through the proxy; tests with local origins turn it on.
    pub allow_loopback_origins: bool,
    /// What the block pages say about the school and where their links go.
    pub pages: PageSettings,
    /// The captive portal's sign-in page: plain-HTTP requests from unknown devices are sent there.
    pub portal_url: Option<String>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 3128))],
            transparent_http: Vec::new(),
            transparent_https: Vec::new(),
            require_auth: false,
            realm: "Haven web filter".into(),
            connect_ports: vec![443],
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(60),
            hello_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_connections: 20_000,
            via_name: "haven".into(),
            allow_loopback_origins: false,
            pages: PageSettings::default(),
            portal_url: None,
        }
    }
}

/// A school's branding and contacts for the block pages.
#[derive(Debug, Clone)]
pub struct PageSettings {
    /// The school's name, at the top of every page.
    pub school_name: String,
    /// Address of the school's logo image, if it has one.
    pub logo_url: Option<String>,
    /// How to reach the Designated Safeguarding Lead (name, room, email).
    pub dsl_contact: String,
    /// Where "ask for this site to be unblocked" goes; `url` and `ref` query parameters are added.
    pub unblock_url: String,
    /// Where "tell someone you're worried" goes.
    pub worry_url: String,
    /// Where the illegal-content page's appeal route goes.
    pub appeal_url: String,
}

impl Default for PageSettings {
    fn default() -> Self {
        PageSettings {
            school_name: "Your school".into(),
            logo_url: None,
            dsl_contact: "your Designated Safeguarding Lead".into(),
            unblock_url: "/haven/unblock".into(),
            worry_url: "/haven/worry".into(),
            appeal_url: "https://www.iwf.org.uk/about-us/complaints/".into(),
        }
    }
}
