//! Haven's filtering web proxy: the front end for schools that send web traffic through a proxy
//! rather than relying on DNS alone.
//!
//! - **Explicit proxy**: HTTP/1.1 absolute-form requests are decided on the whole URL (URL lists,
//!   site entries with paths, URL-level illegal-floor entries) and forwarded with keep-alive both
//!   sides and streamed bodies; `CONNECT host:443` is decided on the host, then the ClientHello's
//!   SNI is read inside the tunnel and decided too.
//! - **Transparent ports**: port-80 connections a gateway redirects are decided on `Host` and the
//!   path; port-443 connections on the SNI; both then go to the original destination. A browser
//!   that reaches the port-80 listener directly (the DNS service gave it the block page address)
//!   is shown the block page for the name it asked for.
//! - **Who**: `Proxy-Authorization: Basic` against Haven's accounts ([`Authenticate`]) first, then
//!   the address through the same [`haven_identity::Identify`] as DNS.
//! - **Block pages** ([`Pages`]) say what was blocked, the category, group, rule and reference,
//!   that use is monitored, and link to "ask for this site to be unblocked" and "tell someone
//!   you're worried"; illegal-floor hits get their own page with no unblock link.
//! - **One event per request or tunnel** ([`haven_activity::Event`] with its `web` detail), in the
//!   same stream as DNS.
//!
//! Limits: header size and count, slow-header, idle, connect and response timeouts, a connection
//! cap, and no thread per connection. Network input never panics the server.

mod auth;
pub mod client_hello;
mod config;
mod error;
mod http;
mod metrics;
mod original_dst;
mod pages;
mod portal;
mod record;
mod resolve;
mod server;
mod tunnel;

pub use auth::{Authenticate, NoAccounts, PasswordFile, hash_password, parse_basic};
pub use config::{PageSettings, ProxyConfig};
pub use error::ProxyError;
pub use metrics::{ProxyCounts, ProxyMetrics};
pub use pages::{BLOCK_MARKER, Page, Pages};
pub use resolve::{BoxFuture, Resolve, UpstreamResolver};
pub use server::{ProxyAddrs, ProxyParts, ProxyServer};
