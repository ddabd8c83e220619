//! Fuzz target: a domain name, through `Name::parse` and `Name::from_ascii`, through the policy core's parser
//! (`haven_policy::fuzz`, which also checks its invariants).
#![no_main]

use haven_policy::fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz::name(data));
