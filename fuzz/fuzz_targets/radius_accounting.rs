//! Fuzz target: arbitrary bytes as a UDP datagram to the RADIUS accounting listener, through the
//! packet parser, the authenticator check and the response (`haven_radius::fuzz_body`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| haven_radius::fuzz_body(data));
