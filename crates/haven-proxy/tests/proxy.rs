//! The proxy's integration tests: one binary, a module per concern. Real clients (`curl`, a
//! rustls TLS client, raw TCP) against the real server on loopback, with local HTTP and HTTPS
//! origins and a local DNS upstream.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod proxy {
    pub mod fixture;
    mod browser;
    mod forward;
    mod fuzz_smoke;
    mod hostile;
    mod pages;
    mod tunnel;
}
