//! Integration tests for the RADIUS accounting listener: real UDP sockets, a real SQLite people
//! directory, and the fuzz body under proptest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod radius {
    mod fuzz_smoke;
    mod listener;
}
