//! haven-dns integration tests: one binary, a module per concern. Each test starts the real
//! server on 127.0.0.1 port 0 against a fake upstream written here, and queries it with
//! hickory-proto over raw sockets or with the real `dig`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dns {
    pub mod answers;
    pub mod cache;
    pub mod client;
    pub mod dig;
    pub mod events;
    pub mod fake_upstream;
    pub mod fixture;
    pub mod fuzz_smoke;
    pub mod hostile;
    pub mod lifecycle;
    pub mod reload;
    pub mod transport;
    pub mod upstreams;
    pub mod wire_path;
}
