//! Fuzz target: a `host/path` URL pattern, through the policy core's parser
//! (`haven_policy::fuzz`, which also checks its invariants).
#![no_main]

use haven_policy::fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz::url_pattern(data));
