//! The policy core's integration tests: one binary, a module per concern.

mod core {
    pub mod decisions;
    pub mod fixture;
    pub mod matcher;
    pub mod reload;
}
