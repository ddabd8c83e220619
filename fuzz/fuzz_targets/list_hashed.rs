//! Fuzz target: one line of a licensed SHA-256-hashed feed, through the policy core's parser
//! (`haven_policy::fuzz`, which also checks its invariants).
#![no_main]

use haven_policy::fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz::hashed(data));
