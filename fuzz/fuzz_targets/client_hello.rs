//! Fuzz target: arbitrary bytes as the start of a TLS connection inside a CONNECT tunnel or on
//! the transparent port 443, through the proxy's ClientHello/SNI reader (`haven_proxy::client_hello`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| haven_proxy::client_hello::fuzz_body(data));
