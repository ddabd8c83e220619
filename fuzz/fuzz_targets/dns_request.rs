//! Fuzz target: arbitrary bytes as a DNS query over UDP and TCP, through the filtering resolver's
//! request handler with a fixed snapshot and no upstream (`haven_dns::fuzz`, which also checks
//! that every answer parses, carries the query's ID and fits the client's UDP size).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| haven_dns::fuzz::dns_request(data));
