//! Shared helpers: a small test taxonomy, fixture paths and source specs.

use std::path::PathBuf;

use haven_lists::SourceSpec;
use haven_policy::{Category, CategoryId, CategoryKind, FourCs, ListFormat, Matching, Name, Severity, Taxonomy};

/// Categories of the test taxonomy: (id, kind).
const CATEGORIES: [(&str, CategoryKind); 7] = [
    ("adult", CategoryKind::Harm),
    ("gambling", CategoryKind::Policy),
    ("bypass", CategoryKind::Bypass),
    ("security", CategoryKind::Security),
    ("other", CategoryKind::Policy),
    ("allowed", CategoryKind::Allow),
    ("illegal", CategoryKind::Illegal),
];

/// A small taxonomy standing in for the real one (which lives in haven-config).
pub fn taxonomy() -> Taxonomy {
    let cats = CATEGORIES
        .iter()
        .map(|(id, kind)| Category {
            id: (*id).into(),
            title: (*id).into(),
            kind: *kind,
            four_cs: FourCs::default(),
            severity: Severity::Low,
            description: "test".into(),
        })
        .collect();
    Taxonomy::new(cats).unwrap()
}

/// A category of the test taxonomy by id.
pub fn cat(t: &Taxonomy, id: &str) -> CategoryId {
    t.id(id).unwrap_or_else(|| panic!("no test category {id}"))
}

/// A file under tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The real UT1 tarball in shared/data, beside the workspace; a clear failure if it is missing.
pub fn ut1_tarball() -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/ut1-blacklists.tar.gz"));
    assert!(
        p.is_file(),
        "the UT1 test tarball is missing at {} (expected shared/data/ut1-blacklists.tar.gz beside the workspace); \
         these tests need it and do not skip",
        p.display()
    );
    p
}

/// A single-file source.
pub fn file(name: &str, path: PathBuf, format: ListFormat, category: CategoryId, matching: Matching) -> SourceSpec {
    SourceSpec::File { name: name.into(), path, format, category, matching }
}

/// A name that must parse.
pub fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}
