//! RADIUS accounting (RFC 2866): the school's Wi-Fi controllers send Start, Interim-Update and
//! Stop for each session with the user's name and address, and Haven binds that address to the
//! person in the [`haven_identity::IdentityBook`], so DNS and the proxy filter them by their own
//! group rather than the network's.
//!
//! - `packet`: the parser over untrusted bytes, the authenticator check and the response (fuzzed).
//! - `accounting`: sessions and what each status type does to the book (pure).
//! - `server`: the tokio UDP listener, client matching by CIDR, the people directory look-up.
//! - `metrics`: counters in the Prometheus text format.

pub mod accounting;
mod metrics;
pub mod packet;
mod server;

pub use accounting::{Accounting, Effect, Lifetimes, UserNameMap};
pub use metrics::{RadiusCounts, RadiusMetrics};
pub use packet::{AccountingRequest, PacketError, StatusType, fuzz_body};
pub use server::{Directory, RadiusClient, RadiusConfig, RadiusServer, Secret};
