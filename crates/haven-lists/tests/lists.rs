//! Integration tests for haven-lists, as one test binary: the real UT1 tarball (archive and
//! directory forms), fixture lists with bad lines, each list format, load errors, and a smoke run
//! of the policy core's fuzz bodies so they are exercised on every CI build.
// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "lists/support.rs"]
mod support;

#[path = "lists/errors.rs"]
mod errors;
#[path = "lists/formats.rs"]
mod formats;
#[path = "lists/fuzz_smoke.rs"]
mod fuzz_smoke;
#[path = "lists/ut1.rs"]
mod ut1;
