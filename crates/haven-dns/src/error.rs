//! Why the DNS service could not start.

use std::net::SocketAddr;

/// A reason the DNS service could not start; each names the setting or address at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// A listening socket could not be bound (address in use, no permission for port 53, ...).
    #[error("dns: cannot listen on {proto} {addr}: {source}")]
    Bind {
        /// `udp` or `tcp`.
        proto: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// No UDP or TCP address was configured.
    #[error("dns: no listen addresses configured")]
    NoListeners,
    /// No upstream resolver was configured.
    #[error("dns: no upstream resolvers configured (Haven never reads /etc/resolv.conf)")]
    NoUpstreams,
    /// A DNS-over-TLS upstream's name is not a valid TLS server name.
    #[error("dns: upstream {addr}: `{name}` is not a valid TLS server name")]
    TlsName {
        /// The upstream.
        addr: SocketAddr,
        /// The name given.
        name: String,
    },
    /// An extra trust anchor could not be used, or TLS could not be set up.
    #[error("dns: DNS-over-TLS setup: {0}")]
    Tls(String),
    /// A limit was set to zero or a timeout to nothing.
    #[error("dns: `{field}` must be greater than zero")]
    Zero {
        /// The setting.
        field: &'static str,
    },
}
