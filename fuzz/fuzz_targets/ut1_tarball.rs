//! Fuzz target: arbitrary bytes as a UT1 tarball (gzip or plain tar) through haven-lists' tar
//! reader and on into the policy core's list builder. Any input must load or fail with a
//! `LoadError`; a panic is a bug.
#![no_main]

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use haven_lists::{Ut1Mapping, build_from_ut1_reader};
use haven_policy::{Category, CategoryKind, FourCs, Severity, Taxonomy};
use libfuzzer_sys::fuzz_target;

/// Two categories, and a mapping that imports some UT1 directories and deliberately skips one.
fn setup() -> &'static (Taxonomy, Ut1Mapping) {
    static SETUP: OnceLock<(Taxonomy, Ut1Mapping)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let category = |id: &str| Category {
            id: id.into(),
            title: id.into(),
            kind: CategoryKind::Policy,
            four_cs: FourCs::default(),
            severity: Severity::Low,
            description: "fuzz".into(),
        };
        let Ok(taxonomy) = Taxonomy::new(vec![category("adult"), category("gambling")]) else {
            panic!("fixed fuzz taxonomy refused");
        };
        let mapping = Ut1Mapping(HashMap::from([
            ("adult".to_string(), taxonomy.id("adult")),
            ("porn".to_string(), taxonomy.id("adult")),
            ("gambling".to_string(), taxonomy.id("gambling")),
            ("a".to_string(), taxonomy.id("gambling")),
            ("liste_blanche".to_string(), None),
        ]));
        (taxonomy, mapping)
    })
}

fuzz_target!(|data: &[u8]| {
    let (taxonomy, mapping) = setup();
    // Errors are the expected outcome for most inputs; only a panic is a finding.
    let _ = build_from_ut1_reader(taxonomy, "ut1", Path::new("fuzz.tar.gz"), mapping, data);
});
