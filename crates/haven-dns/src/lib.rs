//! Haven's filtering DNS resolver: the service a school points its DHCP at.
//!
//! Every query is answered in the order `filtering-behaviour.md` §1 sets out: normalise the name,
//! ask the policy core (the illegal floor first, which nothing overrides), answer a block with the
//! block page or NXDOMAIN, answer the names that protect the filter (Firefox's canary, iCloud
//! Private Relay), rewrite search engines to their safe front ends for groups that have safe search
//! locked on, and forward the rest to configured upstreams through a TTL cache. Every query with a
//! readable question yields exactly one [`haven_activity::Event`], handed to the sink without waiting.
//!
//! - [`DnsServer`]: binds UDP and TCP listeners and runs until [`DnsServer::shutdown`].
//! - [`RequestHandler`]: the same logic without sockets (`handle_packet`), for fuzzing and tools.
//! - [`Identify`]: where identity sources plug in; [`SnapshotIdentity`] uses the policy's directory.
//! - [`DnsMetrics`]: lock-free counters with a Prometheus renderer.
//!
//! hickory-proto types stay inside this crate; the API speaks bytes, addresses and policy types.

mod cache;
pub mod captive;
mod config;
mod error;
pub mod fuzz;
mod handler;
mod metrics;
mod server;
mod upstream;
mod wire;

pub use config::{DnsConfig, Upstream};
pub use error::DnsError;
pub use handler::{MAX_UDP_PAYLOAD, MIN_UDP_PAYLOAD, RequestHandler, Transport};
pub use haven_identity::{Identify, OwnedWho, SnapshotIdentity};
pub use metrics::{DnsCounts, DnsMetrics, LATENCY_BUCKETS};
pub use server::{DnsServer, LocalAddrs};
