//! The policy core's integration tests: one binary, a module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod core {
    pub mod decisions;
    pub mod fixture;
    pub mod matcher;
    pub mod overlay;
    pub mod reload;
}
