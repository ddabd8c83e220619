//! Fuzz target: arbitrary bytes as a "moving school" records package or receipt through
//! `haven_records::package::fuzz_body` (the reader the receiving school runs on a file from
//! outside). Any input must verify or fail with a `PackageError` naming a check; a panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    haven_records::package::fuzz_body(data);
});
