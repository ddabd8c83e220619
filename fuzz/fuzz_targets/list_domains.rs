//! Fuzz target: one line of a `domains` list (UT1 `domains`, plain lists), through the policy core's parser
//! (`haven_policy::fuzz`, which also checks its invariants).
#![no_main]

use haven_policy::ListFormat;
use haven_policy::fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz::list_line(ListFormat::Domains, data));
