//! Fuzz target: an alert rules file, through the monitor's parser
//! (`haven_monitor::fuzz`, which also checks its invariants).
#![no_main]

use haven_monitor::fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz::rule_set(data));
