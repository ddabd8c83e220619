//! Fuzz target: arbitrary bytes as a `Proxy-Authorization` header value (`haven_proxy::parse_basic`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((user, _password)) = haven_proxy::parse_basic(data) {
        assert!(!user.is_empty());
    }
});
