//! Why the proxy could not start.

use std::net::SocketAddr;

/// A reason the proxy could not start; each names the setting or address at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// A listening socket could not be bound.
    #[error("proxy: cannot listen on {addr} ({role}): {source}")]
    Bind {
        /// Which listener: `explicit`, `transparent-http` or `transparent-https`.
        role: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// No listener of any kind was configured.
    #[error("proxy: no listen addresses configured")]
    NoListeners,
    /// A limit was set to zero or a timeout to nothing.
    #[error("proxy: `{field}` must be greater than zero")]
    Zero {
        /// The setting.
        field: &'static str,
    },
    /// The proxy users file could not be read or has a bad line.
    #[error("proxy: users file {path}: {message}")]
    Users {
        /// The file.
        path: String,
        /// What is wrong, with the line number.
        message: String,
    },
}
