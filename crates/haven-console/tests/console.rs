//! Console and API behaviour through the real router (no sockets): the RBAC matrix over every
//! route and role, CSRF, sign-in with TOTP, session fixation and expiry, lockout, forced
//! password change, API tokens and the OpenAPI document. One module per concern, one file each; browser tests are in `browser.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console {
    pub mod common;
    pub mod chrome;
    mod rbac;
    mod csrf;
    mod sign_in;
    mod lockout;
    mod expiry;
    mod api;
    mod people;
    mod browser;
    mod portal;
    mod alerts;
    mod alerts_browser;
    pub mod records;
    mod records_browser;
}
